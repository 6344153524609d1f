/*
 * prom_metrics.h — what hvmeterd's Prometheus endpoint serves, in the text
 * exposition format (version 0.0.4).
 *
 * Per VM: counters that are the sums of every committed frame's deltas since
 * the agent began metering that VM (monotonic; they restart from zero only
 * with the agent or when the VM leaves the table and comes back), gauges
 * from the last frame, and the libvirt and Nova labels operators already
 * use with the libvirt exporter: domain, uuid, instance_name, project_uuid,
 * project_name, flavor (hvmeter_vm_info also has user_uuid, user_name,
 * root_uuid, like libvirt_domain_info_meta). Names follow the exporter's
 * (libvirt_domain_block_stats_read_bytes_total ->
 * hvmeter_vm_block_read_bytes_total{target_device="vda"}) under the hvmeter_
 * prefix, so a dashboard moves over by renaming. Per host: energy, power
 * and the agent's own health (sources, ledger, uplink, BMC).
 *
 * The text is rendered once per frame by the sampler's thread and handed
 * out as a copy: a scrape never waits for, or slows, a frame.
 *
 * Thread rules: prom_metrics_update() from one thread (the sampler's),
 * prom_metrics_snapshot() from any; they share only the rendered text,
 * under a mutex.
 */
#ifndef HV_DAEMON_PROM_METRICS_H
#define HV_DAEMON_PROM_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/agent.h"

struct prom_metrics;

/* The agent's health besides the sources (those come from the sampler). */
struct prom_health {
	const struct sampler_health *src;   /* NULL: not known */
	uint64_t last_seq;                  /* of the frame just committed */
	bool have_ledger;                   /* the ledger's figures were read: */
	uint64_t frames_kept, ring_used_bytes, ring_capacity_bytes;
	unsigned ledger_condition;          /* STORE_COND_* */
	int uplink;                         /* -1 off, 0 not connected, 1 connected */
	bool have_ack;                      /* the uplink said how far the rater got: */
	uint64_t ack_seq;
	bool bmc;                           /* a BMC is configured: the bmc_ fields count */
	bool bmc_ok;                        /* the last read succeeded */
	int64_t bmc_last_read_ns;           /* realtime of the last good read, 0 if none */
	uint32_t bmc_latency_us;            /* of that read */
	uint64_t bmc_reads, bmc_failures;
	int64_t tick_ns;                    /* how long the frame took to make and commit */
};

/* Allocates an empty set (its text already says hvmeter_build_info). 0 or -ENOMEM. */
int prom_metrics_new(struct prom_metrics **out, const char *version);
void prom_metrics_free(struct prom_metrics *pm);

/*
 * Adds committed frame @f to the totals, refreshes the VMs' labels and gauges
 * from the table @vms (every VM discovery knows, stopped ones included),
 * drops VMs neither in the table nor in the frame, and renders the text.
 * A resource the table does not know (its run ended while the agent was
 * down) takes its labels from the store's last announcement (@st may be
 * NULL). Returns 0 or -ENOMEM (the previous text stays).
 */
int prom_metrics_update(struct prom_metrics *pm, const struct frame *f, struct vm *const *vms,
			size_t n_vms, const struct prom_health *h, struct store *st);

/* A malloc'd copy of the current text (*len bytes, NUL-terminated). 0 or -ENOMEM. */
int prom_metrics_snapshot(struct prom_metrics *pm, char **out, size_t *len);

/* ---- prom_feed.c: filling prom_health in hvmeterd ---------------------------- */
struct prom_feed_sources {
	struct store *st;             /* the ledger (ring figures, labels of gone VMs) */
	struct energy_meter *energy;  /* NULL: no BMC */
	int64_t tick_start_ns;        /* realtime the tick began, 0 if unknown */
};

/*
 * The sampler's publish step: reads the ledger's ring figures, the uplink's
 * lines of @status (the text committed with the frame) and the BMC reader's
 * counters, then prom_metrics_update(). Returns its result.
 */
int prom_feed_frame(struct prom_metrics *pm, const struct prom_feed_sources *srcs,
		    const struct frame *f, struct vm *const *vms, size_t n_vms,
		    const struct sampler_health *health, const char *status);

/*
 * From a status text, the uplink's state (-1 off or absent, 0 not connected,
 * 1 connected or sending) and the rater's acknowledged sequence. Pure.
 */
void prom_status_uplink(const char *status, int *uplink, uint64_t *ack_seq, bool *have_ack);

#endif
