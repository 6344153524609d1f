/*
 * hvmeter dump — the stored deltas, one row per (frame, resource, metric,
 * labels). A frame is included when it lies inside [--from, --to]
 * (start >= from and end <= to): frames are never cut. A merged frame
 * (invariant 7) says how many original frames it holds: CSV column
 * `originals` (1 for a frame as written), JSON "merged":true,"originals":N.
 *
 * --format lmdb is the raw passthrough for auditors: every database of the
 * store exactly as `mdb_dump -a` prints it (VERSION=3, bytevalue, one
 * HEADER=END / DATA=END section per database), which `mdb_load` reads back.
 * Filters do not apply to it.
 */
#include "daemon/cli.h"
#include "store/store.h"
#include "wire/frame.h"
#include "wire/metric.h"
#include "wire/timefmt.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum dump_format { FMT_CSV, FMT_JSON, FMT_JSONL, FMT_LMDB };

/* Names known for each resource: from announcements as frames go by. */
struct name_entry {
	char resource[HV_ID_MAX];
	char name[HV_ATTR_VAL_MAX];
	char project[HV_ATTR_VAL_MAX];
};

struct dump_ctx {
	struct store *st;
	char host_id[HV_ID_MAX];
	int64_t from, to;
	const char *resource, *project, *metric;
	enum dump_format fmt;
	size_t rows;
	struct name_entry *names;
	size_t n_names, cap_names;
	int err;
};

static struct name_entry *names_get(struct dump_ctx *c, const char *resource)
{
	struct frame_resource r;
	struct name_entry *e;

	for (size_t i = 0; i < c->n_names; i++)
		if (strcmp(c->names[i].resource, resource) == 0)
			return &c->names[i];
	if (c->n_names == c->cap_names) {
		size_t cap = c->cap_names ? c->cap_names * 2 : 32;
		struct name_entry *nv = realloc(c->names, cap * sizeof(*nv));

		if (!nv)
			return NULL;
		c->names = nv;
		c->cap_names = cap;
	}
	e = &c->names[c->n_names++];
	memset(e, 0, sizeof(*e));
	snprintf(e->resource, sizeof(e->resource), "%s", resource);
	if (strcmp(resource, "host") == 0) {
		snprintf(e->name, sizeof(e->name), "%s", c->host_id);
	} else if (store_resource_get(c->st, resource, &r) == 0) {
		/* announced in a frame no longer kept: the store's latest metadata */
		const char *v;

		if ((v = frame_attr_get(&r, "name")))
			snprintf(e->name, sizeof(e->name), "%s", v);
		if ((v = frame_attr_get(&r, "project")))
			snprintf(e->project, sizeof(e->project), "%s", v);
	}
	return e;
}

static void csv_field(const char *s, FILE *out)
{
	if (!strpbrk(s, ",\"\n\r")) {
		fputs(s, out);
		return;
	}
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', out);
		fputc(*s, out);
	}
	fputc('"', out);
}

static void json_str(const char *s, FILE *out)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(out, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(out, "\\u%04x", ch);
		else
			fputc(ch, out);
	}
	fputc('"', out);
}

static int dump_frame(const struct frame *f, void *arg)
{
	struct dump_ctx *c = arg;
	char start[RFC3339_LEN], end[RFC3339_LEN];

	/* announcements in this frame update the names first */
	for (size_t i = 0; i < f->n_res; i++) {
		struct name_entry *e = names_get(c, f->res[i].resource);
		const char *v;

		if (!e)
			return -ENOMEM;
		if ((v = frame_attr_get(&f->res[i], "name")))
			snprintf(e->name, sizeof(e->name), "%s", v);
		if ((v = frame_attr_get(&f->res[i], "project")))
			snprintf(e->project, sizeof(e->project), "%s", v);
	}
	if (f->start_ns < c->from || f->end_ns > c->to)
		return 0;
	rfc3339_format(f->start_ns, start, sizeof(start));
	rfc3339_format(f->end_ns, end, sizeof(end));
	for (size_t i = 0; i < f->n_delta; i++) {
		const struct frame_delta *d = &f->delta[i];
		const struct metric_def *m = metric_lookup(d->metric);
		struct name_entry *e = names_get(c, d->resource);
		char value[32];

		if (!e)
			return -ENOMEM;
		if ((c->resource && strcmp(c->resource, d->resource)) ||
		    (c->project && strcmp(c->project, e->project)) ||
		    (c->metric && strcmp(c->metric, d->metric)))
			continue;
		metric_value_format(m, d->value, value, sizeof(value));
		if (c->fmt == FMT_CSV) {
			printf("%" PRIu64 ",%s,%s,", f->seq, start, end);
			csv_field(d->resource, stdout);
			putchar(',');
			csv_field(e->name, stdout);
			putchar(',');
			csv_field(e->project, stdout);
			putchar(',');
			csv_field(d->metric, stdout);
			putchar(',');
			csv_field(d->labels, stdout);
			printf(",%s,%s,%u\n", m ? m->unit : "", value, f->merged);
		} else {
			if (c->fmt == FMT_JSON)
				fputs(c->rows ? ",\n " : "[\n ", stdout);
			printf("{\"seq\":%" PRIu64 ",\"start\":\"%s\",\"end\":\"%s\",\"resource\":", f->seq,
			       start, end);
			json_str(d->resource, stdout);
			fputs(",\"name\":", stdout);
			json_str(e->name, stdout);
			fputs(",\"project\":", stdout);
			json_str(e->project, stdout);
			fputs(",\"metric\":", stdout);
			json_str(d->metric, stdout);
			fputs(",\"labels\":", stdout);
			json_str(d->labels, stdout);
			printf(",\"unit\":\"%s\",\"value\":%s", m ? m->unit : "", value);
			if (f->flags & FRAME_MERGED)
				printf(",\"merged\":true,\"originals\":%u", f->merged);
			putchar('}');
			if (c->fmt == FMT_JSONL)
				putchar('\n');
		}
		c->rows++;
	}
	return 0;
}

int cli_dump(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ "format", required_argument, NULL, 'F' },
		{ "resource", required_argument, NULL, 'r' },
		{ "project", required_argument, NULL, 'p' },
		{ "metric", required_argument, NULL, 'm' },
		{ 0 }
	};
	struct dump_ctx c = { .from = INT64_MIN, .to = INT64_MAX };
	struct store_opts so = { .read_only = true };
	struct store_meta meta;
	const char *dir = NULL;
	int opt, err, rc = 1;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 's': dir = optarg; break;
		case 'f':
		case 't':
			if (rfc3339_parse(optarg, opt == 'f' ? &c.from : &c.to)) {
				fprintf(stderr, "hvmeter dump: bad time '%s' (want RFC 3339 or @SECONDS)\n",
					optarg);
				return 2;
			}
			break;
		case 'F':
			if (!strcmp(optarg, "csv"))
				c.fmt = FMT_CSV;
			else if (!strcmp(optarg, "json"))
				c.fmt = FMT_JSON;
			else if (!strcmp(optarg, "jsonl"))
				c.fmt = FMT_JSONL;
			else if (!strcmp(optarg, "lmdb"))
				c.fmt = FMT_LMDB;
			else {
				fprintf(stderr, "hvmeter dump: --format must be csv, json, jsonl or lmdb\n");
				return 2;
			}
			break;
		case 'r': c.resource = optarg; break;
		case 'p': c.project = optarg; break;
		case 'm': c.metric = optarg; break;
		default: return 2;
		}
	}
	if (!dir || optind != argc) {
		fprintf(stderr, "usage: hvmeter dump --store DIR [--from T] [--to T] [--resource ID] "
				"[--project ID] [--metric NAME] [--format csv|json|jsonl]\n"
				"       hvmeter dump --store DIR --format lmdb\n");
		return 2;
	}
	if (c.fmt == FMT_LMDB && (c.resource || c.project || c.metric || c.from != INT64_MIN ||
				  c.to != INT64_MAX)) {
		fprintf(stderr, "hvmeter dump: --format lmdb dumps the raw databases; filters do not apply\n");
		return 2;
	}
	if ((err = store_open(&c.st, dir, &so))) {
		fprintf(stderr, "hvmeter dump: cannot open store %s: %s\n", dir, store_strerror(err));
		return 1;
	}
	if (c.fmt == FMT_LMDB) {
		/* the store tells a read error from the end of the data, and a full pipe */
		if ((err = store_lmdb_dump(c.st, stdout)))
			goto out_err;
		rc = 0;
		goto out;
	}
	if ((err = store_meta_read(c.st, &meta)))
		goto out_err;
	snprintf(c.host_id, sizeof(c.host_id), "%s", meta.host_id);
	if (c.fmt == FMT_CSV)
		printf("seq,start,end,resource,name,project,metric,labels,unit,value,originals\n");
	err = store_frames_foreach(c.st, 0, dump_frame, &c);
	if (c.fmt == FMT_JSON)
		fputs(c.rows ? "\n]\n" : "[]\n", stdout);
	if (err)
		goto out_err;
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "hvmeter dump: write error\n");
		goto out;
	}
	rc = 0;
	goto out;
out_err:
	fprintf(stderr, "hvmeter dump: %s: %s\n", dir, store_strerror(err));
out:
	free(c.names);
	store_close(c.st);
	return rc;
}
