/*
 * test_ipmi_power_reader.c — the reader thread (ipmi/power_reader.c) on the
 * fake source (ipmi/power_source_fake.c): samples and gaps, one message per
 * transition, take() never waits on a slow BMC, ring overflow becomes a gap.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "ipmi/energy.h"
#include "ipmi/power_reader.h"
#include "ipmi/power_source.h"

struct events {
	pthread_mutex_t lock;
	unsigned up, down, recovered;
	char down_msg[1024];
};

static void on_event(void *arg, enum power_reader_event ev, const char *msg)
{
	struct events *e = arg;

	pthread_mutex_lock(&e->lock);
	if (ev == POWER_READER_UP) {
		e->up++;
	} else if (ev == POWER_READER_DOWN) {
		e->down++;
		snprintf(e->down_msg, sizeof(e->down_msg), "%s", msg);
	} else {
		e->recovered++;
	}
	pthread_mutex_unlock(&e->lock);
}

static void events_get(struct events *e, unsigned *up, unsigned *down, unsigned *rec)
{
	pthread_mutex_lock(&e->lock);
	*up = e->up;
	*down = e->down;
	*rec = e->recovered;
	pthread_mutex_unlock(&e->lock);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static struct power_reader *start(struct power_source *src, struct events *ev, unsigned interval_ms, size_t ring)
{
	struct power_reader_config cfg = {
		.interval_ms = interval_ms,
		.exports_interval_ms = interval_ms,
		.ring_size = ring,
		.notify = on_event,
		.notify_arg = ev,
	};
	struct power_reader *r = NULL;

	assert_int_equal(power_reader_start(src, &cfg, &r), 0);
	assert_non_null(r);
	return r;
}

static size_t take_all(struct power_reader *r, struct power_sample *buf, size_t cap)
{
	size_t n = 0, got;

	while ((got = power_reader_take(r, buf + n, cap - n)) > 0) {
		n += got;
		if (n == cap)
			break;
	}
	return n;
}

static void test_samples_flow(void **state)
{
	struct events ev = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct power_sample s[256];
	struct sensor_export_reading ex[4];
	struct power_reader_status st;
	struct power_source *src;
	struct power_reader *r;
	unsigned up, down, rec, connects, reads;
	int64_t t_ex = 0;
	size_t n;

	assert_int_equal(power_source_fake_new(&src), 0);
	power_source_fake_set(src, 0, 0, 250000, 0);
	r = start(src, &ev, 20, 0);
	sleep_ms(300);
	n = take_all(r, s, 256);
	assert_true(n >= 8 && n <= 17);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(s[i].flags, 0);
		assert_int_equal(s[i].mw, 250000);
		if (i)
			assert_true(s[i].t_ns > s[i - 1].t_ns);
	}
	{
		/* taken means gone: a later take holds only newer samples (the
		 * 20 ms poller may have added one meanwhile) */
		struct power_sample later[256];
		size_t m = power_reader_take(r, later, 256);

		for (size_t i = 0; i < m; i++)
			assert_true(later[i].t_ns > s[n - 1].t_ns);
	}
	assert_int_equal(power_reader_take(r, s, 0), 0);
	assert_int_equal(power_reader_exports(r, ex, 4, &t_ex), 1);
	assert_string_equal(ex[0].name, "temperature.inlet");
	assert_true(t_ex > 0);
	power_reader_get_status(r, &st);
	assert_int_equal(st.state, POWER_READER_OK);
	assert_string_equal(st.info.source, "fake");
	assert_int_equal(st.connects, 1);
	assert_true(st.reads >= n);
	power_source_fake_counts(src, &connects, &reads);
	assert_int_equal(connects, 1);
	power_reader_stop(r);
	events_get(&ev, &up, &down, &rec);
	assert_int_equal(up, 1);
	assert_int_equal(down, 0);
	assert_int_equal(rec, 0);
	power_reader_stop(NULL);
}

static void test_outage_logged_once_and_is_a_gap(void **state)
{
	struct events ev = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct power_sample s[1024];
	struct power_reader_status st;
	struct energy_integrator it;
	struct energy_result res;
	struct power_source *src;
	struct power_reader *r;
	unsigned up, down, rec;
	size_t n = 0;

	assert_int_equal(power_source_fake_new(&src), 0);
	power_source_fake_set(src, 0, 0, 300000, 0);
	r = start(src, &ev, 10, 0);
	sleep_ms(200);
	n += take_all(r, s + n, 1024 - n);
	/* the BMC dies: reads time out, reconnects time out, for many intervals */
	power_source_fake_set(src, -ETIMEDOUT, -ETIMEDOUT, 0, 0);
	sleep_ms(300);
	n += take_all(r, s + n, 1024 - n);
	power_reader_get_status(r, &st);
	assert_int_equal(st.state, POWER_READER_FAILING);
	assert_non_null(strstr(st.last_error, "Connection timed out"));
	events_get(&ev, &up, &down, &rec);
	assert_int_equal(down, 1); /* once, however long */
	assert_non_null(strstr(ev.down_msg, "BMC power unavailable"));
	/* back */
	power_source_fake_set(src, 0, 0, 300000, 0);
	sleep_ms(200);
	n += take_all(r, s + n, 1024 - n);
	power_reader_stop(r);
	events_get(&ev, &up, &down, &rec);
	assert_int_equal(up, 1);
	assert_int_equal(down, 1);
	assert_int_equal(rec, 1);

	energy_integrator_init(&it, 150000000);
	assert_int_equal(energy_integrate(&it, s, n, &res), 0);
	assert_int_equal(res.n_gaps, 1);
	assert_true(res.gap_ns >= 300000000);
	/* covered time at 300 W exactly: the gap added nothing */
	assert_int_equal(res.energy_mj, res.covered_ns * 300 / 1000000);
}

static void test_never_up_reports_once(void **state)
{
	/* like in-band without /dev/ipmi0: connect fails from the start */
	struct events ev = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct power_sample s[512];
	struct power_source *src;
	struct power_reader *r;
	unsigned up, down, rec, connects, reads;
	size_t n;

	assert_int_equal(power_source_fake_new(&src), 0);
	power_source_fake_set(src, -ENODEV, 0, 0, 0);
	r = start(src, &ev, 10, 0);
	sleep_ms(200);
	n = take_all(r, s, 512);
	assert_true(n >= 5);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(s[i].flags, POWER_SAMPLE_GAP);
	power_source_fake_counts(src, &connects, &reads);
	assert_true(connects >= 5);
	assert_int_equal(reads, 0);
	events_get(&ev, &up, &down, &rec);
	assert_int_equal(up, 0);
	assert_int_equal(down, 1);
	assert_non_null(strstr(ev.down_msg, "No such device"));
	/* the device appears: UP, not RECOVERED (it never worked before) */
	power_source_fake_set(src, 0, 0, 1000, 0);
	sleep_ms(100);
	power_reader_stop(r);
	events_get(&ev, &up, &down, &rec);
	assert_int_equal(up, 1);
	assert_int_equal(down, 1);
	assert_int_equal(rec, 0);
}

static void test_take_never_waits_for_a_slow_bmc(void **state)
{
	struct events ev = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct power_sample s[64];
	struct power_source *src;
	struct power_reader *r;
	int64_t worst = 0, t0, stop_ns;

	assert_int_equal(power_source_fake_new(&src), 0);
	power_source_fake_set(src, 0, 0, 200000, 0);
	r = start(src, &ev, 10, 0);
	sleep_ms(50);
	/* every call now takes 1.5 s, as a BMC at the end of its timeout */
	power_source_fake_set(src, 0, 0, 200000, 1500);
	for (int i = 0; i < 100; i++) {
		t0 = power_reader_now_ns();
		take_all(r, s, 64);
		t0 = power_reader_now_ns() - t0;
		if (t0 > worst)
			worst = t0;
		sleep_ms(10);
	}
	print_message("take() worst %.3f ms while the source blocks for 1.5 s\n", worst / 1e6);
	assert_true(worst < 20 * 1000000LL);
	t0 = power_reader_now_ns();
	power_reader_stop(r);
	stop_ns = power_reader_now_ns() - t0;
	/* stop waits for the call in progress, no more */
	assert_true(stop_ns < 1600 * 1000000LL);
}

static void test_full_ring_is_a_gap(void **state)
{
	struct events ev = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct power_sample s[64];
	struct power_reader_status st;
	struct energy_integrator it;
	struct energy_result res;
	struct power_source *src;
	struct power_reader *r;
	size_t n;

	assert_int_equal(power_source_fake_new(&src), 0);
	power_source_fake_set(src, 0, 0, 100000, 0);
	r = start(src, &ev, 5, 8);
	sleep_ms(30);
	n = take_all(r, s, 64);
	assert_true(n > 0 && n <= 8);
	energy_integrator_init(&it, 100000000);
	assert_int_equal(energy_integrate(&it, s, n, &res), 0);
	sleep_ms(300); /* the sampler is late: the ring of 8 overflows */
	n = take_all(r, s, 64);
	power_reader_get_status(r, &st);
	power_reader_stop(r);
	assert_true(st.dropped > 0);
	assert_true(n >= 2 && n <= 10);
	assert_int_equal(s[0].flags, POWER_SAMPLE_GAP);
	assert_int_equal(s[0].t_ns, s[1].t_ns);
	assert_int_equal(energy_integrate(&it, s, n, &res), 0);
	assert_int_equal(res.n_gaps, 1);
	assert_true(res.gap_ns > 200000000);
}

static void test_start_errors(void **state)
{
	struct power_reader_config cfg = { 0 };
	struct power_reader *r = (struct power_reader *)1;

	assert_int_equal(power_reader_start(NULL, &cfg, &r), -EINVAL);
	assert_null(r);
	power_source_destroy(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_samples_flow),
		cmocka_unit_test(test_outage_logged_once_and_is_a_gap),
		cmocka_unit_test(test_never_up_reports_once),
		cmocka_unit_test(test_take_never_waits_for_a_slow_bmc),
		cmocka_unit_test(test_full_ring_is_a_gap),
		cmocka_unit_test(test_start_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
