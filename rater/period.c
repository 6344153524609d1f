#include "rater/period.h"

int64_t period_floor(int64_t t_s, uint32_t period_s)
{
	int64_t p = period_s;

	return (t_s / p - (t_s % p < 0)) * p;
}

bool period_is_closed(const struct period_clock *pc, int64_t begin_s, size_t *behind)
{
	int64_t end_ns = (begin_s + (int64_t)pc->period_s) * 1000000000;
	int64_t gone_before_ns = pc->now_ns - pc->close_wait_s * 1000000000;

	if (behind)
		*behind = (size_t)-1;
	if (pc->now_ns < end_ns)
		return false;
	for (size_t i = 0; i < pc->n_hosts; i++) {
		int64_t last = pc->last_end_ns[i];

		/* behind, and not silent long enough to count as gone */
		if (last < end_ns && last >= gone_before_ns) {
			if (behind)
				*behind = i;
			return false;
		}
	}
	return true;
}
