/*
 * store.h — the local LMDB ledger: frames, counter baselines, resources, meta.
 *
 * One environment, four named databases:
 *   frames     u64 BE seq || u32 BE part -> hash[32] || canonical frame bytes,
 *              cut in parts of at most half a page (see store.c for why)
 *   baselines  source-counter key    -> its slot and attribution (resource, metric, labels)
 *   counters   u32 chunk             -> 64 slots: epoch, value, time, flags (baseline_slots.h)
 *   resources  resource id           -> last announced metadata (frame_resource)
 *   meta       short names           -> host id, layout, next seq, chain head,
 *              ack and sent seq, counters of merged and pruned frames, status
 * `hvmeter dump --format lmdb` (store_lmdb_dump) prints them raw, as
 * `mdb_dump -a` does; `mdb_load` reads that back.
 *
 * store_frame_commit() writes a frame, the baselines it was computed from and
 * the meta in ONE transaction (invariant 3): a crash at any instant either
 * keeps all of it or none of it, so no delta is lost or counted twice.
 *
 * The ring (invariant 7). The LMDB map is sized to store_max_bytes and LMDB
 * never shrinks its file, so the map is the hard limit. The filesystem may
 * be a tighter one: the ring's capacity is min(map, file + free space per
 * statvfs), and after the disk refused a write (full, quota, file size
 * limit) it is the file as it is, until statvfs shows more free space.
 * Before each commit the store checks that the frame fits with headroom (a
 * map-full error aborts a whole transaction, so room is made before
 * writing, not during). When it does not fit, compaction runs, in its own
 * transactions, in this order:
 *   1. acknowledged frames older than the retention are deleted (this also
 *      happens in every commit, it is cheap);
 *   2. the oldest unacknowledged frames (seq > max(ack_seq, sent_seq)) are
 *      merged: adjacent frames become one (deltas summed, time range widened,
 *      FRAME_MERGED, seq = the first original's, merged = originals), and
 *      every frame after them is re-chained (new prev_hash, new hash) so the
 *      chain still verifies; the chain head follows. Totals never change;
 *   3. acknowledged frames still inside the retention are deleted, oldest
 *      first ("pruned early": the rater holds them; the ring bound wins over
 *      the local audit copy, and `hvmeter status` says so).
 * Acknowledged and sent frames are never rewritten. If a commit still does
 * not fit — or the disk returns ENOSPC — the commit returns -ENOSPC and
 * nothing of it is written: the caller keeps its baselines, so the next
 * frame that fits carries the whole difference (nothing is lost). When space
 * returns, commits simply succeed again.
 *
 * Why merging rewrites more than the merged frames: a frame's bytes include
 * its predecessor's hash, so changing one frame changes every later hash.
 * LMDB copies on write and reuses freed pages only two transactions later,
 * so a compaction needs free room for everything it rewrites; the planner
 * therefore merges far enough forward that the re-chained tail is small, and
 * splits the merged part into several frames when the room allows (older
 * data gets coarser with every compaction).
 *
 * Thread rules: every function may be called from any thread of the
 * process that opened the store. Writers (store_frame_commit, store_ack,
 * store_sent, store_prune) take turns on a lock inside the store; readers
 * (the CLI in another process, the uplink's reads) run alongside them, each
 * read function on one consistent snapshot. One writing process per store
 * (hvmeterd holds its lock file). A read snapshot keeps the pages it sees
 * from reuse: after compacting, a commit waits (up to ~200 ms) for older
 * snapshots to end. A reader process killed mid-read leaves a stale reader
 * slot; the writer clears those at open and before compacting.
 * Errors: 0 or -errno; LMDB codes are converted here (MDB_MAP_FULL, and the
 * disk's ENOSPC/EDQUOT/EFBIG or a short write on a full disk -> -ENOSPC,
 * MDB_NOTFOUND -> -ENOENT, MDB_CORRUPTED/MDB_INVALID -> -EBADMSG). After
 * LMDB reports a fatal I/O error (MDB_PANIC) the next write reopens the
 * environment.
 */
#ifndef HV_STORE_H
#define HV_STORE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "wire/frame.h"

#define STORE_KEY_MAX     96
#define STORE_STATUS_MAX  4096
#define BASELINE_RETIRED  0x1u /* source is gone; kept until its kernel entry is removed */

#define STORE_DEFAULT_MAX_BYTES  (256ull << 20)
#define STORE_MIN_MAX_BYTES      (128ull << 10)  /* below this LMDB's own pages crowd frames out */
#define STORE_DEFAULT_RETENTION  (30ull * 86400) /* seconds: 30 days */

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
	uint32_t slot;               /* the store's slot for it + 1, set by the store; 0 = unknown */
};

struct store_meta {
	char host_id[HV_ID_MAX];
	uint64_t next_seq;           /* sequence the next frame gets (first is 1) */
	uint64_t ack_seq;            /* highest sequence the rater acknowledged */
	uint64_t sent_seq;           /* highest sequence handed to the uplink (>= ack_seq or 0) */
	int64_t last_end_ns;         /* end of the last frame, 0 if none */
	uint8_t chain_head[HV_HASH_LEN]; /* hash of the last frame, zeros if none */
	uint64_t oldest_seq;         /* 0 if the ring is empty */
	uint64_t n_frames;
	uint64_t merged_frames;      /* originals folded into merged frames so far */
	uint64_t pruned_frames;      /* acknowledged frames deleted after the retention */
	uint64_t pruned_early;       /* acknowledged frames deleted before it (ring full) */
	uint64_t compactions;        /* compaction passes that changed something */
	uint64_t retention_s;        /* retention the writer last opened the store with */
	char status[STORE_STATUS_MAX]; /* the daemon's source summary, for `hvmeter status` */
};

/* Space and span of the ring, for `hvmeter status` and tests. */
struct store_ring {
	uint64_t page_size;
	uint64_t map_bytes;          /* the LMDB map: store_max_bytes */
	uint64_t file_bytes;         /* data.mdb as it is on disk */
	uint64_t used_bytes;         /* pages the databases hold (the rest of the file is free) */
	uint64_t frames_bytes;       /* of which the frames database */
	uint64_t fs_avail_bytes;     /* free space on the store's filesystem */
	uint64_t capacity_bytes;     /* min(map, file + fs free): what the ring can reach now */
	                             /* (a writer that saw the disk refuse also holds to its file) */
	uint64_t n_frames, n_unacked;
	uint64_t oldest_seq, newest_seq; /* first seqs of the oldest / newest frame; 0 if none */
	int64_t oldest_start_ns, newest_end_ns;
	uint32_t newest_merged;      /* originals in the newest frame */
};

struct store;

struct store_opts {
	uint64_t max_bytes;          /* LMDB map size; 0 = STORE_DEFAULT_MAX_BYTES */
	uint64_t retention_s;        /* keep acknowledged frames this long; 0 = STORE_DEFAULT_RETENTION */
	bool read_only;
	const char *host_id;         /* required when writable; must match a stored one */
};

/*
 * Opens (creating when writable) the store in directory @dir.
 * Returns 0, -EEXIST when the store belongs to another host id, -ENOENT when
 * read-only and absent, -EINVAL for a max_bytes below STORE_MIN_MAX_BYTES, or
 * another -errno. A store whose file is already larger than @max_bytes keeps
 * its size (LMDB never shrinks a file); compaction then keeps it from growing.
 */
int store_open(struct store **out, const char *dir, const struct store_opts *opts);
/* Closes the store; accepts NULL. */
void store_close(struct store *s);

/*
 * Reads the meta from one snapshot and counts the frames (one seek per
 * frame, not per part). Returns 0 or -errno.
 */
int store_meta_read(struct store *s, struct store_meta *m);

/*
 * Fills @r from one snapshot plus fstat/fstatvfs of the data file.
 * Returns 0 or -errno.
 */
int store_ring_read(struct store *s, struct store_ring *r);

/* Calls @cb for every stored baseline; stops and returns @cb's non-zero value. */
int store_baselines_foreach(struct store *s, int (*cb)(const struct baseline *b, void *arg),
			    void *arg);

/* Last announced metadata of @resource (-ENOENT if never announced). */
int store_resource_get(struct store *s, const char *resource, struct frame_resource *out);

/*
 * Commits @f as the next frame together with baseline updates and deletions.
 * Sets put[i].slot: pass it back with later updates of the same key (a
 * baseline from store_baselines_foreach has it) and the commit needs no
 * look-up; a wrong or 0 slot only costs one.
 * Assigns f->seq, f->prev_hash and f->hash; canonicalizes f; records its
 * announcements in `resources`; sets the meta's status text if @status is
 * non-NULL. f->end_ns is taken as "now" for the retention.
 *
 * All or nothing: on any error none of the frame, baselines or meta is
 * written (the caller must then keep its previous baselines). Compaction
 * that ran to make room is committed separately and does not change totals.
 * Returns 0; -ENOSPC when even compaction cannot make room (map full, disk
 * full) — call again later, with the deltas accumulated; -EROFS on a
 * read-only store; or another -errno.
 */
int store_frame_commit(struct store *s, struct frame *f,
		       struct baseline *put, size_t n_put,
		       const char *const *del, size_t n_del, const char *status);

/*
 * The ring's condition as of the last store_frame_commit(), for the caller
 * to log once per episode: each flag stays set while its episode lasts, so
 * log when one appears (and, if wanted, when it goes). The store itself
 * never logs.
 *   FULL          the commit returned -ENOSPC: the deltas wait in the
 *                 caller's baselines; ends with the next commit that fits
 *   FS_LIMITED    the filesystem (full, quota, file size limit), not the
 *                 map, is what the ring is short of; ends when space returns
 *   MERGED        unacknowledged frames were merged to make room (coarser
 *                 time, same totals): the uplink is behind; ends at the next
 *                 store_ack() that moves the ack on
 *   PRUNED_EARLY  acknowledged frames were deleted before the retention
 *                 ended (the ring holds less than the retention); ends when
 *                 a compaction no longer needs to
 */
#define STORE_COND_FULL         0x1u
#define STORE_COND_FS_LIMITED   0x2u
#define STORE_COND_MERGED       0x4u
#define STORE_COND_PRUNED_EARLY 0x8u
unsigned store_condition(struct store *s);

/* Reads frame @seq (hash filled from the stored record). -ENOENT if absent. */
int store_frame_read(struct store *s, uint64_t seq, struct frame *f);

/*
 * Calls @cb for each frame with seq >= @from_seq in order, decoding into a
 * frame the callee must not keep. Stops at @cb's non-zero return and returns it.
 * A merged frame is visited when its (first) seq is >= @from_seq.
 */
int store_frames_foreach(struct store *s, uint64_t from_seq,
			 int (*cb)(const struct frame *f, void *arg), void *arg);

/* ---- the uplink's cursor ---------------------------------------------------- */

/*
 * Like store_frames_foreach() over the frames not yet acknowledged, starting
 * at max(@from_seq, ack_seq + 1), all from one snapshot. Use it to (re)send:
 * after a reconnect, from ack_seq + 1.
 */
int store_unacked_foreach(struct store *s, uint64_t from_seq,
			  int (*cb)(const struct frame *f, void *arg), void *arg);

/*
 * Records that the rater durably holds every frame with seq <= @seq, durably
 * (synced) before returning. Acks never go back: a @seq at or below the
 * current ack_seq is a no-op. Acknowledged frames are never rewritten and
 * are deleted once their end is older than the retention.
 * Returns 0, -EINVAL when @seq >= next_seq (no such frame yet), or -errno.
 */
int store_ack(struct store *s, uint64_t seq);

/*
 * Records that frames up to @seq were handed to the rater (durable). Until
 * acknowledged they are never merged or re-chained: the rater may already
 * hold them, and would refuse a successor re-chained onto a merged copy.
 * After a reconnect, once the rater has said how far it got (store_ack()),
 * call store_sent(s, ack_seq) to release frames it turned out not to have.
 * The cursor may go down but never below ack_seq.
 * Returns 0, -EINVAL when @seq >= next_seq, or -errno.
 */
int store_sent(struct store *s, uint64_t seq);

/*
 * Deletes acknowledged frames whose end is older than @now_ns - retention.
 * store_frame_commit() does this itself (with the frame's end as now).
 * Returns the number of frames deleted, or -errno.
 */
int store_prune(struct store *s, int64_t now_ns);

/* ---- audit ------------------------------------------------------------------ */

/*
 * Recomputes the chain over every stored frame. Returns 0 when intact;
 * -EBADMSG with *bad_seq set to the first frame whose bytes, hash or link
 * does not hold; other -errno on I/O errors.
 */
int store_verify(struct store *s, uint64_t *bad_seq, uint64_t *n_checked);

/*
 * Writes every database of the environment to @out exactly as `mdb_dump -a`
 * does (format=bytevalue; mdb_load reads it back), from one snapshot.
 * Returns 0, or -errno on a read error or a write error on @out.
 */
int store_lmdb_dump(struct store *s, FILE *out);

/* Human text for a store error (wraps mdb_strerror for LMDB-origin codes). */
const char *store_strerror(int err);

#endif
