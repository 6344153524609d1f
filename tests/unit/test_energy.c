/*
 * test_energy.c — ipmi/energy.c (integration, gaps, apportioning) and
 * ipmi/rapl.c against a powercap tree built in a temporary directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "ipmi/energy.h"
#include "ipmi/rapl.h"

#define S 1000000000LL  /* ns per second */
#define MS 1000000LL    /* ns per millisecond */

static struct power_sample smp(int64_t t, int64_t mw)
{
	return (struct power_sample){ .t_ns = t, .mw = mw };
}

static struct power_sample gapm(int64_t t)
{
	return (struct power_sample){ .t_ns = t, .flags = POWER_SAMPLE_GAP };
}

/* Deterministic generator so failures reproduce. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static uint64_t rnd_below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

/* ---- integration ------------------------------------------------------------ */

static void test_constant_power(void **state)
{
	struct power_sample s[11];
	struct energy_integrator it;
	struct energy_result r;

	for (int i = 0; i <= 10; i++)
		s[i] = smp(1000 * S + i * S, 250000);
	energy_integrator_init(&it, 3 * S);
	assert_int_equal(energy_integrate(&it, s, 11, &r), 0);
	assert_int_equal(r.energy_mj, 2500000); /* 250 W x 10 s = 2500 J */
	assert_int_equal(r.covered_ns, 10 * S);
	assert_int_equal(r.gap_ns, 0);
	assert_int_equal(r.n_gaps, 0);
	assert_int_equal(r.start_ns, 1000 * S);
	assert_int_equal(r.end_ns, 1010 * S);
}

static void test_linear_ramp_is_exact(void **state)
{
	/* a straight line is integrated exactly by the trapezoid rule, even with odd spacing */
	struct power_sample s[4] = { smp(0, 100000), smp(1500 * MS, 250000), smp(2 * S, 300000),
				     smp(5 * S, 600000) };
	struct energy_integrator it;
	struct energy_result r;

	energy_integrator_init(&it, 10 * S);
	assert_int_equal(energy_integrate(&it, s, 4, &r), 0);
	/* 100 W + 100 W/s: integral over 5 s = 500 + 1250 = 1750 J */
	assert_int_equal(r.energy_mj, 1750000);
}

static void test_step_250_to_400(void **state)
{
	/* a sampler at 100 ms sees a step at 10.02 s: error within 150 W x 50 ms */
	struct power_sample s[201];
	struct energy_integrator it;
	struct energy_result r;
	int64_t step = 10 * S + 20 * MS, exact;
	double err_pct;

	for (int i = 0; i <= 200; i++) {
		int64_t t = i * 100 * MS;

		s[i] = smp(t, t < step ? 250000 : 400000);
	}
	energy_integrator_init(&it, 3 * S);
	assert_int_equal(energy_integrate(&it, s, 201, &r), 0);
	exact = (250 * step + 400 * (20 * S - step)) / MS; /* W x ns / 1e6 = mJ */
	err_pct = 100.0 * (double)(r.energy_mj - exact) / (double)exact;
	print_message("step 250 -> 400 W sampled every 100 ms: %.3f J vs exact %.3f J (%+.4f %%)\n",
		      r.energy_mj / 1e3, exact / 1e3, err_pct);
	assert_true(llabs(r.energy_mj - exact) <= 150 * 50);
	assert_true(fabs(err_pct) < 0.5);

	/* the step exactly on a sample: the trapezoid is the straight line through it */
	for (int i = 0; i <= 200; i++)
		s[i] = smp(i * 100 * MS, i < 100 ? 250000 : 400000);
	energy_integrator_init(&it, 3 * S);
	assert_int_equal(energy_integrate(&it, s, 201, &r), 0);
	assert_int_equal(r.energy_mj, 2500000 + 4000000 + (400000 - 250000) / 2 * 100 / 1000);
}

static void test_sub_millijoule_carry(void **state)
{
	/* 1 mW for 1 ms is 1 uJ: a thousand calls of one such span make exactly 1 mJ */
	struct energy_integrator it;
	struct energy_result r;
	int64_t total = 0;

	energy_integrator_init(&it, S);
	for (int i = 0; i <= 1000; i++) {
		struct power_sample s = smp(i * MS, 1);

		assert_int_equal(energy_integrate(&it, &s, 1, &r), 0);
		total += r.energy_mj;
	}
	assert_int_equal(total, 1);
}

static void test_chunking_does_not_change_totals(void **state)
{
	enum { N = 3000 };
	struct power_sample *s = calloc(N, sizeof(*s));
	struct energy_integrator a, b;
	struct energy_result ra, rb;
	int64_t t = 5 * S, sum_e = 0, sum_cov = 0, sum_gap = 0;
	size_t gaps_b = 0;

	assert_non_null(s);
	for (int i = 0; i < N; i++) {
		t += 1 + (int64_t)rnd_below(2 * S);
		s[i] = smp(t, (int64_t)rnd_below(2000000));
		if (rnd_below(50) == 0)
			s[i].flags = POWER_SAMPLE_GAP;
	}
	energy_integrator_init(&a, S + S / 2);
	assert_int_equal(energy_integrate(&a, s, N, &ra), 0);
	energy_integrator_init(&b, S + S / 2);
	for (size_t i = 0; i < N;) {
		size_t k = 1 + rnd_below(40);

		if (i + k > N)
			k = N - i;
		assert_int_equal(energy_integrate(&b, s + i, k, &rb), 0);
		sum_e += rb.energy_mj;
		sum_cov += rb.covered_ns;
		sum_gap += rb.gap_ns;
		gaps_b += rb.n_gaps;
		i += k;
	}
	assert_int_equal(sum_e, ra.energy_mj);
	assert_int_equal(sum_cov, ra.covered_ns);
	assert_int_equal(sum_gap, ra.gap_ns);
	assert_int_equal(ra.covered_ns + ra.gap_ns, s[N - 1].t_ns - s[0].t_ns);
	/* a gap cut by a call boundary is reported in both calls */
	assert_true(gaps_b >= ra.n_gaps);
	free(s);
}

static void test_failed_read_is_a_gap(void **state)
{
	/* 250 W, BMC stops after 2 s, back at 6 s: [2 s, 6 s) is a gap, not 0 W */
	struct power_sample s[] = { smp(0, 250000),    smp(S, 250000),     smp(2 * S, 250000),
				    gapm(3 * S),       gapm(4 * S),        gapm(5 * S),
				    smp(6 * S, 250000), smp(7 * S, 250000) };
	struct energy_integrator it;
	struct energy_result r;

	energy_integrator_init(&it, 3 * S);
	assert_int_equal(energy_integrate(&it, s, sizeof(s) / sizeof(s[0]), &r), 0);
	assert_int_equal(r.energy_mj, 250 * 3 * 1000); /* 3 s covered at 250 W */
	assert_int_equal(r.covered_ns, 3 * S);
	assert_int_equal(r.gap_ns, 4 * S);
	assert_int_equal(r.n_gaps, 1);
	assert_int_equal(r.gaps[0].start_ns, 2 * S);
	assert_int_equal(r.gaps[0].end_ns, 6 * S);
}

static void test_long_silence_is_a_gap(void **state)
{
	struct power_sample s[] = { smp(0, 300000), smp(S, 300000), smp(10 * S, 300000), smp(11 * S, 300000) };
	struct energy_integrator it;
	struct energy_result r;

	energy_integrator_init(&it, 3 * S);
	assert_int_equal(energy_integrate(&it, s, 4, &r), 0);
	assert_int_equal(r.energy_mj, 600000);
	assert_int_equal(r.n_gaps, 1);
	assert_int_equal(r.gaps[0].start_ns, S);
	assert_int_equal(r.gaps[0].end_ns, 10 * S);
}

static void test_gap_across_calls(void **state)
{
	struct power_sample a[] = { smp(0, 100000), smp(S, 100000), gapm(2 * S) };
	struct power_sample b[] = { gapm(3 * S), smp(4 * S, 100000), smp(5 * S, 100000) };
	struct energy_integrator it;
	struct energy_result r;

	energy_integrator_init(&it, 3 * S);
	assert_int_equal(energy_integrate(&it, a, 3, &r), 0);
	assert_int_equal(r.energy_mj, 100000);
	assert_int_equal(r.n_gaps, 1);
	assert_int_equal(r.gaps[0].start_ns, S);
	assert_int_equal(r.gaps[0].end_ns, 2 * S);
	assert_int_equal(energy_integrate(&it, b, 3, &r), 0);
	assert_int_equal(r.start_ns, 2 * S);
	assert_int_equal(r.energy_mj, 100000);
	assert_int_equal(r.n_gaps, 1);
	assert_int_equal(r.gaps[0].start_ns, 2 * S);
	assert_int_equal(r.gaps[0].end_ns, 4 * S);
	assert_int_equal(r.gap_ns, 2 * S);
}

/*
 * A silence that outlasts what a reading could bridge is booked as a gap at
 * the frame boundary, not when readings return (the agent may be killed
 * before), and never twice: time covered + gaps = time elapsed.
 */
static void test_gap_booked_at_boundary(void **state)
{
	struct power_sample a[] = { smp(0, 200000), smp(S, 200000) };
	struct power_sample b[] = { smp(9 * S, 200000), smp(10 * S, 200000) };
	struct energy_integrator it;
	struct energy_result r;
	int64_t covered, gap = 0, total_gap = 0;

	energy_integrator_init(&it, 3 * S);
	assert_int_equal(energy_integrate(&it, a, 2, &r), 0);
	/* a reading could still bridge [1 s, 3 s]: no gap yet */
	assert_int_equal(energy_gap_until(&it, 3 * S), 0);
	/* at 5 s nothing can: [1 s, 5 s] is a gap, booked now */
	gap = energy_gap_until(&it, 5 * S);
	assert_int_equal(gap, 4 * S);
	total_gap += gap;
	/* and [5 s, 7 s] at the next boundary: the silence goes on */
	total_gap += energy_gap_until(&it, 7 * S);
	assert_int_equal(total_gap, 6 * S);
	/* readings return: only [7 s, 9 s] is left to book as a gap */
	assert_int_equal(energy_integrate(&it, b, 2, &r), 0);
	assert_int_equal(r.gap_ns, 2 * S);
	assert_int_equal(r.covered_ns, S);
	assert_int_equal(r.energy_mj, 200000);
	assert_int_equal(energy_hold_until(&it, 10 * S + S / 2, 2 * S, &covered), 100000);
	/* 0..10.5 s: 1 + 1 + 0.5 s covered, 8 s of gap */
	assert_int_equal(total_gap + r.gap_ns, 8 * S);
}

/* After a restart the time from the last frame's end to the first reading is a gap. */
static void test_start_gap(void **state)
{
	struct power_sample a[] = { smp(30 * S, 250000), smp(31 * S, 250000) };
	struct energy_integrator it;
	struct energy_result r;

	energy_integrator_init(&it, 3 * S);
	energy_integrator_start_gap(&it, 10 * S);
	assert_int_equal(energy_integrate(&it, a, 2, &r), 0);
	assert_int_equal(r.gap_ns, 20 * S);
	assert_int_equal(r.covered_ns, S);
	assert_int_equal(r.energy_mj, 250000);
	/* once a point exists it changes nothing */
	energy_integrator_start_gap(&it, 0);
	assert_int_equal(it.prev_t_ns, 31 * S);
}

static void test_bad_samples(void **state)
{
	struct power_sample s[] = { smp(10 * S, 100000), smp(9 * S, 999999), smp(11 * S, -5), smp(12 * S, 100000),
				    smp(13 * S, 100000) };
	struct energy_integrator it;
	struct energy_result r;

	energy_integrator_init(&it, 0);
	assert_int_equal(energy_integrate(&it, s, 1, &r), -EINVAL);
	energy_integrator_init(&it, 3 * S);
	assert_int_equal(energy_integrate(&it, s, 5, &r), 0);
	assert_int_equal(r.rejected, 1);      /* older than the previous point */
	assert_int_equal(r.energy_mj, 100000); /* negative power is a gap: only [12 s, 13 s) */
	assert_int_equal(r.gap_ns, 2 * S);
	assert_int_equal(energy_integrate(&it, NULL, 0, &r), 0);
	assert_int_equal(r.energy_mj, 0);
	assert_int_equal(r.start_ns, 13 * S);
	/* nonsense: negative time is rejected, a reading above 1 MW is a gap */
	{
		struct power_sample w[] = { smp(-5, 100), smp(14 * S, ENERGY_MAX_MW + 1), smp(15 * S, 100000),
					    smp(INT64_MAX, INT64_MAX) };

		assert_int_equal(energy_integrate(&it, w, 4, &r), 0);
		assert_int_equal(r.rejected, 1);
		assert_int_equal(r.energy_mj, 0);
		assert_int_equal(r.covered_ns, 0);
		assert_int_equal(r.gap_ns, INT64_MAX - 13 * S);
	}
	energy_integrator_init(&it, 3 * S);
	assert_int_equal(energy_integrate(&it, s + 3, 2, &r), 0);
	assert_int_equal(energy_integrate(&it, NULL, 0, &r), 0);
	assert_int_equal(r.start_ns, 13 * S);
	assert_int_equal(r.end_ns, 13 * S);
}

static void test_gap_list_overflow(void **state)
{
	enum { K = ENERGY_MAX_GAPS + 3 };
	struct power_sample s[3 * K + 1];
	size_t n = 0;
	struct energy_integrator it;
	struct energy_result r;

	/* K times: one covered second, then a failed read */
	for (int i = 0; i < K; i++) {
		s[n++] = smp(3 * i * S, 1000);
		s[n++] = smp((3 * i + 1) * S, 1000);
		s[n++] = gapm((3 * i + 2) * S);
	}
	s[n++] = smp(3 * K * S, 1000);
	energy_integrator_init(&it, 5 * S);
	assert_int_equal(energy_integrate(&it, s, n, &r), 0);
	assert_int_equal(r.n_gaps, K);
	assert_int_equal(r.covered_ns, K * S);
	assert_int_equal(r.energy_mj, K * 1000);
	assert_int_equal(r.gaps[0].start_ns, S);
	assert_int_equal(r.gaps[0].end_ns, 3 * S);
	assert_int_equal(r.gaps[ENERGY_MAX_GAPS - 1].start_ns, (3 * (ENERGY_MAX_GAPS - 1) + 1) * S);
	assert_int_equal(r.covered_ns + r.gap_ns, 3 * K * S);
}

/* ---- apportioning ------------------------------------------------------------ */

static void test_policy_name(void **state)
{
	assert_string_equal(ENERGY_POLICY, "cpu-share+idle-by-vcpu/v1");
}

static void test_busy_vm_gets_more(void **state)
{
	struct energy_vm vms[2] = { { .cpu_ns = 900 * MS, .vcpus = 2 }, { .cpu_ns = 100 * MS, .vcpus = 2 } };
	struct energy_split sp = { .host_mj = 300000, .covered_ns = S, .idle_mw = 100000, .host_cpu_ns = S,
				   .host_cpus = 8 };

	assert_int_equal(energy_apportion(&sp, vms, 2), 0);
	/* idle 100 J: 2/8 each = 25 J; dynamic 200 J: 90 % and 10 % */
	assert_int_equal(sp.idle_mj, 100000);
	assert_int_equal(sp.dynamic_mj, 200000);
	assert_int_equal(vms[0].idle_mj, 25000);
	assert_int_equal(vms[1].idle_mj, 25000);
	assert_int_equal(vms[0].energy_mj, 25000 + 180000);
	assert_int_equal(vms[1].energy_mj, 25000 + 20000);
	assert_int_equal(sp.remainder_mj, 300000 - 250000);
	assert_true(vms[0].energy_mj > vms[1].energy_mj);
}

static void test_host_cpu_and_unallocated_stay_with_host(void **state)
{
	/* VMs used half the busy CPU and hold 4 of 16 CPUs */
	struct energy_vm vm = { .cpu_ns = 2 * S, .vcpus = 4 };
	struct energy_split sp = { .host_mj = 500000, .covered_ns = S, .idle_mw = 200000, .host_cpu_ns = 4 * S,
				   .host_cpus = 16 };

	assert_int_equal(energy_apportion(&sp, &vm, 1), 0);
	assert_int_equal(vm.energy_mj, 200000 / 4 + 300000 / 2);
	assert_int_equal(sp.remainder_mj, 500000 - vm.energy_mj);
}

static void test_below_idle_and_edges(void **state)
{
	struct energy_vm vms[3] = { { .cpu_ns = 0, .vcpus = 1 }, { .cpu_ns = 0, .vcpus = 1 }, { .cpu_ns = 0, .vcpus = 1 } };
	struct energy_split sp = { .host_mj = 100, .covered_ns = S, .idle_mw = 200000, .host_cpus = 0 };

	/* less than idle: all of it is idle, split by vCPU (host_cpus unknown -> sum of vCPUs) */
	assert_int_equal(energy_apportion(&sp, vms, 3), 0);
	assert_int_equal(sp.idle_mj, 100);
	assert_int_equal(sp.dynamic_mj, 0);
	assert_int_equal(vms[0].energy_mj + vms[1].energy_mj + vms[2].energy_mj, 100);
	assert_int_equal(sp.remainder_mj, 0);
	/* ties go to the lower index: 100 = 34 + 33 + 33 */
	assert_int_equal(vms[0].energy_mj, 34);
	assert_int_equal(vms[1].energy_mj, 33);

	/* no VMs: everything is the host's */
	sp = (struct energy_split){ .host_mj = 12345, .covered_ns = S, .idle_mw = 1000 };
	assert_int_equal(energy_apportion(&sp, NULL, 0), 0);
	assert_int_equal(sp.remainder_mj, 12345);
	assert_int_equal(sp.vm_mj, 0);

	/* no CPU used and no idle: the dynamic part stays with the host */
	sp = (struct energy_split){ .host_mj = 5000, .covered_ns = S, .idle_mw = 0, .host_cpu_ns = S };
	assert_int_equal(energy_apportion(&sp, vms, 3), 0);
	assert_int_equal(sp.remainder_mj, 5000);

	/* errors */
	sp = (struct energy_split){ .host_mj = -1, .covered_ns = S };
	assert_int_equal(energy_apportion(&sp, vms, 3), -EINVAL);
	sp = (struct energy_split){ .host_mj = 1, .covered_ns = S, .idle_mw = -1 };
	assert_int_equal(energy_apportion(&sp, vms, 3), -EINVAL);
	sp = (struct energy_split){ .host_mj = (int64_t)1 << 53, .covered_ns = S };
	assert_int_equal(energy_apportion(&sp, vms, 3), -ERANGE);
	sp = (struct energy_split){ .host_mj = 1, .covered_ns = S };
	assert_int_equal(energy_apportion(&sp, NULL, 3), -EINVAL);
}

/* Exact share of @part for weight w out of d, as a long double. */
static long double exact_share(int64_t part, uint64_t w, unsigned __int128 d)
{
	return d ? (long double)part * (long double)w / (long double)d : 0;
}

static void test_random_apportioning_is_exact(void **state)
{
	enum { CASES = 20000, MAXN = 64 };
	struct energy_vm vms[MAXN], again[MAXN];
	long double worst = 0;

	for (int c = 0; c < CASES; c++) {
		size_t n = rnd_below(MAXN + 1);
		struct energy_split sp = { 0 }, sp2;
		unsigned __int128 sum_cpu = 0;
		uint64_t sum_vcpu = 0;
		int64_t sum = 0;

		/* mix tiny and huge magnitudes */
		sp.host_mj = (int64_t)(rnd_below(4) == 0 ? rnd_below(1000) : rnd_below((uint64_t)1 << 40));
		sp.covered_ns = (int64_t)rnd_below(120 * S);
		sp.idle_mw = (int64_t)rnd_below(500000);
		sp.host_cpus = (uint32_t)rnd_below(257);
		for (size_t i = 0; i < n; i++) {
			vms[i] = (struct energy_vm){ .cpu_ns = rnd_below(4) ? rnd_below(64 * S) : 0,
						     .vcpus = (uint32_t)rnd_below(33) };
			sum_cpu += vms[i].cpu_ns;
			sum_vcpu += vms[i].vcpus;
		}
		sp.host_cpu_ns = rnd_below(3) ? (uint64_t)sum_cpu + rnd_below(10 * S) : rnd_below(S);
		memcpy(again, vms, n * sizeof(*vms));
		sp2 = sp;
		assert_int_equal(energy_apportion(&sp, vms, n), 0);
		for (size_t i = 0; i < n; i++) {
			unsigned __int128 d_cpu = sp.host_cpu_ns > sum_cpu ? sp.host_cpu_ns : sum_cpu;
			uint64_t d_vcpu = sp.host_cpus > sum_vcpu ? sp.host_cpus : sum_vcpu;
			long double want = exact_share(sp.dynamic_mj, vms[i].cpu_ns, d_cpu) +
					   exact_share(sp.idle_mj, vms[i].vcpus, d_vcpu);
			long double off = fabsl((long double)vms[i].energy_mj - want);

			assert_true(vms[i].energy_mj >= 0);
			assert_true(off < 4.0L);
			if (off > worst)
				worst = off;
			sum += vms[i].energy_mj;
		}
		assert_int_equal(sum + sp.remainder_mj, sp.host_mj);
		assert_int_equal(sum, sp.vm_mj);
		assert_true(sp.remainder_mj >= 0);
		assert_int_equal(sp.idle_mj + sp.dynamic_mj, sp.host_mj);
		/* same inputs, same outputs */
		assert_int_equal(energy_apportion(&sp2, again, n), 0);
		for (size_t i = 0; i < n; i++)
			assert_int_equal(again[i].energy_mj, vms[i].energy_mj);
	}
	print_message("%d random cases: sum(VM) + remainder == host in all; worst distance to the exact "
		      "share %.3Lf mJ\n", CASES, worst);
}

/* ---- RAPL --------------------------------------------------------------------- */

static void put(const char *dir, const char *file, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "we");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void zone(const char *root, const char *dir, const char *name, const char *energy, const char *max)
{
	char d[512];

	snprintf(d, sizeof(d), "%s/%s", root, dir);
	assert_int_equal(mkdir(d, 0755), 0);
	put(d, "name", name);
	put(d, "energy_uj", energy);
	put(d, "max_energy_range_uj", max);
}

static void rm_tree(const char *root)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
}

static void test_rapl_packages_and_wrap(void **state)
{
	char root[] = "/tmp/hv-rapl-XXXXXX", d[600];
	struct rapl *r = NULL;
	uint64_t delta;

	assert_non_null(mkdtemp(root));
	zone(root, "intel-rapl:0", "package-0\n", "1000\n", "262143328850\n");
	zone(root, "intel-rapl:0:0", "core\n", "500\n", "262143328850\n"); /* inside package 0: ignored */
	zone(root, "intel-rapl:1", "package-1\n", "262143000000\n", "262143328850\n");
	assert_int_equal(rapl_open(root, &r), 0);
	assert_int_equal(rapl_zone_count(r), 2);

	snprintf(d, sizeof(d), "%s/intel-rapl:0", root);
	put(d, "energy_uj", "3500\n");
	snprintf(d, sizeof(d), "%s/intel-rapl:1", root);
	put(d, "energy_uj", "1000\n"); /* wrapped: 328850 to the top, then 1000 */
	snprintf(d, sizeof(d), "%s/intel-rapl:0:0", root);
	put(d, "energy_uj", "999999\n");
	assert_int_equal(rapl_read(r, &delta), 0);
	assert_int_equal(delta, 2500 + 328850 + 1000);
	assert_int_equal(rapl_read(r, &delta), 0);
	assert_int_equal(delta, 0);

	snprintf(d, sizeof(d), "%s/intel-rapl:0", root);
	put(d, "energy_uj", "garbage\n");
	assert_int_equal(rapl_read(r, &delta), -EIO);
	rapl_close(r);
	rm_tree(root);
}

static void test_rapl_psys_alone(void **state)
{
	char root[] = "/tmp/hv-rapl-XXXXXX";
	struct rapl *r = NULL;

	assert_non_null(mkdtemp(root));
	zone(root, "intel-rapl:0", "package-0\n", "1\n", "1000\n");
	zone(root, "intel-rapl:1", "psys\n", "1\n", "1000\n");
	assert_int_equal(rapl_open(root, &r), 0);
	assert_int_equal(rapl_zone_count(r), 1);
	assert_string_equal(rapl_zone_name(r, 0), "psys");
	rapl_close(r);
	rm_tree(root);
}

static void test_rapl_absent(void **state)
{
	char root[] = "/tmp/hv-rapl-XXXXXX";
	struct rapl *r = (struct rapl *)1;

	assert_int_equal(rapl_open("/nonexistent/powercap", &r), -ENOENT);
	assert_null(r);
	assert_non_null(mkdtemp(root));
	assert_int_equal(rapl_open(root, &r), -ENOENT); /* a tree without zones */
	rm_tree(root);
	/* this machine: whatever it has, open must not crash and must clean up */
	if (rapl_open(NULL, &r) == 0) {
		print_message("RAPL present here: %zu zone(s)\n", rapl_zone_count(r));
		rapl_close(r);
	}
	rapl_close(NULL);
}

/* Holding the last reading to a frame boundary, then going on, integrates
 * a constant power exactly and never counts a span twice. */
static void test_hold_until(void **state)
{
	struct energy_integrator it;
	struct energy_result r;
	struct power_sample s[3] = { { .t_ns = 0, .mw = 250000 }, { .t_ns = 1000000000, .mw = 250000 },
				     { .t_ns = 3000000000, .mw = 250000 } };
	int64_t covered, mj;

	(void)state;
	energy_integrator_init(&it, 5000000000);
	assert_int_equal(energy_integrate(&it, s, 2, &r), 0);
	assert_int_equal(r.energy_mj, 250000);
	assert_int_equal(energy_hold_until(&it, 1500000000, 100000000, &covered), 0); /* past max hold */
	mj = energy_hold_until(&it, 1500000000, 1000000000, &covered);
	assert_int_equal(mj, 125000);
	assert_int_equal(covered, 500000000);
	assert_int_equal(energy_integrate(&it, &s[2], 1, &r), 0);
	assert_int_equal(r.energy_mj, 375000); /* 1.5 s more, not 2 s */
	/* after a gap nothing is held */
	it.prev_gap = true;
	assert_int_equal(energy_hold_until(&it, 4000000000, 5000000000, &covered), 0);
	assert_int_equal(covered, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hold_until),
		cmocka_unit_test(test_constant_power),
		cmocka_unit_test(test_linear_ramp_is_exact),
		cmocka_unit_test(test_step_250_to_400),
		cmocka_unit_test(test_sub_millijoule_carry),
		cmocka_unit_test(test_chunking_does_not_change_totals),
		cmocka_unit_test(test_failed_read_is_a_gap),
		cmocka_unit_test(test_long_silence_is_a_gap),
		cmocka_unit_test(test_gap_across_calls),
		cmocka_unit_test(test_gap_booked_at_boundary),
		cmocka_unit_test(test_start_gap),
		cmocka_unit_test(test_bad_samples),
		cmocka_unit_test(test_gap_list_overflow),
		cmocka_unit_test(test_policy_name),
		cmocka_unit_test(test_busy_vm_gets_more),
		cmocka_unit_test(test_host_cpu_and_unallocated_stay_with_host),
		cmocka_unit_test(test_below_idle_and_edges),
		cmocka_unit_test(test_random_apportioning_is_exact),
		cmocka_unit_test(test_rapl_packages_and_wrap),
		cmocka_unit_test(test_rapl_psys_alone),
		cmocka_unit_test(test_rapl_absent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
