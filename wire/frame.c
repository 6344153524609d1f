#include "wire/frame.h"
#include "wire/frame_deltas.h"
#include "wire/metric.h"
#include "wire/varint.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/sha256.h>

static const uint8_t frame_magic[3] = { 'H', 'V', 'F' };

void frame_init(struct frame *f)
{
	memset(f, 0, sizeof(*f));
	f->merged = 1;
}

void frame_free(struct frame *f)
{
	if (!f)
		return;
	free(f->res);
	free(f->delta);
	free(f->index);
	frame_init(f);
}

void frame_reset(struct frame *f)
{
	f->n_res = 0;
	f->n_delta = 0;
	if (f->index)
		memset(f->index, 0xff, f->index_cap * sizeof(*f->index));
}

static uint64_t delta_key_hash(const char *resource, const char *metric, const char *labels)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	const char *parts[3] = { resource, metric, labels };

	for (int i = 0; i < 3; i++) {
		for (const char *p = parts[i]; *p; p++)
			h = (h ^ (uint8_t)*p) * 1099511628211ull;
		h = (h ^ 0xff) * 1099511628211ull; /* separator */
	}
	return h;
}

static int delta_matches(const struct frame_delta *d, const char *resource,
			 const char *metric, const char *labels)
{
	return strcmp(d->resource, resource) == 0 && strcmp(d->metric, metric) == 0 &&
	       strcmp(d->labels, labels) == 0;
}

/* Rebuilds the index at twice the delta capacity so the load stays <= 1/2. */
static int index_rebuild(struct frame *f, size_t want)
{
	size_t cap = 16;
	uint32_t *idx;

	while (cap < want * 2)
		cap <<= 1;
	idx = malloc(cap * sizeof(*idx));
	if (!idx)
		return -ENOMEM;
	memset(idx, 0xff, cap * sizeof(*idx));
	for (size_t i = 0; i < f->n_delta; i++) {
		const struct frame_delta *d = &f->delta[i];
		size_t slot = delta_key_hash(d->resource, d->metric, d->labels) & (cap - 1);

		while (idx[slot] != UINT32_MAX)
			slot = (slot + 1) & (cap - 1);
		idx[slot] = (uint32_t)i;
	}
	free(f->index);
	f->index = idx;
	f->index_cap = cap;
	return 0;
}

static size_t *index_slot_of(struct frame *f, const char *resource, const char *metric,
			     const char *labels, size_t *slot_out)
{
	size_t slot = delta_key_hash(resource, metric, labels) & (f->index_cap - 1);

	while (f->index[slot] != UINT32_MAX) {
		if (delta_matches(&f->delta[f->index[slot]], resource, metric, labels)) {
			*slot_out = slot;
			return slot_out;
		}
		slot = (slot + 1) & (f->index_cap - 1);
	}
	*slot_out = slot;
	return NULL;
}

struct frame_delta *frame_delta_find(struct frame *f, const char *resource,
				     const char *metric, const char *labels)
{
	size_t slot;

	if (!f->index_cap || f->n_delta * 2 > f->index_cap) {
		if (!f->n_delta || index_rebuild(f, f->n_delta) < 0) {
			for (size_t i = 0; i < f->n_delta; i++)
				if (delta_matches(&f->delta[i], resource, metric, labels))
					return &f->delta[i];
			return NULL;
		}
	}
	if (!index_slot_of(f, resource, metric, labels, &slot))
		return NULL;
	return &f->delta[f->index[slot]];
}

int frame_delta_add(struct frame *f, const char *resource, const char *metric,
		    const char *labels, int64_t value)
{
	const struct metric_def *m = metric_lookup(metric);
	struct frame_delta *d;
	size_t slot;

	if (!labels)
		labels = "";
	if (strlen(resource) >= HV_ID_MAX || strlen(metric) >= HV_METRIC_MAX ||
	    strlen(labels) >= HV_LABELS_MAX)
		return -EINVAL;
	if (f->n_delta + 1 > f->index_cap / 2 && index_rebuild(f, f->n_delta + 1) < 0)
		return -ENOMEM;
	if (index_slot_of(f, resource, metric, labels, &slot)) {
		d = &f->delta[f->index[slot]];
		if (m && m->kind == METRIC_GAUGE_MAX)
			d->value = value > d->value ? value : d->value;
		else if (m && m->kind == METRIC_GAUGE_MEAN)
			d->value = value; /* the caller owns averaging within a frame */
		else
			d->value += value;
		return 0;
	}
	if (f->n_delta == f->cap_delta) {
		size_t cap = f->cap_delta ? f->cap_delta * 2 : 64;
		struct frame_delta *nd = realloc(f->delta, cap * sizeof(*nd));

		if (!nd)
			return -ENOMEM;
		f->delta = nd;
		f->cap_delta = cap;
	}
	d = &f->delta[f->n_delta];
	memset(d, 0, sizeof(*d));
	strcpy(d->resource, resource);
	strcpy(d->metric, metric);
	strcpy(d->labels, labels);
	d->value = value;
	f->index[slot] = (uint32_t)f->n_delta++;
	return 0;
}

int frame_resource_add(struct frame *f, const struct frame_resource *r)
{
	for (size_t i = 0; i < f->n_res; i++) {
		if (strcmp(f->res[i].resource, r->resource) == 0) {
			f->res[i] = *r; /* a later announcement in the same frame wins */
			return 0;
		}
	}
	if (f->n_res == f->cap_res) {
		size_t cap = f->cap_res ? f->cap_res * 2 : 8;
		struct frame_resource *nr = realloc(f->res, cap * sizeof(*nr));

		if (!nr)
			return -ENOMEM;
		f->res = nr;
		f->cap_res = cap;
	}
	f->res[f->n_res++] = *r;
	return 0;
}

int frame_attr_set(struct frame_resource *r, const char *key, const char *value)
{
	if (strlen(key) >= HV_ATTR_KEY_MAX || !key[0])
		return -EINVAL;
	if (strlen(value) >= HV_ATTR_VAL_MAX)
		return -EINVAL;
	for (uint32_t i = 0; i < r->n_attrs; i++) {
		if (strcmp(r->attrs[i].key, key) == 0) {
			strcpy(r->attrs[i].value, value);
			return 0;
		}
	}
	if (r->n_attrs >= HV_ATTRS_MAX)
		return -E2BIG;
	strcpy(r->attrs[r->n_attrs].key, key);
	strcpy(r->attrs[r->n_attrs].value, value);
	r->n_attrs++;
	return 0;
}

const char *frame_attr_get(const struct frame_resource *r, const char *key)
{
	for (uint32_t i = 0; i < r->n_attrs; i++)
		if (strcmp(r->attrs[i].key, key) == 0)
			return r->attrs[i].value;
	return NULL;
}

int frame_copy(struct frame *dst, const struct frame *src)
{
	frame_free(dst);
	dst->seq = src->seq;
	dst->start_ns = src->start_ns;
	dst->end_ns = src->end_ns;
	dst->flags = src->flags;
	dst->merged = src->merged;
	memcpy(dst->policy, src->policy, sizeof(dst->policy));
	memcpy(dst->prev_hash, src->prev_hash, HV_HASH_LEN);
	memcpy(dst->hash, src->hash, HV_HASH_LEN);
	if (src->n_delta) {
		dst->delta = malloc(src->n_delta * sizeof(*dst->delta));
		if (!dst->delta)
			return -ENOMEM;
		memcpy(dst->delta, src->delta, src->n_delta * sizeof(*dst->delta));
		dst->n_delta = dst->cap_delta = src->n_delta;
	}
	if (src->n_res) {
		dst->res = malloc(src->n_res * sizeof(*dst->res));
		if (!dst->res)
			return -ENOMEM;
		memcpy(dst->res, src->res, src->n_res * sizeof(*dst->res));
		dst->n_res = dst->cap_res = src->n_res;
	}
	return 0;
}

static int delta_cmp(const void *a, const void *b)
{
	const struct frame_delta *x = a, *y = b;
	int c = strcmp(x->resource, y->resource);

	if (!c)
		c = strcmp(x->metric, y->metric);
	if (!c)
		c = strcmp(x->labels, y->labels);
	return c;
}

static int attr_cmp(const void *a, const void *b)
{
	return strcmp(((const struct frame_attr *)a)->key, ((const struct frame_attr *)b)->key);
}

static int res_cmp(const void *a, const void *b)
{
	return strcmp(((const struct frame_resource *)a)->resource,
		      ((const struct frame_resource *)b)->resource);
}

/*
 * Sorting a host's deltas is the largest CPU cost of a ledger commit, so it
 * is done in steps that avoid string compares: an LSD radix sort of
 * (first 8 bytes of the resource id, index) pairs groups the deltas of one
 * resource (ids are UUIDs: their first bytes almost always differ); each
 * group is then ordered by metric and labels, insertion-sorted by the
 * metric's first 8 bytes, with full compares only to break ties. Groups
 * whose resource ids share 8 bytes but differ later fall back to qsort.
 * The deltas then move once, in place.
 */
struct delta_order {
	uint64_t prefix;
	uint32_t i;
};

static uint64_t str_prefix(const char *s)
{
	uint64_t v = 0;
	size_t i = 0;

	for (; i < 8 && s[i]; i++)
		v = v << 8 | (uint8_t)s[i];
	return i ? v << (8 * (8 - i)) : 0;
}

/* Sorts @o by prefix, stable; @tmp has room for @n. */
static void radix_sort(struct delta_order *o, struct delta_order *tmp, size_t n)
{
	for (unsigned shift = 0; shift < 64; shift += 8) {
		size_t count[257] = { 0 };

		for (size_t i = 0; i < n; i++)
			count[((o[i].prefix >> shift) & 0xff) + 1]++;
		if (count[((o[0].prefix >> shift) & 0xff) + 1] == n)
			continue; /* every key has this byte: nothing to move */
		for (int d = 0; d < 256; d++)
			count[d + 1] += count[d];
		for (size_t i = 0; i < n; i++)
			tmp[count[(o[i].prefix >> shift) & 0xff]++] = o[i];
		memcpy(o, tmp, n * sizeof(*o));
	}
}

static int order_full_cmp(const void *a, const void *b, void *base)
{
	const struct frame_delta *d = base;

	return delta_cmp(&d[((const struct delta_order *)a)->i], &d[((const struct delta_order *)b)->i]);
}

static int metric_labels_cmp(const struct frame_delta *x, const struct frame_delta *y)
{
	int c = strcmp(x->metric, y->metric);

	return c ? c : strcmp(x->labels, y->labels);
}

/* Orders the run o[0..n) of deltas with equal resource-id prefixes. */
static void run_sort(const struct frame_delta *d, struct delta_order *o, size_t n)
{
	for (size_t k = 1; k < n; k++) {
		if (strcmp(d[o[k].i].resource, d[o[0].i].resource)) {
			qsort_r(o, n, sizeof(*o), order_full_cmp, (void *)d);
			return;
		}
	}
	for (size_t k = 0; k < n; k++)
		o[k].prefix = str_prefix(d[o[k].i].metric);
	for (size_t k = 1; k < n; k++) {
		struct delta_order x = o[k];
		size_t j = k;

		while (j > 0 && (o[j - 1].prefix > x.prefix ||
				 (o[j - 1].prefix == x.prefix &&
				  metric_labels_cmp(&d[o[j - 1].i], &d[x.i]) > 0))) {
			o[j] = o[j - 1];
			j--;
		}
		o[j] = x;
	}
}

/* Sorts the deltas; keeps them as they are when already in order. */
static void deltas_sort(struct frame *f)
{
	struct delta_order *o, *tmp;
	uint32_t *from;
	size_t i;

	for (i = 1; i < f->n_delta; i++)
		if (delta_cmp(&f->delta[i - 1], &f->delta[i]) > 0)
			break;
	if (i >= f->n_delta)
		return; /* the usual case when deltas come from a decoded frame */
	o = malloc(f->n_delta * sizeof(*o));
	tmp = malloc(f->n_delta * sizeof(*tmp));
	from = malloc(f->n_delta * sizeof(*from));
	if (!o || !tmp || !from) {
		qsort(f->delta, f->n_delta, sizeof(*f->delta), delta_cmp);
		goto out;
	}
	for (i = 0; i < f->n_delta; i++) {
		o[i].prefix = str_prefix(f->delta[i].resource);
		o[i].i = (uint32_t)i;
	}
	radix_sort(o, tmp, f->n_delta);
	for (i = 0; i < f->n_delta;) {
		size_t end = i + 1;

		while (end < f->n_delta && o[end].prefix == o[i].prefix)
			end++;
		if (end - i > 1)
			run_sort(f->delta, o + i, end - i);
		i = end;
	}
	/*
	 * Apply the order in place, cycle by cycle, with one spare delta: a
	 * second array of a host's deltas (~1 MB) would be fresh pages from
	 * the kernel on every frame.
	 */
	for (i = 0; i < f->n_delta; i++)
		from[i] = o[i].i;
	for (i = 0; i < f->n_delta; i++) {
		struct frame_delta spare;
		size_t j = i;

		if (from[i] == i)
			continue;
		spare = f->delta[i];
		for (;;) {
			size_t k = from[j];

			from[j] = (uint32_t)j;
			if (k == i) {
				f->delta[j] = spare;
				break;
			}
			f->delta[j] = f->delta[k];
			j = k;
		}
	}
out:
	free(o);
	free(tmp);
	free(from);
}

void frame_canonicalize(struct frame *f)
{
	size_t out = 0;

	for (size_t i = 0; i < f->n_delta; i++) {
		if (f->delta[i].value == 0) {
			const struct metric_def *m = metric_lookup(f->delta[i].metric);

			if (!m || m->kind == METRIC_COUNTER)
				continue;
		}
		if (out != i)
			f->delta[out] = f->delta[i];
		out++;
	}
	f->n_delta = out;
	deltas_sort(f);
	for (size_t i = 0; i < f->n_res; i++)
		qsort(f->res[i].attrs, f->res[i].n_attrs, sizeof(struct frame_attr), attr_cmp);
	if (f->n_res)
		qsort(f->res, f->n_res, sizeof(*f->res), res_cmp);
	/* the index refers to old positions */
	free(f->index);
	f->index = NULL;
	f->index_cap = 0;
}

int frame_encode(const struct frame *f, uint8_t **out, size_t *len)
{
	struct wbuf b;
	int err;

	wbuf_init(&b);
	wbuf_put(&b, frame_magic, sizeof(frame_magic));
	wbuf_u8(&b, FRAME_VERSION);
	wbuf_u64be(&b, f->seq);
	wbuf_u64be(&b, (uint64_t)f->start_ns);
	wbuf_u64be(&b, (uint64_t)f->end_ns);
	wbuf_u32be(&b, f->flags);
	wbuf_u32be(&b, f->merged);
	wbuf_str(&b, f->policy);
	wbuf_put(&b, f->prev_hash, HV_HASH_LEN);
	wbuf_uvarint(&b, f->n_res);
	for (size_t i = 0; i < f->n_res; i++) {
		const struct frame_resource *r = &f->res[i];

		wbuf_str(&b, r->resource);
		wbuf_uvarint(&b, r->n_attrs);
		for (uint32_t k = 0; k < r->n_attrs && k < HV_ATTRS_MAX; k++) {
			wbuf_str(&b, r->attrs[k].key);
			wbuf_str(&b, r->attrs[k].value);
		}
	}
	if ((err = frame_deltas_encode(&b, f))) {
		wbuf_free(&b);
		return err;
	}
	err = wbuf_finish(&b, out, len);
	return err;
}

int frame_decode(struct frame *f, const uint8_t *buf, size_t len)
{
	struct rbuf r;
	uint8_t magic[3], version;
	uint64_t n, u;

	rbuf_init(&r, buf, len);
	frame_reset(f);
	if (rbuf_get(&r, magic, sizeof(magic)) || memcmp(magic, frame_magic, sizeof(magic)))
		return -EBADMSG;
	if (rbuf_u8(&r, &version))
		return -EBADMSG;
	if (version != FRAME_VERSION)
		return -EPROTO;
	if (rbuf_u64be(&r, &f->seq))
		return -EBADMSG;
	if (rbuf_u64be(&r, &u))
		return -EBADMSG;
	f->start_ns = (int64_t)u;
	if (rbuf_u64be(&r, &u))
		return -EBADMSG;
	f->end_ns = (int64_t)u;
	if (rbuf_u32be(&r, &f->flags) || rbuf_u32be(&r, &f->merged))
		return -EBADMSG;
	if (rbuf_str(&r, f->policy, sizeof(f->policy)))
		return -EBADMSG;
	if (rbuf_get(&r, f->prev_hash, HV_HASH_LEN))
		return -EBADMSG;

	/* each announcement takes at least 2 bytes: a count beyond that is a lie */
	if (rbuf_uvarint(&r, &n) || n > FRAME_MAX_RESOURCES || n > rbuf_left(&r) / 2)
		return -EBADMSG;
	for (uint64_t i = 0; i < n; i++) {
		struct frame_resource res;
		uint64_t na;

		memset(&res, 0, sizeof(res));
		if (rbuf_str(&r, res.resource, sizeof(res.resource)))
			return -EBADMSG;
		if (rbuf_uvarint(&r, &na) || na > HV_ATTRS_MAX)
			return -EBADMSG;
		for (uint64_t k = 0; k < na; k++) {
			if (rbuf_str(&r, res.attrs[k].key, sizeof(res.attrs[k].key)) ||
			    rbuf_str(&r, res.attrs[k].value, sizeof(res.attrs[k].value)))
				return -EBADMSG;
		}
		res.n_attrs = (uint32_t)na;
		if (frame_resource_add(f, &res))
			return -ENOMEM;
	}

	{
		int err = frame_deltas_decode(&r, f);

		if (err)
			return err;
	}
	if (rbuf_left(&r))
		return -EBADMSG; /* trailing bytes */
	return 0;
}

int frame_head_decode(const uint8_t *buf, size_t len, struct frame_head *h)
{
	struct rbuf r;
	uint8_t magic[3], version;
	uint64_t start, end;

	rbuf_init(&r, buf, len);
	if (rbuf_get(&r, magic, sizeof(magic)) || memcmp(magic, frame_magic, sizeof(magic)) ||
	    rbuf_u8(&r, &version))
		return -EBADMSG;
	if (version != FRAME_VERSION)
		return -EPROTO;
	if (rbuf_u64be(&r, &h->seq) || rbuf_u64be(&r, &start) || rbuf_u64be(&r, &end) ||
	    rbuf_u32be(&r, &h->flags) || rbuf_u32be(&r, &h->merged) || h->merged == 0)
		return -EBADMSG;
	h->start_ns = (int64_t)start;
	h->end_ns = (int64_t)end;
	return 0;
}

int frame_hash(const uint8_t *buf, size_t len, uint8_t out[HV_HASH_LEN])
{
	/* mbedTLS 2.28: the _ret variant reports failure; 0 selects SHA-256 */
	return mbedtls_sha256_ret(buf, len, out, 0) ? -EIO : 0;
}

void frame_hash_hex(const uint8_t h[HV_HASH_LEN], char out[2 * HV_HASH_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";

	for (int i = 0; i < HV_HASH_LEN; i++) {
		out[2 * i] = hex[h[i] >> 4];
		out[2 * i + 1] = hex[h[i] & 15];
	}
	out[2 * HV_HASH_LEN] = '\0';
}

int frame_merge(struct frame *acc, const struct frame *next)
{
	int64_t d_acc = acc->end_ns - acc->start_ns, d_next = next->end_ns - next->start_ns;

	if (next->seq != acc->seq + acc->merged)
		return -EINVAL;
	for (size_t i = 0; i < next->n_delta; i++) {
		const struct frame_delta *d = &next->delta[i];
		const struct metric_def *m = metric_lookup(d->metric);
		struct frame_delta *have = frame_delta_find(acc, d->resource, d->metric, d->labels);
		int err;

		if (have && m && m->kind == METRIC_GAUGE_MEAN) {
			/* duration-weighted; gauges are for monitoring, not billing */
			int64_t total = d_acc + d_next;

			if (total > 0)
				have->value = (int64_t)(((__int128)have->value * d_acc +
							 (__int128)d->value * d_next) / total);
			continue;
		}
		err = frame_delta_add(acc, d->resource, d->metric, d->labels, d->value);
		if (err)
			return err;
	}
	for (size_t i = 0; i < next->n_res; i++) {
		int err = frame_resource_add(acc, &next->res[i]);

		if (err)
			return err;
	}
	acc->end_ns = next->end_ns;
	acc->merged += next->merged;
	acc->flags |= FRAME_MERGED;
	if (next->policy[0])
		memcpy(acc->policy, next->policy, sizeof(acc->policy));
	return 0;
}
