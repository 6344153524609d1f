/*
 * uplink.h — ships the ledger's unacknowledged frames to the rater.
 *
 * Its own thread, so that nothing it waits for (DNS, connect, TLS, a slow
 * or absent rater) ever delays sampling. The loop:
 *   connect (TCP, then mutual TLS 1.2 against the pinned CA, the rater's
 *   name checked against its certificate) -> take up to batch_frames /
 *   batch_bytes unacknowledged frames, mark them sent (store_sent: from
 *   now on they are never merged) -> sign the last frame's hash with the
 *   host's TLS key -> send one batch -> wait for the ack (timeout) ->
 *   store_ack(ack_seq) -> repeat; idle while there is nothing to send.
 * On a gap ack it resends from the rater's ack_seq + 1; on any failure it
 * closes, waits (exponential backoff with jitter, 1 s doubling to 5 min,
 * reset by the next ack) and reconnects; what was not acknowledged is sent
 * again (the rater skips what it already has: exactly once, invariant 6).
 *
 * Store access: every call the uplink's thread makes on the shared store
 * (reads and the writes store_sent, store_ack) runs under the uplink's
 * store lock, which the daemon must also hold around every store call of
 * its own that writes (sampler_tick): store.h requires the uplink's writes
 * to be serialised with the sampler's; a merge between our read and
 * store_sent would otherwise send frames the ledger no longer has; and the
 * store may reopen its environment inside a write after an I/O panic. The
 * lock is held for one read or one synced write at a time (milliseconds),
 * never across network I/O, so sampling waits at most that long.
 *
 * Thread rules: uplink_start/stop/notify/status and the lock functions are
 * called from the daemon's thread(s); everything else runs in the uplink's
 * thread. Every function accepts a NULL uplink (uplink off) and does nothing.
 */
#ifndef HV_DAEMON_UPLINK_H
#define HV_DAEMON_UPLINK_H

#include <stddef.h>

#include "daemon/uplink_config.h"
#include "store/store.h"

#define UPLINK_STATUS_MAX 1024

struct uplink;

/*
 * Loads the TLS material of @cfg (checked by uplink_config_check) and starts
 * the uplink thread for host @host_id over the daemon's open store @st (which
 * must outlive uplink_stop). When @cfg->rater is empty the uplink is off:
 * *out = NULL and 0 is returned. Call it after daemonizing (a fork keeps no
 * threads). Returns 0, or -errno with @why saying what failed (a certificate
 * or key file, thread creation).
 */
int uplink_start(struct uplink **out, const struct uplink_config *cfg, const char *host_id,
		 struct store *st, char *why, size_t whylen);

/*
 * Stops the thread (an unacknowledged batch is simply sent again next time)
 * and frees everything. Returns after the thread has ended: at most the
 * time of one blocking DNS lookup. Accepts NULL.
 */
void uplink_stop(struct uplink *u);

/* Tells the uplink a frame was committed, so it sends without waiting for its poll. */
void uplink_notify(struct uplink *u);

/* Serialise the daemon's store writes with the uplink's (see above). */
void uplink_store_lock(struct uplink *u);
void uplink_store_unlock(struct uplink *u);

/*
 * Writes the uplink's state as "key=value" lines, the format of the frame
 * status that `hvmeter status` lists under "sources:":
 *   uplink=connected 127.0.0.1:7443          (off | connecting | connected |
 *                                             sending | backoff, retry in N s)
 *   uplink_acked=seq 1234 (at 2026-...Z)     the rater's last acknowledgement
 *   uplink_lag=3 frames, 30.0 s              unacknowledged frames and the time they span
 *   uplink_error=none | TEXT (at TIME)       the last failure
 * Reads the store without the store lock: call it from the daemon's thread
 * that writes the store (e.g. inside sampler_tick, with the lock held).
 * Returns the length written (truncated to @len), never fails.
 */
size_t uplink_status(struct uplink *u, char *buf, size_t len);

#endif
