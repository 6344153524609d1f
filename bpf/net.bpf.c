// SPDX-License-Identifier: GPL-2.0
/*
 * net.bpf.c — bytes and packets per device, direction and traffic class,
 * from tc clsact filters on each VM's tap.
 *
 * Two programs, one per direction, share one body: the direction decides
 * which address is the remote one (a tap's ingress is the VM's transmit, so
 * the destination; its egress is the VM's receive, so the source), and two
 * programs are cheaper and simpler than a per-attachment lookup.
 *
 * Both return TC_ACT_UNSPEC: a counter must never change what happens to a
 * packet, and other filters on the same clsact (other tools') still run.
 *
 * Headers are read with bpf_skb_load_bytes(), which also works when they
 * are not in the linear part of the skb; direct packet access would need a
 * pull, which changes the skb.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "bpf/net.h"

char LICENSE[] SEC("license") = "GPL";

/* From uapi headers; macros are not in vmlinux.h. */
#define TC_ACT_UNSPEC (-1)
#define ETH_HLEN 14
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88A8
#define VLAN_HLEN 4
#define IP4_SADDR_OFF 12
#define IP4_DADDR_OFF 16
#define IP6_SADDR_OFF 8
#define IP6_DADDR_OFF 24

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, NET_STATS_MAX_ENTRIES);
	__type(key, struct net_key);
	__type(value, struct net_count);
} net_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, NET_CLASS_MAX_ENTRIES);
	__type(key, struct net_lpm4);
	__type(value, __u32);
} net_class4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, NET_CLASS_MAX_ENTRIES);
	__type(key, struct net_lpm6);
	__type(value, __u32);
} net_class6 SEC(".maps");

/* Not used by the programs: pinned beside the counters (see net.h). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NET_CLASS_IDS);
	__type(key, __u32);
	__type(value, struct net_class_name);
} net_class_names SEC(".maps");

/* Class of the frame's remote address; NET_CLASS_DEFAULT if none. */
static __always_inline __u8 classify(struct __sk_buff *skb, bool ingress)
{
	__u32 off = ETH_HLEN, *cls = NULL;
	__u16 proto;

	if (bpf_skb_load_bytes(skb, ETH_HLEN - 2, &proto, sizeof(proto)))
		return NET_CLASS_DEFAULT;
	/* Tags still in the frame (not moved to skb->vlan_tci): 802.1Q and
	 * QinQ. Deeper stacks are not IP traffic we can price anyway. */
	for (int i = 0; i < 2; i++) {
		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		if (bpf_skb_load_bytes(skb, off + 2, &proto, sizeof(proto)))
			return NET_CLASS_DEFAULT;
		off += VLAN_HLEN;
	}
	if (proto == bpf_htons(ETH_P_IP)) {
		struct net_lpm4 k = { .prefixlen = 32 };

		if (bpf_skb_load_bytes(skb, off + (ingress ? IP4_DADDR_OFF : IP4_SADDR_OFF),
				       k.addr, sizeof(k.addr)))
			return NET_CLASS_DEFAULT;
		cls = bpf_map_lookup_elem(&net_class4, &k);
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		struct net_lpm6 k = { .prefixlen = 128 };

		if (bpf_skb_load_bytes(skb, off + (ingress ? IP6_DADDR_OFF : IP6_SADDR_OFF),
				       k.addr, sizeof(k.addr)))
			return NET_CLASS_DEFAULT;
		cls = bpf_map_lookup_elem(&net_class6, &k);
	}
	return cls && *cls < NET_CLASS_LOST ? (__u8)*cls : NET_CLASS_DEFAULT;
}

static __always_inline void add(struct net_count *v, __u64 bytes)
{
	/* Per-CPU slots: no other CPU writes ours, and a CPU runs one tc
	 * program at a time (softirq or BH disabled), so plain adds suffice. */
	v->bytes += bytes;
	v->packets++;
}

static __always_inline int count(struct __sk_buff *skb, __u8 dir)
{
	struct net_key key = { .ifindex = skb->ifindex, .dir = dir };
	struct net_key lost = { .ifindex = 0, .dir = dir, .class_id = NET_CLASS_LOST };
	struct net_count *v, init = {};
	/* A tag held out of band (skb->vlan_tci) is in the frame the device
	 * counts: the tap adds it when the VM reads, and counted it on write
	 * before the stack moved it out. */
	__u64 bytes = (__u64)skb->len + (skb->vlan_present ? VLAN_HLEN : 0);

	key.class_id = classify(skb, dir == NET_DIR_INGRESS);
	v = bpf_map_lookup_elem(&net_stats, &key);
	if (v) {
		add(v, bytes);
		return TC_ACT_UNSPEC;
	}
	/* A new key starts with this frame here and 0 on the other CPUs. */
	add(&init, bytes);
	if (bpf_map_update_elem(&net_stats, &key, &init, BPF_NOEXIST) == 0)
		return TC_ACT_UNSPEC;
	/* -EEXIST: another CPU inserted it meanwhile; else the map is full. */
	v = bpf_map_lookup_elem(&net_stats, &key);
	if (!v)
		v = bpf_map_lookup_elem(&net_stats, &lost);
	if (v)
		add(v, bytes);
	return TC_ACT_UNSPEC;
}

SEC("tc")
int net_ingress(struct __sk_buff *skb)
{
	return count(skb, NET_DIR_INGRESS);
}

SEC("tc")
int net_egress(struct __sk_buff *skb)
{
	return count(skb, NET_DIR_EGRESS);
}
