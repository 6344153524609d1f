#include "wire/batch.h"
#include "wire/varint.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t batch_magic[3] = { 'H', 'V', 'B' };

void batch_init(struct batch *b)
{
	memset(b, 0, sizeof(*b));
}

void batch_free(struct batch *b)
{
	for (size_t i = 0; i < b->n_frames; i++)
		frame_free(&b->frames[i]);
	free(b->frames);
	batch_init(b);
}

/* ---- encoder: string dictionary and series table ------------------------ */

struct dict {
	const char **s;        /* borrowed from the frames being encoded */
	size_t n, cap;
	uint32_t *slot;        /* open addressing over s[], UINT32_MAX = empty */
	size_t slot_cap;
};

static uint64_t str_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
	return h;
}

static int dict_grow(struct dict *d)
{
	size_t cap = d->slot_cap ? d->slot_cap * 2 : 256;
	uint32_t *slot = malloc(cap * sizeof(*slot));

	if (!slot)
		return -ENOMEM;
	memset(slot, 0xff, cap * sizeof(*slot));
	for (size_t i = 0; i < d->n; i++) {
		size_t k = str_hash(d->s[i]) & (cap - 1);

		while (slot[k] != UINT32_MAX)
			k = (k + 1) & (cap - 1);
		slot[k] = (uint32_t)i;
	}
	free(d->slot);
	d->slot = slot;
	d->slot_cap = cap;
	return 0;
}

/* Index of @s, adding it if new; -ENOMEM on failure. */
static int64_t dict_index(struct dict *d, const char *s)
{
	size_t k;

	if ((d->n + 1) * 2 > d->slot_cap && dict_grow(d))
		return -ENOMEM;
	for (k = str_hash(s) & (d->slot_cap - 1); d->slot[k] != UINT32_MAX;
	     k = (k + 1) & (d->slot_cap - 1))
		if (strcmp(d->s[d->slot[k]], s) == 0)
			return d->slot[k];
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 256;
		const char **ns = realloc(d->s, cap * sizeof(*ns));

		if (!ns)
			return -ENOMEM;
		d->s = ns;
		d->cap = cap;
	}
	d->s[d->n] = s;
	d->slot[k] = (uint32_t)d->n;
	return (int64_t)d->n++;
}

struct series {
	const struct frame_delta *d; /* first delta seen with this key */
	uint32_t res, metric, labels;
};

static int series_cmp(const void *a, const void *b)
{
	const struct frame_delta *x = ((const struct series *)a)->d, *y = ((const struct series *)b)->d;
	int c = strcmp(x->resource, y->resource);

	if (!c)
		c = strcmp(x->metric, y->metric);
	if (!c)
		c = strcmp(x->labels, y->labels);
	return c;
}

/* Finds the series of @d by binary search in the sorted table. */
static int64_t series_find(const struct series *t, size_t n, const struct frame_delta *d)
{
	struct series key = { .d = d };
	const struct series *hit = bsearch(&key, t, n, sizeof(*t), series_cmp);

	return hit ? hit - t : -1;
}

int batch_encode(const char *host_id, const struct frame *frames, size_t n,
		 const uint8_t *sig, size_t sig_len, uint8_t **out, size_t *len)
{
	struct dict dict = { 0 };
	struct series *ser = NULL;
	size_t n_ser = 0, n_all = 0, u = 0;
	struct wbuf w;
	int err = -EINVAL;

	wbuf_init(&w);
	if (!n || n > BATCH_MAX_FRAMES || !host_id[0] || strlen(host_id) >= HV_ID_MAX ||
	    sig_len > BATCH_SIG_MAX)
		goto out;
	for (size_t i = 1; i < n; i++)
		if (frames[i].seq != frames[i - 1].seq + frames[i - 1].merged)
			goto out;
	/* every delta's key, deduplicated and sorted: canonical delta order, so
	 * indices within a frame are strictly increasing */
	for (size_t i = 0; i < n; i++)
		n_all += frames[i].n_delta;
	ser = malloc((n_all ? n_all : 1) * sizeof(*ser));
	if (!ser) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < frames[i].n_delta; k++)
			ser[u++].d = &frames[i].delta[k];
	if (n_all)
		qsort(ser, n_all, sizeof(*ser), series_cmp);
	for (size_t i = 0; i < n_all; i++)
		if (!n_ser || series_cmp(&ser[n_ser - 1], &ser[i]))
			ser[n_ser++] = ser[i];
	err = -ENOMEM;
	for (size_t i = 0; i < n_ser; i++) {
		int64_t a = dict_index(&dict, ser[i].d->resource), b = dict_index(&dict, ser[i].d->metric),
			c = dict_index(&dict, ser[i].d->labels);

		if (a < 0 || b < 0 || c < 0)
			goto out;
		ser[i].res = (uint32_t)a;
		ser[i].metric = (uint32_t)b;
		ser[i].labels = (uint32_t)c;
	}
	for (size_t i = 0; i < n; i++) {
		if (frames[i].policy[0] && dict_index(&dict, frames[i].policy) < 0)
			goto out;
		for (size_t r = 0; r < frames[i].n_res; r++) {
			const struct frame_resource *res = &frames[i].res[r];

			if (dict_index(&dict, res->resource) < 0)
				goto out;
			for (uint32_t k = 0; k < res->n_attrs; k++)
				if (dict_index(&dict, res->attrs[k].key) < 0 ||
				    dict_index(&dict, res->attrs[k].value) < 0)
					goto out;
		}
	}

	wbuf_put(&w, batch_magic, sizeof(batch_magic));
	wbuf_u8(&w, BATCH_VERSION);
	wbuf_str(&w, host_id);
	wbuf_uvarint(&w, dict.n);
	for (size_t i = 0; i < dict.n; i++)
		wbuf_str(&w, dict.s[i]);
	wbuf_uvarint(&w, n_ser);
	for (size_t i = 0; i < n_ser; i++) {
		wbuf_uvarint(&w, ser[i].res);
		wbuf_uvarint(&w, ser[i].metric);
		wbuf_uvarint(&w, ser[i].labels);
	}
	wbuf_uvarint(&w, n);
	wbuf_u64be(&w, frames[0].seq);
	wbuf_u64be(&w, (uint64_t)frames[0].start_ns);
	wbuf_put(&w, frames[0].prev_hash, HV_HASH_LEN);
	for (size_t i = 0; i < n; i++) {
		const struct frame *f = &frames[i];

		wbuf_uvarint(&w, i ? f->seq - frames[i - 1].seq : 0);
		wbuf_svarint(&w, i ? f->start_ns - frames[i - 1].end_ns : 0);
		wbuf_uvarint(&w, (uint64_t)(f->end_ns - f->start_ns));
		wbuf_uvarint(&w, f->flags);
		wbuf_uvarint(&w, f->merged);
		wbuf_uvarint(&w, f->policy[0] ? (uint64_t)dict_index(&dict, f->policy) + 1 : 0);
		wbuf_uvarint(&w, f->n_res);
		for (size_t r = 0; r < f->n_res; r++) {
			wbuf_uvarint(&w, (uint64_t)dict_index(&dict, f->res[r].resource));
			wbuf_uvarint(&w, f->res[r].n_attrs);
			for (uint32_t k = 0; k < f->res[r].n_attrs; k++) {
				wbuf_uvarint(&w, (uint64_t)dict_index(&dict, f->res[r].attrs[k].key));
				wbuf_uvarint(&w, (uint64_t)dict_index(&dict, f->res[r].attrs[k].value));
			}
		}
		wbuf_uvarint(&w, f->n_delta);
		for (size_t k = 0; k < f->n_delta; k++) {
			wbuf_uvarint(&w, (uint64_t)series_find(ser, n_ser, &f->delta[k]));
			wbuf_svarint(&w, f->delta[k].value);
		}
		wbuf_put(&w, f->hash, HV_HASH_LEN);
	}
	wbuf_uvarint(&w, sig_len);
	wbuf_put(&w, sig, sig_len);
	err = wbuf_finish(&w, out, len);
	if (!err && *len > BATCH_MAX_BYTES) {
		free(*out);
		*out = NULL;
		err = -E2BIG;
	}
out:
	if (err)
		wbuf_free(&w);
	free(ser);
	free(dict.s);
	free(dict.slot);
	return err;
}

/* ---- decoder --------------------------------------------------------------- */

struct str_ref {
	size_t off, len; /* into the input buffer */
};

/* Copies dictionary string @i into @out of @cap bytes (must fit, no NUL). */
static int dict_copy(const uint8_t *buf, const struct str_ref *dict, uint64_t n, uint64_t i,
		     char *out, size_t cap)
{
	if (i >= n || dict[i].len >= cap)
		return -1;
	memcpy(out, buf + dict[i].off, dict[i].len);
	out[dict[i].len] = '\0';
	return 0;
}

int batch_decode(struct batch *b, const uint8_t *buf, size_t len)
{
	struct rbuf r;
	struct str_ref *dict = NULL;
	uint64_t (*ser)[3] = NULL;
	uint64_t n_str, n_ser, n_frames, seq, start, total_deltas = 0;
	uint8_t magic[3], version, prev_hash[HV_HASH_LEN];
	int64_t prev_end = 0;
	int err = -EBADMSG;

	batch_free(b);
	if (len > BATCH_MAX_BYTES)
		return -E2BIG;
	rbuf_init(&r, buf, len);
	if (rbuf_get(&r, magic, 3) || memcmp(magic, batch_magic, 3) || rbuf_u8(&r, &version))
		goto out;
	if (version != BATCH_VERSION) {
		err = -EPROTO;
		goto out;
	}
	if (rbuf_str(&r, b->host_id, sizeof(b->host_id)) || !b->host_id[0])
		goto out;
	/* every string takes at least its length byte */
	if (rbuf_uvarint(&r, &n_str) || n_str > rbuf_left(&r) || n_str > BATCH_MAX_STRINGS)
		goto out;
	dict = calloc(n_str ? n_str : 1, sizeof(*dict));
	if (!dict) {
		err = -ENOMEM;
		goto out;
	}
	for (uint64_t i = 0; i < n_str; i++) {
		uint64_t sl;

		if (rbuf_uvarint(&r, &sl) || sl > rbuf_left(&r) || memchr(buf + r.off, '\0', sl))
			goto out;
		dict[i].off = r.off;
		dict[i].len = sl;
		r.off += sl;
	}
	if (rbuf_uvarint(&r, &n_ser) || n_ser > rbuf_left(&r) / 3 || n_ser > BATCH_MAX_DELTAS)
		goto out;
	ser = calloc(n_ser ? n_ser : 1, sizeof(*ser));
	if (!ser) {
		err = -ENOMEM;
		goto out;
	}
	for (uint64_t i = 0; i < n_ser; i++)
		for (int k = 0; k < 3; k++)
			if (rbuf_uvarint(&r, &ser[i][k]) || ser[i][k] >= n_str)
				goto out;
	if (rbuf_uvarint(&r, &n_frames) || n_frames == 0)
		goto out;
	if (n_frames > BATCH_MAX_FRAMES) {
		err = -E2BIG;
		goto out;
	}
	if (n_frames > rbuf_left(&r) / (HV_HASH_LEN + 8))
		goto out;
	if (rbuf_u64be(&r, &seq) || rbuf_u64be(&r, &start) || rbuf_get(&r, prev_hash, HV_HASH_LEN))
		goto out;
	b->frames = calloc(n_frames, sizeof(*b->frames));
	if (!b->frames) {
		err = -ENOMEM;
		goto out;
	}
	for (uint64_t i = 0; i < n_frames; i++) {
		struct frame *f = &b->frames[i];
		uint64_t step, dur, flags, merged, pol, n_res, n_delta, last = 0;
		int64_t gap;

		frame_init(f);
		b->n_frames = i + 1;
		if (rbuf_uvarint(&r, &step) || rbuf_svarint(&r, &gap) || rbuf_uvarint(&r, &dur) ||
		    rbuf_uvarint(&r, &flags) || rbuf_uvarint(&r, &merged) || rbuf_uvarint(&r, &pol))
			goto out;
		if (flags > UINT32_MAX || merged == 0 || merged > UINT32_MAX || dur > INT64_MAX / 2)
			goto out;
		if (i == 0) {
			if (step || gap)
				goto out;
			f->seq = seq;
			f->start_ns = (int64_t)start;
			memcpy(f->prev_hash, prev_hash, HV_HASH_LEN);
		} else {
			const struct frame *p = &b->frames[i - 1];

			/* consecutive: the step is exactly the previous frame's width */
			if (step != p->merged || gap < 0 || p->seq > UINT64_MAX - step ||
			    __builtin_add_overflow(prev_end, gap, &f->start_ns))
				goto out;
			f->seq = p->seq + step;
			memcpy(f->prev_hash, p->hash, HV_HASH_LEN);
		}
		/* times come from the peer: no arithmetic on them may overflow */
		if (__builtin_add_overflow(f->start_ns, (int64_t)dur, &f->end_ns))
			goto out;
		prev_end = f->end_ns;
		f->flags = (uint32_t)flags;
		f->merged = (uint32_t)merged;
		if (pol && dict_copy(buf, dict, n_str, pol - 1, f->policy, sizeof(f->policy)))
			goto out;
		if (rbuf_uvarint(&r, &n_res) || n_res > FRAME_MAX_RESOURCES || n_res > rbuf_left(&r) / 2)
			goto out;
		for (uint64_t k = 0; k < n_res; k++) {
			struct frame_resource res;
			uint64_t idx, na, ka, va;

			memset(&res, 0, sizeof(res));
			if (rbuf_uvarint(&r, &idx) ||
			    dict_copy(buf, dict, n_str, idx, res.resource, sizeof(res.resource)) ||
			    rbuf_uvarint(&r, &na) || na > HV_ATTRS_MAX)
				goto out;
			for (uint64_t a = 0; a < na; a++)
				if (rbuf_uvarint(&r, &ka) || rbuf_uvarint(&r, &va) ||
				    dict_copy(buf, dict, n_str, ka, res.attrs[a].key, sizeof(res.attrs[a].key)) ||
				    dict_copy(buf, dict, n_str, va, res.attrs[a].value, sizeof(res.attrs[a].value)))
					goto out;
			res.n_attrs = (uint32_t)na;
			if (frame_resource_add(f, &res)) {
				err = -ENOMEM;
				goto out;
			}
		}
		if (rbuf_uvarint(&r, &n_delta) || n_delta > rbuf_left(&r) / 2)
			goto out;
		total_deltas += n_delta;
		if (total_deltas > BATCH_MAX_DELTAS) {
			err = -E2BIG;
			goto out;
		}
		for (uint64_t k = 0; k < n_delta; k++) {
			char res[HV_ID_MAX], metric[HV_METRIC_MAX], labels[HV_LABELS_MAX];
			uint64_t si;
			int64_t v;

			if (rbuf_uvarint(&r, &si) || si >= n_ser || (k && si <= last) || rbuf_svarint(&r, &v))
				goto out;
			last = si;
			if (dict_copy(buf, dict, n_str, ser[si][0], res, sizeof(res)) ||
			    dict_copy(buf, dict, n_str, ser[si][1], metric, sizeof(metric)) ||
			    dict_copy(buf, dict, n_str, ser[si][2], labels, sizeof(labels)))
				goto out;
			if (frame_delta_add(f, res, metric, labels, v)) {
				err = -ENOMEM;
				goto out;
			}
		}
		if (rbuf_get(&r, f->hash, HV_HASH_LEN))
			goto out;
	}
	{
		uint64_t sl;

		if (rbuf_uvarint(&r, &sl) || sl > BATCH_SIG_MAX || rbuf_get(&r, b->sig, sl))
			goto out;
		b->sig_len = sl;
	}
	if (rbuf_left(&r))
		goto out;
	err = 0;
out:
	free(dict);
	free(ser);
	if (err)
		batch_free(b);
	return err;
}

int batch_chain_check(const struct batch *b, const uint8_t head[HV_HASH_LEN], size_t *bad_index)
{
	for (size_t i = 0; i < b->n_frames; i++) {
		struct frame copy;
		uint8_t *bytes = NULL, h[HV_HASH_LEN];
		size_t len;
		bool ok;

		*bad_index = i;
		/* canonical bytes come from a canonicalized copy: the decoded frame
		 * keeps its order, which a hostile sender chose */
		frame_init(&copy);
		ok = frame_copy(&copy, &b->frames[i]) == 0;
		if (ok) {
			frame_canonicalize(&copy);
			ok = frame_encode(&copy, &bytes, &len) == 0 && frame_hash(bytes, len, h) == 0 &&
			     memcmp(h, b->frames[i].hash, HV_HASH_LEN) == 0;
		}
		free(bytes);
		frame_free(&copy);
		if (!ok)
			return -EBADMSG;
		if (i == 0 && head && memcmp(b->frames[0].prev_hash, head, HV_HASH_LEN))
			return -EBADMSG;
	}
	return 0;
}
