/*
 * energy_meter.h — host power from the BMC (ipmi/ reader thread), turned
 * into energy per frame and shared out to VMs (policy ENERGY_POLICY).
 */
#ifndef HV_DAEMON_ENERGY_METER_H
#define HV_DAEMON_ENERGY_METER_H

#include <stddef.h>
#include <stdint.h>

#include "daemon/config.h"

struct energy_meter;
struct bmc_config;

/* The [bmc] section as an ipmi/ connection config; creates the SDR cache
 * directory under @state_dir. 0, -ENOENT (driver none) or -errno, @err set. */
int energy_meter_bmc_config(const struct config *cfg, const char *state_dir, struct bmc_config *bc,
			    char *err, size_t errlen);

/* What one frame gets. Values in metric units (mJ, mW, ms, 0.1 °C). */
struct energy_take {
	int64_t host_mj;      /* energy of the covered time */
	int64_t covered_ns;
	int64_t gap_ms;       /* time without readings (gap_ns, whole ms) */
	int64_t gap_ns;
	int64_t mean_mw;      /* host_mj / covered, -1 if nothing covered */
	int64_t inlet_dc;     /* inlet temperature, tenths of °C, INT64_MIN if unknown */
	uint64_t host_busy_ns;/* the host's busy CPU time over the same frame */
	uint32_t host_cpus;
	int64_t idle_mw;
};

/*
 * Starts reading the BMC named in @cfg's [bmc] in a thread of its own; the
 * SDR cache goes under @state_dir. *out is NULL (and 0 returned) when the
 * driver is "none". An in-band driver without a device, or unusable maps,
 * return -errno with @err filled; the caller goes on without energy.
 */
int energy_meter_open(struct energy_meter **out, const struct config *cfg, const char *state_dir,
		      char *err, size_t errlen);
void energy_meter_close(struct energy_meter *m);

/*
 * Integrates what the reader gathered since the last call into the pending
 * take, and returns the pending take (everything not yet committed). Never
 * waits on the BMC.
 */
void energy_meter_take(struct energy_meter *m, struct energy_take *out);
/*
 * The agent restarted: its first frame starts at @realtime_ns (the last
 * frame's end), and the time from then to the first reading — the
 * downtime included — is a gap. Call before the first take.
 */
void energy_meter_gap_since(struct energy_meter *m, int64_t realtime_ns);
/* The frame with the pending take was committed: start a new one. */
void energy_meter_committed(struct energy_meter *m);
/* One line for `hvmeter status`. */
void energy_meter_status(struct energy_meter *m, char *buf, size_t len);
/* The BMC reader's state, counters and last good read (CLOCK_MONOTONIC). */
struct power_reader_status;
void energy_meter_reader_status(struct energy_meter *m, struct power_reader_status *st);

#endif
