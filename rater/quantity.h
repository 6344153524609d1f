/*
 * quantity.h — stored usage to a service's quantity, exactly.
 *
 * The stored figures are integers: a metric's values in 10^-scale of its
 * unit (vcpu.alloc in vCPU·ms), durations in ns. A record's raw quantity is
 *   sum       Σ values × 10^-scale
 *   max       max value × 10^-scale
 *   duration  Σ frame durations / 10^9 (seconds)
 * then qty = raw × factor + offset, then the mutation. Everything up to
 * here is an exact rational (GMP); the result is rounded once, to
 * DECIMAL_PREC significant digits half-even, only when it has more (1/3600
 * of an hour does). CloudKitty passes fractional factors through a binary
 * float (rater/METRICS.md says where this differs).
 */
#ifndef HV_RATER_QUANTITY_H
#define HV_RATER_QUANTITY_H

#include <stdbool.h>
#include <stdint.h>

#include <gmp.h>

#include "rater/decimal.h"
#include "rater/metrics_map.h"

/* The stored figures of every series that feeds one record. */
struct quantity_acc {
	mpz_t sum;       /* Σ values, in 10^-scale units */
	mpz_t dur_ns;    /* Σ durations of the frames that carried them */
	int64_t max;     /* largest frame value; valid when frames > 0 */
	uint64_t frames; /* frames that carried them */
};

void quantity_acc_init(struct quantity_acc *a);
void quantity_acc_clear(struct quantity_acc *a);
/* Adds one stored series' figures (sum, max, frames, dur_ns). */
void quantity_acc_add(struct quantity_acc *a, int64_t sum, int64_t max, uint64_t frames,
		      int64_t dur_ns);
/* @dst += @src. */
void quantity_acc_merge(struct quantity_acc *dst, const struct quantity_acc *src);

/*
 * @qty (initialised) = the quantity of service @s for the figures @a.
 * Returns 0 or -ERANGE (beyond the decimal range; no real usage gets near).
 */
int quantity_compute(const struct metrics_service *s, const struct quantity_acc *a,
		     struct decimal *qty);

/* @out (initialised) = the exact raw quantity before factor, offset and mutation. */
void quantity_raw(const struct metrics_service *s, const struct quantity_acc *a, mpq_t out);

#endif
