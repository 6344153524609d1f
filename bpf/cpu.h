/*
 * cpu.h — what crosses the kernel/user boundary for per-cgroup CPU time
 * (bpf/cpu.bpf.c, loaded by daemon/cpu_bpf.c).
 *
 * Map cpu_ns (BPF_MAP_TYPE_PERCPU_HASH): key __u64 cgroup v2 id, value
 * __u64 nanoseconds of on-CPU time (task se.sum_exec_runtime deltas, the
 * same counter as cgroup cpu.stat usage_usec), one slot per possible CPU;
 * the reader sums them. Counters only grow; the kernel never resets them.
 *
 * Key CPU_KEY_LOST (0, never a cgroup id: the v2 root is 1) is inserted by
 * user space before attach and collects the time that could not be
 * credited to its cgroup because cpu_ns was full.
 */
#ifndef HV_BPF_CPU_H
#define HV_BPF_CPU_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Default max_entries of cpu_ns; user space may set another before load. */
#define CPU_NS_MAX_ENTRIES 16384
#define CPU_KEY_LOST 0ULL

/* cpu_ns key and value sizes; the loader checks a pinned map against them. */
#define CPU_NS_KEY_SIZE 8
#define CPU_NS_VALUE_SIZE 8

/*
 * Per-task state in the task storage map cpu_task: the task's
 * se.sum_exec_runtime when it last left a CPU. Kernel-only, but kept here so
 * its layout is pinned like every other shared struct.
 */
struct cpu_task {
	__u64 last_runtime;
};

_Static_assert(sizeof(__u64) == CPU_NS_KEY_SIZE, "cpu_ns key is a __u64");
_Static_assert(sizeof(__u64) == CPU_NS_VALUE_SIZE, "cpu_ns value is a __u64");
_Static_assert(sizeof(struct cpu_task) == 8, "struct cpu_task layout");

#endif
