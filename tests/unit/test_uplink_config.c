/*
 * test_uplink_config — the agent's [uplink] keys (daemon/uplink_config.c)
 * and the rater's hvrater.conf (rater/rater_config.c): defaults, every
 * refusal with its reason, the whole-section checks, canonical printing,
 * and the documented sample parsing to the defaults.
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

#include "daemon/uplink_config.h"
#include "rater/rater_config.h"

static void test_uplink_defaults_and_keys(void **state)
{
	struct uplink_config c;
	char why[256];

	uplink_config_defaults(&c);
	assert_string_equal(c.rater, "");
	assert_int_equal(c.batch_frames, 360);
	assert_int_equal(c.batch_bytes, 8u << 20);
	assert_int_equal(c.timeout, 30);
	/* off: nothing else is required */
	assert_int_equal(uplink_config_check(&c, why, sizeof(why)), 0);

	assert_int_equal(uplink_config_key(&c, "rater", "127.0.0.1:7443", why, sizeof(why)), 1);
	assert_int_equal(uplink_config_key(&c, "batch_frames", "4096", why, sizeof(why)), 1);
	assert_int_equal(uplink_config_key(&c, "batch_bytes", "1M", why, sizeof(why)), 1);
	assert_int_equal(c.batch_bytes, 1u << 20);
	assert_int_equal(uplink_config_key(&c, "timeout", "5", why, sizeof(why)), 1);
	assert_int_equal(uplink_config_key(&c, "nope", "1", why, sizeof(why)), -1);

	assert_int_equal(uplink_config_key(&c, "rater", "127.0.0.1", why, sizeof(why)), 0);
	assert_non_null(strstr(why, "HOST:PORT"));
	assert_int_equal(uplink_config_key(&c, "rater", "h:99999", why, sizeof(why)), 0);
	assert_int_equal(uplink_config_key(&c, "batch_frames", "0", why, sizeof(why)), 0);
	assert_non_null(strstr(why, "out of range"));
	assert_int_equal(uplink_config_key(&c, "batch_frames", "4097", why, sizeof(why)), 0);
	assert_int_equal(uplink_config_key(&c, "batch_bytes", "1K", why, sizeof(why)), 0);
	assert_int_equal(uplink_config_key(&c, "timeout", "x", why, sizeof(why)), 0);
	assert_non_null(strstr(why, "not a number"));
	assert_int_equal(uplink_config_key(&c, "ca", "", why, sizeof(why)), 0);
	assert_string_equal(c.rater, "127.0.0.1:7443"); /* refused values change nothing */
	assert_int_equal(c.batch_frames, 4096);

	/* on: ca, cert and key are required together; server_name defaults to the host */
	assert_int_equal(uplink_config_check(&c, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "ca: required"));
	assert_int_equal(uplink_config_key(&c, "ca", "/etc/ca.pem", why, sizeof(why)), 1);
	assert_int_equal(uplink_config_key(&c, "cert", "/etc/h.pem", why, sizeof(why)), 1);
	assert_int_equal(uplink_config_check(&c, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "key: required"));
	assert_int_equal(uplink_config_key(&c, "key", "/etc/h.key", why, sizeof(why)), 1);
	assert_int_equal(uplink_config_check(&c, why, sizeof(why)), 0);
	assert_string_equal(c.server_name, "127.0.0.1");
	assert_int_equal(uplink_config_key(&c, "rater", "[::1]:7443", why, sizeof(why)), 1);
	c.server_name[0] = '\0';
	assert_int_equal(uplink_config_check(&c, why, sizeof(why)), 0);
	assert_string_equal(c.server_name, "::1");
	assert_int_equal(uplink_config_key(&c, "server_name", "rater.example", why, sizeof(why)), 1);
	assert_int_equal(uplink_config_check(&c, why, sizeof(why)), 0);
	assert_string_equal(c.server_name, "rater.example");
	/* an empty rater turns it off again */
	assert_int_equal(uplink_config_key(&c, "rater", "", why, sizeof(why)), 1);
	assert_string_equal(c.rater, "");
}

static void test_uplink_print(void **state)
{
	struct uplink_config c;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	uplink_config_defaults(&c);
	uplink_config_print(&c, f);
	fclose(f);
	assert_string_equal(buf, "[uplink]\nrater = \nca = \ncert = \nkey = \nserver_name = \n"
				 "batch_frames = 360\nbatch_bytes = 8388608\ntimeout = 30\n");
	free(buf);
}

static const char *const good =
	"[rater]\n"
	"listen = [::1]:8443\n"
	"store = /srv/hvrater\n"
	"store_max_bytes = 2G\n"
	"ca = /etc/ca.pem\ncert = /etc/r.pem\nkey = /etc/r.key\n"
	"idle_timeout = 60\nmax_hosts = 5000\nperiod = 600\nlog_level = debug\n";

static void test_rater_config(void **state)
{
	struct rater_config c;
	char err[RATER_ERR_MAX], *buf = NULL;
	size_t len = 0;
	FILE *f;

	assert_int_equal(rater_config_parse_string(&c, "t.conf", good, err), 0);
	assert_string_equal(c.listen, "[::1]:8443");
	assert_int_equal(c.store_max_bytes, 2ull << 30);
	assert_int_equal(c.idle_timeout, 60);
	assert_int_equal(c.max_hosts, 5000);
	assert_int_equal(c.period, 600);
	assert_int_equal(c.log_level, RLOG_DEBUG);
	/* canonical form parses back to the same */
	f = open_memstream(&buf, &len);
	rater_config_print(&c, f);
	fclose(f);
	{
		struct rater_config d;

		assert_int_equal(rater_config_parse_string(&d, "printed", buf, err), 0);
		assert_memory_equal(&c, &d, sizeof(c));
	}
	free(buf);
}

static void test_rater_config_errors(void **state)
{
	static const struct {
		const char *text, *msg;
	} bad[] = {
		{ "[rater]\nlisten = 127.0.0.1\n", "t.conf:2: [rater] listen: must be HOST:PORT" },
		{ "[rater]\nperiod = 59\n", "t.conf:2: [rater] period: out of range [60, 2678400]" },
		{ "[rater]\nidle_timeout = soon\n", "t.conf:2: [rater] idle_timeout: not a number" },
		{ "[rater]\nmax_hosts = 0\n", "t.conf:2: [rater] max_hosts: out of range" },
		{ "[rater]\nlog_level = loud\n", "t.conf:2: [rater] log_level: must be error" },
		{ "[rater]\nstore_max_bytes = 1K\n", "t.conf:2: [rater] store_max_bytes: out of range" },
		{ "[rater]\ncolour = blue\n", "t.conf:2: [rater] colour: unknown key" },
		{ "[agent]\nhost_id = x\n", "t.conf:2: [agent] host_id: unknown section" },
		{ "[rater]\nstore =\n", "t.conf:2: [rater] store: must not be empty" },
		{ "[rater]\nthis is not ini\n", "t.conf:2: syntax error" },
		{ "[rater]\ncert = /c\nkey = /k\n", "t.conf: [rater] ca: required" },
		{ "[rater]\nca = /c\nkey = /k\n", "t.conf: [rater] cert: required" },
		{ "[rater]\nca = /c\ncert = /k\n", "t.conf: [rater] key: required" },
	};
	struct rater_config c;
	char err[RATER_ERR_MAX];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(rater_config_parse_string(&c, "t.conf", bad[i].text, err), -EINVAL);
		if (strncmp(err, bad[i].msg, strlen(bad[i].msg))) {
			print_message("got: %s\nwant: %s\n", err, bad[i].msg);
			fail();
		}
	}
	assert_int_equal(rater_config_load(&c, "/nonexistent/hvrater.conf", err), -ENOENT);
}

/* The sample documents every key; its uncommented lines are the defaults. */
static void test_rater_sample(void **state)
{
	struct rater_config c, d;
	char err[RATER_ERR_MAX], *text = NULL;
	size_t len = 0;
	FILE *f = fopen("rater/hvrater.conf.sample", "r");

	if (!f)
		skip(); /* run from another directory */
	assert_int_equal(getdelim(&text, &len, '\0', f) > 0, 1);
	fclose(f);
	/* the sample leaves ca, cert and key commented (no default): add them
	 * (in [rater]: the sample ends with another section) */
	text = realloc(text, strlen(text) + 64);
	assert_non_null(text);
	strcat(text, "[rater]\nca = /c\ncert = /r\nkey = /k\n");
	assert_int_equal(rater_config_parse_string(&c, "sample", text, err), 0);
	rater_config_defaults(&d);
	strcpy(d.ca, "/c");
	strcpy(d.cert, "/r");
	strcpy(d.key, "/k");
	assert_memory_equal(&c, &d, sizeof(c));
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uplink_defaults_and_keys),
		cmocka_unit_test(test_uplink_print),
		cmocka_unit_test(test_rater_config),
		cmocka_unit_test(test_rater_config_errors),
		cmocka_unit_test(test_rater_sample),
	};

	return cmocka_run_group_tests_name("uplink_config", tests, NULL, NULL);
}
