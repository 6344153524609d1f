#include "daemon/netmeter.h"
#include "daemon/log.h"
#include "daemon/net_bpf.h"
#include "daemon/netclass.h"

#include <errno.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NETMETER_PRE_MAX 1024

struct netmeter {
	struct net_bpf *bpf;
	struct netclass *nc;
	struct taps *taps;
	char classes_path[512];
	char classes_id[80];
	/* a tap's kernel counters when our filter went on it (attach returned 0) */
	struct { int ifindex; struct link_stats st; } pre[NETMETER_PRE_MAX];
	size_t n_pre;
	/* taps our VMs own (from their XML): only these get our filters, so
	 * nothing of another tool's or another agent's is touched */
	char wanted[NETMETER_PRE_MAX][IF_NAMESIZE];
	size_t n_wanted;
};

static bool wanted(const struct netmeter *m, const char *name)
{
	for (size_t i = 0; i < m->n_wanted; i++)
		if (strcmp(m->wanted[i], name) == 0)
			return true;
	return false;
}

static void pre_remember(struct netmeter *m, int ifindex, const struct link_stats *st)
{
	for (size_t i = 0; i < m->n_pre; i++)
		if (m->pre[i].ifindex == ifindex) {
			m->pre[i].st = *st;
			return;
		}
	if (m->n_pre < NETMETER_PRE_MAX) {
		m->pre[m->n_pre].ifindex = ifindex;
		m->pre[m->n_pre].st = *st;
		m->n_pre++;
	}
}

int netmeter_pre_attach(const struct netmeter *m, int ifindex, struct link_stats *pre)
{
	for (size_t i = 0; i < m->n_pre; i++)
		if (m->pre[i].ifindex == ifindex) {
			*pre = m->pre[i].st;
			return 0;
		}
	return -ENOENT;
}

static void attach(struct netmeter *m, int ifindex, const char *name)
{
	struct link_stats at;
	int rc = net_bpf_attach(m->bpf, ifindex, &at);

	if (rc == 0) {
		pre_remember(m, ifindex, &at);
		log_debug("tap %s (%d): filters attached; %llu/%llu packets before", name, ifindex,
			  (unsigned long long)at.rx_packets, (unsigned long long)at.tx_packets);
	} else if (rc < 0 && rc != -ENODEV) {
		log_warn("tap %s: cannot attach traffic counters: %s", name, strerror(-rc));
	}
}

/*
 * Tap names of VMs: libvirt's own (vnet*, macvtap*) and Nova's (tap + the
 * port id, named in the domain XML). Such a tap gets our filters when its
 * link appears, before QEMU runs: a frame queued on a tap before the guest's
 * driver reads it passes our hook at once but reaches the tap's TX counter
 * only when read, so a later attach (once the XML is read) could neither
 * see nor reconcile it — a few frames short per VM start. Only tun/tap
 * devices qualify (tun_flags); another tool's tap named so is counted but
 * billed to nobody, as no VM's XML names it.
 */
static bool libvirt_tap(const char *name)
{
	char path[IF_NAMESIZE + 40];

	if (strncmp(name, "vnet", 4) && strncmp(name, "macvtap", 7) && strncmp(name, "tap", 3))
		return false;
	snprintf(path, sizeof(path), "/sys/class/net/%s/tun_flags", name);
	return access(path, F_OK) == 0 || strncmp(name, "macvtap", 7) == 0;
}

/* A VM's tap that comes back (same name, new link: a restart) gets our
 * filters the moment it appears (RTM_NEWLINK). A tap not named yet in any
 * XML (hot-plug) is attached at the next tick; what it carried before is
 * billed from its kernel counters at attach. */
static void on_link(void *arg, int ifindex, const char *name, enum taps_event ev)
{
	struct netmeter *m = arg;

	if (ev == TAPS_NEW && (wanted(m, name) || libvirt_tap(name)))
		attach(m, ifindex, name);
}

int netmeter_open(struct netmeter **out, const char *pin_dir, const char *classes, char *err,
		  size_t errlen)
{
	struct netmeter *m = calloc(1, sizeof(*m));
	struct netclass_ids ids;
	char hex[2 * NETCLASS_SHA256_LEN + 1];
	int rc;

	*out = NULL;
	if (!m)
		return -ENOMEM;
	snprintf(m->classes_path, sizeof(m->classes_path), "%s", classes ? classes : "");
	{
		/* One filter identity per pin dir: a second agent (a test, an
		 * operator's trial) adds its own filter beside ours instead of
		 * replacing it, and each counts on its own. */
		struct net_bpf_opts o = { .pin_dir = pin_dir };
		uint32_t h = 2166136261u;

		for (const char *p = pin_dir ? pin_dir : ""; *p; p++)
			h = (h ^ (uint8_t)*p) * 16777619u;
		o.tc_handle = 0x48560000u | (h & 0xffffu);
		rc = net_bpf_open_opts(&m->bpf, &o);
	}
	if (rc) {
		snprintf(err, errlen, "BPF tc programs unavailable: %s", strerror(-rc));
		goto fail;
	}
	if ((rc = net_bpf_class_ids(m->bpf, &ids))) {
		snprintf(err, errlen, "cannot read class ids: %s", strerror(-rc));
		goto fail;
	}
	rc = m->classes_path[0] ? netclass_load(m->classes_path, &ids, &m->nc, err, errlen)
				: netclass_empty(&ids, &m->nc);
	if (rc)
		goto fail;
	if ((rc = net_bpf_set_classes(m->bpf, m->nc))) {
		snprintf(err, errlen, "cannot load traffic classes into the kernel: %s", strerror(-rc));
		goto fail;
	}
	netclass_sha256_hex(m->nc, hex);
	snprintf(m->classes_id, sizeof(m->classes_id), "sha256:%s", hex);
	if ((rc = taps_open(&m->taps, on_link, m))) {
		snprintf(err, errlen, "cannot watch link events: %s", strerror(-rc));
		goto fail;
	}
	rc = taps_list(m->taps, on_link, m);
	if (rc < 0) {
		snprintf(err, errlen, "cannot list links: %s", strerror(-rc));
		goto fail;
	}
	*out = m;
	return 0;
fail:
	netmeter_close(m);
	return rc;
}

void netmeter_close(struct netmeter *m)
{
	if (!m)
		return;
	taps_close(m->taps);
	netclass_free(m->nc);
	net_bpf_close(m->bpf); /* filters and pins stay: counting goes on */
	free(m);
}

int netmeter_fd(const struct netmeter *m)
{
	return taps_fd(m->taps);
}

void netmeter_process(struct netmeter *m)
{
	int rc = taps_process(m->taps);

	if (rc < 0)
		log_warn("link events: %s", strerror(-rc));
}

int netmeter_reload(struct netmeter *m, char *err, size_t errlen)
{
	struct netclass *next = NULL;
	char hex[2 * NETCLASS_SHA256_LEN + 1];
	int rc;

	rc = m->classes_path[0] ? netclass_load(m->classes_path, &m->nc->ids, &next, err, errlen)
				: netclass_empty(&m->nc->ids, &next);
	if (rc)
		return rc; /* the classes in force stay */
	rc = net_bpf_set_classes(m->bpf, next);
	if (rc) {
		snprintf(err, errlen, "cannot load traffic classes into the kernel: %s", strerror(-rc));
		net_bpf_set_classes(m->bpf, m->nc); /* put the previous ones back whole */
		netclass_free(next);
		return rc;
	}
	netclass_free(m->nc);
	m->nc = next;
	netclass_sha256_hex(m->nc, hex);
	snprintf(m->classes_id, sizeof(m->classes_id), "sha256:%s", hex);
	return 0;
}

void netmeter_want_reset(struct netmeter *m)
{
	m->n_wanted = 0;
}

int netmeter_ensure(struct netmeter *m, const char *name, int *ifindex)
{
	unsigned int idx;

	if (!wanted(m, name) && m->n_wanted < NETMETER_PRE_MAX)
		snprintf(m->wanted[m->n_wanted++], IF_NAMESIZE, "%s", name);
	idx = if_nametoindex(name);

	if (!idx)
		return -ENODEV;
	if (*ifindex != (int)idx) {
		*ifindex = (int)idx;
		attach(m, (int)idx, name); /* idempotent: cheap when already on */
	}
	return 0;
}

struct foreach_ctx {
	struct netmeter *m;
	netmeter_cb cb;
	void *arg;
};

static int foreach_one(void *arg, uint32_t ifindex, uint8_t dir, uint8_t class_id, uint64_t bytes,
		       uint64_t packets)
{
	struct foreach_ctx *c = arg;
	const char *name = netclass_name(c->m->nc, class_id);

	return c->cb(c->arg, ifindex, dir, name ? name : "unknown", bytes, packets);
}

int netmeter_foreach(struct netmeter *m, netmeter_cb cb, void *arg)
{
	struct foreach_ctx c = { m, cb, arg };
	int rc = net_bpf_foreach(m->bpf, 0, foreach_one, &c);

	return rc < 0 ? rc : 0;
}

int netmeter_read(struct netmeter *m, uint32_t ifindex, uint8_t dir, const char *class_name,
		  uint64_t *bytes, uint64_t *packets)
{
	int id = netclass_id(m->nc, class_name);

	if (id < 0)
		return -ENOENT;
	return net_bpf_read(m->bpf, ifindex, dir, (uint8_t)id, bytes, packets);
}

void netmeter_forget(struct netmeter *m, uint32_t ifindex)
{
	size_t out = 0;

	net_bpf_forget(m->bpf, ifindex);
	for (size_t i = 0; i < m->n_pre; i++)
		if (m->pre[i].ifindex != (int)ifindex)
			m->pre[out++] = m->pre[i];
	m->n_pre = out;
}

uint64_t netmeter_epoch(const struct netmeter *m)
{
	return net_bpf_epoch(m->bpf);
}

const char *netmeter_classes_id(const struct netmeter *m)
{
	return m->classes_id;
}

int netmeter_link_stats(struct netmeter *m, int ifindex, struct link_stats *out)
{
	return link_stats_get(ifindex, out);
}
