#include "store/baseline_slots.h"
#include "wire/strhash.h"
#include "wire/varint.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_BYTES   (BSLOT_PER_CHUNK * BSLOT_BYTES)
#define SLOT_LIVE     0x80000000u /* in a slot's flags word: the slot holds a counter */
#define BIND_REC_MAX  (4 + 3 * 2 + HV_ID_MAX + HV_METRIC_MAX + HV_LABELS_MAX)

static uint64_t key_hash(const char *key)
{
	uint64_t h = hv_strhash(HV_STRHASH_SEED, key);

	return h ? h : 1; /* 0 means a free slot */
}

static uint64_t bind_hash(const char *resource, const char *metric, const char *labels)
{
	return hv_strhash(hv_strhash(hv_strhash(HV_STRHASH_SEED, resource), metric), labels);
}

static void be32_put(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t be32_get(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static size_t pack_str(uint8_t *p, const char *str, size_t cap)
{
	size_t len = strnlen(str, cap - 1), n = 0, l = len;

	do { /* LEB128 length, as rbuf_str() reads it */
		p[n++] = (uint8_t)((l & 0x7f) | (l > 0x7f ? 0x80 : 0));
		l >>= 7;
	} while (l);
	memcpy(p + n, str, len);
	return n + len;
}

/* The attribution record of a key. */
static size_t bind_pack(uint32_t slot, const struct baseline *b, uint8_t out[BIND_REC_MAX])
{
	size_t n = 4;

	be32_put(out, slot);
	n += pack_str(out + n, b->resource, sizeof(b->resource));
	n += pack_str(out + n, b->metric, sizeof(b->metric));
	n += pack_str(out + n, b->labels, sizeof(b->labels));
	return n;
}

static int bind_unpack(const MDB_val *k, const MDB_val *v, struct baseline *b, uint32_t *slot)
{
	struct rbuf r;
	uint32_t s;

	memset(b, 0, sizeof(*b));
	if (k->mv_size == 0 || k->mv_size >= sizeof(b->key) || v->mv_size < 4)
		return -EBADMSG;
	memcpy(b->key, k->mv_data, k->mv_size);
	rbuf_init(&r, v->mv_data, v->mv_size);
	if (rbuf_u32be(&r, &s) || rbuf_str(&r, b->resource, sizeof(b->resource)) ||
	    rbuf_str(&r, b->metric, sizeof(b->metric)) || rbuf_str(&r, b->labels, sizeof(b->labels)) ||
	    rbuf_left(&r) || s == UINT32_MAX)
		return -EBADMSG;
	*slot = s;
	return 0;
}

static void slot_pack(uint8_t *p, const struct baseline *b)
{
	be64_put(p, b->epoch);
	be64_put(p + 8, b->value);
	be64_put(p + 16, (uint64_t)b->time_ns);
	be32_put(p + 24, (b->flags & ~SLOT_LIVE) | SLOT_LIVE);
}

static void slot_unpack(const uint8_t *p, struct baseline *b)
{
	b->epoch = be64_get(p);
	b->value = be64_get(p + 8);
	b->time_ns = (int64_t)be64_get(p + 16);
	b->flags = be32_get(p + 24) & ~SLOT_LIVE;
}

/* Grows the table (and the chunk index) to hold slot @need. */
static int table_grow(struct bslot_table *t, uint64_t need)
{
	uint64_t cap = t->cap ? t->cap : BSLOT_PER_CHUNK;
	struct bslot_info *v;
	uint8_t **chunk;

	while (cap <= need)
		cap *= 2;
	if (cap > UINT32_MAX / 2)
		return -E2BIG;
	v = realloc(t->v, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	memset(v + t->cap, 0, (cap - t->cap) * sizeof(*v));
	t->v = v;
	chunk = realloc(t->chunk, cap / BSLOT_PER_CHUNK * sizeof(*chunk));
	if (!chunk)
		return -ENOMEM;
	memset(chunk + t->cap / BSLOT_PER_CHUNK, 0,
	       (cap - t->cap) / BSLOT_PER_CHUNK * sizeof(*chunk));
	t->chunk = chunk;
	t->cap = (uint32_t)cap;
	return 0;
}

/* Sets slot @slot's info, remembering the old one for an abort. */
static int table_set(struct bslot_table *t, uint32_t slot, uint64_t kh, uint64_t bh)
{
	if (t->n_undo == t->cap_undo) {
		size_t cap = t->cap_undo ? t->cap_undo * 2 : 64;
		struct bslot_undo *u = realloc(t->undo, cap * sizeof(*u));

		if (!u)
			return -ENOMEM;
		t->undo = u;
		t->cap_undo = cap;
	}
	t->undo[t->n_undo].slot = slot;
	t->undo[t->n_undo++].old = t->v[slot];
	t->v[slot].key_hash = kh;
	t->v[slot].bind_hash = bh;
	if (!kh && slot < t->free_hint)
		t->free_hint = slot;
	return 0;
}

int bslots_open(struct bslot_table *t, MDB_txn *txn, int create, int writer,
		int (*err_from_mdb)(int rc))
{
	MDB_cursor *c = NULL;
	MDB_val k, v;
	unsigned flags = create ? MDB_CREATE : 0;
	int err = 0, rc;

	t->err_from_mdb = err_from_mdb;
	if ((rc = mdb_dbi_open(txn, "baselines", flags, &t->baselines)) ||
	    (rc = mdb_dbi_open(txn, "counters", flags, &t->counters)))
		return err_from_mdb(rc);
	if (!writer)
		return 0;
	if ((rc = mdb_cursor_open(txn, t->baselines, &c)))
		return err_from_mdb(rc);
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == MDB_SUCCESS;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		struct baseline b;
		uint32_t slot;

		if ((err = bind_unpack(&k, &v, &b, &slot)))
			goto out;
		if (slot >= t->cap && (err = table_grow(t, slot)))
			goto out;
		t->v[slot].key_hash = key_hash(b.key);
		t->v[slot].bind_hash = bind_hash(b.resource, b.metric, b.labels);
	}
	err = rc == MDB_NOTFOUND ? 0 : err_from_mdb(rc);
out:
	mdb_cursor_close(c);
	return err;
}

void bslots_free(struct bslot_table *t)
{
	if (t->chunk)
		for (uint32_t i = 0; i < t->cap / BSLOT_PER_CHUNK; i++)
			free(t->chunk[i]);
	free(t->chunk);
	free(t->v);
	free(t->undo);
	free(t->dirty);
	memset(t, 0, sizeof(*t));
}

/* The writable copy of chunk @n for this transaction (read from the store the first time). */
static int chunk_get(struct bslot_table *t, MDB_txn *txn, uint32_t n, uint8_t **out)
{
	uint8_t kb[4];
	MDB_val k = { sizeof(kb), kb }, v;
	int rc;

	if (t->chunk[n]) {
		*out = t->chunk[n];
		return 0;
	}
	if (!(t->chunk[n] = malloc(CHUNK_BYTES)))
		return -ENOMEM;
	be32_put(kb, n); /* big-endian: key order is chunk order */
	rc = mdb_get(txn, t->counters, &k, &v);
	if (rc == MDB_SUCCESS && v.mv_size == CHUNK_BYTES)
		memcpy(t->chunk[n], v.mv_data, CHUNK_BYTES);
	else if (rc == MDB_NOTFOUND)
		memset(t->chunk[n], 0, CHUNK_BYTES);
	else
		return rc == MDB_SUCCESS ? -EBADMSG : t->err_from_mdb(rc);
	if (!(t->n_dirty & (t->n_dirty + 1))) { /* grow at 0, 1, 3, 7...: doubling */
		uint32_t *d = realloc(t->dirty, (t->n_dirty * 2 + 1) * sizeof(*d));

		if (!d)
			return -ENOMEM;
		t->dirty = d;
	}
	t->dirty[t->n_dirty++] = n;
	*out = t->chunk[n];
	return 0;
}

/* Finds a free slot (never one handed out in this transaction). */
static int slot_alloc(struct bslot_table *t, uint32_t *out)
{
	uint32_t s = t->free_hint;
	int err;

	while (s < t->cap && t->v[s].key_hash)
		s++;
	if (s >= t->cap && (err = table_grow(t, s)))
		return err;
	t->free_hint = s + 1;
	*out = s;
	return 0;
}

/* The slot of @b: its hint when it checks out, else the stored record's, else a new one. */
static int slot_of(struct bslot_table *t, MDB_txn *txn, const struct baseline *b, uint64_t kh,
		   uint32_t *slot, bool *known)
{
	MDB_val k = { strnlen(b->key, sizeof(b->key) - 1), (void *)b->key }, v;
	struct baseline stored;
	int rc;

	if (b->slot && b->slot - 1 < t->cap && t->v[b->slot - 1].key_hash == kh) {
		*slot = b->slot - 1;
		*known = true;
		return 0;
	}
	rc = mdb_get(txn, t->baselines, &k, &v);
	if (rc == MDB_NOTFOUND) {
		*known = false;
		return slot_alloc(t, slot);
	}
	if (rc)
		return t->err_from_mdb(rc);
	if (bind_unpack(&k, &v, &stored, slot))
		return -EBADMSG;
	if (*slot >= t->cap) {
		int err = table_grow(t, *slot);

		if (err)
			return err;
	}
	*known = t->v[*slot].key_hash == kh;
	return 0;
}

static int put_one(struct bslot_table *t, MDB_txn *txn, struct baseline *b)
{
	uint64_t kh = key_hash(b->key), bh = bind_hash(b->resource, b->metric, b->labels);
	uint8_t rec[BIND_REC_MAX], *chunk;
	uint32_t slot = 0;
	bool known = false;
	int err, rc;

	if (!b->key[0])
		return -EINVAL;
	if ((err = slot_of(t, txn, b, kh, &slot, &known)))
		return err;
	if (!known || t->v[slot].bind_hash != bh) {
		MDB_val k = { strnlen(b->key, sizeof(b->key) - 1), b->key };
		MDB_val v = { bind_pack(slot, b, rec), rec };

		if ((rc = mdb_put(txn, t->baselines, &k, &v, 0)))
			return t->err_from_mdb(rc);
		if ((err = table_set(t, slot, kh, bh)))
			return err;
	}
	if ((err = chunk_get(t, txn, slot / BSLOT_PER_CHUNK, &chunk)))
		return err;
	slot_pack(chunk + (slot % BSLOT_PER_CHUNK) * BSLOT_BYTES, b);
	b->slot = slot + 1;
	return 0;
}

static int del_one(struct bslot_table *t, MDB_txn *txn, const char *key)
{
	MDB_val k = { strlen(key), (void *)key }, v;
	struct baseline stored;
	uint8_t *chunk;
	uint32_t slot;
	int err, rc;

	rc = mdb_get(txn, t->baselines, &k, &v);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return t->err_from_mdb(rc);
	if (bind_unpack(&k, &v, &stored, &slot))
		return -EBADMSG;
	if ((rc = mdb_del(txn, t->baselines, &k, NULL)))
		return t->err_from_mdb(rc);
	if (slot >= t->cap && (err = table_grow(t, slot)))
		return err;
	if ((err = chunk_get(t, txn, slot / BSLOT_PER_CHUNK, &chunk)))
		return err;
	memset(chunk + (slot % BSLOT_PER_CHUNK) * BSLOT_BYTES, 0, BSLOT_BYTES);
	return table_set(t, slot, 0, 0);
}

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static bool chunk_empty(const uint8_t *chunk)
{
	for (int i = 0; i < BSLOT_PER_CHUNK; i++)
		if (be32_get(chunk + i * BSLOT_BYTES + 24) & SLOT_LIVE)
			return false;
	return true;
}

/* The highest chunk number stored, or -1 when there is none. */
static int last_chunk(struct bslot_table *t, MDB_txn *txn, int64_t *last)
{
	MDB_cursor *c;
	MDB_val k, v;
	int rc;

	*last = -1;
	if ((rc = mdb_cursor_open(txn, t->counters, &c)))
		return t->err_from_mdb(rc);
	rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
	if (rc == MDB_SUCCESS && k.mv_size == 4)
		*last = be32_get(k.mv_data);
	mdb_cursor_close(c);
	return rc == MDB_SUCCESS || rc == MDB_NOTFOUND ? 0 : t->err_from_mdb(rc);
}

/*
 * Writes the touched chunks, in key order; an emptied chunk is deleted. New
 * chunks past the last one are appended (MDB_APPEND): a chunk is nearly half
 * a page, and LMDB splits a page it inserts into at the middle, so plain
 * inserts in order leave one chunk per page — twice the pages every commit
 * then copies and syncs. Existing chunks are overwritten in place.
 */
static int chunks_flush(struct bslot_table *t, MDB_txn *txn)
{
	int64_t last;
	int err;

	if (t->n_dirty > 1) /* qsort's base must not be NULL, even for no elements */
		qsort(t->dirty, t->n_dirty, sizeof(*t->dirty), u32_cmp);
	if (t->n_dirty && (err = last_chunk(t, txn, &last)))
		return err;
	for (size_t i = 0; i < t->n_dirty; i++) {
		uint32_t n = t->dirty[i];
		uint8_t kb[4];
		MDB_val k = { sizeof(kb), kb }, v = { CHUNK_BYTES, t->chunk[n] };
		int rc;

		be32_put(kb, n);
		if (chunk_empty(t->chunk[n])) {
			rc = mdb_del(txn, t->counters, &k, NULL);
			if (rc == MDB_NOTFOUND)
				rc = 0;
		} else if ((int64_t)n > last) {
			rc = mdb_put(txn, t->counters, &k, &v, MDB_APPEND);
			last = n;
		} else {
			rc = mdb_put(txn, t->counters, &k, &v, 0);
		}
		if (rc)
			return t->err_from_mdb(rc);
	}
	return 0;
}

static void chunks_release(struct bslot_table *t)
{
	/* keep the buffers' memory bounded: a commit touches the same chunks next time */
	for (size_t i = 0; i < t->n_dirty; i++) {
		free(t->chunk[t->dirty[i]]);
		t->chunk[t->dirty[i]] = NULL;
	}
	t->n_dirty = 0;
}

int bslots_write(struct bslot_table *t, MDB_txn *txn, struct baseline *put, size_t n_put,
		 const char *const *del, size_t n_del)
{
	int err = 0;

	chunks_release(t);
	for (size_t i = 0; i < n_put && !err; i++)
		err = put_one(t, txn, &put[i]);
	for (size_t i = 0; i < n_del && !err; i++)
		err = del_one(t, txn, del[i]);
	if (!err)
		err = chunks_flush(t, txn);
	chunks_release(t);
	return err;
}

void bslots_committed(struct bslot_table *t)
{
	t->n_undo = 0;
}

void bslots_aborted(struct bslot_table *t)
{
	while (t->n_undo) {
		const struct bslot_undo *u = &t->undo[--t->n_undo];

		t->v[u->slot] = u->old;
	}
	/* slots handed out and undone are free again: search from the start */
	t->free_hint = 0;
}

int bslots_foreach(const struct bslot_table *t, MDB_txn *txn,
		   int (*cb)(const struct baseline *b, void *arg), void *arg)
{
	MDB_cursor *c = NULL;
	MDB_val k, v, cv = { 0, NULL };
	uint32_t have = UINT32_MAX;
	int err = 0, rc;

	if ((rc = mdb_cursor_open(txn, t->baselines, &c)))
		return t->err_from_mdb(rc);
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == MDB_SUCCESS;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		struct baseline b;
		uint32_t slot, n;
		const uint8_t *p;

		if ((err = bind_unpack(&k, &v, &b, &slot)))
			goto out;
		n = slot / BSLOT_PER_CHUNK;
		if (n != have) {
			uint8_t kb[4];
			MDB_val ck = { sizeof(kb), kb };

			be32_put(kb, n);
			if ((rc = mdb_get(txn, t->counters, &ck, &cv)) || cv.mv_size != CHUNK_BYTES) {
				err = rc ? t->err_from_mdb(rc) : -EBADMSG;
				if (err == -ENOENT)
					err = -EBADMSG; /* a key whose counter is missing */
				goto out;
			}
			have = n;
		}
		p = (const uint8_t *)cv.mv_data + (slot % BSLOT_PER_CHUNK) * BSLOT_BYTES;
		if (!(be32_get(p + 24) & SLOT_LIVE)) {
			err = -EBADMSG;
			goto out;
		}
		slot_unpack(p, &b);
		b.slot = slot + 1;
		if ((err = cb(&b, arg)))
			goto out;
	}
	err = rc == MDB_NOTFOUND ? 0 : t->err_from_mdb(rc);
out:
	mdb_cursor_close(c);
	return err;
}
