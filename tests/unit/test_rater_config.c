/*
 * test_rater_config — the keys hvrater.conf gained for `report` and for
 * running unprivileged (rater/rater_config.c): [rater] user and allow_root,
 * [rating] rules, metrics and close_wait (seconds or periods), their
 * defaults, errors with file, line and key, and the canonical form that
 * parses back to the same configuration.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rater/rater_config.h"

#define BASE "[rater]\nca = /c\ncert = /r\nkey = /k\n"

static void parse_ok(struct rater_config *c, const char *text)
{
	char err[RATER_ERR_MAX];

	if (rater_config_parse_string(c, "t.conf", text, err)) {
		print_error("%s\n", err);
		fail();
	}
}

static void roundtrip(const struct rater_config *c)
{
	struct rater_config d;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	rater_config_print(c, f);
	assert_int_equal(fclose(f), 0);
	parse_ok(&d, buf);
	assert_memory_equal(c, &d, sizeof(d));
	free(buf);
}

static void test_defaults(void **state)
{
	struct rater_config c;

	parse_ok(&c, BASE);
	assert_string_equal(c.user, "");
	assert_false(c.allow_root);
	assert_string_equal(c.rules, "");
	assert_string_equal(c.metrics, "");
	/* 2 periods, of whatever period is configured */
	assert_true(c.close_wait_periods);
	assert_int_equal(c.close_wait, 2);
	assert_int_equal(rater_config_close_wait_s(&c), 7200);
	parse_ok(&c, BASE "period = 60\n");
	assert_int_equal(rater_config_close_wait_s(&c), 120);
	roundtrip(&c);
}

static void test_keys(void **state)
{
	struct rater_config c;

	parse_ok(&c, BASE "user = hvrater\nallow_root = yes\n[rating]\nrules = /etc/r.json\n"
		     "metrics = /etc/m.json\nclose_wait = 600\n");
	assert_string_equal(c.user, "hvrater");
	assert_true(c.allow_root);
	assert_string_equal(c.rules, "/etc/r.json");
	assert_string_equal(c.metrics, "/etc/m.json");
	assert_false(c.close_wait_periods);
	assert_int_equal(rater_config_close_wait_s(&c), 600);
	roundtrip(&c);

	parse_ok(&c, BASE "[rating]\nclose_wait = 1 period\n[rater]\nperiod = 300\n");
	assert_int_equal(rater_config_close_wait_s(&c), 300);
	roundtrip(&c);
	parse_ok(&c, BASE "[rating]\nclose_wait = 0\n");
	assert_int_equal(rater_config_close_wait_s(&c), 0);
	roundtrip(&c);
	parse_ok(&c, BASE "[rating]\nclose_wait = 90 s\n");
	assert_int_equal(rater_config_close_wait_s(&c), 90);
	parse_ok(&c, BASE "allow_root = no\nuser = hv_rater-2.x\n");
	assert_false(c.allow_root);
	assert_string_equal(c.user, "hv_rater-2.x");
}

static void test_errors(void **state)
{
	static const struct {
		const char *text, *msg;
	} bad[] = {
		{ BASE "user = ../etc\n", "t.conf:5: [rater] user: not a user name: '../etc'" },
		{ BASE "user = a b\n", "t.conf:5: [rater] user: not a user name" },
		{ BASE "allow_root = maybe\n", "t.conf:5: [rater] allow_root: must be yes or no" },
		{ BASE "[rating]\nclose_wait = soon\n", "t.conf:6: [rating] close_wait: must be seconds" },
		{ BASE "[rating]\nclose_wait = 2 hours\n", "t.conf:6: [rating] close_wait: must be seconds" },
		{ BASE "[rating]\nclose_wait = -5\n", "t.conf:6: [rating] close_wait: must be seconds" },
		{ BASE "[rating]\nclose_wait = 1001 periods\n", "t.conf:6: [rating] close_wait: out of range" },
		{ BASE "[rating]\nclose_wait = 99999999\n", "t.conf:6: [rating] close_wait: out of range" },
		{ BASE "[rating]\nrules =\n", "t.conf:6: [rating] rules: must not be empty" },
		{ BASE "[rating]\ncurrency = EUR\n", "t.conf:6: [rating] currency: unknown key" },
		{ BASE "[rating]\nlisten = x:1\n", "t.conf:6: [rating] listen: unknown key" },
	};
	struct rater_config c;
	char err[RATER_ERR_MAX];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(rater_config_parse_string(&c, "t.conf", bad[i].text, err), -EINVAL);
		if (strncmp(err, bad[i].msg, strlen(bad[i].msg))) {
			print_error("got: %s\nwant: %s\n", err, bad[i].msg);
			fail();
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests_name("rater_config", tests, NULL, NULL);
}
