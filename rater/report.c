/*
 * report.c — stored usage -> records -> quantities -> prices.
 *
 * The store's usage rows come in key order (period, host, resource, metric,
 * labels). Each row that feeds a service becomes a contribution; sorting the
 * contributions by (period, resource, service, host) brings together what
 * makes one record, whatever host or series it came from.
 */
#include "rater/report.h"
#include "rater/period.h"
#include "rater/quantity.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct contribution {
	int64_t begin_s;
	size_t service;        /* index in the metrics map */
	char *key;             /* the record's resource id */
	char *resource;        /* as stored ("host" for the host's own series) */
	char *host;
	int64_t sum, max, dur_ns;
	uint64_t frames;
};

struct build {
	struct rstore *rs;
	const struct metrics_map *m;
	const struct report_opts *o;
	struct report *r;
	struct period_clock clock;
	char **host_ids;
	int64_t *last_end_ns;
	size_t n_hosts, cap_hosts;
	int64_t cached_begin;  /* closedness of the period last seen */
	bool cached_closed;
	struct contribution *c;
	size_t n, cap;
};

static int host_collect(const struct rstore_host *h, void *arg)
{
	struct build *b = arg;

	if (b->n_hosts == b->cap_hosts) {
		size_t cap = b->cap_hosts ? 2 * b->cap_hosts : 16;
		char **ids = realloc(b->host_ids, cap * sizeof(*ids));
		int64_t *ends;

		if (!ids)
			return -ENOMEM;
		b->host_ids = ids;
		ends = realloc(b->last_end_ns, cap * sizeof(*ends));
		if (!ends)
			return -ENOMEM;
		b->last_end_ns = ends;
		b->cap_hosts = cap;
	}
	b->host_ids[b->n_hosts] = strdup(h->host_id);
	if (!b->host_ids[b->n_hosts])
		return -ENOMEM;
	b->last_end_ns[b->n_hosts++] = h->last_end_ns;
	return 0;
}

static bool period_closed(struct build *b, int64_t begin_s)
{
	size_t behind;

	if (begin_s == b->cached_begin)
		return b->cached_closed;
	b->cached_begin = begin_s;
	b->cached_closed = period_is_closed(&b->clock, begin_s, &behind);
	if (!b->cached_closed && begin_s < b->r->first_open_s) {
		b->r->first_open_s = begin_s;
		snprintf(b->r->behind_host, sizeof(b->r->behind_host), "%s",
			 behind == (size_t)-1 ? "" : b->host_ids[behind]);
	}
	return b->cached_closed;
}

static int contribution_add(struct build *b, const struct rstore_usage *u, size_t service)
{
	struct contribution *c;
	bool own = strcmp(u->resource, "host") == 0;

	if (b->n == b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 256;
		struct contribution *nc = realloc(b->c, cap * sizeof(*nc));

		if (!nc)
			return -ENOMEM;
		b->c = nc;
		b->cap = cap;
	}
	c = &b->c[b->n];
	memset(c, 0, sizeof(*c));
	c->begin_s = u->period_start;
	c->service = service;
	c->key = strdup(own ? u->host : u->resource);
	c->resource = strdup(u->resource);
	c->host = strdup(u->host);
	b->n++; /* counted before the checks: freed with the rest on failure */
	if (!c->key || !c->resource || !c->host)
		return -ENOMEM;
	c->sum = u->sum;
	c->max = u->max;
	c->dur_ns = u->dur_ns;
	c->frames = u->frames;
	return 0;
}

static int usage_row(const struct rstore_usage *u, void *arg)
{
	struct build *b = arg;
	bool used = false;
	int err;

	b->r->n_series++;
	if (!period_closed(b, u->period_start) && !b->o->include_open)
		return 0;
	for (size_t i = 0; i < b->m->n_services; i++) {
		const struct metrics_service *s = &b->m->services[i];

		if (strcmp(s->metric, u->metric) || !metrics_service_matches(s, u->resource, u->labels))
			continue;
		if ((err = contribution_add(b, u, i)))
			return err;
		used = true;
	}
	b->r->n_unmapped += !used;
	return 0;
}

static int cmp_contribution(const void *x, const void *y)
{
	const struct contribution *a = x, *b = y;
	int c;

	if (a->begin_s != b->begin_s)
		return a->begin_s < b->begin_s ? -1 : 1;
	if ((c = strcmp(a->key, b->key)))
		return c;
	if (a->service != b->service)
		return a->service < b->service ? -1 : 1;
	return strcmp(a->host, b->host);
}

/* Contributions to one record: same period, resource and service (any host). */
static bool same_record(const struct contribution *a, const struct contribution *b)
{
	return a->begin_s == b->begin_s && a->service == b->service && strcmp(a->key, b->key) == 0;
}

static int cmp_record(const void *x, const void *y)
{
	const struct report_record *a = x, *b = y;
	int c;

	if (a->begin_s != b->begin_s)
		return a->begin_s < b->begin_s ? -1 : 1;
	if ((c = strcmp(a->project, b->project)) || (c = strcmp(a->resource, b->resource)))
		return c;
	return strcmp(a->service->name, b->service->name);
}

static void record_clear(struct report_record *rec)
{
	free(rec->project);
	free(rec->resource);
	free(rec->host);
	free(rec->name);
	free(rec->project_name);
	for (size_t i = 0; i < rec->n_attrs; i++) {
		free((char *)rec->attrs[i].key);
		free((char *)rec->attrs[i].value);
	}
	free(rec->attrs);
	decimal_clear(&rec->qty);
	decimal_clear(&rec->price);
}

void report_free(struct report *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_records; i++)
		record_clear(&r->records[i]);
	free(r->records);
	free(r);
}

static char *dup_or_null(const char *s)
{
	return s && *s ? strdup(s) : NULL;
}

/* The record's metadata: @meta's attributes that the service lists, in the list's order. */
static int record_attrs(struct report_record *rec, const struct frame_resource *meta)
{
	const struct metrics_service *s = rec->service;

	rec->attrs = calloc(s->n_metadata + 1, sizeof(*rec->attrs));
	if (!rec->attrs)
		return -ENOMEM;
	for (size_t i = 0; i < s->n_metadata; i++) {
		const char *v = meta ? frame_attr_get(meta, s->metadata[i]) : NULL;
		struct rating_attr *a = &rec->attrs[rec->n_attrs];

		if (!v)
			continue; /* absent: not "" (a field rule on it must not match) */
		a->key = strdup(s->metadata[i]);
		a->value = strdup(v);
		rec->n_attrs++;
		if (!a->key || !a->value)
			return -ENOMEM;
	}
	return 0;
}

/* Prices @rec: its metadata with the group-by columns laid over, as `hvrater rate` does. */
static int record_price(struct report_record *rec, const struct rules *rules,
			const struct rating_log *log)
{
	struct rating_attr *desc = calloc(rec->n_attrs + 2, sizeof(*desc));
	struct rating_record rr;
	size_t n = 0;
	int err;

	if (!desc)
		return -ENOMEM;
	/* rating takes a key's first occurrence: the group-by keys go first */
	if (*rec->project)
		desc[n++] = (struct rating_attr){ "project", rec->project };
	desc[n++] = (struct rating_attr){ "resource", rec->resource };
	for (size_t i = 0; i < rec->n_attrs; i++)
		desc[n++] = rec->attrs[i];
	rr = (struct rating_record){
		.service = rec->service->name,
		.project = rec->project,
		.qty = &rec->qty,
		.n_attrs = n,
		.attrs = desc,
	};
	decimal_set_long(&rec->price, 0);
	err = rating_price(rules, &rr, &rec->price, log);
	free(desc);
	return err;
}

/*
 * Turns the contributions c[lo..hi) (one record's) into a record of b->r,
 * unless the project filter drops it. @meta caches the metadata last read
 * (for @meta_of's host, resource and period).
 */
static int record_make(struct build *b, const struct rules *rules, const struct rating_log *log,
		       size_t lo, size_t hi, struct frame_resource *meta, bool *meta_found,
		       const struct contribution **meta_of, char *err, size_t errlen)
{
	const struct contribution *c = &b->c[lo];
	const struct metrics_service *s = &b->m->services[c->service];
	struct report *r = b->r;
	struct report_record *rec;
	struct quantity_acc acc;
	const char *project;
	int rc;

	/* the same resource, host and period as the record before: same metadata */
	if (!*meta_of || (*meta_of)->begin_s != c->begin_s || strcmp((*meta_of)->host, c->host) ||
	    strcmp((*meta_of)->resource, c->resource)) {
		int64_t end_ns = (c->begin_s + (int64_t)r->period_s) * 1000000000;

		rc = rstore_resource_at(b->rs, c->host, c->resource, end_ns - 1, meta);
		if (rc && rc != -ENOENT) {
			snprintf(err, errlen, "reading the metadata of %s on %s: %s", c->resource, c->host,
				 rstore_strerror(rc));
			return rc;
		}
		*meta_found = rc == 0;
		*meta_of = c;
	}
	project = *meta_found ? frame_attr_get(meta, "project") : NULL;
	if (!project)
		project = "";
	if (b->o->project && strcmp(b->o->project, project))
		return 0;

	rec = &r->records[r->n_records];
	memset(rec, 0, sizeof(*rec));
	decimal_init(&rec->qty);
	decimal_init(&rec->price);
	r->n_records++; /* counted now: report_free() frees a half-built record */
	rec->begin_s = c->begin_s;
	rec->end_s = c->begin_s + r->period_s;
	rec->closed = period_closed(b, c->begin_s);
	rec->service = s;
	rec->project = strdup(project);
	rec->resource = strdup(c->key);
	rec->host = strdup(c->host);
	if (*meta_found) {
		rec->name = dup_or_null(frame_attr_get(meta, "name"));
		rec->project_name = dup_or_null(frame_attr_get(meta, "project_name"));
	}
	if (!rec->project || !rec->resource || !rec->host)
		return -ENOMEM;
	if ((rc = record_attrs(rec, *meta_found ? meta : NULL)))
		return rc;

	quantity_acc_init(&acc);
	for (size_t i = lo; i < hi; i++)
		quantity_acc_add(&acc, b->c[i].sum, b->c[i].max, b->c[i].frames, b->c[i].dur_ns);
	rc = quantity_compute(s, &acc, &rec->qty);
	quantity_acc_clear(&acc);
	if (!rc)
		rc = record_price(rec, rules, log);
	if (rc == -ERANGE)
		snprintf(err, errlen, "service %s, resource %s, period beginning at %lld: the quantity "
			 "or the price is beyond the decimal range", s->name, rec->resource,
			 (long long)c->begin_s);
	return rc;
}

int report_build(struct rstore *rs, const struct metrics_map *m, const struct rules *rules,
		 const struct report_opts *o, const struct rating_log *log, struct report **out,
		 char *err, size_t errlen)
{
	struct build b = { .m = m, .o = o, .rs = rs, .cached_begin = INT64_MIN };
	const struct contribution *meta_of = NULL;
	struct frame_resource *meta = NULL;
	bool meta_found = false;
	size_t n_records = 0;
	int rc;

	*out = NULL;
	if (errlen)
		err[0] = '\0';
	b.r = calloc(1, sizeof(*b.r));
	meta = malloc(sizeof(*meta));
	if (!b.r || !meta) {
		rc = -ENOMEM;
		goto cleanup;
	}
	b.r->period_s = rstore_period(rs);
	b.r->first_open_s = INT64_MAX;
	if ((rc = rstore_hosts_foreach(rs, host_collect, &b))) {
		snprintf(err, errlen, "reading the hosts: %s", rstore_strerror(rc));
		goto cleanup;
	}
	b.clock = (struct period_clock){
		.period_s = b.r->period_s,
		.close_wait_s = o->close_wait_s,
		.now_ns = o->now_ns,
		.n_hosts = b.n_hosts,
		.last_end_ns = b.last_end_ns,
	};
	if ((rc = rstore_usage_foreach(rs, o->from_s, o->to_s, NULL, usage_row, &b))) {
		snprintf(err, errlen, "reading the usage: %s", rstore_strerror(rc));
		goto cleanup;
	}
	qsort(b.c, b.n, sizeof(*b.c), cmp_contribution);
	for (size_t i = 0; i < b.n; i++)
		n_records += i == 0 || !same_record(&b.c[i - 1], &b.c[i]);
	b.r->records = calloc(n_records + 1, sizeof(*b.r->records));
	if (!b.r->records) {
		rc = -ENOMEM;
		goto cleanup;
	}
	for (size_t lo = 0, hi; lo < b.n; lo = hi) {
		const struct contribution *c = &b.c[lo];

		/* one record: same period, resource and service, any host */
		for (hi = lo + 1; hi < b.n && same_record(c, &b.c[hi]); hi++)
			;
		if ((rc = record_make(&b, rules, log, lo, hi, meta, &meta_found, &meta_of, err, errlen)))
			goto cleanup;
	}
	qsort(b.r->records, b.r->n_records, sizeof(*b.r->records), cmp_record);
	*out = b.r;
	b.r = NULL;
cleanup:
	if (rc == -ENOMEM && errlen)
		snprintf(err, errlen, "out of memory");
	for (size_t i = 0; i < b.n; i++) {
		free(b.c[i].key);
		free(b.c[i].resource);
		free(b.c[i].host);
	}
	free(b.c);
	for (size_t i = 0; i < b.n_hosts; i++)
		free(b.host_ids[i]);
	free(b.host_ids);
	free(b.last_end_ns);
	free(meta);
	report_free(b.r);
	return rc;
}
