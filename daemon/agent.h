/*
 * agent.h — what crosses files inside hvmeterd, grouped by defining file.
 */
#ifndef HV_DAEMON_AGENT_H
#define HV_DAEMON_AGENT_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#include "wire/frame.h"
#include "store/store.h"
#include "daemon/config.h"

#define VM_UUID_LEN 37
#define VM_CGROUPS_MAX 128
#define VM_TAPS_MAX 16
#define HV_PATH_MAX 512

/* A cgroup v2 directory that belongs to a VM, and what its threads are. */
enum vm_cgroup_role { CG_DOMAIN = 0, CG_EMULATOR, CG_VCPU, CG_IOTHREAD, CG_OTHER };

struct vm_cgroup {
	uint64_t id; /* cgroup v2 id = inode of the directory */
	enum vm_cgroup_role role;
};

/* A domain as the agent knows it. Filled from libvirt XML and the cgroup tree. */
struct vm {
	char uuid[VM_UUID_LEN];
	char name[128];             /* libvirt domain name */
	int pid;                    /* QEMU pid, 0 if unknown */
	bool running;
	int64_t started_ns;         /* realtime when this run began (or our best bound) */
	int64_t stopped_ns;         /* realtime of the stop event; 0 while running */
	uint64_t run_epoch;         /* id of the domain's v2 cgroup: new for every run */
	uint64_t blkcg_id;          /* cgroup that owns QEMU's bios (v1 blkio on hybrid hosts) */
	uint32_t vcpus;             /* current vCPUs */
	uint64_t memory_kib;        /* current memory */
	char cgroup_dir[HV_PATH_MAX];  /* v2 domain directory */
	char memcg_dir[HV_PATH_MAX];   /* cgroup holding its memory accounting */
	size_t n_cgroups;
	struct vm_cgroup cgroups[VM_CGROUPS_MAX]; /* every one seen this run */
	size_t n_taps;
	struct vm_tap {
		char name[16];         /* host-side tap device, from <target dev=...> */
		int ifindex;           /* 0 until the link is seen */
	} taps[VM_TAPS_MAX];
	struct frame_resource meta;    /* attributes to announce */
	bool announced;                /* meta equals what the store last announced */
};

/* ---- domain_xml.c ------------------------------------------------------- */
/*
 * Reads UUID, name, current vCPUs, current memory and the Nova
 * <nova:instance> metadata from a domain XML into @vm (meta attributes:
 * name, domain, project, project_name, user, user_name, flavor,
 * flavor_vcpus, flavor_ram, image). Returns 0 or -EINVAL / -ENOMEM.
 */
int domain_xml_parse(const char *xml, struct vm *vm);

/* ---- cgroup.c ------------------------------------------------------------ */
/* Finds the cgroup v2 mount point (e.g. /sys/fs/cgroup/unified). */
int cgroup_v2_mount(char *out, size_t len);
/*
 * Locates the VM's domain cgroup from its QEMU pid, records its id as the
 * run epoch and adds every sub-cgroup (emulator, vcpuN, iothreadN) not seen
 * yet. Returns 0, -ENOENT when the process or cgroup is gone.
 */
int vm_cgroups_scan(struct vm *vm, const char *v2_mount);
/* Resident memory of the VM's cgroup in bytes (anonymous memory). */
int vm_memory_resident(const struct vm *vm, uint64_t *bytes);
/* QEMU pid of domain @name from libvirt's pid file, 0 if none. */
int qemu_pid_of(const char *name, int *pid);
/* Process start time as realtime ns (from /proc/PID/stat). */
int pid_start_realtime(int pid, int64_t *ns);

/* ---- baselines.c --------------------------------------------------------- */
/* The in-memory image of the store's baselines, sorted by key. */
struct baseline_entry {
	struct baseline b;
	bool dirty;    /* changed since the last commit */
	bool touched;  /* read by this tick */
	bool is_new;   /* no reading before this one */
};

struct baseline_set {
	struct baseline_entry *v;
	size_t n, cap;
};

void baseline_set_free(struct baseline_set *s);
/* Loads all baselines from the store. */
int baseline_set_load(struct baseline_set *s, struct store *st);
/* Finds @key, or inserts a fresh entry (is_new) for it. NULL on ENOMEM. */
struct baseline_entry *baseline_set_get(struct baseline_set *s, const char *key);
/* Removes @key (after its deletion was committed). */
void baseline_set_remove(struct baseline_set *s, const char *key);

/*
 * Advances a counter baseline to @value read in @epoch at @time_ns and
 * returns the delta to emit, in units of @div raw units (invariant 4): a
 * new counter, a changed epoch or a value that went backwards counts from
 * zero; never negative. Emits floor(new/div) - floor(old/div) so no
 * fraction is lost or doubled across frames.
 */
int64_t baseline_advance(struct baseline_entry *e, uint64_t epoch, uint64_t value,
			 int64_t time_ns, uint64_t div);

/* ---- discovery.c ---------------------------------------------------------- */
struct discovery;

/* Connects to libvirt (event loop must be registered), lists running domains,
 * follows lifecycle events. Returns 0 or -ECONNREFUSED with @err filled. */
int discovery_open(struct discovery **out, const struct config *cfg, const char *v2_mount,
		   char *err, size_t errlen);
void discovery_close(struct discovery *d);
/* The VM table: valid until the next discovery call. */
struct vm **discovery_vms(struct discovery *d, size_t *n);
/* Drops VMs whose stop has been accounted for. */
void discovery_reap(struct discovery *d);
/* Reconnects if the connection was lost; lists domains again. */
int discovery_check(struct discovery *d);
bool discovery_connected(const struct discovery *d);
/* One domain's figures from libvirt's bulk stats (QEMU's own counters). */
#define DOM_BLOCKS_MAX 32
struct dom_block_stats {
	char dev[32];         /* target dev, e.g. "vda" */
	uint64_t v[4];        /* rd.bytes, rd.reqs, wr.bytes, wr.reqs */
	unsigned have;        /* bit i set: v[i] was reported (NOWAIT may omit them) */
};

struct dom_stats {
	char uuid[VM_UUID_LEN];
	bool has_cpu, has_vcpu;
	uint64_t cpu_ns;      /* cpu.time */
	uint64_t vcpu_ns;     /* sum of vcpu.N.time */
	size_t n_blocks;
	struct dom_block_stats blocks[DOM_BLOCKS_MAX];
};

#define DOM_STATS_CPU   0x1u
#define DOM_STATS_BLOCK 0x2u
/*
 * One virConnectGetAllDomainStats call for every running domain, with
 * NOWAIT: a domain stuck in a job is skipped, never waited for. Calls @cb
 * per domain. Returns 0, -ENOTCONN, -EIO or @cb's error.
 */
int discovery_bulk_stats(struct discovery *d, unsigned what,
			 int (*cb)(const struct dom_stats *st, void *arg), void *arg);

/* ---- sampler.c ----------------------------------------------------------- */
struct sampler;
struct uplink;
/* The uplink whose status goes into each frame's status text (NULL: off). */
void sampler_set_uplink(struct sampler *s, struct uplink *u);
struct cpu_bpf;

struct disk_bpf;
struct netmeter;
struct energy_meter;

/* The kernel-side sources the sampler reads; NULL members are absent. */
struct sampler_sources {
	struct cpu_bpf *cpu;        /* NULL: CPU from libvirt's domain stats */
	struct disk_bpf *disk;      /* NULL: no host view of disk I/O */
	struct netmeter *net;       /* NULL: no network metering */
	struct energy_meter *energy; /* NULL: no BMC, no energy */
	const char *note;           /* human summary for `hvmeter status` */
};

int sampler_open(struct sampler **out, const struct config *cfg, struct store *st,
		 struct discovery *disc, const struct sampler_sources *src);
void sampler_close(struct sampler *s);
/* Takes one frame ending now and commits it. Returns 0 or -errno (logged). */
int sampler_tick(struct sampler *s, int64_t now_ns);

/* The sources' health as of the last tick (the status text says the same). */
struct sampler_health {
	bool libvirt_connected;
	bool cpu_bpf, disk_bpf, net_bpf;          /* the program is loaded and attached by us */
	bool cpu_pinned, disk_pinned, net_pinned; /* its pin is in bpf_pin_dir (survives a restart) */
	uint32_t taps_wanted, taps_attached;      /* VM taps named in XML / with our filters on */
};

/*
 * Called after each committed frame, in the sampler's thread (the uplink's
 * store lock held), with the frame, the VM table as it was metered (stopped
 * VMs of the frame included), the sources' health and the status text
 * committed with the frame. It must not keep pointers into them.
 */
typedef void (*sampler_publish_fn)(void *arg, const struct frame *f, struct vm *const *vms,
				   size_t n_vms, const struct sampler_health *health,
				   const char *status);
void sampler_set_publish(struct sampler *s, sampler_publish_fn fn, void *arg);
/* Replaces the energy source between ticks (SIGHUP: new [bmc] settings). */
void sampler_set_energy(struct sampler *s, struct energy_meter *e);

/* ---- time ----------------------------------------------------------------- */
int64_t realtime_ns(void);

#endif
