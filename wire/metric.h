/*
 * metric.h — the registry of everything hvmeter meters.
 *
 * A delta's value is a signed 64-bit integer in units of 10^-scale of the
 * metric's unit: energy with scale 3 is stored in millijoules and printed in
 * joules with three decimals. Integers keep every sum exact (invariant 1).
 */
#ifndef HV_WIRE_METRIC_H
#define HV_WIRE_METRIC_H

#include <stdint.h>
#include <stddef.h>

enum metric_kind {
	METRIC_COUNTER = 0,    /* additive: merged frames sum */
	METRIC_GAUGE_MAX = 1,  /* max over the frame: merged frames take the max */
	METRIC_GAUGE_MEAN = 2, /* time-weighted mean: merged frames weigh by duration */
};

struct metric_def {
	const char *name;      /* "cpu.time" */
	const char *unit;      /* "ns", "B", "vCPU.s", "MiB.s", "MiB", "J", "W" */
	enum metric_kind kind;
	unsigned scale;        /* decimal digits after the point */
	const char *help;      /* one line for docs and `hvmeter dump --list` */
};

/* Returns the definition of @name, or NULL for a metric this build does not know. */
const struct metric_def *metric_lookup(const char *name);

/* All known metrics, NULL-terminated by name. */
const struct metric_def *metric_all(size_t *n);

/*
 * Formats @value of metric @m as a decimal string ("12.345") into @buf.
 * Returns the length written (excluding NUL), or -ENOSPC.
 */
int metric_value_format(const struct metric_def *m, int64_t value, char *buf, size_t len);

/* Formats an integer with @scale implied decimals, as metric_value_format does. */
int scaled_format(int64_t value, unsigned scale, char *buf, size_t len);

#endif
