/*
 * test_rater_period — when a rating period closes (rater/period.c): not
 * before its end; at its end once every host reached it; held open by a
 * host that is behind but not silent for close_wait; never longer than
 * close_wait after its end; a host silent longer counts as gone; no hosts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "rater/period.h"

#define S 1000000000LL
#define P 3600          /* period */
#define B 1800000000LL  /* a period's begin: a multiple of P */
#define END ((B + P) * S)

static struct period_clock clock_at(int64_t now_ns, int64_t wait_s, size_t n, const int64_t *last)
{
	return (struct period_clock){ .period_s = P, .close_wait_s = wait_s, .now_ns = now_ns,
				      .n_hosts = n, .last_end_ns = last };
}

static void test_not_before_end(void **state)
{
	int64_t last[] = { END + 600 * S }; /* a host already past it (clock skew) */
	struct period_clock pc = clock_at(END - 1, 0, 1, last);
	size_t behind = 7;

	assert_false(period_is_closed(&pc, B, &behind));
	assert_int_equal(behind, (size_t)-1); /* not over: no host to blame */
	pc.now_ns = END;
	assert_true(period_is_closed(&pc, B, NULL));
}

static void test_hosts_reached_it(void **state)
{
	int64_t last[] = { END, END + 10 * S, END };
	struct period_clock pc = clock_at(END + 1, 2 * P, 3, last);

	/* every host stored a frame ending at or after the end: closed at once */
	assert_true(period_is_closed(&pc, B, NULL));
	/* one host 1 s short, still sending: open, and it is named */
	last[1] = END - S;
	{
		size_t behind = 0;

		assert_false(period_is_closed(&pc, B, &behind));
		assert_int_equal(behind, 1);
	}
	/* it counts as gone once its last frame ended more than close_wait ago */
	pc.now_ns = END - S + 2 * P * S;
	assert_false(period_is_closed(&pc, B, NULL));
	pc.now_ns = END - S + 2 * P * S + 1;
	assert_true(period_is_closed(&pc, B, NULL));
	/* so no period stays open longer than close_wait after its end */
	last[1] = END - 1;
	pc.now_ns = END + 2 * P * S;
	assert_true(period_is_closed(&pc, B, NULL));
}

static void test_silent_host_is_gone(void **state)
{
	/* a host whose last frame ended a day ago does not hold today's periods */
	int64_t last[] = { END, END - 86400 * S };
	struct period_clock pc = clock_at(END + S, 2 * P, 2, last);

	assert_true(period_is_closed(&pc, B, NULL));
	/* but one that stopped just before the end does, for close_wait */
	last[1] = END - 5 * S;
	assert_false(period_is_closed(&pc, B, NULL));
	/* an earlier period it did reach is closed */
	assert_true(period_is_closed(&pc, B - P, NULL));
	/* a host that never stored a frame (last end 0) is gone */
	last[1] = 0;
	assert_true(period_is_closed(&pc, B, NULL));
}

static void test_zero_wait_and_no_hosts(void **state)
{
	int64_t last[] = { END - 5 * S };
	struct period_clock pc = clock_at(END, 0, 1, last);

	/* close_wait 0: closed the moment it ends */
	assert_true(period_is_closed(&pc, B, NULL));
	pc = clock_at(END, 60, 0, NULL);
	assert_true(period_is_closed(&pc, B, NULL));
	pc.now_ns = END - 1;
	assert_false(period_is_closed(&pc, B, NULL));
}

static void test_floor(void **state)
{
	assert_int_equal(period_floor(B + 1, P), B);
	assert_int_equal(period_floor(B, P), B);
	assert_int_equal(period_floor(B - 1, P), B - P);
	assert_int_equal(period_floor(-1, 60), -60);
	assert_int_equal(period_floor(0, 60), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_not_before_end),
		cmocka_unit_test(test_hosts_reached_it),
		cmocka_unit_test(test_silent_host_is_gone),
		cmocka_unit_test(test_zero_wait_and_no_hosts),
		cmocka_unit_test(test_floor),
	};

	return cmocka_run_group_tests_name("rater_period", tests, NULL, NULL);
}
