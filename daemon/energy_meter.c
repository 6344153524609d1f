#include "daemon/energy_meter.h"
#include "daemon/log.h"
#include "ipmi/bmc.h"
#include "ipmi/energy.h"
#include "ipmi/power_reader.h"
#include "ipmi/power_source.h"
#include "ipmi/sensor_map.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TAKE_BATCH 256

struct energy_meter {
	struct power_reader *reader;
	struct sensor_map_set maps;
	struct energy_integrator integ;
	struct energy_take pending;   /* integrated, not yet in a committed frame */
	uint64_t prev_busy_ticks;     /* /proc/stat at the last commit */
	uint64_t pend_busy_ticks;
	uint32_t cpus;
	int64_t idle_mw;
	int64_t max_hold_ns;          /* as long as a reading may still bridge the span */
};

/* The reader thread's transitions, logged once each (it never logs itself). */
static void on_reader(void *arg, enum power_reader_event ev, const char *msg)
{
	if (ev == POWER_READER_DOWN)
		log_warn("BMC: no power readings: %s (energy gap until it returns)", msg);
	else
		log_info("BMC: %s", msg);
}

/* Busy CPU time of the whole host, in clock ticks, from /proc/stat. */
static uint64_t host_busy_ticks(void)
{
	unsigned long long u = 0, n = 0, s = 0, idle = 0, io = 0, irq = 0, sirq = 0, st = 0;
	FILE *fp = fopen("/proc/stat", "re");

	if (!fp)
		return 0;
	if (fscanf(fp, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &u, &n, &s, &idle, &io, &irq,
		   &sirq, &st) < 4)
		u = n = s = irq = sirq = st = 0;
	fclose(fp);
	return u + n + s + irq + sirq + st;
}

int energy_meter_bmc_config(const struct config *cfg, const char *state_dir, struct bmc_config *bc,
			    char *err, size_t errlen)
{
	bmc_config_init(bc);
	if (bmc_driver_parse(cfg->bmc_driver, &bc->driver)) {
		snprintf(err, errlen, "no BMC configured ([bmc] driver = %s)", cfg->bmc_driver);
		return -ENOENT;
	}
	snprintf(bc->host, sizeof(bc->host), "%s", cfg->bmc_host);
	bc->port = cfg->bmc_port;
	_Static_assert(sizeof(bc->user) == sizeof(cfg->bmc_user), "config checks the BMC's limits");
	_Static_assert(sizeof(bc->password) == sizeof(cfg->bmc_password), "config checks them");
	memcpy(bc->user, cfg->bmc_user, sizeof(bc->user));
	memcpy(bc->password, cfg->bmc_password, sizeof(bc->password));
	snprintf(bc->password_file, sizeof(bc->password_file), "%s", cfg->bmc_password_file);
	bc->cipher_suite = (int)cfg->bmc_cipher_suite;
	bmc_privilege_parse(cfg->bmc_privilege, &bc->privilege);
	snprintf(bc->workarounds, sizeof(bc->workarounds), "%s", cfg->bmc_workarounds);
	bc->timeout_ms = cfg->bmc_timeout_ms;
	/* the SDR cache lives in the agent's state directory */
	snprintf(bc->sdr_cache_dir, sizeof(bc->sdr_cache_dir), "%s/sdr-cache", state_dir);
	if (mkdir(state_dir, 0750) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", state_dir, strerror(errno));
		return -errno;
	}
	if (mkdir(bc->sdr_cache_dir, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", bc->sdr_cache_dir, strerror(errno));
		return -errno;
	}
	return 0;
}

int energy_meter_open(struct energy_meter **out, const struct config *cfg, const char *state_dir,
		      char *err, size_t errlen)
{
	struct energy_meter *m;
	struct bmc_config bc;
	struct power_source *src = NULL;
	struct power_reader_config rc = { 0 };
	struct sensor_map_error merr;
	int rc_;

	*out = NULL;
	if (strcmp(cfg->bmc_driver, "none") == 0)
		return 0;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	if ((rc_ = energy_meter_bmc_config(cfg, state_dir, &bc, err, errlen)))
		goto fail;
	if (bc.driver == BMC_DRIVER_INBAND && access(bc.device[0] ? bc.device : "/dev/ipmi0", F_OK)) {
		rc_ = -ENODEV;
		snprintf(err, errlen, "in-band IPMI device %s does not exist (load the ipmi_si and "
			 "ipmi_devintf modules, or read the BMC over LAN): no power metering",
			 bc.device[0] ? bc.device : "/dev/ipmi0");
		goto fail;
	}
	rc_ = sensor_map_set_load_dir(&m->maps, cfg->bmc_maps_dir, &merr);
	if (rc_) {
		snprintf(err, errlen, "cannot load sensor maps from %s: %s", cfg->bmc_maps_dir,
			 strerror(-rc_));
		goto fail;
	}
	rc_ = power_source_bmc_new(&bc, &m->maps, cfg->bmc_map[0] ? cfg->bmc_map : NULL, &src);
	if (rc_) {
		snprintf(err, errlen, "BMC %s: %s", cfg->bmc_host, strerror(-rc_));
		goto fail;
	}
	rc.interval_ms = cfg->bmc_poll_ms;
	rc.exports_interval_ms = 10000;
	rc.notify = on_reader;
	rc_ = power_reader_start(src, &rc, &m->reader); /* owns src from here */
	if (rc_) {
		snprintf(err, errlen, "cannot start the BMC reader: %s", strerror(-rc_));
		goto fail;
	}
	/*
	 * Bridge at most two polls and a timeout: longer silences are gaps. A
	 * frame end holds the last reading as long as a reading may still
	 * bridge the span (measured from that reading), so every instant of a
	 * committed frame is energy or a gap: with a shorter hold a late
	 * reading's span went to the next frame, and an agent killed in
	 * between lost it (make chaos: ~2 % of energy over 60 kills).
	 */
	energy_integrator_init(&m->integ, (int64_t)(2 * cfg->bmc_poll_ms + cfg->bmc_timeout_ms) * 1000000);
	m->max_hold_ns = (int64_t)(2 * cfg->bmc_poll_ms + cfg->bmc_timeout_ms) * 1000000;
	m->cpus = (uint32_t)sysconf(_SC_NPROCESSORS_ONLN);
	m->idle_mw = (int64_t)cfg->idle_watts * 1000;
	m->prev_busy_ticks = host_busy_ticks();
	*out = m;
	return 0;
fail:
	sensor_map_set_free(&m->maps);
	free(m);
	return rc_;
}

void energy_meter_close(struct energy_meter *m)
{
	if (!m)
		return;
	power_reader_stop(m->reader);
	sensor_map_set_free(&m->maps);
	free(m);
}

void energy_meter_take(struct energy_meter *m, struct energy_take *out)
{
	struct power_sample buf[TAKE_BATCH];
	struct sensor_export_reading ex[32];
	size_t n, nx;
	long hz = sysconf(_SC_CLK_TCK);

	while ((n = power_reader_take(m->reader, buf, TAKE_BATCH)) > 0) {
		struct energy_result r;

		if (energy_integrate(&m->integ, buf, n, &r) == 0) {
			m->pending.host_mj += r.energy_mj;
			m->pending.covered_ns += r.covered_ns;
			m->pending.gap_ns += r.gap_ns;
		}
		if (n < TAKE_BATCH)
			break;
	}
	{
		/* energy up to this very tick, so frame and energy boundaries agree */
		int64_t now = power_reader_now_ns(), covered;
		int64_t mj = energy_hold_until(&m->integ, now, m->max_hold_ns, &covered);

		m->pending.host_mj += mj;
		m->pending.covered_ns += covered;
		/* a silence already known to be a gap goes in this frame, not when readings return */
		m->pending.gap_ns += energy_gap_until(&m->integ, now);
	}
	m->pending.gap_ms = m->pending.gap_ns / 1000000;
	m->pend_busy_ticks = host_busy_ticks();
	m->pending.host_busy_ns = (m->pend_busy_ticks - m->prev_busy_ticks) * (1000000000ull / (uint64_t)hz);
	m->pending.host_cpus = m->cpus;
	m->pending.idle_mw = m->idle_mw;
	m->pending.mean_mw = m->pending.covered_ns > 0
				     ? (int64_t)((__int128)m->pending.host_mj * 1000000000 / m->pending.covered_ns)
				     : -1;
	m->pending.inlet_dc = INT64_MIN;
	nx = power_reader_exports(m->reader, ex, sizeof(ex) / sizeof(ex[0]), NULL);
	for (size_t i = 0; i < nx; i++)
		if (ex[i].has_value && strcmp(ex[i].name, "temperature.inlet") == 0) {
			int64_t div = 1;

			/* exported in 10^-scale units; the metric keeps tenths */
			for (unsigned k = 1; k < ex[i].scale; k++)
				div *= 10;
			m->pending.inlet_dc = ex[i].scale ? ex[i].value / div : ex[i].value * 10;
		}
	*out = m->pending;
}

void energy_meter_gap_since(struct energy_meter *m, int64_t realtime_ns)
{
	struct timespec ts;
	int64_t real_now, ago;

	clock_gettime(CLOCK_REALTIME, &ts);
	real_now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	ago = real_now > realtime_ns ? real_now - realtime_ns : 0;
	/* readings are on CLOCK_MONOTONIC: the same instant, counted back from now */
	energy_integrator_start_gap(&m->integ, power_reader_now_ns() - ago);
}

void energy_meter_committed(struct energy_meter *m)
{
	memset(&m->pending, 0, sizeof(m->pending));
	m->prev_busy_ticks = m->pend_busy_ticks;
}

void energy_meter_status(struct energy_meter *m, char *buf, size_t len)
{
	struct power_reader_status st;
	static const char *const states[] = { "starting", "ok", "failing" };

	power_reader_get_status(m->reader, &st);
	snprintf(buf, len, "bmc=%s %s map=%s source=%s reads=%" PRIu64 " failures=%" PRIu64
		 " latency_us=%u%s%s", st.state <= 2 ? states[st.state] : "?", st.info.bmc,
		 st.info.map, st.info.source, st.reads, st.failures, st.last_latency_us,
		 st.last_error[0] ? " last_error=" : "", st.last_error);
}

void energy_meter_reader_status(struct energy_meter *m, struct power_reader_status *st)
{
	power_reader_get_status(m->reader, st);
}
