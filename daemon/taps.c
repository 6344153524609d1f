/*
 * taps.c — link events, link list and link counters through libnl-route.
 *
 * Events are read with recv() on the libnl socket and parsed with libnl's
 * message helpers rather than nl_recvmsgs(): libnl reports a receive-buffer
 * overrun (ENOBUFS) as NLE_NOMEM, the same code as running out of memory,
 * and an overrun is the one error here that needs an answer (relist).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <netlink/cache.h>
#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <netlink/route/link.h>

#include "daemon/taps.h"

/* Room for a burst of link events (a host starting many VMs at once); the
 * kernel default (rmem_default) overruns with a few dozen links. */
#define EVENT_RCVBUF (4 * 1024 * 1024)
#define EVENT_MSG_MAX 65536

struct taps {
	struct nl_sock *ev;   /* subscribed to RTNLGRP_LINK */
	struct nl_sock *req;  /* dumps and gets */
	taps_cb cb;
	void *arg;
	unsigned char *buf;   /* EVENT_MSG_MAX bytes */
};

/* libnl error codes to -errno, at this wrapper and nowhere else. */
static int nl_errno(int e)
{
	switch (e < 0 ? -e : e) {
	case 0: return 0;
	case NLE_NOMEM: return -ENOMEM;
	case NLE_PERM: return -EPERM;
	case NLE_NOACCESS: return -EACCES;
	case NLE_OBJ_NOTFOUND:
	case NLE_NODEV: return -ENODEV;
	case NLE_AGAIN: return -EAGAIN;
	case NLE_INTR: return -EINTR;
	case NLE_INVAL: return -EINVAL;
	case NLE_BUSY: return -EBUSY;
	case NLE_RANGE: return -ERANGE;
	case NLE_MSGSIZE: return -EMSGSIZE;
	case NLE_OPNOTSUPP: return -EOPNOTSUPP;
	case NLE_AF_NOSUPPORT: return -EAFNOSUPPORT;
	case NLE_BAD_SOCK: return -EBADF;
	case NLE_EXIST: return -EEXIST;
	default: return -EIO;
	}
}

static int cloexec(struct nl_sock *sk)
{
	int fd = nl_socket_get_fd(sk);

	return fcntl(fd, F_SETFD, FD_CLOEXEC) == 0 ? 0 : -errno;
}

/* A connected NETLINK_ROUTE socket, close-on-exec. */
static int sock_open(struct nl_sock **out)
{
	struct nl_sock *sk;
	int err;

	*out = NULL;
	sk = nl_socket_alloc();
	if (!sk)
		return -ENOMEM;
	err = nl_errno(nl_connect(sk, NETLINK_ROUTE));
	if (!err)
		err = cloexec(sk);
	if (err) {
		nl_socket_free(sk); /* closes the fd if connected */
		return err;
	}
	*out = sk;
	return 0;
}

int taps_open(struct taps **out, taps_cb cb, void *arg)
{
	struct taps *t;
	int size = EVENT_RCVBUF;
	int err;

	*out = NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->cb = cb;
	t->arg = arg;
	t->buf = malloc(EVENT_MSG_MAX);
	if (!t->buf) {
		err = -ENOMEM;
		goto cleanup;
	}
	err = sock_open(&t->ev);
	if (err)
		goto cleanup;
	/* Events only: no sequence numbers, nothing we sent to acknowledge. */
	nl_socket_disable_seq_check(t->ev);
	nl_socket_disable_auto_ack(t->ev);
	err = nl_errno(nl_socket_add_membership(t->ev, RTNLGRP_LINK));
	if (err)
		goto cleanup;
	/* Past rmem_max with CAP_NET_ADMIN; else as much as allowed. */
	if (setsockopt(nl_socket_get_fd(t->ev), SOL_SOCKET, SO_RCVBUFFORCE, &size,
		       sizeof(size)) != 0)
		setsockopt(nl_socket_get_fd(t->ev), SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	err = nl_errno(nl_socket_set_nonblocking(t->ev));
	if (err)
		goto cleanup;
	err = sock_open(&t->req);
	if (err)
		goto cleanup;
	*out = t;
	t = NULL;
cleanup:
	taps_close(t);
	return err;
}

void taps_close(struct taps *t)
{
	if (!t)
		return;
	if (t->req)
		nl_socket_free(t->req);
	if (t->ev)
		nl_socket_free(t->ev);
	free(t->buf);
	free(t);
}

int taps_fd(const struct taps *t)
{
	return nl_socket_get_fd(t->ev);
}

/*
 * One RTM_NEWLINK/RTM_DELLINK. Only AF_UNSPEC messages describe the link
 * itself: a bridge also sends AF_BRIDGE ones for its ports, and its
 * RTM_DELLINK for a port leaving the bridge does not mean the link is gone.
 */
static bool link_msg(struct nlmsghdr *nlh, taps_cb cb, void *arg)
{
	struct nlattr *tb[IFLA_MAX + 1];
	struct ifinfomsg *ifi;

	if (nlh->nlmsg_type != RTM_NEWLINK && nlh->nlmsg_type != RTM_DELLINK)
		return false;
	if (!nlmsg_valid_hdr(nlh, sizeof(*ifi)))
		return false;
	ifi = nlmsg_data(nlh);
	if (ifi->ifi_family != AF_UNSPEC || ifi->ifi_index <= 0)
		return false;
	if (nlmsg_parse(nlh, sizeof(*ifi), tb, IFLA_MAX, NULL) < 0 || !tb[IFLA_IFNAME])
		return false;
	if (nla_len(tb[IFLA_IFNAME]) < 1 ||
	    ((const char *)nla_data(tb[IFLA_IFNAME]))[nla_len(tb[IFLA_IFNAME]) - 1] != '\0')
		return false;
	cb(arg, ifi->ifi_index, nla_get_string(tb[IFLA_IFNAME]),
	   nlh->nlmsg_type == RTM_NEWLINK ? TAPS_NEW : TAPS_DEL);
	return true;
}

int taps_process(struct taps *t)
{
	int fd = nl_socket_get_fd(t->ev), delivered = 0;

	for (;;) {
		struct sockaddr_nl from;
		socklen_t fromlen = sizeof(from);
		struct nlmsghdr *nlh;
		ssize_t n;
		int len;

		memset(&from, 0, sizeof(from));
		n = recvfrom(fd, t->buf, EVENT_MSG_MAX, MSG_DONTWAIT, (struct sockaddr *)&from,
			     &fromlen);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return delivered;
			if (errno == ENOBUFS) {
				int listed;

				/* Lost events: the kernel's truth instead. */
				t->cb(t->arg, 0, NULL, TAPS_RESYNC);
				listed = taps_list(t, t->cb, t->arg);
				if (listed < 0)
					return listed;
				delivered += 1 + listed;
				continue;
			}
			return -errno;
		}
		/* Only the kernel speaks on this socket; anything else is
		 * ignored rather than trusted. */
		if (fromlen < sizeof(from) || from.nl_pid != 0)
			continue;
		len = (int)n;
		for (nlh = (struct nlmsghdr *)t->buf; nlmsg_ok(nlh, len); nlh = nlmsg_next(nlh, &len))
			delivered += link_msg(nlh, t->cb, t->arg);
	}
}

int taps_list(struct taps *t, taps_cb cb, void *arg)
{
	struct nl_cache *cache = NULL;
	struct nl_object *obj;
	int err, n = 0;

	err = nl_errno(rtnl_link_alloc_cache(t->req, AF_UNSPEC, &cache));
	if (err)
		return err;
	for (obj = nl_cache_get_first(cache); obj; obj = nl_cache_get_next(obj)) {
		struct rtnl_link *link = (struct rtnl_link *)obj;
		const char *name = rtnl_link_get_name(link);

		if (!name || rtnl_link_get_ifindex(link) <= 0)
			continue;
		cb(arg, rtnl_link_get_ifindex(link), name, TAPS_NEW);
		n++;
	}
	nl_cache_free(cache);
	return n;
}

static int stats_get(struct nl_sock *sk, int ifindex, struct link_stats *out)
{
	struct rtnl_link *link = NULL;
	int err;

	if (ifindex <= 0)
		return -EINVAL;
	err = nl_errno(rtnl_link_get_kernel(sk, ifindex, NULL, &link));
	if (err)
		return err;
	out->rx_bytes = rtnl_link_get_stat(link, RTNL_LINK_RX_BYTES);
	out->rx_packets = rtnl_link_get_stat(link, RTNL_LINK_RX_PACKETS);
	out->tx_bytes = rtnl_link_get_stat(link, RTNL_LINK_TX_BYTES);
	out->tx_packets = rtnl_link_get_stat(link, RTNL_LINK_TX_PACKETS);
	rtnl_link_put(link);
	return 0;
}

int link_stats_read(struct taps *t, int ifindex, uint64_t *rx_bytes, uint64_t *rx_packets,
		    uint64_t *tx_bytes, uint64_t *tx_packets)
{
	struct link_stats s;
	int err = stats_get(t->req, ifindex, &s);

	if (err)
		return err;
	*rx_bytes = s.rx_bytes;
	*rx_packets = s.rx_packets;
	*tx_bytes = s.tx_bytes;
	*tx_packets = s.tx_packets;
	return 0;
}

int link_stats_get(int ifindex, struct link_stats *out)
{
	struct nl_sock *sk;
	int err;

	err = sock_open(&sk);
	if (err)
		return err;
	err = stats_get(sk, ifindex, out);
	nl_socket_free(sk);
	return err;
}
