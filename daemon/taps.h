/*
 * taps.h — network links through rtnetlink (libnl-route): link events for
 * the daemon's event loop, the list of links at start, and each link's
 * kernel counters (the ground truth the tc counters are checked against).
 *
 * This file does not decide which links are VM taps: the daemon knows them
 * from the domain XML (<interface><target dev='vnetN'/>); it gets every
 * link here and picks.
 *
 * Everything works in the network namespace the calling thread was in when
 * the socket was made (taps_open(), link_stats_get()).
 *
 * Library code: logs nothing, never exits. A struct taps is used by one
 * thread at a time; its callbacks run inside taps_process()/taps_list() and
 * must not call taps_process() again.
 */
#ifndef HV_DAEMON_TAPS_H
#define HV_DAEMON_TAPS_H

#include <stdint.h>

struct nl_sock;
struct taps;

enum taps_event {
	/* A link exists (new, or changed: up/down, renamed, enslaved). Sent
	 * for every RTM_NEWLINK, so the same link is announced many times:
	 * act idempotently. */
	TAPS_NEW = 1,
	/* The link is gone (deleted, or moved to another namespace). */
	TAPS_DEL,
	/* Events were lost (the socket's buffer overran): forget what you
	 * believed. A TAPS_NEW for every link that exists follows at once,
	 * within the same taps_process() call; a link not announced again by
	 * its end is gone. ifindex 0, name NULL. */
	TAPS_RESYNC,
};

/* @name is valid during the call only; NULL for TAPS_RESYNC. */
typedef void (*taps_cb)(void *arg, int ifindex, const char *name, enum taps_event ev);

/* The kernel's 64-bit counters of a link (IFLA_STATS64). rx is what the
 * link received: on a tap, what the VM sent. */
struct link_stats {
	uint64_t rx_bytes;
	uint64_t rx_packets;
	uint64_t tx_bytes;
	uint64_t tx_packets;
};

/*
 * Opens a netlink socket subscribed to link events (RTNLGRP_LINK) and a
 * second one for requests. @cb receives the events from taps_process().
 * Returns 0 or -errno (-EPROTONOSUPPORT, -EPERM, -ENOMEM...).
 */
int taps_open(struct taps **out, taps_cb cb, void *arg);

/* Closes both sockets. Accepts NULL. */
void taps_close(struct taps *t);

/* The event socket's fd, non-blocking and close-on-exec: poll it for
 * POLLIN, then call taps_process(). */
int taps_fd(const struct taps *t);

/*
 * Reads every pending event and calls the callback for each; returns when
 * the socket is drained. Returns the number of events delivered, or -errno.
 * After an overrun it relists the links (TAPS_RESYNC, then TAPS_NEW each).
 */
int taps_process(struct taps *t);

/* Calls @cb(arg, ifindex, name, TAPS_NEW) for every link that exists now.
 * Subscribe first (taps_open), then list: nothing falls between. Returns
 * the number of links or -errno. */
int taps_list(struct taps *t, taps_cb cb, void *arg);

/* The kernel counters of link @ifindex. Returns 0, -ENODEV or -errno. */
int link_stats_read(struct taps *t, int ifindex, uint64_t *rx_bytes, uint64_t *rx_packets,
		    uint64_t *tx_bytes, uint64_t *tx_packets);

/* The same without a struct taps: one request on a socket made for it, in
 * the calling thread's network namespace. */
int link_stats_get(int ifindex, struct link_stats *out);

#endif
