/*
 * store.h — the local LMDB ledger: frames, counter baselines, resources, meta.
 *
 * One environment, four named databases:
 *   frames     u64 BE seq            -> hash[32] || canonical frame bytes
 *   baselines  source-counter key    -> struct baseline (fixed-width record)
 *   resources  resource id           -> last announced metadata (frame_resource)
 *   meta       short names           -> host id, next seq, chain head, ack seq...
 *
 * store_frame_commit() writes a frame, the baselines it was computed from and
 * the meta in ONE transaction (invariant 3): a crash at any instant either
 * keeps all of it or none of it, so no delta is lost or counted twice.
 *
 * Thread rules: one writer (the daemon's sampler thread). Readers (the CLI)
 * open read-only and may run while the daemon writes.
 * Errors: 0 or -errno; LMDB codes are converted here (MDB_MAP_FULL -> -ENOSPC,
 * MDB_NOTFOUND -> -ENOENT, MDB_CORRUPTED/MDB_INVALID -> -EBADMSG).
 */
#ifndef HV_STORE_H
#define HV_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "wire/frame.h"

#define STORE_KEY_MAX     96
#define STORE_STATUS_MAX  4096
#define BASELINE_RETIRED  0x1u /* source is gone; kept until its kernel entry is removed */

/*
 * A source counter's last reading: the baseline the next delta is computed
 * from (invariant 4: a different epoch means the counter restarted at zero).
 */
struct baseline {
	char key[STORE_KEY_MAX];     /* "cpu/<cgroup id>", "alloc.vcpu/<uuid>"... */
	uint64_t epoch;              /* identity of the counter's life */
	uint64_t value;              /* raw counter at the last frame */
	int64_t time_ns;             /* realtime of that reading */
	uint32_t flags;              /* BASELINE_RETIRED */
	char resource[HV_ID_MAX];    /* where its deltas go */
	char metric[HV_METRIC_MAX];
	char labels[HV_LABELS_MAX];
};

struct store_meta {
	char host_id[HV_ID_MAX];
	uint64_t next_seq;           /* sequence the next frame gets (first is 1) */
	uint64_t ack_seq;            /* highest sequence the rater acknowledged */
	int64_t last_end_ns;         /* end of the last frame, 0 if none */
	uint8_t chain_head[HV_HASH_LEN]; /* hash of the last frame, zeros if none */
	uint64_t oldest_seq;         /* 0 if the ring is empty */
	uint64_t n_frames;
	uint64_t merged_frames;      /* originals folded into merged frames so far */
	char status[STORE_STATUS_MAX]; /* the daemon's source summary, for `hvmeter status` */
};

struct store;

struct store_opts {
	uint64_t max_bytes;          /* LMDB map size; 0 = default (256 MiB) */
	bool read_only;
	const char *host_id;         /* required when writable; must match a stored one */
};

/*
 * Opens (creating when writable) the store in directory @dir.
 * Returns 0, -EEXIST when the store belongs to another host id, -ENOENT when
 * read-only and absent, or another -errno.
 */
int store_open(struct store **out, const char *dir, const struct store_opts *opts);
void store_close(struct store *s);

int store_meta_read(struct store *s, struct store_meta *m);

/* Calls @cb for every stored baseline; stops and returns @cb's non-zero value. */
int store_baselines_foreach(struct store *s, int (*cb)(const struct baseline *b, void *arg),
			    void *arg);

/* Last announced metadata of @resource (-ENOENT if never announced). */
int store_resource_get(struct store *s, const char *resource, struct frame_resource *out);

/*
 * Commits @f as the next frame together with baseline updates and deletions.
 * Assigns f->seq, f->prev_hash and f->hash; canonicalizes f; records its
 * announcements in `resources`; sets the meta's status text if @status is
 * non-NULL. All or nothing. Returns 0, -ENOSPC when the map is full, or -errno.
 */
int store_frame_commit(struct store *s, struct frame *f,
		       const struct baseline *put, size_t n_put,
		       const char *const *del, size_t n_del, const char *status);

/* Reads frame @seq (hash filled from the stored record). -ENOENT if absent. */
int store_frame_read(struct store *s, uint64_t seq, struct frame *f);

/*
 * Calls @cb for each frame with seq >= @from_seq in order, decoding into a
 * frame the callee must not keep. Stops at @cb's non-zero return and returns it.
 */
int store_frames_foreach(struct store *s, uint64_t from_seq,
			 int (*cb)(const struct frame *f, void *arg), void *arg);

/*
 * Recomputes the chain over every stored frame. Returns 0 when intact;
 * -EBADMSG with *bad_seq set to the first frame whose bytes, hash or link
 * does not hold; other -errno on I/O errors.
 */
int store_verify(struct store *s, uint64_t *bad_seq, uint64_t *n_checked);

/* Human text for a store error (wraps mdb_strerror for LMDB-origin codes). */
const char *store_strerror(int err);

#endif
