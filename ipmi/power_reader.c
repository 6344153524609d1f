/*
 * power_reader.c — the BMC polling thread and its ring. The lock guards the
 * ring, the status and the export snapshot; the power source is touched by
 * the thread only, and never under the lock, so take() cannot wait on I/O.
 */
#include "ipmi/power_reader.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_INTERVAL_MS 1000
#define DEFAULT_RING 4096
#define MSG_MAX 1536 /* fits every field of power_source_info */

struct power_reader {
	struct power_source *src;
	struct power_reader_config cfg;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stop;

	/* ring, under lock */
	struct power_sample *ring;
	size_t head, count;
	bool lost; /* samples were dropped since the last take */

	/* under lock */
	struct power_reader_status st;
	struct sensor_export_reading exports[SENSOR_MAP_MAX_EXPORT];
	size_t n_exports;
	int64_t exports_t_ns;
};

int64_t power_reader_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void push_locked(struct power_reader *r, int64_t t_ns, int64_t mw, uint32_t flags)
{
	size_t cap = r->cfg.ring_size;

	if (r->count == cap) {
		r->head = (r->head + 1) % cap;
		r->count--;
		r->st.dropped++;
		r->lost = true;
	}
	r->ring[(r->head + r->count) % cap] = (struct power_sample){ .t_ns = t_ns, .mw = mw, .flags = flags };
	r->count++;
}

static void notify(struct power_reader *r, enum power_reader_event ev, const char *msg)
{
	if (r->cfg.notify)
		r->cfg.notify(r->cfg.notify_arg, ev, msg);
}

/* Sleeps until @deadline_ns or stop; returns true when asked to stop. */
static bool wait_until(struct power_reader *r, int64_t deadline_ns)
{
	struct timespec ts = { .tv_sec = deadline_ns / 1000000000LL, .tv_nsec = deadline_ns % 1000000000LL };
	bool stop;

	pthread_mutex_lock(&r->lock);
	while (!r->stop && power_reader_now_ns() < deadline_ns)
		if (pthread_cond_timedwait(&r->wake, &r->lock, &ts) == ETIMEDOUT)
			break;
	stop = r->stop;
	pthread_mutex_unlock(&r->lock);
	return stop;
}

/* Records a failure: gap marker, error text, and the DOWN message once. */
static void failed(struct power_reader *r, int64_t t_ns, bool *down, const char *what)
{
	char msg[MSG_MAX];

	pthread_mutex_lock(&r->lock);
	push_locked(r, t_ns, 0, POWER_SAMPLE_GAP);
	r->st.failures++;
	r->st.state = POWER_READER_FAILING;
	snprintf(r->st.last_error, sizeof(r->st.last_error), "%s", r->src->err);
	pthread_mutex_unlock(&r->lock);
	if (*down)
		return;
	*down = true;
	snprintf(msg, sizeof(msg), "BMC power unavailable (%s): %s; retrying every %u ms, no energy is counted "
		 "until it answers", what, r->src->err, r->cfg.retry_ms);
	notify(r, POWER_READER_DOWN, msg);
}

static void read_exports(struct power_reader *r)
{
	struct sensor_export_reading *buf;
	size_t n = 0;

	buf = calloc(SENSOR_MAP_MAX_EXPORT, sizeof(*buf));
	if (!buf)
		return;
	/* a failure here is not a power gap: the next power read will tell */
	if (r->src->ops->read_exports(r->src, buf, SENSOR_MAP_MAX_EXPORT, &n) == 0) {
		pthread_mutex_lock(&r->lock);
		memcpy(r->exports, buf, n * sizeof(*buf));
		r->n_exports = n;
		r->exports_t_ns = power_reader_now_ns();
		pthread_mutex_unlock(&r->lock);
	}
	free(buf);
}

static void *reader_main(void *arg)
{
	struct power_reader *r = arg;
	struct power_source_info info;
	bool connected = false, down = false, ever_up = false;
	int64_t interval = (int64_t)r->cfg.interval_ms * 1000000LL;
	int64_t next = power_reader_now_ns(), next_exports = 0, down_since = 0;
	char msg[MSG_MAX];

	for (;;) {
		int64_t t0, t1, mw = 0;
		int rc;

		if (wait_until(r, next))
			break;
		if (!connected) {
			t0 = power_reader_now_ns();
			rc = r->src->ops->connect(r->src, &info);
			if (rc) {
				if (!down)
					down_since = t0;
				failed(r, t0, &down, "connect");
				next = power_reader_now_ns() + (int64_t)r->cfg.retry_ms * 1000000LL;
				continue;
			}
			connected = true;
			pthread_mutex_lock(&r->lock);
			r->st.info = info;
			r->st.connects++;
			pthread_mutex_unlock(&r->lock);
			if (!ever_up) {
				snprintf(msg, sizeof(msg),
					 "BMC %s: %s (%u) product 0x%04x firmware %s; map %s (%s); power from %s",
					 info.bmc, info.manufacturer[0] ? info.manufacturer : "manufacturer",
					 info.id.manufacturer_id, info.id.product_id, info.id.firmware, info.map,
					 info.map_by_id ? "by device id" : "configured", info.source);
				notify(r, POWER_READER_UP, msg);
			}
			next_exports = 0;
		}

		t0 = power_reader_now_ns();
		rc = r->src->ops->read_power(r->src, &mw);
		t1 = power_reader_now_ns();
		if (rc) {
			if (!down)
				down_since = t0;
			failed(r, t0, &down, "read");
			r->src->ops->disconnect(r->src);
			connected = false;
			next = power_reader_now_ns() + (int64_t)r->cfg.retry_ms * 1000000LL;
			continue;
		}
		pthread_mutex_lock(&r->lock);
		/* the BMC sampled somewhere inside the request: stamp the middle */
		push_locked(r, t0 + (t1 - t0) / 2, mw, 0);
		r->st.state = POWER_READER_OK;
		r->st.reads++;
		r->st.last_ok_ns = t1;
		r->st.last_latency_us = (uint32_t)((t1 - t0) / 1000);
		if (r->st.last_latency_us > r->st.max_latency_us)
			r->st.max_latency_us = r->st.last_latency_us;
		r->st.sum_latency_us += r->st.last_latency_us;
		pthread_mutex_unlock(&r->lock);
		if (down && ever_up) {
			snprintf(msg, sizeof(msg), "BMC power back after %.1f s without readings; power from %s",
				 (double)(t1 - down_since) / 1e9, info.source);
			notify(r, POWER_READER_RECOVERED, msg);
		}
		down = false;
		ever_up = true;

		if (r->cfg.exports_interval_ms && t1 >= next_exports) {
			read_exports(r);
			next_exports = t1 + (int64_t)r->cfg.exports_interval_ms * 1000000LL;
		}
		next += interval;
		if (next < power_reader_now_ns())
			next = power_reader_now_ns(); /* overran: skip, do not burst */
	}
	if (connected)
		r->src->ops->disconnect(r->src);
	return NULL;
}

int power_reader_start(struct power_source *src, const struct power_reader_config *cfg, struct power_reader **out)
{
	struct power_reader *r = NULL;
	pthread_condattr_t ca;
	sigset_t all, old;
	bool mutex_ok = false, cond_ok = false;
	int rc;

	*out = NULL;
	if (!src || !cfg) {
		rc = -EINVAL;
		goto cleanup;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		rc = -ENOMEM;
		goto cleanup;
	}
	r->src = src;
	src = NULL;
	r->cfg = *cfg;
	if (!r->cfg.interval_ms)
		r->cfg.interval_ms = DEFAULT_INTERVAL_MS;
	if (!r->cfg.retry_ms)
		r->cfg.retry_ms = r->cfg.interval_ms;
	if (!r->cfg.ring_size)
		r->cfg.ring_size = DEFAULT_RING;
	r->ring = calloc(r->cfg.ring_size, sizeof(*r->ring));
	if (!r->ring) {
		rc = -ENOMEM;
		goto cleanup;
	}
	rc = -pthread_mutex_init(&r->lock, NULL);
	if (rc)
		goto cleanup;
	mutex_ok = true;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	rc = -pthread_cond_init(&r->wake, &ca);
	pthread_condattr_destroy(&ca);
	if (rc)
		goto cleanup;
	cond_ok = true;
	/* the daemon's signals belong to its main thread: the new thread inherits this mask */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = -pthread_create(&r->thread, NULL, reader_main, r);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc)
		goto cleanup;
	*out = r;
	return 0;
cleanup:
	if (r) {
		if (cond_ok)
			pthread_cond_destroy(&r->wake);
		if (mutex_ok)
			pthread_mutex_destroy(&r->lock);
		power_source_destroy(r->src);
		free(r->ring);
		free(r);
	}
	power_source_destroy(src);
	return rc;
}

size_t power_reader_take(struct power_reader *r, struct power_sample *buf, size_t cap)
{
	size_t n = 0;

	if (!cap)
		return 0;
	pthread_mutex_lock(&r->lock);
	if (r->lost) {
		/* the time of the dropped samples becomes a gap ending at the oldest kept one */
		int64_t t = r->count ? r->ring[r->head].t_ns : power_reader_now_ns();

		buf[n++] = (struct power_sample){ .t_ns = t, .flags = POWER_SAMPLE_GAP };
		r->lost = false;
	}
	while (n < cap && r->count) {
		buf[n++] = r->ring[r->head];
		r->head = (r->head + 1) % r->cfg.ring_size;
		r->count--;
	}
	pthread_mutex_unlock(&r->lock);
	return n;
}

void power_reader_get_status(struct power_reader *r, struct power_reader_status *st)
{
	pthread_mutex_lock(&r->lock);
	*st = r->st;
	pthread_mutex_unlock(&r->lock);
}

size_t power_reader_exports(struct power_reader *r, struct sensor_export_reading *buf, size_t cap, int64_t *t_ns)
{
	size_t n;

	pthread_mutex_lock(&r->lock);
	n = r->n_exports < cap ? r->n_exports : cap;
	memcpy(buf, r->exports, n * sizeof(*buf));
	if (t_ns)
		*t_ns = r->exports_t_ns;
	pthread_mutex_unlock(&r->lock);
	return n;
}

void power_reader_stop(struct power_reader *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	r->stop = true;
	pthread_cond_signal(&r->wake);
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->thread, NULL);
	power_source_destroy(r->src);
	pthread_cond_destroy(&r->wake);
	pthread_mutex_destroy(&r->lock);
	free(r->ring);
	free(r);
}
