/*
 * disk_bpf.h — the host's view of block I/O per blkcg, from the BPF program
 * bpf/disk.bpf.c (tp_btf/block_bio_queue).
 *
 * What it measures: bytes and bios that reached the host's request-based
 * block devices, charged to the cgroup that owns each bio (its blkcg). This
 * is the host's view, billed as separate meters (disk.host.read.bytes,
 * disk.host.write.bytes, disk.host.read.requests, disk.host.write.requests);
 * the guest's view comes from QEMU's own block statistics. The two differ by
 * design:
 *  - cache='none': guest writes appear here under the domain's blkcg, to the
 *    byte; reads carry QEMU's own page-ins (measured +0.4 %);
 *  - cache='writeback' (or any page-cache path): writes reach the block
 *    layer from the flusher, under the ROOT blkcg, and reads may come from
 *    the page cache. Read the root counter (disk_blkcg_root_id()) and report
 *    it as host-level unattributed I/O; do not spread it over VMs;
 *  - user-space backends (RBD through librbd, NBD servers, network files)
 *    never reach the host's block layer: nothing appears here.
 *
 * Which id: on a hybrid host (v1 controllers plus a v2 mount) a bio's blkcg
 * is the v1 blkio hierarchy's directory, e.g. the id of
 * /sys/fs/cgroup/blkio/machine/qemu-N-NAME.libvirt-qemu, NOT the v2 id that
 * cpu_bpf uses. On a pure v2 host it is the v2 directory of the submitting
 * thread (or its nearest ancestor with the io controller enabled). Use the
 * disk_blkcg_*() helpers below to find it.
 *
 * The program's link and counter map are pinned beside cpu_bpf's (pin names
 * disk_link, disk_io; same directory, same reuse and epoch rules: see
 * bpf_pin.h), so counting goes on while the agent is stopped or restarted.
 * Counters only grow; the caller keeps a baseline per (epoch, blkcg id) and
 * bills deltas.
 *
 * Library code: logs nothing, never exits. Thread rules: a struct disk_bpf
 * may be used by one thread at a time; several processes may open the same
 * pin directory (opening is serialised by a lock on it).
 */
#ifndef HV_DAEMON_DISK_BPF_H
#define HV_DAEMON_DISK_BPF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpf/disk.h"
#include "daemon/bpf_pin.h"

#define DISK_BPF_PIN_DIR BPF_PIN_DIR

struct disk_bpf;

struct disk_bpf_opts {
	/* bpffs directory for the pins; NULL: DISK_BPF_PIN_DIR. */
	const char *pin_dir;
	/* max_entries of the counter map, one slot of which is reserved for
	 * the unattributed counter; 0: DISK_IO_MAX_ENTRIES (8192). A pinned
	 * map of another size is not reused (a new epoch starts). */
	uint32_t max_entries;
};

/*
 * Opens the counters: reuses the objects pinned in @opts->pin_dir if they
 * were made by this very program, else loads, attaches and pins a fresh
 * copy (a new epoch). On success *@out must be released with
 * disk_bpf_close().
 *
 * Returns 0 or -errno; any error means the host view is not available:
 *   -EPERM       no privilege, or the kernel refused the program
 *   -ENOSYS      no bpf() system call
 *   -EOPNOTSUPP  no kernel BTF or per-CPU hash; a kernel without tp_btf or
 *                without the block_bio_queue tracepoint fails the load with
 *                -ESRCH, -EINVAL or -EACCES (verifier)
 *   -EINVAL      max_entries < 2, or pin_dir is not absolute or not on bpffs
 */
int disk_bpf_open_opts(struct disk_bpf **out, const struct disk_bpf_opts *opts);

/* disk_bpf_open_opts() with @pin_dir (NULL: default) and default sizes. */
int disk_bpf_open(struct disk_bpf **out, const char *pin_dir);

/*
 * Reads the counters of blkcg @blkcg_id since the epoch, summed over CPUs.
 * Bios are counted when queued, with their full size.
 * Returns 0, -ENOENT (no I/O charged to it yet, or forgotten) or -errno.
 */
int disk_bpf_read(struct disk_bpf *d, uint64_t blkcg_id, struct disk_io *out);

/*
 * Reads the I/O that could not be charged to a cgroup: bios without blkcg,
 * or a full map (a sign that max_entries is too small or that gone cgroups
 * are not forgotten). Report it with the root blkcg's as host-level
 * unattributed I/O. Returns 0 or -errno.
 */
int disk_bpf_unattributed(struct disk_bpf *d, struct disk_io *out);

/*
 * Deletes the counter of a blkcg that is gone, to free its slot. Read its
 * final value first, one sampling interval after the cgroup vanished (bios
 * in flight may still be queued). Returns 0, -ENOENT, -EINVAL for the
 * unattributed counter, or -errno.
 */
int disk_bpf_forget(struct disk_bpf *d, uint64_t blkcg_id);

/* Identifies one run of the counters (see cpu_bpf_epoch()). Never 0. */
uint64_t disk_bpf_epoch(const struct disk_bpf *d);

/* Cumulative run time and run count of the program (they move only while
 * BPF statistics are enabled). Returns 0 or -errno. */
int disk_bpf_prog_stats(struct disk_bpf *d, uint64_t *run_ns, uint64_t *run_cnt);

/* True if disk_bpf_open*() reused pinned objects (counting had gone on). */
bool disk_bpf_reused(const struct disk_bpf *d);

/* Closes the fds; the pins stay and counting continues. Accepts NULL. */
void disk_bpf_close(struct disk_bpf *d);

/* Removes our pins (NULL: default dir), and the directory if then empty. */
int disk_bpf_unpin(const char *pin_dir);

/*
 * Mount point of the hierarchy that holds blkcgs: the v1 mount with the
 * blkio controller if there is one, else the v2 mount if its root lists the
 * io controller. Returns 0, -ENOENT (no blkcg: the kernel charges nothing)
 * or -ENAMETOOLONG / -errno.
 */
int disk_blkcg_mount(char *out, size_t len);

/*
 * Sets *@id to the blkcg id of cgroup directory @path, absolute or relative
 * to disk_blkcg_mount() (e.g. "machine/qemu-1-vm1.libvirt-qemu").
 * Returns 0, -ENOENT, -EINVAL (not a cgroup directory) or -errno.
 */
int disk_blkcg_id(const char *path, uint64_t *id);

/* The root blkcg's id: where write-back and other host I/O lands. */
int disk_blkcg_root_id(uint64_t *id);

/*
 * The absolute blkcg directory of process @pid (from /proc/PID/cgroup),
 * e.g. of QEMU's pid. Returns 0, -ENOENT (no such process, or no blkcg) or
 * -ENAMETOOLONG / -errno.
 */
int disk_blkcg_dir_of_pid(int pid, char *out, size_t len);

#endif
