/*
 * period.h — when a rating period is closed.
 *
 * A period P = [begin, end) is closed when it is over (now >= end) and no
 * host that can still send frames for it is behind: every host the rater
 * knows has either stored a frame ending at or after P's end, or is gone —
 * its last stored frame ended more than close_wait before now. A host
 * that has been silent that long (down, unplugged, decommissioned) no
 * longer holds periods open, so every period closes at the latest
 * close_wait after its end. A host that comes back later still delivers
 * its frames (the store keeps everything); they count in the periods
 * they belong to, which a later report then shows with more usage
 * (rater/METRICS.md, "Closing periods").
 *
 * Pure functions; nothing here reads a clock or a store.
 */
#ifndef HV_RATER_PERIOD_H
#define HV_RATER_PERIOD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct period_clock {
	uint32_t period_s;          /* the store's period */
	int64_t close_wait_s;       /* >= 0 */
	int64_t now_ns;             /* wall clock, ns since the epoch */
	size_t n_hosts;
	const int64_t *last_end_ns; /* per known host: end of its last stored frame (0: none) */
};

/*
 * Whether the period starting at @begin_s (a multiple of the period) is
 * closed under @pc. When it is not and @behind is not NULL, *@behind is
 * the index of a host holding it open, or (size_t)-1 when it is simply
 * not over yet.
 */
bool period_is_closed(const struct period_clock *pc, int64_t begin_s, size_t *behind);

/* The start of the period holding @t_s (floor, also before 1970). */
int64_t period_floor(int64_t t_s, uint32_t period_s);

#endif
