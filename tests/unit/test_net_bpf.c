/*
 * test_net_bpf.c — the tc counting programs, their loader and the link
 * watcher:
 *  - synthetic Ethernet frames (IPv4 to several classes, a VLAN-tagged
 *    frame, IPv6, ARP, a truncated packet) run through both programs with
 *    bpf_prog_test_run_opts(): exact per-class packets and bytes; class
 *    reloads in place; class ids kept across a reopen;
 *  - a real veth pair between two network namespaces the test makes (one
 *    end, "the tap", in namespace A where the test's thread goes with
 *    setns(); its peer, "the VM", in namespace B): pings from B to A's
 *    addresses of three classes, and the BPF totals per direction equal the
 *    link's kernel counters to the byte and packet; other tools' filters on
 *    the same clsact survive attach and detach; counting goes on while the
 *    agent is closed; a link made while watching is seen (netlink), metered
 *    from its first frame, and its deletion seen.
 * No test address is ever in the root namespace.
 *
 * Helper modes for tests/bench/bpf_cost.sh are at the end (--bench-*).
 *
 * Needs root, bpffs, tc programs and `ip`/`tc` (iproute2); without them
 * every test prints why and is skipped. Pins go under
 * /sys/fs/bpf/hvmeter-test-net-PID; namespaces are hvmt-{a,b}-PID. All are
 * removed at the end.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <cmocka.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "daemon/cpu_bpf.h"
#include "daemon/disk_bpf.h"
#include "daemon/net_bpf.h"
#include "daemon/netclass.h"
#include "daemon/taps.h"

#define TC_ACT_UNSPEC (-1)
#define PING_PAYLOAD 56
#define FRAME4_LEN (14 + 20 + 8 + PING_PAYLOAD)
#define FRAME6_LEN (14 + 40 + 8 + PING_PAYLOAD)

static char g_skip[256];
static char g_pin[128];
static char g_ns_a[32], g_ns_b[32];   /* namespaces, once made */
static char g_dev_a[IF_NAMESIZE], g_dev_b[IF_NAMESIZE];
static char g_dev_c[IF_NAMESIZE], g_dev_d[IF_NAMESIZE];
static bool g_ns_made;
static int g_root_ns = -1;           /* our original namespace */
static struct net_bpf *g_open;

/* ---- helpers -------------------------------------------------------------- */

static void skip_if_unavailable(void)
{
	if (g_skip[0]) {
		print_message("skipping: %s\n", g_skip);
		skip();
	}
}

static struct net_bpf *open_pin(void)
{
	struct net_bpf *n = NULL;
	int err;

	skip_if_unavailable();
	err = net_bpf_open(&n, g_pin);
	if (err == -EPERM || err == -ENOSYS || err == -EOPNOTSUPP) {
		snprintf(g_skip, sizeof(g_skip), "BPF cannot be used here: net_bpf_open: %s",
			 strerror(-err));
		print_message("skipping: %s\n", g_skip);
		skip();
	}
	assert_int_equal(err, 0);
	assert_non_null(n);
	assert_null(g_open);
	g_open = n;
	return n;
}

static void close_n(struct net_bpf **n)
{
	assert_ptr_equal(*n, g_open);
	net_bpf_close(g_open);
	g_open = NULL;
	*n = NULL;
}

/* Back to the root namespace whatever happened. */
static int test_teardown(void **state)
{
	net_bpf_close(g_open);
	g_open = NULL;
	if (g_root_ns >= 0)
		setns(g_root_ns, CLONE_NEWNET);
	return 0;
}

__attribute__((format(printf, 1, 2)))
static int sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	return rc == 0 ? 0 : -1;
}

/* Output of a shell command (at most @len - 1 bytes). */
static void sh_out(char *out, size_t len, const char *cmd)
{
	FILE *p = popen(cmd, "r");
	size_t n = 0;

	assert_non_null(p);
	while (n + 1 < len) {
		size_t r = fread(out + n, 1, len - 1 - n, p);

		if (r == 0)
			break;
		n += r;
	}
	out[n] = '\0';
	pclose(p);
}

static int count_substr(const char *s, const char *sub)
{
	int n = 0;

	for (const char *p = strstr(s, sub); p; p = strstr(p + 1, sub))
		n++;
	return n;
}

static void ns_enter(const char *ns)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/run/netns/%s", ns);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(setns(fd, CLONE_NEWNET), 0);
	close(fd);
}

static struct netclass *classes(const char *text, const struct netclass_ids *prev)
{
	struct netclass *nc = NULL;
	char err[256] = "";

	if (netclass_parse(text, strlen(text), "test", prev, &nc, err, sizeof(err)) != 0)
		fail_msg("class file: %s", err);
	return nc;
}

/* ---- synthetic frames ------------------------------------------------------ */

struct frame {
	const char *what;
	unsigned char data[160];
	size_t len;
	uint8_t class_in, class_eg; /* expected class on ingress / egress */
	int repeat;
};

static size_t eth_put(unsigned char *p, uint16_t type, bool vlan)
{
	static const unsigned char macs[12] = { 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2 };
	size_t off = 12;

	memcpy(p, macs, 12);
	if (vlan) {
		p[off++] = 0x81;
		p[off++] = 0x00;
		p[off++] = 0x00;
		p[off++] = 0x2a; /* VLAN 42 */
	}
	p[off++] = (unsigned char)(type >> 8);
	p[off++] = (unsigned char)type;
	return off;
}

static void frame4(struct frame *f, const char *src, const char *dst, size_t payload, bool vlan)
{
	size_t off = eth_put(f->data, 0x0800, vlan);
	unsigned char *ip = f->data + off;

	memset(ip, 0, 20 + payload);
	ip[0] = 0x45;
	ip[2] = (unsigned char)((20 + payload) >> 8);
	ip[3] = (unsigned char)(20 + payload);
	ip[8] = 64;
	ip[9] = 17; /* UDP */
	assert_int_equal(inet_pton(AF_INET, src, ip + 12), 1);
	assert_int_equal(inet_pton(AF_INET, dst, ip + 16), 1);
	f->len = off + 20 + payload;
}

static void frame6(struct frame *f, const char *src, const char *dst, size_t payload)
{
	size_t off = eth_put(f->data, 0x86dd, false);
	unsigned char *ip = f->data + off;

	memset(ip, 0, 40 + payload);
	ip[0] = 0x60;
	ip[4] = (unsigned char)(payload >> 8);
	ip[5] = (unsigned char)payload;
	ip[6] = 17;
	ip[7] = 64;
	assert_int_equal(inet_pton(AF_INET6, src, ip + 8), 1);
	assert_int_equal(inet_pton(AF_INET6, dst, ip + 24), 1);
	f->len = off + 40 + payload;
}

static void frame_arp(struct frame *f)
{
	size_t off = eth_put(f->data, 0x0806, false);

	memset(f->data + off, 0, 28);
	f->data[off + 1] = 1;
	f->data[off + 2] = 0x08;
	f->data[off + 4] = 6;
	f->data[off + 5] = 4;
	f->data[off + 7] = 1;
	f->len = off + 28;
}

static int prog_fd(const char *name)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", g_pin, name);
	fd = bpf_obj_get(path);
	assert_true(fd >= 0);
	return fd;
}

/* Runs @f through the program of @dir @f->repeat times. */
static void frame_run(const struct frame *f, int dir)
{
	int fd = prog_fd(dir == NET_DIR_INGRESS ? "net_ingress" : "net_egress");
	unsigned char out[sizeof(f->data)];
	/* An output buffer although we ignore it: valgrind takes a NULL one
	 * for a bad pointer. */
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = f->data, .data_size_in = (uint32_t)f->len,
		    .data_out = out, .data_size_out = sizeof(out), .repeat = (uint32_t)f->repeat);

	if (bpf_prog_test_run_opts(fd, &opts) != 0)
		fail_msg("test run of \"%s\" (%zu bytes): %s", f->what, f->len, strerror(errno));
	/* The verdict lets every other filter run. */
	assert_int_equal((int32_t)opts.retval, TC_ACT_UNSPEC);
	close(fd);
}

struct expect {
	uint64_t bytes[2][NETCLASS_IDS], packets[2][NETCLASS_IDS];
	uint32_t ifindex;    /* seen in the counters */
	int keys, mismatches;
};

static void counts_add(struct expect *e, const struct frame *f)
{
	e->bytes[NET_DIR_INGRESS][f->class_in] += f->len * (uint64_t)f->repeat;
	e->packets[NET_DIR_INGRESS][f->class_in] += (uint64_t)f->repeat;
	e->bytes[NET_DIR_EGRESS][f->class_eg] += f->len * (uint64_t)f->repeat;
	e->packets[NET_DIR_EGRESS][f->class_eg] += (uint64_t)f->repeat;
}

static int counts_check_cb(void *arg, uint32_t ifindex, uint8_t dir, uint8_t class_id,
			   uint64_t bytes, uint64_t packets)
{
	struct expect *e = arg;

	print_message("  ifindex %u %s class %u: %llu bytes, %llu packets (want %llu, %llu)\n",
		      ifindex, dir == NET_DIR_INGRESS ? "ingress" : "egress ", class_id,
		      (unsigned long long)bytes, (unsigned long long)packets,
		      (unsigned long long)e->bytes[dir][class_id],
		      (unsigned long long)e->packets[dir][class_id]);
	if (e->ifindex && e->ifindex != ifindex)
		e->mismatches++;
	e->ifindex = ifindex;
	e->keys++;
	if (bytes != e->bytes[dir][class_id] || packets != e->packets[dir][class_id])
		e->mismatches++;
	return 0;
}

/* Every counter equals the expectation and no expected counter is missing. */
static void counts_check(struct net_bpf *n, struct expect *e)
{
	int want_keys = 0;

	for (int d = 0; d < 2; d++)
		for (int c = 0; c < NETCLASS_IDS; c++)
			want_keys += e->packets[d][c] != 0;
	e->keys = e->mismatches = 0;
	assert_int_equal(net_bpf_foreach(n, 0, counts_check_cb, e), want_keys);
	assert_int_equal(e->mismatches, 0);
	assert_int_equal(e->keys, want_keys);
}

static const char classes_a[] =
	"10.0.0.0/8       internal\n"
	"10.9.0.0/16      default\n"
	"203.0.113.0/24   public\n"
	"2001:db8::/32    v6\n";

/* Frames, their classes under classes_a per direction, and repeats. */
static int frames_make(struct frame *f)
{
	int n = 0;

	f[n] = (struct frame){ .what = "v4 to public", .class_in = 2, .class_eg = 1, .repeat = 3 };
	frame4(&f[n++], "10.1.1.1", "203.0.113.5", 64, false);
	f[n] = (struct frame){ .what = "v4 from public to exception", .class_in = 0, .class_eg = 2, .repeat = 5 };
	frame4(&f[n++], "203.0.113.7", "10.9.3.3", 40, false);
	f[n] = (struct frame){ .what = "v6", .class_in = 0, .class_eg = 3, .repeat = 7 };
	frame6(&f[n++], "2001:db8::1", "2001:db9::2", 64);
	f[n] = (struct frame){ .what = "arp", .class_in = 0, .class_eg = 0, .repeat = 2 };
	frame_arp(&f[n++]);
	f[n] = (struct frame){ .what = "vlan v4 internal", .class_in = 1, .class_eg = 1, .repeat = 4 };
	frame4(&f[n++], "10.2.2.2", "10.3.3.3", 64, true);
	/* Tagged, so that the kernel's test run does not check the IPv4
	 * header itself (it refuses one shorter than 20 bytes). */
	f[n] = (struct frame){ .what = "truncated vlan v4", .class_in = 0, .class_eg = 0, .repeat = 1 };
	frame4(&f[n], "10.1.1.1", "203.0.113.5", 0, true);
	f[n++].len = 18 + 8; /* the addresses are cut off */
	f[n] = (struct frame){ .what = "v4 unmatched", .class_in = 0, .class_eg = 0, .repeat = 6 };
	frame4(&f[n++], "198.51.100.2", "198.51.100.1", 26, false);
	return n;
}

/* ---- synthetic tests -------------------------------------------------------- */

static void test_prog_run_classes(void **state)
{
	struct frame f[8];
	struct expect e;
	struct net_bpf *n;
	struct netclass *nc;
	uint64_t b, p;
	int nf;

	skip_if_unavailable();
	assert_int_equal(net_bpf_unpin(g_pin), 0);
	n = open_pin();
	assert_false(net_bpf_reused(n));
	assert_int_not_equal(net_bpf_epoch(n), 0);
	nc = classes(classes_a, NULL);
	assert_int_equal(net_bpf_set_classes(n, nc), 0);

	memset(&e, 0, sizeof(e));
	nf = frames_make(f);
	for (int i = 0; i < nf; i++) {
		frame_run(&f[i], NET_DIR_INGRESS);
		frame_run(&f[i], NET_DIR_EGRESS);
		counts_add(&e, &f[i]);
	}
	counts_check(n, &e);
	/* Test runs count on the device the kernel runs them on: loopback
	 * (ifindex 1) on this kernel; older ones leave skb->dev unset (0). */
	print_message("test runs counted on ifindex %u\n", e.ifindex);
	assert_true(e.ifindex <= 1);
	assert_int_equal(net_bpf_read(n, e.ifindex, NET_DIR_INGRESS, 2, &b, &p), 0);
	assert_true(b == 3 * f[0].len && p == 3);
	assert_int_equal(net_bpf_read(n, e.ifindex, NET_DIR_INGRESS, 200, &b, &p), -ENOENT);
	assert_int_equal(net_bpf_read(n, e.ifindex, 2, 0, &b, &p), -EINVAL);
	assert_int_equal(net_bpf_lost(n, NET_DIR_INGRESS, &b, &p), 0);
	assert_true(b == 0 && p == 0);
	netclass_free(nc);
	close_n(&n);
}

/* A reload changes classes in place; counts stay; ids stay with names,
 * also across a reopen (they are pinned with the counters). */
static void test_reload_in_place(void **state)
{
	struct frame f[8];
	struct expect e;
	struct net_bpf *n;
	struct netclass *a, *b, *bad;
	struct netclass_ids ids;
	int nf;

	skip_if_unavailable();
	assert_int_equal(net_bpf_unpin(g_pin), 0);
	n = open_pin();
	assert_int_equal(net_bpf_class_ids(n, &ids), 0);
	assert_string_equal(ids.name[0], "default");
	assert_string_equal(ids.name[1], "");
	a = classes(classes_a, &ids);
	assert_int_equal(net_bpf_set_classes(n, a), 0);
	memset(&e, 0, sizeof(e));
	nf = frames_make(f);
	for (int i = 0; i < nf; i++) {
		frame_run(&f[i], NET_DIR_INGRESS);
		frame_run(&f[i], NET_DIR_EGRESS);
		counts_add(&e, &f[i]);
	}
	counts_check(n, &e);

	/* public narrowed to a /25, the exception gone, v6 renamed v6b. */
	b = classes("10.0.0.0/8 internal\n203.0.113.0/25 public\n2001:db8::/32 v6b\n", &a->ids);
	assert_int_equal(netclass_id(b, "v6b"), 4);
	assert_int_equal(net_bpf_set_classes(n, b), 0);
	counts_check(n, &e); /* nothing moved */
	f[0].class_in = 2; /* 203.0.113.5: in the /25 */
	f[0].class_eg = 1;
	f[1].class_in = 1; /* 10.9.3.3: internal now */
	f[1].class_eg = 2; /* 203.0.113.7: in the /25 */
	f[2].class_eg = 4; /* v6b */
	for (int i = 0; i < 3; i++) {
		frame_run(&f[i], NET_DIR_INGRESS);
		frame_run(&f[i], NET_DIR_EGRESS);
		counts_add(&e, &f[i]);
	}
	counts_check(n, &e);

	/* A netclass numbered without the ids in force is refused whole. */
	bad = classes("0.0.0.0/0 other\n", NULL);
	assert_int_equal(net_bpf_set_classes(n, bad), -ESTALE);
	netclass_free(bad);
	close_n(&n);

	/* Reopen: the same objects, the same ids, the same classification. */
	n = open_pin();
	assert_true(net_bpf_reused(n));
	assert_int_equal(net_bpf_class_ids(n, &ids), 0);
	assert_string_equal(ids.name[1], "internal");
	assert_string_equal(ids.name[2], "public");
	assert_string_equal(ids.name[3], "v6"); /* dropped, but its counters exist */
	assert_string_equal(ids.name[4], "v6b");
	assert_string_equal(ids.name[5], "");
	counts_check(n, &e);
	frame_run(&f[2], NET_DIR_EGRESS);
	e.bytes[NET_DIR_EGRESS][4] += f[2].len * (uint64_t)f[2].repeat;
	e.packets[NET_DIR_EGRESS][4] += (uint64_t)f[2].repeat;
	counts_check(n, &e);
	netclass_free(a);
	netclass_free(b);
	close_n(&n);
}

/* ---- namespaces --------------------------------------------------------------- */

/*
 * A: "the host" with the tap stand-in g_dev_a (10.99.7.1 internal,
 * 10.99.8.1 public, fd99::1 v6); B: "the VM" with g_dev_b (.2 each).
 * Static neighbours and no DAD/RS: the only IP traffic between them is
 * the test's, so per-class packet counts are exact.
 */
static const char veth_classes[] =
	"10.99.7.0/24 internal\n10.99.8.0/24 public\nfd99::/64 v6\n";

static int ns_side_up(const char *ns, const char *dev, int me, int peer)
{
	return sh("ip -n %s link set lo up && ip -n %s link set %s up && "
		  "ip -n %s addr add 10.99.7.%d/24 dev %s && ip -n %s addr add 10.99.8.%d/24 dev %s && "
		  "ip -n %s addr add fd99::%d/64 dev %s nodad && "
		  "ip -n %s neigh replace 10.99.7.%d lladdr 02:48:56:00:00:0%d dev %s nud permanent && "
		  "ip -n %s neigh replace 10.99.8.%d lladdr 02:48:56:00:00:0%d dev %s nud permanent && "
		  "ip -n %s neigh replace fd99::%d lladdr 02:48:56:00:00:0%d dev %s nud permanent",
		  ns, ns, dev, ns, me, dev, ns, me, dev, ns, me, dev,
		  ns, peer, peer, dev, ns, peer, peer, dev, ns, peer, peer, dev);
}

/* Quiet IPv6 in @ns for links made from now on. */
static int ns_quiet(const char *ns)
{
	return sh("ip netns exec %s sysctl -qw net.ipv6.conf.default.accept_dad=0 "
		  "net.ipv6.conf.default.dad_transmits=0 net.ipv6.conf.default.router_solicitations=0 "
		  "net.ipv6.conf.all.accept_dad=0 >/dev/null", ns);
}

static int ns_make(void)
{
	snprintf(g_ns_a, sizeof(g_ns_a), "hvmt-a-%d", (int)getpid());
	snprintf(g_ns_b, sizeof(g_ns_b), "hvmt-b-%d", (int)getpid());
	if (sh("ip netns add %s && ip netns add %s", g_ns_a, g_ns_b))
		return -1;
	g_ns_made = true;
	if (ns_quiet(g_ns_a) || ns_quiet(g_ns_b))
		return -1;
	if (sh("ip -n %s link add %s address 02:48:56:00:00:01 type veth "
	       "peer name %s address 02:48:56:00:00:02 netns %s",
	       g_ns_a, g_dev_a, g_dev_b, g_ns_b))
		return -1;
	if (ns_side_up(g_ns_a, g_dev_a, 1, 2) || ns_side_up(g_ns_b, g_dev_b, 2, 1))
		return -1;
	return 0;
}

static void ns_remove(void)
{
	if (!g_ns_made)
		return;
	sh("ip netns del %s 2>/dev/null; ip netns del %s 2>/dev/null", g_ns_a, g_ns_b);
	g_ns_made = false;
}

/* Makes the namespaces on first use and enters A; skips if it cannot. */
static void ns_use(void)
{
	static bool tried;

	skip_if_unavailable();
	if (!tried) {
		tried = true;
		if (ns_make() != 0) {
			ns_remove();
			snprintf(g_skip, sizeof(g_skip), "cannot make test namespaces with ip(8)");
		}
	}
	skip_if_unavailable();
	if (!g_ns_made)
		skip();
	ns_enter(g_ns_a);
}

/* ---- pings from B --------------------------------------------------------- */

struct pinger {
	int s4, s6;
	uint16_t id, seq;
};

static uint16_t csum(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)(p[len - 1] << 8);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

/* Raw ICMP sockets that live in B, made from A's thread. */
static void pinger_open(struct pinger *pg)
{
	struct icmp6_filter filt;

	memset(pg, 0, sizeof(*pg));
	ns_enter(g_ns_b);
	pg->s4 = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
	pg->s6 = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMPV6);
	ns_enter(g_ns_a);
	assert_true(pg->s4 >= 0 && pg->s6 >= 0);
	ICMP6_FILTER_SETBLOCKALL(&filt);
	ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &filt);
	assert_int_equal(setsockopt(pg->s6, IPPROTO_ICMPV6, ICMP6_FILTER, &filt, sizeof(filt)), 0);
	pg->id = (uint16_t)getpid();
}

static void pinger_close(struct pinger *pg)
{
	close(pg->s4);
	close(pg->s6);
}

/* Sends @count echo requests from B to @dst and waits for every reply. */
static void ping(struct pinger *pg, const char *dst, int count)
{
	bool v6 = strchr(dst, ':') != NULL;
	int s = v6 ? pg->s6 : pg->s4, replies = 0;
	struct sockaddr_storage sa;
	socklen_t salen;
	unsigned char pkt[8 + PING_PAYLOAD], in[1500];

	memset(&sa, 0, sizeof(sa));
	if (v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&sa;

		a->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, dst, &a->sin6_addr), 1);
		salen = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&sa;

		a->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, dst, &a->sin_addr), 1);
		salen = sizeof(*a);
	}
	for (int i = 0; i < count; i++) {
		uint16_t seq = ++pg->seq;

		memset(pkt, 0, sizeof(pkt));
		pkt[0] = v6 ? ICMP6_ECHO_REQUEST : ICMP_ECHO;
		memcpy(pkt + 4, &pg->id, 2);
		memcpy(pkt + 6, &seq, 2);
		for (int j = 0; j < PING_PAYLOAD; j++)
			pkt[8 + j] = (unsigned char)j;
		if (!v6) { /* the kernel sums ICMPv6 itself */
			uint16_t c = csum(pkt, sizeof(pkt));

			memcpy(pkt + 2, &c, 2);
		}
		assert_int_equal(sendto(s, pkt, sizeof(pkt), 0, (struct sockaddr *)&sa, salen),
				 (ssize_t)sizeof(pkt));
	}
	while (replies < count) {
		struct pollfd pfd = { .fd = s, .events = POLLIN };
		ssize_t n;
		size_t off = 0;

		if (poll(&pfd, 1, 3000) != 1)
			fail_msg("only %d of %d replies from %s", replies, count, dst);
		n = recv(s, in, sizeof(in), 0);
		assert_true(n > 0);
		if (!v6)
			off = (size_t)(in[0] & 0x0f) * 4; /* raw IPv4: header first */
		if ((size_t)n < off + 8)
			continue;
		if (in[off] == (v6 ? ICMP6_ECHO_REPLY : ICMP_ECHOREPLY) &&
		    memcmp(in + off + 4, &pg->id, 2) == 0)
			replies++;
	}
}

/* ---- counters vs the link ------------------------------------------------------ */

struct totals {
	uint64_t bytes[2], packets[2];
	uint64_t cbytes[2][NETCLASS_IDS], cpackets[2][NETCLASS_IDS];
};

static int totals_cb(void *arg, uint32_t ifindex, uint8_t dir, uint8_t class_id, uint64_t bytes,
		     uint64_t packets)
{
	struct totals *t = arg;

	t->bytes[dir] += bytes;
	t->packets[dir] += packets;
	t->cbytes[dir][class_id] += bytes;
	t->cpackets[dir][class_id] += packets;
	return 0;
}

static void totals_read(struct net_bpf *n, int ifindex, struct totals *t)
{
	memset(t, 0, sizeof(*t));
	assert_true(net_bpf_foreach(n, (uint32_t)ifindex, totals_cb, t) >= 0);
}

/* Waits until the link's counters stop moving (link-up chatter). */
static void link_settle(int ifindex, struct link_stats *out)
{
	struct link_stats a, b;

	assert_int_equal(link_stats_get(ifindex, &a), 0);
	for (int i = 0; i < 40; i++) {
		usleep(250000);
		assert_int_equal(link_stats_get(ifindex, &b), 0);
		if (memcmp(&a, &b, sizeof(a)) == 0 && i >= 3)
			break;
		a = b;
	}
	*out = b;
}

/*
 * BPF totals per direction equal the link's counters since @base, to the
 * byte and packet: ingress is the link's rx, egress its tx.
 */
static void expect_link_equal(struct net_bpf *n, int ifindex, const struct link_stats *base,
			      struct totals *t)
{
	struct link_stats now;

	totals_read(n, ifindex, t);
	assert_int_equal(link_stats_get(ifindex, &now), 0);
	print_message("  ingress: bpf %llu B / %llu pkts, link rx %llu B / %llu pkts\n",
		      (unsigned long long)t->bytes[0], (unsigned long long)t->packets[0],
		      (unsigned long long)(now.rx_bytes - base->rx_bytes),
		      (unsigned long long)(now.rx_packets - base->rx_packets));
	print_message("  egress:  bpf %llu B / %llu pkts, link tx %llu B / %llu pkts\n",
		      (unsigned long long)t->bytes[1], (unsigned long long)t->packets[1],
		      (unsigned long long)(now.tx_bytes - base->tx_bytes),
		      (unsigned long long)(now.tx_packets - base->tx_packets));
	assert_true(t->bytes[NET_DIR_INGRESS] == now.rx_bytes - base->rx_bytes);
	assert_true(t->packets[NET_DIR_INGRESS] == now.rx_packets - base->rx_packets);
	assert_true(t->bytes[NET_DIR_EGRESS] == now.tx_bytes - base->tx_bytes);
	assert_true(t->packets[NET_DIR_EGRESS] == now.tx_packets - base->tx_packets);
}

/* Attaches to a quiet link; returns the counters at attach. */
static int attach_quiet(struct net_bpf *n, int ifindex, struct link_stats *at)
{
	struct link_stats before;
	int ret = -1;

	for (int tries = 0; tries < 3; tries++) {
		link_settle(ifindex, &before);
		ret = net_bpf_attach(n, ifindex, at);
		assert_true(ret >= 0);
		if (memcmp(&before, at, sizeof(before)) == 0)
			return ret;
		/* A frame slipped in at attach: start over, cleanly. */
		assert_int_equal(net_bpf_detach(n, ifindex), 0);
		assert_true(net_bpf_forget(n, (uint32_t)ifindex) >= 0);
	}
	fail_msg("link %d never quiet at attach", ifindex);
	return ret;
}

/* ---- veth tests ------------------------------------------------------------------ */

/* Another tool's tc filter: a program that passes everything on, with its
 * own handle and priority, after ours. */
#define OTHER_HANDLE 7
#define OTHER_HANDLE_STR "handle 0x7 "

static void other_filter_add(int ifindex)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = TC_ACT_UNSPEC },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = OTHER_HANDLE, .priority = 100);
	int fd = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "other_tool", "GPL", insns, 2, NULL);
	int err;

	assert_true(fd >= 0);
	err = bpf_tc_hook_create(&hook);
	assert_true(err == 0 || err == -EEXIST);
	opts.prog_fd = fd;
	assert_int_equal(bpf_tc_attach(&hook, &opts), 0);
	close(fd); /* the filter holds it */
}

static void other_filter_del(int ifindex)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = OTHER_HANDLE, .priority = 100);

	assert_int_equal(bpf_tc_detach(&hook, &opts), 0);
}

static void test_veth_matches_link(void **state)
{
	struct net_bpf *n;
	struct netclass *nc;
	struct netclass_ids ids;
	struct link_stats at;
	struct pinger pg;
	struct totals t;
	char out[4096], cmd[256];
	int ifindex;

	ns_use();
	assert_int_equal(net_bpf_unpin(g_pin), 0);
	n = open_pin();
	assert_int_equal(net_bpf_class_ids(n, &ids), 0);
	nc = classes(veth_classes, &ids);
	assert_int_equal(net_bpf_set_classes(n, nc), 0);
	ifindex = (int)if_nametoindex(g_dev_a);
	assert_true(ifindex > 0);

	/* Another tool's filter on the same hook, before and after ours. */
	other_filter_add(ifindex);

	assert_int_equal(attach_quiet(n, ifindex, &at), 0);
	assert_int_equal(net_bpf_attach(n, ifindex, NULL), 1); /* idempotent */
	snprintf(cmd, sizeof(cmd), "tc filter show dev %s ingress; tc filter show dev %s egress",
		 g_dev_a, g_dev_a);
	sh_out(out, sizeof(out), cmd);
	assert_int_equal(count_substr(out, "handle 0x4856"), 2);
	assert_int_equal(count_substr(out, OTHER_HANDLE_STR), 1);

	pinger_open(&pg);
	ping(&pg, "10.99.7.1", 20);
	ping(&pg, "10.99.8.1", 30);
	ping(&pg, "fd99::1", 40);
	usleep(100000);

	expect_link_equal(n, ifindex, &at, &t);
	/* Per class, exact: a request in, a reply out for every ping. */
	assert_true(t.cpackets[NET_DIR_INGRESS][1] == 20 && t.cpackets[NET_DIR_EGRESS][1] == 20);
	assert_true(t.cpackets[NET_DIR_INGRESS][2] == 30 && t.cpackets[NET_DIR_EGRESS][2] == 30);
	assert_true(t.cpackets[NET_DIR_INGRESS][3] == 40 && t.cpackets[NET_DIR_EGRESS][3] == 40);
	assert_true(t.cbytes[NET_DIR_INGRESS][1] == 20 * FRAME4_LEN);
	assert_true(t.cbytes[NET_DIR_EGRESS][2] == 30 * FRAME4_LEN);
	assert_true(t.cbytes[NET_DIR_INGRESS][3] == 40 * FRAME6_LEN);
	assert_true(t.cbytes[NET_DIR_EGRESS][3] == 40 * FRAME6_LEN);
	print_message("  default class: %llu pkts in, %llu out (link chatter)\n",
		      (unsigned long long)t.cpackets[0][0], (unsigned long long)t.cpackets[1][0]);

	/* Detach removes exactly our filters. */
	assert_int_equal(net_bpf_detach(n, ifindex), 0);
	assert_int_equal(net_bpf_detach(n, ifindex), 0);
	sh_out(out, sizeof(out), cmd);
	assert_int_equal(count_substr(out, "handle 0x4856"), 0);
	assert_int_equal(count_substr(out, OTHER_HANDLE_STR), 1);
	ping(&pg, "10.99.7.1", 5); /* not counted any more */
	totals_read(n, ifindex, &t);
	assert_true(t.cpackets[NET_DIR_INGRESS][1] == 20);
	assert_true(net_bpf_forget(n, (uint32_t)ifindex) > 0);
	totals_read(n, ifindex, &t);
	assert_true(t.packets[0] == 0 && t.packets[1] == 0);
	other_filter_del(ifindex);
	pinger_close(&pg);
	netclass_free(nc);
	close_n(&n);
}

/* Filters stay and count while the agent is closed; a reopen re-owns them
 * without a gap; an upgrade (other program) replaces them in place. */
static void test_veth_restart(void **state)
{
	struct net_bpf *n;
	struct netclass *nc;
	struct netclass_ids ids;
	struct link_stats at, at2;
	struct pinger pg;
	struct totals t;
	char out[4096], cmd[256];
	uint64_t epoch;
	int ifindex;

	ns_use();
	assert_int_equal(net_bpf_unpin(g_pin), 0);
	n = open_pin();
	assert_int_equal(net_bpf_class_ids(n, &ids), 0);
	nc = classes(veth_classes, &ids);
	assert_int_equal(net_bpf_set_classes(n, nc), 0);
	netclass_free(nc);
	epoch = net_bpf_epoch(n);
	ifindex = (int)if_nametoindex(g_dev_a);
	assert_int_equal(attach_quiet(n, ifindex, &at), 0);
	pinger_open(&pg);
	ping(&pg, "10.99.8.1", 10);
	close_n(&n);

	ping(&pg, "10.99.8.1", 15); /* nobody holds an fd */

	n = open_pin();
	assert_true(net_bpf_reused(n));
	assert_true(net_bpf_epoch(n) == epoch);
	assert_int_equal(net_bpf_attach(n, ifindex, NULL), 1); /* already ours */
	usleep(100000);
	expect_link_equal(n, ifindex, &at, &t);
	assert_true(t.cpackets[NET_DIR_INGRESS][2] == 25 && t.cpackets[NET_DIR_EGRESS][2] == 25);
	close_n(&n);

	/* Another program (here: fresh pins) is a new epoch; attach replaces
	 * the old filter in place rather than adding a second one. */
	assert_int_equal(net_bpf_unpin(g_pin), 0);
	n = open_pin();
	assert_false(net_bpf_reused(n));
	assert_true(net_bpf_epoch(n) != epoch);
	assert_int_equal(attach_quiet(n, ifindex, &at2), 0);
	snprintf(cmd, sizeof(cmd), "tc filter show dev %s ingress; tc filter show dev %s egress",
		 g_dev_a, g_dev_a);
	sh_out(out, sizeof(out), cmd);
	assert_int_equal(count_substr(out, "handle 0x4856"), 2);
	ping(&pg, "10.99.7.1", 7);
	usleep(100000);
	expect_link_equal(n, ifindex, &at2, &t);
	assert_true(t.cpackets[NET_DIR_INGRESS][0] >= 7); /* no classes loaded: default */
	assert_int_equal(net_bpf_detach(n, ifindex), 0);
	pinger_close(&pg);
	close_n(&n);
}

struct seen {
	int new_ifindex, del_ifindex, resync;
	char name[IF_NAMESIZE];
	int listed_a;
};

static void seen_cb(void *arg, int ifindex, const char *name, enum taps_event ev)
{
	struct seen *s = arg;

	if (ev == TAPS_RESYNC) {
		s->resync++;
		return;
	}
	if (strcmp(name, s->name) != 0)
		return;
	if (ev == TAPS_NEW)
		s->new_ifindex = ifindex;
	else
		s->del_ifindex = ifindex;
}

static void list_cb(void *arg, int ifindex, const char *name, enum taps_event ev)
{
	struct seen *s = arg;

	assert_int_equal(ev, TAPS_NEW);
	if (strcmp(name, g_dev_a) == 0)
		s->listed_a = ifindex;
}

static void taps_wait(struct taps *t, int *what)
{
	for (int i = 0; i < 50 && !*what; i++) {
		struct pollfd pfd = { .fd = taps_fd(t), .events = POLLIN };

		if (poll(&pfd, 1, 100) == 1)
			assert_true(taps_process(t) >= 0);
	}
}

/* A link that appears while we watch (a hot-plugged NIC) is reported,
 * attached at once and metered from its first frame; its removal is
 * reported too. */
static void test_hotplug_link(void **state)
{
	struct net_bpf *n;
	struct netclass *nc;
	struct netclass_ids ids;
	struct link_stats at, via_taps;
	struct taps *t = NULL;
	struct totals tot;
	struct seen s;
	int ifindex;

	ns_use();
	memset(&s, 0, sizeof(s));
	snprintf(s.name, sizeof(s.name), "%s", g_dev_c);
	assert_int_equal(taps_open(&t, seen_cb, &s), 0);
	assert_true(fcntl(taps_fd(t), F_GETFD) & FD_CLOEXEC);
	assert_true(taps_list(t, list_cb, &s) >= 2); /* lo and the tap stand-in */
	assert_int_equal(s.listed_a, (int)if_nametoindex(g_dev_a));
	assert_int_equal(taps_process(t), 0); /* nothing pending */

	assert_int_equal(net_bpf_unpin(g_pin), 0);
	n = open_pin();
	assert_int_equal(net_bpf_class_ids(n, &ids), 0);
	nc = classes(veth_classes, &ids);
	assert_int_equal(net_bpf_set_classes(n, nc), 0);
	netclass_free(nc);

	/* Hot-plug: a second link, still down, its peer in B. */
	assert_int_equal(sh("ip -n %s link add %s address 02:48:56:00:00:03 type veth "
			    "peer name %s address 02:48:56:00:00:04 netns %s",
			    g_ns_a, g_dev_c, g_dev_d, g_ns_b), 0);
	taps_wait(t, &s.new_ifindex);
	ifindex = (int)if_nametoindex(g_dev_c);
	assert_int_equal(s.new_ifindex, ifindex);
	assert_int_equal(net_bpf_attach(n, ifindex, &at), 0);
	assert_true(at.rx_packets == 0 && at.tx_packets == 0); /* before its first frame */
	assert_int_equal(link_stats_read(t, ifindex, &via_taps.rx_bytes, &via_taps.rx_packets,
					 &via_taps.tx_bytes, &via_taps.tx_packets), 0);
	assert_memory_equal(&via_taps, &at, sizeof(at));

	/* Up, with the addresses of another subnet of each class. */
	assert_int_equal(sh("ip -n %s link set %s up && ip -n %s link set %s up && "
			    "ip -n %s addr add 10.99.7.5/32 dev %s && ip -n %s addr add 10.99.7.6/32 dev %s && "
			    "ip -n %s route add 10.99.7.5/32 dev %s && ip -n %s route add 10.99.7.6/32 dev %s && "
			    "ip -n %s neigh replace 10.99.7.5 lladdr 02:48:56:00:00:03 dev %s nud permanent && "
			    "ip -n %s neigh replace 10.99.7.6 lladdr 02:48:56:00:00:04 dev %s nud permanent",
			    g_ns_a, g_dev_c, g_ns_b, g_dev_d, g_ns_a, g_dev_c, g_ns_b, g_dev_d,
			    g_ns_b, g_dev_d, g_ns_a, g_dev_c, g_ns_b, g_dev_d, g_ns_a, g_dev_c), 0);
	{
		struct pinger pg;

		pinger_open(&pg);
		ping(&pg, "10.99.7.5", 12);
		pinger_close(&pg);
	}
	usleep(200000);
	/* Everything the link ever counted, we counted: from its first frame. */
	expect_link_equal(n, ifindex, &at, &tot);
	assert_true(tot.cpackets[NET_DIR_INGRESS][1] == 12 && tot.cpackets[NET_DIR_EGRESS][1] == 12);
	print_message("  hot-plugged link: its 12 pings and %llu link-up frames in, all counted\n",
		      (unsigned long long)(tot.packets[0] - 12));
	assert_int_equal(link_stats_read(t, 1 << 30, &via_taps.rx_bytes, &via_taps.rx_packets,
					 &via_taps.tx_bytes, &via_taps.tx_packets), -ENODEV);

	/* Unplug: reported as gone; its counters stay until forgotten. */
	assert_int_equal(sh("ip -n %s link del %s", g_ns_a, g_dev_c), 0);
	taps_wait(t, &s.del_ifindex);
	assert_int_equal(s.del_ifindex, ifindex);
	assert_int_equal(s.resync, 0);
	assert_int_equal(net_bpf_attach(n, ifindex, NULL), -ENODEV);
	assert_int_equal(net_bpf_detach(n, ifindex), -ENODEV);
	assert_true(net_bpf_forget(n, (uint32_t)ifindex) > 0);
	assert_int_equal(net_bpf_forget(n, (uint32_t)ifindex), 0);
	taps_close(t);
	close_n(&n);
}

static void test_prog_stats(void **state)
{
	struct net_bpf *n;
	struct link_stats at;
	struct pinger pg;
	uint64_t ns0[2], cnt0[2], ns1[2], cnt1[2];
	int ifindex, stats_fd;

	ns_use();
	n = open_pin();
	ifindex = (int)if_nametoindex(g_dev_a);
	assert_true(net_bpf_attach(n, ifindex, &at) >= 0);
	stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	assert_true(stats_fd >= 0);
	for (int d = 0; d < 2; d++)
		assert_int_equal(net_bpf_prog_stats(n, (uint8_t)d, &ns0[d], &cnt0[d]), 0);
	pinger_open(&pg);
	ping(&pg, "10.99.8.1", 50);
	pinger_close(&pg);
	for (int d = 0; d < 2; d++) {
		assert_int_equal(net_bpf_prog_stats(n, (uint8_t)d, &ns1[d], &cnt1[d]), 0);
		print_message("prog stats %s: %llu runs, %.0f ns per run\n", d ? "egress" : "ingress",
			      (unsigned long long)(cnt1[d] - cnt0[d]),
			      cnt1[d] > cnt0[d] ? (double)(ns1[d] - ns0[d]) / (double)(cnt1[d] - cnt0[d]) : 0.0);
		assert_true(cnt1[d] - cnt0[d] >= 50);
	}
	close(stats_fd);
	assert_int_equal(net_bpf_prog_stats(n, 2, &ns1[0], &cnt1[0]), -EINVAL);
	assert_int_equal(net_bpf_detach(n, ifindex), 0);
	close_n(&n);
}

static int group_setup(void **state)
{
	int pid = (int)getpid() % 100000;

	if (geteuid() != 0) {
		snprintf(g_skip, sizeof(g_skip), "needs root (BPF, bpffs, network namespaces)");
		return 0;
	}
	if (access("/usr/sbin/ip", X_OK) != 0 && access("/sbin/ip", X_OK) != 0) {
		snprintf(g_skip, sizeof(g_skip), "no ip(8) (iproute2)");
		return 0;
	}
	g_root_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (g_root_ns < 0) {
		snprintf(g_skip, sizeof(g_skip), "cannot open /proc/self/ns/net");
		return 0;
	}
	snprintf(g_pin, sizeof(g_pin), "/sys/fs/bpf/hvmeter-test-net-%d", (int)getpid());
	snprintf(g_dev_a, sizeof(g_dev_a), "hvta%d", pid);
	snprintf(g_dev_b, sizeof(g_dev_b), "hvtb%d", pid);
	snprintf(g_dev_c, sizeof(g_dev_c), "hvtc%d", pid);
	snprintf(g_dev_d, sizeof(g_dev_d), "hvtd%d", pid);
	return 0;
}

static int group_teardown(void **state)
{
	if (g_root_ns >= 0) {
		setns(g_root_ns, CLONE_NEWNET);
		close(g_root_ns);
	}
	ns_remove();
	if (g_pin[0])
		net_bpf_unpin(g_pin);
	return 0;
}

/* ---- helper modes for tests/bench/bpf_cost.sh ------------------------------------ */

#define BENCH_EMPTY_PIN "bench_empty_link"

static int bench_fail(const char *what, int err)
{
	fprintf(stderr, "bench: %s: %s\n", what, strerror(err < 0 ? -err : err));
	return 1;
}

static int bench_ns_enter(const char *ns)
{
	char path[128];
	int fd, err = 0;

	snprintf(path, sizeof(path), "/run/netns/%s", ns);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (setns(fd, CLONE_NEWNET) != 0)
		err = -errno;
	close(fd);
	return err;
}

/* An empty tp_btf/sched_switch program, attached and pinned at @pin: the
 * baseline every program's cost is compared with (nested virtualisation
 * inflates absolute numbers). */
static int bench_empty_load(const char *pin)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_TRACE_RAW_TP);
	char path[PATH_MAX];
	int id, prog, link, err;

	id = libbpf_find_vmlinux_btf_id("sched_switch", BPF_TRACE_RAW_TP);
	if (id < 0)
		return id;
	opts.attach_btf_id = (__u32)id;
	prog = bpf_prog_load(BPF_PROG_TYPE_TRACING, "hv_empty_switch", "GPL", insns, 2, &opts);
	if (prog < 0)
		return prog;
	link = bpf_raw_tracepoint_open(NULL, prog);
	close(prog);
	if (link < 0)
		return link;
	snprintf(path, sizeof(path), "%s/%s", pin, BENCH_EMPTY_PIN);
	err = bpf_obj_pin(link, path);
	close(link);
	return err;
}

/* --bench-load PIN NS DEV CLASSFILE: every program, pinned at PIN, net on
 * DEV in namespace NS with the classes of CLASSFILE; exits, pins stay. */
static int bench_load(char **argv)
{
	const char *pin = argv[0], *ns = argv[1], *dev = argv[2], *cls = argv[3];
	struct netclass_ids ids;
	struct cpu_bpf *c = NULL;
	struct disk_bpf *d = NULL;
	struct net_bpf *n = NULL;
	struct netclass *nc = NULL;
	char err_msg[512];
	int err, ifindex;

	if ((err = cpu_bpf_open(&c, pin)))
		return bench_fail("cpu_bpf_open", err);
	cpu_bpf_close(c);
	if ((err = disk_bpf_open(&d, pin)))
		return bench_fail("disk_bpf_open", err);
	disk_bpf_close(d);
	if ((err = bench_empty_load(pin)))
		return bench_fail("empty sched_switch program", err);
	if ((err = net_bpf_open(&n, pin)))
		return bench_fail("net_bpf_open", err);
	err = net_bpf_class_ids(n, &ids);
	if (!err && (err = netclass_load(cls, &ids, &nc, err_msg, sizeof(err_msg)))) {
		fprintf(stderr, "bench: %s\n", err_msg);
		net_bpf_close(n);
		return 1;
	}
	if (!err)
		err = net_bpf_set_classes(n, nc);
	netclass_free(nc);
	if (err) {
		net_bpf_close(n);
		return bench_fail("net classes", err);
	}
	if ((err = bench_ns_enter(ns))) {
		net_bpf_close(n);
		return bench_fail(ns, err);
	}
	ifindex = (int)if_nametoindex(dev);
	err = ifindex > 0 ? net_bpf_attach(n, ifindex, NULL) : -ENODEV;
	net_bpf_close(n);
	if (err < 0)
		return bench_fail("net_bpf_attach", err);
	return 0;
}

/* Run time and count of the program behind pin @name (a link or a prog). */
static int bench_prog_stats(const char *pin, const char *name, uint64_t *ns, uint64_t *cnt)
{
	struct bpf_link_info linfo;
	struct bpf_prog_info pinfo;
	uint32_t len;
	char path[PATH_MAX];
	int fd, prog, err = 0;

	snprintf(path, sizeof(path), "%s/%s", pin, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return fd;
	memset(&linfo, 0, sizeof(linfo));
	len = sizeof(linfo);
	if (strstr(name, "link")) {
		if (bpf_obj_get_info_by_fd(fd, &linfo, &len) != 0) {
			err = -errno;
			close(fd);
			return err;
		}
		prog = bpf_prog_get_fd_by_id(linfo.prog_id);
		close(fd);
		if (prog < 0)
			return prog;
	} else {
		prog = fd;
	}
	memset(&pinfo, 0, sizeof(pinfo));
	len = sizeof(pinfo);
	if (bpf_obj_get_info_by_fd(prog, &pinfo, &len) != 0)
		err = -errno;
	close(prog);
	*ns = pinfo.run_time_ns;
	*cnt = pinfo.run_cnt;
	return err;
}

/* --bench-stats PIN: "NAME RUN_NS RUN_CNT" for every program. */
static int bench_stats(char **argv)
{
	static const char *const pins[][2] = {
		{ "cpu_link", "cpu_switch" }, { "disk_link", "disk_bio_queue" },
		{ "net_ingress", "net_ingress" }, { "net_egress", "net_egress" },
		{ BENCH_EMPTY_PIN, "empty_switch" },
	};
	int ret = 0;

	for (size_t i = 0; i < sizeof(pins) / sizeof(pins[0]); i++) {
		uint64_t ns = 0, cnt = 0;
		int err = bench_prog_stats(argv[0], pins[i][0], &ns, &cnt);

		if (err)
			ret = bench_fail(pins[i][0], err);
		else
			printf("%s %llu %llu\n", pins[i][1], (unsigned long long)ns,
			       (unsigned long long)cnt);
	}
	return ret;
}

/* --bench-flood NS DST SECONDS: ICMP echo requests from namespace NS to
 * DST as fast as they go (the peer answers each: both directions). */
static int bench_flood(char **argv)
{
	double secs = strtod(argv[2], NULL);
	struct sockaddr_in sa = { .sin_family = AF_INET };
	unsigned char pkt[8 + PING_PAYLOAD], in[2048];
	struct timespec t0, t;
	uint64_t sent = 0;
	int s, err;

	if ((err = bench_ns_enter(argv[0])))
		return bench_fail(argv[0], err);
	if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1)
		return bench_fail(argv[1], EINVAL);
	s = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
	if (s < 0)
		return bench_fail("raw socket", errno);
	memset(pkt, 0, sizeof(pkt));
	pkt[0] = ICMP_ECHO;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		uint16_t seq = (uint16_t)sent, c;

		memcpy(pkt + 6, &seq, 2);
		memset(pkt + 2, 0, 2);
		c = csum(pkt, sizeof(pkt));
		memcpy(pkt + 2, &c, 2);
		if (sendto(s, pkt, sizeof(pkt), 0, (struct sockaddr *)&sa, sizeof(sa)) > 0)
			sent++;
		while (recv(s, in, sizeof(in), MSG_DONTWAIT) > 0) /* drain replies */
			;
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9 < secs);
	close(s);
	printf("sent %llu\n", (unsigned long long)sent);
	return 0;
}

/* --bench-pipe SECONDS: two processes ping-pong a byte over pipes (the
 * context-switch load when perf is missing). */
static int bench_pipe(char **argv)
{
	double secs = strtod(argv[0], NULL);
	int ab[2], ba[2];
	uint64_t rounds = 0;
	struct timespec t0, t;
	char b = 0;
	pid_t pid;

	if (pipe2(ab, O_CLOEXEC) || pipe2(ba, O_CLOEXEC))
		return bench_fail("pipe", errno);
	pid = fork();
	if (pid < 0)
		return bench_fail("fork", errno);
	if (pid == 0) {
		while (read(ab[0], &b, 1) == 1 && write(ba[1], &b, 1) == 1)
			;
		_exit(0);
	}
	close(ab[0]);
	close(ba[1]);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		for (int i = 0; i < 1000; i++, rounds++)
			if (write(ab[1], &b, 1) != 1 || read(ba[0], &b, 1) != 1)
				return bench_fail("pipe ping-pong", EIO);
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9 < secs);
	close(ab[1]);
	waitpid(pid, NULL, 0);
	printf("rounds %llu\n", (unsigned long long)rounds);
	return 0;
}

/* --bench-unload PIN NS DEV: detach from DEV, remove every pin. */
static int bench_unload(char **argv)
{
	const char *pin = argv[0];
	struct net_bpf *n = NULL;
	char path[PATH_MAX];
	int ret = 0, err;

	if (bench_ns_enter(argv[1]) == 0 && net_bpf_open(&n, pin) == 0) {
		int ifindex = (int)if_nametoindex(argv[2]);

		if (ifindex > 0 && (err = net_bpf_detach(n, ifindex)))
			ret = bench_fail("net_bpf_detach", err);
		net_bpf_close(n);
	}
	snprintf(path, sizeof(path), "%s/%s", pin, BENCH_EMPTY_PIN);
	if (unlink(path) != 0 && errno != ENOENT)
		ret = bench_fail(path, errno);
	if ((err = net_bpf_unpin(pin)) || (err = disk_bpf_unpin(pin)) || (err = cpu_bpf_unpin(pin)))
		ret = bench_fail("unpin", err);
	return ret;
}

static int bench_main(int argc, char **argv)
{
	/* Failures are reported with their errno; libbpf's own lines (the
	 * kernel's "no such filter" while probing for ours) are noise here. */
	libbpf_set_print(NULL);
	if (argc == 6 && strcmp(argv[1], "--bench-load") == 0)
		return bench_load(argv + 2);
	if (argc == 3 && strcmp(argv[1], "--bench-stats") == 0)
		return bench_stats(argv + 2);
	if (argc == 5 && strcmp(argv[1], "--bench-flood") == 0)
		return bench_flood(argv + 2);
	if (argc == 3 && strcmp(argv[1], "--bench-pipe") == 0)
		return bench_pipe(argv + 2);
	if (argc == 5 && strcmp(argv[1], "--bench-unload") == 0)
		return bench_unload(argv + 2);
	fprintf(stderr, "usage: %s [--bench-load PIN NS DEV CLASSFILE | --bench-stats PIN | "
		"--bench-flood NS DST SECONDS | --bench-pipe SECONDS | --bench-unload PIN NS DEV]\n",
		argv[0]);
	return 2;
}

/*
 * libbpf's warnings, less the kernel's answers to probes that are expected
 * to fail (no clsact yet, no filter of ours yet, clsact already there).
 */
static int test_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG || strstr(fmt, "Kernel error message"))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_prog_run_classes, test_teardown),
		cmocka_unit_test_teardown(test_reload_in_place, test_teardown),
		cmocka_unit_test_teardown(test_veth_matches_link, test_teardown),
		cmocka_unit_test_teardown(test_veth_restart, test_teardown),
		cmocka_unit_test_teardown(test_hotplug_link, test_teardown),
		cmocka_unit_test_teardown(test_prog_stats, test_teardown),
	};

	if (argc > 1)
		return bench_main(argc, argv);
	libbpf_set_print(test_libbpf_print);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
