/*
 * test_ipmi_sensor_map.c — the .map format (ipmi/sensor_map.c): the shipped
 * maps parse, errors carry line numbers, matching by device id and override
 * by name, selectors, workaround names, and random damage never crashes the
 * parser (run it under ASan: buffers here are exactly the input's size).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <freeipmi/api/ipmi-api.h>
#include <freeipmi/sensor-read/ipmi-sensor-read.h>

#include "ipmi/bmc.h"
#include "ipmi/sensor_map.h"

static const char *firmware_dir(void)
{
	static char buf[1024];
	const char *e = getenv("HV_FIRMWARE_DIR");
	struct stat st;
	char *slash;

	if (e && e[0])
		return e;
	if (stat("firmware-configs/generic.map", &st) == 0)
		return "firmware-configs";
	/* from the source path: tests/unit/x.c -> firmware-configs */
	snprintf(buf, sizeof(buf), "%s", __FILE__);
	slash = strstr(buf, "tests/unit/");
	if (slash) {
		strcpy(slash, "firmware-configs");
		if (stat(buf, &st) == 0)
			return buf;
	}
	return NULL;
}

/* Parses a string through an exact-size heap copy so ASan sees any overread. */
static int parse(const char *text, struct sensor_map *m, struct sensor_map_error *e)
{
	size_t len = strlen(text);
	char *copy = malloc(len ? len : 1);
	int rc;

	assert_non_null(copy);
	memcpy(copy, text, len);
	rc = sensor_map_parse(copy, len, m, e);
	free(copy);
	return rc;
}

static const char *sample =
	"# a comment\n"
	"map test-family   # trailing comment\n"
	"description \"Test \\\"family\\\" \\\\ one\"\n"
	"match manufacturer 0x02a2 product 256\n"
	"match manufacturer 674\n"
	"workarounds opensesspriv,discretereading\n"
	"workarounds nochecksumcheck\n"
	"\n"
	"power dcmi\n"
	"power sensor name \"Pwr Consumption\"\n"
	"power sensor number 0x77 type current\n"
	"export temperature.inlet name \"Inlet Temp\"\n"
	"export temperature.cpu1 name \"Temp\" number 0x0e\n"
	"export fan.1 glob \"fan*1*\" unit RPM\n"
	"export fan.1 glob \"*FAN*\" type fan\n"
	"export fan.duty glob \"Fan*\" unit %\n"
	"\texport   power.psu1.input   type power_supply   unit W\r\n";

static void test_parse_sample(void **state)
{
	struct sensor_map m;
	struct sensor_map_error e;
	char sel[128];

	assert_int_equal(parse(sample, &m, &e), 0);
	assert_string_equal(m.name, "test-family");
	assert_string_equal(m.description, "Test \"family\" \\ one");
	assert_int_equal(m.n_match, 2);
	assert_int_equal(m.match[0].manufacturer_id, 674);
	assert_true(m.match[0].has_product);
	assert_int_equal(m.match[0].product_id, 256);
	assert_false(m.match[1].has_product);
	assert_int_equal(m.workarounds.lan20,
			 IPMI_WORKAROUND_FLAGS_OUTOFBAND_2_0_OPEN_SESSION_PRIVILEGE |
				 IPMI_WORKAROUND_FLAGS_OUTOFBAND_2_0_NO_CHECKSUM_CHECK);
	assert_int_equal(m.workarounds.sensor, IPMI_SENSOR_READ_FLAGS_DISCRETE_READING);
	assert_string_equal(m.workarounds_str, "opensesspriv,discretereading,nochecksumcheck");
	assert_int_equal(m.n_power, 3);
	assert_int_equal(m.power[0].kind, SENSOR_MAP_POWER_DCMI);
	assert_int_equal(m.power[1].kind, SENSOR_MAP_POWER_SENSOR);
	/* a power sensor is always in watts */
	assert_int_equal(m.power[1].sel.has, SENSOR_SEL_NAME | SENSOR_SEL_UNIT);
	assert_int_equal(m.power[1].sel.unit, 6);
	assert_int_equal(m.power[2].sel.number, 0x77);
	assert_int_equal(m.power[2].sel.type, 0x03);
	assert_int_equal(m.n_export, 6);
	assert_string_equal(m.exports[1].name, "temperature.cpu1");
	assert_int_equal(m.exports[1].sel.has, SENSOR_SEL_NAME | SENSOR_SEL_NUMBER);
	assert_int_equal(m.exports[4].sel.unit, BMC_UNIT_PERCENT);
	assert_string_equal(m.exports[5].name, "power.psu1.input");
	assert_int_equal(m.exports[5].sel.type, 0x08);
	sensor_selector_format(&m.exports[1].sel, sel, sizeof(sel));
	assert_string_equal(sel, "name \"Temp\" number 0x0e");
	/* no trailing newline is fine too */
	assert_int_equal(parse("map a\nmatch any\npower dcmi", &m, &e), 0);
}

struct bad {
	const char *text;
	unsigned line;
	const char *msg; /* substring */
};

static void test_errors_have_line_numbers(void **state)
{
	static const struct bad bad[] = {
		{ "match any\n", 1, "first directive must be \"map NAME\"" },
		{ "map Dell\n", 1, "map NAME" },
		{ "map a\nmap b\n", 2, "given twice" },
		{ "map a\n\n\nfrobnicate 1\n", 4, "unknown directive \"frobnicate\"" },
		{ "map a\nmatch manufacturer 0x100000\n", 2, "above" },
		{ "map a\nmatch manufacturer 674 product 0x10000\n", 2, "product id" },
		{ "map a\nmatch manufacturer 12ab\n", 2, "not a number" },
		{ "map a\nmatch manufacturer 674 model 3\n", 2, "expected \"product\"" },
		{ "map a\nmatch\n", 2, "match any" },
		{ "map a\nmatch any\npower\n", 3, "power dcmi" },
		{ "map a\nmatch any\npower sensor\n", 3, "missing sensor selector" },
		{ "map a\nmatch any\npower sensor name\n", 3, "needs a value" },
		{ "map a\nmatch any\npower sensor name \"x\" glob \"y\"\n", 3, "not both" },
		{ "map a\nmatch any\npower sensor name \"x\" name \"y\"\n", 3, "given twice" },
		{ "map a\nmatch any\npower sensor unit C\n", 3, "must read in W" },
		{ "map a\nmatch any\npower sensor number 256\n", 3, "sensor number" },
		{ "map a\nmatch any\npower sensor type toaster\n", 3, "unknown sensor type" },
		{ "map a\nmatch any\npower sensor color red\n", 3, "unknown selector" },
		{ "map a\nmatch any\nexport Temp name \"x\"\n", 3, "export NAME" },
		{ "map a\nmatch any\nexport t.x unit furlongs\n", 3, "unknown unit" },
		{ "map a\nmatch any\nworkarounds turbo\n", 3, "unknown FreeIPMI workaround \"turbo\"" },
		{ "map a\ndescription \"open\n", 2, "unterminated string" },
		{ "map a\ndescription \"bad \\n escape\"\n", 2, "bad escape" },
		{ "map a\ndescription \"a\"b\n", 2, "missing blank" },
		{ "map a\nmatch any\npower sensor name \"\"\n", 3, "1..31 characters" },
		{ "map a\nmatch any\npower sensor name \"0123456789012345678901234567890123\"\n", 3, "characters" },
		{ "map a\nma\"tch any\n", 2, "quote inside a word" },
		{ "map a\nmatch any\n", 0, "no \"power\" line" },
		{ "map a\npower dcmi\n", 0, "no \"match\" line" },
		{ "# only comments\n", 0, "no \"map NAME\" line" },
		{ "", 0, "no \"map NAME\" line" },
	};
	struct sensor_map m;
	struct sensor_map_error e;
	char out[512];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&e, 0, sizeof(e));
		if (parse(bad[i].text, &m, &e) != -EINVAL)
			fail_msg("case %zu parsed: %s", i, bad[i].text);
		if (e.line != bad[i].line || !strstr(e.msg, bad[i].msg))
			fail_msg("case %zu: got line %u \"%s\", want line %u \"%s\"", i, e.line, e.msg, bad[i].line,
				 bad[i].msg);
	}
	/* formatting with a file name */
	snprintf(e.file, sizeof(e.file), "x.map");
	e.line = 7;
	snprintf(e.msg, sizeof(e.msg), "boom");
	sensor_map_error_format(&e, out, sizeof(out));
	assert_string_equal(out, "x.map:7: boom");
}

static void test_limits(void **state)
{
	struct sensor_map m;
	struct sensor_map_error e;
	char *big, *p;
	size_t len = SENSOR_MAP_LINE_MAX + 64;

	/* a NUL byte inside the buffer */
	assert_int_equal(sensor_map_parse("map a\nmatch\0 any\n", 17, &m, &e), -EINVAL);
	assert_int_equal(e.line, 2);
	assert_non_null(strstr(e.msg, "NUL"));

	/* a line too long */
	big = malloc(len);
	assert_non_null(big);
	memcpy(big, "map a\n", 6);
	memset(big + 6, 'x', len - 6);
	assert_int_equal(sensor_map_parse(big, len, &m, &e), -EINVAL);
	assert_int_equal(e.line, 2);
	free(big);

	/* too many exports */
	big = malloc(64 * 1024);
	assert_non_null(big);
	p = big + sprintf(big, "map a\nmatch any\npower dcmi\n");
	for (int i = 0; i <= SENSOR_MAP_MAX_EXPORT; i++)
		p += sprintf(p, "export t.%d number %d\n", i, i);
	assert_int_equal(sensor_map_parse(big, (size_t)(p - big), &m, &e), -EINVAL);
	assert_int_equal(e.line, 4 + SENSOR_MAP_MAX_EXPORT);
	free(big);

	/* too big a file */
	assert_int_equal(sensor_map_parse("", SENSOR_MAP_MAX_BYTES + 1, &m, &e), -EINVAL);
}

static void test_shipped_maps(void **state)
{
	static const char *want[] = { "dell-idrac", "generic", "hpe-ilo", "lenovo-xcc", "supermicro" };
	const char *dir = firmware_dir();
	struct sensor_map_set set = { 0 };
	struct sensor_map_error e;
	const struct sensor_map *m;
	char msg[1024];

	if (!dir)
		skip();
	if (sensor_map_set_load_dir(&set, dir, &e)) {
		sensor_map_error_format(&e, msg, sizeof(msg));
		fail_msg("%s", msg);
	}
	assert_true(set.n >= 5);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		m = sensor_map_set_find(&set, want[i]);
		assert_non_null(m);
		assert_true(m->n_power >= 2);
		assert_int_equal(m->power[0].kind, SENSOR_MAP_POWER_DCMI);
		assert_true(m->n_export >= 3);
	}
	/* by device id: the IANA numbers of each family */
	assert_string_equal(sensor_map_set_match(&set, 674, 0x0100)->name, "dell-idrac");
	assert_string_equal(sensor_map_set_match(&set, 11, 0x2009)->name, "hpe-ilo");
	assert_string_equal(sensor_map_set_match(&set, 47196, 1)->name, "hpe-ilo");
	assert_string_equal(sensor_map_set_match(&set, 10876, 0x1b0b)->name, "supermicro");
	assert_string_equal(sensor_map_set_match(&set, 47488, 0)->name, "supermicro");
	assert_string_equal(sensor_map_set_match(&set, 19046, 0x0483)->name, "lenovo-xcc");
	assert_string_equal(sensor_map_set_match(&set, 7244, 1)->name, "generic");
	assert_string_equal(sensor_map_set_match(&set, 343, 1)->name, "generic");
	sensor_map_set_free(&set);
}

static void add(struct sensor_map_set *set, const char *text)
{
	struct sensor_map m;
	struct sensor_map_error e;

	if (parse(text, &m, &e))
		fail_msg("line %u: %s", e.line, e.msg);
	assert_int_equal(sensor_map_set_add(set, &m), 0);
}

static void test_matching_and_override(void **state)
{
	struct sensor_map_set set = { 0 };
	const struct sensor_map *m;

	add(&set, "map vendor\nmatch manufacturer 100\npower dcmi\n");
	add(&set, "map vendor-x9\nmatch manufacturer 100 product 9\npower dcmi\n");
	assert_string_equal(sensor_map_set_match(&set, 100, 9)->name, "vendor-x9");
	assert_string_equal(sensor_map_set_match(&set, 100, 8)->name, "vendor");
	assert_null(sensor_map_set_match(&set, 101, 9)); /* no generic map: nothing */
	add(&set, "map zz-generic\nmatch any\npower dcmi\n");
	assert_string_equal(sensor_map_set_match(&set, 101, 9)->name, "zz-generic");
	assert_int_equal(sensor_map_match_score(sensor_map_set_find(&set, "vendor-x9"), 100, 9), 3);
	assert_int_equal(sensor_map_match_score(sensor_map_set_find(&set, "vendor"), 100, 9), 2);
	assert_int_equal(sensor_map_match_score(sensor_map_set_find(&set, "zz-generic"), 100, 9), 1);
	assert_int_equal(sensor_map_match_score(sensor_map_set_find(&set, "vendor"), 7, 9), 0);

	/* a map with the same name replaces the old one (local overrides) */
	add(&set, "map vendor\nmatch manufacturer 100\npower sensor name \"Local\"\n");
	assert_int_equal(set.n, 3);
	m = sensor_map_set_find(&set, "vendor");
	assert_int_equal(m->power[0].kind, SENSOR_MAP_POWER_SENSOR);
	assert_string_equal(m->power[0].sel.name, "Local");
	assert_null(sensor_map_set_find(&set, "nope"));
	/* sorted by name */
	assert_string_equal(set.maps[0].name, "vendor");
	assert_string_equal(set.maps[2].name, "zz-generic");
	sensor_map_set_free(&set);
	sensor_map_set_free(&set);
	sensor_map_set_free(NULL);
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "we");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_load_dir_override_and_errors(void **state)
{
	char a[] = "/tmp/hv-maps-a-XXXXXX", b[] = "/tmp/hv-maps-b-XXXXXX", cmd[256];
	struct sensor_map_set set = { 0 };
	struct sensor_map_error e;
	const struct sensor_map *m;
	char msg[1024];

	assert_non_null(mkdtemp(a));
	assert_non_null(mkdtemp(b));
	write_file(a, "one.map", "map one\nmatch manufacturer 1\npower dcmi\n");
	write_file(a, "two.map", "map two\nmatch manufacturer 2\npower dcmi\n");
	write_file(a, "README.md", "not a map\n");
	write_file(b, "mine.map", "map one\nmatch manufacturer 1\npower sensor name \"Mine\"\n");
	assert_int_equal(sensor_map_set_load_dir(&set, a, &e), 0);
	assert_int_equal(set.n, 2);
	assert_int_equal(sensor_map_set_load_dir(&set, b, &e), 0);
	assert_int_equal(set.n, 2);
	m = sensor_map_set_find(&set, "one");
	assert_string_equal(m->power[0].sel.name, "Mine");

	write_file(b, "zbad.map", "map bad\nmatch any\npower sensor name \"x\" unit V\n");
	assert_int_equal(sensor_map_set_load_dir(&set, b, &e), -EINVAL);
	sensor_map_error_format(&e, msg, sizeof(msg));
	assert_non_null(strstr(msg, "zbad.map:3: a power sensor must read in W"));
	assert_int_equal(sensor_map_set_load_dir(&set, "/nonexistent/maps", &e), -ENOENT);
	assert_int_equal(sensor_map_load_file("/nonexistent/x.map", &set.maps[0], &e), -ENOENT);
	sensor_map_set_free(&set);
	snprintf(cmd, sizeof(cmd), "rm -rf %s %s", a, b);
	assert_int_equal(system(cmd), 0);
}

static struct bmc_sensor sensor(const char *name, uint8_t number, uint8_t type, uint16_t unit)
{
	struct bmc_sensor s = { .number = number, .type = type, .unit = unit };

	snprintf(s.name, sizeof(s.name), "%s", name);
	return s;
}

static void test_selectors(void **state)
{
	struct bmc_sensor list[] = {
		sensor("Temp", 0x0e, 1, 1),           sensor("Temp", 0x0f, 1, 1),
		sensor("Pwr Consumption  ", 0x77, 3, 6), sensor("FAN1", 0x41, 4, 18),
		sensor("Inlet Temp", 0x04, 1, 1),
	};
	struct sensor_selector sel = { 0 };

	assert_false(sensor_selector_match(&sel, &list[0])); /* empty selects nothing */
	sel = (struct sensor_selector){ .has = SENSOR_SEL_NAME, .name = "temp" };
	assert_int_equal(sensor_selector_find(&sel, list, 5), 0);
	sel.has |= SENSOR_SEL_NUMBER;
	sel.number = 0x0f;
	assert_int_equal(sensor_selector_find(&sel, list, 5), 1);
	/* BMCs pad names with blanks */
	sel = (struct sensor_selector){ .has = SENSOR_SEL_NAME | SENSOR_SEL_UNIT, .name = "Pwr Consumption", .unit = 6 };
	assert_int_equal(sensor_selector_find(&sel, list, 5), 2);
	sel.unit = 1;
	assert_int_equal(sensor_selector_find(&sel, list, 5), -1);
	sel = (struct sensor_selector){ .has = SENSOR_SEL_GLOB | SENSOR_SEL_TYPE, .name = "*inlet*", .type = 1 };
	assert_int_equal(sensor_selector_find(&sel, list, 5), 4);
	sel = (struct sensor_selector){ .has = SENSOR_SEL_GLOB, .name = "fan[0-9]" };
	assert_int_equal(sensor_selector_find(&sel, list, 5), 3);
	sel = (struct sensor_selector){ .has = SENSOR_SEL_TYPE, .type = 4 };
	assert_int_equal(sensor_selector_find(&sel, list, 5), 3);
	assert_int_equal(sensor_selector_find(&sel, list, 0), -1);
}

static void test_workaround_names(void **state)
{
	struct bmc_workarounds w, all = { 0 };
	char err[128];

	assert_int_equal(bmc_workarounds_parse("", &w, err, sizeof(err)), 0);
	assert_true(bmc_workarounds_subset(&w, &all));
	assert_int_equal(bmc_workarounds_parse(NULL, &w, err, sizeof(err)), 0);
	assert_int_equal(bmc_workarounds_parse(" authcap, , opensesspriv\tassumeio ", &w, err, sizeof(err)), 0);
	assert_int_equal(w.lan15, IPMI_WORKAROUND_FLAGS_OUTOFBAND_AUTHENTICATION_CAPABILITIES);
	assert_int_equal(w.lan20, IPMI_WORKAROUND_FLAGS_OUTOFBAND_2_0_AUTHENTICATION_CAPABILITIES |
					  IPMI_WORKAROUND_FLAGS_OUTOFBAND_2_0_OPEN_SESSION_PRIVILEGE);
	assert_int_equal(w.inband, IPMI_WORKAROUND_FLAGS_INBAND_ASSUME_IO_BASE_ADDRESS);
	assert_false(bmc_workarounds_subset(&w, &all));
	bmc_workarounds_merge(&all, &w);
	assert_true(bmc_workarounds_subset(&w, &all));
	assert_int_equal(bmc_workarounds_parse("opensesspriv,warp9", &w, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "unknown FreeIPMI workaround \"warp9\"");
	for (const char *const *n = (const char *const[]){ "idzero", "unexpectedauth", "forcepermsg", "endianseq",
							   "noauthcodecheck", "nochecksumcheck", "intel20",
							   "supermicro20", "sun20", "integritycheckvalue", "spinpoll",
							   "assumemaxsdrrecordcount", "discretereading",
							   "ignorescanningdisabled", "assumebmcowner",
							   "ignoreauthcode", NULL };
	     *n; n++)
		assert_int_equal(bmc_workarounds_parse(*n, &w, err, sizeof(err)), 0);
}

static void test_units_and_scaling(void **state)
{
	uint16_t u;
	enum bmc_driver d;
	enum bmc_privilege p;

	assert_int_equal(bmc_unit_parse("W", &u), 0);
	assert_int_equal(u, 6);
	assert_int_equal(sensor_unit_scale(u), 3);
	assert_int_equal(bmc_unit_parse("percent", &u), 0);
	assert_int_equal(u, BMC_UNIT_PERCENT);
	assert_string_equal(bmc_unit_name(u), "%");
	assert_int_equal(bmc_unit_parse("rpm", &u), 0);
	assert_int_equal(sensor_unit_scale(u), 0);
	assert_int_equal(bmc_unit_parse("C", &u), 0);
	assert_int_equal(sensor_unit_scale(u), 1);
	assert_int_equal(bmc_unit_parse("parsec", &u), -EINVAL);
	assert_string_equal(bmc_unit_name(999), "");
	assert_int_equal(sensor_value_scaled(23.0, 1), 230);
	assert_int_equal(sensor_value_scaled(249.9996, 3), 249999 + 1);
	assert_int_equal(sensor_value_scaled(-1.25, 1), -13);
	assert_int_equal(sensor_value_scaled(1e30, 3), INT64_MAX);
	assert_int_equal(sensor_value_scaled(-1e30, 3), INT64_MIN);
	assert_int_equal(bmc_driver_parse("LAN_2_0", &d), 0);
	assert_int_equal(d, BMC_DRIVER_LAN20);
	assert_int_equal(bmc_driver_parse("lan", &d), 0);
	assert_int_equal(d, BMC_DRIVER_LAN15);
	assert_int_equal(bmc_driver_parse("inband", &d), 0);
	assert_int_equal(bmc_driver_parse("serial", &d), -EINVAL);
	assert_int_equal(bmc_privilege_parse("operator", &p), 0);
	assert_int_equal(p, BMC_PRIV_OPERATOR);
	assert_int_equal(bmc_privilege_parse("root", &p), -EINVAL);
	assert_string_equal(bmc_sensor_state_name(BMC_SENSOR_CRITICAL), "critical");
	assert_string_equal(bmc_driver_name(BMC_DRIVER_LAN20), "lan20");
}

/* Damaged maps: every outcome is 0 or -EINVAL, never a crash or an overread. */
static void test_fuzz_mutations(void **state)
{
	static const char alphabet[] = "map match any power sensor dcmi export name glob number type unit \"\\#\n\t 0x7a9";
	uint64_t x = 0x2545f4914f6cdd1dULL;
	size_t base_len = strlen(sample);
	int ok = 0, bad = 0;

	for (int iter = 0; iter < 20000; iter++) {
		size_t len = base_len, edits;
		struct sensor_map m;
		struct sensor_map_error e;
		char *buf;
		int rc;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		edits = 1 + x % 8;
		if (x % 5 == 0)
			len = x % (base_len + 1); /* truncated */
		buf = malloc(len ? len : 1);
		assert_non_null(buf);
		memcpy(buf, sample, len);
		for (size_t k = 0; k < edits && len; k++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			if (x & 1)
				buf[x % len] = (char)(x >> 8);
			else
				buf[x % len] = alphabet[(x >> 8) % (sizeof(alphabet) - 1)];
		}
		rc = sensor_map_parse(buf, len, &m, &e);
		assert_true(rc == 0 || rc == -EINVAL);
		if (rc == 0) {
			ok++;
			assert_true(m.n_power >= 1 && m.n_power <= SENSOR_MAP_MAX_POWER);
			assert_true(m.n_match >= 1);
			assert_true(strlen(m.name) < SENSOR_MAP_NAME_MAX);
		} else {
			bad++;
			assert_true(strlen(e.msg) > 0);
		}
		free(buf);
	}
	print_message("20000 damaged maps: %d parsed, %d refused with a message\n", ok, bad);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_sample),
		cmocka_unit_test(test_errors_have_line_numbers),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_shipped_maps),
		cmocka_unit_test(test_matching_and_override),
		cmocka_unit_test(test_load_dir_override_and_errors),
		cmocka_unit_test(test_selectors),
		cmocka_unit_test(test_workaround_names),
		cmocka_unit_test(test_units_and_scaling),
		cmocka_unit_test(test_fuzz_mutations),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
