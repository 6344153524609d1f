/* Config: the sample file parses to the documented defaults (golden), and
 * every kind of bad input names file, line and key. */
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

static void expect_error(const char *text, const char *want)
{
	struct config c;
	char err[CONFIG_ERR_MAX];

	assert_int_not_equal(config_parse_string(&c, "t.conf", text, err), 0);
	if (!strstr(err, want))
		fail_msg("error '%s' does not contain '%s'", err, want);
}

static void test_errors_name_line_and_key(void **state)
{
	expect_error("[agent]\ninterval = 10\nintervall = 5\n", "t.conf:3: [agent] intervall: unknown key");
	expect_error("[agent]\n\ninterval = ten\n", "t.conf:3: [agent] interval: not a number: 'ten'");
	expect_error("[agent]\ninterval = 0\n", "t.conf:2: [agent] interval: out of range [1, 3600]");
	expect_error("[agnet]\nx = 1\n", "t.conf:2: [agnet] x: unknown section");
	expect_error("[agent]\nthis line has no equals\n", "t.conf:2: syntax error");
	expect_error("[agent]\nbpf = maybe\n", "t.conf:2: [agent] bpf: must be auto, on or off");
	expect_error("[agent]\nhost_id = a/b\n", "host_id: may hold only");
	expect_error("[agent]\nstore_max_bytes = 12Q\n", "store_max_bytes: not a number");
	expect_error("[libvirt]\ntimeout = 0\n", "t.conf:2: [libvirt] timeout: out of range");
	expect_error("[agent]\nretention = 30y\n", "t.conf:2: [agent] retention: not a duration");
	expect_error("[agent]\nretention = d\n", "retention: not a duration");
	expect_error("[agent]\nretention = -1d\n", "retention: not a duration");
	expect_error("[agent]\nretention = 0\n", "retention: out of range [1s, 3650d]");
	expect_error("[agent]\nretention = 3651d\n", "retention: out of range");
	expect_error("[agent]\nretention = 99999999999999999999d\n", "retention: out of range");
	expect_error("[agent]\nstore_max_bytes = 64K\n", "store_max_bytes: out of range [131072,");
}

/* Durations: seconds by default, units s m h d, printed back in the largest exact unit. */
static void test_retention(void **state)
{
	static const struct {
		const char *in;
		uint64_t secs;
		const char *out;
	} cases[] = {
		{ "30d", 2592000, "30d" }, { "12h", 43200, "12h" }, { "3600", 3600, "1h" },
		{ "90m", 5400, "90m" },    { "7s", 7, "7s" },        { " 2D ", 172800, "2d" },
		{ "86401", 86401, "86401s" },
	};
	struct config c;
	char err[CONFIG_ERR_MAX], text[64], buf[32];

	config_defaults(&c);
	assert_int_equal(c.retention, 30 * 86400);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "[agent]\nretention = %s\n", cases[i].in);
		if (config_parse_string(&c, "t", text, err))
			fail_msg("%s: %s", cases[i].in, err);
		assert_int_equal(c.retention, cases[i].secs);
		duration_format(c.retention, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].out);
	}
	assert_int_equal(config_parse_string(&c, "t", "[agent]\nstore_max_bytes = 128K\n", err), 0);
	assert_int_equal(c.store_max_bytes, 128 << 10);
}

static void test_values(void **state)
{
	struct config c;
	char err[CONFIG_ERR_MAX];

	assert_int_equal(config_parse_string(&c, "t", "[agent]\nstore_max_bytes = 64M\ninterval=3\n"
				"host_id = hv-01\nbpf = off\n[libvirt]\nuri = qemu+ssh://x/system\n", err), 0);
	assert_int_equal(c.store_max_bytes, 64ull << 20);
	assert_int_equal(c.interval, 3);
	assert_string_equal(c.host_id, "hv-01");
	assert_int_equal(c.bpf, BPF_OFF);
	assert_string_equal(c.libvirt_uri, "qemu+ssh://x/system");
}

static void test_missing_file(void **state)
{
	struct config c;
	char err[CONFIG_ERR_MAX];

	assert_int_equal(config_load(&c, "/nonexistent/hvmeterd.conf", err), -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/hvmeterd.conf: cannot open: No such file"));
}

/* The sample config documents every key with its default: parsing it must
 * give exactly the built-in defaults (host_id aside, which is the host name). */
static void test_sample_is_the_defaults(void **state)
{
	struct config a, b;
	char err[CONFIG_ERR_MAX], *pa = NULL, *pb = NULL;
	size_t la, lb;
	FILE *fa, *fb;

	if (config_load(&a, "daemon/hvmeterd.conf.sample", err))
		fail_msg("%s", err);
	config_defaults(&b);
	strcpy(a.host_id, "X");
	strcpy(b.host_id, "X");
	fa = open_memstream(&pa, &la);
	fb = open_memstream(&pb, &lb);
	config_print(&a, fa);
	config_print(&b, fb);
	fclose(fa);
	fclose(fb);
	assert_string_equal(pa, pb);
	free(pa);
	free(pb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_errors_name_line_and_key),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_retention),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_sample_is_the_defaults),
	};
	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
