/*
 * energy.c — trapezoid integration with gaps, and the exact integer split
 * of energy.h. 128-bit intermediates keep every product exact.
 */
#include "ipmi/energy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define HALF_MWNS_PER_MJ 2000000000LL /* 1 mJ = 1e9 mW.ns = 2e9 half mW.ns */
#define NS_PER_S 1000000000LL

void energy_integrator_init(struct energy_integrator *it, int64_t max_dt_ns)
{
	memset(it, 0, sizeof(*it));
	it->max_dt_ns = max_dt_ns;
}

static void gap_add(struct energy_result *out, bool *open, int64_t start, int64_t end)
{
	if (*open) {
		if (out->n_gaps <= ENERGY_MAX_GAPS)
			out->gaps[out->n_gaps - 1].end_ns = end;
		return;
	}
	if (out->n_gaps < ENERGY_MAX_GAPS) {
		out->gaps[out->n_gaps].start_ns = start;
		out->gaps[out->n_gaps].end_ns = end;
	}
	out->n_gaps++;
	*open = true;
}

int energy_integrate(struct energy_integrator *it, const struct power_sample *s, size_t n,
		     struct energy_result *out)
{
	bool gap_open = false;
	int64_t mj = 0;

	memset(out, 0, sizeof(*out));
	if (it->max_dt_ns <= 0)
		return -EINVAL;
	out->start_ns = it->have_prev ? it->prev_t_ns : 0;
	for (size_t i = 0; i < n; i++) {
		/* above a megawatt is no server reading: a gap, which also keeps the sums in range */
		bool bad = (s[i].flags & POWER_SAMPLE_GAP) || s[i].mw < 0 || s[i].mw > ENERGY_MAX_MW;
		int64_t t = s[i].t_ns, dt;

		if (t < 0) {
			out->rejected++; /* CLOCK_MONOTONIC is never negative */
			continue;
		}
		if (!it->have_prev) {
			it->have_prev = true;
			out->start_ns = t;
		} else if (t < it->prev_t_ns) {
			/*
			 * Older than a frame end held to: its span is booked. A
			 * failed read still ends the hold (what follows is a gap);
			 * a good one still gives the power to carry on with.
			 */
			out->rejected++;
			if (bad) {
				it->prev_gap = true;
				it->prev_mw = 0;
			} else if (!it->prev_gap) {
				it->prev_mw = s[i].mw;
				if (t > it->last_read_ns)
					it->last_read_ns = t;
			}
			continue;
		} else {
			dt = t - it->prev_t_ns;
			/* bridgeable: measured from the last reading, not from a held frame end */
			if (it->prev_gap || bad || t - it->last_read_ns > it->max_dt_ns) {
				out->gap_ns += dt;
				if (dt > 0)
					gap_add(out, &gap_open, it->prev_t_ns, t);
			} else {
				/* trapezoid: (p0 + p1) / 2 * dt, kept in half mW.ns so it stays whole */
				__int128 e2 = ((__int128)it->prev_mw + s[i].mw) * dt + it->frac;

				mj += (int64_t)(e2 / HALF_MWNS_PER_MJ);
				it->frac = (int64_t)(e2 % HALF_MWNS_PER_MJ);
				out->covered_ns += dt;
				gap_open = false;
			}
		}
		it->prev_t_ns = t;
		it->prev_mw = bad ? 0 : s[i].mw;
		it->prev_gap = bad;
		if (!bad)
			it->last_read_ns = t;
	}
	out->energy_mj = mj;
	out->end_ns = it->have_prev ? it->prev_t_ns : 0;
	return 0;
}

struct lr_item {
	unsigned __int128 rem;
	size_t idx;
};

static int lr_cmp(const void *a, const void *b)
{
	const struct lr_item *x = a, *y = b;

	if (x->rem != y->rem)
		return x->rem > y->rem ? -1 : 1;
	return (x->idx > y->idx) - (x->idx < y->idx);
}

/*
 * Shares @total (>= 0) among n parties by weight w[i] (sum @wsum > 0):
 * floor shares, then one more to the largest remainders. Sum is exact.
 */
static void largest_remainder(int64_t total, const uint64_t *w, size_t n, unsigned __int128 wsum, int64_t *out,
			      struct lr_item *tmp)
{
	int64_t given = 0, left;

	for (size_t i = 0; i < n; i++) {
		unsigned __int128 p = (unsigned __int128)(uint64_t)total * w[i];

		out[i] = (int64_t)(p / wsum);
		tmp[i].rem = p % wsum;
		tmp[i].idx = i;
		given += out[i];
	}
	left = total - given; /* 0 <= left < n */
	if (left <= 0)
		return;
	qsort(tmp, n, sizeof(*tmp), lr_cmp);
	for (int64_t k = 0; k < left; k++)
		out[tmp[k].idx]++;
}

int energy_apportion(struct energy_split *sp, struct energy_vm *vms, size_t n)
{
	unsigned __int128 sum_cpu = 0, idle, d_cpu, d_vcpu;
	uint64_t sum_vcpu = 0, *w = NULL;
	int64_t t_dyn = 0, t_idle = 0, *share = NULL;
	struct lr_item *tmp = NULL;
	int rc = 0;

	sp->idle_mj = sp->dynamic_mj = sp->vm_mj = sp->remainder_mj = 0;
	if (sp->host_mj < 0 || sp->covered_ns < 0 || sp->idle_mw < 0 || (n && !vms))
		return -EINVAL;
	if (sp->host_mj >= (int64_t)1 << 53)
		return -ERANGE;
	for (size_t i = 0; i < n; i++) {
		sum_cpu += vms[i].cpu_ns;
		sum_vcpu += vms[i].vcpus;
		vms[i].energy_mj = vms[i].idle_mj = 0;
	}
	if (sum_cpu >> 74)
		return -ERANGE;

	/* mW x ns = 1e-12 J = 1e-9 mJ */
	idle = (unsigned __int128)(uint64_t)sp->idle_mw * (uint64_t)sp->covered_ns / NS_PER_S;
	sp->idle_mj = idle > (unsigned __int128)sp->host_mj ? sp->host_mj : (int64_t)idle;
	sp->dynamic_mj = sp->host_mj - sp->idle_mj;

	d_cpu = sp->host_cpu_ns > sum_cpu ? sp->host_cpu_ns : sum_cpu;
	d_vcpu = sp->host_cpus > sum_vcpu ? sp->host_cpus : sum_vcpu;
	if (sum_cpu)
		t_dyn = (int64_t)((unsigned __int128)(uint64_t)sp->dynamic_mj * sum_cpu / d_cpu);
	if (sum_vcpu)
		t_idle = (int64_t)((unsigned __int128)(uint64_t)sp->idle_mj * sum_vcpu / d_vcpu);

	if (n) {
		w = malloc(n * sizeof(*w));
		share = malloc(n * sizeof(*share));
		tmp = malloc(n * sizeof(*tmp));
		if (!w || !share || !tmp) {
			rc = -ENOMEM;
			goto cleanup;
		}
	}
	if (t_dyn) {
		for (size_t i = 0; i < n; i++)
			w[i] = vms[i].cpu_ns;
		largest_remainder(t_dyn, w, n, sum_cpu, share, tmp);
		for (size_t i = 0; i < n; i++)
			vms[i].energy_mj += share[i];
	}
	if (t_idle) {
		for (size_t i = 0; i < n; i++)
			w[i] = vms[i].vcpus;
		largest_remainder(t_idle, w, n, sum_vcpu, share, tmp);
		for (size_t i = 0; i < n; i++) {
			vms[i].idle_mj = share[i];
			vms[i].energy_mj += share[i];
		}
	}
	sp->vm_mj = t_dyn + t_idle;
	sp->remainder_mj = sp->host_mj - sp->vm_mj;
cleanup:
	if (rc)
		sp->vm_mj = sp->remainder_mj = 0;
	free(w);
	free(share);
	free(tmp);
	return rc;
}

void energy_integrator_start_gap(struct energy_integrator *it, int64_t t_ns)
{
	if (it->have_prev)
		return;
	it->have_prev = true;
	it->prev_gap = true;
	it->prev_t_ns = t_ns;
	it->last_read_ns = t_ns;
	it->prev_mw = 0;
}

int64_t energy_gap_until(struct energy_integrator *it, int64_t t_ns)
{
	int64_t dt;

	if (!it->have_prev || t_ns <= it->prev_t_ns)
		return 0;
	dt = t_ns - it->prev_t_ns;
	if (!it->prev_gap && t_ns - it->last_read_ns <= it->max_dt_ns)
		return 0; /* a reading still on its way may bridge it */
	it->prev_t_ns = t_ns;
	it->prev_gap = true;
	it->prev_mw = 0;
	return dt;
}

int64_t energy_hold_until(struct energy_integrator *it, int64_t t_ns, int64_t max_hold_ns,
			  int64_t *covered_ns)
{
	int64_t dt;
	__int128 e2;

	*covered_ns = 0;
	if (!it->have_prev || it->prev_gap || t_ns <= it->prev_t_ns)
		return 0;
	dt = t_ns - it->prev_t_ns;
	/* how old the power held is: from the last reading, not the last frame end */
	if (t_ns - it->last_read_ns > max_hold_ns || t_ns - it->last_read_ns > it->max_dt_ns)
		return 0; /* longer than a reader's lag: the gap logic decides */
	/* the last reading held up to t: a rectangle, i.e. a trapezoid (p, p) */
	e2 = (__int128)2 * it->prev_mw * dt + it->frac;
	it->frac = (int64_t)(e2 % HALF_MWNS_PER_MJ);
	it->prev_t_ns = t_ns;
	*covered_ns = dt;
	return (int64_t)(e2 / HALF_MWNS_PER_MJ);
}
