/*
 * cpu_bpf.h — per-cgroup CPU time from the BPF program bpf/cpu.bpf.c.
 *
 * The program's link and its counter map are pinned in bpffs, so counting
 * goes on while the agent is stopped or restarted: cpu_bpf_open() reuses
 * pinned objects made by the same program and otherwise loads, attaches and
 * pins a fresh copy. Counters are nanoseconds of on-CPU time per cgroup v2
 * id since the epoch (see cpu_bpf_epoch()); they only grow. The caller
 * keeps a baseline per (epoch, cgroup) and bills deltas.
 *
 * Library code: logs nothing, never exits. libbpf itself prints warnings
 * through its global print callback; the process routes that
 * (libbpf_set_print()) to its debug log.
 *
 * Thread rules: a struct cpu_bpf may be used by one thread at a time.
 * Several processes may open the same pin directory; opening is serialised
 * by a lock on the directory.
 */
#ifndef HV_DAEMON_CPU_BPF_H
#define HV_DAEMON_CPU_BPF_H

#include <stdbool.h>
#include <stdint.h>

#define CPU_BPF_PIN_DIR "/sys/fs/bpf/hvmeter"

struct cpu_bpf;

struct cpu_bpf_opts {
	/* bpffs directory for the pins; NULL: CPU_BPF_PIN_DIR. Created
	 * (mode 0700) if missing; bpffs is mounted on /sys/fs/bpf first if the
	 * directory lies below it and nothing is mounted there. */
	const char *pin_dir;
	/* max_entries of the counter map, one slot of which is reserved for
	 * the lost-time counter; 0: CPU_NS_MAX_ENTRIES (16384). A pinned map
	 * of another size is not reused (a new epoch starts). */
	uint32_t max_entries;
};

/*
 * Opens the counters: reuses the objects pinned in @opts->pin_dir if they
 * were made by this very program (same program tag, which hashes its
 * instructions, and a counter map of the same type and sizes that the
 * pinned program really uses); otherwise unpins whatever is there under
 * our names, loads, attaches and pins afresh. On success *@out is set and
 * must be released with cpu_bpf_close().
 *
 * Returns 0, or -errno. Any error means the counters are not available and
 * the caller falls back to another source; the code is for its log:
 *   -EPERM       no privilege (CAP_BPF + CAP_PERFMON + CAP_SYS_ADMIN for
 *                mounting, or root), or the kernel refused the program
 *   -ENOSYS      no bpf() system call
 *   -EOPNOTSUPP  a kernel feature is missing (BTF, task storage, per-CPU
 *                hash); a kernel without tp_btf fails the load with -ESRCH,
 *                -EINVAL or -EACCES (verifier)
 *   -EINVAL      max_entries < 2, or pin_dir is not absolute or not on bpffs
 *   -ENOMEM, -EIO and others: unexpected failures.
 */
int cpu_bpf_open_opts(struct cpu_bpf **out, const struct cpu_bpf_opts *opts);

/* cpu_bpf_open_opts() with @pin_dir (NULL: default) and default sizes. */
int cpu_bpf_open(struct cpu_bpf **out, const char *pin_dir);

/*
 * Reads the on-CPU nanoseconds of cgroup v2 @cgroup_id since the epoch,
 * summed over CPUs, into *@ns. Time is credited when a task leaves a CPU,
 * so a task running without a switch is seen at its next switch (at most a
 * time slice late; cpu.stat is updated at ticks).
 * Returns 0, -ENOENT (nothing credited to it yet, or forgotten) or -errno.
 */
int cpu_bpf_read(struct cpu_bpf *c, uint64_t cgroup_id, uint64_t *ns);

/*
 * Reads the nanoseconds that could not be credited to any cgroup because the
 * counter map was full (a sign that max_entries is too small or that gone
 * cgroups are not forgotten). Returns 0 or -errno.
 */
int cpu_bpf_lost(struct cpu_bpf *c, uint64_t *ns);

/*
 * Deletes the counter of a cgroup that is gone, to free its slot. Read its
 * final value first. Do it one sampling interval after the cgroup vanished:
 * a task that exits from it may still be credited at its last switch after
 * rmdir, which would re-create the entry. cgroup ids are never reused within
 * a boot. Returns 0, -ENOENT or -errno; never deletes the lost counter.
 */
int cpu_bpf_forget(struct cpu_bpf *c, uint64_t cgroup_id);

/*
 * Identifies one run of the counters: it changes whenever they restart from
 * zero (new map: fresh load, other program, other map size, reboot) and
 * stays the same when pinned objects are reused. Never 0.
 */
uint64_t cpu_bpf_epoch(const struct cpu_bpf *c);

/*
 * Cumulative run time and run count of the program from bpf_prog_info.
 * The kernel counts only while statistics are enabled (sysctl
 * kernel.bpf_stats_enabled=1, or an fd from bpf_enable_stats() held open);
 * otherwise both stay where they were (0 if never enabled).
 * Returns 0 or -errno.
 */
int cpu_bpf_prog_stats(struct cpu_bpf *c, uint64_t *run_ns, uint64_t *run_cnt);

/* True if cpu_bpf_open*() reused pinned objects (counting had gone on). */
bool cpu_bpf_reused(const struct cpu_bpf *c);

/* Closes the fds; the pins stay and counting continues. Accepts NULL. */
void cpu_bpf_close(struct cpu_bpf *c);

/*
 * Removes our pins from @pin_dir (NULL: default) and the directory if it is
 * then empty: the program detaches once no process holds it open. For
 * uninstall and tests. Returns 0 (also when nothing was pinned) or -errno.
 */
int cpu_bpf_unpin(const char *pin_dir);

/*
 * Sets *@id to the id of the cgroup directory @path: for cgroup v2 it is
 * what bpf_get_current_cgroup_id() returns (the directory's kernfs id, also
 * its inode number on 64-bit); for a v1 hierarchy it is that hierarchy's id.
 * Returns 0, -EINVAL if @path is not on a cgroup file system, or -errno.
 */
int cgroup_id_of_path(const char *path, uint64_t *id);

#endif
