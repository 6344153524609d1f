/*
 * rstore.h — the rater's LMDB store: what every host sent, summed so that a
 * rating or report step reads usage per period, host, resource, metric.
 *
 * One environment, six named databases (keys are bytes; "\0" separates
 * strings; numbers are fixed-width big-endian so key order = numeric order):
 *   meta          "layout", "period"                 -> u64
 *   hosts         host id                            -> struct rstore_host (versioned record)
 *   frames        host \0 u64 seq                    -> hash[32] start end merged flags n_delta
 *   usage         u64 period_start host \0 resource \0 metric \0 labels
 *                                                    -> the figures of struct rstore_usage (6 x 64 bit)
 *   resources     host \0 resource                   -> last announced metadata
 *   resource_log  host \0 resource \0 u64 start_ns   -> metadata announced by the frame starting then
 *
 * Exactly once (invariant 6) rests on one rule: a frame's usage is added in
 * the same transaction that records the frame under (host, seq) and moves
 * the host's chain head and last_seq past it; ingest (rater/ingest.c) only
 * adds frames whose seq lies after last_seq. So a batch seen twice, a batch
 * cut by a crash, or a rater killed mid-commit never counts a frame twice
 * and never loses one that was acknowledged (acks follow the commit, which
 * LMDB syncs to disk).
 *
 * A frame's usage goes to the period containing its start (periods are
 * multiples of `period` seconds since the epoch, fixed when the store is
 * created). Frames end on multiples of the agent's interval, so with an
 * interval dividing the period no frame straddles two periods; a merged
 * frame (invariant 7) may, and is then counted whole in its first period.
 *
 * Thread rules: one process writes (hvrater serve), from one thread; write
 * transactions may nest (a batch inside a group commit). Readers (hvrater
 * hosts / totals, a report) open read-only, in other processes if need be.
 * Errors: 0 or -errno; LMDB's are converted here (MDB_MAP_FULL -> -ENOSPC,
 * MDB_NOTFOUND -> -ENOENT, corruption -> -EBADMSG). Nothing here logs.
 */
#ifndef HV_RATER_RSTORE_H
#define HV_RATER_RSTORE_H

#include <stdbool.h>
#include <stdint.h>

#include "wire/frame.h"

#define RSTORE_DEFAULT_MAX_BYTES (16ull << 30) /* LMDB map: a sparse file, grows as used */
#define RSTORE_DEFAULT_PERIOD    3600
#define RSTORE_PEER_MAX          64

struct rstore;
struct rstore_txn;

struct rstore_opts {
	bool read_only;
	uint64_t max_bytes;  /* LMDB map size; 0 = RSTORE_DEFAULT_MAX_BYTES */
	uint32_t period;     /* seconds; must match the store's once created; 0 = the store's */
};

/* What the rater knows of one host. */
struct rstore_host {
	char host_id[HV_ID_MAX];
	uint64_t first_seq;          /* first original sequence stored (1 unless adopted later) */
	uint64_t last_seq;           /* highest original sequence stored: what is acknowledged */
	uint8_t head[HV_HASH_LEN];   /* the chain head: hash of the last frame stored */
	int64_t last_end_ns;         /* end of that frame */
	int64_t last_seen_ns;        /* when a batch from it last arrived (stored or not) */
	uint64_t frames;             /* frames stored */
	uint64_t batches;            /* batches that stored at least one frame */
	uint64_t duplicates;         /* frames received again and skipped */
	char peer[RSTORE_PEER_MAX];  /* address of the connection that last sent a batch */
};

/* One usage row: a series (host, resource, metric, labels) in one period. */
struct rstore_usage {
	int64_t period_start;        /* seconds since the epoch, a multiple of the period */
	char host[HV_ID_MAX];
	char resource[HV_ID_MAX];
	char metric[HV_METRIC_MAX];
	char labels[HV_LABELS_MAX];
	int64_t sum;                 /* sum of the frames' values: the total of a counter */
	int64_t max;                 /* largest frame value (gauges of kind max) */
	int64_t min;                 /* smallest frame value */
	uint64_t frames;             /* frames that carried the series */
	int64_t dur_ns;              /* total duration of those frames */
	int64_t wsum_ms;             /* sum of value x duration in ms (mean gauges), saturating */
};

/*
 * Opens (creating when writable) the store in directory @dir. Returns 0,
 * -ENOENT when read-only and absent, -EEXIST when the store was created
 * with another period, -EBADMSG for another layout, or -errno.
 */
int rstore_open(struct rstore **out, const char *dir, const struct rstore_opts *opts);
/* Closes; accepts NULL. No transaction may be open. */
void rstore_close(struct rstore *rs);
/* The store's period in seconds. */
uint32_t rstore_period(const struct rstore *rs);
/* Human text for an rstore error. */
const char *rstore_strerror(int err);

/* ---- writing (one thread) ---------------------------------------------------- */

/*
 * Begins a write transaction, nested in @parent when not NULL (the parent
 * may not be used until the child ends). Returns 0, -EROFS, -ENOMEM or -errno.
 */
int rstore_txn_begin(struct rstore *rs, struct rstore_txn *parent, struct rstore_txn **out);
/*
 * Commits and frees @t. A top-level commit is durable (synced) when it
 * returns 0; a child's writes become its parent's. On error nothing of @t
 * is kept. Returns 0, -ENOSPC, -EIO...
 */
int rstore_txn_commit(struct rstore_txn *t);
/* Aborts and frees @t; accepts NULL. */
void rstore_txn_abort(struct rstore_txn *t);

/* Reads host @host_id as of @t. Returns 0 or -ENOENT (never seen), -EBADMSG. */
int rstore_host_get(struct rstore_txn *t, const char *host_id, struct rstore_host *h);
/* Writes @h. Returns 0 or -errno. */
int rstore_host_put(struct rstore_txn *t, const struct rstore_host *h);

/* The stored hash of frame (@host_id, @seq). Returns 0 or -ENOENT. */
int rstore_frame_hash(struct rstore_txn *t, const char *host_id, uint64_t seq,
		      uint8_t hash[HV_HASH_LEN]);

/*
 * Records frame @f of @host_id: its (host, seq) entry, its deltas added to
 * the usage of its period, its announcements. Does not touch the host
 * record (the caller advances it in the same transaction). Returns 0,
 * -EEXIST when (host, seq) is already stored (nothing written), -EINVAL for
 * an over-long key, -ENOSPC or -errno.
 */
int rstore_frame_add(struct rstore_txn *t, const char *host_id, const struct frame *f);

/* ---- reading (any thread or process) ---------------------------------------- */

/* Calls @cb for every host in id order; stops at @cb's non-zero return and returns it. */
int rstore_hosts_foreach(struct rstore *rs, int (*cb)(const struct rstore_host *h, void *arg),
			 void *arg);

/*
 * Calls @cb for every usage row whose period starts in [@from_s, @to_s),
 * in key order (period, host, resource, metric, labels); @host_id NULL for
 * every host. Stops at @cb's non-zero return and returns it.
 */
int rstore_usage_foreach(struct rstore *rs, int64_t from_s, int64_t to_s, const char *host_id,
			 int (*cb)(const struct rstore_usage *u, void *arg), void *arg);

/*
 * The metadata of @resource of @host_id in force at @at_ns: the last
 * announcement made by a frame starting at or before it, else the first
 * one after (a resource is announced in the frame where it appears).
 * @at_ns = INT64_MAX gives the latest. Returns 0 or -ENOENT.
 */
int rstore_resource_at(struct rstore *rs, const char *host_id, const char *resource,
		       int64_t at_ns, struct frame_resource *out);

#endif
