/*
 * energy.h — power samples to joules, and joules to VMs. Pure functions:
 * no I/O, no clock, no locks; the same inputs give the same outputs.
 *
 * Units are hvmeter's (wire/metric.h): energy in millijoules (metric
 * "energy", J with scale 3), power in milliwatts, time in nanoseconds of
 * CLOCK_MONOTONIC.
 *
 * 1. Integration. Power samples (time, mW) are joined by straight lines and
 *    integrated with the trapezoid rule. A span is a gap — it contributes no
 *    energy and is reported, as "no data for [start, end)" — when either end
 *    is a failed read (POWER_SAMPLE_GAP) or the two samples are further apart
 *    than max_dt_ns. So a BMC that stops answering yields a gap from its last
 *    good sample to its next good one, never 0 W and never an invented value.
 *    Sub-millijoule remainders are carried between calls: the sum of the
 *    energy over any run of calls equals the floor of the exact integral of
 *    the covered spans.
 *
 * 2. Apportioning, policy ENERGY_POLICY ("cpu-share+idle-by-vcpu/v1"):
 *    for one interval whose host energy E covers time T,
 *      idle    = min(E, idle_mw x T)            the host's baseline
 *      dynamic = E - idle                        what load added
 *    - dynamic goes to VMs in proportion to their CPU time, out of the
 *      host's busy CPU time (max of host_cpu_ns and the VMs' sum), so CPU
 *      used by the host itself stays with the host;
 *    - idle goes to VMs in proportion to their allocated vCPUs, out of the
 *      host's logical CPUs (max of host_cpus and the VMs' sum), so
 *      unallocated capacity stays with the host;
 *    - the host remainder is E minus what the VMs got.
 *    Each part is split in integer millijoules: the VMs' total for the part
 *    is floor(part x VM weight / denominator) and is shared among VMs by the
 *    largest-remainder method (ties to the lower index), so
 *    sum(VM) + remainder == E exactly, each VM is within 1 mJ per part of its
 *    exact share, and the result does not depend on anything but the inputs.
 *    A change to these rules is a new version of the policy name, which
 *    every frame carries.
 */
#ifndef HV_IPMI_ENERGY_H
#define HV_IPMI_ENERGY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ENERGY_POLICY "cpu-share+idle-by-vcpu/v1"

#define POWER_SAMPLE_GAP 0x1 /* the read at t_ns failed: no power known */
#define ENERGY_MAX_MW 1000000000LL /* 1 MW: a larger reading counts as a gap */

struct power_sample {
	int64_t t_ns;   /* CLOCK_MONOTONIC */
	int64_t mw;     /* system input power, milliwatts; < 0 or > ENERGY_MAX_MW is a gap */
	uint32_t flags; /* POWER_SAMPLE_GAP */
	uint32_t pad;
};

/* Integration state carried from call to call. Set max_dt_ns, zero the rest. */
struct energy_integrator {
	int64_t max_dt_ns; /* longest span bridged without a failed read; > 0 */
	bool have_prev;
	bool prev_gap;     /* the previous point was a failed read */
	int64_t prev_t_ns;  /* the integration point (a reading, or a frame end held to) */
	int64_t last_read_ns; /* the last good reading: what "bridgeable" is measured from */
	int64_t prev_mw;
	int64_t frac;      /* energy below 1 mJ carried over, in 1/2 mW.ns */
};

/* Initialises @it; samples further apart than @max_dt_ns are a gap. */
void energy_integrator_init(struct energy_integrator *it, int64_t max_dt_ns);

/*
 * Carries the last reading forward to @t_ns (a frame boundary): returns the
 * energy (mJ) of [last reading, t_ns) at the last reading's power, sets
 * *covered_ns, and moves the integration point to t_ns, so the next
 * trapezoid starts there. Frames then end exactly where their energy ends;
 * the hold and the true trapezoid differ only by the power change within
 * one poll interval. Nothing after a gap, or older than @max_hold_ns (a
 * normal reader lag, e.g. two polls) or max_dt_ns, is held.
 */
int64_t energy_hold_until(struct energy_integrator *it, int64_t t_ns, int64_t max_hold_ns,
			  int64_t *covered_ns);

/*
 * Nothing has been read yet and the time since @t_ns has no reading: the
 * span up to the first reading is a gap (an agent restarting at its last
 * frame's end; its downtime has no energy). No-op once a point exists.
 */
void energy_integrator_start_gap(struct energy_integrator *it, int64_t t_ns);

/*
 * A silence that no reading can bridge any more (after a failed read, or
 * longer than max_dt_ns) is a gap up to @t_ns, booked now rather than when
 * readings return — an agent killed meanwhile would never book it. Returns
 * the gap's length (ns) and moves the integration point to @t_ns.
 */
int64_t energy_gap_until(struct energy_integrator *it, int64_t t_ns);

#define ENERGY_MAX_GAPS 8

struct energy_gap {
	int64_t start_ns, end_ns; /* no data for [start_ns, end_ns) */
};

struct energy_result {
	int64_t energy_mj;   /* energy of the covered spans (add to the counter) */
	int64_t covered_ns;  /* time integrated */
	int64_t gap_ns;      /* time not integrated */
	int64_t start_ns;    /* where this call started (the previous last point), 0 if none */
	int64_t end_ns;      /* time of the last point consumed, 0 if none ever */
	size_t n_gaps;       /* gaps found; the first ENERGY_MAX_GAPS are in gaps[] */
	struct energy_gap gaps[ENERGY_MAX_GAPS];
	size_t rejected;     /* samples older than the previous point (or t_ns < 0), ignored */
};

/*
 * Integrates @n samples (in time order, following those of earlier calls)
 * into @out. covered_ns + gap_ns == end_ns - start_ns. A gap that is still
 * open at the end of a call is reported up to its last point and continued
 * by the next call. Returns 0, or -EINVAL if max_dt_ns is not positive.
 */
int energy_integrate(struct energy_integrator *it, const struct power_sample *s, size_t n,
		     struct energy_result *out);

/* One VM in an interval. */
struct energy_vm {
	uint64_t cpu_ns;   /* in: CPU time used in the interval (all its threads) */
	uint32_t vcpus;    /* in: allocated vCPUs */
	uint32_t pad;
	int64_t energy_mj; /* out: idle_mj + dynamic share */
	int64_t idle_mj;   /* out: its share of the idle part */
};

struct energy_split {
	/* in */
	int64_t host_mj;      /* host energy of the interval, >= 0, < 2^53 */
	int64_t covered_ns;   /* time host_mj covers (energy_result.covered_ns) */
	int64_t idle_mw;      /* host idle power, >= 0 */
	uint64_t host_cpu_ns; /* busy CPU time of the whole host; 0 = unknown, take the VMs' sum */
	uint32_t host_cpus;   /* logical CPUs; 0 = unknown, take the VMs' vCPU sum */
	uint32_t pad;
	/* out */
	int64_t idle_mj;
	int64_t dynamic_mj;
	int64_t vm_mj;        /* sum over VMs */
	int64_t remainder_mj; /* host_mj - vm_mj, >= 0 */
};

/*
 * Apportions sp->host_mj to @n VMs by ENERGY_POLICY, writing each VM's
 * energy_mj and idle_mj and the totals in @sp. @vms may be NULL when n is 0
 * (all energy is the host remainder). Returns 0, -EINVAL for negative
 * inputs, -ERANGE when host_mj >= 2^53 or the VMs' CPU sum >= 2^74, or
 * -ENOMEM. Allocates O(n) temporary memory.
 */
int energy_apportion(struct energy_split *sp, struct energy_vm *vms, size_t n);

#endif
