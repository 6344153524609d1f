#include "store/store.h"
#include "wire/varint.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lmdb.h>

#define STORE_DEFAULT_MAP (256ull << 20)
#define STORE_LAYOUT 1 /* bump when the on-disk records change */

struct store {
	MDB_env *env;
	MDB_dbi frames, baselines, resources, meta;
	bool read_only;
};

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
	default:
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

/* ---- open / close -------------------------------------------------------- */

static int dbis_open(struct store *s, MDB_txn *txn, unsigned flags)
{
	int rc;

	if ((rc = mdb_dbi_open(txn, "frames", flags, &s->frames)) ||
	    (rc = mdb_dbi_open(txn, "baselines", flags, &s->baselines)) ||
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
	return layout == STORE_LAYOUT ? 0 : -EBADMSG;
}

int store_open(struct store **out, const char *dir, const struct store_opts *opts)
{
	struct store *s;
	MDB_txn *txn = NULL;
	int rc, err;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->read_only = opts->read_only;
	if (!s->read_only && mkdir(dir, 0750) < 0 && errno != EEXIST) {
		err = -errno;
		goto fail;
	}
	if ((rc = mdb_env_create(&s->env))) {
		err = err_from_mdb(rc);
		goto fail;
	}
	mdb_env_set_maxdbs(s->env, 8);
	if (!s->read_only)
		mdb_env_set_mapsize(s->env, opts->max_bytes ? opts->max_bytes : STORE_DEFAULT_MAP);
	/* MDB_NOTLS: the CLI and tests may use a read txn from another thread */
	rc = mdb_env_open(s->env, dir, MDB_NOTLS | (s->read_only ? MDB_RDONLY : 0), 0640);
	if (rc) {
		err = err_from_mdb(rc);
		goto fail;
	}
	if ((rc = mdb_txn_begin(s->env, NULL, s->read_only ? MDB_RDONLY : 0, &txn))) {
		err = err_from_mdb(rc);
		goto fail;
	}
	err = dbis_open(s, txn, s->read_only ? 0 : MDB_CREATE);
	if (!err)
		err = identity_check(s, txn, opts->host_id);
	if (err)
		goto fail;
	if ((rc = mdb_txn_commit(txn))) {
		txn = NULL;
		err = err_from_mdb(rc);
		goto fail;
	}
	*out = s;
	return 0;
fail:
	if (txn)
		mdb_txn_abort(txn);
	store_close(s);
	return err;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	if (s->env)
		mdb_env_close(s->env);
	free(s);
}

/* ---- records ------------------------------------------------------------- */

static int baseline_encode(const struct baseline *b, struct wbuf *w)
{
	wbuf_u64be(w, b->epoch);
	wbuf_u64be(w, b->value);
	wbuf_u64be(w, (uint64_t)b->time_ns);
	wbuf_u32be(w, b->flags);
	wbuf_str(w, b->resource);
	wbuf_str(w, b->metric);
	wbuf_str(w, b->labels);
	return w->err;
}

static int baseline_decode(struct baseline *b, const MDB_val *k, const MDB_val *v)
{
	struct rbuf r;
	uint64_t t;

	memset(b, 0, sizeof(*b));
	if (k->mv_size >= sizeof(b->key))
		return -EBADMSG;
	memcpy(b->key, k->mv_data, k->mv_size);
	rbuf_init(&r, v->mv_data, v->mv_size);
	if (rbuf_u64be(&r, &b->epoch) || rbuf_u64be(&r, &b->value) || rbuf_u64be(&r, &t) ||
	    rbuf_u32be(&r, &b->flags) || rbuf_str(&r, b->resource, sizeof(b->resource)) ||
	    rbuf_str(&r, b->metric, sizeof(b->metric)) || rbuf_str(&r, b->labels, sizeof(b->labels)))
		return -EBADMSG;
	b->time_ns = (int64_t)t;
	return 0;
}

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

/* ---- reads ----------------------------------------------------------------- */

static int txn_read(struct store *s, MDB_txn **txn)
{
	return err_from_mdb(mdb_txn_begin(s->env, NULL, MDB_RDONLY, txn));
}

static int meta_fill(struct store *s, MDB_txn *txn, struct store_meta *m)
{
	MDB_val v, k, d;
	MDB_cursor *c = NULL;
	uint64_t end;
	int err, rc;

	memset(m, 0, sizeof(*m));
	if ((err = meta_get(s, txn, "host_id", &v)))
		return err;
	if (v.mv_size >= sizeof(m->host_id))
		return -EBADMSG;
	memcpy(m->host_id, v.mv_data, v.mv_size);
	if ((err = meta_get_u64(s, txn, "next_seq", &m->next_seq)) ||
	    (err = meta_get_u64(s, txn, "ack_seq", &m->ack_seq)) ||
	    (err = meta_get_u64(s, txn, "last_end_ns", &end)) ||
	    (err = meta_get_u64(s, txn, "merged_frames", &m->merged_frames)))
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

	if ((rc = mdb_cursor_open(txn, s->frames, &c)))
		return err_from_mdb(rc);
	rc = mdb_cursor_get(c, &k, &d, MDB_FIRST);
	if (rc == MDB_SUCCESS && k.mv_size == 8)
		m->oldest_seq = be64_get(k.mv_data);
	mdb_cursor_close(c);
	if (rc && rc != MDB_NOTFOUND)
		return err_from_mdb(rc);
	{
		MDB_stat st;

		if ((rc = mdb_stat(txn, s->frames, &st)))
			return err_from_mdb(rc);
		m->n_frames = st.ms_entries;
	}
	return 0;
}

int store_meta_read(struct store *s, struct store_meta *m)
{
	MDB_txn *txn;
	int err = txn_read(s, &txn);

	if (err)
		return err;
	err = meta_fill(s, txn, m);
	mdb_txn_abort(txn);
	return err;
}

int store_baselines_foreach(struct store *s, int (*cb)(const struct baseline *b, void *arg),
			    void *arg)
{
	MDB_txn *txn;
	MDB_cursor *c = NULL;
	MDB_val k, v;
	int err = txn_read(s, &txn), rc;

	if (err)
		return err;
	if ((rc = mdb_cursor_open(txn, s->baselines, &c))) {
		err = err_from_mdb(rc);
		goto out;
	}
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == MDB_SUCCESS;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		struct baseline b;

		if ((err = baseline_decode(&b, &k, &v)))
			goto out;
		if ((err = cb(&b, arg)))
			goto out;
	}
	err = rc == MDB_NOTFOUND ? 0 : err_from_mdb(rc);
out:
	if (c)
		mdb_cursor_close(c);
	mdb_txn_abort(txn);
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
	mdb_txn_abort(txn);
	return err;
}

/* Splits a stored frame record (hash || bytes) and decodes it. */
static int frame_record_decode(struct frame *f, const MDB_val *k, const MDB_val *v)
{
	int err;

	if (k->mv_size != 8 || v->mv_size < HV_HASH_LEN)
		return -EBADMSG;
	err = frame_decode(f, (const uint8_t *)v->mv_data + HV_HASH_LEN, v->mv_size - HV_HASH_LEN);
	if (err)
		return err;
	memcpy(f->hash, v->mv_data, HV_HASH_LEN);
	return f->seq == be64_get(k->mv_data) ? 0 : -EBADMSG;
}

int store_frame_read(struct store *s, uint64_t seq, struct frame *f)
{
	MDB_txn *txn;
	uint8_t kb[8];
	MDB_val k = { 8, kb }, v;
	int err = txn_read(s, &txn);

	if (err)
		return err;
	be64_put(kb, seq);
	err = err_from_mdb(mdb_get(txn, s->frames, &k, &v));
	if (!err)
		err = frame_record_decode(f, &k, &v);
	mdb_txn_abort(txn);
	return err;
}

int store_frames_foreach(struct store *s, uint64_t from_seq,
			 int (*cb)(const struct frame *f, void *arg), void *arg)
{
	MDB_txn *txn;
	MDB_cursor *c = NULL;
	uint8_t kb[8];
	MDB_val k = { 8, kb }, v;
	struct frame f;
	int err = txn_read(s, &txn), rc;

	if (err)
		return err;
	frame_init(&f);
	if ((rc = mdb_cursor_open(txn, s->frames, &c))) {
		err = err_from_mdb(rc);
		goto out;
	}
	be64_put(kb, from_seq);
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == MDB_SUCCESS;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if ((err = frame_record_decode(&f, &k, &v)))
			goto out;
		if ((err = cb(&f, arg)))
			goto out;
	}
	err = rc == MDB_NOTFOUND ? 0 : err_from_mdb(rc);
out:
	frame_free(&f);
	if (c)
		mdb_cursor_close(c);
	mdb_txn_abort(txn);
	return err;
}

/* ---- the one write path ---------------------------------------------------- */

static int txn_put_frame(struct store *s, MDB_txn *txn, struct frame *f)
{
	uint8_t *bytes = NULL, *rec = NULL, kb[8];
	size_t len = 0;
	MDB_val k = { 8, kb }, v;
	int err;

	frame_canonicalize(f);
	if ((err = frame_encode(f, &bytes, &len)))
		return err;
	if ((err = frame_hash(bytes, len, f->hash)))
		goto out;
	rec = malloc(HV_HASH_LEN + len);
	if (!rec) {
		err = -ENOMEM;
		goto out;
	}
	memcpy(rec, f->hash, HV_HASH_LEN);
	memcpy(rec + HV_HASH_LEN, bytes, len);
	be64_put(kb, f->seq);
	v.mv_size = HV_HASH_LEN + len;
	v.mv_data = rec;
	/* sequence order is key order: MDB_APPEND refuses anything out of order */
	err = err_from_mdb(mdb_put(txn, s->frames, &k, &v, MDB_APPEND));
out:
	free(rec);
	free(bytes);
	return err;
}

static int txn_put_baseline(struct store *s, MDB_txn *txn, const struct baseline *b)
{
	struct wbuf w;
	MDB_val k = { strlen(b->key), (void *)b->key }, v;
	int err;

	wbuf_init(&w);
	err = baseline_encode(b, &w);
	if (!err) {
		v.mv_size = w.len;
		v.mv_data = w.p;
		err = err_from_mdb(mdb_put(txn, s->baselines, &k, &v, 0));
	}
	wbuf_free(&w);
	return err;
}

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

int store_frame_commit(struct store *s, struct frame *f,
		       const struct baseline *put, size_t n_put,
		       const char *const *del, size_t n_del, const char *status)
{
	MDB_txn *txn = NULL;
	MDB_val v;
	uint64_t next_seq;
	int err, rc;

	if (s->read_only)
		return -EROFS;
	if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)))
		return err_from_mdb(rc);
	if ((err = meta_get_u64(s, txn, "next_seq", &next_seq)))
		goto fail;
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
	if ((err = txn_put_frame(s, txn, f)))
		goto fail;
	for (size_t i = 0; i < f->n_res; i++)
		if ((err = txn_put_resource(s, txn, &f->res[i])))
			goto fail;
	for (size_t i = 0; i < n_put; i++)
		if ((err = txn_put_baseline(s, txn, &put[i])))
			goto fail;
	for (size_t i = 0; i < n_del; i++) {
		MDB_val k = { strlen(del[i]), (void *)del[i] };

		rc = mdb_del(txn, s->baselines, &k, NULL);
		if (rc && rc != MDB_NOTFOUND) {
			err = err_from_mdb(rc);
			goto fail;
		}
	}
	if ((err = meta_put_u64(s, txn, "next_seq", next_seq + 1)) ||
	    (err = meta_put(s, txn, "chain_head", f->hash, HV_HASH_LEN)) ||
	    (err = meta_put_u64(s, txn, "last_end_ns", (uint64_t)f->end_ns)))
		goto fail;
	if (status && (err = meta_put(s, txn, "status", status, strnlen(status, STORE_STATUS_MAX - 1))))
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
	return err;
}

/* ---- audit ----------------------------------------------------------------- */

int store_verify(struct store *s, uint64_t *bad_seq, uint64_t *n_checked)
{
	MDB_txn *txn;
	MDB_cursor *c = NULL;
	MDB_val k, v;
	struct frame f;
	uint8_t prev[HV_HASH_LEN], h[HV_HASH_LEN];
	bool first = true;
	uint64_t expect_seq = 0;
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
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == MDB_SUCCESS;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		uint64_t seq = k.mv_size == 8 ? be64_get(k.mv_data) : 0;
		const uint8_t *bytes = (const uint8_t *)v.mv_data + HV_HASH_LEN;

		*bad_seq = seq;
		err = -EBADMSG;
		if (k.mv_size != 8 || v.mv_size < HV_HASH_LEN)
			goto out;
		/* the frame's own bytes against its stored hash */
		if (frame_hash(bytes, v.mv_size - HV_HASH_LEN, h) || memcmp(h, v.mv_data, HV_HASH_LEN))
			goto out;
		if (frame_record_decode(&f, &k, &v))
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
	if (c)
		mdb_cursor_close(c);
	mdb_txn_abort(txn);
	return err;
}
