/* hvrater hosts / totals — what the rater holds, per host and per series. */
#include "rater/cli_hosts.h"
#include "rater/rater_config.h"
#include "rater/rstore.h"
#include "wire/metric.h"
#include "wire/timefmt.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The store directory from -c FILE or --store DIR (the latter wins). */
static int store_dir(const char *cmd, const char *config, const char *dir, char *out, size_t len)
{
	struct rater_config cfg;
	char err[RATER_ERR_MAX];

	if (dir) {
		snprintf(out, len, "%s", dir);
		return 0;
	}
	if (!config) {
		fprintf(stderr, "hvrater %s: give -c FILE or --store DIR\n", cmd);
		return 2;
	}
	if (rater_config_load(&cfg, config, err)) {
		fprintf(stderr, "hvrater %s: %s\n", cmd, err);
		return 1;
	}
	snprintf(out, len, "%s", cfg.store);
	return 0;
}

static int store_open_ro(const char *cmd, const char *dir, struct rstore **rs)
{
	struct rstore_opts ro = { .read_only = true };
	int err = rstore_open(rs, dir, &ro);

	if (err)
		fprintf(stderr, "hvrater %s: cannot open store %s: %s\n", cmd, dir,
			err == -ENOENT ? "no rater store there (nothing received yet?)" : rstore_strerror(err));
	return err;
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

/* ---- hosts ------------------------------------------------------------------------- */

struct hosts_ctx {
	bool csv;
	int64_t now;
	size_t n;
};

static int host_row(const struct rstore_host *h, void *arg)
{
	struct hosts_ctx *c = arg;
	char seen[RFC3339_LEN] = "-", end[RFC3339_LEN] = "-", head[2 * HV_HASH_LEN + 1];
	double lag = h->last_end_ns ? (double)(c->now - h->last_end_ns) / 1e9 : 0;

	if (h->last_seen_ns)
		rfc3339_format(h->last_seen_ns, seen, sizeof(seen));
	if (h->last_end_ns)
		rfc3339_format(h->last_end_ns, end, sizeof(end));
	frame_hash_hex(h->head, head);
	if (c->csv) {
		csv_field(h->host_id, stdout);
		printf(",%s,%" PRIu64 ",%" PRIu64 ",%s,%s,%.3f,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",", seen,
		       h->first_seq, h->last_seq, head, end, lag, h->frames, h->batches, h->duplicates);
		csv_field(h->peer, stdout);
		putchar('\n');
	} else {
		printf("host:          %s\n", h->host_id);
		printf("last seen:     %s from %s\n", seen, h->peer[0] ? h->peer : "?");
		printf("sequences:     %" PRIu64 "..%" PRIu64 " (%" PRIu64 " frames stored, %" PRIu64
		       " batches, %" PRIu64 " duplicate frames skipped)\n", h->first_seq, h->last_seq,
		       h->frames, h->batches, h->duplicates);
		printf("chain head:    %s\n", head);
		printf("last frame:    ends %s\n", end);
		printf("lag:           %.1f s\n\n", lag);
	}
	c->n++;
	return 0;
}

static void usage_hosts(FILE *f)
{
	fputs("Usage: hvrater hosts (-c FILE | --store DIR) [--format table|csv]\n"
	      "Every host the rater has heard from: last seen, sequences, chain head, lag.\n"
	      "Lag is the time from the end of the host's last stored frame until now.\n"
	      "CSV columns: host,last_seen,first_seq,last_seq,chain_head,last_end,lag_s,\n"
	      "frames,batches,duplicates,peer\n",
	      f);
}

int rater_cmd_hosts(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' }, { "store", required_argument, NULL, 's' },
		{ "format", required_argument, NULL, 'f' }, { "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *config = NULL, *dir = NULL;
	struct hosts_ctx c = { .now = 0 };
	struct rstore *rs = NULL;
	struct timespec ts;
	char path[RATER_PATH_MAX];
	int opt, rc, err;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "c:s:f:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': config = optarg; break;
		case 's': dir = optarg; break;
		case 'f':
			if (strcmp(optarg, "csv") && strcmp(optarg, "table")) {
				usage_hosts(stderr);
				return 2;
			}
			c.csv = strcmp(optarg, "csv") == 0;
			break;
		case 'h': usage_hosts(stdout); return 0;
		default: usage_hosts(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage_hosts(stderr);
		return 2;
	}
	if ((rc = store_dir("hosts", config, dir, path, sizeof(path))))
		return rc;
	if (store_open_ro("hosts", path, &rs))
		return 1;
	clock_gettime(CLOCK_REALTIME, &ts);
	c.now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	if (c.csv)
		puts("host,last_seen,first_seq,last_seq,chain_head,last_end,lag_s,frames,batches,duplicates,peer");
	err = rstore_hosts_foreach(rs, host_row, &c);
	rstore_close(rs);
	if (err) {
		fprintf(stderr, "hvrater hosts: %s\n", rstore_strerror(err));
		return 1;
	}
	if (!c.csv && !c.n)
		puts("no hosts yet");
	return fflush(stdout) ? 1 : 0;
}

/* ---- totals -------------------------------------------------------------------------- */

struct totals_ctx {
	bool periods;
	struct rstore_usage *rows;
	size_t n, cap;
};

static int row_cmp(const void *a, const void *b)
{
	const struct rstore_usage *x = a, *y = b;
	int c = strcmp(x->host, y->host);

	if (!c)
		c = strcmp(x->resource, y->resource);
	if (!c)
		c = strcmp(x->metric, y->metric);
	if (!c)
		c = strcmp(x->labels, y->labels);
	return c;
}

static void row_print(const struct rstore_usage *u, bool period)
{
	const struct metric_def *m = metric_lookup(u->metric);
	char value[32], start[RFC3339_LEN];

	if (metric_value_format(m, u->sum, value, sizeof(value)) < 0)
		snprintf(value, sizeof(value), "%" PRId64, u->sum);
	if (period) {
		rfc3339_format(u->period_start * 1000000000, start, sizeof(start));
		printf("%s,", start);
	}
	csv_field(u->host, stdout);
	putchar(',');
	csv_field(u->resource, stdout);
	putchar(',');
	csv_field(u->metric, stdout);
	putchar(',');
	csv_field(u->labels, stdout);
	printf(",%s,%s,%" PRIu64 "\n", m ? m->unit : "", value, u->frames);
}

static int usage_row(const struct rstore_usage *u, void *arg)
{
	struct totals_ctx *c = arg;

	if (c->periods) {
		row_print(u, true);
		return 0;
	}
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 256;
		struct rstore_usage *nr = realloc(c->rows, cap * sizeof(*nr));

		if (!nr)
			return -ENOMEM;
		c->rows = nr;
		c->cap = cap;
	}
	c->rows[c->n++] = *u;
	return 0;
}

static void usage_totals(FILE *f)
{
	fputs("Usage: hvrater totals (-c FILE | --store DIR) [--host ID] [--from T] [--to T] [--periods]\n"
	      "Stored usage as CSV, summed over the periods that start in [--from, --to)\n"
	      "(RFC 3339, YYYY-MM-DD or @SECONDS; default: all), one row per host,\n"
	      "resource, metric and labels:\n"
	      "  host,resource,metric,labels,unit,sum,frames\n"
	      "sum is the sum of the frames' values in the metric's unit, printed like\n"
	      "`hvmeter dump` prints values; frames counts the frames carrying it.\n"
	      "--periods prints one row per period instead, with a leading period column.\n",
	      f);
}

int rater_cmd_totals(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' }, { "store", required_argument, NULL, 's' },
		{ "host", required_argument, NULL, 'H' },   { "from", required_argument, NULL, 'F' },
		{ "to", required_argument, NULL, 'T' },     { "periods", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },         { 0 },
	};
	const char *config = NULL, *dir = NULL, *host = NULL;
	int64_t from = 0, to = INT64_MAX, ns;
	struct totals_ctx c = { .periods = false };
	struct rstore *rs = NULL;
	char path[RATER_PATH_MAX];
	int opt, rc, err;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "c:s:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': config = optarg; break;
		case 's': dir = optarg; break;
		case 'H': host = optarg; break;
		case 'F':
		case 'T':
			if (rfc3339_parse(optarg, &ns)) {
				fprintf(stderr, "hvrater totals: not a time: '%s'\n", optarg);
				return 2;
			}
			/* periods are compared in seconds; round up so [from is inclusive */
			if (opt == 'F')
				from = ns / 1000000000 + (ns % 1000000000 > 0);
			else
				to = ns / 1000000000 + (ns % 1000000000 > 0);
			break;
		case 'p': c.periods = true; break;
		case 'h': usage_totals(stdout); return 0;
		default: usage_totals(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage_totals(stderr);
		return 2;
	}
	if ((rc = store_dir("totals", config, dir, path, sizeof(path))))
		return rc;
	if (store_open_ro("totals", path, &rs))
		return 1;
	if (c.periods)
		fputs("period,", stdout);
	puts("host,resource,metric,labels,unit,sum,frames");
	err = rstore_usage_foreach(rs, from, to, host, usage_row, &c);
	rstore_close(rs);
	if (!err && !c.periods && c.n) {
		size_t out = 0;

		qsort(c.rows, c.n, sizeof(*c.rows), row_cmp);
		for (size_t i = 1; i < c.n; i++) {
			struct rstore_usage *a = &c.rows[out];

			if (row_cmp(a, &c.rows[i]) == 0) {
				/* the same series in another period: sums add (invariant 1) */
				a->sum += c.rows[i].sum;
				a->frames += c.rows[i].frames;
			} else {
				c.rows[++out] = c.rows[i];
			}
		}
		for (size_t i = 0; i <= out; i++)
			row_print(&c.rows[i], false);
	}
	free(c.rows);
	if (err) {
		fprintf(stderr, "hvrater totals: %s\n", rstore_strerror(err));
		return 1;
	}
	return fflush(stdout) ? 1 : 0;
}
