/*
 * test_decimal.c — rater/decimal.c against Python's decimal module.
 *
 * Every expected string below is what CPython 3.11's decimal module prints
 * (str(Decimal(a) + Decimal(b)) and so on) in its default context, which is
 * CloudKitty's: 28 significant digits, ROUND_HALF_EVEN. The hand-picked
 * operands aim at the edges (ties to even, carries to 10^28, signed zeros,
 * operands far apart, exponents kept or padded); the rest are random
 * operands of 1 to 40 digits drawn once and frozen here.
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

#include "rater/decimal.h"

struct dec_op {
	const char *a, *b, *want;
};

struct dec_cmp {
	const char *a, *b;
	int want;
};

struct dec_str {
	const char *in, *want;
};

static const struct dec_op add_cases[] = {
	{ "1.50", "1.5", "3.00" },
	{ "0", "1E+2", "100" },
	{ "0.00", "5", "5.00" },
	{ "-0", "-0", "-0" },
	{ "0", "-0", "0" },
	{ "-0", "0.00", "0.00" },
	{ "5", "-5", "0" },
	{ "-5", "5", "0" },
	{ "1.1", "-1.10", "0.00" },
	{ "1234567890123456789012345678", "0.5", "1234567890123456789012345678" },
	{ "1234567890123456789012345679", "0.5", "1234567890123456789012345680" },
	{ "1234567890123456789012345678", "0.50000001", "1234567890123456789012345679" },
	{ "9999999999999999999999999999", "1", "1.000000000000000000000000000E+28" },
	{ "9999999999999999999999999999.5", "0", "1.000000000000000000000000000E+28" },
	{ "1E+28", "3", "1.000000000000000000000000000E+28" },
	{ "1E+28", "6", "1.000000000000000000000000001E+28" },
	{ "1E+28", "5", "1.000000000000000000000000000E+28" },
	{ "1E+28", "15", "1.000000000000000000000000002E+28" },
	{ "1E+50", "1E-50", "1.000000000000000000000000000E+50" },
	{ "1E+50", "-1E-50", "1.000000000000000000000000000E+50" },
	{ "-1E+50", "1E-50", "-1.000000000000000000000000000E+50" },
	{ "1E-50", "-1E+50", "-1.000000000000000000000000000E+50" },
	{ "0.1", "0.2", "0.3" },
	{ "1E+2", "1", "101" },
	{ "1E+2", "0E+5", "1E+2" },
	{ "0E-30", "1E+10", "10000000000.00000000000000000" },
	{ "-2.5", "1.25", "-1.25" },
	{ "2.756999999999999895194946475", "0", "2.756999999999999895194946475" },
	{ "1.3369999999999999662492200514", "1.4199999999999999289457264240", "2.756999999999999895194946475" },
	{ "0", "1.3369999999999999662492200514", "1.336999999999999966249220051" },
	{ "12345678901234567890123456785", "0", "1.234567890123456789012345678E+28" },
	{ "12345678901234567890123456775", "0", "1.234567890123456789012345678E+28" },
	{ "2.60181590830166131860913909E-11", "8E-22", "2.60181590838166131860913909E-11" },
	{ "19482199.351819093786579754325", "-7.49118625276018955597971147E-10", "19482199.35181909303746112905" },
	{ "4974650752917034.23667127684265", "0.0000632122330792440268599528907866", "4974650752917034.236734489076" },
	{ "3.13721590109281590139624595E-7", "77412154728038528084.14852538", "77412154728038528084.14852569" },
	{ "9.33E+9", "8.75E-37", "9330000000.000000000000000000" },
	{ "-439575513.1373537990751163726", "-6761222029729975288200.18263305", "-6761222029730414863713.319987" },
	{ "5.4862057986828288072902227915E+31", "7.1803340187801759898347887838E+48", "7.180334018780176044696846771E+48" },
	{ "37261675136134.125242731672326", "5.51E-37", "37261675136134.12524273167233" },
	{ "7.065894811311440242646288975E-10", "-614", "-613.9999999992934105188688560" },
	{ "1931417058649208312.40234485", "-5.04000883873716786843353265E+39", "-5.040008838737167868431601233E+39" },
	{ "-4E-37", "-6849340722470455853043520.561748338014126", "-6849340722470455853043520.562" },
	{ "3198296572.49208682889093105", "780083.7407188181741433377617", "3199076656.232805647065074388" },
};

static const struct dec_op mul_cases[] = {
	{ "1.50", "2", "3.00" },
	{ "0", "1.5", "0.0" },
	{ "-0", "1.5", "-0.0" },
	{ "0", "-1.5", "-0.0" },
	{ "2.50", "0", "0.00" },
	{ "1E+2", "0", "0E+2" },
	{ "1.3369999999999999662492200514", "1", "1.336999999999999966249220051" },
	{ "1.0000000000000000000000000005", "1", "1.000000000000000000000000000" },
	{ "1.0000000000000000000000000015", "1", "1.000000000000000000000000002" },
	{ "1.00000000000000000000000000050", "1", "1.000000000000000000000000000" },
	{ "1.00000000000000000000000000051", "1", "1.000000000000000000000000001" },
	{ "9999999999999999999999999999.5", "1", "1.000000000000000000000000000E+28" },
	{ "-9999999999999999999999999999.5", "1", "-1.000000000000000000000000000E+28" },
	{ "0.1", "0.1", "0.01" },
	{ "1E+11", "1E+17", "1E+28" },
	{ "0.00000000000000003", "1E+17", "3" },
	{ "123456789012.1234567890123456789012345678", "3", "370370367036.3703703670370370" },
	{ "3", "-7", "-21" },
	{ "-3", "-7", "21" },
	{ "0.98", "0.050", "0.04900" },
	{ "1.1000000000000000888178419700", "1.336999999999999966249220051", "1.470700000000000081623596770" },
	{ "1E-7", "1", "1E-7" },
	{ "1E+999999", "1", "1E+999999" },
	{ "1234567890123456789", "9876543210987654321", "1.219326311370217952237463801E+37" },
	{ "-3.1925449920707413748477718341E-11", "8E-12", "-2.554035993656593099878217467E-22" },
	{ "-33191284.52984153776020776426", "0.0055613044516691564041042346", "-184586.8384124253468741172844" },
	{ "606883106792470822765.4444634786122138783", "-62833125815.35493066683645074", "-3.813236260430480172732336682E+31" },
	{ "0.0000083143667640206797016877313228", "7180023904.24861114893643900845", "59697.35211435865168232762369" },
	{ "7.83E-37", "4.00376143653705656304813734335E+37", "31.34945204808515288866691540" },
	{ "9E-29", "609260309.2600267511253287046", "5.483342783340240760127958341E-20" },
	{ "5E-35", "8E-27", "4.0E-61" },
	{ "-46107358735570.63606071043195545904544095", "76467272042935575.9183623610788", "-3.525703943614101904253614157E+30" },
	{ "-4E-27", "-7232679381444.945443732332493", "2.893071752577978177492932997E-14" },
	{ "8.83E-32", "5E+16", "4.415E-15" },
	{ "-7504310399315.827940199530552034093056529", "8.716168281264644604956605365E-13", "-6.540883227528103885471939575" },
	{ "6.11E+18", "22008261995.82254282116734207509619239693", "1.344704807944757366373324601E+29" },
};

static const struct dec_cmp cmp_cases[] = {
	{ "1", "1.0", 0 },
	{ "-0", "0", 0 },
	{ "0E+5", "0.000", 0 },
	{ "1E+2", "99.99", 1 },
	{ "-1", "-0.5", -1 },
	{ "0.5", "-1", 1 },
	{ "1.000000000000000000000000000000001", "1", 1 },
	{ "64", "64.00000000", 0 },
	{ "128", "64.00000000", 1 },
	{ "-1E+10", "-1E+9", -1 },
	{ "1E-1000", "0", 1 },
	{ "-1E-1000", "0", -1 },
};

static const struct dec_str fmt_cases[] = {
	{ "0", "0" },
	{ "-0", "-0" },
	{ "1.50", "1.50" },
	{ "00.10", "0.10" },
	{ ".5", "0.5" },
	{ "5.", "5" },
	{ "+2", "2" },
	{ "1e3", "1E+3" },
	{ "1E+3", "1E+3" },
	{ "1e-7", "1E-7" },
	{ "0.000001", "0.000001" },
	{ "0.0000001", "1E-7" },
	{ "123.456e2", "12345.6" },
	{ "123.456e-2", "1.23456" },
	{ "1E+2", "1E+2" },
	{ "0E-10", "0E-10" },
	{ "0E+3", "0E+3" },
	{ "0e-3", "0.000" },
	{ "12345E-10", "0.0000012345" },
	{ "1.0E+5", "1.0E+5" },
	{ "-1.5e-6", "-0.0000015" },
	{ "1.23E+30", "1.23E+30" },
	{ "1234567890123456789012345678901234567890", "1234567890123456789012345678901234567890" },
	{ "0.1000000000000000055511151231", "0.1000000000000000055511151231" },
	{ "100", "100" },
	{ "1e0", "1" },
	{ "-0.0", "-0.0" },
	{ "9e-6", "0.000009" },
	{ "1E-6", "0.000001" },
};


static char *fmt(const struct decimal *d)
{
	char *s = NULL;

	assert_int_equal(decimal_format_alloc(d, &s), 0);
	return s;
}

static void parse_ok(struct decimal *d, const char *s)
{
	int rc = decimal_parse(d, s);

	if (rc)
		print_error("decimal_parse(\"%s\") = %d\n", s, rc);
	assert_int_equal(rc, 0);
}

static void run_ops(const struct dec_op *ops, size_t n,
		    int (*op)(struct decimal *, const struct decimal *, const struct decimal *))
{
	struct decimal a, b, r;

	decimal_init(&a);
	decimal_init(&b);
	decimal_init(&r);
	for (size_t i = 0; i < n; i++) {
		char *got;

		parse_ok(&a, ops[i].a);
		parse_ok(&b, ops[i].b);
		assert_int_equal(op(&r, &a, &b), 0);
		got = fmt(&r);
		if (strcmp(got, ops[i].want))
			print_error("%s op %s: got %s, want %s\n", ops[i].a, ops[i].b, got, ops[i].want);
		assert_string_equal(got, ops[i].want);
		free(got);
		/* the result may be an operand */
		assert_int_equal(op(&a, &a, &b), 0);
		got = fmt(&a);
		assert_string_equal(got, ops[i].want);
		free(got);
	}
	decimal_clear(&r);
	decimal_clear(&b);
	decimal_clear(&a);
}

static void test_add(void **state)
{
	run_ops(add_cases, sizeof(add_cases) / sizeof(add_cases[0]), decimal_add);
}

static void test_mul(void **state)
{
	run_ops(mul_cases, sizeof(mul_cases) / sizeof(mul_cases[0]), decimal_mul);
}

static void test_cmp(void **state)
{
	struct decimal a, b;

	decimal_init(&a);
	decimal_init(&b);
	for (size_t i = 0; i < sizeof(cmp_cases) / sizeof(cmp_cases[0]); i++) {
		int c;

		parse_ok(&a, cmp_cases[i].a);
		parse_ok(&b, cmp_cases[i].b);
		c = decimal_cmp(&a, &b);
		assert_int_equal((c > 0) - (c < 0), cmp_cases[i].want);
		c = decimal_cmp(&b, &a);
		assert_int_equal((c > 0) - (c < 0), -cmp_cases[i].want);
	}
	decimal_clear(&b);
	decimal_clear(&a);
}

/* Decimal(text) keeps the written exponent; str() chooses plain or scientific like Python. */
static void test_parse_format(void **state)
{
	struct decimal d;
	char buf[8];

	decimal_init(&d);
	for (size_t i = 0; i < sizeof(fmt_cases) / sizeof(fmt_cases[0]); i++) {
		char *got;

		parse_ok(&d, fmt_cases[i].in);
		got = fmt(&d);
		if (strcmp(got, fmt_cases[i].want))
			print_error("\"%s\": got %s, want %s\n", fmt_cases[i].in, got, fmt_cases[i].want);
		assert_string_equal(got, fmt_cases[i].want);
		free(got);
	}
	parse_ok(&d, "1.50");
	assert_int_equal(decimal_format(&d, buf, sizeof(buf)), 4);
	assert_string_equal(buf, "1.50");
	assert_int_equal(decimal_format(&d, buf, 4), -ENOSPC);
	decimal_set_long(&d, -42);
	assert_int_equal(decimal_format(&d, buf, sizeof(buf)), 3);
	assert_string_equal(buf, "-42");
	decimal_clear(&d);
}

/* The strict grammar refuses what a rules file or a usage CSV should never hold. */
static void test_parse_rejects(void **state)
{
	static const char *const bad[] = {
		"", " 1", "1 ", "1,5", "1_000", "inf", "Infinity", "nan", "NaN", "0x10", "1e", "1e+",
		"e5", ".", "+", "-", "--1", "+-1", "1.2.3", "1..2", "1e5e", "1e1.5", ".e1", "\xd9\xa1",
		"1\n", "\t1", "½", "1 000",
	};
	struct decimal d;

	decimal_init(&d);
	decimal_set_long(&d, 7);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = decimal_parse(&d, bad[i]);

		if (rc != -EINVAL)
			print_error("decimal_parse(\"%s\") = %d\n", bad[i], rc);
		assert_int_equal(rc, -EINVAL);
	}
	/* a refused text leaves the number alone */
	assert_int_equal(decimal_sign(&d), 1);
	assert_int_equal(decimal_adjusted(&d), 0);
	/* beyond Emax / below Emin by the adjusted exponent */
	assert_int_equal(decimal_parse(&d, "1e1000000"), -ERANGE);
	assert_int_equal(decimal_parse(&d, "0.1e-999999"), -ERANGE);
	assert_int_equal(decimal_parse(&d, "1e99999999999999999999999"), -ERANGE);
	assert_int_equal(decimal_parse(&d, "1e999999"), 0);
	assert_int_equal(decimal_parse(&d, "10e-1000000"), 0);
	decimal_clear(&d);
}

/* Python raises Overflow past Emax; we say -ERANGE and leave the result alone. */
static void test_overflow(void **state)
{
	struct decimal a, b, r;
	char *s;

	decimal_init(&a);
	decimal_init(&b);
	decimal_init(&r);
	decimal_set_long(&r, 5);
	parse_ok(&a, "9.9e999999");
	parse_ok(&b, "10");
	assert_int_equal(decimal_mul(&r, &a, &b), -ERANGE);
	assert_int_equal(decimal_add(&r, &a, &a), -ERANGE);
	parse_ok(&a, "1e-999999");
	parse_ok(&b, "0.1");
	assert_int_equal(decimal_mul(&r, &a, &b), -ERANGE);
	s = fmt(&r);
	assert_string_equal(s, "5");
	free(s);
	/* a zero's exponent is clamped silently, as Python does */
	parse_ok(&a, "0e-999999");
	parse_ok(&b, "1e-999999");
	assert_int_equal(decimal_mul(&r, &a, &b), 0);
	s = fmt(&r);
	assert_string_equal(s, "0E-1000026");
	free(s);
	decimal_clear(&r);
	decimal_clear(&b);
	decimal_clear(&a);
}

/* Decimal(str) as CloudKitty applies it to a field's text before comparing with a level. */
static void test_parse_python(void **state)
{
	static const struct {
		const char *in;
		int rc;
		enum decimal_class cls;
		const char *want; /* str(Decimal(in)) for finite numbers */
	} cases[] = {
		{ " 8 ", 0, DECIMAL_FINITE, "8" },
		{ "\t64\n", 0, DECIMAL_FINITE, "64" },
		{ "\x1c" "8", 0, DECIMAL_FINITE, "8" },
		{ "\xc2\xa0" "8", 0, DECIMAL_FINITE, "8" },          /* U+00A0 */
		{ "5\xe3\x80\x80", 0, DECIMAL_FINITE, "5" },         /* U+3000 */
		{ "\xe2\x80\x80" "5", 0, DECIMAL_FINITE, "5" },      /* U+2000 */
		{ "\xc2\x85" "5", 0, DECIMAL_FINITE, "5" },          /* U+0085 */
		{ "1_0", 0, DECIMAL_FINITE, "10" },
		{ "_1", 0, DECIMAL_FINITE, "1" },
		{ "1__0", 0, DECIMAL_FINITE, "10" },
		{ "1_0.5_0", 0, DECIMAL_FINITE, "10.50" },
		{ " 5_ ", 0, DECIMAL_FINITE, "5" },
		{ "1_e_5", 0, DECIMAL_FINITE, "1E+5" },
		{ "8.", 0, DECIMAL_FINITE, "8" },
		{ "+.5", 0, DECIMAL_FINITE, "0.5" },
		{ "-0", 0, DECIMAL_FINITE, "-0" },
		{ "0e-3", 0, DECIMAL_FINITE, "0.000" },
		{ "1e9999999", 0, DECIMAL_FINITE, "1E+9999999" },  /* compared, never computed with */
		{ "-12e-999999999999999999", 0, DECIMAL_FINITE, "-1.2E-999999999999999998" },
		{ "1e1000000000000000000", -ERANGE, 0, NULL },   /* Python: InvalidOperation */
		{ "inf", 0, DECIMAL_INF, NULL },
		{ "+Inf", 0, DECIMAL_INF, NULL },
		{ "in_f", 0, DECIMAL_INF, NULL },
		{ "-INFINITY", 0, DECIMAL_NEG_INF, NULL },
		{ "nan", 0, DECIMAL_NAN, NULL },
		{ "-nan", 0, DECIMAL_NAN, NULL },
		{ "sNaN", 0, DECIMAL_NAN, NULL },
		{ "nan1_2", 0, DECIMAL_NAN, NULL },
		{ "infinit", -EINVAL, 0, NULL },
		{ "nanx", -EINVAL, 0, NULL },
		{ "_", -EINVAL, 0, NULL },
		{ " _ 5", -EINVAL, 0, NULL },  /* strip, then drop '_': " 5" is left */
		{ "1 0", -EINVAL, 0, NULL },
		{ "0x10", -EINVAL, 0, NULL },
		{ "\xe2\x80\x8b" "5", -EINVAL, 0, NULL }, /* U+200B is not white space to Python */
		{ "lots", -EINVAL, 0, NULL },
		{ "", -EINVAL, 0, NULL },
		{ "\xff", -EINVAL, 0, NULL },
	};
	struct decimal d;

	decimal_init(&d);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum decimal_class cls = DECIMAL_NAN;
		int rc = decimal_parse_python(&d, cases[i].in, &cls);

		if (rc != cases[i].rc)
			print_error("case %zu: rc %d\n", i, rc);
		assert_int_equal(rc, cases[i].rc);
		if (rc)
			continue;
		assert_int_equal(cls, cases[i].cls);
		if (cases[i].want) {
			char *got = fmt(&d);

			assert_string_equal(got, cases[i].want);
			free(got);
		}
	}
	decimal_clear(&d);
}

static void test_adjusted_places_sign(void **state)
{
	static const struct {
		const char *in;
		long adjusted;
		int sign;
		bool fits8;
	} cases[] = {
		{ "1.5", 0, 1, true },
		{ "150", 2, 1, true },
		{ "0.00123", -3, 1, true },
		{ "-1E+11", 11, -1, true },
		{ "0.123456789", -1, 1, false },
		{ "0.123456780", -1, 1, true },
		{ "1.000000000000000000000", 0, 1, true },
		{ "1.000000000000000000001", 0, 1, false },
		{ "0E-20", -20, 0, true },
		{ "-0", 0, 0, true },
		{ "999999999999.99999999", 11, 1, true },
	};
	struct decimal d;

	decimal_init(&d);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		parse_ok(&d, cases[i].in);
		assert_int_equal(decimal_adjusted(&d), cases[i].adjusted);
		assert_int_equal(decimal_sign(&d), cases[i].sign);
		assert_int_equal(decimal_fits_places(&d, 8), cases[i].fits8);
	}
	decimal_clear(&d);
	decimal_clear(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add),
		cmocka_unit_test(test_mul),
		cmocka_unit_test(test_cmp),
		cmocka_unit_test(test_parse_format),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_overflow),
		cmocka_unit_test(test_parse_python),
		cmocka_unit_test(test_adjusted_places_sign),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
