/*
 * test_ipmi_sim.c — the ipmi/ library against a running BMC simulator.
 *
 * Starts nothing: tests/integration/bmc_*.sh start ipmi_sim (tests/lib/bmc.sh)
 * and run this binary with HV_BMC_* variables; without HV_BMC_PORT every test
 * skips, so the plain unit-test run passes over it. Scenarios
 * (HV_BMC_SCENARIO):
 *   probe  device id, map and power source as HV_BMC_EXPECT_* say; power read
 *          equals the watts file; exported sensors read; read latency
 *   step   power 250 W then 400 W through the reader thread: energy within
 *          0.5 % of the exact integral; apportioning exact
 *   gap    HV_BMC_STOP_CMD then HV_BMC_START_CMD mid-run: one DOWN, one
 *          RECOVERED, the outage is a gap (no energy, not 0 W), take() never
 *          waits on the BMC
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "ipmi/bmc.h"
#include "ipmi/energy.h"
#include "ipmi/power_reader.h"
#include "ipmi/power_source.h"
#include "ipmi/sensor_map.h"
#include "wire/metric.h"

static const char *env(const char *name, const char *def)
{
	const char *v = getenv(name);

	return v && v[0] ? v : def;
}

static bool scenario(const char *want)
{
	if (!getenv("HV_BMC_PORT")) {
		print_message("HV_BMC_PORT not set: run through tests/integration/bmc_*.sh\n");
		return false;
	}
	return strcmp(env("HV_BMC_SCENARIO", "probe"), want) == 0;
}

static void config_from_env(struct bmc_config *c)
{
	bmc_config_init(c);
	assert_int_equal(bmc_driver_parse(env("HV_BMC_DRIVER", "lan20"), &c->driver), 0);
	snprintf(c->host, sizeof(c->host), "%s", env("HV_BMC_HOST", "127.0.0.1"));
	c->port = (unsigned)atoi(env("HV_BMC_PORT", "623"));
	snprintf(c->user, sizeof(c->user), "%s", env("HV_BMC_USER", "hvmeter"));
	snprintf(c->password, sizeof(c->password), "%s", env("HV_BMC_PASSWORD", "hvmeter-sim"));
	assert_int_equal(bmc_privilege_parse(env("HV_BMC_PRIVILEGE", "admin"), &c->privilege), 0);
	snprintf(c->workarounds, sizeof(c->workarounds), "%s", env("HV_BMC_WORKAROUNDS", "opensesspriv"));
	c->timeout_ms = (unsigned)atoi(env("HV_BMC_TIMEOUT_MS", "1000"));
	c->cipher_suite = atoi(env("HV_BMC_CIPHER_SUITE", "3"));
	snprintf(c->sdr_cache_dir, sizeof(c->sdr_cache_dir), "%s", env("HV_BMC_CACHE_DIR", "/tmp"));
}

static void maps_load(struct sensor_map_set *set)
{
	struct sensor_map_error e;
	char msg[1024];
	int rc;

	memset(set, 0, sizeof(*set));
	rc = sensor_map_set_load_dir(set, env("HV_BMC_MAPS_DIR", "firmware-configs"), &e);
	if (rc) {
		sensor_map_error_format(&e, msg, sizeof(msg));
		fail_msg("maps: %s", msg);
	}
}

static void watts_write(unsigned w)
{
	const char *path = env("HV_BMC_WATTS_FILE", NULL);
	char tmp[1024];
	FILE *f;

	assert_non_null(path);
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	f = fopen(tmp, "we");
	assert_non_null(f);
	fprintf(f, "%u\n", w);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(rename(tmp, path), 0);
}

static unsigned watts_read(void)
{
	const char *path = env("HV_BMC_WATTS_FILE", NULL);
	unsigned w = 0;
	FILE *f;

	assert_non_null(path);
	f = fopen(path, "re");
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%u", &w), 1);
	fclose(f);
	return w;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/*
 * Descriptors without close-on-exec that were not in @before (inherited
 * ones, like the shell's, are not ours to judge).
 */
static int new_fds_without_cloexec(const unsigned char *before)
{
	int bad = 0;

	for (int fd = 3; fd < 1024; fd++) {
		int fl = fcntl(fd, F_GETFD);

		if (fl < 0 || (fl & FD_CLOEXEC) || before[fd])
			continue;
		print_message("fd %d is not close-on-exec\n", fd);
		bad++;
	}
	return bad;
}

static void fds_open_now(unsigned char *set)
{
	for (int fd = 0; fd < 1024; fd++)
		set[fd] = fcntl(fd, F_GETFD) >= 0;
}

/* ---- probe ----------------------------------------------------------------- */

static void test_probe(void **state)
{
	struct bmc_config c;
	struct sensor_map_set set;
	struct power_source *src = NULL;
	struct power_source_info info;
	struct sensor_export_reading ex[SENSOR_MAP_MAX_EXPORT];
	struct bmc_device_id id;
	struct bmc *b = NULL;
	char err[BMC_ERR_MAX];
	const char *want_source = env("HV_BMC_EXPECT_SOURCE", "sensor");
	int64_t mw = 0, t0, worst = 0, sum = 0;
	size_t n = 0;
	int rc, reads = 20;
	unsigned char fds_before[1024];

	if (!scenario("probe"))
		skip();
	fds_open_now(fds_before);
	config_from_env(&c);
	maps_load(&set);

	/* a wrong password is refused, as -EACCES with the BMC's reason */
	{
		struct bmc_config bad = c;

		snprintf(bad.password, sizeof(bad.password), "not-the-password");
		rc = bmc_open(&bad, NULL, &b, err, sizeof(err));
		print_message("wrong password: %s\n", err);
		assert_int_equal(rc, -EACCES);
		assert_null(b);
	}
	rc = bmc_open(&c, NULL, &b, err, sizeof(err));
	assert_int_equal(rc, 0);
	assert_int_equal(bmc_device_id(b, &id), 0);
	assert_int_equal(id.manufacturer_id, strtoul(env("HV_BMC_EXPECT_MFR", "0"), NULL, 0));
	assert_int_equal(id.product_id, strtoul(env("HV_BMC_EXPECT_PRODUCT", "0"), NULL, 0));
	rc = bmc_dcmi_supported(b);
	assert_int_equal(rc, !strcmp(want_source, "dcmi") ? 1 : 0);
	{
		struct bmc_sensor *list = NULL;
		size_t nl = 0;
		long idx;
		struct sensor_selector sel = { .has = SENSOR_SEL_UNIT, .unit = 6 };

		/* the SDR (cached in HV_BMC_CACHE_DIR) and every value, as `hvmeter sensors` lists them */
		assert_int_equal(bmc_sensors_read(b, 0, &list, &nl), 0);
		assert_true(nl >= 3);
		for (size_t i = 0; i < nl; i++)
			assert_true(list[i].has_value);
		if (strcmp(want_source, "dcmi")) {
			snprintf(sel.name, sizeof(sel.name), "%s", env("HV_BMC_EXPECT_SENSOR", "?"));
			sel.has |= SENSOR_SEL_NAME;
			idx = sensor_selector_find(&sel, list, nl);
			assert_true(idx >= 0);
			assert_true(fabs(list[idx].value - watts_read()) < 0.001);
		}
		free(list);
		/* FreeIPMI's socket and SDR cache file are close-on-exec too */
		assert_int_equal(new_fds_without_cloexec(fds_before), 0);
	}
	bmc_close(b);

	assert_int_equal(power_source_bmc_new(&c, &set, NULL, &src), 0);
	t0 = power_reader_now_ns();
	rc = src->ops->connect(src, &info);
	t0 = power_reader_now_ns() - t0;
	if (rc)
		fail_msg("connect: %s", src->err);
	print_message("device id: manufacturer %u (%s) product 0x%04x firmware %s; map %s; power from %s\n",
		      info.id.manufacturer_id, info.manufacturer, info.id.product_id, info.id.firmware, info.map,
		      info.source);
	print_message("connect (session, device id, map, SDR, source) took %.1f ms\n", t0 / 1e6);
	assert_string_equal(info.map, env("HV_BMC_EXPECT_MAP", "?"));
	assert_true(info.map_by_id);
	if (!strcmp(want_source, "dcmi")) {
		assert_int_equal(info.kind, POWER_SOURCE_DCMI);
	} else {
		char want[POWER_SOURCE_DESC_MAX];

		assert_int_equal(info.kind, POWER_SOURCE_SENSOR);
		snprintf(want, sizeof(want), "sensor \"%s\"", env("HV_BMC_EXPECT_SENSOR", "?"));
		assert_memory_equal(info.source, want, strlen(want));
	}

	for (int i = 0; i < reads; i++) {
		int64_t dt;

		t0 = power_reader_now_ns();
		assert_int_equal(src->ops->read_power(src, &mw), 0);
		dt = power_reader_now_ns() - t0;
		sum += dt;
		if (dt > worst)
			worst = dt;
	}
	print_message("power %" PRId64 " mW; read latency mean %.2f ms, max %.2f ms over %d reads\n", mw,
		      (double)sum / reads / 1e6, (double)worst / 1e6, reads);
	assert_int_equal(mw, (int64_t)watts_read() * 1000);

	assert_int_equal(src->ops->read_exports(src, ex, SENSOR_MAP_MAX_EXPORT, &n), 0);
	assert_true(n >= (size_t)atoi(env("HV_BMC_EXPECT_EXPORTS", "1")));
	for (size_t i = 0; i < n; i++) {
		char v[32];

		assert_true(ex[i].has_value);
		assert_true(scaled_format(ex[i].value, ex[i].scale, v, sizeof(v)) > 0);
		print_message("  export %-20s %-18s %s %s\n", ex[i].name, ex[i].sensor, v, ex[i].unit);
	}
	power_source_destroy(src);

	/* a map named in the configuration overrides the device id */
	assert_int_equal(power_source_bmc_new(&c, &set, "generic", &src), 0);
	assert_int_equal(src->ops->connect(src, &info), 0);
	assert_string_equal(info.map, "generic");
	assert_false(info.map_by_id);
	power_source_destroy(src);

	/* a map whose power lines all fail says what each one answered */
	{
		struct sensor_map m;
		struct sensor_map_set one = { 0 };
		static const char text[] = "map nothing\nmatch any\npower sensor name \"No Such Sensor\"\n";

		assert_int_equal(sensor_map_parse(text, sizeof(text) - 1, &m, NULL), 0);
		assert_int_equal(sensor_map_set_add(&one, &m), 0);
		assert_int_equal(power_source_bmc_new(&c, &one, NULL, &src), 0);
		assert_int_equal(src->ops->connect(src, &info), -ENODATA);
		print_message("no power source: %s\n", src->err);
		assert_non_null(strstr(src->err, "sensor name \"No Such Sensor\" unit W: not in SDR"));
		power_source_destroy(src);
		sensor_map_set_free(&one);
	}
	assert_int_equal(power_source_bmc_new(&c, &set, "no-such-map", &src), -ENOENT);
	assert_null(src);
	sensor_map_set_free(&set);
}

/* ---- reader helpers ---------------------------------------------------------- */

struct events {
	pthread_mutex_t lock;
	unsigned up, down, recovered;
	char last[1024];
};

static void on_event(void *arg, enum power_reader_event ev, const char *msg)
{
	struct events *e = arg;

	pthread_mutex_lock(&e->lock);
	if (ev == POWER_READER_UP)
		e->up++;
	else if (ev == POWER_READER_DOWN)
		e->down++;
	else
		e->recovered++;
	snprintf(e->last, sizeof(e->last), "%s", msg);
	pthread_mutex_unlock(&e->lock);
	print_message("  [reader %s] %s\n",
		      ev == POWER_READER_UP ? "up" : ev == POWER_READER_DOWN ? "down" : "recovered", msg);
}

struct run {
	struct power_sample *s;
	size_t n, cap;
	int64_t take_worst_ns;
};

/* Takes everything the reader has, timing the call (it must not wait on the BMC). */
static void run_take(struct power_reader *r, struct run *run)
{
	for (;;) {
		int64_t t0, dt;
		size_t got, room;

		if (run->cap - run->n < 64) {
			run->cap = run->cap ? run->cap * 2 : 1024;
			run->s = realloc(run->s, run->cap * sizeof(*run->s));
			assert_non_null(run->s);
		}
		room = run->cap - run->n;
		t0 = power_reader_now_ns();
		got = power_reader_take(r, run->s + run->n, room);
		dt = power_reader_now_ns() - t0;
		if (dt > run->take_worst_ns)
			run->take_worst_ns = dt;
		run->n += got;
		if (got < room)
			break;
	}
}

/* Waits @ms while taking samples every 100 ms, as a sampler would. */
static void run_for(struct power_reader *r, struct run *run, unsigned ms)
{
	int64_t end = power_reader_now_ns() + (int64_t)ms * 1000000;

	while (power_reader_now_ns() < end) {
		sleep_ms(100);
		run_take(r, run);
	}
}

static struct power_reader *reader_start(struct events *ev, unsigned interval_ms)
{
	struct bmc_config c;
	struct sensor_map_set set;
	struct power_source *src = NULL;
	struct power_reader *r = NULL;
	struct power_reader_config rc = {
		.interval_ms = interval_ms,
		.retry_ms = interval_ms,
		.exports_interval_ms = 1000,
		.notify = on_event,
		.notify_arg = ev,
	};

	config_from_env(&c);
	maps_load(&set);
	assert_int_equal(power_source_bmc_new(&c, &set, NULL, &src), 0);
	sensor_map_set_free(&set);
	assert_int_equal(power_reader_start(src, &rc, &r), 0);
	return r;
}

/* ---- step: 250 W -> 400 W ---------------------------------------------------- */

static void test_step(void **state)
{
	struct events ev = { .lock = PTHREAD_MUTEX_INITIALIZER };
	unsigned half_ms = (unsigned)atoi(env("HV_BMC_STEP_SECONDS", "20")) * 1000;
	struct power_reader_status st;
	struct energy_integrator it;
	struct energy_result res;
	struct run run = { 0 };
	struct power_reader *r;
	int64_t t_switch, t_first = 0, t_last = 0, exact_mj;
	double err_pct;
	size_t first = 0;

	if (!scenario("step"))
		skip();
	watts_write(250);
	sleep_ms(300); /* the simulator re-reads the file every 100 ms */
	r = reader_start(&ev, 250);
	run_for(r, &run, half_ms);
	watts_write(400);
	t_switch = power_reader_now_ns();
	run_for(r, &run, half_ms);
	run_take(r, &run);
	power_reader_get_status(r, &st);
	power_reader_stop(r);

	assert_int_equal(ev.up, 1);
	assert_int_equal(ev.down, 0);
	assert_true(run.n > 2 * half_ms / 250 - 10);
	for (size_t i = 0; i < run.n; i++)
		assert_int_equal(run.s[i].flags & POWER_SAMPLE_GAP, 0);
	/* the first samples may predate the first simulator poll: start at the first 250 W one */
	while (first < run.n && run.s[first].mw != 250000)
		first++;
	assert_true(first < 4);
	t_first = run.s[first].t_ns;
	t_last = run.s[run.n - 1].t_ns;
	assert_int_equal(run.s[run.n - 1].mw, 400000);

	energy_integrator_init(&it, 3 * 250 * 1000000LL);
	assert_int_equal(energy_integrate(&it, run.s + first, run.n - first, &res), 0);
	assert_int_equal(res.n_gaps, 0);
	assert_int_equal(res.covered_ns, t_last - t_first);
	/* exact: 250 W up to the switch, 400 W after it (W x ns / 1e6 = mJ) */
	exact_mj = (250 * (t_switch - t_first) + 400 * (t_last - t_switch)) / 1000000;
	err_pct = 100.0 * (double)(res.energy_mj - exact_mj) / (double)exact_mj;
	print_message("step 250 W -> 400 W over %.1f s: integrated %.3f J, exact %.3f J, error %+.3f %%\n",
		      (double)(t_last - t_first) / 1e9, res.energy_mj / 1e3, exact_mj / 1e3, err_pct);
	print_message("reads %" PRIu64 ", read latency mean %.2f ms max %.2f ms; take() worst %.3f ms\n",
		      st.reads, (double)st.sum_latency_us / (double)(st.reads ? st.reads : 1) / 1e3,
		      st.max_latency_us / 1e3, run.take_worst_ns / 1e6);
	assert_true(fabs(err_pct) < 0.5);

	/* apportion each second of the run to three VMs: exact every interval */
	{
		struct energy_integrator it2;
		uint64_t sum_vm = 0, sum_host = 0;
		size_t i = first;

		energy_integrator_init(&it2, 3 * 250 * 1000000LL);
		while (i < run.n) {
			struct energy_vm vms[3] = { { .cpu_ns = 900000000, .vcpus = 2 },
						    { .cpu_ns = 100000000, .vcpus = 2 },
						    { .cpu_ns = 0, .vcpus = 4 } };
			struct energy_split sp = { .idle_mw = 120000, .host_cpu_ns = 1200000000, .host_cpus = 16 };
			size_t k = i;

			while (k < run.n && run.s[k].t_ns - run.s[i].t_ns < 1000000000)
				k++;
			assert_int_equal(energy_integrate(&it2, run.s + i, k - i, &res), 0);
			sp.host_mj = res.energy_mj;
			sp.covered_ns = res.covered_ns;
			assert_int_equal(energy_apportion(&sp, vms, 3), 0);
			assert_int_equal(vms[0].energy_mj + vms[1].energy_mj + vms[2].energy_mj + sp.remainder_mj,
					 sp.host_mj);
			assert_true(vms[0].energy_mj >= vms[1].energy_mj);
			sum_vm += (uint64_t)sp.vm_mj;
			sum_host += (uint64_t)sp.host_mj;
			i = k;
		}
		print_message("apportioned %.3f J of %.3f J to VMs; sums exact in every interval\n", sum_vm / 1e3,
			      sum_host / 1e3);
	}
	free(run.s);
}

/* ---- gap: BMC stopped and restarted ------------------------------------------ */

static void test_gap(void **state)
{
	struct events ev = { .lock = PTHREAD_MUTEX_INITIALIZER };
	const char *stop_cmd = getenv("HV_BMC_STOP_CMD"), *start_cmd = getenv("HV_BMC_START_CMD");
	unsigned outage_ms = 4000;
	struct power_reader_status st;
	struct energy_integrator it;
	struct energy_result res;
	struct run run = { 0 };
	struct power_reader *r;
	int64_t t_stop, t_start, t_back = 0;
	double mean_w;

	if (!scenario("gap"))
		skip();
	assert_non_null(stop_cmd);
	assert_non_null(start_cmd);
	watts_write(250);
	r = reader_start(&ev, 250);
	run_for(r, &run, 3000);
	assert_int_equal(ev.up, 1);

	t_stop = power_reader_now_ns();
	assert_int_equal(system(stop_cmd), 0);
	run_for(r, &run, outage_ms);
	pthread_mutex_lock(&ev.lock);
	assert_int_equal(ev.down, 1);
	assert_int_equal(ev.recovered, 0);
	pthread_mutex_unlock(&ev.lock);
	power_reader_get_status(r, &st);
	assert_int_equal(st.state, POWER_READER_FAILING);
	print_message("while down: last error \"%s\"; take() worst %.3f ms\n", st.last_error,
		      run.take_worst_ns / 1e6);

	/* the simulator cannot answer before this: the gap must reach at least here */
	t_start = power_reader_now_ns();
	assert_int_equal(system(start_cmd), 0);
	for (int i = 0; i < 150 && !t_back; i++) {
		run_for(r, &run, 100);
		pthread_mutex_lock(&ev.lock);
		if (ev.recovered)
			t_back = power_reader_now_ns();
		pthread_mutex_unlock(&ev.lock);
	}
	assert_true(t_back != 0);
	run_for(r, &run, 2000);
	run_take(r, &run);
	power_reader_stop(r);

	assert_int_equal(ev.up, 1);
	assert_int_equal(ev.down, 1);
	assert_int_equal(ev.recovered, 1);
	energy_integrator_init(&it, 3 * 250 * 1000000LL);
	assert_int_equal(energy_integrate(&it, run.s, run.n, &res), 0);
	print_message("outage %.2f s (restart took %.2f s to answer): %zu gap(s), gap %.2f s, covered %.2f s, "
		      "energy %.3f J\n", (double)(t_start - t_stop) / 1e9, (double)(t_back - t_start) / 1e9,
		      res.n_gaps, res.gap_ns / 1e9, res.covered_ns / 1e9, res.energy_mj / 1e3);
	assert_int_equal(res.n_gaps, 1);
	/* the gap spans the outage: from the last reading before the stop to the first after */
	assert_true(res.gaps[0].start_ns <= t_stop);
	assert_true(res.gaps[0].start_ns >= t_stop - 1000000000LL);
	assert_true(res.gaps[0].end_ns >= t_start);
	assert_true(res.gap_ns >= t_start - t_stop);
	/* the gap is a gap, not 0 W: the covered time alone carries 250 W */
	mean_w = (double)res.energy_mj / ((double)res.covered_ns / 1e9) / 1e3;
	print_message("mean power over covered time %.3f W (250 W expected)\n", mean_w);
	assert_true(fabs(mean_w - 250.0) < 0.5);
	/* take() only copies: it never waited for the dead BMC */
	assert_true(run.take_worst_ns < 50000000);
	free(run.s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_probe),
		cmocka_unit_test(test_step),
		cmocka_unit_test(test_gap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
