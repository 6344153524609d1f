/*
 * disk.h — what crosses the kernel/user boundary for the host's view of
 * block I/O per blkcg (bpf/disk.bpf.c, loaded by daemon/disk_bpf.c).
 *
 * Map disk_io (BPF_MAP_TYPE_PERCPU_HASH): key __u64 id of the cgroup that
 * owns the bio (its blkcg: bio->bi_blkg->blkcg->css.cgroup->kn->id, which on
 * a hybrid host is the v1 blkio hierarchy's directory id, not the v2 id used
 * for CPU), value struct disk_io, one slot per possible CPU; the reader sums
 * them. Counters only grow; the kernel never resets them.
 *
 * Key DISK_KEY_UNATTRIBUTED (0, never a cgroup id: a hierarchy's root is 1)
 * is inserted by user space before attach and collects the I/O that could
 * not be credited to a cgroup: a bio without blkcg, or a full map.
 */
#ifndef HV_BPF_DISK_H
#define HV_BPF_DISK_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Default max_entries of disk_io; user space may set another before load. */
#define DISK_IO_MAX_ENTRIES 8192
#define DISK_KEY_UNATTRIBUTED 0ULL

/* disk_io key and value sizes; the loader checks a pinned map against them. */
#define DISK_IO_KEY_SIZE 8
#define DISK_IO_VALUE_SIZE 32

/* Bytes and bios queued for reading and for writing (REQ_OP_READ,
 * REQ_OP_WRITE with a payload; flushes, discards, zeroing are not I/O
 * billed here). */
struct disk_io {
	__u64 read_bytes;
	__u64 write_bytes;
	__u64 read_reqs;
	__u64 write_reqs;
};

_Static_assert(sizeof(__u64) == DISK_IO_KEY_SIZE, "disk_io key is a __u64");
_Static_assert(sizeof(struct disk_io) == DISK_IO_VALUE_SIZE, "struct disk_io layout");

#endif
