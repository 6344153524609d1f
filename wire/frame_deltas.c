#include "wire/frame_deltas.h"
#include "wire/strhash.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/*
 * The names table is built with a small open-addressing set: a host has a
 * few dozen distinct metric names and label sets however many deltas it
 * has, so each delta costs two hashed look-ups instead of a sort.
 */
struct name_set {
	const char **name; /* slot -> interned string (points into a delta) */
	uint32_t *id;      /* slot -> id in order of first use */
	size_t cap, n;     /* cap: power of two */
	const char **by_id;
	size_t cap_id;
};

static uint64_t name_hash(const char *s)
{
	return hv_strhash(HV_STRHASH_SEED, s);
}

static int name_set_grow(struct name_set *ns)
{
	size_t cap = ns->cap ? ns->cap * 2 : 64;
	const char **name = calloc(cap, sizeof(*name));
	uint32_t *id = calloc(cap, sizeof(*id));

	if (!name || !id) {
		free(name);
		free(id);
		return -ENOMEM;
	}
	for (size_t i = 0; i < ns->cap; i++) {
		size_t slot;

		if (!ns->name[i])
			continue;
		slot = name_hash(ns->name[i]) & (cap - 1);
		while (name[slot])
			slot = (slot + 1) & (cap - 1);
		name[slot] = ns->name[i];
		id[slot] = ns->id[i];
	}
	free(ns->name);
	free(ns->id);
	ns->name = name;
	ns->id = id;
	ns->cap = cap;
	return 0;
}

/* The id of @s, interning it when new. Returns 0 or -ENOMEM. */
static int name_set_id(struct name_set *ns, const char *s, uint32_t *out)
{
	size_t slot;

	if ((ns->n + 1) * 2 > ns->cap && name_set_grow(ns))
		return -ENOMEM;
	slot = name_hash(s) & (ns->cap - 1);
	while (ns->name[slot]) {
		if (strcmp(ns->name[slot], s) == 0) {
			*out = ns->id[slot];
			return 0;
		}
		slot = (slot + 1) & (ns->cap - 1);
	}
	if (ns->n == ns->cap_id) {
		size_t cap = ns->cap_id ? ns->cap_id * 2 : 32;
		const char **by_id = realloc(ns->by_id, cap * sizeof(*by_id));

		if (!by_id)
			return -ENOMEM;
		ns->by_id = by_id;
		ns->cap_id = cap;
	}
	ns->name[slot] = s;
	ns->id[slot] = (uint32_t)ns->n;
	ns->by_id[ns->n] = s;
	*out = (uint32_t)ns->n++;
	return 0;
}

static void name_set_free(struct name_set *ns)
{
	free(ns->name);
	free(ns->id);
	free(ns->by_id);
}

static int str_ptr_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The id of @s, trying the previous answer first (labels are mostly ""). */
static int name_id_cached(struct name_set *ns, const char *s, const char **last, uint32_t *last_id,
			  uint32_t *out)
{
	int err;

	if (*last && strcmp(*last, s) == 0) {
		*out = *last_id;
		return 0;
	}
	if ((err = name_set_id(ns, s, out)))
		return err;
	*last = s;
	*last_id = *out;
	return 0;
}

int frame_deltas_encode(struct wbuf *b, const struct frame *f)
{
	struct name_set ns = { 0 };
	uint32_t *ids = NULL, *rank = NULL, last_m = 0, last_l = 0;
	const char **sorted = NULL, *lm = NULL, *ll = NULL;
	size_t n_groups = 0, *group_end = NULL;
	int err = -ENOMEM;

	if (f->n_delta && (!(ids = malloc(2 * f->n_delta * sizeof(*ids))) ||
			   !(group_end = malloc(f->n_delta * sizeof(*group_end)))))
		goto out;
	/* one pass: name ids, and where each resource's run of deltas ends */
	for (size_t i = 0; i < f->n_delta; i++) {
		if ((err = name_id_cached(&ns, f->delta[i].metric, &lm, &last_m, &ids[2 * i])) ||
		    (err = name_id_cached(&ns, f->delta[i].labels, &ll, &last_l, &ids[2 * i + 1])))
			goto out;
		if (i + 1 == f->n_delta || strcmp(f->delta[i + 1].resource, f->delta[i].resource))
			group_end[n_groups++] = i + 1;
	}
	err = -ENOMEM;
	if (ns.n && (!(sorted = malloc(ns.n * sizeof(*sorted))) ||
		     !(rank = malloc(ns.n * sizeof(*rank)))))
		goto out;
	if (ns.n) {
		memcpy(sorted, ns.by_id, ns.n * sizeof(*sorted));
		qsort(sorted, ns.n, sizeof(*sorted), str_ptr_cmp);
	}
	/* a delta takes at most 2 + 2 + 10 bytes here; a group id at most 1 + 64 + 10 */
	wbuf_reserve(b, f->n_delta * 14 + n_groups * 75 + ns.n * (2 + HV_LABELS_MAX) + 20);
	wbuf_uvarint(b, ns.n);
	for (size_t k = 0; k < ns.n; k++) {
		uint32_t id = 0;

		wbuf_str(b, sorted[k]);
		(void)name_set_id(&ns, sorted[k], &id); /* present: no allocation */
		rank[id] = (uint32_t)k;
	}
	wbuf_uvarint(b, n_groups);
	for (size_t g = 0, i = 0; g < n_groups; g++) {
		wbuf_str(b, f->delta[i].resource);
		wbuf_uvarint(b, group_end[g] - i);
		for (; i < group_end[g]; i++) {
			wbuf_uvarint(b, rank[ids[2 * i]]);
			wbuf_uvarint(b, rank[ids[2 * i + 1]]);
			wbuf_svarint(b, f->delta[i].value);
		}
	}
	err = 0;
out:
	free(ids);
	free(group_end);
	free(rank);
	free(sorted);
	name_set_free(&ns);
	return err;
}

int frame_delta_append(struct frame *f, const char *resource, const char *metric,
		       const char *labels, int64_t value)
{
	struct frame_delta *d;

	if (f->n_delta == f->cap_delta) {
		size_t cap = f->cap_delta ? f->cap_delta * 2 : 64;
		struct frame_delta *nd = realloc(f->delta, cap * sizeof(*nd));

		if (!nd)
			return -ENOMEM;
		f->delta = nd;
		f->cap_delta = cap;
	}
	/* the index (frame.c) no longer covers every delta: drop it, rebuilt on demand */
	if (f->index) {
		free(f->index);
		f->index = NULL;
		f->index_cap = 0;
	}
	d = &f->delta[f->n_delta++];
	memset(d, 0, sizeof(*d));
	strcpy(d->resource, resource);
	strcpy(d->metric, metric);
	strcpy(d->labels, labels);
	d->value = value;
	return 0;
}

/* A name of the section, by reference into the buffer being decoded. */
struct name_ref {
	const char *p;
	size_t len;
};

/* Reads a string shorter than @cap with no NUL inside, by reference. */
static int read_ref(struct rbuf *r, size_t cap, struct name_ref *out)
{
	uint64_t n;

	if (rbuf_uvarint(r, &n) || n >= cap || n > rbuf_left(r))
		return -EBADMSG;
	out->p = (const char *)r->p + r->off;
	out->len = (size_t)n;
	if (memchr(out->p, '\0', out->len))
		return -EBADMSG;
	r->off += out->len;
	return 0;
}

static int ref_cmp(const struct name_ref *a, const struct name_ref *b)
{
	int c = memcmp(a->p, b->p, a->len < b->len ? a->len : b->len);

	return c ? c : (a->len > b->len) - (a->len < b->len);
}

static void ref_copy(char *dst, const struct name_ref *ref)
{
	memcpy(dst, ref->p, ref->len);
	dst[ref->len] = '\0';
}

int frame_deltas_decode(struct rbuf *r, struct frame *f)
{
	struct name_ref *names = NULL, res, prev_res = { "", 0 };
	bool *used = NULL;
	char res_s[HV_ID_MAX], metric[HV_METRIC_MAX], labels[HV_LABELS_MAX];
	uint64_t n_names, n_groups, total = 0;
	int err = -EBADMSG;

	/* every name takes at least one byte: a count beyond that is a lie */
	if (rbuf_uvarint(r, &n_names) || n_names > rbuf_left(r) || n_names > 2 * (uint64_t)FRAME_MAX_DELTAS)
		return -EBADMSG;
	if (n_names && (!(names = malloc(n_names * sizeof(*names))) ||
			!(used = calloc(n_names, sizeof(*used))))) {
		err = -ENOMEM;
		goto out;
	}
	for (uint64_t k = 0; k < n_names; k++) {
		if (read_ref(r, HV_LABELS_MAX, &names[k]))
			goto out;
		if (k && ref_cmp(&names[k - 1], &names[k]) >= 0)
			goto out; /* sorted and unique */
	}
	/* a group takes at least 5 bytes (an id, a count, one delta of 3) */
	if (rbuf_uvarint(r, &n_groups) || n_groups > rbuf_left(r) / 5)
		goto out;
	for (uint64_t g = 0; g < n_groups; g++) {
		uint64_t n, prev_m = 0, prev_l = 0;

		if (read_ref(r, HV_ID_MAX, &res) || (g && ref_cmp(&prev_res, &res) >= 0))
			goto out;
		prev_res = res;
		ref_copy(res_s, &res);
		if (rbuf_uvarint(r, &n) || n == 0 || n > rbuf_left(r) / 3 ||
		    n > FRAME_MAX_DELTAS - total)
			goto out;
		total += n;
		for (uint64_t i = 0; i < n; i++) {
			uint64_t m, l;
			int64_t v;

			if (rbuf_uvarint(r, &m) || rbuf_uvarint(r, &l) || rbuf_svarint(r, &v) ||
			    m >= n_names || l >= n_names || names[m].len >= HV_METRIC_MAX)
				goto out;
			/* names are sorted, so index order is string order */
			if (i && (m < prev_m || (m == prev_m && l <= prev_l)))
				goto out;
			used[m] = used[l] = true;
			prev_m = m;
			prev_l = l;
			ref_copy(metric, &names[m]);
			ref_copy(labels, &names[l]);
			if ((err = frame_delta_append(f, res_s, metric, labels, v)))
				goto out;
			err = -EBADMSG;
		}
	}
	for (uint64_t k = 0; k < n_names; k++)
		if (!used[k])
			goto out; /* one canonical form: no name without a delta */
	err = 0;
out:
	free(names);
	free(used);
	return err;
}
