/*
 * baseline_slots.h — how the ledger keeps counter baselines; private to
 * store/ (store.c calls it inside its transactions).
 *
 * Two databases:
 *   baselines  key (string)         -> u32 slot, str resource, str metric, str labels
 *   counters   u32 chunk (BE)       -> 64 slots x { u64 epoch, u64 value, u64 time_ns, u32 flags }
 *
 * Why split: every frame moves every changed counter's value, but a
 * counter's key and attribution almost never change. Keeping the moving
 * part in fixed 28-byte slots, 64 to a record, makes a commit of 3000
 * counters write ~47 small records (~84 KB) instead of 3000 keyed ones
 * (~400 KB): fewer pages copied, fewer bytes for fdatasync. The attribution
 * record is written only when a counter is new or re-bound.
 *
 * A writer keeps, per slot, a hash of its key and of its attribution, so a
 * commit neither looks keys up nor rewrites unchanged attribution; the
 * caller passes back the slot the store gave each baseline (struct
 * baseline.slot, a hint checked against the key's hash; 0 = unknown, then
 * the key is looked up). Slots of deleted counters are reused. Changes to
 * the in-memory table are undone when the transaction does not commit.
 * Errors: 0 or -errno (LMDB's converted by the store's converter).
 */
#ifndef HV_STORE_BASELINE_SLOTS_H
#define HV_STORE_BASELINE_SLOTS_H

#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#include "store/store.h"

#define BSLOT_PER_CHUNK 64
#define BSLOT_BYTES     28

struct bslot_info {
	uint64_t key_hash;  /* 0: the slot is free */
	uint64_t bind_hash; /* of resource, metric, labels */
};

struct bslot_undo {
	uint32_t slot;
	struct bslot_info old;
};

struct bslot_table {
	MDB_dbi baselines, counters;
	struct bslot_info *v;
	uint32_t cap;           /* slots in v */
	uint32_t free_hint;     /* no free slot below this */
	struct bslot_undo *undo;
	size_t n_undo, cap_undo;
	/* chunks being rewritten by the open transaction, by chunk number */
	uint8_t **chunk;        /* [cap / BSLOT_PER_CHUNK]; NULL = untouched */
	uint32_t *dirty;        /* chunk numbers touched, in first-touch order */
	size_t n_dirty;
	int (*err_from_mdb)(int rc);
};

/* Opens (creating when @create) both databases in @txn; fills the table when @writer. */
int bslots_open(struct bslot_table *t, MDB_txn *txn, int create, int writer,
		int (*err_from_mdb)(int rc));
/* Frees the in-memory table (the databases stay). */
void bslots_free(struct bslot_table *t);

/* Writes @put (setting each .slot) and deletes the @del keys, in @txn. */
int bslots_write(struct bslot_table *t, MDB_txn *txn, struct baseline *put, size_t n_put,
		 const char *const *del, size_t n_del);
/* The transaction committed: keep the table's changes. */
void bslots_committed(struct bslot_table *t);
/* The transaction was aborted: undo the table's changes. */
void bslots_aborted(struct bslot_table *t);

/* Calls @cb for every baseline (key order); stops at @cb's non-zero return. */
int bslots_foreach(const struct bslot_table *t, MDB_txn *txn,
		   int (*cb)(const struct baseline *b, void *arg), void *arg);

#endif
