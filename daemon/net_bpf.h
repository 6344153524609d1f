/*
 * net_bpf.h — bytes and packets per VM tap, direction and traffic class,
 * from the tc programs of bpf/net.bpf.c.
 *
 * Metrics (the daemon's names): net.tx.bytes / net.tx.packets are the tap's
 * NET_DIR_INGRESS (what the VM sends), net.rx.* its NET_DIR_EGRESS, with
 * labels device=<tap>;class=<class name>. Bytes are the L2 frame length as
 * the tap counts it, so the classes of a direction add up to the tap's
 * kernel counters (see bpf/net.h).
 *
 * Lifetime: the two programs and the maps (counters, class tries, class
 * names) are pinned in the pin directory (pin names net_ingress,
 * net_egress, net_stats, net_class4, net_class6, net_class_names), and the
 * tc filters stay on the taps when the agent exits, so counting goes on
 * without it. At start, net_bpf_open() reuses the pins if they were made by
 * this very program (same tags, maps of the same type and sizes, see
 * bpf_pin.h): net_bpf_attach() then finds its filters in place and changes
 * nothing; no packet is lost across a restart. If the program changed (an
 * upgrade) or nothing is pinned, a fresh copy with fresh counters starts a
 * new epoch; net_bpf_attach() replaces the old filters atomically, but what
 * the old program counted after the agent's last read is lost to billing
 * (the loss window of an upgrade: from the old agent's last tick to the
 * new agent's attach).
 *
 * Filters are tc clsact filters with our own handle and priority on each
 * device's ingress and egress hooks: creating the clsact qdisc if missing,
 * never deleting it (that would remove other tools' filters), and detaching
 * only our own filter. They return TC_ACT_UNSPEC, so filters after ours run
 * as if we were not there.
 *
 * Library code: logs nothing, never exits. A struct net_bpf is used by one
 * thread at a time; several processes may open the same pin directory
 * (opening is serialised by a lock on it). Device operations act in the
 * calling thread's network namespace.
 */
#ifndef HV_DAEMON_NET_BPF_H
#define HV_DAEMON_NET_BPF_H

#include <stdbool.h>
#include <stdint.h>

#include "bpf/net.h"
#include "daemon/bpf_pin.h"
#include "daemon/netclass.h"
#include "daemon/taps.h"

#define NET_BPF_PIN_DIR BPF_PIN_DIR
/* Our tc filter: handle "HV", and priority 1 so that we count before other
 * filters can drop or redirect a frame the device has already counted. */
#define NET_BPF_TC_HANDLE 0x4856
#define NET_BPF_TC_PRIORITY 1

struct net_bpf;

struct net_bpf_opts {
	/* bpffs directory for the pins; NULL: NET_BPF_PIN_DIR. */
	const char *pin_dir;
	/* max_entries of the counter map (keys: taps x 2 directions x classes
	 * in use, plus the 2 lost counters); 0: NET_STATS_MAX_ENTRIES. A
	 * pinned map of another size is not reused (a new epoch starts). */
	uint32_t max_entries;
	/* tc filter handle and priority; 0: the defaults above. */
	uint32_t tc_handle;
	uint16_t tc_priority;
};

/*
 * Opens the counters: reuses the pinned objects or loads and pins a fresh
 * copy (see above). Nothing is attached to any device yet. On success *@out
 * must be released with net_bpf_close().
 * Returns 0 or -errno: -EPERM (no privilege), -ENOSYS, -EOPNOTSUPP (no
 * BTF, LPM trie, per-CPU hash or tc programs), -EINVAL (bad options, pin
 * directory not on bpffs), others unexpected.
 */
int net_bpf_open_opts(struct net_bpf **out, const struct net_bpf_opts *opts);

/* net_bpf_open_opts() with @pin_dir (NULL: default) and defaults. */
int net_bpf_open(struct net_bpf **out, const char *pin_dir);

/*
 * Attaches our filters to device @ifindex (both hooks). Idempotent: if our
 * handle and priority already hold our very programs, nothing changes and 1
 * is returned; otherwise (none, or an older program of ours) they are put
 * in place atomically and 0 is returned: counting starts now for this
 * epoch. If @at_attach is not NULL it receives the device's kernel counters
 * read just after attaching; on a return of 0 they bound what was sent and
 * received before counting began (link-up frames, ARP...), which the
 * caller may bill as class "default" so that totals equal the device's
 * counters. A frame racing the attach may be in both.
 * Returns 1, 0, -ENODEV (no such device), or -errno from tc (e.g. when
 * another ingress qdisc holds clsact's place, or a filter of another kind
 * sits at our priority: choose another with net_bpf_opts).
 */
int net_bpf_attach(struct net_bpf *n, int ifindex, struct link_stats *at_attach);

/*
 * Removes our filters from @ifindex, and nothing else. Not needed when the
 * device is deleted (its filters go with it). Returns 0 (also if they were
 * not there), -ENODEV or -errno. Counters stay: read, then forget.
 */
int net_bpf_detach(struct net_bpf *n, int ifindex);

/*
 * Reads one counter since the epoch, summed over CPUs. @dir: NET_DIR_*;
 * @class_id: 0..254. Returns 0, -ENOENT (nothing counted yet) or -errno.
 */
int net_bpf_read(struct net_bpf *n, uint32_t ifindex, uint8_t dir, uint8_t class_id,
		 uint64_t *bytes, uint64_t *packets);

/* One counter, for net_bpf_foreach(). Return non-zero to stop. */
typedef int (*net_bpf_count_cb)(void *arg, uint32_t ifindex, uint8_t dir, uint8_t class_id,
				uint64_t bytes, uint64_t packets);

/*
 * Calls @cb for every counter of device @ifindex (0: of every device,
 * which is cheaper once per tick than one call per device), the lost
 * counters excluded. Returns the number of counters visited, @cb's non-zero
 * return, or -errno.
 */
int net_bpf_foreach(struct net_bpf *n, uint32_t ifindex, net_bpf_count_cb cb, void *arg);

/*
 * Deletes every counter of device @ifindex, once it is gone and its final
 * values were read (one interval later: frames in flight). ifindexes are
 * not reused soon, but are not unique forever: forget them. Returns the
 * number of counters deleted or -errno.
 */
int net_bpf_forget(struct net_bpf *n, uint32_t ifindex);

/* What could not be counted under its own key because the counter map was
 * full, for direction @dir. Returns 0 or -errno. */
int net_bpf_lost(struct net_bpf *n, uint8_t dir, uint64_t *bytes, uint64_t *packets);

/* Identifies one run of the counters (see cpu_bpf_epoch()). Never 0. A
 * device's counters start with its attach: key the caller's baselines by
 * (epoch, ifindex) so a new tap with a recycled name starts from zero. */
uint64_t net_bpf_epoch(const struct net_bpf *n);

/* Cumulative run time and count of the program of direction @dir (they
 * move only while BPF statistics are enabled). Returns 0 or -errno. */
int net_bpf_prog_stats(struct net_bpf *n, uint8_t dir, uint64_t *run_ns, uint64_t *run_cnt);

/*
 * The class ids in force for these counters (pinned with them): pass it as
 * @prev to netclass_load() at start, so that names keep their ids across
 * agent restarts. All "" but "default" for fresh counters.
 */
int net_bpf_class_ids(struct net_bpf *n, struct netclass_ids *out);

/*
 * Makes @nc the classes in force, in place: records new names, adds or
 * changes the prefixes of @nc, then deletes the prefixes that are not in
 * it. Counting never stops and no counter moves; a frame classified during
 * the update sees the old or the new class of its address, or a
 * less specific one. Returns 0; -ESTALE if @nc gives an id another name
 * than the one recorded (it was not parsed with net_bpf_class_ids() or
 * the previous netclass as @prev: nothing was changed); -errno (the tries
 * may then hold a mix: call again, with @nc or the previous classes).
 */
int net_bpf_set_classes(struct net_bpf *n, const struct netclass *nc);

/* True if net_bpf_open*() reused pinned objects (counting had gone on). */
bool net_bpf_reused(const struct net_bpf *n);

/* Closes the fds; pins and filters stay, and counting continues. Accepts
 * NULL. */
void net_bpf_close(struct net_bpf *n);

/*
 * Removes our pins (NULL: default dir), and the directory if then empty.
 * Filters still attached keep counting into maps nobody can read: detach
 * them from every device first (for uninstall and tests).
 */
int net_bpf_unpin(const char *pin_dir);

#endif
