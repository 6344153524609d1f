/*
 * discovery.c — which domains run here, from libvirt alone.
 *
 * Lists running domains at connect time and follows lifecycle and metadata
 * events through libvirt's event loop; reads everything it needs from the
 * domain XML (including Nova's <nova:instance>), so metering makes no
 * control-plane call. The table holds one entry per *run* of a domain: a
 * stopped run stays until the sampler has accounted for its last interval,
 * even if the same domain starts again meanwhile.
 */
#include "daemon/agent.h"
#include "daemon/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

struct discovery {
	const struct config *cfg;
	char v2_mount[HV_PATH_MAX];
	virConnectPtr conn;
	int cb_lifecycle, cb_metadata, cb_dev_added, cb_dev_removed;
	bool connected;
	int64_t down_since_ns;   /* when the connection was lost */
	int64_t next_retry_ns;
	struct vm **vms;
	size_t n, cap;
};

static const char *virt_err(void)
{
	const char *m = virGetLastErrorMessage();

	return m ? m : "unknown libvirt error";
}

/* libvirt prints errors to stderr by default; we log them ourselves. */
static void virt_quiet(void *opaque, virErrorPtr e)
{
}

static struct vm *vm_running(struct discovery *d, const char *uuid)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->vms[i]->running && strcmp(d->vms[i]->uuid, uuid) == 0)
			return d->vms[i];
	return NULL;
}

static struct vm *vm_add(struct discovery *d)
{
	struct vm *vm;

	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 16;
		struct vm **nv = realloc(d->vms, cap * sizeof(*nv));

		if (!nv)
			return NULL;
		d->vms = nv;
		d->cap = cap;
	}
	vm = calloc(1, sizeof(*vm));
	if (vm)
		d->vms[d->n++] = vm;
	return vm;
}

/* Reads XML, pid and cgroups of a running domain into a (new or existing) run. */
static int vm_refresh(struct discovery *d, virDomainPtr dom, int64_t started_ns)
{
	char uuid[VIR_UUID_STRING_BUFLEN];
	struct vm tmp, *vm;
	char *xml;
	int err;

	if (virDomainGetUUIDString(dom, uuid) < 0)
		return -EIO;
	xml = virDomainGetXMLDesc(dom, 0);
	if (!xml) {
		log_warn("domain %s: cannot read XML: %s", uuid, virt_err());
		return -EIO;
	}
	memset(&tmp, 0, sizeof(tmp));
	err = domain_xml_parse(xml, &tmp);
	free(xml);
	if (err) {
		log_warn("domain %s: unreadable XML", uuid);
		return err;
	}
	vm = vm_running(d, uuid);
	if (!vm) {
		vm = vm_add(d);
		if (!vm)
			return -ENOMEM;
		memcpy(vm->uuid, tmp.uuid, sizeof(vm->uuid));
		vm->running = true;
		vm->started_ns = started_ns;
		log_info("domain %s (%s) running", tmp.name, uuid);
	}
	memcpy(vm->name, tmp.name, sizeof(vm->name));
	vm->vcpus = tmp.vcpus;
	vm->memory_kib = tmp.memory_kib;
	/* keep ifindexes already resolved for taps still listed */
	for (size_t i = 0; i < tmp.n_taps; i++)
		for (size_t k = 0; k < vm->n_taps; k++)
			if (strcmp(tmp.taps[i].name, vm->taps[k].name) == 0)
				tmp.taps[i].ifindex = vm->taps[k].ifindex;
	vm->n_taps = tmp.n_taps;
	memcpy(vm->taps, tmp.taps, sizeof(vm->taps));
	if (memcmp(&vm->meta, &tmp.meta, sizeof(tmp.meta))) {
		vm->meta = tmp.meta;
		vm->announced = false;
	}
	if (!vm->pid && qemu_pid_of(vm->name, &vm->pid) == 0 && !started_ns) {
		/* found running, not seen starting: the process start bounds the run */
		pid_start_realtime(vm->pid, &vm->started_ns);
	}
	if (!vm->started_ns)
		vm->started_ns = realtime_ns();
	err = vm_cgroups_scan(vm, d->v2_mount);
	if (err)
		log_debug("domain %s: cgroups not found yet: %s", uuid, strerror(-err));
	return 0;
}

static void vm_stopped(struct discovery *d, const char *uuid, int64_t when)
{
	struct vm *vm = vm_running(d, uuid);

	if (!vm)
		return;
	vm->running = false;
	vm->stopped_ns = when;
	log_info("domain %s (%s) stopped", vm->name, uuid);
}

static int on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque)
{
	struct discovery *d = opaque;
	char uuid[VIR_UUID_STRING_BUFLEN];
	int64_t now = realtime_ns();

	if (virDomainGetUUIDString(dom, uuid) < 0)
		return 0;
	switch (event) {
	case VIR_DOMAIN_EVENT_STARTED:
		vm_refresh(d, dom, now);
		break;
	case VIR_DOMAIN_EVENT_STOPPED:
		vm_stopped(d, uuid, now);
		break;
	case VIR_DOMAIN_EVENT_DEFINED:
		/* a persistent domain's config changed: refresh if it runs */
		if (vm_running(d, uuid))
			vm_refresh(d, dom, 0);
		break;
	default: /* suspend/resume: still allocated, still metered */
		break;
	}
	return 0;
}

static void on_metadata(virConnectPtr conn, virDomainPtr dom, int type, const char *nsuri,
			void *opaque)
{
	struct discovery *d = opaque;
	char uuid[VIR_UUID_STRING_BUFLEN];

	if (virDomainGetUUIDString(dom, uuid) == 0 && vm_running(d, uuid))
		vm_refresh(d, dom, 0);
}

/* NIC hot-plug and unplug change the taps: read the XML again. */
static void on_device(virConnectPtr conn, virDomainPtr dom, const char *alias, void *opaque)
{
	struct discovery *d = opaque;
	char uuid[VIR_UUID_STRING_BUFLEN];

	if (virDomainGetUUIDString(dom, uuid) == 0 && vm_running(d, uuid))
		vm_refresh(d, dom, 0);
}

static void on_close(virConnectPtr conn, int reason, void *opaque)
{
	struct discovery *d = opaque;

	if (d->connected)
		log_warn("libvirt connection lost (reason %d); CPU counters keep counting", reason);
	d->connected = false;
	d->down_since_ns = realtime_ns();
}

static void conn_drop(struct discovery *d)
{
	if (!d->conn)
		return;
	if (d->cb_lifecycle >= 0)
		virConnectDomainEventDeregisterAny(d->conn, d->cb_lifecycle);
	if (d->cb_metadata >= 0)
		virConnectDomainEventDeregisterAny(d->conn, d->cb_metadata);
	if (d->cb_dev_added >= 0)
		virConnectDomainEventDeregisterAny(d->conn, d->cb_dev_added);
	if (d->cb_dev_removed >= 0)
		virConnectDomainEventDeregisterAny(d->conn, d->cb_dev_removed);
	virConnectUnregisterCloseCallback(d->conn, on_close);
	virConnectClose(d->conn);
	d->conn = NULL;
	d->cb_lifecycle = d->cb_metadata = d->cb_dev_added = d->cb_dev_removed = -1;
	d->connected = false;
}

/* Lists running domains; runs we thought alive but libvirt does not list
 * stopped while we could not see: bound their end by the outage start. */
static int relist(struct discovery *d)
{
	virDomainPtr *doms = NULL;
	int n = virConnectListAllDomains(d->conn, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
	int64_t gone_at = d->down_since_ns ? d->down_since_ns : realtime_ns();

	if (n < 0) {
		log_warn("cannot list domains: %s", virt_err());
		return -EIO;
	}
	for (size_t i = 0; i < d->n; i++) {
		bool alive = false;

		if (!d->vms[i]->running)
			continue;
		for (int k = 0; k < n && !alive; k++) {
			char uuid[VIR_UUID_STRING_BUFLEN];

			alive = virDomainGetUUIDString(doms[k], uuid) == 0 &&
				strcmp(uuid, d->vms[i]->uuid) == 0;
		}
		if (!alive)
			vm_stopped(d, d->vms[i]->uuid, gone_at);
	}
	for (int k = 0; k < n; k++) {
		vm_refresh(d, doms[k], 0);
		virDomainFree(doms[k]);
	}
	free(doms);
	d->down_since_ns = 0;
	return 0;
}

static int conn_open(struct discovery *d, char *err, size_t errlen)
{
	d->conn = virConnectOpen(d->cfg->libvirt_uri);
	if (!d->conn) {
		if (err)
			snprintf(err, errlen, "cannot connect to libvirt at %s: %s",
				 d->cfg->libvirt_uri, virt_err());
		return -ECONNREFUSED;
	}
	/* a dead libvirtd is noticed within interval*count seconds */
	virConnectSetKeepAlive(d->conn, (int)d->cfg->libvirt_timeout, 3);
	virConnectRegisterCloseCallback(d->conn, on_close, d, NULL);
	d->cb_lifecycle = virConnectDomainEventRegisterAny(d->conn, NULL,
		VIR_DOMAIN_EVENT_ID_LIFECYCLE, VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), d, NULL);
	d->cb_metadata = virConnectDomainEventRegisterAny(d->conn, NULL,
		VIR_DOMAIN_EVENT_ID_METADATA_CHANGE, VIR_DOMAIN_EVENT_CALLBACK(on_metadata), d, NULL);
	d->cb_dev_added = virConnectDomainEventRegisterAny(d->conn, NULL,
		VIR_DOMAIN_EVENT_ID_DEVICE_ADDED, VIR_DOMAIN_EVENT_CALLBACK(on_device), d, NULL);
	d->cb_dev_removed = virConnectDomainEventRegisterAny(d->conn, NULL,
		VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED, VIR_DOMAIN_EVENT_CALLBACK(on_device), d, NULL);
	if (d->cb_lifecycle < 0) {
		if (err)
			snprintf(err, errlen, "cannot follow libvirt events at %s: %s",
				 d->cfg->libvirt_uri, virt_err());
		conn_drop(d);
		return -EIO;
	}
	d->connected = true;
	return relist(d);
}

int discovery_open(struct discovery **out, const struct config *cfg, const char *v2_mount,
		   char *err, size_t errlen)
{
	struct discovery *d = calloc(1, sizeof(*d));
	int rc;

	*out = NULL;
	if (!d)
		return -ENOMEM;
	d->cfg = cfg;
	d->cb_lifecycle = d->cb_metadata = d->cb_dev_added = d->cb_dev_removed = -1;
	snprintf(d->v2_mount, sizeof(d->v2_mount), "%s", v2_mount);
	virSetErrorFunc(NULL, virt_quiet);
	rc = conn_open(d, err, errlen);
	if (rc && !d->connected) {
		discovery_close(d);
		return rc;
	}
	*out = d;
	return 0;
}

void discovery_close(struct discovery *d)
{
	if (!d)
		return;
	conn_drop(d);
	for (size_t i = 0; i < d->n; i++)
		free(d->vms[i]);
	free(d->vms);
	free(d);
}

struct vm **discovery_vms(struct discovery *d, size_t *n)
{
	*n = d->n;
	return d->vms;
}

void discovery_reap(struct discovery *d)
{
	size_t out = 0;

	for (size_t i = 0; i < d->n; i++) {
		if (!d->vms[i]->running) {
			free(d->vms[i]);
			continue;
		}
		d->vms[out++] = d->vms[i];
	}
	d->n = out;
}

bool discovery_connected(const struct discovery *d)
{
	return d->connected;
}

int discovery_check(struct discovery *d)
{
	int64_t now = realtime_ns();
	int rc;

	/* cgroups appear after the start event for hot-plugged vCPUs; rescan cheaply */
	for (size_t i = 0; i < d->n; i++)
		if (d->vms[i]->running) {
			if (!d->vms[i]->pid)
				qemu_pid_of(d->vms[i]->name, &d->vms[i]->pid);
			vm_cgroups_scan(d->vms[i], d->v2_mount);
		}
	if (d->connected)
		return 0;
	if (now < d->next_retry_ns)
		return -ENOTCONN;
	conn_drop(d);
	if (!d->down_since_ns)
		d->down_since_ns = now;
	rc = conn_open(d, NULL, 0);
	if (rc) {
		d->next_retry_ns = now + 5000000000ll;
		return -ENOTCONN;
	}
	log_info("libvirt connection restored");
	return 0;
}

/*
 * Block stats arrive as block.N.name / block.N.rd.bytes ...; N indexes the
 * disk. With NOWAIT, a domain busy in a job gets its names but not its
 * counters: an absent counter is "no reading", never 0 (a 0 would look like
 * a reset and bill the whole counter again when it comes back).
 */
static void block_param(struct dom_stats *st, const char *field, virTypedParameterPtr p)
{
	static const char *const names[4] = { "rd.bytes", "rd.reqs", "wr.bytes", "wr.reqs" };
	char *end;
	unsigned long n = strtoul(field, &end, 10);
	struct dom_block_stats *b;

	if (end == field || *end != '.' || n >= DOM_BLOCKS_MAX)
		return;
	if (n >= st->n_blocks)
		st->n_blocks = n + 1;
	b = &st->blocks[n];
	end++;
	if (strcmp(end, "name") == 0 && p->type == VIR_TYPED_PARAM_STRING) {
		snprintf(b->dev, sizeof(b->dev), "%s", p->value.s);
		return;
	}
	if (p->type != VIR_TYPED_PARAM_ULLONG)
		return;
	for (int k = 0; k < 4; k++)
		if (strcmp(end, names[k]) == 0) {
			b->v[k] = p->value.ul;
			b->have |= 1u << k;
		}
}

int discovery_bulk_stats(struct discovery *d, unsigned what,
			 int (*cb)(const struct dom_stats *st, void *arg), void *arg)
{
	virDomainStatsRecordPtr *recs = NULL;
	unsigned int stats = 0;
	struct dom_stats *st;
	int n, err = 0;

	if (!d->connected)
		return -ENOTCONN;
	if (what & DOM_STATS_CPU)
		stats |= VIR_DOMAIN_STATS_CPU_TOTAL | VIR_DOMAIN_STATS_VCPU;
	if (what & DOM_STATS_BLOCK)
		stats |= VIR_DOMAIN_STATS_BLOCK;
	st = malloc(sizeof(*st));
	if (!st)
		return -ENOMEM;
	n = virConnectGetAllDomainStats(d->conn, stats, &recs,
					VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE |
					VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT);
	if (n < 0) {
		free(st);
		return -EIO;
	}
	for (int i = 0; i < n && !err; i++) {
		memset(st, 0, sizeof(*st));
		if (virDomainGetUUIDString(recs[i]->dom, st->uuid) < 0)
			continue;
		for (int k = 0; k < recs[i]->nparams; k++) {
			virTypedParameterPtr p = &recs[i]->params[k];
			size_t len = strlen(p->field);

			if (strncmp(p->field, "block.", 6) == 0) {
				block_param(st, p->field + 6, p);
			} else if (p->type != VIR_TYPED_PARAM_ULLONG) {
				continue;
			} else if (strcmp(p->field, "cpu.time") == 0) {
				st->cpu_ns = p->value.ul;
				st->has_cpu = true;
			} else if (strncmp(p->field, "vcpu.", 5) == 0 && len > 5 &&
				   strcmp(p->field + len - 5, ".time") == 0) {
				st->vcpu_ns += p->value.ul;
				st->has_vcpu = true;
			}
		}
		err = cb(st, arg);
	}
	virDomainStatsRecordListFree(recs);
	free(st);
	return err;
}
