#include "rater/rstore.h"
#include "wire/varint.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lmdb.h>

#define RSTORE_LAYOUT   1 /* bump when a record or key changes */
#define HOST_REC_V      1
#define KEY_MAX         480 /* LMDB's default key limit is 511 */
#define FRAME_REC_LEN   (HV_HASH_LEN + 8 + 8 + 4 + 4 + 4)
#define USAGE_REC_LEN   (6 * 8)

struct rstore {
	MDB_env *env;
	MDB_dbi meta, hosts, frames, usage, resources, resource_log;
	bool read_only;
	uint32_t period;
};

struct rstore_txn {
	struct rstore *rs;
	MDB_txn *txn;
};

static int err_from_mdb(int rc)
{
	switch (rc) {
	case MDB_SUCCESS:
		return 0;
	case MDB_NOTFOUND:
		return -ENOENT;
	case MDB_KEYEXIST:
		return -EEXIST;
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
	case MDB_BAD_VALSIZE:
		return -EINVAL;
	default:
		return rc > 0 ? -rc : -EIO; /* LMDB passes errno values through */
	}
}

const char *rstore_strerror(int err)
{
	switch (err) {
	case -ENOSPC:
		return "rater store is full (LMDB map or disk)";
	case -EBADMSG:
		return "rater store is corrupt or of an unknown layout";
	case -EEXIST:
		return "rater store was created with another period";
	default:
		return strerror(-err);
	}
}

/* ---- keys ------------------------------------------------------------------ */

struct key {
	uint8_t b[KEY_MAX];
	size_t n;
	int err;
};

static void key_put(struct key *k, const void *p, size_t n)
{
	if (k->err || k->n + n > sizeof(k->b)) {
		k->err = -EINVAL;
		return;
	}
	memcpy(k->b + k->n, p, n);
	k->n += n;
}

/* A string then its \0 separator: ids cannot hold a NUL, so keys are unambiguous. */
static void key_str(struct key *k, const char *s)
{
	key_put(k, s, strlen(s) + 1);
}

static void key_u64(struct key *k, uint64_t v)
{
	uint8_t b[8];

	be64_put(b, v);
	key_put(k, b, 8);
}

static MDB_val key_val(struct key *k)
{
	return (MDB_val){ k->n, k->b };
}

/* Splits @n bytes of NUL-separated strings into @out fields (last one may lack its NUL). */
static int key_fields(const uint8_t *p, size_t n, char *const out[], const size_t cap[], int count)
{
	size_t off = 0;

	for (int i = 0; i < count; i++) {
		const uint8_t *end = memchr(p + off, '\0', n - off);
		size_t len = end ? (size_t)(end - (p + off)) : n - off;

		if (len >= cap[i] || (!end && i != count - 1))
			return -EBADMSG;
		memcpy(out[i], p + off, len);
		out[i][len] = '\0';
		off += len + (end ? 1 : 0);
	}
	return off == n ? 0 : -EBADMSG;
}

/* ---- meta -------------------------------------------------------------------- */

static int meta_get_u64(struct rstore *rs, MDB_txn *txn, const char *name, uint64_t *out)
{
	MDB_val k = { strlen(name), (void *)name }, v;
	int err = err_from_mdb(mdb_get(txn, rs->meta, &k, &v));

	if (err)
		return err;
	if (v.mv_size != 8)
		return -EBADMSG;
	*out = be64_get(v.mv_data);
	return 0;
}

static int meta_put_u64(struct rstore *rs, MDB_txn *txn, const char *name, uint64_t val)
{
	uint8_t b[8];
	MDB_val k = { strlen(name), (void *)name }, v = { 8, b };

	be64_put(b, val);
	return err_from_mdb(mdb_put(txn, rs->meta, &k, &v, 0));
}

/* ---- open / close ------------------------------------------------------------- */

static int dbis_open(struct rstore *rs, MDB_txn *txn, unsigned flags)
{
	int rc;

	if ((rc = mdb_dbi_open(txn, "meta", flags, &rs->meta)) ||
	    (rc = mdb_dbi_open(txn, "hosts", flags, &rs->hosts)) ||
	    (rc = mdb_dbi_open(txn, "frames", flags, &rs->frames)) ||
	    (rc = mdb_dbi_open(txn, "usage", flags, &rs->usage)) ||
	    (rc = mdb_dbi_open(txn, "resources", flags, &rs->resources)) ||
	    (rc = mdb_dbi_open(txn, "resource_log", flags, &rs->resource_log)))
		return err_from_mdb(rc);
	return 0;
}

/* The first open stamps layout and period; later opens must agree. */
static int identity_check(struct rstore *rs, MDB_txn *txn, uint32_t want_period)
{
	uint64_t layout, period;
	int err = meta_get_u64(rs, txn, "layout", &layout);

	if (err == -ENOENT) {
		if (rs->read_only)
			return -ENOENT;
		period = want_period ? want_period : RSTORE_DEFAULT_PERIOD;
		if ((err = meta_put_u64(rs, txn, "layout", RSTORE_LAYOUT)) ||
		    (err = meta_put_u64(rs, txn, "period", period)))
			return err;
		rs->period = (uint32_t)period;
		return 0;
	}
	if (err)
		return err;
	if (layout != RSTORE_LAYOUT)
		return -EBADMSG;
	if ((err = meta_get_u64(rs, txn, "period", &period)))
		return err == -ENOENT ? -EBADMSG : err;
	if (!period || period > UINT32_MAX)
		return -EBADMSG;
	/* usage already summed per period cannot be re-cut: refuse another one */
	if (want_period && want_period != period)
		return -EEXIST;
	rs->period = (uint32_t)period;
	return 0;
}

int rstore_open(struct rstore **out, const char *dir, const struct rstore_opts *opts)
{
	struct rstore *rs;
	MDB_txn *txn = NULL;
	int rc, err;

	*out = NULL;
	rs = calloc(1, sizeof(*rs));
	if (!rs)
		return -ENOMEM;
	rs->read_only = opts->read_only;
	if (!rs->read_only && mkdir(dir, 0750) < 0 && errno != EEXIST) {
		err = -errno;
		goto fail;
	}
	if ((rc = mdb_env_create(&rs->env))) {
		err = err_from_mdb(rc);
		goto fail;
	}
	mdb_env_set_maxdbs(rs->env, 8);
	if (!rs->read_only)
		mdb_env_set_mapsize(rs->env, opts->max_bytes ? opts->max_bytes : RSTORE_DEFAULT_MAX_BYTES);
	/* default sync: a commit that returned is on disk, so acks may follow it */
	rc = mdb_env_open(rs->env, dir, MDB_NOTLS | (rs->read_only ? MDB_RDONLY : 0), 0640);
	if (rc) {
		err = err_from_mdb(rc);
		goto fail;
	}
	if ((rc = mdb_txn_begin(rs->env, NULL, rs->read_only ? MDB_RDONLY : 0, &txn))) {
		err = err_from_mdb(rc);
		goto fail;
	}
	err = dbis_open(rs, txn, rs->read_only ? 0 : MDB_CREATE);
	if (!err)
		err = identity_check(rs, txn, opts->period);
	if (err)
		goto fail;
	rc = mdb_txn_commit(txn);
	txn = NULL;
	if (rc) {
		err = err_from_mdb(rc);
		goto fail;
	}
	*out = rs;
	return 0;
fail:
	if (txn)
		mdb_txn_abort(txn);
	rstore_close(rs);
	return err;
}

void rstore_close(struct rstore *rs)
{
	if (!rs)
		return;
	if (rs->env)
		mdb_env_close(rs->env);
	free(rs);
}

uint32_t rstore_period(const struct rstore *rs)
{
	return rs->period;
}

/* ---- transactions ------------------------------------------------------------- */

int rstore_txn_begin(struct rstore *rs, struct rstore_txn *parent, struct rstore_txn **out)
{
	struct rstore_txn *t;
	int rc;

	*out = NULL;
	if (rs->read_only)
		return -EROFS;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->rs = rs;
	if ((rc = mdb_txn_begin(rs->env, parent ? parent->txn : NULL, 0, &t->txn))) {
		free(t);
		return err_from_mdb(rc);
	}
	*out = t;
	return 0;
}

int rstore_txn_commit(struct rstore_txn *t)
{
	int rc = mdb_txn_commit(t->txn);

	free(t);
	return err_from_mdb(rc);
}

void rstore_txn_abort(struct rstore_txn *t)
{
	if (!t)
		return;
	mdb_txn_abort(t->txn);
	free(t);
}

/* ---- hosts ---------------------------------------------------------------------- */

static int host_decode(struct rstore_host *h, const MDB_val *k, const MDB_val *v)
{
	struct rbuf r;
	uint8_t ver;
	uint64_t end, seen;

	memset(h, 0, sizeof(*h));
	if (!k->mv_size || k->mv_size >= sizeof(h->host_id))
		return -EBADMSG;
	memcpy(h->host_id, k->mv_data, k->mv_size);
	rbuf_init(&r, v->mv_data, v->mv_size);
	if (rbuf_u8(&r, &ver) || ver != HOST_REC_V || rbuf_u64be(&r, &h->first_seq) ||
	    rbuf_u64be(&r, &h->last_seq) || rbuf_get(&r, h->head, HV_HASH_LEN) ||
	    rbuf_u64be(&r, &end) || rbuf_u64be(&r, &seen) || rbuf_u64be(&r, &h->frames) ||
	    rbuf_u64be(&r, &h->batches) || rbuf_u64be(&r, &h->duplicates) ||
	    rbuf_str(&r, h->peer, sizeof(h->peer)) || rbuf_left(&r))
		return -EBADMSG;
	h->last_end_ns = (int64_t)end;
	h->last_seen_ns = (int64_t)seen;
	return 0;
}

int rstore_host_get(struct rstore_txn *t, const char *host_id, struct rstore_host *h)
{
	MDB_val k = { strlen(host_id), (void *)host_id }, v;
	int err = err_from_mdb(mdb_get(t->txn, t->rs->hosts, &k, &v));

	return err ? err : host_decode(h, &k, &v);
}

int rstore_host_put(struct rstore_txn *t, const struct rstore_host *h)
{
	MDB_val k = { strlen(h->host_id), (void *)h->host_id }, v;
	struct wbuf w;
	int err;

	if (!k.mv_size || k.mv_size >= HV_ID_MAX)
		return -EINVAL;
	wbuf_init(&w);
	wbuf_u8(&w, HOST_REC_V);
	wbuf_u64be(&w, h->first_seq);
	wbuf_u64be(&w, h->last_seq);
	wbuf_put(&w, h->head, HV_HASH_LEN);
	wbuf_u64be(&w, (uint64_t)h->last_end_ns);
	wbuf_u64be(&w, (uint64_t)h->last_seen_ns);
	wbuf_u64be(&w, h->frames);
	wbuf_u64be(&w, h->batches);
	wbuf_u64be(&w, h->duplicates);
	wbuf_str(&w, h->peer);
	err = w.err;
	if (!err) {
		v.mv_size = w.len;
		v.mv_data = w.p;
		err = err_from_mdb(mdb_put(t->txn, t->rs->hosts, &k, &v, 0));
	}
	wbuf_free(&w);
	return err;
}

/* ---- frames and usage ------------------------------------------------------------ */

static void frame_key(struct key *k, const char *host_id, uint64_t seq)
{
	key_str(k, host_id);
	key_u64(k, seq);
}

int rstore_frame_hash(struct rstore_txn *t, const char *host_id, uint64_t seq,
		      uint8_t hash[HV_HASH_LEN])
{
	struct key key = { .n = 0 };
	MDB_val k, v;
	int err;

	frame_key(&key, host_id, seq);
	if (key.err)
		return key.err;
	k = key_val(&key);
	if ((err = err_from_mdb(mdb_get(t->txn, t->rs->frames, &k, &v))))
		return err;
	if (v.mv_size != FRAME_REC_LEN)
		return -EBADMSG;
	memcpy(hash, v.mv_data, HV_HASH_LEN);
	return 0;
}

static void u32_put(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static int64_t sat_add(int64_t a, int64_t b)
{
	int64_t r;

	if (__builtin_add_overflow(a, b, &r))
		return b > 0 ? INT64_MAX : INT64_MIN;
	return r;
}

static int64_t sat_mul(int64_t a, int64_t b)
{
	int64_t r;

	if (__builtin_mul_overflow(a, b, &r))
		return (a < 0) != (b < 0) ? INT64_MIN : INT64_MAX;
	return r;
}

static void usage_unpack(struct rstore_usage *u, const uint8_t *p)
{
	u->sum = (int64_t)be64_get(p);
	u->max = (int64_t)be64_get(p + 8);
	u->min = (int64_t)be64_get(p + 16);
	u->frames = be64_get(p + 24);
	u->dur_ns = (int64_t)be64_get(p + 32);
	u->wsum_ms = (int64_t)be64_get(p + 40);
}

static void usage_pack(const struct rstore_usage *u, uint8_t *p)
{
	be64_put(p, (uint64_t)u->sum);
	be64_put(p + 8, (uint64_t)u->max);
	be64_put(p + 16, (uint64_t)u->min);
	be64_put(p + 24, u->frames);
	be64_put(p + 32, (uint64_t)u->dur_ns);
	be64_put(p + 40, (uint64_t)u->wsum_ms);
}

static int usage_add(struct rstore_txn *t, int64_t period_start, const char *host_id,
		     const struct frame *f, const struct frame_delta *d)
{
	struct key key = { .n = 0 };
	struct rstore_usage u;
	uint8_t rec[USAGE_REC_LEN];
	int64_t dur = f->end_ns - f->start_ns;
	MDB_val k, v;
	int err;

	key_u64(&key, (uint64_t)period_start);
	key_str(&key, host_id);
	key_str(&key, d->resource);
	key_str(&key, d->metric);
	key_put(&key, d->labels, strlen(d->labels)); /* last field: no separator */
	if (key.err)
		return key.err;
	k = key_val(&key);
	err = err_from_mdb(mdb_get(t->txn, t->rs->usage, &k, &v));
	if (err == -ENOENT) {
		memset(&u, 0, sizeof(u));
		u.max = INT64_MIN;
		u.min = INT64_MAX;
	} else if (err) {
		return err;
	} else if (v.mv_size != USAGE_REC_LEN) {
		return -EBADMSG;
	} else {
		usage_unpack(&u, v.mv_data);
	}
	/* integers all the way (invariant 1); a sum that overflows int64 has no
	 * meaning as usage, so it saturates instead of wrapping */
	u.sum = sat_add(u.sum, d->value);
	if (d->value > u.max)
		u.max = d->value;
	if (d->value < u.min)
		u.min = d->value;
	u.frames++;
	u.dur_ns = sat_add(u.dur_ns, dur > 0 ? dur : 0);
	u.wsum_ms = sat_add(u.wsum_ms, sat_mul(d->value, dur > 0 ? dur / 1000000 : 0));
	usage_pack(&u, rec);
	v.mv_size = sizeof(rec);
	v.mv_data = rec;
	return err_from_mdb(mdb_put(t->txn, t->rs->usage, &k, &v, 0));
}

static int attrs_encode(const struct frame_resource *r, int64_t since_ns, struct wbuf *w)
{
	wbuf_u64be(w, (uint64_t)since_ns);
	wbuf_uvarint(w, r->n_attrs);
	for (uint32_t i = 0; i < r->n_attrs; i++) {
		wbuf_str(w, r->attrs[i].key);
		wbuf_str(w, r->attrs[i].value);
	}
	return w->err;
}

static int attrs_decode(struct frame_resource *r, const char *resource, const MDB_val *v)
{
	struct rbuf rb;
	uint64_t since, n;

	memset(r, 0, sizeof(*r));
	snprintf(r->resource, sizeof(r->resource), "%s", resource);
	rbuf_init(&rb, v->mv_data, v->mv_size);
	if (rbuf_u64be(&rb, &since) || rbuf_uvarint(&rb, &n) || n > HV_ATTRS_MAX)
		return -EBADMSG;
	for (uint64_t i = 0; i < n; i++)
		if (rbuf_str(&rb, r->attrs[i].key, sizeof(r->attrs[i].key)) ||
		    rbuf_str(&rb, r->attrs[i].value, sizeof(r->attrs[i].value)))
			return -EBADMSG;
	r->n_attrs = (uint32_t)n;
	return rbuf_left(&rb) ? -EBADMSG : 0;
}

static int resource_put(struct rstore_txn *t, const char *host_id, const struct frame *f,
			const struct frame_resource *r)
{
	struct key latest = { .n = 0 }, hist = { .n = 0 };
	struct wbuf w;
	MDB_val k, v;
	int err;

	key_str(&latest, host_id);
	key_put(&latest, r->resource, strlen(r->resource));
	key_str(&hist, host_id);
	key_str(&hist, r->resource);
	key_u64(&hist, (uint64_t)f->start_ns);
	if (latest.err || hist.err)
		return -EINVAL;
	wbuf_init(&w);
	err = attrs_encode(r, f->start_ns, &w);
	if (!err) {
		v.mv_size = w.len;
		v.mv_data = w.p;
		k = key_val(&hist);
		err = err_from_mdb(mdb_put(t->txn, t->rs->resource_log, &k, &v, 0));
	}
	if (!err) {
		k = key_val(&latest);
		err = err_from_mdb(mdb_put(t->txn, t->rs->resources, &k, &v, 0));
	}
	wbuf_free(&w);
	return err;
}

int rstore_frame_add(struct rstore_txn *t, const char *host_id, const struct frame *f)
{
	struct key key = { .n = 0 };
	uint8_t rec[FRAME_REC_LEN];
	int64_t period = t->rs->period, start_s, period_start;
	MDB_val k, v;
	int err;

	frame_key(&key, host_id, f->seq);
	if (key.err)
		return key.err;
	memcpy(rec, f->hash, HV_HASH_LEN);
	be64_put(rec + HV_HASH_LEN, (uint64_t)f->start_ns);
	be64_put(rec + HV_HASH_LEN + 8, (uint64_t)f->end_ns);
	u32_put(rec + HV_HASH_LEN + 16, f->merged);
	u32_put(rec + HV_HASH_LEN + 20, f->flags);
	u32_put(rec + HV_HASH_LEN + 24, f->n_delta > UINT32_MAX ? UINT32_MAX : (uint32_t)f->n_delta);
	k = key_val(&key);
	v.mv_size = sizeof(rec);
	v.mv_data = rec;
	/* the (host, seq) entry is the dedup guard: a second copy is refused here */
	if ((err = err_from_mdb(mdb_put(t->txn, t->rs->frames, &k, &v, MDB_NOOVERWRITE))))
		return err;
	/* floor division: a (theoretical) start before 1970 still lands in its period */
	start_s = f->start_ns / 1000000000 - (f->start_ns % 1000000000 < 0);
	period_start = (start_s / period - (start_s % period < 0)) * period;
	for (size_t i = 0; i < f->n_res; i++)
		if ((err = resource_put(t, host_id, f, &f->res[i])))
			return err;
	for (size_t i = 0; i < f->n_delta; i++)
		if ((err = usage_add(t, period_start, host_id, f, &f->delta[i])))
			return err;
	return 0;
}

/* ---- reading -------------------------------------------------------------------- */

static int txn_read(struct rstore *rs, MDB_txn **txn)
{
	return err_from_mdb(mdb_txn_begin(rs->env, NULL, MDB_RDONLY, txn));
}

int rstore_hosts_foreach(struct rstore *rs, int (*cb)(const struct rstore_host *h, void *arg),
			 void *arg)
{
	MDB_txn *txn;
	MDB_cursor *c = NULL;
	MDB_val k, v;
	int err = txn_read(rs, &txn), rc;

	if (err)
		return err;
	if ((rc = mdb_cursor_open(txn, rs->hosts, &c))) {
		err = err_from_mdb(rc);
		goto out;
	}
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == MDB_SUCCESS;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		struct rstore_host h;

		if ((err = host_decode(&h, &k, &v)) || (err = cb(&h, arg)))
			goto out;
	}
	err = rc == MDB_NOTFOUND ? 0 : err_from_mdb(rc);
out:
	if (c)
		mdb_cursor_close(c);
	mdb_txn_abort(txn);
	return err;
}

static int usage_decode(struct rstore_usage *u, const MDB_val *k, const MDB_val *v)
{
	char *fields[4];
	size_t caps[4];

	memset(u, 0, sizeof(*u));
	if (k->mv_size < 8 || v->mv_size != USAGE_REC_LEN)
		return -EBADMSG;
	u->period_start = (int64_t)be64_get(k->mv_data);
	fields[0] = u->host, caps[0] = sizeof(u->host);
	fields[1] = u->resource, caps[1] = sizeof(u->resource);
	fields[2] = u->metric, caps[2] = sizeof(u->metric);
	fields[3] = u->labels, caps[3] = sizeof(u->labels);
	if (key_fields((const uint8_t *)k->mv_data + 8, k->mv_size - 8, fields, caps, 4))
		return -EBADMSG;
	usage_unpack(u, v->mv_data);
	return 0;
}

int rstore_usage_foreach(struct rstore *rs, int64_t from_s, int64_t to_s, const char *host_id,
			 int (*cb)(const struct rstore_usage *u, void *arg), void *arg)
{
	MDB_txn *txn;
	MDB_cursor *c = NULL;
	uint8_t kb[8];
	MDB_val k = { 8, kb }, v;
	int err = txn_read(rs, &txn), rc;

	if (err)
		return err;
	if ((rc = mdb_cursor_open(txn, rs->usage, &c))) {
		err = err_from_mdb(rc);
		goto out;
	}
	be64_put(kb, (uint64_t)(from_s < 0 ? 0 : from_s));
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == MDB_SUCCESS;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		struct rstore_usage u;

		if ((err = usage_decode(&u, &k, &v)))
			goto out;
		if (u.period_start >= to_s)
			break;
		if (host_id && strcmp(host_id, u.host))
			continue;
		if ((err = cb(&u, arg)))
			goto out;
	}
	err = rc == MDB_SUCCESS || rc == MDB_NOTFOUND ? 0 : err_from_mdb(rc);
out:
	if (c)
		mdb_cursor_close(c);
	mdb_txn_abort(txn);
	return err;
}

int rstore_resource_at(struct rstore *rs, const char *host_id, const char *resource,
		       int64_t at_ns, struct frame_resource *out)
{
	struct key pre = { .n = 0 }, key = { .n = 0 };
	MDB_txn *txn;
	MDB_cursor *c = NULL;
	MDB_val k, v;
	int err, rc;

	key_str(&pre, host_id);
	key_str(&pre, resource);
	key = pre;
	key_u64(&key, (uint64_t)(at_ns < 0 ? 0 : at_ns));
	if (key.err)
		return -EINVAL;
	if ((err = txn_read(rs, &txn)))
		return err;
	if ((rc = mdb_cursor_open(txn, rs->resource_log, &c))) {
		err = err_from_mdb(rc);
		goto out;
	}
	/* the entry at or after @at_ns; the one before it wins if it is this
	 * resource's (it is then the last announcement at or before @at_ns) */
	k = key_val(&key);
	rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	if (rc == MDB_SUCCESS && k.mv_size == key.n && memcmp(k.mv_data, key.b, key.n) == 0)
		goto found;
	if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
		goto found; /* an error: reported below */
	{
		bool after_ours = rc == MDB_SUCCESS && k.mv_size == pre.n + 8 &&
				  memcmp(k.mv_data, pre.b, pre.n) == 0;
		MDB_val after = v;

		rc = mdb_cursor_get(c, &k, &v, rc == MDB_NOTFOUND ? MDB_LAST : MDB_PREV);
		if (rc == MDB_SUCCESS && k.mv_size == pre.n + 8 && memcmp(k.mv_data, pre.b, pre.n) == 0)
			goto found;
		if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
			goto found;
		rc = after_ours ? MDB_SUCCESS : MDB_NOTFOUND;
		v = after;
	}
found:
	err = err_from_mdb(rc);
	if (!err)
		err = attrs_decode(out, resource, &v);
out:
	if (c)
		mdb_cursor_close(c);
	mdb_txn_abort(txn);
	return err;
}
