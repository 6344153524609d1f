#include "rater/report_out.h"
#include "rater/usage_csv.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

int report_time_format(int64_t t_s, char *buf, size_t len)
{
	time_t t = (time_t)t_s;
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		return -EINVAL;
	return 0;
}

/* ---- CSV ----------------------------------------------------------------------------- */

static int csv_fields(FILE *f, size_t n, const char *const *v)
{
	for (size_t i = 0; i < n; i++) {
		if (usage_csv_write_field(f, v[i]))
			return -EIO;
		if (fputc(i + 1 < n ? ',' : '\n', f) == EOF)
			return -EIO;
	}
	return 0;
}

/* "key=value;key=value" of @rec's metadata into a malloc'd string. */
static char *metadata_text(const struct report_record *rec)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	if (!m)
		return NULL;
	for (size_t i = 0; i < rec->n_attrs; i++)
		fprintf(m, "%s%s=%s", i ? ";" : "", rec->attrs[i].key, rec->attrs[i].value);
	if (fclose(m)) {
		free(buf);
		return NULL;
	}
	return buf;
}

int report_write_csv(FILE *f, const struct report *r)
{
	static const char *const head[] = { "begin", "end", "closed", "type", "project", "resource",
					    "qty", "unit", "price", "metadata" };
	int err = csv_fields(f, 10, head);

	for (size_t i = 0; i < r->n_records && !err; i++) {
		const struct report_record *rec = &r->records[i];
		char begin[32], end[32], *qty = NULL, *price = NULL, *meta = metadata_text(rec);

		report_time_format(rec->begin_s, begin, sizeof(begin));
		report_time_format(rec->end_s, end, sizeof(end));
		if (!meta || decimal_format_alloc(&rec->qty, &qty) ||
		    decimal_format_alloc(&rec->price, &price)) {
			err = -ENOMEM;
		} else {
			const char *v[] = { begin, end, rec->closed ? "true" : "false", rec->service->name,
					    rec->project, rec->resource, qty, rec->service->unit, price,
					    meta };

			err = csv_fields(f, 10, v);
		}
		free(meta);
		free(qty);
		free(price);
	}
	return err;
}

/* ---- JSON ----------------------------------------------------------------------------- */

static json_t *record_json(const struct report_record *rec)
{
	json_t *o = json_object(), *groupby = json_object(), *meta = json_object();
	char begin[32], end[32], *qty = NULL, *price = NULL;
	int bad = !o || !groupby || !meta;

	report_time_format(rec->begin_s, begin, sizeof(begin));
	report_time_format(rec->end_s, end, sizeof(end));
	bad = bad || decimal_format_alloc(&rec->qty, &qty) || decimal_format_alloc(&rec->price, &price);
	/* strings for qty and price: a JSON number would be read back as a double */
	bad = bad || json_object_set_new(o, "begin", json_string(begin)) ||
	      json_object_set_new(o, "end", json_string(end)) ||
	      json_object_set_new(o, "closed", json_boolean(rec->closed)) ||
	      json_object_set_new(o, "type", json_string(rec->service->name)) ||
	      json_object_set_new(o, "unit", json_string(rec->service->unit)) ||
	      json_object_set_new(o, "qty", json_string(qty)) ||
	      json_object_set_new(o, "price", json_string(price)) ||
	      json_object_set_new(groupby, "project", json_string(rec->project)) ||
	      json_object_set_new(groupby, "resource", json_string(rec->resource));
	for (size_t i = 0; i < rec->n_attrs && !bad; i++)
		bad = json_object_set_new(meta, rec->attrs[i].key, json_string(rec->attrs[i].value));
	bad = bad || json_object_set(o, "groupby", groupby) || json_object_set(o, "metadata", meta);
	free(qty);
	free(price);
	json_decref(groupby);
	json_decref(meta);
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int report_write_json(FILE *f, const struct report *r)
{
	int err = 0;

	fputs(r->n_records ? "[\n" : "[", f);
	for (size_t i = 0; i < r->n_records && !err; i++) {
		json_t *o = record_json(&r->records[i]);
		char *s = o ? json_dumps(o, JSON_PRESERVE_ORDER) : NULL;

		if (!s)
			err = -ENOMEM;
		else if (fprintf(f, "%s%s\n", s, i + 1 < r->n_records ? "," : "") < 0)
			err = -EIO;
		free(s);
		json_decref(o);
	}
	if (!err && fputs("]\n", f) == EOF)
		err = -EIO;
	return err;
}

/* ---- table ------------------------------------------------------------------------------ */

#define TCOLS 7

/* Lines of cells, aligned when printed; cells are owned. */
struct table {
	size_t n, cap;
	char *(*cell)[TCOLS];
	size_t ncol;
	bool right[TCOLS];
};

static int table_add(struct table *t, ...)
{
	va_list ap;
	int err = 0;

	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 64;
		char *(*nc)[TCOLS] = realloc(t->cell, cap * sizeof(*nc));

		if (!nc)
			return -ENOMEM;
		t->cell = nc;
		t->cap = cap;
	}
	va_start(ap, t);
	for (size_t i = 0; i < t->ncol; i++) {
		const char *s = va_arg(ap, const char *);

		t->cell[t->n][i] = strdup(s ? s : "");
		if (!t->cell[t->n][i])
			err = -ENOMEM;
	}
	va_end(ap);
	t->n++;
	return err;
}

static void table_free(struct table *t)
{
	for (size_t r = 0; r < t->n; r++)
		for (size_t i = 0; i < t->ncol; i++)
			free(t->cell[r][i]);
	free(t->cell);
}

/* Display width: code points, so UTF-8 names stay aligned. */
static size_t text_width(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

static int table_print(FILE *f, const struct table *t)
{
	size_t w[TCOLS] = { 0 };

	for (size_t r = 0; r < t->n; r++)
		for (size_t i = 0; i < t->ncol; i++)
			if (text_width(t->cell[r][i]) > w[i])
				w[i] = text_width(t->cell[r][i]);
	for (size_t r = 0; r < t->n; r++) {
		char line[4096];
		size_t len = 0;

		for (size_t i = 0; i < t->ncol; i++) {
			const char *s = t->cell[r][i];
			size_t pad = w[i] - text_width(s);
			int n = snprintf(line + len, sizeof(line) - len, "%s%*s%s%*s", i ? "  " : "",
					 t->right[i] ? (int)pad : 0, "", s, t->right[i] ? 0 : (int)pad, "");

			if (n < 0 || (size_t)n >= sizeof(line) - len)
				break; /* a line beyond 4 KiB is cut */
			len += (size_t)n;
		}
		while (len && line[len - 1] == ' ')
			len--;
		line[len] = '\0';
		if (fprintf(f, "%s\n", line) < 0)
			return -EIO;
	}
	return 0;
}

static const char *project_label(const struct report_record *rec)
{
	return rec->project_name ? rec->project_name : *rec->project ? rec->project : "-";
}

static const char *vm_label(const struct report_record *rec)
{
	return rec->name ? rec->name : rec->resource;
}

static int cmp_for_table(const void *x, const void *y, void *arg)
{
	const struct report_record *a = *(const struct report_record *const *)x;
	const struct report_record *b = *(const struct report_record *const *)y;
	int c;

	(void)arg;
	if ((c = strcmp(project_label(a), project_label(b))) || (c = strcmp(a->project, b->project)) ||
	    (c = strcmp(vm_label(a), vm_label(b))) || (c = strcmp(a->resource, b->resource)))
		return c;
	if (a->begin_s != b->begin_s)
		return a->begin_s < b->begin_s ? -1 : 1;
	return strcmp(a->service->name, b->service->name);
}

static int cmp_for_totals(const void *x, const void *y, void *arg)
{
	const struct report_record *a = *(const struct report_record *const *)x;
	const struct report_record *b = *(const struct report_record *const *)y;
	int c;

	(void)arg;
	if ((c = strcmp(project_label(a), project_label(b))) || (c = strcmp(a->project, b->project)))
		return c;
	return strcmp(a->service->name, b->service->name);
}

/* @d rounded for display into a malloc'd string (NULL: out of memory). */
static char *shown(const struct decimal *d)
{
	struct decimal t;
	char *s = NULL;

	decimal_init(&t);
	decimal_copy(&t, d);
	decimal_round_display(&t, REPORT_TABLE_DIGITS);
	if (decimal_format_alloc(&t, &s))
		s = NULL;
	decimal_clear(&t);
	return s;
}

static int add_total(struct table *t, const char *project, const char *service,
		     const struct decimal *qty, const char *unit, const struct decimal *price)
{
	char *q = qty ? shown(qty) : NULL, *p = shown(price);
	int err = (qty && !q) || !p ? -ENOMEM : table_add(t, project, service, q ? q : "", unit, p);

	free(q);
	free(p);
	return err;
}

static int write_totals(FILE *f, const struct report *r, const struct report_record **idx)
{
	struct table t = { .ncol = 5, .right = { false, false, true, false, true } };
	struct decimal qty, price, proj, all;
	int err;

	decimal_init(&qty);
	decimal_init(&price);
	decimal_init(&proj);
	decimal_init(&all);
	qsort_r(idx, r->n_records, sizeof(*idx), cmp_for_totals, NULL);
	err = table_add(&t, "PROJECT", "SERVICE", "QTY", "UNIT", "PRICE");
	for (size_t i = 0; i < r->n_records && !err; i++) {
		const struct report_record *rec = idx[i], *next = i + 1 < r->n_records ? idx[i + 1] : NULL;
		bool same_project = next && strcmp(next->project, rec->project) == 0 &&
				    strcmp(project_label(next), project_label(rec)) == 0;

		if ((err = decimal_add(&qty, &qty, &rec->qty)) ||
		    (err = decimal_add(&price, &price, &rec->price)) ||
		    (err = decimal_add(&proj, &proj, &rec->price)) ||
		    (err = decimal_add(&all, &all, &rec->price)))
			break;
		if (!same_project || strcmp(next->service->name, rec->service->name)) {
			err = add_total(&t, project_label(rec), rec->service->name, &qty,
					rec->service->unit, &price);
			decimal_set_long(&qty, 0);
			decimal_set_long(&price, 0);
		}
		if (!err && !same_project) {
			err = add_total(&t, project_label(rec), "(all services)", NULL, "", &proj);
			decimal_set_long(&proj, 0);
		}
	}
	if (!err)
		err = add_total(&t, "(all projects)", "", NULL, "", &all);
	if (!err && fputs("\nTOTALS\n", f) == EOF)
		err = -EIO;
	if (!err)
		err = table_print(f, &t);
	table_free(&t);
	decimal_clear(&qty);
	decimal_clear(&price);
	decimal_clear(&proj);
	decimal_clear(&all);
	return err == -ERANGE ? -EIO : err;
}

int report_write_table(FILE *f, const struct report *r, int64_t from_s, int64_t to_s,
		       bool include_open)
{
	struct table t = { .ncol = 7, .right = { false, false, false, false, true, false, true } };
	const struct report_record **idx = calloc(r->n_records + 1, sizeof(*idx));
	char from[32] = "the first period", to[32] = "now", open[32];
	bool any_open = false;
	int err = 0;

	if (!idx)
		return -ENOMEM;
	if (from_s > INT64_MIN)
		report_time_format(from_s, from, sizeof(from));
	if (to_s < INT64_MAX)
		report_time_format(to_s, to, sizeof(to));
	fprintf(f, "Rated usage, periods of %u s beginning from %s to %s%s\n", r->period_s, from, to,
		include_open ? ", open periods included" : ", closed periods only");
	for (size_t i = 0; i < r->n_records; i++) {
		idx[i] = &r->records[i];
		any_open |= !r->records[i].closed;
	}
	if (!r->n_records) {
		fputs("\nno rated usage in this range\n", f);
		goto notes;
	}
	qsort_r(idx, r->n_records, sizeof(*idx), cmp_for_table, NULL);
	err = table_add(&t, "PROJECT", "VM", "PERIOD", "SERVICE", "QTY", "UNIT", "PRICE");
	for (size_t i = 0; i < r->n_records && !err; i++) {
		const struct report_record *rec = idx[i], *prev = i ? idx[i - 1] : NULL;
		bool new_project = !prev || strcmp(prev->project, rec->project) ||
				   strcmp(project_label(prev), project_label(rec));
		bool new_vm = new_project || strcmp(prev->resource, rec->resource);
		bool new_period = new_vm || prev->begin_s != rec->begin_s;
		char period[40] = "", *q = shown(&rec->qty), *p = shown(&rec->price);

		if (new_period) {
			report_time_format(rec->begin_s, period, sizeof(period));
			if (!rec->closed)
				strcat(period, "*");
		}
		if (!q || !p)
			err = -ENOMEM;
		else
			err = table_add(&t, new_project ? project_label(rec) : "",
					new_vm ? vm_label(rec) : "", period, rec->service->name, q,
					rec->service->unit, p);
		free(q);
		free(p);
	}
	if (!err && fputc('\n', f) == EOF)
		err = -EIO;
	if (!err)
		err = table_print(f, &t);
	if (!err)
		err = write_totals(f, r, idx);
notes:
	if (!err) {
		fputs("\n", f);
		if (any_open)
			fputs("* the period is still open: usage may still arrive and change it.\n", f);
		if (r->first_open_s != INT64_MAX && !include_open) {
			report_time_format(r->first_open_s, open, sizeof(open));
			fprintf(f, "Periods from %s on are still open%s%s%s: not shown (--open shows them).\n",
				open, r->behind_host[0] ? " (host " : "", r->behind_host,
				r->behind_host[0] ? " is behind)" : "");
		}
		if (r->n_records)
			fprintf(f, "Quantities and prices are rounded to %d significant digits here; "
				"--format csv or json gives them exact.\n", REPORT_TABLE_DIGITS);
	}
	if (!err && ferror(f))
		err = -EIO;
	table_free(&t);
	free(idx);
	return err;
}
