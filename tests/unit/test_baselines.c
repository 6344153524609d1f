/* Baselines (invariant 4): resets count from zero, never negative or doubled. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "daemon/agent.h"

static void test_advance(void **state)
{
	struct baseline_set s = { 0 };
	struct baseline_entry *e = baseline_set_get(&s, "cpu/1");

	assert_non_null(e);
	assert_true(e->is_new);
	/* a new counter: everything it holds has not been reported yet */
	assert_int_equal(baseline_advance(e, 1, 500, 10, 1), 500);
	assert_int_equal(baseline_advance(e, 1, 800, 20, 1), 300);
	assert_int_equal(baseline_advance(e, 1, 800, 30, 1), 0);
	/* went backwards in the same epoch: a reset, counted from zero */
	assert_int_equal(baseline_advance(e, 1, 50, 40, 1), 50);
	/* new epoch with a larger value: still from zero, not value - old */
	assert_int_equal(baseline_advance(e, 2, 900, 50, 1), 900);
	assert_true(e->dirty);
	baseline_set_free(&s);
}

static void test_divisor_loses_nothing(void **state)
{
	struct baseline_set s = { 0 };
	struct baseline_entry *e = baseline_set_get(&s, "x");
	int64_t sum = 0;
	uint64_t v = 0;

	for (int i = 0; i < 1000; i++) {
		v += 1234567; /* 1.234567 units per step */
		sum += baseline_advance(e, 7, v, i, 1000000);
	}
	assert_int_equal(sum, (int64_t)(v / 1000000));
	baseline_set_free(&s);
}

static void test_sorted_set(void **state)
{
	struct baseline_set s = { 0 };
	char key[32];

	for (int i = 999; i >= 0; i--) {
		snprintf(key, sizeof(key), "k%04d", i);
		assert_non_null(baseline_set_get(&s, key));
	}
	assert_int_equal(s.n, 1000);
	for (size_t i = 1; i < s.n; i++)
		assert_true(strcmp(s.v[i - 1].b.key, s.v[i].b.key) < 0);
	baseline_set_remove(&s, "k0500");
	assert_int_equal(s.n, 999);
	assert_true(baseline_set_get(&s, "k0500")->is_new);
	baseline_set_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_advance),
		cmocka_unit_test(test_divisor_loses_nothing),
		cmocka_unit_test(test_sorted_set),
	};
	return cmocka_run_group_tests_name("baselines", tests, NULL, NULL);
}
