/*
 * test_rater_quantity — stored usage to a service's quantity
 * (rater/quantity.c, decimal_set_mpq): the metric's scale applied exactly,
 * fractions of an hour rounded once to 28 digits half-even (the digits
 * Python's Decimal(n) / Decimal(m) gives), binary fractions kept exact,
 * offset and every mutation, durations, max over hosts, int64 sums that
 * would overflow.
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

#include "rater/metrics_map.h"
#include "rater/quantity.h"

/* A map with one service @json ("{...}" of the service). */
static struct metrics_map *one(const char *json)
{
	char text[1024], err[256];
	struct metrics_map *m = NULL;

	snprintf(text, sizeof(text), "{\"metrics\": {\"s\": %s}}", json);
	if (metrics_map_parse(text, strlen(text), &m, err, sizeof(err))) {
		print_error("%s\n", err);
		fail();
	}
	return m;
}

/* The quantity of @svc for the figures, as text. */
static void check(const char *svc, int64_t sum, int64_t max, uint64_t frames, int64_t dur_ns,
		  const char *want)
{
	struct metrics_map *m = one(svc);
	struct quantity_acc a;
	struct decimal q;
	char buf[128];

	quantity_acc_init(&a);
	decimal_init(&q);
	quantity_acc_add(&a, sum, max, frames, dur_ns);
	assert_int_equal(quantity_compute(&m->services[0], &a, &q), 0);
	assert_true(decimal_format(&q, buf, sizeof(buf)) > 0);
	if (strcmp(buf, want)) {
		print_error("%s with sum %lld: got %s, want %s\n", svc, (long long)sum, buf, want);
		fail();
	}
	decimal_clear(&q);
	quantity_acc_clear(&a);
	metrics_map_free(m);
}

static void test_scale_and_factor(void **state)
{
	/* vcpu.alloc is kept in vCPU·ms (scale 3): 7200000 = 7200 vCPU·s = 2 vCPU-hours */
	check("{\"metric\": \"vcpu.alloc\", \"unit\": \"vCPU-hour\", \"factor\": \"1/3600\"}",
	      7200000, 0, 1, 0, "2");
	/* 1 ms of one vCPU is 1/3600000 vCPU-hour: 28 significant digits, half-even */
	check("{\"metric\": \"vcpu.alloc\", \"unit\": \"vCPU-hour\", \"factor\": \"1/3600\"}",
	      1, 0, 1, 0, "2.777777777777777777777777778E-7");
	/* Python: Decimal(1) / Decimal(3) = 0.3333333333333333333333333333 */
	check("{\"metric\": \"cpu.time\", \"unit\": \"x\", \"factor\": \"1/3\"}", 1, 0, 1, 0,
	      "0.3333333333333333333333333333");
	check("{\"metric\": \"cpu.time\", \"unit\": \"x\", \"factor\": \"2/3\"}", 1, 0, 1, 0,
	      "0.6666666666666666666666666667");
	/* bytes to GiB: a binary fraction ends, here within 28 digits: exact */
	check("{\"metric\": \"net.tx.bytes\", \"unit\": \"GiB\", \"factor\": \"1/1073741824\"}",
	      536870912, 0, 1, 0, "0.5");
	check("{\"metric\": \"net.tx.bytes\", \"unit\": \"GiB\", \"factor\": \"1/1073741824\"}",
	      1, 0, 1, 0, "9.31322574615478515625E-10");
	/* and beyond 28 digits it is rounded once (exact: 1.0000000009313225746154785156250) */
	check("{\"metric\": \"net.tx.bytes\", \"unit\": \"GiB\", \"factor\": \"1/1073741824\"}",
	      1073741825, 0, 1, 0, "1.000000000931322574615478516");
	/* energy in mJ (scale 3) to kWh: 3.6 MJ is 1 kWh */
	check("{\"metric\": \"energy\", \"unit\": \"kWh\", \"factor\": \"1/3600000\"}",
	      3600000000LL, 0, 1, 0, "1");
	/* decimal factors as written */
	check("{\"metric\": \"cpu.time\", \"unit\": \"s\", \"factor\": \"1e-9\"}", 1500000000, 0, 1, 0,
	      "1.5");
	check("{\"metric\": \"cpu.time\", \"unit\": \"ns\"}", 123456789012345678LL, 0, 1, 0,
	      "123456789012345678");
	/* an integer of more than 28 digits is rounded, as Python's context would */
	check("{\"metric\": \"cpu.time\", \"unit\": \"ns\", \"factor\": \"1e12\"}", INT64_MAX, 0, 1, 0,
	      "9.223372036854775807E+30");
	check("{\"metric\": \"cpu.time\", \"unit\": \"ns\", \"factor\": \"1/7\"}", 0, 0, 1, 0, "0");
}

static void test_offset_mutate(void **state)
{
	const char *hours = "\"metric\": \"vcpu.alloc\", \"unit\": \"h\", \"factor\": \"1/3600\"";
	char svc[256];

	snprintf(svc, sizeof(svc), "{%s, \"offset\": \"-0.25\"}", hours);
	check(svc, 3600000, 0, 1, 0, "0.75");
	snprintf(svc, sizeof(svc), "{%s, \"mutate\": \"CEIL\"}", hours);
	check(svc, 1, 0, 1, 0, "1");
	check(svc, 7200000, 0, 1, 0, "2");
	snprintf(svc, sizeof(svc), "{%s, \"mutate\": \"FLOOR\"}", hours);
	check(svc, 7199999, 0, 1, 0, "1");
	/* CloudKitty mutates after factor and offset */
	snprintf(svc, sizeof(svc), "{%s, \"offset\": \"-2\", \"mutate\": \"CEIL\"}", hours);
	check(svc, 1, 0, 1, 0, "-1");
	snprintf(svc, sizeof(svc), "{%s, \"mutate\": \"NUMBOOL\"}", hours);
	check(svc, 1, 0, 1, 0, "1");
	check(svc, 0, 0, 1, 0, "0");
	snprintf(svc, sizeof(svc), "{%s, \"mutate\": \"NOTNUMBOOL\"}", hours);
	check(svc, 5, 0, 1, 0, "0");
	check(svc, 0, 0, 1, 0, "1");
}

static void test_duration_max(void **state)
{
	const char *inst = "{\"metric\": \"vcpu.alloc\", \"unit\": \"hour\", \"aggregate\": "
			   "\"duration\", \"factor\": \"1/3600\"}";

	/* the frames' durations, whatever the values */
	check(inst, 999, 0, 720, 3600LL * 1000000000, "1");
	check(inst, 999, 0, 6, 60LL * 1000000000, "0.01666666666666666666666666667");
	check(inst, 1, 0, 1, 1, "2.777777777777777777777777778E-13");
	/* max: the largest frame value, with the metric's scale */
	check("{\"metric\": \"memory.resident\", \"unit\": \"GiB\", \"factor\": \"1/1024\"}", 0, 3072,
	      4, 0, "3");
	check("{\"metric\": \"temperature.inlet\", \"unit\": \"C\"}", 0, 215, 4, 0, "21.5");
}

/* Several series and hosts: sums add beyond int64 exactly, max is the largest, durations add. */
static void test_accumulate(void **state)
{
	struct metrics_map *m = one("{\"metric\": \"cpu.time\", \"unit\": \"ns\"}");
	struct metrics_map *mx = one("{\"metric\": \"memory.resident\", \"unit\": \"MiB\"}");
	struct quantity_acc a, b;
	struct decimal q;
	char buf[64];

	quantity_acc_init(&a);
	quantity_acc_init(&b);
	decimal_init(&q);
	quantity_acc_add(&a, INT64_MAX, 7, 1, 5);
	quantity_acc_add(&a, INT64_MAX, -3, 1, 5);
	quantity_acc_add(&b, 2, 11, 1, 5);
	quantity_acc_add(&b, 0, 99, 0, 0); /* no frames: its max means nothing */
	quantity_acc_merge(&a, &b);
	assert_int_equal(a.frames, 3);
	assert_int_equal(a.max, 11);
	assert_int_equal(quantity_compute(&m->services[0], &a, &q), 0);
	assert_true(decimal_format(&q, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "18446744073709551616"); /* 2 × (2^63 - 1) + 2 */
	assert_int_equal(quantity_compute(&mx->services[0], &a, &q), 0);
	assert_true(decimal_format(&q, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "11");
	decimal_clear(&q);
	quantity_acc_clear(&a);
	quantity_acc_clear(&b);
	metrics_map_free(m);
	metrics_map_free(mx);
}

/* decimal_set_mpq against digits Python's decimal module gives. */
static void test_set_mpq(void **state)
{
	static const struct {
		const char *q, *want;
	} cases[] = {
		{ "0", "0" },
		{ "-1/2", "-0.5" },
		{ "1/8", "0.125" },
		{ "3600", "3600" },
		{ "1/6", "0.1666666666666666666666666667" },
		{ "-1/6", "-0.1666666666666666666666666667" },
		{ "1/7", "0.1428571428571428571428571429" },
		{ "100/3", "33.33333333333333333333333333" },
		{ "1/3000000000000000000000000000000", "3.333333333333333333333333333E-31" },
		{ "999999999999999999999999999999/1000", "1000000000000000000000000000" },
		/* a tie in the 29th digit rounds to even */
		{ "10000000000000000000000000005/10", "1000000000000000000000000000" },
		{ "10000000000000000000000000015/10", "1000000000000000000000000002" },
		{ "2/3", "0.6666666666666666666666666667" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct decimal d;
		char buf[96];
		mpq_t q;

		mpq_init(q);
		decimal_init(&d);
		assert_int_equal(mpq_set_str(q, cases[i].q, 10), 0);
		mpq_canonicalize(q);
		assert_int_equal(decimal_set_mpq(&d, q), 0);
		assert_true(decimal_format(&d, buf, sizeof(buf)) > 0);
		if (strcmp(buf, cases[i].want)) {
			print_error("%s: got %s, want %s\n", cases[i].q, buf, cases[i].want);
			fail();
		}
		/* and back: the exact value when it fits */
		decimal_clear(&d);
		mpq_clear(q);
	}
}

static void test_round_display(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "0.008333333333333333333333333333", "0.00833333" },
		{ "1234567.89", "1234570" },
		{ "2.5000000", "2.5" },
		{ "0.0000", "0" },
		{ "1E+3", "1000" },
		{ "0.1234565", "0.123456" }, /* half-even */
		{ "12", "12" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct decimal d;
		char buf[64];

		decimal_init(&d);
		assert_int_equal(decimal_parse(&d, cases[i].in), 0);
		decimal_round_display(&d, 6);
		assert_true(decimal_format(&d, buf, sizeof(buf)) > 0);
		if (strcmp(buf, cases[i].want)) {
			print_error("%s: got %s, want %s\n", cases[i].in, buf, cases[i].want);
			fail();
		}
		decimal_clear(&d);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scale_and_factor),
		cmocka_unit_test(test_offset_mutate),
		cmocka_unit_test(test_duration_max),
		cmocka_unit_test(test_accumulate),
		cmocka_unit_test(test_set_mpq),
		cmocka_unit_test(test_round_display),
	};

	return cmocka_run_group_tests_name("rater_quantity", tests, NULL, NULL);
}
