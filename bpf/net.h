/*
 * net.h — what crosses the kernel/user boundary for per-tap, per-class
 * traffic (bpf/net.bpf.c, loaded by daemon/net_bpf.c).
 *
 * Map net_stats (BPF_MAP_TYPE_PERCPU_HASH): key struct net_key (device,
 * direction, class id), value struct net_count, one slot per possible CPU;
 * the reader sums them. Counters only grow; the kernel never resets them.
 * Bytes are the L2 frame length as the device counts it (skb->len with the
 * Ethernet header, plus 4 for a VLAN tag held out of band), so per
 * direction they add up to the device's own rx/tx byte counters; packets are
 * skbs, as the device counts them (a GSO/GRO skb is one).
 *
 * Direction is the device's: NET_DIR_INGRESS is what the device receives,
 * which on a tap is what the VM transmits (the tap's RX counters);
 * NET_DIR_EGRESS is what it sends, the VM's receive (the tap's TX).
 *
 * Class: the id that the LPM tries net_class4 / net_class6 give the remote
 * address (destination on ingress, source on egress); NET_CLASS_DEFAULT
 * when no prefix matches or the frame carries no IPv4/IPv6 packet.
 * Keys {ifindex 0, dir, NET_CLASS_LOST} are inserted by user space before
 * attach and collect what could not be counted under its own key because
 * net_stats was full.
 */
#ifndef HV_BPF_NET_H
#define HV_BPF_NET_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define NET_DIR_INGRESS 0
#define NET_DIR_EGRESS 1

#define NET_CLASS_DEFAULT 0
#define NET_CLASS_LOST 255
#define NET_CLASS_IDS 256

/* Default max_entries; user space may set others before load. */
#define NET_STATS_MAX_ENTRIES 65536
/* Twice the rules a class file may have: a reload adds the new prefixes
 * before it deletes the old ones. LPM tries allocate per entry, so the
 * bound costs nothing until used. */
#define NET_CLASS_MAX_ENTRIES 131072

#define NET_CLASS_NAME_SIZE 40 /* 32 characters, NUL, padding */

struct net_key {
	__u32 ifindex;
	__u8 dir;      /* NET_DIR_* */
	__u8 class_id; /* 0..254, NET_CLASS_LOST */
	__u16 pad;     /* always 0: part of the hashed key */
};

struct net_count {
	__u64 bytes;
	__u64 packets;
};

/* LPM trie keys: prefix length in bits, then the address in network order. */
struct net_lpm4 {
	__u32 prefixlen;
	__u8 addr[4];
};

struct net_lpm6 {
	__u32 prefixlen;
	__u8 addr[16];
};

/*
 * Array net_class_names, NET_CLASS_IDS entries: the class name each id was
 * given ("" unused). The program does not read it; it is pinned with the
 * counters so that ids keep their names across agent restarts for as long
 * as the counters that use them exist.
 */
struct net_class_name {
	char name[NET_CLASS_NAME_SIZE];
};

_Static_assert(sizeof(struct net_key) == 8, "struct net_key layout");
_Static_assert(sizeof(struct net_count) == 16, "struct net_count layout");
_Static_assert(sizeof(struct net_lpm4) == 8, "struct net_lpm4 layout");
_Static_assert(sizeof(struct net_lpm6) == 20, "struct net_lpm6 layout");
_Static_assert(sizeof(struct net_class_name) == NET_CLASS_NAME_SIZE, "struct net_class_name");

#endif
