/*
 * prom_feed.c — after each committed frame, gathers what the metrics show
 * besides the frame (ledger, uplink, BMC) and updates the exposition.
 * Runs in the sampler's thread; the reads are the cheap ones: one ring
 * read of the store, the status text the sampler already made, the BMC
 * reader's counters.
 */
#include "daemon/prom_metrics.h"
#include "daemon/energy_meter.h"
#include "daemon/log.h"
#include "ipmi/power_reader.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void prom_status_uplink(const char *status, int *uplink, uint64_t *ack_seq, bool *have_ack)
{
	const char *line = status;

	*uplink = -1;
	*ack_seq = 0;
	*have_ack = false;
	while (line && *line) {
		size_t n = strcspn(line, "\n");

		/* uplink.h documents these lines: "uplink=STATE ..." and "uplink_acked=seq N ..." */
		if (strncmp(line, "uplink=", 7) == 0) {
			const char *st = line + 7;

			if (strncmp(st, "off", 3) == 0 && (st[3] == '\n' || st[3] == '\0' || st[3] == ' '))
				*uplink = -1;
			else
				*uplink = strncmp(st, "connected", 9) == 0 || strncmp(st, "sending", 7) == 0;
		} else if (strncmp(line, "uplink_acked=seq ", 17) == 0) {
			*have_ack = sscanf(line + 17, "%" SCNu64, ack_seq) == 1;
		}
		line += n + (line[n] == '\n');
	}
}

int prom_feed_frame(struct prom_metrics *pm, const struct prom_feed_sources *srcs,
		    const struct frame *f, struct vm *const *vms, size_t n_vms,
		    const struct sampler_health *health, const char *status)
{
	struct prom_health h = { .src = health };
	struct store_ring r;
	uint64_t ack = 0;
	bool have_ack = false;

	if (srcs->st && store_ring_read(srcs->st, &r) == 0) {
		h.have_ledger = true;
		h.frames_kept = r.n_frames;
		h.ring_used_bytes = r.used_bytes;
		h.ring_capacity_bytes = r.capacity_bytes;
		h.ledger_condition = store_condition(srcs->st);
	}
	h.last_seq = f->seq;
	prom_status_uplink(status, &h.uplink, &ack, &have_ack);
	h.have_ack = h.uplink >= 0 && have_ack;
	h.ack_seq = ack;
	if (srcs->energy) {
		struct power_reader_status st;

		energy_meter_reader_status(srcs->energy, &st);
		h.bmc = true;
		h.bmc_ok = st.state == POWER_READER_OK;
		/* the reader's clock is monotonic: place its last read on the wall clock */
		if (st.last_ok_ns)
			h.bmc_last_read_ns = realtime_ns() - (power_reader_now_ns() - st.last_ok_ns);
		h.bmc_latency_us = st.last_latency_us;
		h.bmc_reads = st.reads;
		h.bmc_failures = st.failures;
	}
	if (srcs->tick_start_ns)
		h.tick_ns = realtime_ns() - srcs->tick_start_ns;
	return prom_metrics_update(pm, f, vms, n_vms, &h, srcs->st);
}
