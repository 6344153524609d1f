/* What a SIGHUP may apply: config_diff names every changed key with its
 * kind (log level, BMC, restart), hides passwords, and config_apply copies
 * exactly the keys of one kind, leaving restart-only keys as they were. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include "daemon/config.h"

static void parse(struct config *c, const char *text)
{
	char err[CONFIG_ERR_MAX];

	if (config_parse_string(c, "t.conf", text, err))
		fail_msg("%s", err);
	strcpy(c->host_id, "hv-1");
}

static const struct config_change *find(const struct config_change *ch, int n, const char *section,
					const char *key)
{
	for (int i = 0; i < n; i++)
		if (strcmp(ch[i].section, section) == 0 && strcmp(ch[i].key, key) == 0)
			return &ch[i];
	return NULL;
}

static void test_no_change(void **state)
{
	struct config a, b;
	struct config_change ch[8];

	parse(&a, "[agent]\ninterval = 5\n[bmc]\ndriver = lan20\nhost = 127.0.0.1\n");
	parse(&b, "[bmc]\nhost = 127.0.0.1\ndriver = lan20\n[agent]\ninterval = 5\n");
	assert_int_equal(config_diff(&a, &b, ch, 8), 0);
}

static void test_kinds(void **state)
{
	struct config a, b;
	struct config_change ch[16];
	const struct config_change *c;
	int n;

	parse(&a, "[agent]\nlog_level = info\ninterval = 10\nstore = /var/lib/a\n"
		  "[bmc]\ndriver = lan20\nhost = 127.0.0.1\npoll_ms = 1000\npassword = old\n"
		  "[network]\nclasses = /etc/a.classes\n");
	parse(&b, "[agent]\nlog_level = debug\ninterval = 5\nstore = /var/lib/b\nhost_id = other\n"
		  "[bmc]\ndriver = lan20\nhost = 127.0.0.1\npoll_ms = 500\npassword = new\n"
		  "[network]\nclasses = /etc/b.classes\n[prometheus]\nlisten = 127.0.0.1:9177\n");
	strcpy(b.host_id, "other");
	n = config_diff(&a, &b, ch, 16);
	assert_int_equal(n, 8);
	assert_non_null(c = find(ch, n, "agent", "log_level"));
	assert_int_equal(c->apply, CONFIG_APPLY_LOG);
	assert_string_equal(c->before, "info");
	assert_string_equal(c->after, "debug");
	assert_non_null(c = find(ch, n, "agent", "interval"));
	assert_int_equal(c->apply, CONFIG_APPLY_RESTART);
	assert_string_equal(c->before, "10");
	assert_string_equal(c->after, "5");
	assert_int_equal(find(ch, n, "agent", "store")->apply, CONFIG_APPLY_RESTART);
	assert_int_equal(find(ch, n, "agent", "host_id")->apply, CONFIG_APPLY_RESTART);
	/* the class file's path: the content is what a SIGHUP rereads */
	assert_int_equal(find(ch, n, "network", "classes")->apply, CONFIG_APPLY_RESTART);
	assert_int_equal(find(ch, n, "prometheus", "listen")->apply, CONFIG_APPLY_RESTART);
	assert_int_equal(find(ch, n, "bmc", "poll_ms")->apply, CONFIG_APPLY_BMC);
	/* a changed password is seen, never shown */
	assert_non_null(c = find(ch, n, "bmc", "password"));
	assert_int_equal(c->apply, CONFIG_APPLY_BMC);
	assert_null(strstr(c->before, "old"));
	assert_null(strstr(c->after, "new"));
	assert_null(find(ch, n, "uplink", "server_name"));
	/* more changes than room: the count says so */
	assert_int_equal(config_diff(&a, &b, ch, 2), 8);
}

static void test_uplink_is_restart(void **state)
{
	struct config a, b;
	struct config_change ch[4];

	parse(&a, "[uplink]\nbatch_frames = 10\n");
	parse(&b, "[uplink]\nbatch_frames = 20\n");
	assert_int_equal(config_diff(&a, &b, ch, 4), 1);
	assert_string_equal(ch[0].section, "uplink");
	assert_string_equal(ch[0].key, "batch_frames");
	assert_int_equal(ch[0].apply, CONFIG_APPLY_RESTART);
}

/* After applying the BMC kind, no [bmc] key differs and nothing else moved:
 * config_apply knows every [bmc] key. */
static void test_apply_bmc_copies_every_bmc_key(void **state)
{
	struct config a, b, before;
	struct config_change ch[32];
	int n;

	parse(&a, "[agent]\ninterval = 10\nlog_level = info\n");
	parse(&b, "[agent]\ninterval = 7\nlog_level = debug\n"
		  "[bmc]\ndriver = lan15\nhost = 10.1.2.3\nport = 624\nuser = u\npassword = p\n"
		  "password_file = /etc/pw\ncipher_suite = 17\nprivilege = admin\n"
		  "workarounds = opensesspriv\ntimeout_ms = 999\npoll_ms = 250\nmap = dell-idrac\n"
		  "maps_dir = /m\nidle_watts = 120\n");
	n = config_diff(&a, &b, ch, 32);
	assert_int_equal(n, 16); /* 14 [bmc] keys, interval, log_level */
	before = a;
	config_apply(&a, &b, CONFIG_APPLY_BMC);
	n = config_diff(&a, &b, ch, 32);
	assert_int_equal(n, 2);
	assert_non_null(find(ch, n, "agent", "interval"));
	assert_non_null(find(ch, n, "agent", "log_level"));
	assert_int_equal(a.interval, before.interval);
	config_apply(&a, &b, CONFIG_APPLY_LOG);
	n = config_diff(&a, &b, ch, 32);
	assert_int_equal(n, 1);
	assert_string_equal(ch[0].key, "interval");
	/* restart keys are never copied */
	config_apply(&a, &b, CONFIG_APPLY_RESTART);
	assert_int_equal(a.interval, 10);
}

static void expect_error(const char *text, const char *want)
{
	struct config c;
	char err[CONFIG_ERR_MAX];

	assert_int_not_equal(config_parse_string(&c, "t.conf", text, err), 0);
	if (!strstr(err, want))
		fail_msg("error '%s' does not contain '%s'", err, want);
}

/* The [prometheus] keys: loopback by default, a remote address only when allowed. */
static void test_prometheus_keys(void **state)
{
	struct config c;
	char err[CONFIG_ERR_MAX];

	config_defaults(&c);
	assert_string_equal(c.prom_listen, "");
	assert_false(c.prom_allow_remote);
	assert_int_equal(config_parse_string(&c, "t", "[prometheus]\nlisten = [::1]:9177\n", err), 0);
	assert_string_equal(c.prom_listen, "[::1]:9177");
	expect_error("[prometheus]\n\nlisten = 0.0.0.0:9177\n",
		     "t.conf:3: [prometheus] listen: 0.0.0.0:9177 is not a loopback address");
	expect_error("[prometheus]\nlisten = 10.1.1.1:9177\nallow_remote = no\n", "allow_remote = yes");
	assert_int_equal(config_parse_string(&c, "t", "[prometheus]\nlisten = 0.0.0.0:9177\n"
					     "allow_remote = yes\n", err), 0);
	assert_true(c.prom_allow_remote);
	expect_error("[prometheus]\nlisten = localhost:9177\n",
		     "t.conf:2: [prometheus] listen: not a numeric IPv4 address");
	expect_error("[prometheus]\nlisten = 127.0.0.1:99999\n", "port must be 1..65535");
	expect_error("[prometheus]\nallow_remote = maybe\n", "t.conf:2: [prometheus] allow_remote: must be yes or no");
	expect_error("[prometheus]\nport = 1\n", "[prometheus] port: unknown key");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_change),
		cmocka_unit_test(test_kinds),
		cmocka_unit_test(test_uplink_is_restart),
		cmocka_unit_test(test_apply_bmc_copies_every_bmc_key),
		cmocka_unit_test(test_prometheus_keys),
	};
	return cmocka_run_group_tests_name("reload", tests, NULL, NULL);
}
