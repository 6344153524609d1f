#include "store/store.h"
#include "store/baseline_slots.h"
#include "wire/varint.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>

#include <lmdb.h>

#define STORE_LAYOUT 3 /* bump when the on-disk records change (2: frames in parts;
                          3: frame v2, baselines as attribution + counter slots) */

/*
 * A frame record (hash || canonical bytes) is stored in parts under keys
 * seq (u64 BE) || part (u32 BE), each part small enough to live in a leaf
 * page. LMDB puts bigger values in overflow pages, which need contiguous
 * free runs: a ring whose free pages are scattered (every commit copies the
 * baseline leaves it touches) could then fail to write a merged frame with
 * plenty of room left, and wedge. Leaf-sized parts take any free page.
 */
#define FRAME_KEY_LEN 12

/*
 * Ring thresholds. A commit first checks that it fits below capacity -
 * headroom; headroom (10 %, at least two frames) is what the next
 * compaction has to write its merged frames and re-chained tail into.
 * Compaction then frees enough that the next commits fit with headroom and
 * a slack of 15 %, so that it does not run again at the very next frame.
 */
#define RING_HEADROOM_PCT  10
#define RING_SLACK_PCT     15
#define RING_SAFETY_PAGES  8   /* branch copies, meta, freelist record of one txn */
/*
 * A disk-full episode ends when the filesystem has this much more free space
 * than when the disk refused a write (1 MiB at 4 KiB pages): on a shared
 * disk free space moves by a few pages all the time, and a smaller step
 * ended and restarted the episode (and its log line) with every wobble.
 */
#define RING_SPACE_BACK_PAGES 256
#define RING_MAX_GROUPS    256 /* merged frames one compaction may write */
#define ROOM_BACKOFF       16  /* commits to wait after a compaction that freed nothing */

struct store {
	/*
	 * Every transaction holds this for reading; reopening the environment
	 * after MDB_PANIC holds it for writing, so no read transaction of
	 * another thread (the uplink's) is left on a closed environment.
	 */
	pthread_rwlock_t lock;
	/*
	 * Serialises the writers (commit, ack, sent, prune) and the in-memory
	 * state below: LMDB serialises write transactions itself, but not this.
	 */
	pthread_mutex_t wlock;
	MDB_env *env;
	MDB_dbi frames, resources, meta;
	struct bslot_table bslots; /* baselines and counters (baseline_slots.c) */
	bool read_only;
	char *dir;
	uint64_t map_bytes;      /* requested map size */
	int64_t retention_ns;
	uint64_t retention_s;
	uint64_t psize;
	size_t part_max;         /* bytes of a frame record per part: two fill a page */
	uint64_t max_rec;        /* largest frame record committed since open */
	unsigned cond;           /* STORE_COND_* of the last commit */
	unsigned room_backoff;
	/*
	 * The disk refused to let the file grow (ENOSPC, EDQUOT, EFBIG) while
	 * the map had room: until statvfs shows more free space than then, the
	 * ring is bounded by the file as it was (quotas and file size limits
	 * do not show in statvfs at all). Kept in memory: a restart retries.
	 */
	uint64_t disk_cap;       /* pages; 0 = no such limit known */
	uint64_t disk_avail;     /* statvfs free pages when it was set */
	bool disk_error;         /* the last transaction failed on the disk */
};

/*
 * The space picture of one transaction, in pages. `pending` are free pages
 * the next write transaction cannot have yet: LMDB hands out what a
 * transaction freed only two transactions later (a crash may still fall
 * back to the previous meta page, which refers to them).
 */
struct space {
	uint64_t map, file, used, pending, frames, baselines, avail, cap;
	bool fs_limited;
};

static bool errno_is_space(int e)
{
	return e == ENOSPC || e == EDQUOT || e == EFBIG;
}

static int err_from_mdb(int rc)
{
	switch (rc) {
	case MDB_SUCCESS:
		return 0;
	case MDB_NOTFOUND:
		return -ENOENT;
	case MDB_MAP_FULL:
	case MDB_TXN_FULL:
		return -ENOSPC;
	case MDB_CORRUPTED:
	case MDB_INVALID:
	case MDB_PAGE_NOTFOUND:
	case MDB_VERSION_MISMATCH:
		return -EBADMSG;
	case MDB_READERS_FULL:
		return -EAGAIN;
	case MDB_PANIC:
		return -EIO;
	default:
		if (rc > 0 && errno_is_space(rc))
			return -ENOSPC; /* the disk, not the map: same remedy */
		return rc > 0 ? -rc : -EIO; /* LMDB passes errno values through */
	}
}

const char *store_strerror(int err)
{
	switch (err) {
	case -ENOSPC:
		return "store is full (LMDB map or disk)";
	case -EBADMSG:
		return "store is corrupt or of an unknown format";
	case -EEXIST:
		return "store belongs to another host id";
	case -EPROTO:
		return "store was written by another hvmeterd version (on-disk layout differs)";
	default:
		return strerror(-err);
	}
}

/* ---- meta ---------------------------------------------------------------- */

static int meta_get(struct store *s, MDB_txn *txn, const char *name, MDB_val *v)
{
	MDB_val k = { strlen(name), (void *)name };

	return err_from_mdb(mdb_get(txn, s->meta, &k, v));
}

static int meta_put(struct store *s, MDB_txn *txn, const char *name, const void *data, size_t len)
{
	MDB_val k = { strlen(name), (void *)name }, v = { len, (void *)data };

	return err_from_mdb(mdb_put(txn, s->meta, &k, &v, 0));
}

static int meta_get_u64(struct store *s, MDB_txn *txn, const char *name, uint64_t *out)
{
	MDB_val v;
	int err = meta_get(s, txn, name, &v);

	if (err == -ENOENT) {
		*out = 0;
		return 0;
	}
	if (err)
		return err;
	if (v.mv_size != 8)
		return -EBADMSG;
	*out = be64_get(v.mv_data);
	return 0;
}

static int meta_put_u64(struct store *s, MDB_txn *txn, const char *name, uint64_t val)
{
	uint8_t b[8];

	be64_put(b, val);
	return meta_put(s, txn, name, b, 8);
}

static int meta_add_u64(struct store *s, MDB_txn *txn, const char *name, uint64_t add)
{
	uint64_t v;
	int err;

	if (!add)
		return 0;
	if ((err = meta_get_u64(s, txn, name, &v)))
		return err;
	return meta_put_u64(s, txn, name, v + add);
}

/* ---- open / close -------------------------------------------------------- */

static int dbis_open(struct store *s, MDB_txn *txn, unsigned flags)
{
	int rc;

	if ((rc = mdb_dbi_open(txn, "frames", flags, &s->frames)) ||
	    (rc = mdb_dbi_open(txn, "resources", flags, &s->resources)) ||
	    (rc = mdb_dbi_open(txn, "meta", flags, &s->meta)))
		return err_from_mdb(rc);
	return 0;
}

/* First open stamps host id and layout; later opens must agree. */
static int identity_check(struct store *s, MDB_txn *txn, const char *host_id)
{
	MDB_val v;
	uint64_t layout;
	int err = meta_get(s, txn, "host_id", &v);

	if (err == -ENOENT) {
		if (s->read_only)
			return -ENOENT;
		if (!host_id || !host_id[0] || strlen(host_id) >= HV_ID_MAX)
			return -EINVAL;
		err = meta_put(s, txn, "host_id", host_id, strlen(host_id));
		if (!err)
			err = meta_put_u64(s, txn, "layout", STORE_LAYOUT);
		if (!err)
			err = meta_put_u64(s, txn, "next_seq", 1);
		return err;
	}
	if (err)
		return err;
	if (host_id && (v.mv_size != strlen(host_id) || memcmp(v.mv_data, host_id, v.mv_size)))
		return -EEXIST;
	err = meta_get_u64(s, txn, "layout", &layout);
	if (err)
		return err;
	/* another layout: written by another hvmeterd version, refused, not misread */
	return layout == STORE_LAYOUT ? 0 : -EPROTO;
}

static bool data_file_empty(const char *dir)
{
	char path[4096];
	struct stat st;

	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	return stat(path, &st) == 0 && st.st_size == 0;
}

/* Creates and opens s->env; on failure s->env is closed and NULL. */
static int env_open(struct store *s, const char *host_id)
{
	MDB_txn *txn = NULL;
	MDB_stat st;
	int rc, err, dead;

	if ((rc = mdb_env_create(&s->env))) {
		s->env = NULL;
		return err_from_mdb(rc);
	}
	mdb_env_set_maxdbs(s->env, 8);
	if (!s->read_only)
		mdb_env_set_mapsize(s->env, s->map_bytes);
	/* MDB_NOTLS: the CLI and tests may use a read txn from another thread */
	rc = mdb_env_open(s->env, s->dir, MDB_NOTLS | (s->read_only ? MDB_RDONLY : 0), 0640);
	if (rc) {
		err = err_from_mdb(rc);
		/* a writer killed before its first meta page leaves an empty
		 * data.mdb, which LMDB fails to open read-only with EBADF: to a
		 * reader that is no store yet (the next writer starts it afresh) */
		if (s->read_only && rc == EBADF && data_file_empty(s->dir))
			err = -ENOENT;
		goto fail;
	}
	/* a reader killed mid-read pins old pages until its slot is cleared */
	if (!s->read_only)
		mdb_reader_check(s->env, &dead);
	mdb_env_stat(s->env, &st);
	s->psize = st.ms_psize;
	/* LMDB's largest leaf node is (psize - 16) / 2 bytes: node header 8,
	 * key, the part, and its 2-byte slot must fit, with a little margin */
	s->part_max = (s->psize - 16) / 2 - 8 - FRAME_KEY_LEN - 2 - 8;
	if ((rc = mdb_txn_begin(s->env, NULL, s->read_only ? MDB_RDONLY : 0, &txn))) {
		err = err_from_mdb(rc);
		goto fail;
	}
	err = dbis_open(s, txn, s->read_only ? 0 : MDB_CREATE);
	if (!err) {
		bslots_free(&s->bslots);
		err = bslots_open(&s->bslots, txn, !s->read_only, !s->read_only, err_from_mdb);
	}
	if (!err)
		err = identity_check(s, txn, host_id);
	/* the retention in force, for `hvmeter status` */
	if (!err && !s->read_only)
		err = meta_put_u64(s, txn, "retention_s", s->retention_s);
	if (err)
		goto fail;
	rc = mdb_txn_commit(txn);
	txn = NULL;
	if (rc) {
		err = err_from_mdb(rc);
		goto fail;
	}
	return 0;
fail:
	if (txn)
		mdb_txn_abort(txn);
	mdb_env_close(s->env);
	s->env = NULL;
	return err;
}

int store_open(struct store **out, const char *dir, const struct store_opts *opts)
{
	struct store *s;
	int err;

	*out = NULL;
	if (opts->max_bytes && opts->max_bytes < STORE_MIN_MAX_BYTES)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	pthread_rwlock_init(&s->lock, NULL);
	pthread_mutex_init(&s->wlock, NULL);
	s->read_only = opts->read_only;
	s->map_bytes = opts->max_bytes ? opts->max_bytes : STORE_DEFAULT_MAX_BYTES;
	s->retention_s = opts->retention_s ? opts->retention_s : STORE_DEFAULT_RETENTION;
	s->retention_ns = s->retention_s > (uint64_t)INT64_MAX / 1000000000 ?
				  INT64_MAX : (int64_t)s->retention_s * 1000000000;
	s->dir = strdup(dir);
	if (!s->dir) {
		err = -ENOMEM;
		goto fail;
	}
	if (!s->read_only && mkdir(dir, 0750) < 0 && errno != EEXIST) {
		err = -errno;
		goto fail;
	}
	if ((err = env_open(s, opts->host_id)))
		goto fail;
	*out = s;
	return 0;
fail:
	store_close(s);
	return err;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	if (s->env)
		mdb_env_close(s->env);
	bslots_free(&s->bslots);
	pthread_rwlock_destroy(&s->lock);
	pthread_mutex_destroy(&s->wlock);
	free(s->dir);
	free(s);
}

/*
 * Begins a transaction (MDB_RDONLY or 0), holding s->lock for reading until
 * txn_end() or txn_commit(). After a failed write of its meta page LMDB
 * marks the environment fatal (MDB_PANIC) until it is reopened: the data on
 * disk is intact, so a writer reopens it, alone, rather than refuse every
 * later commit.
 */
static int txn_begin(struct store *s, unsigned flags, MDB_txn **txn)
{
	int rc;

	if (!(flags & MDB_RDONLY) && s->read_only)
		return -EROFS;
	for (int tries = 0;; tries++) {
		pthread_rwlock_rdlock(&s->lock);
		rc = s->env ? mdb_txn_begin(s->env, NULL, flags, txn) : MDB_PANIC;
		if (!rc)
			return 0;
		pthread_rwlock_unlock(&s->lock);
		if (rc != MDB_PANIC || (flags & MDB_RDONLY) || tries)
			return rc == MDB_PANIC ? -EIO : err_from_mdb(rc);
		pthread_rwlock_wrlock(&s->lock);
		if (s->env) {
			mdb_env_close(s->env);
			s->env = NULL;
		}
		env_open(s, NULL);
		pthread_rwlock_unlock(&s->lock);
	}
}

static int txn_write(struct store *s, MDB_txn **txn)
{
	return txn_begin(s, 0, txn);
}

static int txn_read(struct store *s, MDB_txn **txn)
{
	return txn_begin(s, MDB_RDONLY, txn);
}

/* Ends (aborts) a transaction of txn_begin(). */
static void txn_end(struct store *s, MDB_txn *txn)
{
	mdb_txn_abort(txn);
	pthread_rwlock_unlock(&s->lock);
}

/* Commits a transaction of txn_begin(); returns LMDB's code (see commit_err()). */
static int txn_commit(struct store *s, MDB_txn *txn)
{
	int rc = mdb_txn_commit(txn);

	pthread_rwlock_unlock(&s->lock);
	return rc;
}

/* ---- records ------------------------------------------------------------- */

static int resource_encode(const struct frame_resource *res, struct wbuf *w)
{
	wbuf_uvarint(w, res->n_attrs);
	for (uint32_t i = 0; i < res->n_attrs; i++) {
		wbuf_str(w, res->attrs[i].key);
		wbuf_str(w, res->attrs[i].value);
	}
	return w->err;
}

static int resource_decode(struct frame_resource *res, const char *id, const MDB_val *v)
{
	struct rbuf r;
	uint64_t n;

	memset(res, 0, sizeof(*res));
	snprintf(res->resource, sizeof(res->resource), "%s", id);
	rbuf_init(&r, v->mv_data, v->mv_size);
	if (rbuf_uvarint(&r, &n) || n > HV_ATTRS_MAX)
		return -EBADMSG;
	for (uint64_t i = 0; i < n; i++)
		if (rbuf_str(&r, res->attrs[i].key, sizeof(res->attrs[i].key)) ||
		    rbuf_str(&r, res->attrs[i].value, sizeof(res->attrs[i].value)))
			return -EBADMSG;
	res->n_attrs = (uint32_t)n;
	return 0;
}

/* ---- frame records in parts ---------------------------------------------- */

static uint64_t div_up(uint64_t a, uint64_t b)
{
	return (a + b - 1) / b;
}

static void frame_key(uint8_t kb[FRAME_KEY_LEN], uint64_t seq, uint32_t part)
{
	be64_put(kb, seq);
	kb[8] = (uint8_t)(part >> 24);
	kb[9] = (uint8_t)(part >> 16);
	kb[10] = (uint8_t)(part >> 8);
	kb[11] = (uint8_t)part;
}

static int frame_key_parse(const MDB_val *k, uint64_t *seq, uint32_t *part)
{
	const uint8_t *p = k->mv_data;

	if (k->mv_size != FRAME_KEY_LEN)
		return -EBADMSG;
	*seq = be64_get(p);
	*part = (uint32_t)p[8] << 24 | (uint32_t)p[9] << 16 | (uint32_t)p[10] << 8 | p[11];
	return 0;
}

/* A frame record gathered from its parts: hash || canonical bytes. */
struct rec {
	uint8_t *p;
	size_t len, cap;
};

static void rec_free(struct rec *r)
{
	free(r->p);
	memset(r, 0, sizeof(*r));
}

static int rec_add(struct rec *r, const void *data, size_t len)
{
	if (r->len + len > r->cap) {
		size_t cap = r->cap ? r->cap : 4096;
		uint8_t *np;

		while (cap < r->len + len)
			cap *= 2;
		np = realloc(r->p, cap);
		if (!np)
			return -ENOMEM;
		r->p = np;
		r->cap = cap;
	}
	memcpy(r->p + r->len, data, len);
	r->len += len;
	return 0;
}

/*
 * With the cursor on part 0 of a frame (in @k, @v), gathers its parts into
 * @r (when not NULL) and their sizes into *bytes, *parts. Returns with the
 * cursor, @k and @v on the next frame's part 0 and *rc MDB_SUCCESS, or *rc
 * MDB_NOTFOUND after the last frame. Returns 0, -EBADMSG when parts are
 * missing or out of place, or -errno.
 */
static int frame_gather(MDB_cursor *c, MDB_val *k, MDB_val *v, uint64_t *seq, struct rec *r,
			size_t *bytes, size_t *parts, int *rc)
{
	uint64_t s2;
	uint32_t part, want = 0;
	int err;

	if (r)
		r->len = 0;
	*bytes = *parts = 0;
	if ((err = frame_key_parse(k, seq, &part)))
		return err;
	for (;;) {
		if (part != want++)
			return -EBADMSG;
		if (r && (err = rec_add(r, v->mv_data, v->mv_size)))
			return err;
		*bytes += v->mv_size;
		(*parts)++;
		*rc = mdb_cursor_get(c, k, v, MDB_NEXT);
		if (*rc == MDB_NOTFOUND)
			return 0;
		if (*rc)
			return err_from_mdb(*rc);
		if ((err = frame_key_parse(k, &s2, &part)))
			return err;
		if (s2 != *seq)
			return part == 0 ? 0 : -EBADMSG;
	}
}

/* Decodes a gathered record of frame @seq. */
static int frame_record_decode(struct frame *f, uint64_t seq, const struct rec *r)
{
	int err;

	if (r->len < HV_HASH_LEN)
		return -EBADMSG;
	err = frame_decode(f, r->p + HV_HASH_LEN, r->len - HV_HASH_LEN);
	if (err)
		return err;
	memcpy(f->hash, r->p, HV_HASH_LEN);
	return f->seq == seq ? 0 : -EBADMSG;
}

/* The head of a stored frame (hash, then canonical bytes) from its part 0. */
static int frame_head_read(const MDB_val *v, struct frame_head *h)
{
	if (v->mv_size < HV_HASH_LEN)
		return -EBADMSG;
	return frame_head_decode((const uint8_t *)v->mv_data + HV_HASH_LEN,
				 v->mv_size - HV_HASH_LEN, h) ? -EBADMSG : 0;
}

/* Positions @c on part 0 of frame @seq. -ENOENT when there is none. */
static int frame_seek(MDB_cursor *c, uint64_t seq, MDB_val *k, MDB_val *v)
{
	uint8_t kb[FRAME_KEY_LEN];
	uint64_t got;
	uint32_t part;
	int rc, err;

	frame_key(kb, seq, 0);
	k->mv_size = FRAME_KEY_LEN;
	k->mv_data = kb;
	rc = mdb_cursor_get(c, k, v, MDB_SET_KEY);
	if (rc)
		return err_from_mdb(rc);
	if ((err = frame_key_parse(k, &got, &part)))
		return err;
	return got == seq && part == 0 ? 0 : -ENOENT;
}

/* Reads and decodes frame @seq inside @txn. */
static int txn_frame_get(struct store *s, MDB_txn *txn, uint64_t seq, struct frame *f, struct rec *r)
{
	MDB_cursor *c = NULL;
	MDB_val k, v;
	uint64_t got;
	size_t bytes, parts;
	int err, rc;

	if ((rc = mdb_cursor_open(txn, s->frames, &c)))
		return err_from_mdb(rc);
	if (!(err = frame_seek(c, seq, &k, &v)) &&
	    !(err = frame_gather(c, &k, &v, &got, r, &bytes, &parts, &rc)))
		err = frame_record_decode(f, seq, r);
	mdb_cursor_close(c);
	return err;
}

/*
 * Deletes every part of frame @seq; adds its record bytes to *bytes.
 * Seeks afresh for each part rather than trust the cursor's position
 * after a delete.
 */
static int txn_frame_del(struct store *s, MDB_cursor *c, uint64_t seq, size_t *bytes)
{
	uint8_t kb[FRAME_KEY_LEN];
	MDB_val k, v;
	uint64_t got;
	uint32_t part;
	int rc, err;

	for (;;) {
		frame_key(kb, seq, 0);
		k.mv_size = FRAME_KEY_LEN;
		k.mv_data = kb;
		rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
		if (rc == MDB_NOTFOUND)
			return 0;
		if (rc)
			return err_from_mdb(rc);
		if ((err = frame_key_parse(&k, &got, &part)))
			return err;
		if (got != seq)
			return 0;
		if (bytes)
			*bytes += v.mv_size;
		if ((rc = mdb_cursor_del(c, 0)))
			return err_from_mdb(rc);
	}
}

/* Bytes a frame record of @len costs: its parts, two to a page. */
static uint64_t rec_cost(const struct store *s, size_t len)
{
	uint64_t parts = div_up(len, s->part_max);

	return len + parts * (8 + FRAME_KEY_LEN + 2) + 16;
}

/*
 * Canonicalizes, encodes and hashes @f and writes hash || bytes in parts
 * under its seq. @append: a new frame (MDB_APPEND: sequence order is key
 * order, and LMDB refuses anything out of order); otherwise a rewrite by
 * compaction, whose old parts must be gone already.
 */
static int txn_frame_put(struct store *s, MDB_txn *txn, struct frame *f, bool append,
			 size_t *rec_len)
{
	MDB_cursor *c = NULL;
	uint8_t *bytes = NULL, kb[FRAME_KEY_LEN];
	size_t len = 0, off = 0, total;
	uint32_t part = 0;
	int err, rc;

	frame_canonicalize(f);
	if ((err = frame_encode(f, &bytes, &len)))
		return err;
	if ((err = frame_hash(bytes, len, f->hash)))
		goto out;
	if ((rc = mdb_cursor_open(txn, s->frames, &c))) {
		err = err_from_mdb(rc);
		goto out;
	}
	total = HV_HASH_LEN + len;
	while (off < total) {
		size_t n = total - off < s->part_max ? total - off : s->part_max;
		MDB_val k = { FRAME_KEY_LEN, kb }, v = { n, NULL };
		uint8_t *dst;

		frame_key(kb, f->seq, part++);
		/* MDB_RESERVE: LMDB hands out the part's room; fill it in place */
		rc = mdb_cursor_put(c, &k, &v, MDB_RESERVE | (append ? MDB_APPEND : 0));
		if (rc) {
			err = err_from_mdb(rc);
			goto out;
		}
		dst = v.mv_data;
		if (off < HV_HASH_LEN) {
			size_t h = HV_HASH_LEN - off < n ? HV_HASH_LEN - off : n;

			memcpy(dst, f->hash + off, h);
			memcpy(dst + h, bytes, n - h);
		} else {
			memcpy(dst, bytes + (off - HV_HASH_LEN), n);
		}
		off += n;
	}
	if (rec_len)
		*rec_len = total;
out:
	if (c)
		mdb_cursor_close(c);
	free(bytes);
	return err;
}

/* ---- space --------------------------------------------------------------- */

/* mdb_reader_list() prints "pid thread txnid" per reader slot: keep the oldest txnid. */
static int oldest_reader(const char *line, void *arg)
{
	size_t *oldest = arg, txnid;
	int pid;
	unsigned long long thr;

	if (sscanf(line, "%d %llx %zu", &pid, &thr, &txnid) == 3 && txnid < *oldest)
		*oldest = txnid;
	return 0;
}

static int space_measure(struct store *s, MDB_txn *txn, struct space *sp)
{
	MDB_dbi dbis[] = { 0 /* freelist */, 1 /* main: the names */, s->frames,
			   s->bslots.baselines, s->bslots.counters, s->resources, s->meta };
	MDB_envinfo info;
	MDB_stat st;
	MDB_txn *rtxn;
	MDB_cursor *c;
	MDB_val k, v;
	struct stat fst;
	struct statvfs vfs;
	size_t next_txn;
	int fd, rc;

	memset(sp, 0, sizeof(*sp));
	if ((rc = mdb_env_info(s->env, &info)) || (rc = mdb_env_get_fd(s->env, &fd)))
		return err_from_mdb(rc);
	sp->map = info.me_mapsize / s->psize;
	sp->used = 2; /* the two meta pages */
	for (size_t i = 0; i < sizeof(dbis) / sizeof(dbis[0]); i++) {
		uint64_t pages;

		if ((rc = mdb_stat(txn, dbis[i], &st)))
			return err_from_mdb(rc);
		pages = st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
		sp->used += pages;
		if (dbis[i] == s->frames)
			sp->frames = pages;
		else if (dbis[i] == s->bslots.baselines || dbis[i] == s->bslots.counters)
			sp->baselines += pages;
	}
	/*
	 * Freelist records are keyed by the transaction that freed the pages:
	 * the newest are not reusable yet, nor any a reader's snapshot (the
	 * uplink's, the CLI's) may still see. LMDB opens no cursor on the
	 * freelist inside a write transaction, so look at the last committed
	 * one through a read snapshot (MDB_NOTLS allows it in this thread).
	 */
	if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &rtxn)))
		return err_from_mdb(rc);
	next_txn = mdb_txn_id(rtxn) + 1;
	{
		size_t oldest = next_txn;

		mdb_reader_list(s->env, oldest_reader, &oldest);
		if (oldest + 1 < next_txn)
			next_txn = oldest + 1;
	}
	if ((rc = mdb_cursor_open(rtxn, 0, &c))) {
		mdb_txn_abort(rtxn);
		return err_from_mdb(rc);
	}
	for (rc = mdb_cursor_get(c, &k, &v, MDB_LAST); rc == MDB_SUCCESS;
	     rc = mdb_cursor_get(c, &k, &v, MDB_PREV)) {
		size_t id, n;

		if (k.mv_size != sizeof(id) || v.mv_size < sizeof(n))
			break;
		memcpy(&id, k.mv_data, sizeof(id));
		if (id + 1 < next_txn)
			break;
		memcpy(&n, v.mv_data, sizeof(n)); /* an IDL: its count first */
		sp->pending += n;
	}
	mdb_cursor_close(c);
	mdb_txn_abort(rtxn);
	if (rc && rc != MDB_NOTFOUND)
		return err_from_mdb(rc);
	if (fstat(fd, &fst) < 0 || fstatvfs(fd, &vfs) < 0)
		return -errno;
	sp->file = (uint64_t)fst.st_size / s->psize;
	/* f_bavail: what an unprivileged writer may use; being root we might
	 * get a little more, never less */
	sp->avail = (uint64_t)vfs.f_bavail * vfs.f_frsize / s->psize;
	sp->cap = sp->map;
	if (sp->file + sp->avail < sp->map) {
		sp->cap = sp->file + sp->avail;
		sp->fs_limited = true;
	}
	if (s->disk_cap && sp->avail > s->disk_avail + RING_SPACE_BACK_PAGES)
		s->disk_cap = 0; /* space came back */
	if (s->disk_cap && s->disk_cap < sp->cap) {
		sp->cap = s->disk_cap > sp->file ? s->disk_cap : sp->file;
		sp->fs_limited = true;
	}
	return 0;
}

/* Room the next compaction needs to write in: 10 %, at least two frames. */
static uint64_t headroom_pages(const struct store *s, const struct space *sp, uint64_t frame_pages)
{
	uint64_t h = sp->cap * RING_HEADROOM_PCT / 100, fp = div_up(s->max_rec, s->psize);
	uint64_t two = 2 * (fp > frame_pages ? fp : frame_pages) + RING_SAFETY_PAGES;

	return h > two ? h : two;
}

/*
 * Pages a commit writes besides its frame: every baseline leaf it touches
 * is copied (copy on write), new records grow the tree, announcements.
 */
static uint64_t commit_extra_pages(const struct store *s, const struct space *sp, size_t n_put,
				   size_t n_res)
{
	uint64_t touched = sp->baselines < n_put ? sp->baselines : n_put;

	return touched + div_up((uint64_t)n_put * 16 + (uint64_t)n_res * 2048, s->psize) +
	       RING_SAFETY_PAGES;
}

/*
 * Was a failed write the disk running out? LMDB passes ENOSPC, EDQUOT or
 * EFBIG through, but a write that came back short — what a filesystem that
 * fills up mid-write does — it reports as EIO ("short write, filesystem
 * full?" in mdb.c). Count that as full when the filesystem or the process's
 * file size limit has no room left for another frame.
 */
static bool disk_is_full(struct store *s, int rc)
{
	struct stat fst;
	struct statvfs vfs;
	struct rlimit rl;
	uint64_t slack = 2 * (s->max_rec + 64 * s->psize);
	int fd;

	if (rc > 0 && errno_is_space(rc))
		return true;
	if (rc != EIO || mdb_env_get_fd(s->env, &fd) || fstat(fd, &fst) < 0 || fstatvfs(fd, &vfs) < 0)
		return false;
	if ((uint64_t)vfs.f_bavail * vfs.f_frsize < slack)
		return true;
	return getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	       (uint64_t)fst.st_size + slack > rl.rlim_cur;
}

/*
 * Converts what a failed mdb_txn_commit() said. When the disk refused to let
 * the file grow while the map had room, the ring is bounded by the file as
 * it is until statvfs shows more free space than now.
 */
static int commit_err(struct store *s, int rc)
{
	struct stat fst;
	struct statvfs vfs;
	int fd;

	if (!rc)
		return 0;
	if (!disk_is_full(s, rc))
		return err_from_mdb(rc);
	s->disk_error = true;
	if (!mdb_env_get_fd(s->env, &fd) && fstat(fd, &fst) == 0 && fstatvfs(fd, &vfs) == 0) {
		s->disk_cap = (uint64_t)fst.st_size / s->psize;
		s->disk_avail = (uint64_t)vfs.f_bavail * vfs.f_frsize / s->psize;
	}
	return -ENOSPC;
}

/* ---- reads ----------------------------------------------------------------- */

/*
 * Counts frames by jumping from one frame's part 0 to the next's, and those
 * after @ack; the first and last seq too. Cheap: one seek per frame.
 */
static int frames_count(struct store *s, MDB_txn *txn, uint64_t ack, uint64_t *n, uint64_t *unacked,
			uint64_t *first, uint64_t *last)
{
	MDB_cursor *c = NULL;
	uint8_t kb[FRAME_KEY_LEN];
	MDB_val k, v;
	uint64_t seq;
	uint32_t part;
	int rc, err = 0;

	*n = *unacked = *first = *last = 0;
	if ((rc = mdb_cursor_open(txn, s->frames, &c)))
		return err_from_mdb(rc);
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == MDB_SUCCESS;
	     rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE)) {
		if ((err = frame_key_parse(&k, &seq, &part)))
			goto out;
		if (!*n)
			*first = seq;
		*last = seq;
		(*n)++;
		if (seq > ack)
			(*unacked)++;
		frame_key(kb, seq + 1, 0);
		k.mv_size = FRAME_KEY_LEN;
		k.mv_data = kb;
	}
	err = rc == MDB_NOTFOUND ? 0 : err_from_mdb(rc);
out:
	mdb_cursor_close(c);
	return err;
}

static int meta_fill(struct store *s, MDB_txn *txn, struct store_meta *m)
{
	MDB_val v;
	uint64_t end, unacked, last;
	int err;

	memset(m, 0, sizeof(*m));
	if ((err = meta_get(s, txn, "host_id", &v)))
		return err;
	if (v.mv_size >= sizeof(m->host_id))
		return -EBADMSG;
	memcpy(m->host_id, v.mv_data, v.mv_size);
	if ((err = meta_get_u64(s, txn, "next_seq", &m->next_seq)) ||
	    (err = meta_get_u64(s, txn, "ack_seq", &m->ack_seq)) ||
	    (err = meta_get_u64(s, txn, "sent_seq", &m->sent_seq)) ||
	    (err = meta_get_u64(s, txn, "last_end_ns", &end)) ||
	    (err = meta_get_u64(s, txn, "merged_frames", &m->merged_frames)) ||
	    (err = meta_get_u64(s, txn, "pruned_frames", &m->pruned_frames)) ||
	    (err = meta_get_u64(s, txn, "pruned_early", &m->pruned_early)) ||
	    (err = meta_get_u64(s, txn, "compactions", &m->compactions)) ||
	    (err = meta_get_u64(s, txn, "retention_s", &m->retention_s)))
		return err;
	m->last_end_ns = (int64_t)end;
	err = meta_get(s, txn, "chain_head", &v);
	if (!err && v.mv_size == HV_HASH_LEN)
		memcpy(m->chain_head, v.mv_data, HV_HASH_LEN);
	else if (err && err != -ENOENT)
		return err;
	err = meta_get(s, txn, "status", &v);
	if (!err && v.mv_size < sizeof(m->status))
		memcpy(m->status, v.mv_data, v.mv_size);
	else if (err && err != -ENOENT)
		return err;
	return frames_count(s, txn, m->ack_seq, &m->n_frames, &unacked, &m->oldest_seq, &last);
}

int store_meta_read(struct store *s, struct store_meta *m)
{
	MDB_txn *txn;
	int err = txn_read(s, &txn);

	if (err)
		return err;
	err = meta_fill(s, txn, m);
	txn_end(s, txn);
	return err;
}

int store_ring_read(struct store *s, struct store_ring *r)
{
	MDB_txn *txn;
	MDB_cursor *c = NULL;
	MDB_val k, v;
	struct space sp;
	struct frame_head h;
	uint64_t ack;
	int err = txn_read(s, &txn), rc;

	memset(r, 0, sizeof(*r));
	if (err)
		return err;
	if ((err = space_measure(s, txn, &sp)) || (err = meta_get_u64(s, txn, "ack_seq", &ack)) ||
	    (err = frames_count(s, txn, ack, &r->n_frames, &r->n_unacked, &r->oldest_seq,
				&r->newest_seq)))
		goto out;
	r->page_size = s->psize;
	r->map_bytes = sp.map * s->psize;
	r->file_bytes = sp.file * s->psize;
	r->used_bytes = sp.used * s->psize;
	r->frames_bytes = sp.frames * s->psize;
	r->fs_avail_bytes = sp.avail * s->psize;
	r->capacity_bytes = sp.cap * s->psize;
	if (!r->n_frames)
		goto out; /* empty ring: no span */
	if ((rc = mdb_cursor_open(txn, s->frames, &c))) {
		err = err_from_mdb(rc);
		goto out;
	}
	if ((err = frame_seek(c, r->oldest_seq, &k, &v)) || (err = frame_head_read(&v, &h)))
		goto out;
	r->oldest_start_ns = h.start_ns;
	if ((err = frame_seek(c, r->newest_seq, &k, &v)) || (err = frame_head_read(&v, &h)))
		goto out;
	r->newest_end_ns = h.end_ns;
	r->newest_merged = h.merged;
out:
	if (c)
		mdb_cursor_close(c);
	txn_end(s, txn);
	return err;
}

int store_baselines_foreach(struct store *s, int (*cb)(const struct baseline *b, void *arg),
			    void *arg)
{
	MDB_txn *txn;
	int err = txn_read(s, &txn);

	if (err)
		return err;
	err = bslots_foreach(&s->bslots, txn, cb, arg);
	txn_end(s, txn);
	return err;
}

int store_resource_get(struct store *s, const char *resource, struct frame_resource *out)
{
	MDB_txn *txn;
	MDB_val k = { strlen(resource), (void *)resource }, v;
	int err = txn_read(s, &txn);

	if (err)
		return err;
	err = err_from_mdb(mdb_get(txn, s->resources, &k, &v));
	if (!err)
		err = resource_decode(out, resource, &v);
	txn_end(s, txn);
	return err;
}

int store_frame_read(struct store *s, uint64_t seq, struct frame *f)
{
	MDB_txn *txn;
	struct rec r = { 0 };
	int err = txn_read(s, &txn);

	if (err)
		return err;
	err = txn_frame_get(s, txn, seq, f, &r);
	rec_free(&r);
	txn_end(s, txn);
	return err;
}

static int frames_walk(struct store *s, MDB_txn *txn, uint64_t from_seq,
		       int (*cb)(const struct frame *f, void *arg), void *arg)
{
	MDB_cursor *c = NULL;
	uint8_t kb[FRAME_KEY_LEN];
	MDB_val k = { FRAME_KEY_LEN, kb }, v;
	struct frame f;
	struct rec r = { 0 };
	uint64_t seq;
	size_t bytes, parts;
	int err = 0, rc;

	frame_init(&f);
	if ((rc = mdb_cursor_open(txn, s->frames, &c))) {
		err = err_from_mdb(rc);
		goto out;
	}
	frame_key(kb, from_seq, 0);
	rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	while (rc == MDB_SUCCESS) {
		if ((err = frame_gather(c, &k, &v, &seq, &r, &bytes, &parts, &rc)) ||
		    (err = frame_record_decode(&f, seq, &r)) || (err = cb(&f, arg)))
			goto out;
	}
	err = rc == MDB_NOTFOUND ? 0 : err_from_mdb(rc);
out:
	frame_free(&f);
	rec_free(&r);
	if (c)
		mdb_cursor_close(c);
	return err;
}

int store_frames_foreach(struct store *s, uint64_t from_seq,
			 int (*cb)(const struct frame *f, void *arg), void *arg)
{
	MDB_txn *txn;
	int err = txn_read(s, &txn);

	if (err)
		return err;
	err = frames_walk(s, txn, from_seq, cb, arg);
	txn_end(s, txn);
	return err;
}

int store_unacked_foreach(struct store *s, uint64_t from_seq,
			  int (*cb)(const struct frame *f, void *arg), void *arg)
{
	MDB_txn *txn;
	uint64_t ack;
	int err = txn_read(s, &txn);

	if (err)
		return err;
	/* the ack and the frames from the same snapshot */
	err = meta_get_u64(s, txn, "ack_seq", &ack);
	if (!err)
		err = frames_walk(s, txn, from_seq > ack ? from_seq : ack + 1, cb, arg);
	txn_end(s, txn);
	return err;
}

/* ---- writes ------------------------------------------------------------------ */

static int txn_put_resource(struct store *s, MDB_txn *txn, const struct frame_resource *r)
{
	struct wbuf w;
	MDB_val k = { strlen(r->resource), (void *)r->resource }, v;
	int err;

	wbuf_init(&w);
	err = resource_encode(r, &w);
	if (!err) {
		v.mv_size = w.len;
		v.mv_data = w.p;
		err = err_from_mdb(mdb_put(txn, s->resources, &k, &v, 0));
	}
	wbuf_free(&w);
	return err;
}

/*
 * Deletes acknowledged frames from the oldest on. Frames are in time order,
 * so the first one kept ends the walk. @expired: delete those ending before
 * now - retention; otherwise delete (early) until @goal_bytes are freed.
 */
static int txn_prune(struct store *s, MDB_txn *txn, uint64_t ack, int64_t now_ns, bool expired,
		     uint64_t goal_bytes, uint64_t *n_out)
{
	MDB_cursor *c = NULL;
	MDB_val k, v;
	struct frame_head h;
	int64_t cut = now_ns < INT64_MIN + s->retention_ns ? INT64_MIN : now_ns - s->retention_ns;
	uint64_t freed = 0, seq;
	uint32_t part;
	int err = 0, rc;

	*n_out = 0;
	if (!ack)
		return 0;
	if ((rc = mdb_cursor_open(txn, s->frames, &c)))
		return err_from_mdb(rc);
	/* MDB_FIRST each time: the deletions all happen at the front */
	while ((rc = mdb_cursor_get(c, &k, &v, MDB_FIRST)) == MDB_SUCCESS) {
		size_t bytes = 0;

		if ((err = frame_key_parse(&k, &seq, &part)))
			goto out;
		if (part != 0) {
			err = -EBADMSG;
			goto out;
		}
		if (seq > ack)
			break;
		if (expired) {
			if ((err = frame_head_read(&v, &h)))
				goto out;
			if (h.end_ns >= cut)
				break;
		} else if (freed >= goal_bytes) {
			break;
		}
		if ((err = txn_frame_del(s, c, seq, &bytes)))
			goto out;
		freed += rec_cost(s, bytes);
		(*n_out)++;
	}
	err = rc == MDB_NOTFOUND || rc == MDB_SUCCESS ? 0 : err_from_mdb(rc);
out:
	mdb_cursor_close(c);
	return err;
}

/* ---- compaction ---------------------------------------------------------------- */

/* An unacknowledged frame as the planner sees it. */
struct cand {
	uint64_t seq;
	uint64_t cost;     /* rec_cost of its record */
	uint32_t merged;
	bool is_merged;
};

struct plan {
	size_t win;        /* frames [0, win) are merged ... */
	size_t groups;     /* ... into about this many frames */
	size_t n;          /* [win, n) are re-chained */
};

/* Loads every frame above @floor: its head, and its record's size. */
static int cands_load(struct store *s, MDB_txn *txn, uint64_t floor, struct cand **out, size_t *n)
{
	MDB_cursor *c = NULL;
	uint8_t kb[FRAME_KEY_LEN];
	MDB_val k = { FRAME_KEY_LEN, kb }, v;
	struct cand *vec = NULL;
	size_t cap = 0;
	int err = 0, rc;

	*n = 0;
	if ((rc = mdb_cursor_open(txn, s->frames, &c)))
		return err_from_mdb(rc);
	frame_key(kb, floor + 1, 0);
	rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	while (rc == MDB_SUCCESS) {
		struct frame_head h;
		uint64_t seq;
		size_t bytes, parts;

		if ((err = frame_head_read(&v, &h)))
			goto out;
		if (*n == cap) {
			size_t nc = cap ? cap * 2 : 256;
			struct cand *nv = realloc(vec, nc * sizeof(*nv));

			if (!nv) {
				err = -ENOMEM;
				goto out;
			}
			vec = nv;
			cap = nc;
		}
		if ((err = frame_gather(c, &k, &v, &seq, NULL, &bytes, &parts, &rc)))
			goto out;
		if (seq != h.seq) {
			err = -EBADMSG;
			goto out;
		}
		vec[*n].seq = seq;
		vec[*n].cost = rec_cost(s, bytes);
		vec[*n].merged = h.merged;
		vec[*n].is_merged = h.flags & FRAME_MERGED;
		(*n)++;
	}
	err = rc == MDB_NOTFOUND ? 0 : err_from_mdb(rc);
out:
	mdb_cursor_close(c);
	if (err) {
		free(vec);
		vec = NULL;
		*n = 0;
	}
	*out = vec;
	return err;
}

/*
 * Chooses what to merge. Everything after the merged window must be
 * re-chained, and the whole rewrite must fit in @budget bytes (the free
 * room of this transaction). So: keep at most half the budget's worth of
 * the newest frames as they are (re-chained only), merge the older ones,
 * and spend the other half on as many merged frames as it pays for, as
 * long as @goal bytes are freed; if they are not, merge further forward.
 * A merged frame is estimated at 5/4 of the largest frame in the window
 * plus a page (deltas of the same keys add up in place); a wrong guess
 * costs one aborted transaction and a retry with everything in one frame.
 */
static bool plan_make(const struct cand *c, size_t n, uint64_t budget, uint64_t goal,
		      uint64_t psize, struct plan *p)
{
	uint64_t rest = 0, win_bytes = 0, maxc = 0, est = 0;
	size_t e = n, g;

	memset(p, 0, sizeof(*p));
	p->n = n;
	if (n < 2)
		return false;
	/* the newest frames that stay: at most half the budget, and two frames merge at least */
	while (e > 2 && rest + c[e - 1].cost <= budget / 2) {
		rest += c[e - 1].cost;
		e--;
	}
	for (;;) {
		win_bytes = 0;
		maxc = 0;
		for (size_t i = 0; i < e; i++) {
			win_bytes += c[i].cost;
			maxc = c[i].cost > maxc ? c[i].cost : maxc;
		}
		est = maxc + maxc / 4 + psize;
		if (rest + est <= budget && win_bytes >= est && win_bytes - est >= goal)
			break;
		if (e == n)
			break; /* all of them: the most that can be freed */
		rest -= c[e].cost;
		e++;
	}
	if (rest + est > budget)
		return false;
	p->win = e;
	/* as many merged frames as the budget pays for, still freeing the goal */
	for (g = 1; g < RING_MAX_GROUPS && (g + 1) * 2 <= e; g++)
		if (rest + (g + 1) * est > budget || win_bytes < (g + 1) * est ||
		    win_bytes - (g + 1) * est < goal)
			break;
	p->groups = g;
	return true;
}

/* The stored hash of frame @seq, without gathering it. */
static int txn_frame_hash(struct store *s, MDB_txn *txn, uint64_t seq, uint8_t out[HV_HASH_LEN])
{
	MDB_cursor *c = NULL;
	MDB_val k, v;
	int err, rc;

	if ((rc = mdb_cursor_open(txn, s->frames, &c)))
		return err_from_mdb(rc);
	err = frame_seek(c, seq, &k, &v);
	if (!err && v.mv_size < HV_HASH_LEN)
		err = -EBADMSG;
	if (!err)
		memcpy(out, v.mv_data, HV_HASH_LEN);
	mdb_cursor_close(c);
	return err == -ENOENT ? -EBADMSG : err; /* planned from this very txn */
}

static int txn_frame_remove(struct store *s, MDB_txn *txn, uint64_t seq)
{
	MDB_cursor *c = NULL;
	int err, rc;

	if ((rc = mdb_cursor_open(txn, s->frames, &c)))
		return err_from_mdb(rc);
	err = txn_frame_del(s, c, seq, NULL);
	mdb_cursor_close(c);
	return err;
}

/*
 * Carries out @p: frames [0, win) merged into groups of about equal numbers
 * of originals, then every frame after the first changed one re-chained.
 * Leading groups of one frame stay untouched (their hashes still hold).
 * *changed tells whether anything was rewritten; *folded counts originals
 * newly folded into a merged frame.
 */
static int txn_merge(struct store *s, MDB_txn *txn, const struct cand *c, const struct plan *p,
		     bool *changed, uint64_t *folded)
{
	struct frame acc, next;
	struct rec r = { 0 };
	uint8_t prev[HV_HASH_LEN];
	uint64_t originals = 0, target;
	size_t i = 0;
	int err = 0;

	*changed = false;
	*folded = 0;
	frame_init(&acc);
	frame_init(&next);
	for (size_t j = 0; j < p->win; j++)
		originals += c[j].merged;
	target = div_up(originals, p->groups);
	while (i < p->n) {
		size_t j = i + 1;
		uint64_t g = c[i].merged;

		while (j < p->win && g + c[j].merged <= target)
			g += c[j++].merged;
		if (!*changed && j - i == 1) {
			if ((err = txn_frame_hash(s, txn, c[i].seq, prev)))
				goto out;
			i = j;
			continue;
		}
		if ((err = txn_frame_get(s, txn, c[i].seq, &acc, &r)))
			goto out;
		/* the first rewritten frame keeps the link it has */
		if (!*changed)
			memcpy(prev, acc.prev_hash, HV_HASH_LEN);
		for (size_t m = i + 1; m < j; m++) {
			if ((err = txn_frame_get(s, txn, c[m].seq, &next, &r)) ||
			    (err = frame_merge(&acc, &next)) ||
			    (err = txn_frame_remove(s, txn, c[m].seq)))
				goto out;
		}
		if (j - i >= 2)
			for (size_t m = i; m < j; m++)
				*folded += c[m].is_merged ? 0 : 1;
		*changed = true;
		memcpy(acc.prev_hash, prev, HV_HASH_LEN);
		if ((err = txn_frame_remove(s, txn, c[i].seq)) ||
		    (err = txn_frame_put(s, txn, &acc, false, NULL)))
			goto out;
		memcpy(prev, acc.hash, HV_HASH_LEN);
		i = j;
	}
	if (*changed)
		err = meta_put(s, txn, "chain_head", prev, HV_HASH_LEN);
out:
	frame_free(&acc);
	frame_free(&next);
	rec_free(&r);
	return err;
}

enum room_mode {
	ROOM_PLAN,       /* merge as planned, then prune early if still short */
	ROOM_ONE,        /* every mergeable frame into one: the cheapest rewrite */
	ROOM_PRUNE_ONLY, /* no rewrite at all: deletions only */
};

struct room_result {
	uint64_t merged, pruned, pruned_early;
	size_t txnid;      /* the compaction's transaction: what it freed is keyed so */
};

/* What a commit needs, in pages: its frame record, and the rest. */
struct need {
	uint64_t frame, extra;
};

/*
 * One compaction transaction. Returns 0 (something changed), -ENOSPC
 * (nothing could be done, or it did not fit itself), or another -errno.
 */
static int room_txn(struct store *s, int64_t now_ns, const struct need *need,
		    enum room_mode mode, struct room_result *res)
{
	MDB_txn *txn = NULL;
	struct space sp;
	struct cand *c = NULL;
	struct plan p = { 0 };
	uint64_t ack, sent, floor, want, budget, goal, n_early = 0;
	bool merged = false;
	size_t n = 0;
	int err, rc;

	memset(res, 0, sizeof(*res));
	if ((err = txn_write(s, &txn)))
		return err;
	if ((err = meta_get_u64(s, txn, "ack_seq", &ack)) ||
	    (err = meta_get_u64(s, txn, "sent_seq", &sent)) ||
	    (err = txn_prune(s, txn, ack, now_ns, true, 0, &res->pruned)) ||
	    (err = space_measure(s, txn, &sp)))
		goto fail;
	/* after this the commit must fit with headroom, and some slack beyond */
	want = need->frame + need->extra + headroom_pages(s, &sp, need->frame) +
	       sp.cap * RING_SLACK_PCT / 100;
	goal = sp.used + want > sp.cap ? (sp.used + want - sp.cap) * s->psize : 0;
	budget = sp.cap > sp.used + sp.pending + RING_SAFETY_PAGES ?
			 (sp.cap - sp.used - sp.pending - RING_SAFETY_PAGES) * s->psize : 0;
	floor = sent > ack ? sent : ack;
	if (mode != ROOM_PRUNE_ONLY && goal) {
		uint64_t folded = 0;

		if ((err = cands_load(s, txn, floor, &c, &n)))
			goto fail;
		if (mode == ROOM_ONE) {
			p.win = p.n = n;
			p.groups = 1;
		} else if (!plan_make(c, n, budget, goal, s->psize, &p)) {
			p.win = 0;
		}
		if (p.win >= 2) {
			if ((err = txn_merge(s, txn, c, &p, &merged, &folded)))
				goto fail;
			res->merged = folded;
			if ((err = meta_add_u64(s, txn, "merged_frames", folded)) ||
			    (err = space_measure(s, txn, &sp)))
				goto fail;
		}
	}
	/* still short: the rater holds the acknowledged frames; the ring bound wins */
	if (sp.used + want > sp.cap) {
		if ((err = txn_prune(s, txn, ack, now_ns, false, (sp.used + want - sp.cap) * s->psize,
				     &n_early)))
			goto fail;
		res->pruned_early = n_early;
	}
	if (!merged && !res->pruned && !res->pruned_early) {
		err = -ENOSPC;
		goto fail;
	}
	if ((err = meta_add_u64(s, txn, "pruned_frames", res->pruned)) ||
	    (err = meta_add_u64(s, txn, "pruned_early", res->pruned_early)) ||
	    (err = meta_add_u64(s, txn, "compactions", 1)))
		goto fail;
	res->txnid = mdb_txn_id(txn);
	rc = txn_commit(s, txn);
	txn = NULL;
	if ((err = commit_err(s, rc)))
		goto fail;
	free(c);
	return 0;
fail:
	if (txn)
		txn_end(s, txn);
	free(c);
	memset(res, 0, sizeof(*res));
	return err;
}

/*
 * Waits (up to about 200 ms) until no reader's snapshot is older than
 * transaction @txnid: pages @txnid freed are the next commit's room, and
 * LMDB may not hand them out while a reader (the uplink walking its
 * frames, the CLI) can still see them. Readers are short; the commit is
 * not in a hurry.
 */
static void readers_wait(struct store *s, size_t txnid)
{
	struct timespec nap = { 0, 5 * 1000 * 1000 };

	for (int i = 0; i < 40; i++) {
		size_t oldest = (size_t)-1;

		mdb_reader_list(s->env, oldest_reader, &oldest);
		if (oldest == (size_t)-1 || oldest > txnid)
			return;
		nanosleep(&nap, NULL);
	}
}

/*
 * Makes room for a commit of about @need: compaction in its own
 * transaction, falling back to cheaper ones when it does not fit itself,
 * then one small transaction so the next can reuse the pages it freed
 * (LMDB hands a transaction's freed pages out only two transactions on).
 * Returns 0 when something was freed, -ENOSPC when nothing could be.
 */
static int ring_make_room(struct store *s, int64_t now_ns, const struct need *need)
{
	static const enum room_mode modes[] = { ROOM_PLAN, ROOM_ONE, ROOM_PRUNE_ONLY };
	struct room_result res = { 0 };
	MDB_envinfo info;
	MDB_txn *txn;
	int dead, err = -ENOSPC;

	mdb_reader_check(s->env, &dead);
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		err = room_txn(s, now_ns, need, modes[i], &res);
		if (err != -ENOSPC)
			break;
	}
	if (err && err != -ENOSPC)
		return err;
	if (!err) {
		if (res.merged)
			s->cond |= STORE_COND_MERGED;
		if (res.pruned_early)
			s->cond |= STORE_COND_PRUNED_EARLY;
		else
			s->cond &= ~STORE_COND_PRUNED_EARLY; /* merging sufficed this time */
	} else if (mdb_env_info(s->env, &info) == 0) {
		res.txnid = info.me_last_txnid; /* nothing freed now: what the last one did */
	}
	/*
	 * One small transaction, even when compaction could do nothing: the
	 * pages the last transaction freed are handed out only once another
	 * has committed. Without it a ring whose free room is all in that
	 * last transaction would refuse every commit for ever: none would
	 * commit to make it reusable.
	 */
	if (txn_write(s, &txn) == 0) {
		if (meta_put_u64(s, txn, "compacted_ns", (uint64_t)now_ns))
			txn_end(s, txn);
		else
			commit_err(s, txn_commit(s, txn));
	}
	/* and no reader's snapshot may still hold them */
	if (res.txnid)
		readers_wait(s, res.txnid);
	return err;
}

/* ---- the one write path ---------------------------------------------------- */

#define COMMIT_NEEDS_ROOM 1

static int commit_once(struct store *s, struct frame *f, struct baseline *put, size_t n_put,
		       const char *const *del, size_t n_del, const char *status, bool check,
		       struct need *need)
{
	MDB_txn *txn = NULL;
	MDB_val v;
	struct space sp;
	uint64_t next_seq, ack, n_pruned = 0, short_pages;
	size_t rec_len = 0;
	int err, rc;

	if ((err = txn_write(s, &txn)))
		return err;
	if ((err = meta_get_u64(s, txn, "next_seq", &next_seq)) ||
	    (err = meta_get_u64(s, txn, "ack_seq", &ack)))
		goto fail;
	/* retention: cheap here (one look at the oldest frame when nothing is due) */
	if ((err = txn_prune(s, txn, ack, f->end_ns, true, 0, &n_pruned)) ||
	    (err = meta_add_u64(s, txn, "pruned_frames", n_pruned)) ||
	    (err = space_measure(s, txn, &sp)))
		goto fail;
	/* a first guess, for compaction in case the put itself runs out of room */
	need->frame = div_up(rec_cost(s, f->n_delta * 64 + 256), s->psize);
	need->extra = commit_extra_pages(s, &sp, n_put, f->n_res);
	f->seq = next_seq;
	err = meta_get(s, txn, "chain_head", &v);
	if (err == -ENOENT) {
		memset(f->prev_hash, 0, HV_HASH_LEN);
	} else if (err) {
		goto fail;
	} else if (v.mv_size != HV_HASH_LEN) {
		err = -EBADMSG;
		goto fail;
	} else {
		memcpy(f->prev_hash, v.mv_data, HV_HASH_LEN);
	}
	if ((err = txn_frame_put(s, txn, f, true, &rec_len)))
		goto fail;
	need->frame = div_up(rec_cost(s, rec_len), s->psize);
	/* room for this commit, and for the compaction after it should it come */
	short_pages = sp.used + sp.pending + need->frame + need->extra +
		      headroom_pages(s, &sp, need->frame);
	/* the episode: the filesystem cannot give the ring its headroom (whatever
	 * compaction achieves inside the file meanwhile); it ends when it can */
	if (sp.fs_limited && sp.cap - (sp.file < sp.cap ? sp.file : sp.cap) <
				     need->frame + need->extra + headroom_pages(s, &sp, need->frame))
		s->cond |= STORE_COND_FS_LIMITED;
	if (check && short_pages > sp.cap) {
		err = COMMIT_NEEDS_ROOM;
		goto fail;
	}
	for (size_t i = 0; i < f->n_res; i++)
		if ((err = txn_put_resource(s, txn, &f->res[i])))
			goto fail;
	if ((err = bslots_write(&s->bslots, txn, put, n_put, del, n_del)))
		goto fail;
	if ((err = meta_put_u64(s, txn, "next_seq", next_seq + 1)) ||
	    (err = meta_put(s, txn, "chain_head", f->hash, HV_HASH_LEN)) ||
	    (err = meta_put_u64(s, txn, "last_end_ns", (uint64_t)f->end_ns)))
		goto fail;
	if (status && (err = meta_put(s, txn, "status", status, strnlen(status, STORE_STATUS_MAX - 1))))
		goto fail;
	rc = txn_commit(s, txn);
	txn = NULL;
	if ((err = commit_err(s, rc))) {
		if (s->disk_error)
			s->cond |= STORE_COND_FS_LIMITED;
		goto fail;
	}
	bslots_committed(&s->bslots);
	if (rec_len > s->max_rec)
		s->max_rec = rec_len;
	return 0;
fail:
	if (txn)
		txn_end(s, txn);
	bslots_aborted(&s->bslots); /* nothing of this transaction stayed */
	return err;
}

static int frame_commit(struct store *s, struct frame *f,
			struct baseline *put, size_t n_put,
			const char *const *del, size_t n_del, const char *status)
{
	struct need need = { 0 };
	int err, room;

	if (s->read_only)
		return -EROFS;
	/* episodes of this commit's own making start afresh; MERGED and
	 * PRUNED_EARLY last until an ack or a compaction says otherwise */
	s->cond &= STORE_COND_MERGED | STORE_COND_PRUNED_EARLY;
	s->disk_error = false;
	if (s->room_backoff)
		s->room_backoff--;
	err = commit_once(s, f, put, n_put, del, n_del, status, !s->room_backoff, &need);
	if (err != COMMIT_NEEDS_ROOM && err != -ENOSPC)
		return err;
	/*
	 * No room with headroom, or the map or the disk filled up (LMDB then
	 * aborts the whole transaction: nothing of this frame is written).
	 * Compact, in transactions of its own that change no total, and try
	 * once more, without the headroom check: it may well fit.
	 */
	room = ring_make_room(s, f->end_ns, &need);
	if (room && room != -ENOSPC)
		return room;
	if (room == -ENOSPC && err == COMMIT_NEEDS_ROOM)
		s->room_backoff = ROOM_BACKOFF; /* nothing to free: stop planning every tick */
	s->disk_error = false;
	err = commit_once(s, f, put, n_put, del, n_del, status, false, &need);
	/* the disk refused only now: compact to what the file already holds */
	if (err == -ENOSPC && s->disk_error && ring_make_room(s, f->end_ns, &need) == 0)
		err = commit_once(s, f, put, n_put, del, n_del, status, false, &need);
	if (err == -ENOSPC)
		s->cond |= STORE_COND_FULL;
	return err;
}

int store_frame_commit(struct store *s, struct frame *f,
		       struct baseline *put, size_t n_put,
		       const char *const *del, size_t n_del, const char *status)
{
	int err;

	pthread_mutex_lock(&s->wlock);
	err = frame_commit(s, f, put, n_put, del, n_del, status);
	pthread_mutex_unlock(&s->wlock);
	return err;
}

unsigned store_condition(struct store *s)
{
	unsigned c;

	pthread_mutex_lock(&s->wlock);
	c = s->cond;
	pthread_mutex_unlock(&s->wlock);
	return c;
}

/* ---- the uplink's cursor ---------------------------------------------------- */

/* Sets the ack or sent cursor; *moved tells whether it changed. */
static int cursor_set(struct store *s, const char *name, uint64_t seq, bool is_ack, bool *moved)
{
	MDB_txn *txn = NULL;
	uint64_t next_seq, ack, cur;
	int err, rc;

	if ((err = txn_write(s, &txn)))
		return err;
	if ((err = meta_get_u64(s, txn, "next_seq", &next_seq)) ||
	    (err = meta_get_u64(s, txn, "ack_seq", &ack)) ||
	    (err = meta_get_u64(s, txn, name, &cur)))
		goto fail;
	if (seq >= next_seq) {
		err = -EINVAL;
		goto fail;
	}
	if (!is_ack && seq < ack)
		seq = ack; /* never below the ack: those frames are fixed anyway */
	*moved = false;
	if (is_ack ? seq <= ack : seq == cur) {
		txn_end(s, txn);
		return 0;
	}
	if ((err = meta_put_u64(s, txn, name, seq)))
		goto fail;
	rc = txn_commit(s, txn); /* synced: the cursor is durable on return */
	txn = NULL;
	if ((err = commit_err(s, rc)))
		goto fail;
	*moved = true;
	return 0;
fail:
	if (txn)
		txn_end(s, txn);
	return err;
}

int store_ack(struct store *s, uint64_t seq)
{
	bool moved = false;
	int err;

	pthread_mutex_lock(&s->wlock);
	err = cursor_set(s, "ack_seq", seq, true, &moved);
	if (moved)
		s->cond &= ~STORE_COND_MERGED; /* the rater is taking frames again */
	pthread_mutex_unlock(&s->wlock);
	return err;
}

int store_sent(struct store *s, uint64_t seq)
{
	bool moved;
	int err;

	pthread_mutex_lock(&s->wlock);
	err = cursor_set(s, "sent_seq", seq, false, &moved);
	pthread_mutex_unlock(&s->wlock);
	return err;
}

static int prune(struct store *s, int64_t now_ns)
{
	MDB_txn *txn = NULL;
	uint64_t ack, n = 0;
	int err, rc;

	if ((err = txn_write(s, &txn)))
		return err;
	if ((err = meta_get_u64(s, txn, "ack_seq", &ack)) ||
	    (err = txn_prune(s, txn, ack, now_ns, true, 0, &n)) ||
	    (err = meta_add_u64(s, txn, "pruned_frames", n)))
		goto fail;
	if (!n) {
		txn_end(s, txn);
		return 0;
	}
	rc = txn_commit(s, txn);
	txn = NULL;
	if ((err = commit_err(s, rc)))
		goto fail;
	return (int)(n > INT32_MAX ? INT32_MAX : n);
fail:
	if (txn)
		txn_end(s, txn);
	return err;
}

int store_prune(struct store *s, int64_t now_ns)
{
	int n;

	pthread_mutex_lock(&s->wlock);
	n = prune(s, now_ns);
	pthread_mutex_unlock(&s->wlock);
	return n;
}

/* ---- audit ----------------------------------------------------------------- */

int store_verify(struct store *s, uint64_t *bad_seq, uint64_t *n_checked)
{
	MDB_txn *txn;
	MDB_cursor *c = NULL;
	MDB_val k, v;
	struct frame f;
	struct rec r = { 0 };
	uint8_t prev[HV_HASH_LEN], h[HV_HASH_LEN];
	bool first = true;
	uint64_t expect_seq = 0, seq = 0;
	uint32_t part;
	size_t bytes, parts;
	int err = txn_read(s, &txn), rc;

	*bad_seq = 0;
	*n_checked = 0;
	if (err)
		return err;
	frame_init(&f);
	if ((rc = mdb_cursor_open(txn, s->frames, &c))) {
		err = err_from_mdb(rc);
		goto out;
	}
	rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
	while (rc == MDB_SUCCESS) {
		if (frame_key_parse(&k, &seq, &part) == 0)
			*bad_seq = seq;
		err = frame_gather(c, &k, &v, &seq, &r, &bytes, &parts, &rc);
		if (err && err != -EBADMSG)
			goto out;
		err = -EBADMSG;
		if (r.len < HV_HASH_LEN || parts == 0)
			goto out;
		/* the frame's own bytes against its stored hash */
		if (frame_hash(r.p + HV_HASH_LEN, r.len - HV_HASH_LEN, h) || memcmp(h, r.p, HV_HASH_LEN))
			goto out;
		if (frame_record_decode(&f, seq, &r))
			goto out;
		/* the link to the previous frame, and no hole in the sequence */
		if (!first && (memcmp(f.prev_hash, prev, HV_HASH_LEN) || seq != expect_seq))
			goto out;
		memcpy(prev, h, HV_HASH_LEN);
		expect_seq = seq + f.merged;
		first = false;
		(*n_checked)++;
	}
	if (rc != MDB_NOTFOUND) {
		err = err_from_mdb(rc);
		goto out;
	}
	/* the newest frame against the chain head kept in meta */
	if (!first) {
		err = meta_get(s, txn, "chain_head", &v);
		if (err || v.mv_size != HV_HASH_LEN || memcmp(v.mv_data, prev, HV_HASH_LEN)) {
			err = -EBADMSG;
			goto out;
		}
	}
	*bad_seq = 0;
	err = 0;
out:
	frame_free(&f);
	rec_free(&r);
	if (c)
		mdb_cursor_close(c);
	txn_end(s, txn);
	return err;
}

/* mdb_dump's bytevalue lines: a space, lowercase hex, a newline. */
static void hex_line(FILE *out, const MDB_val *v)
{
	static const char hexc[] = "0123456789abcdef";
	const unsigned char *p = v->mv_data;

	putc(' ', out);
	for (size_t i = 0; i < v->mv_size; i++) {
		putc(hexc[p[i] >> 4], out);
		putc(hexc[p[i] & 15], out);
	}
	putc('\n', out);
}

static int dump_db(MDB_txn *txn, MDB_dbi dbi, const char *name, FILE *out)
{
	static const struct { unsigned bit; const char *name; } flagnames[] = {
		{ MDB_REVERSEKEY, "reversekey" }, { MDB_DUPSORT, "dupsort" },
		{ MDB_INTEGERKEY, "integerkey" }, { MDB_DUPFIXED, "dupfixed" },
		{ MDB_INTEGERDUP, "integerdup" }, { MDB_REVERSEDUP, "reversedup" },
	};
	MDB_cursor *c = NULL;
	MDB_stat st;
	MDB_envinfo info;
	MDB_val k, v;
	unsigned flags;
	int rc;

	if ((rc = mdb_dbi_flags(txn, dbi, &flags)) || (rc = mdb_stat(txn, dbi, &st)) ||
	    (rc = mdb_env_info(mdb_txn_env(txn), &info)))
		return err_from_mdb(rc);
	fprintf(out, "VERSION=3\nformat=bytevalue\n");
	if (name)
		fprintf(out, "database=%s\n", name);
	fprintf(out, "type=btree\nmapsize=%zu\n", info.me_mapsize);
	if (info.me_mapaddr)
		fprintf(out, "mapaddr=%p\n", info.me_mapaddr);
	fprintf(out, "maxreaders=%u\n", info.me_maxreaders);
	if (flags & MDB_DUPSORT)
		fprintf(out, "duplicates=1\n");
	for (size_t i = 0; i < sizeof(flagnames) / sizeof(flagnames[0]); i++)
		if (flags & flagnames[i].bit)
			fprintf(out, "%s=1\n", flagnames[i].name);
	fprintf(out, "db_pagesize=%u\nHEADER=END\n", st.ms_psize);
	if ((rc = mdb_cursor_open(txn, dbi, &c)))
		return err_from_mdb(rc);
	/* unlike mdb_dump, keep the cursor's code: a read error must not end as success */
	while ((rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) == MDB_SUCCESS) {
		hex_line(out, &k);
		hex_line(out, &v);
	}
	mdb_cursor_close(c);
	if (rc != MDB_NOTFOUND)
		return err_from_mdb(rc);
	fprintf(out, "DATA=END\n");
	return 0;
}

int store_lmdb_dump(struct store *s, FILE *out)
{
	MDB_txn *txn;
	MDB_cursor *c = NULL;
	MDB_dbi main_dbi;
	MDB_val k;
	int err = txn_read(s, &txn), rc;

	if (err)
		return err;
	if ((rc = mdb_dbi_open(txn, NULL, 0, &main_dbi)) || (rc = mdb_cursor_open(txn, main_dbi, &c))) {
		err = err_from_mdb(rc);
		goto out;
	}
	/* like `mdb_dump -a`: every named database, in name order */
	while ((rc = mdb_cursor_get(c, &k, NULL, MDB_NEXT_NODUP)) == MDB_SUCCESS) {
		char name[64];
		MDB_dbi dbi;

		if (memchr(k.mv_data, '\0', k.mv_size) || k.mv_size >= sizeof(name))
			continue;
		memcpy(name, k.mv_data, k.mv_size);
		name[k.mv_size] = '\0';
		/* our own handles come back for our names; never closed here */
		if ((rc = mdb_dbi_open(txn, name, 0, &dbi))) {
			err = err_from_mdb(rc);
			goto out;
		}
		if ((err = dump_db(txn, dbi, name, out)))
			goto out;
	}
	err = rc == MDB_NOTFOUND ? 0 : err_from_mdb(rc);
	if (!err && (fflush(out) || ferror(out)))
		err = -EIO;
out:
	if (c)
		mdb_cursor_close(c);
	txn_end(s, txn);
	return err;
}
