/*
 * power_reader.h — reads the BMC off the sampling path.
 *
 * One thread owns the power source (and so the BMC session). Every
 * interval_ms it reads power and appends (monotonic time, mW) to a small
 * ring under a mutex; a failed read appends a gap marker and drops the
 * connection, which is retried every retry_ms. The daemon's sampler calls
 * power_reader_take(), which only copies from the ring: it never waits on
 * the BMC, whatever the BMC does. Feed the samples to energy_integrate().
 *
 * Messages: the caller's notify callback runs on the reader thread, without
 * the reader's lock, exactly once per transition — POWER_READER_UP at the
 * first successful connection, POWER_READER_DOWN at the first failure (of
 * the first connection, or after readings worked), POWER_READER_RECOVERED
 * at the first reading after a DOWN. A BMC that stays down is reported
 * once, however long it stays down. Keep the callback short; it must not
 * call power_reader_stop().
 *
 * Integrate with energy_integrator_init(&it, max_dt_ns) where max_dt_ns is
 * about 2 x interval_ms + the BMC timeout: a slow answer is still bridged,
 * a missed one is a gap (a failed read always is).
 *
 * If the ring fills (the sampler stopped taking for ring_size intervals),
 * the oldest samples are dropped and the next take starts with a gap
 * marker, so the lost time is a gap, never interpolated.
 */
#ifndef HV_IPMI_POWER_READER_H
#define HV_IPMI_POWER_READER_H

#include <stddef.h>
#include <stdint.h>

#include "ipmi/energy.h"
#include "ipmi/power_source.h"

enum power_reader_event {
	POWER_READER_UP = 0,     /* connected; msg names BMC, map and source */
	POWER_READER_DOWN,       /* no power readings; msg says why */
	POWER_READER_RECOVERED,  /* readings again; msg says after how long */
};

enum power_reader_state {
	POWER_READER_STARTING = 0, /* no attempt finished yet */
	POWER_READER_OK,
	POWER_READER_FAILING,
};

struct power_reader_config {
	unsigned interval_ms;         /* poll period; 0 = 1000 */
	unsigned retry_ms;            /* pause after a failed connection; 0 = interval_ms */
	unsigned exports_interval_ms; /* read the map's exported sensors this often; 0 = never */
	size_t ring_size;             /* samples kept between takes; 0 = 4096 */
	void (*notify)(void *arg, enum power_reader_event ev, const char *msg);
	void *notify_arg;
};

struct power_reader_status {
	enum power_reader_state state;
	struct power_source_info info; /* valid once state has been OK */
	char last_error[BMC_ERR_MAX];
	int64_t last_ok_ns;            /* time of the last good reading, 0 if none */
	uint64_t reads;                /* good readings */
	uint64_t failures;             /* failed connections and readings */
	uint64_t connects;             /* successful connections */
	uint64_t dropped;              /* samples lost to a full ring */
	uint32_t last_latency_us;      /* of the last good power read */
	uint32_t max_latency_us;
	uint64_t sum_latency_us;       /* over `reads`, for the mean */
};

struct power_reader;

/*
 * Starts the reader thread on @src, which it owns from now on (destroyed by
 * power_reader_stop, or here on failure). Returns at once: the first
 * connection happens on the thread. 0, -EINVAL, -ENOMEM, or -errno from
 * pthread_create. The thread blocks all signals.
 */
int power_reader_start(struct power_source *src, const struct power_reader_config *cfg, struct power_reader **out);

/*
 * Moves up to @cap samples, oldest first, from the ring into @buf and
 * returns how many. Never blocks on the BMC (only on the ring's mutex, held
 * for copies). Call again while it returns @cap.
 */
size_t power_reader_take(struct power_reader *r, struct power_sample *buf, size_t cap);

/* A copy of the reader's status. */
void power_reader_get_status(struct power_reader *r, struct power_reader_status *st);

/*
 * Copies the latest exported sensor readings (up to @cap) and returns how
 * many; *t_ns (may be NULL) gets their time, 0 if never read.
 */
size_t power_reader_exports(struct power_reader *r, struct sensor_export_reading *buf, size_t cap, int64_t *t_ns);

/*
 * Stops the thread and frees everything. Waits for a BMC call in progress:
 * at most about twice the BMC timeout out of band (the in-band driver's own
 * timeout otherwise). NULL is fine.
 */
void power_reader_stop(struct power_reader *r);

/* CLOCK_MONOTONIC in nanoseconds: the time base of the samples. */
int64_t power_reader_now_ns(void);

#endif
