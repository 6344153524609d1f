/*
 * sampler.c — one tick: read every counter, turn it into deltas against the
 * stored baselines, and commit frame + baselines in one transaction.
 *
 * Source counters and their baseline keys (RUN = the run's cgroup id, hex):
 *   cpu/<cgroup id>        BPF on-CPU ns of one cgroup of a VM (metric
 *                          "cpu.time", or "cpu.time.vcpu" for vCPU cgroups,
 *                          which count towards both)
 *   lvcpu/<uuid>/RUN, lvcpuv/<uuid>/RUN   libvirt's cpu.time / Σ vcpu.N.time
 *   vcpu.alloc/<uuid>/RUN, memory.alloc/<uuid>/RUN   allocation integrals, unit·ms
 *   blk/<uuid>/RUN/<dev>/{read,write}.{bytes,requests}   QEMU block stats
 *   dhost/<blkcg id>/{read,write}.{bytes,requests}   BPF host view per VM
 *   net/<uuid>/RUN/<ifindex>/<tx|rx>/<class>/<bytes|packets>   tc counters
 *   netpre/<uuid>/RUN/<ifindex>/<tx|rx>/<bytes|packets>   what the tap carried
 *                          before our filter went on (class default)
 *   dhost-root/..., dhost-unattr/...   the root blkcg and uncreditable bios:
 *                          resource "host", labels part=unattributed
 * Keys carry the run so a domain that stops and starts between two ticks
 * keeps its old run's last interval apart from the new run.
 * If the commit fails, the in-memory baselines are reloaded from the store,
 * so the next tick recomputes the same deltas: nothing lost, nothing doubled.
 */
#include "daemon/agent.h"
#include "daemon/uplink.h"
#include "daemon/cpu_bpf.h"
#include "daemon/disk_bpf.h"
#include "daemon/net_bpf.h"
#include "daemon/netmeter.h"
#include "daemon/energy_meter.h"
#include "ipmi/energy.h"
#include "ipmi/power_reader.h"
#include "daemon/bpf_pin.h"
#include "daemon/log.h"

#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct sampler {
	struct uplink *uplink;
	const struct config *cfg;
	struct store *st;
	struct discovery *disc;
	struct cpu_bpf *bpf;        /* NULL: CPU from libvirt's domain stats */
	uint64_t bpf_epoch;
	struct disk_bpf *disk;      /* NULL: no host view of disk I/O */
	uint64_t disk_epoch;
	struct netmeter *net;       /* NULL: no network metering */
	struct energy_meter *energy; /* NULL: no energy */
	sampler_publish_fn publish;  /* NULL: nobody listens */
	void *publish_arg;
	struct sampler_health health; /* filled with the status text */
	/* per tap, this tick: BPF totals (pre-attach included) for the status */
	struct tap_total { int ifindex; uint64_t v[4]; } taps_seen[64];
	size_t n_taps_seen;
	uint64_t root_blkcg;
	char cpu_note[2048];
	struct baseline_set bases;
	int64_t last_end_ns;
	struct frame f;
	bool full_logged;
	/* scratch for one commit */
	struct baseline *put;
	size_t n_put, cap_put;
	char (*del)[STORE_KEY_MAX];
	size_t n_del, cap_del;
	struct { uint64_t id; int kind; } *forget; /* kind: FORGET_* */
	size_t n_forget, cap_forget;
};

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
	size_t c = *cap ? *cap : 32;
	void *np;

	if (need <= *cap)
		return 0;
	while (c < need)
		c *= 2;
	np = realloc(*p, c * elem);
	if (!np)
		return -ENOMEM;
	*p = np;
	*cap = c;
	return 0;
}

static int del_add(struct sampler *s, const char *key)
{
	if (grow((void **)&s->del, &s->cap_del, s->n_del + 1, sizeof(*s->del)))
		return -ENOMEM;
	snprintf(s->del[s->n_del++], STORE_KEY_MAX, "%s", key);
	return 0;
}

enum { FORGET_CPU, FORGET_DISK, FORGET_NET };

static int forget_add(struct sampler *s, uint64_t id, int kind)
{
	if (grow((void **)&s->forget, &s->cap_forget, s->n_forget + 1, sizeof(*s->forget)))
		return -ENOMEM;
	s->forget[s->n_forget].id = id;
	s->forget[s->n_forget].kind = kind;
	s->n_forget++;
	return 0;
}


/* Binds a baseline to where its deltas go (kept in the record for orphans). */
static void baseline_bind(struct baseline_entry *e, const char *resource, const char *metric,
		 const char *labels)
{
	if (strcmp(e->b.resource, resource) || strcmp(e->b.metric, metric) ||
	    strcmp(e->b.labels, labels)) {
		snprintf(e->b.resource, sizeof(e->b.resource), "%s", resource);
		snprintf(e->b.metric, sizeof(e->b.metric), "%s", metric);
		snprintf(e->b.labels, sizeof(e->b.labels), "%s", labels);
		e->dirty = true;
	}
}

/* The common path of a plain counter: baseline, delta, frame. */
static int sample_counter(struct sampler *s, const char *key, const char *resource,
			  const char *metric, const char *labels, uint64_t epoch, uint64_t value,
			  int64_t now)
{
	struct baseline_entry *e = baseline_set_get(&s->bases, key);

	if (!e)
		return -ENOMEM;
	baseline_bind(e, resource, metric, labels);
	return frame_delta_add(&s->f, resource, metric, labels,
			       baseline_advance(e, epoch, value, now, 1));
}

static const char *const disk_fields[4] = { "read.bytes", "write.bytes", "read.requests",
					    "write.requests" };

static uint64_t disk_field(const struct disk_io *io, int k)
{
	const uint64_t v[4] = { io->read_bytes, io->write_bytes, io->read_reqs, io->write_reqs };

	return v[k];
}

/* Bills the four host-view counters of one blkcg under @prefix. */
static int sample_disk_io(struct sampler *s, const char *prefix, uint64_t id, const char *resource,
			  const char *labels, const struct disk_io *io, int64_t now, bool retire)
{
	char key[STORE_KEY_MAX], metric[HV_METRIC_MAX];

	for (int k = 0; k < 4; k++) {
		struct baseline_entry *e;
		int err;

		snprintf(key, sizeof(key), "%s/%" PRIu64 "/%s", prefix, id, disk_fields[k]);
		snprintf(metric, sizeof(metric), "disk.host.%s", disk_fields[k]);
		if ((err = sample_counter(s, key, resource, metric, labels, s->disk_epoch,
					  disk_field(io, k), now)))
			return err;
		if (retire) {
			e = baseline_set_get(&s->bases, key);
			e->b.flags |= BASELINE_RETIRED;
			e->dirty = true;
		}
	}
	return 0;
}

static int sample_disk_vm(struct sampler *s, struct vm *vm, int64_t now)
{
	struct disk_io io;
	int err;

	if (!s->disk || !vm->blkcg_id)
		return 0;
	err = disk_bpf_read(s->disk, vm->blkcg_id, &io);
	if (err == -ENOENT)
		memset(&io, 0, sizeof(io)); /* no bio yet */
	else if (err)
		return err;
	return sample_disk_io(s, "dhost", vm->blkcg_id, vm->uuid, "", &io, now, !vm->running);
}

/* Write-back and other host I/O lands on the root blkcg: shown, not guessed. */
static int sample_disk_host(struct sampler *s, int64_t now)
{
	struct disk_io io;
	int err;

	if (!s->disk)
		return 0;
	if (s->root_blkcg && disk_bpf_read(s->disk, s->root_blkcg, &io) == 0 &&
	    (err = sample_disk_io(s, "dhost-root", s->root_blkcg, "host", "part=unattributed", &io,
				  now, false)))
		return err;
	if (disk_bpf_unattributed(s->disk, &io) == 0 &&
	    (err = sample_disk_io(s, "dhost-unattr", 0, "host", "part=unattributed", &io, now, false)))
		return err;
	return 0;
}

/* Emits a cgroup counter's delta to cpu.time, and to cpu.time.vcpu for vCPUs. */
static int emit_cpu(struct sampler *s, const struct baseline_entry *e, int64_t delta)
{
	int err = frame_delta_add(&s->f, e->b.resource, "cpu.time", "", delta);

	if (!err && strcmp(e->b.metric, "cpu.time.vcpu") == 0)
		err = frame_delta_add(&s->f, e->b.resource, "cpu.time.vcpu", "", delta);
	return err;
}

static int sample_cpu_bpf(struct sampler *s, struct vm *vm, int64_t now)
{
	char key[STORE_KEY_MAX];

	for (size_t i = 0; i < vm->n_cgroups; i++) {
		const struct vm_cgroup *cg = &vm->cgroups[i];
		struct baseline_entry *e;
		uint64_t ns = 0;
		int err;

		snprintf(key, sizeof(key), "cpu/%" PRIu64, cg->id);
		e = baseline_set_get(&s->bases, key);
		if (!e)
			return -ENOMEM;
		baseline_bind(e, vm->uuid, cg->role == CG_VCPU ? "cpu.time.vcpu" : "cpu.time", "");
		err = cpu_bpf_read(s->bpf, cg->id, &ns);
		if (err && err != -ENOENT) /* ENOENT: not scheduled yet, 0 so far */
			return err;
		if ((err = emit_cpu(s, e, baseline_advance(e, s->bpf_epoch, ns, now, 1))))
			return err;
		if (!vm->running) {
			/* kept one more tick: a task's last switch after rmdir still
			 * credits the cgroup; sample_orphans() bills that and drops it */
			e->b.flags |= BASELINE_RETIRED;
			e->dirty = true;
		}
	}
	return 0;
}

/* Allocation integrals: raw counters in unit·ms, advanced in whole ms. */
static int sample_alloc_one(struct sampler *s, struct vm *vm, const char *metric,
			    uint64_t units, int64_t t_end)
{
	char key[STORE_KEY_MAX];
	struct baseline_entry *e;
	uint64_t epoch = vm->run_epoch;
	int64_t from, ms, delta;
	uint64_t value;
	bool fresh;
	int err;

	/* The run's identity is its cgroup. Until it is known, wait: integrating
	 * from started_ns later loses nothing, while a provisional epoch would
	 * make the first frames count twice once the real one appears. */
	if (!epoch)
		return 0;
	snprintf(key, sizeof(key), "%s/%s/%" PRIx64, metric, vm->uuid, epoch);
	e = baseline_set_get(&s->bases, key);
	if (!e)
		return -ENOMEM;
	baseline_bind(e, vm->uuid, metric, "");
	/* a new counter or a new run integrates from the run's start */
	fresh = e->is_new || e->b.epoch != epoch;
	from = fresh ? vm->started_ns : e->b.time_ns;
	value = fresh ? 0 : e->b.value;
	ms = t_end > from ? (t_end - from) / 1000000 : 0;
	value += units * (uint64_t)ms;
	/* time advances by whole ms only: the remainder counts in the next frame */
	delta = baseline_advance(e, epoch, value, from + ms * 1000000, 1);
	if ((err = frame_delta_add(&s->f, vm->uuid, metric, "", delta)))
		return err;
	return vm->running ? 0 : del_add(s, key);
}

static struct tap_total *tap_total(struct sampler *s, int ifindex)
{
	for (size_t i = 0; i < s->n_taps_seen; i++)
		if (s->taps_seen[i].ifindex == ifindex)
			return &s->taps_seen[i];
	if (s->n_taps_seen == sizeof(s->taps_seen) / sizeof(s->taps_seen[0]))
		return NULL;
	memset(&s->taps_seen[s->n_taps_seen], 0, sizeof(s->taps_seen[0]));
	s->taps_seen[s->n_taps_seen].ifindex = ifindex;
	return &s->taps_seen[s->n_taps_seen++];
}

/* Which VM run (still in the table, stopped or not) owns tap @ifindex. */
static struct vm *vm_of_tap(struct sampler *s, uint32_t ifindex, const char **tap)
{
	struct vm **vms;
	size_t n;

	vms = discovery_vms(s->disc, &n);
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < vms[i]->n_taps; k++)
			if (vms[i]->taps[k].ifindex == (int)ifindex) {
				*tap = vms[i]->taps[k].name;
				return vms[i];
			}
	return NULL;
}

/* Tap ingress is what the VM sent (net.tx), egress what it received. */
static int net_one(struct sampler *s, struct vm *vm, const char *tap, uint32_t ifindex, bool tx,
		   const char *cls, const char *prefix, uint64_t bytes, uint64_t packets,
		   uint64_t epoch, int64_t now)
{
	char key[STORE_KEY_MAX], labels[HV_LABELS_MAX];
	struct tap_total *t = tap_total(s, (int)ifindex);
	int err;

	if (t) {
		t->v[tx ? 0 : 2] += bytes;
		t->v[tx ? 1 : 3] += packets;
	}
	snprintf(labels, sizeof(labels), "class=%s;device=%s", cls, tap);
	if (strcmp(prefix, "net") == 0)
		snprintf(key, sizeof(key), "net/%s/%" PRIx64 "/%u/%s/%s/bytes", vm->uuid, vm->run_epoch,
			 ifindex, tx ? "tx" : "rx", cls);
	else
		snprintf(key, sizeof(key), "netpre/%s/%" PRIx64 "/%u/%s/bytes", vm->uuid, vm->run_epoch,
			 ifindex, tx ? "tx" : "rx");
	err = sample_counter(s, key, vm->uuid, tx ? "net.tx.bytes" : "net.rx.bytes", labels, epoch,
			     bytes, now);
	if (err)
		return err;
	memcpy(strrchr(key, '/') + 1, "packets", 8);
	return sample_counter(s, key, vm->uuid, tx ? "net.tx.packets" : "net.rx.packets", labels,
			      epoch, packets, now);
}

struct net_ctx {
	struct sampler *s;
	int64_t now;
	uint64_t epoch;
};

static int on_net_counter(void *arg, uint32_t ifindex, uint8_t dir, const char *cls,
			  uint64_t bytes, uint64_t packets)
{
	struct net_ctx *c = arg;
	const char *tap;
	struct vm *vm = vm_of_tap(c->s, ifindex, &tap);

	if (!vm || !vm->run_epoch)
		return 0; /* not a VM's tap (yet): counted, billed once claimed */
	return net_one(c->s, vm, tap, ifindex, dir == NET_DIR_INGRESS, cls, "net", bytes, packets,
		       c->epoch, c->now);
}

/*
 * Every VM tap gets our filters (events may have been missed, names appear
 * in the XML after the link), then one map walk bills every counter, and
 * each tap's frames from before the attach are billed once as "default".
 */
static int sample_net(struct sampler *s, int64_t now)
{
	struct net_ctx c = { s, now, 0 };
	struct vm **vms;
	size_t n;
	int err;

	s->n_taps_seen = 0;
	if (!s->net)
		return 0;
	c.epoch = netmeter_epoch(s->net);
	netmeter_want_reset(s->net);
	vms = discovery_vms(s->disc, &n);
	for (size_t i = 0; i < n; i++) {
		if (!vms[i]->running || !vms[i]->run_epoch)
			continue;
		for (size_t k = 0; k < vms[i]->n_taps; k++) {
			struct vm_tap *t = &vms[i]->taps[k];
			struct link_stats pre;

			netmeter_ensure(s->net, t->name, &t->ifindex);
			if (t->ifindex && netmeter_pre_attach(s->net, t->ifindex, &pre) == 0 &&
			    ((err = net_one(s, vms[i], t->name, (uint32_t)t->ifindex, true, "default",
					    "netpre", pre.rx_bytes, pre.rx_packets, c.epoch, now)) ||
			     (err = net_one(s, vms[i], t->name, (uint32_t)t->ifindex, false, "default",
					    "netpre", pre.tx_bytes, pre.tx_packets, c.epoch, now))))
				return err;
		}
	}
	return netmeter_foreach(s->net, on_net_counter, &c);
}

/*
 * The interval's host energy (integrated BMC power, kept pending until a
 * frame with it commits) is shared out per ENERGY_POLICY: VM energy plus
 * the host remainder equals the host energy exactly. The shares use this
 * frame's cpu.time deltas, which cover the same span as the pending energy.
 */
static int sample_energy(struct sampler *s)
{
	struct energy_take t;
	struct energy_split sp;
	struct energy_vm *ev = NULL;
	struct vm **vms;
	size_t n;
	int err = 0;

	if (!s->energy)
		return 0;
	energy_meter_take(s->energy, &t);
	vms = discovery_vms(s->disc, &n);
	ev = calloc(n ? n : 1, sizeof(*ev));
	if (!ev)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct frame_delta *d = frame_delta_find(&s->f, vms[i]->uuid, "cpu.time", "");

		ev[i].cpu_ns = d && d->value > 0 ? (uint64_t)d->value : 0;
		ev[i].vcpus = vms[i]->running ? vms[i]->vcpus : 0;
	}
	memset(&sp, 0, sizeof(sp));
	sp.host_mj = t.host_mj;
	sp.covered_ns = t.covered_ns;
	sp.idle_mw = t.idle_mw;
	sp.host_cpu_ns = t.host_busy_ns;
	sp.host_cpus = t.host_cpus;
	if (t.host_mj > 0 && energy_apportion(&sp, ev, n) == 0) {
		for (size_t i = 0; i < n && !err; i++)
			err = frame_delta_add(&s->f, vms[i]->uuid, "energy", "", ev[i].energy_mj);
		if (!err)
			err = frame_delta_add(&s->f, "host", "energy", "part=remainder", sp.remainder_mj);
	} else if (t.host_mj > 0) {
		/* cannot share it out: all of it stays with the host, none is lost */
		err = frame_delta_add(&s->f, "host", "energy", "part=remainder", t.host_mj);
	}
	if (!err && t.host_mj)
		err = frame_delta_add(&s->f, "host", "energy", "", t.host_mj);
	if (!err && t.mean_mw >= 0)
		err = frame_delta_add(&s->f, "host", "power", "", t.mean_mw);
	if (!err && t.gap_ms > 0) /* a gap is a gap, never 0 W */
		err = frame_delta_add(&s->f, "host", "power.gap", "", t.gap_ms);
	if (!err && t.inlet_dc != INT64_MIN)
		err = frame_delta_add(&s->f, "host", "temperature.inlet", "", t.inlet_dc);
	free(ev);
	return err;
}

static int sample_vm(struct sampler *s, struct vm *vm, int64_t now)
{
	int64_t t_end = vm->running ? now : vm->stopped_ns;
	uint64_t rss;
	int err;

	if (!vm->announced) {
		struct frame_resource stored;

		if (store_resource_get(s->st, vm->uuid, &stored) != 0 ||
		    memcmp(&stored, &vm->meta, sizeof(stored)) != 0) {
			if ((err = frame_resource_add(&s->f, &vm->meta)))
				return err;
		}
		vm->announced = true;
	}
	if (s->bpf && (err = sample_cpu_bpf(s, vm, now)))
		return err;
	if ((err = sample_disk_vm(s, vm, now)))
		return err;
	if ((err = sample_alloc_one(s, vm, "vcpu.alloc", vm->vcpus, t_end)) ||
	    (err = sample_alloc_one(s, vm, "memory.alloc", vm->memory_kib / 1024, t_end)))
		return err;
	if (vm->running && vm->memcg_dir[0] && vm_memory_resident(vm, &rss) == 0)
		err = frame_delta_add(&s->f, vm->uuid, "memory.resident", "", (int64_t)(rss >> 20));
	return err;
}

struct lv_ctx {
	struct sampler *s;
	int64_t now;
};

static struct vm *vm_running_by_uuid(struct sampler *s, const char *uuid)
{
	struct vm **vms;
	size_t n;

	vms = discovery_vms(s->disc, &n);
	for (size_t i = 0; i < n; i++)
		if (vms[i]->running && strcmp(vms[i]->uuid, uuid) == 0)
			return vms[i];
	return NULL;
}

/*
 * QEMU's own figures via libvirt: billed disk I/O always (it equals the
 * guest's view whatever the cache mode or backend), CPU when BPF is not in
 * use. A run without a known cgroup yet has no epoch: wait a tick.
 */
static int on_libvirt_stats(const struct dom_stats *st, void *arg)
{
	struct lv_ctx *c = arg;
	struct sampler *s = c->s;
	struct vm *vm = vm_running_by_uuid(s, st->uuid);
	char key[STORE_KEY_MAX], labels[HV_LABELS_MAX];
	int err = 0;

	if (!vm || !vm->run_epoch)
		return 0;
	if (!s->bpf && st->has_cpu) {
		snprintf(key, sizeof(key), "lvcpu/%s/%" PRIx64, st->uuid, vm->run_epoch);
		err = sample_counter(s, key, st->uuid, "cpu.time", "", vm->run_epoch, st->cpu_ns, c->now);
	}
	if (!s->bpf && st->has_vcpu && !err) {
		snprintf(key, sizeof(key), "lvcpuv/%s/%" PRIx64, st->uuid, vm->run_epoch);
		err = sample_counter(s, key, st->uuid, "cpu.time.vcpu", "", vm->run_epoch, st->vcpu_ns,
				     c->now);
	}
	for (size_t i = 0; i < st->n_blocks && !err; i++) {
		static const char *const names[4] = { "disk.read.bytes", "disk.read.requests",
						      "disk.write.bytes", "disk.write.requests" };
		const struct dom_block_stats *b = &st->blocks[i];

		if (!b->dev[0])
			continue;
		snprintf(labels, sizeof(labels), "device=%s", b->dev);
		for (int k = 0; k < 4 && !err; k++) {
			if (!(b->have & (1u << k)))
				continue; /* not reported this tick: its baseline waits */
			snprintf(key, sizeof(key), "blk/%s/%" PRIx64 "/%s/%s", st->uuid, vm->run_epoch,
				 b->dev, names[k] + 5);
			err = sample_counter(s, key, st->uuid, names[k], labels, vm->run_epoch, b->v[k],
					     c->now);
		}
	}
	return err;
}

/*
 * Whether a baseline still belongs to a run in the table. Per-run counters
 * (allocation, disk, libvirt CPU) carry the run's epoch; they can go unread
 * for a tick while their run lives (libvirt away, a domain busy in a job).
 * BPF cgroup counters are read every tick while their run is in the table.
 */
static bool baseline_live(struct sampler *s, const struct baseline *b)
{
	struct vm **vms;
	size_t n;

	if (strncmp(b->key, "cpu/", 4) == 0 || strncmp(b->key, "dhost/", 6) == 0)
		return false;
	if (strncmp(b->key, "dhost-", 6) == 0)
		return true; /* the host's own counters live as long as the agent */
	if (strncmp(b->key, "net/", 4) == 0 || strncmp(b->key, "netpre/", 7) == 0) {
		/* keyed by run: live while that run is in the table */
		char uuid[VM_UUID_LEN];
		uint64_t run;

		if (sscanf(strchr(b->key, '/') + 1, "%36[^/]/%" SCNx64, uuid, &run) != 2)
			return false;
		vms = discovery_vms(s->disc, &n);
		for (size_t i = 0; i < n; i++)
			if (vms[i]->run_epoch == run && strcmp(vms[i]->uuid, uuid) == 0)
				return true;
		return false;
	}
	vms = discovery_vms(s->disc, &n);
	for (size_t i = 0; i < n; i++)
		if (vms[i]->run_epoch == b->epoch && strcmp(vms[i]->uuid, b->resource) == 0)
			return true;
	return false;
}

/*
 * Baselines nobody read this tick whose resource is not in the table: a VM
 * whose stop was accounted last tick, or one that stopped while we were not
 * running. A BPF cgroup counter still holds its final value: bill it and
 * retire the baseline; one tick later bill any last switch, then drop it
 * and the kernel entry.
 */
/* The final kernel reading of an orphaned BPF baseline, if its entry is still
 * there: 0 with *value, or -ENOENT. *id and *disk say which entry to forget. */
static int orphan_read(struct sampler *s, const struct baseline *b, uint64_t *value, uint64_t *id,
		       int *kind, uint64_t *epoch)
{
	char field[32];

	if (s->net && strncmp(b->key, "net/", 4) == 0) {
		char uuid[VM_UUID_LEN], dir[4], cls[48];
		uint64_t run, bytes, packets;
		int err;

		if (sscanf(b->key, "net/%36[^/]/%" SCNx64 "/%" SCNu64 "/%3[^/]/%47[^/]/%31s", uuid, &run,
			   id, dir, cls, field) != 6)
			return -ENOENT;
		err = netmeter_read(s->net, (uint32_t)*id,
				    strcmp(dir, "tx") == 0 ? NET_DIR_INGRESS : NET_DIR_EGRESS, cls,
				    &bytes, &packets);
		if (err)
			return err;
		*kind = FORGET_NET;
		*epoch = netmeter_epoch(s->net);
		*value = strcmp(field, "bytes") == 0 ? bytes : packets;
		return 0;
	}
	if (s->bpf && sscanf(b->key, "cpu/%" SCNu64, id) == 1) {
		*kind = FORGET_CPU;
		*epoch = s->bpf_epoch;
		return cpu_bpf_read(s->bpf, *id, value);
	}
	if (s->disk && sscanf(b->key, "dhost/%" SCNu64 "/%31s", id, field) == 2) {
		struct disk_io io;
		int err = disk_bpf_read(s->disk, *id, &io);

		if (err)
			return err;
		*kind = FORGET_DISK;
		*epoch = s->disk_epoch;
		for (int k = 0; k < 4; k++)
			if (strcmp(field, disk_fields[k]) == 0) {
				*value = disk_field(&io, k);
				return 0;
			}
	}
	return -ENOENT;
}

static int sample_orphans(struct sampler *s, int64_t now)
{
	for (size_t i = 0; i < s->bases.n; i++) {
		struct baseline_entry *e = &s->bases.v[i];
		uint64_t id, value, epoch;
		int kind;
		int err;

		if (e->touched || baseline_live(s, &e->b))
			continue;
		if (orphan_read(s, &e->b, &value, &id, &kind, &epoch) == 0) {
			int64_t d = baseline_advance(e, epoch, value, now, 1);

			err = kind != FORGET_CPU
				      ? frame_delta_add(&s->f, e->b.resource, e->b.metric, e->b.labels, d)
				      : emit_cpu(s, e, d);
			if (err)
				return err;
			if (!(e->b.flags & BASELINE_RETIRED)) {
				e->b.flags |= BASELINE_RETIRED; /* drop it next tick */
				e->dirty = true;
				continue;
			}
			if ((err = forget_add(s, id, kind)))
				return err;
		}
		if ((err = del_add(s, e->b.key)))
			return err;
	}
	return 0;
}

static int collect_puts(struct sampler *s)
{
	s->n_put = 0;
	for (size_t i = 0; i < s->bases.n; i++) {
		if (!s->bases.v[i].dirty)
			continue;
		if (grow((void **)&s->put, &s->cap_put, s->n_put + 1, sizeof(*s->put)))
			return -ENOMEM;
		s->put[s->n_put++] = s->bases.v[i].b;
	}
	return 0;
}

/* Appends to a status text; a text that no longer fits is cut, not overrun. */
static void appendf(char *buf, size_t len, size_t *off, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void appendf(char *buf, size_t len, size_t *off, const char *fmt, ...)
{
	va_list ap;
	int w;

	if (*off >= len - 1)
		return;
	va_start(ap, fmt);
	w = vsnprintf(buf + *off, len - *off, fmt, ap);
	va_end(ap);
	*off = w < 0 ? *off : (size_t)w >= len - *off ? len - 1 : *off + (size_t)w;
}

/* Whether the program's pin (named as in cpu_bpf.c, disk_bpf.c, net_bpf.c)
 * is still in bpf_pin_dir: without it counting ends with this process. */
static bool pinned(const struct sampler *s, const char *name)
{
	char path[CONFIG_PATH_MAX + 32];

	return bpf_pin_path(path, sizeof(path), s->cfg->bpf_pin_dir, name) == 0 &&
	       access(path, F_OK) == 0;
}

static const char *bpf_state(bool on, bool pin)
{
	return !on ? "off" : pin ? "attached+pinned" : "attached (pin gone: counting stops with the agent)";
}

/* The health of every source, into s->health and one status line each. */
static void status_health(struct sampler *s, char *buf, size_t len, size_t *off)
{
	struct sampler_health *h = &s->health;
	struct vm **vms;
	size_t n;

	memset(h, 0, sizeof(*h));
	h->libvirt_connected = discovery_connected(s->disc);
	h->cpu_bpf = s->bpf != NULL;
	h->disk_bpf = s->disk != NULL;
	h->net_bpf = s->net != NULL;
	h->cpu_pinned = h->cpu_bpf && pinned(s, "cpu_link");
	h->disk_pinned = h->disk_bpf && pinned(s, "disk_link");
	h->net_pinned = h->net_bpf && pinned(s, "net_ingress") && pinned(s, "net_egress");
	vms = discovery_vms(s->disc, &n);
	for (size_t i = 0; s->net && i < n; i++) {
		struct link_stats pre;

		if (!vms[i]->running)
			continue;
		for (size_t k = 0; k < vms[i]->n_taps; k++) {
			h->taps_wanted++;
			/* netmeter remembers a tap's counters only once our filters are on */
			h->taps_attached += vms[i]->taps[k].ifindex &&
					    netmeter_pre_attach(s->net, vms[i]->taps[k].ifindex, &pre) == 0;
		}
	}
	appendf(buf, len, off, "bpf=cpu_switch %s, disk_bio_queue %s, net_tc %s\n",
		bpf_state(h->cpu_bpf, h->cpu_pinned), bpf_state(h->disk_bpf, h->disk_pinned),
		bpf_state(h->net_bpf, h->net_pinned));
	if (s->net)
		appendf(buf, len, off, "taps=%u of %u attached\n", h->taps_attached, h->taps_wanted);
}

/* This frame's CPU, disk and network per VM: sums over devices and classes. */
struct vm_rates {
	uint64_t cpu_ns, rd, wr, tx, rx;
	uint32_t taps, taps_on;
};

static void vm_rates_add(struct vm_rates *r, const struct frame_delta *d)
{
	static const char *const metrics[] = { "cpu.time", "disk.read.bytes", "disk.write.bytes",
					       "net.tx.bytes", "net.rx.bytes" };
	uint64_t *slot[] = { &r->cpu_ns, &r->rd, &r->wr, &r->tx, &r->rx };

	for (int m = 0; m < 5; m++)
		if (strcmp(d->metric, metrics[m]) == 0 && d->value > 0)
			*slot[m] += (uint64_t)d->value;
}

static void vm_rates_sum(const struct frame *f, struct vm **vms, size_t n, struct vm_rates *r)
{
	size_t at = 0;

	for (size_t i = 0; n && i < f->n_delta; i++) {
		const struct frame_delta *d = &f->delta[i];

		/* deltas come grouped by resource: look up only when it changes */
		if (strcmp(vms[at]->uuid, d->resource)) {
			size_t k = 0;

			while (k < n && strcmp(vms[k]->uuid, d->resource))
				k++;
			if (k == n)
				continue;
			at = k;
		}
		vm_rates_add(&r[at], d);
	}
}

/* One "vm=" line per VM, in table order; those that do not fit are counted. */
static void status_vms(struct sampler *s, char *buf, size_t len, size_t *off)
{
	int64_t span = s->f.end_ns - s->f.start_ns;
	struct vm_rates *r;
	struct vm **vms;
	size_t n, shown = 0;

	vms = discovery_vms(s->disc, &n);
	if (!n || span <= 0 || !(r = calloc(n, sizeof(*r))))
		return;
	vm_rates_sum(&s->f, vms, n, r);
	appendf(buf, len, off, "vms_frame_s=%.3f\n", (double)span / 1e9);
	for (size_t i = 0; i < n; i++) {
		char line[400];
		struct link_stats pre;
		int w;

		for (size_t k = 0; k < vms[i]->n_taps; k++) {
			r[i].taps++;
			r[i].taps_on += s->net && vms[i]->taps[k].ifindex &&
					netmeter_pre_attach(s->net, vms[i]->taps[k].ifindex, &pre) == 0;
		}
		/* CPU in % of one CPU, the rest in B/s over the frame; compact, as
		 * it is rewritten every frame; the name last, as it may hold blanks */
		w = snprintf(line, sizeof(line),
			     "vm=%s cpu=%.1f rd=%.0f wr=%.0f tx=%.0f rx=%.0f taps=%u/%u run=%d name=%s\n",
			     vms[i]->uuid, (double)r[i].cpu_ns * 100 / (double)span,
			     (double)r[i].rd * 1e9 / (double)span, (double)r[i].wr * 1e9 / (double)span,
			     (double)r[i].tx * 1e9 / (double)span, (double)r[i].rx * 1e9 / (double)span,
			     r[i].taps_on, r[i].taps, vms[i]->running, vms[i]->name);
		/* keep room for the count of those left out */
		if (w < 0 || *off + (size_t)w + 48 >= len)
			break;
		appendf(buf, len, off, "%s", line);
		shown++;
	}
	if (shown < n)
		appendf(buf, len, off, "vms_not_shown=%zu\n", n - shown);
	free(r);
}

/* Sources and their health, the VMs' rates, then per tap the BPF totals
 * beside the kernel's link counters. */
static void status_text(struct sampler *s, char *buf, size_t len)
{
	size_t n, off = 0;

	buf[0] = '\0';
	off = uplink_status(s->uplink, buf, len); /* "uplink=..." lines first */
	discovery_vms(s->disc, &n);
	appendf(buf, len, &off, "%s\nnet=%s\nlibvirt=%s %s\nvms=%zu\ninterval=%u\n", s->cpu_note,
		s->net ? "bpf (tc clsact on taps)" : "unavailable",
		discovery_connected(s->disc) ? "connected" : "disconnected", s->cfg->libvirt_uri, n,
		s->cfg->interval);
	status_health(s, buf, len, &off);
	if (s->net)
		appendf(buf, len, &off, "netclass=%s\n", netmeter_classes_id(s->net));
	if (s->energy) {
		struct power_reader_status st;
		char line[1024];

		energy_meter_status(s->energy, line, sizeof(line));
		energy_meter_reader_status(s->energy, &st);
		if (st.last_ok_ns)
			appendf(buf, len, &off, "%s last_read_age=%.1fs\npolicy=%s\n", line,
				(double)(power_reader_now_ns() - st.last_ok_ns) / 1e9, ENERGY_POLICY);
		else
			appendf(buf, len, &off, "%s last_read=never\npolicy=%s\n", line, ENERGY_POLICY);
	} else {
		appendf(buf, len, &off, "bmc=none (no energy metering)\n");
	}
	status_vms(s, buf, len, &off);
	for (size_t i = 0; s->net && i < s->n_taps_seen; i++) {
		const struct tap_total *t = &s->taps_seen[i];
		struct link_stats k = { 0 };
		char name[IF_NAMESIZE] = "?", line[320];
		int w;

		if_indextoname((unsigned)t->ifindex, name);
		netmeter_link_stats(s->net, t->ifindex, &k);
		/* the tap receives what the VM sends */
		w = snprintf(line, sizeof(line),
			     "tap %s: bpf tx %" PRIu64 " B %" PRIu64 " p, rx %" PRIu64 " B %" PRIu64
			     " p | kernel tx %" PRIu64 " B %" PRIu64 " p, rx %" PRIu64 " B %" PRIu64 " p\n",
			     name, t->v[0], t->v[1], t->v[2], t->v[3], k.rx_bytes, k.rx_packets, k.tx_bytes,
			     k.tx_packets);
		/* whole lines only: the count of those left out ends the text */
		if (w < 0 || off + (size_t)w + 32 >= len) {
			appendf(buf, len, &off, "taps_not_shown=%zu\n", s->n_taps_seen - i);
			break;
		}
		appendf(buf, len, &off, "%s", line);
	}
}

int sampler_tick(struct sampler *s, int64_t now)
{
	struct vm **vms;
	size_t n;
	char status[STORE_STATUS_MAX];
	const char **del = NULL;
	int err;

	discovery_check(s->disc);
	frame_reset(&s->f);
	s->f.start_ns = s->last_end_ns;
	s->f.end_ns = now;
	/* which traffic classes were in force travels with every frame */
	snprintf(s->f.policy, sizeof(s->f.policy), "netclass=%s;energy=%s",
		 s->net ? netmeter_classes_id(s->net) : "none", s->energy ? ENERGY_POLICY : "none");
	s->n_del = s->n_forget = 0;
	for (size_t i = 0; i < s->bases.n; i++)
		s->bases.v[i].touched = false;

	vms = discovery_vms(s->disc, &n);
	for (size_t i = 0; i < n; i++)
		if ((err = sample_vm(s, vms[i], now)))
			goto fail;
	{
		struct lv_ctx c = { s, now };

		err = discovery_bulk_stats(s->disc, DOM_STATS_BLOCK | (s->bpf ? 0 : DOM_STATS_CPU),
					   on_libvirt_stats, &c);
		/* libvirt away: those counters wait in QEMU and are billed once it is back */
		if (err && err != -ENOTCONN && err != -EIO)
			goto fail;
	}
	if ((err = sample_energy(s)) || (err = sample_net(s, now)) || (err = sample_disk_host(s, now)) ||
	    (err = sample_orphans(s, now)) ||
	    (err = collect_puts(s)))
		goto fail;
	del = calloc(s->n_del + 1, sizeof(*del));
	if (!del) {
		err = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < s->n_del; i++)
		del[i] = s->del[i];
	status_text(s, status, sizeof(status));
	err = store_frame_commit(s->st, &s->f, s->put, s->n_put, del, s->n_del, status);
	free(del);
	if (err)
		goto fail;

	/* committed: make memory agree, then release kernel entries (order matters:
	 * an entry forgotten before the commit could lose its last delta) */
	for (size_t i = 0, j = 0; i < s->bases.n; i++) {
		/* collect_puts took the dirty ones in this order: keep the store's slots */
		if (s->bases.v[i].dirty && j < s->n_put)
			s->bases.v[i].b.slot = s->put[j++].slot;
		s->bases.v[i].dirty = false;
	}
	for (size_t i = 0; i < s->n_del; i++)
		baseline_set_remove(&s->bases, s->del[i]);
	if (s->publish) {
		vms = discovery_vms(s->disc, &n);
		s->publish(s->publish_arg, &s->f, vms, n, &s->health, status);
	}
	for (size_t i = 0; i < s->n_forget; i++) {
		if (s->forget[i].kind == FORGET_DISK)
			disk_bpf_forget(s->disk, s->forget[i].id);
		else if (s->forget[i].kind == FORGET_NET)
			netmeter_forget(s->net, s->forget[i].id);
		else
			cpu_bpf_forget(s->bpf, s->forget[i].id);
	}
	discovery_reap(s->disc);
	if (s->energy)
		energy_meter_committed(s->energy);
	s->last_end_ns = now;
	if (s->full_logged) {
		log_info("store writable again; frames resume from seq %" PRIu64, s->f.seq);
		s->full_logged = false;
	}
	log_debug("frame %" PRIu64 ": %zu deltas, %zu announcements", s->f.seq, s->f.n_delta,
		  s->f.n_res);
	return 0;
fail:
	if (err == -ENOSPC) {
		if (!s->full_logged)
			log_err("store %s is full: metering continues in the baselines; the next frame "
				"that fits carries the whole difference", s->cfg->store);
		s->full_logged = true;
	} else {
		log_err("frame not committed: %s", store_strerror(err));
	}
	/* back to what the store holds: the next tick recomputes these deltas */
	baseline_set_free(&s->bases);
	baseline_set_load(&s->bases, s->st);
	vms = discovery_vms(s->disc, &n);
	for (size_t i = 0; i < n; i++)
		vms[i]->announced = false;
	return err;
}

int sampler_open(struct sampler **out, const struct config *cfg, struct store *st,
		 struct discovery *disc, const struct sampler_sources *src)
{
	struct sampler *s = calloc(1, sizeof(*s));
	struct store_meta m;
	int err;

	*out = NULL;
	if (!s)
		return -ENOMEM;
	s->cfg = cfg;
	s->st = st;
	s->disc = disc;
	s->bpf = src->cpu;
	s->bpf_epoch = src->cpu ? cpu_bpf_epoch(src->cpu) : 0;
	s->disk = src->disk;
	s->net = src->net;
	s->energy = src->energy;
	s->disk_epoch = src->disk ? disk_bpf_epoch(src->disk) : 0;
	if (s->disk && disk_blkcg_root_id(&s->root_blkcg))
		s->root_blkcg = 0;
	snprintf(s->cpu_note, sizeof(s->cpu_note), "%s", src->note);
	frame_init(&s->f);
	if ((err = store_meta_read(st, &m)) || (err = baseline_set_load(&s->bases, st))) {
		sampler_close(s);
		return err;
	}
	/* after a restart the first frame covers the time we were down */
	s->last_end_ns = m.last_end_ns ? m.last_end_ns : realtime_ns();
	/* and has no energy for it: a power gap until the BMC's first reading */
	if (m.last_end_ns && s->energy)
		energy_meter_gap_since(s->energy, m.last_end_ns);
	*out = s;
	return 0;
}

void sampler_close(struct sampler *s)
{
	if (!s)
		return;
	frame_free(&s->f);
	baseline_set_free(&s->bases);
	free(s->put);
	free(s->del);
	free(s->forget);
	free(s);
}

void sampler_set_uplink(struct sampler *s, struct uplink *u)
{
	s->uplink = u;
}

void sampler_set_publish(struct sampler *s, sampler_publish_fn fn, void *arg)
{
	s->publish = fn;
	s->publish_arg = arg;
}

void sampler_set_energy(struct sampler *s, struct energy_meter *e)
{
	s->energy = e;
}
