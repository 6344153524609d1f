/*
 * hvrater.c — the central rater's command line. Only wiring: the work is in
 * rules.c (rules file), usage_csv.c (usage file), rating.c (pricing).
 *
 *   hvrater rate --rules FILE --usage FILE.csv [--format table|csv|json] [-v]
 *   hvrater serve | hosts | totals | report (serve.c, cli_hosts.c, cli_report.c)
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "rater/cli_hosts.h"
#include "rater/cli_report.h"
#include "rater/decimal.h"
#include "rater/rating.h"
#include "rater/rules.h"
#include "rater/serve.h"
#include "rater/usage_csv.h"

#define EXIT_USAGE 2

enum out_format {
	FORMAT_TABLE,
	FORMAT_CSV,
	FORMAT_JSON,
};

static void usage_main(FILE *f)
{
	fputs("Usage: hvrater COMMAND [OPTION...]\n"
	      "Price hvmeter usage the way OpenStack CloudKitty's hashmap module does.\n"
	      "\n"
	      "Commands:\n"
	      "  rate    price a usage CSV offline with a rules file\n"
	      "  serve   accept agents over mutual TLS, store their frames exactly once\n"
	      "  hosts   list the hosts the rater has heard from (last seen, chain head, lag)\n"
	      "  totals  print stored usage per host, resource, metric and labels (CSV)\n"
	      "  report  rated usage per period, project, resource and service from the store\n"
	      "\n"
	      "  -h, --help    show this help ('hvrater COMMAND --help' for a command)\n"
	      "  -V, --version print the version\n",
	      f);
}

static void usage_rate(FILE *f)
{
	fputs("Usage: hvrater rate --rules FILE --usage FILE.csv [--format table|csv|json] [-v]\n"
	      "Price every row of a usage CSV; one rated row per input row, in input order.\n"
	      "\n"
	      "  -r, --rules FILE     hashmap rules, JSON (rater/RATING-RULES.md)\n"
	      "  -u, --usage FILE     usage CSV, '-' for standard input; header line\n"
	      "                       begin,end,project,resource,service,qty,metadata\n"
	      "                       (metadata as key=value;key=value); one row is one record,\n"
	      "                       already summed over its period\n"
	      "  -f, --format FMT     table (default): aligned rows, then totals per project\n"
	      "                       and service; csv: the input columns plus price;\n"
	      "                       json: an array, one object per row, metadata as an object,\n"
	      "                       qty and price as decimal strings\n"
	      "  -v, --verbose        report records priced with a non-numeric threshold field\n"
	      "  -h, --help           show this help\n"
	      "\n"
	      "A field rule sees the row's metadata with \"project\" and \"resource\" set from\n"
	      "their columns. Exit status: 0 success, 1 bad input or output error, 2 bad usage.\n",
	      f);
}

struct debug_ctx {
	const char *usage_path;
	size_t line;
};

static void debug_log(void *arg, const char *msg)
{
	const struct debug_ctx *d = arg;

	fprintf(stderr, "hvrater: %s: line %zu: %s\n", d->usage_path, d->line, msg);
}

/* Prices row @row; the record's attributes are its metadata with the group-by columns laid over. */
static int rate_row(const struct rules *rules, const struct usage_row *row, struct decimal *price,
		    const struct rating_log *log)
{
	struct rating_attr *desc;
	struct rating_record rec;
	size_t n = 0;
	int err;

	desc = calloc(row->n_attrs + 2, sizeof(*desc));
	if (!desc)
		return -ENOMEM;
	/* rating takes a key's first occurrence: the group-by keys go first */
	if (*row->col[USAGE_PROJECT])
		desc[n++] = (struct rating_attr){ "project", row->col[USAGE_PROJECT] };
	desc[n++] = (struct rating_attr){ "resource", row->col[USAGE_RESOURCE] };
	for (size_t i = 0; i < row->n_attrs; i++)
		desc[n++] = row->attrs[i];
	rec = (struct rating_record){
		.service = row->col[USAGE_SERVICE],
		.project = row->col[USAGE_PROJECT],
		.qty = &row->qty,
		.n_attrs = n,
		.attrs = desc,
	};
	decimal_set_long(price, 0);
	err = rating_price(rules, &rec, price, log);
	free(desc);
	return err;
}

/* ---- output ----------------------------------------------------------------------- */

static int write_csv(FILE *f, const struct usage *u, char **price)
{
	int err = 0;

	for (size_t i = 0; i < USAGE_N_COLUMNS; i++)
		fprintf(f, "%s,", usage_column_names[i]);
	fputs("price\n", f);
	for (size_t r = 0; r < u->n_rows && !err; r++) {
		for (size_t i = 0; i < USAGE_N_COLUMNS && !err; i++) {
			err = usage_csv_write_field(f, u->rows[r].col[i]);
			if (!err && fputc(',', f) == EOF)
				err = -EIO;
		}
		if (!err && fprintf(f, "%s\n", price[r]) < 0)
			err = -EIO;
	}
	return err;
}

static int json_set_str(json_t *o, const char *key, const char *value)
{
	return json_object_set_new(o, key, json_string(value)) ? -ENOMEM : 0;
}

static int write_json(FILE *f, const struct usage *u, char **price)
{
	int err = 0;

	fputs(u->n_rows ? "[\n" : "[", f);
	for (size_t r = 0; r < u->n_rows && !err; r++) {
		const struct usage_row *row = &u->rows[r];
		json_t *o = json_object(), *meta = json_object();
		char *s = NULL;

		if (!o || !meta) {
			json_decref(o);
			json_decref(meta);
			return -ENOMEM;
		}
		for (size_t i = 0; i < USAGE_METADATA && !err; i++)
			err = json_set_str(o, usage_column_names[i], row->col[i]);
		for (size_t i = 0; i < row->n_attrs && !err; i++)
			err = json_set_str(meta, row->attrs[i].key, row->attrs[i].value);
		if (!err && json_object_set(o, "metadata", meta))
			err = -ENOMEM;
		if (!err)
			err = json_set_str(o, "price", price[r]);
		if (!err) {
			s = json_dumps(o, 0);
			if (!s)
				err = -ENOMEM;
			else if (fprintf(f, "%s%s\n", s, r + 1 < u->n_rows ? "," : "") < 0)
				err = -EIO;
		}
		free(s);
		json_decref(meta);
		json_decref(o);
	}
	fputs("]\n", f);
	return err;
}

/* Display width: code points, so UTF-8 names stay aligned. */
static size_t text_width(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

static void put_cell(FILE *f, const char *s, size_t width, bool right, bool last)
{
	size_t pad = width - text_width(s);

	if (right)
		fprintf(f, "%*s", (int)pad, "");
	fputs(s, f);
	if (!last)
		fprintf(f, "%*s", (int)(right ? 2 : pad + 2), "");
}

/* Ends a table line kept in @m: no trailing blanks when the last cells are empty. */
static int line_flush(FILE *out, FILE *m, char **buf, size_t *len)
{
	int err = 0;
	size_t n;

	if (fclose(m) == EOF || !*buf) {
		err = -ENOMEM;
		goto cleanup;
	}
	n = strlen(*buf);
	while (n && (*buf)[n - 1] == ' ')
		n--;
	(*buf)[n] = '\0';
	if (fprintf(out, "%s\n", *buf) < 0)
		err = -EIO;
cleanup:
	free(*buf);
	*buf = NULL;
	*len = 0;
	return err;
}

struct total {
	const char *project; /* "*" for every project */
	const char *service; /* "*" for every service */
	size_t records;
	struct decimal sum;
};

static int cmp_row(const void *a, const void *b, void *arg)
{
	const struct usage *u = arg;
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	int c = strcmp(u->rows[x].col[USAGE_PROJECT], u->rows[y].col[USAGE_PROJECT]);

	if (!c)
		c = strcmp(u->rows[x].col[USAGE_SERVICE], u->rows[y].col[USAGE_SERVICE]);
	return c ? c : (x > y) - (x < y);
}

static const char *or_dash(const char *s)
{
	return *s ? s : "-";
}

/* Adds row @r to @t, starting @t when it is new. */
static int total_add(struct total *t, const char *project, const char *service,
		     const struct decimal *price)
{
	if (!t->project) {
		t->project = project;
		t->service = service;
		decimal_init(&t->sum);
	}
	t->records++;
	return decimal_add(&t->sum, &t->sum, price);
}

/*
 * Totals per (project, service), then per project (service "*"), then of
 * everything ("*", "*"), sorted by project and service. Rows are sorted
 * first so that a million rows cost n log n, not n × services.
 */
static int write_totals(FILE *f, const struct usage *u, const struct decimal *price)
{
	static const char *const head[] = { "PROJECT", "SERVICE", "RECORDS", "PRICE" };
	struct total *t = NULL, all = { 0 }, proj = { 0 };
	size_t *idx = NULL, n = 0, w[4];
	char **cell = NULL, num[32];
	int err = 0;

	/* at most a line per row and per project, and the grand total */
	idx = calloc(u->n_rows + 1, sizeof(*idx));
	t = calloc(2 * u->n_rows + 1, sizeof(*t));
	cell = calloc(2 * u->n_rows + 1, sizeof(*cell));
	if (!idx || !t || !cell) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (size_t i = 0; i < u->n_rows; i++)
		idx[i] = i;
	qsort_r(idx, u->n_rows, sizeof(*idx), cmp_row, (void *)u);
	for (size_t i = 0; i < u->n_rows && !err; i++) {
		const struct usage_row *row = &u->rows[idx[i]];
		const struct usage_row *next = i + 1 < u->n_rows ? &u->rows[idx[i + 1]] : NULL;
		const char *p = or_dash(row->col[USAGE_PROJECT]);
		bool same_project = next && !strcmp(next->col[USAGE_PROJECT], row->col[USAGE_PROJECT]);

		if ((err = total_add(&t[n], p, row->col[USAGE_SERVICE], &price[idx[i]])) ||
		    (err = total_add(&proj, p, "*", &price[idx[i]])))
			break;
		if (!same_project || strcmp(next->col[USAGE_SERVICE], row->col[USAGE_SERVICE]))
			n++;
		if (!same_project) {
			t[n++] = proj;
			memset(&proj, 0, sizeof(proj));
		}
	}
	for (size_t i = 0; i < u->n_rows && !err; i++)
		err = total_add(&all, "*", "*", &price[i]);
	if (!all.project) {
		all.project = "*";
		all.service = "*";
		decimal_init(&all.sum);
	}
	t[n++] = all;
	if (err)
		goto cleanup;

	for (size_t i = 0; i < 4; i++)
		w[i] = strlen(head[i]);
	for (size_t i = 0; i < n; i++) {
		if ((err = decimal_format_alloc(&t[i].sum, &cell[i])))
			goto cleanup;
		snprintf(num, sizeof(num), "%zu", t[i].records);
		if (text_width(t[i].project) > w[0])
			w[0] = text_width(t[i].project);
		if (text_width(t[i].service) > w[1])
			w[1] = text_width(t[i].service);
		if (strlen(num) > w[2])
			w[2] = strlen(num);
		if (strlen(cell[i]) > w[3])
			w[3] = strlen(cell[i]);
	}
	fputs("\nTOTALS\n", f);
	for (size_t i = 0; i < 4; i++)
		put_cell(f, head[i], w[i], i >= 2, i == 3);
	fputc('\n', f);
	for (size_t i = 0; i < n; i++) {
		snprintf(num, sizeof(num), "%zu", t[i].records);
		put_cell(f, t[i].project, w[0], false, false);
		put_cell(f, t[i].service, w[1], false, false);
		put_cell(f, num, w[2], true, false);
		put_cell(f, cell[i], w[3], true, true);
		fputc('\n', f);
	}
cleanup:
	/* a total is live once it has a project; the one being built may be half-done */
	for (size_t i = 0; t && i < 2 * u->n_rows + 1; i++) {
		if (t[i].project)
			decimal_clear(&t[i].sum);
		if (cell)
			free(cell[i]);
	}
	if (proj.project)
		decimal_clear(&proj.sum);
	free(cell);
	free(t);
	free(idx);
	return err;
}

static int write_table(FILE *f, const struct usage *u, char **price, const struct decimal *value)
{
	static const char *const head[] = { "BEGIN", "END", "PROJECT", "RESOURCE", "SERVICE",
					    "QTY", "PRICE", "METADATA" };
	enum { NCOL = 8 };
	size_t w[NCOL];

	for (size_t i = 0; i < NCOL; i++)
		w[i] = strlen(head[i]);
	for (size_t r = 0; r < u->n_rows; r++) {
		const struct usage_row *row = &u->rows[r];
		const char *cell[NCOL] = { row->col[USAGE_BEGIN], row->col[USAGE_END],
					   or_dash(row->col[USAGE_PROJECT]), row->col[USAGE_RESOURCE],
					   row->col[USAGE_SERVICE], row->col[USAGE_QTY], price[r],
					   row->col[USAGE_METADATA] };

		for (size_t i = 0; i < NCOL; i++)
			if (text_width(cell[i]) > w[i])
				w[i] = text_width(cell[i]);
	}
	for (size_t r = 0; r <= u->n_rows; r++) {
		const struct usage_row *row = r ? &u->rows[r - 1] : NULL;
		const char *const *cell = head;
		const char *c[NCOL];
		char *buf = NULL;
		size_t len = 0;
		FILE *m = open_memstream(&buf, &len);
		int err;

		if (!m)
			return -ENOMEM;
		if (row) {
			c[0] = row->col[USAGE_BEGIN];
			c[1] = row->col[USAGE_END];
			c[2] = or_dash(row->col[USAGE_PROJECT]);
			c[3] = row->col[USAGE_RESOURCE];
			c[4] = row->col[USAGE_SERVICE];
			c[5] = row->col[USAGE_QTY];
			c[6] = price[r - 1];
			c[7] = row->col[USAGE_METADATA];
			cell = c;
		}
		for (size_t i = 0; i < NCOL; i++)
			put_cell(m, cell[i], w[i], i == 5 || i == 6, i == NCOL - 1);
		if ((err = line_flush(f, m, &buf, &len)))
			return err;
	}
	return write_totals(f, u, value);
}

/* ---- rate ------------------------------------------------------------------------------ */

static int cmd_rate(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "rules", required_argument, NULL, 'r' },
		{ "usage", required_argument, NULL, 'u' },
		{ "format", required_argument, NULL, 'f' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *rules_path = NULL, *usage_path = NULL;
	enum out_format format = FORMAT_TABLE;
	struct rules *rules = NULL;
	struct usage *u = NULL;
	struct decimal *value = NULL;
	char **price = NULL, msg[1024];
	struct debug_ctx dbg = { 0 };
	struct rating_log log = { .debug = debug_log, .arg = &dbg };
	bool verbose = false;
	int c, err, status = EXIT_FAILURE;

	optind = 1;
	while ((c = getopt_long(argc, argv, "r:u:f:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			rules_path = optarg;
			break;
		case 'u':
			usage_path = optarg;
			break;
		case 'f':
			if (strcmp(optarg, "table") == 0) {
				format = FORMAT_TABLE;
			} else if (strcmp(optarg, "csv") == 0) {
				format = FORMAT_CSV;
			} else if (strcmp(optarg, "json") == 0) {
				format = FORMAT_JSON;
			} else {
				fprintf(stderr, "hvrater rate: unknown format '%s' (table, csv or json)\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			usage_rate(stdout);
			return EXIT_SUCCESS;
		default:
			usage_rate(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "hvrater rate: unexpected argument '%s'\n", argv[optind]);
		usage_rate(stderr);
		return EXIT_USAGE;
	}
	if (!rules_path || !usage_path) {
		fprintf(stderr, "hvrater rate: %s is required\n", !rules_path ? "--rules" : "--usage");
		usage_rate(stderr);
		return EXIT_USAGE;
	}

	err = rules_load_file(rules_path, &rules, msg, sizeof(msg));
	if (err) {
		fprintf(stderr, "hvrater: %s: %s\n", rules_path, msg);
		goto cleanup;
	}
	err = usage_csv_load(usage_path, &u, msg, sizeof(msg));
	if (err) {
		fprintf(stderr, "hvrater: %s: %s\n", usage_path, msg);
		goto cleanup;
	}

	/* everything is rated before anything is printed: an error leaves no partial output */
	value = calloc(u->n_rows ? u->n_rows : 1, sizeof(*value));
	price = calloc(u->n_rows ? u->n_rows : 1, sizeof(*price));
	if (!value || !price) {
		fprintf(stderr, "hvrater: out of memory\n");
		goto cleanup;
	}
	for (size_t r = 0; r < u->n_rows; r++)
		decimal_init(&value[r]);
	dbg.usage_path = usage_path;
	for (size_t r = 0; r < u->n_rows; r++) {
		dbg.line = u->rows[r].line;
		err = rate_row(rules, &u->rows[r], &value[r], verbose ? &log : NULL);
		if (!err)
			err = decimal_format_alloc(&value[r], &price[r]);
		if (err) {
			fprintf(stderr, "hvrater: %s: line %zu: cannot price: %s\n", usage_path,
				u->rows[r].line, strerror(-err));
			goto cleanup;
		}
	}

	if (format == FORMAT_CSV)
		err = write_csv(stdout, u, price);
	else if (format == FORMAT_JSON)
		err = write_json(stdout, u, price);
	else
		err = write_table(stdout, u, price, value);
	if ((fflush(stdout) == EOF || ferror(stdout)) && !err)
		err = errno ? -errno : -EIO;
	if (err) {
		fprintf(stderr, "hvrater: writing the output: %s\n", strerror(-err));
		goto cleanup;
	}
	status = EXIT_SUCCESS;
cleanup:
	for (size_t r = 0; u && r < u->n_rows; r++) {
		if (value)
			decimal_clear(&value[r]);
		if (price)
			free(price[r]);
	}
	free(price);
	free(value);
	usage_free(u);
	rules_free(rules);
	return status;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage_main(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		usage_main(stdout);
		return EXIT_SUCCESS;
	}
	if (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0) {
		printf("hvrater %s\n", HV_VERSION);
		return EXIT_SUCCESS;
	}
	if (strcmp(argv[1], "rate") == 0)
		return cmd_rate(argc - 1, argv + 1);
	if (strcmp(argv[1], "serve") == 0)
		return rater_cmd_serve(argc - 1, argv + 1);
	if (strcmp(argv[1], "hosts") == 0)
		return rater_cmd_hosts(argc - 1, argv + 1);
	if (strcmp(argv[1], "totals") == 0)
		return rater_cmd_totals(argc - 1, argv + 1);
	if (strcmp(argv[1], "report") == 0)
		return rater_cmd_report(argc - 1, argv + 1);
	fprintf(stderr, "hvrater: unknown command: %s\n", argv[1]);
	fprintf(stderr, "Try 'hvrater --help'.\n");
	return EXIT_USAGE;
}
