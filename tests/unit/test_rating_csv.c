/*
 * test_rating_csv.c — the usage CSV that `hvrater rate` reads (rater/usage_csv.c):
 * RFC 4180 quoting, the checks on each column and the "line N, column X"
 * messages, and the CSV field writer.
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

#include "rater/usage_csv.h"

#define HEADER "begin,end,project,resource,service,qty,metadata\n"
#define T0 "2026-01-01T00:00:00Z"
#define T1 "2026-01-01T01:00:00Z"

static struct usage *parse_ok(const char *text)
{
	struct usage *u = NULL;
	char err[512] = "";
	int rc = usage_csv_parse(text, strlen(text), &u, err, sizeof(err));

	if (rc)
		print_error("refused: %s\n", err);
	assert_int_equal(rc, 0);
	assert_non_null(u);
	return u;
}

static void test_rows(void **state)
{
	struct usage *u = parse_ok(
		"\xef\xbb\xbf" HEADER
		T0 "," T1 ",p1,vm-1,instance,1.50,flavor=m1.tiny;memory=512\r\n"
		"\r\n"
		"\n"
		"2026-01-01T01:00:00.5+01:00,2026-01-01T01:00:00.6+01:00,,host,energy,2e3,\n"
		T0 "," T1 ",\"p,2\",\"vm \"\"3\"\"\",instance,0,\"note=a,b;quote=say \"\"hi\"\";eq=x=y;empty=\"");

	assert_int_equal(u->n_rows, 3);

	assert_int_equal(u->rows[0].line, 2);
	assert_string_equal(u->rows[0].col[USAGE_PROJECT], "p1");
	assert_string_equal(u->rows[0].col[USAGE_QTY], "1.50");
	assert_int_equal(u->rows[0].n_attrs, 2);
	assert_string_equal(u->rows[0].attrs[0].key, "flavor");
	assert_string_equal(u->rows[0].attrs[0].value, "m1.tiny");
	assert_string_equal(u->rows[0].attrs[1].key, "memory");
	assert_string_equal(u->rows[0].attrs[1].value, "512");

	/* blank lines are skipped but counted */
	assert_int_equal(u->rows[1].line, 5);
	assert_string_equal(u->rows[1].col[USAGE_PROJECT], "");
	assert_int_equal(u->rows[1].n_attrs, 0);
	assert_int_equal(decimal_adjusted(&u->rows[1].qty), 3);

	/* RFC 4180: quoted commas and doubled quotes; the first '=' splits; no final newline */
	assert_int_equal(u->rows[2].line, 6);
	assert_string_equal(u->rows[2].col[USAGE_PROJECT], "p,2");
	assert_string_equal(u->rows[2].col[USAGE_RESOURCE], "vm \"3\"");
	assert_int_equal(u->rows[2].n_attrs, 4);
	assert_string_equal(u->rows[2].attrs[0].value, "a,b");
	assert_string_equal(u->rows[2].attrs[1].value, "say \"hi\"");
	assert_string_equal(u->rows[2].attrs[2].key, "eq");
	assert_string_equal(u->rows[2].attrs[2].value, "x=y");
	assert_string_equal(u->rows[2].attrs[3].value, "");
	usage_free(u);

	u = parse_ok(HEADER);
	assert_int_equal(u->n_rows, 0);
	usage_free(u);
	usage_free(NULL);
}

struct bad_csv {
	const char *text;
	const char *error;
};

static const struct bad_csv bad[] = {
	{ "", "line 1: empty file: the header line is missing" },
	{ "\n\n", "line 1: empty file: the header line is missing" },
	{ "begin,end,project,resource,service,quantity,metadata\n",
	  "line 1: the header must be \"begin,end,project,resource,service,qty,metadata\"" },
	{ "begin,end,project,resource,service,qty\n",
	  "line 1: the header must be \"begin,end,project,resource,service,qty,metadata\"" },
	{ HEADER T0 "," T1 ",p,r,s,1\n", "line 2: 6 fields, expected 7 (begin,end,project,resource,service,qty,metadata)" },
	{ HEADER T0 "," T1 ",p,r,s,1,,\n", "line 2: 8 fields, expected 7 (begin,end,project,resource,service,qty,metadata)" },
	{ HEADER "\n" T0 "," T1 ",p,r,s,1,\n" T0 "," T1 ",p,r,s,1,5,\n",
	  "line 4: 8 fields, expected 7 (begin,end,project,resource,service,qty,metadata)" },
	{ HEADER T0 "," T1 ",p,r,s,\"1,5\",\n", "line 2, column qty: not a decimal: \"1,5\"" },
	{ HEADER T0 "," T1 ",p,r,s,,\n", "line 2, column qty: not a decimal: \"\"" },
	{ HEADER T0 "," T1 ",p,r,s, 1,\n", "line 2, column qty: not a decimal: \" 1\"" },
	{ HEADER T0 "," T1 ",p,r,s,1e9999999,\n", "line 2, column qty: out of range: \"1e9999999\"" },
	{ HEADER "2026-01-01," T1 ",p,r,s,1,\n",
	  "line 2, column begin: not an RFC 3339 time (2026-01-31T23:00:00Z): \"2026-01-01\"" },
	{ HEADER T0 ",2026-02-29T00:00:00Z,p,r,s,1,\n",
	  "line 2, column end: not an RFC 3339 time (2026-01-31T23:00:00Z): \"2026-02-29T00:00:00Z\"" },
	{ HEADER T0 ",2026-01-01T01:00:00,p,r,s,1,\n",
	  "line 2, column end: not an RFC 3339 time (2026-01-31T23:00:00Z): \"2026-01-01T01:00:00\"" },
	{ HEADER T0 ",2026-01-01T24:00:00Z,p,r,s,1,\n",
	  "line 2, column end: not an RFC 3339 time (2026-01-31T23:00:00Z): \"2026-01-01T24:00:00Z\"" },
	{ HEADER T1 "," T0 ",p,r,s,1,\n", "line 2, column end: not after begin" },
	{ HEADER T0 "," T0 ",p,r,s,1,\n", "line 2, column end: not after begin" },
	/* the same instant written with an offset */
	{ HEADER "2026-01-01T01:00:00+01:00," T0 ",p,r,s,1,\n", "line 2, column end: not after begin" },
	{ HEADER "2026-01-01T00:00:00.50Z,2026-01-01T00:00:00.5Z,p,r,s,1,\n",
	  "line 2, column end: not after begin" },
	{ HEADER T0 "," T1 ",p,,s,1,\n", "line 2, column resource: must not be empty" },
	{ HEADER T0 "," T1 ",p,r,,1,\n", "line 2, column service: must not be empty" },
	{ HEADER T0 "," T1 ",p,r,s,1,flavor\n", "line 2, column metadata: entry \"flavor\" has no '='" },
	{ HEADER T0 "," T1 ",p,r,s,1,=x\n", "line 2, column metadata: entry \"=x\" has an empty key" },
	{ HEADER T0 "," T1 ",p,r,s,1,a=1;a=2\n", "line 2, column metadata: key \"a\" given twice" },
	{ HEADER T0 "," T1 ",p,r,s,1,a=1;\n",
	  "line 2, column metadata: empty entry (';' twice in a row, or at an end)" },
	{ HEADER T0 "," T1 ",p,r,s,1,a=1;;b=2\n",
	  "line 2, column metadata: empty entry (';' twice in a row, or at an end)" },
	{ HEADER T0 "," T1 ",p,r,s,1,\"a=1\n", "line 2, column metadata: quoted field never closed" },
	{ HEADER T0 "," T1 ",p,r,s,1,\"a=1\"x\n", "line 2, column metadata: text after the closing quote" },
	{ HEADER T0 "," T1 ",p,r\"1,s,1,\n",
	  "line 2, column resource: a quote inside an unquoted field (quote the whole field and double the quote)" },
	{ HEADER T0 "," T1 ",p,r,s,1,\"a=1\nb=2\"\n",
	  "line 2, column metadata: control character (tab, line break...)" },
	{ HEADER T0 "," T1 ",p,r\r1,s,1,\n", "line 2, column resource: control character (tab, line break...)" },
	{ HEADER T0 "," T1 ",p,r,s\t,1,\n", "line 2, column service: control character (tab, line break...)" },
	{ HEADER T0 "," T1 ",p\xff,r,s,1,\n", "line 2, column project: not valid UTF-8" },
	{ HEADER T0 "," T1 ",p\xc0\xaf,r,s,1,\n", "line 2, column project: not valid UTF-8" },
	{ HEADER T0 "," T1 ",p,r,s,1,a=\xed\xa0\x80\n", "line 2, column metadata: not valid UTF-8" },
};

static void test_refused(void **state)
{
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct usage *u = NULL;
		char err[512] = "";
		int rc = usage_csv_parse(bad[i].text, strlen(bad[i].text), &u, err, sizeof(err));

		if (rc != -EINVAL || strcmp(err, bad[i].error))
			print_error("case %zu: rc %d, got '%s'\n", i, rc, err);
		assert_int_equal(rc, -EINVAL);
		assert_null(u);
		assert_string_equal(err, bad[i].error);
	}
}

static void test_nul_and_limits(void **state)
{
	static const char text[] = HEADER T0 "," T1 ",p,r\0,s,1,\n";
	struct usage *u = NULL;
	char err[512], *big, *w;
	size_t n = USAGE_FIELD_MAX + 100;
	int rc;

	rc = usage_csv_parse(text, sizeof(text) - 1, &u, err, sizeof(err));
	assert_int_equal(rc, -EINVAL);
	assert_string_equal(err, "line 2: NUL byte");

	big = malloc(n + 256);
	assert_non_null(big);
	w = big + sprintf(big, HEADER T0 "," T1 ",p,r,s,1,a=");
	memset(w, 'x', n);
	w[n] = '\0';
	rc = usage_csv_parse(big, strlen(big), &u, err, sizeof(err));
	assert_int_equal(rc, -EFBIG);
	assert_string_equal(err, "line 2, column metadata: longer than 65536 bytes");

	/* more metadata entries than a row may carry */
	w = big + sprintf(big, HEADER T0 "," T1 ",p,r,s,1,");
	for (int i = 0; i <= USAGE_ATTRS_MAX; i++)
		w += sprintf(w, "%sk%d=v", i ? ";" : "", i);
	rc = usage_csv_parse(big, strlen(big), &u, err, sizeof(err));
	assert_int_equal(rc, -EINVAL);
	assert_string_equal(err, "line 2, column metadata: more than 256 entries");
	free(big);

	rc = usage_csv_load("/nonexistent/usage.csv", &u, err, sizeof(err));
	assert_int_equal(rc, -ENOENT);
	assert_string_equal(err, "cannot open: No such file or directory");
}

static void test_times(void **state)
{
	static const char *const good[] = {
		"2024-02-29T00:00:00Z,2024-03-01T00:00:00Z",   /* leap year */
		"2000-02-29T23:59:59z,2000-03-01t00:00:00Z",   /* 400-year leap; lower-case t and z */
		"2026-01-01 00:00:00Z,2026-01-01 00:00:00.000001Z",
		"2026-01-01T00:00:00-05:00,2026-01-01T05:00:00.1Z",
		"1969-12-31T23:59:59Z,1970-01-01T00:00:00Z",
		"2026-06-30T23:59:60Z,2026-07-01T00:00:01Z",   /* a leap second */
	};
	static const char *const wrong[] = {
		"1900-02-29T00:00:00Z", "2026-13-01T00:00:00Z", "2026-04-31T00:00:00Z",
		"2026-01-01T00:60:00Z", "2026-01-01T00:00:00.Z", "2026-01-01T00:00:00+1:00",
		"2026-01-01T00:00:00+01:60", "2026-01-01T00:00:00Zx", "2026-1-01T00:00:00Z",
	};
	char text[512], err[512];
	struct usage *u;
	int rc;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(text, sizeof(text), HEADER "%s,p,r,s,1,\n", good[i]);
		usage_free(parse_ok(text));
	}
	for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
		snprintf(text, sizeof(text), HEADER "%s,2030-01-01T00:00:00Z,p,r,s,1,\n", wrong[i]);
		rc = usage_csv_parse(text, strlen(text), &u, err, sizeof(err));
		if (rc != -EINVAL)
			print_error("accepted %s\n", wrong[i]);
		assert_int_equal(rc, -EINVAL);
		assert_non_null(strstr(err, "column begin: not an RFC 3339 time"));
	}
}

static void test_write_field(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "plain", "plain" },
		{ "", "" },
		{ "a,b", "\"a,b\"" },
		{ "say \"hi\"", "\"say \"\"hi\"\"\"" },
		{ "two\nlines", "\"two\nlines\"" },
		{ "cr\r", "\"cr\r\"" },
		{ "k=v;k2=v2", "k=v;k2=v2" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);

		assert_non_null(f);
		assert_int_equal(usage_csv_write_field(f, cases[i].in), 0);
		fclose(f);
		assert_string_equal(buf, cases[i].out);
		free(buf);
	}
}

/* What the writer produces, the reader gives back. */
static void test_round_trip(void **state)
{
	static const char *const fields[USAGE_N_COLUMNS] = {
		T0, T1, "p,\"x\"", "vm-1", "instance", "2.50", "a=1,2;b=\"q\"",
	};
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct usage *u;

	assert_non_null(f);
	fputs(HEADER, f);
	for (size_t i = 0; i < USAGE_N_COLUMNS; i++) {
		assert_int_equal(usage_csv_write_field(f, fields[i]), 0);
		fputc(i + 1 < USAGE_N_COLUMNS ? ',' : '\n', f);
	}
	fclose(f);
	u = parse_ok(buf);
	assert_int_equal(u->n_rows, 1);
	for (size_t i = 0; i < USAGE_N_COLUMNS; i++)
		assert_string_equal(u->rows[0].col[i], fields[i]);
	assert_string_equal(u->rows[0].attrs[1].value, "\"q\"");
	usage_free(u);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_nul_and_limits),
		cmocka_unit_test(test_times),
		cmocka_unit_test(test_write_field),
		cmocka_unit_test(test_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
