/*
 * usage_csv.c — read the usage CSV (RFC 4180) into checked rows.
 */
#include "rater/usage_csv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CSV_FIELDS_KEPT 16 /* a record with more fields is refused; count them for the message */

const char *const usage_column_names[USAGE_N_COLUMNS] = {
	"begin", "end", "project", "resource", "service", "qty", "metadata",
};

struct csv_cur {
	const char *p, *end;
	size_t line;
	char *err;
	size_t errlen;
};

/* One record being read: fields as NUL-separated text in buf. */
struct csv_record {
	char *buf;
	size_t len, cap;
	size_t off[CSV_FIELDS_KEPT];
	size_t n_fields;
	size_t line;
};

__attribute__((format(printf, 2, 3)))
static int fail(struct csv_cur *c, const char *fmt, ...)
{
	va_list ap;

	if (c->errlen) {
		va_start(ap, fmt);
		vsnprintf(c->err, c->errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static const char *column_name(size_t i)
{
	return i < USAGE_N_COLUMNS ? usage_column_names[i] : "(extra)";
}

/* Writes @s JSON-style quoted, cut after 64 bytes, into @buf. */
static void quote(char *buf, size_t len, const char *s)
{
	size_t w = 0, i;

	buf[w++] = '"';
	for (i = 0; s[i] && w + 8 < len && i < 64; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '"' || ch == '\\') {
			buf[w++] = '\\';
			buf[w++] = (char)ch;
		} else if (ch < 0x20 || ch == 0x7f) {
			w += (size_t)snprintf(buf + w, len - w, "\\x%02x", ch);
		} else {
			buf[w++] = (char)ch;
		}
	}
	if (s[i]) {
		memcpy(buf + w, "...", 3);
		w += 3;
	}
	buf[w++] = '"';
	buf[w] = '\0';
}

static int rec_put(struct csv_record *r, char ch)
{
	if (r->len == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 256;
		char *b = realloc(r->buf, cap);

		if (!b)
			return -ENOMEM;
		r->buf = b;
		r->cap = cap;
	}
	r->buf[r->len++] = ch;
	return 0;
}

static const char *rec_field(const struct csv_record *r, size_t i)
{
	return r->buf + r->off[i];
}

/* Starts field number r->n_fields. */
static int rec_field_begin(struct csv_cur *c, struct csv_record *r)
{
	if (r->n_fields < CSV_FIELDS_KEPT)
		r->off[r->n_fields] = r->len;
	r->n_fields++;
	return 0;
}

static int rec_field_end(struct csv_cur *c, struct csv_record *r, size_t start)
{
	if (r->len - start > USAGE_FIELD_MAX) {
		fail(c, "line %zu, column %s: longer than %d bytes", r->line,
		     column_name(r->n_fields - 1), USAGE_FIELD_MAX);
		return -EFBIG;
	}
	return rec_put(r, '\0');
}

/* True at a line end (LF or CRLF); sets *@n to its length. */
static bool at_eol(const struct csv_cur *c, size_t *n)
{
	if (c->p < c->end && *c->p == '\n') {
		*n = 1;
		return true;
	}
	if (c->end - c->p >= 2 && c->p[0] == '\r' && c->p[1] == '\n') {
		*n = 2;
		return true;
	}
	return false;
}

/*
 * Reads the next record into @r. Returns 1 for a record, 0 at the end of
 * the input, or -errno (message in c->err).
 */
static int csv_next(struct csv_cur *c, struct csv_record *r)
{
	size_t n;
	int err;

	r->len = 0;
	r->n_fields = 0;
	/* blank lines carry nothing */
	while (at_eol(c, &n)) {
		c->p += n;
		c->line++;
	}
	if (c->p >= c->end)
		return 0;
	r->line = c->line;
	for (;;) {
		size_t start = r->len;

		rec_field_begin(c, r);
		if (c->p < c->end && *c->p == '"') {
			size_t opened = c->line;

			c->p++;
			for (;;) {
				if (c->p >= c->end)
					return fail(c, "line %zu, column %s: quoted field never closed",
						    opened, column_name(r->n_fields - 1));
				if (*c->p == '"') {
					if (c->end - c->p >= 2 && c->p[1] == '"') {
						err = rec_put(r, '"');
						c->p += 2;
					} else {
						c->p++;
						break;
					}
				} else {
					if (*c->p == '\n')
						c->line++;
					err = rec_put(r, *c->p++);
				}
				if (err)
					return err;
			}
			if (c->p < c->end && *c->p != ',' && !at_eol(c, &n))
				return fail(c, "line %zu, column %s: text after the closing quote",
					    c->line, column_name(r->n_fields - 1));
		} else {
			while (c->p < c->end && *c->p != ',' && !at_eol(c, &n)) {
				if (*c->p == '"')
					return fail(c, "line %zu, column %s: a quote inside an unquoted field "
						    "(quote the whole field and double the quote)",
						    c->line, column_name(r->n_fields - 1));
				if ((err = rec_put(r, *c->p++)))
					return err;
			}
		}
		if ((err = rec_field_end(c, r, start)))
			return err;
		if (c->p < c->end && *c->p == ',') {
			c->p++;
			continue;
		}
		if (at_eol(c, &n)) {
			c->p += n;
			c->line++;
		}
		return 1;
	}
}

/* ---- field checks ------------------------------------------------------------------ */

static bool utf8_valid(const unsigned char *s)
{
	while (*s) {
		unsigned long cp;
		size_t n;

		if (*s < 0x80) {
			s++;
			continue;
		}
		if ((*s & 0xe0) == 0xc0) {
			n = 1;
			cp = *s & 0x1f;
		} else if ((*s & 0xf0) == 0xe0) {
			n = 2;
			cp = *s & 0x0f;
		} else if ((*s & 0xf8) == 0xf0) {
			n = 3;
			cp = *s & 0x07;
		} else {
			return false;
		}
		for (size_t i = 1; i <= n; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i] & 0x3f);
		}
		/* overlong forms, surrogates and beyond U+10FFFF are not UTF-8 */
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return false;
		s += n + 1;
	}
	return true;
}

static bool has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	/* H. Hinnant's algorithm: days since 1970-01-01 in the proleptic Gregorian calendar */
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static bool digits_at(const char *s, size_t n, unsigned *v)
{
	*v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		*v = *v * 10 + (unsigned)(s[i] - '0');
	}
	return true;
}

struct ts {
	int64_t sec;      /* since the epoch, UTC */
	const char *frac; /* fraction digits (may be empty) */
	size_t frac_len;
};

/* RFC 3339 date-time: YYYY-MM-DD(T|t| )HH:MM:SS[.frac](Z|z|+HH:MM|-HH:MM). */
static bool ts_parse(const char *s, struct ts *t)
{
	static const unsigned mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	unsigned y, mo, d, h, mi, se, oh = 0, om = 0;
	const char *p;
	int sign = 0;
	bool leap;

	if (strlen(s) < 20 || !digits_at(s, 4, &y) || s[4] != '-' || !digits_at(s + 5, 2, &mo) ||
	    s[7] != '-' || !digits_at(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
	    !digits_at(s + 11, 2, &h) || s[13] != ':' || !digits_at(s + 14, 2, &mi) || s[16] != ':' ||
	    !digits_at(s + 17, 2, &se))
		return false;
	p = s + 19;
	t->frac = p;
	t->frac_len = 0;
	if (*p == '.') {
		t->frac = ++p;
		while (*p >= '0' && *p <= '9')
			p++;
		t->frac_len = (size_t)(p - t->frac);
		if (!t->frac_len)
			return false;
	}
	if ((*p == 'Z' || *p == 'z') && !p[1]) {
		sign = 0;
	} else if ((*p == '+' || *p == '-') && strlen(p) == 6 && digits_at(p + 1, 2, &oh) &&
		   p[3] == ':' && digits_at(p + 4, 2, &om)) {
		sign = *p == '-' ? -1 : 1;
	} else {
		return false;
	}
	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && leap) || h > 23 ||
	    mi > 59 || se > 60 || oh > 23 || om > 59)
		return false;
	t->sec = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
	t->sec -= sign * (int64_t)(oh * 3600 + om * 60);
	return true;
}

static int ts_cmp(const struct ts *a, const struct ts *b)
{
	size_t n = a->frac_len > b->frac_len ? a->frac_len : b->frac_len;

	if (a->sec != b->sec)
		return a->sec < b->sec ? -1 : 1;
	for (size_t i = 0; i < n; i++) {
		char x = i < a->frac_len ? a->frac[i] : '0';
		char y = i < b->frac_len ? b->frac[i] : '0';

		if (x != y)
			return x < y ? -1 : 1;
	}
	return 0;
}

/* "k=v;k=v" into row->attrs. */
static int parse_metadata(struct csv_cur *c, struct usage_row *row)
{
	const char *meta = row->col[USAGE_METADATA];
	char q[96];
	size_t n = 1;
	char *item;

	if (!*meta)
		return 0;
	for (const char *p = meta; *p; p++)
		n += *p == ';';
	if (n > USAGE_ATTRS_MAX)
		return fail(c, "line %zu, column metadata: more than %d entries", row->line,
			    USAGE_ATTRS_MAX);
	row->attr_buf = strdup(meta);
	row->attrs = calloc(n, sizeof(*row->attrs));
	if (!row->attr_buf || !row->attrs)
		return -ENOMEM;
	item = row->attr_buf;
	for (size_t i = 0; i < n; i++) {
		char *semi = strchr(item, ';'), *eq;

		if (semi)
			*semi = '\0';
		if (!*item)
			return fail(c, "line %zu, column metadata: empty entry (';' twice in a row, "
				    "or at an end)", row->line);
		eq = strchr(item, '=');
		quote(q, sizeof(q), item);
		if (!eq)
			return fail(c, "line %zu, column metadata: entry %s has no '='", row->line, q);
		if (eq == item)
			return fail(c, "line %zu, column metadata: entry %s has an empty key", row->line, q);
		*eq = '\0';
		for (size_t j = 0; j < row->n_attrs; j++) {
			if (strcmp(row->attrs[j].key, item) == 0) {
				quote(q, sizeof(q), item);
				return fail(c, "line %zu, column metadata: key %s given twice", row->line, q);
			}
		}
		row->attrs[row->n_attrs].key = item;
		row->attrs[row->n_attrs].value = eq + 1;
		row->n_attrs++;
		item = semi ? semi + 1 : item + strlen(item);
	}
	return 0;
}

static int check_row(struct csv_cur *c, struct usage_row *row)
{
	struct ts b, e;
	char q[96];
	int err;

	for (size_t i = 0; i < USAGE_N_COLUMNS; i++) {
		if (!utf8_valid((const unsigned char *)row->col[i]))
			return fail(c, "line %zu, column %s: not valid UTF-8", row->line, column_name(i));
		if (has_control(row->col[i]))
			return fail(c, "line %zu, column %s: control character (tab, line break...)",
				    row->line, column_name(i));
	}
	for (size_t i = USAGE_BEGIN; i <= USAGE_END; i++) {
		quote(q, sizeof(q), row->col[i]);
		if (!ts_parse(row->col[i], i == USAGE_BEGIN ? &b : &e))
			return fail(c, "line %zu, column %s: not an RFC 3339 time "
				    "(2026-01-31T23:00:00Z): %s", row->line, column_name(i), q);
	}
	if (ts_cmp(&b, &e) >= 0)
		return fail(c, "line %zu, column end: not after begin", row->line);
	if (!*row->col[USAGE_RESOURCE])
		return fail(c, "line %zu, column resource: must not be empty", row->line);
	if (!*row->col[USAGE_SERVICE])
		return fail(c, "line %zu, column service: must not be empty", row->line);
	quote(q, sizeof(q), row->col[USAGE_QTY]);
	err = decimal_parse(&row->qty, row->col[USAGE_QTY]);
	if (err == -EINVAL)
		return fail(c, "line %zu, column qty: not a decimal: %s", row->line, q);
	if (err == -ERANGE)
		return fail(c, "line %zu, column qty: out of range: %s", row->line, q);
	if (err)
		return err;
	return parse_metadata(c, row);
}

static void row_clear(struct usage_row *row)
{
	for (size_t i = 0; i < USAGE_N_COLUMNS; i++)
		free(row->col[i]);
	decimal_clear(&row->qty);
	free(row->attrs);
	free(row->attr_buf);
}

void usage_free(struct usage *u)
{
	if (!u)
		return;
	for (size_t i = 0; i < u->n_rows; i++)
		row_clear(&u->rows[i]);
	free(u->rows);
	free(u);
}

static int check_header(struct csv_cur *c, const struct csv_record *r)
{
	bool ok = r->n_fields == USAGE_N_COLUMNS;

	for (size_t i = 0; ok && i < USAGE_N_COLUMNS; i++)
		ok = strcmp(rec_field(r, i), usage_column_names[i]) == 0;
	if (!ok)
		return fail(c, "line %zu: the header must be "
			    "\"begin,end,project,resource,service,qty,metadata\"", r->line);
	return 0;
}

int usage_csv_parse(const char *text, size_t len, struct usage **out, char *err, size_t errlen)
{
	struct csv_cur c = { .p = text, .end = text + len, .line = 1, .err = err, .errlen = errlen };
	struct csv_record rec = { 0 };
	struct usage *u = NULL;
	size_t cap = 0;
	int rc;

	*out = NULL;
	if (errlen)
		err[0] = '\0';
	if (len > (size_t)USAGE_CSV_MAX_BYTES) {
		if (errlen)
			snprintf(err, errlen, "larger than %ld bytes", USAGE_CSV_MAX_BYTES);
		return -EFBIG;
	}
	if (memchr(text, '\0', len)) {
		size_t line = 1;

		for (const char *p = text; *p; p++)
			line += *p == '\n';
		return fail(&c, "line %zu: NUL byte", line);
	}
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		c.p += 3;
	u = calloc(1, sizeof(*u));
	if (!u) {
		rc = -ENOMEM;
		goto cleanup;
	}
	rc = csv_next(&c, &rec);
	if (rc == 0)
		rc = fail(&c, "line 1: empty file: the header line is missing");
	if (rc < 0)
		goto cleanup;
	if ((rc = check_header(&c, &rec)))
		goto cleanup;
	while ((rc = csv_next(&c, &rec)) == 1) {
		struct usage_row *row;

		if (rec.n_fields != USAGE_N_COLUMNS) {
			rc = fail(&c, "line %zu: %zu field%s, expected %d "
				  "(begin,end,project,resource,service,qty,metadata)",
				  rec.line, rec.n_fields, rec.n_fields == 1 ? "" : "s", USAGE_N_COLUMNS);
			goto cleanup;
		}
		if (u->n_rows == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct usage_row *rows = realloc(u->rows, ncap * sizeof(*rows));

			if (!rows) {
				rc = -ENOMEM;
				goto cleanup;
			}
			u->rows = rows;
			cap = ncap;
		}
		row = &u->rows[u->n_rows++];
		memset(row, 0, sizeof(*row));
		decimal_init(&row->qty);
		row->line = rec.line;
		for (size_t i = 0; i < USAGE_N_COLUMNS; i++) {
			row->col[i] = strdup(rec_field(&rec, i));
			if (!row->col[i]) {
				rc = -ENOMEM;
				goto cleanup;
			}
		}
		if ((rc = check_row(&c, row)))
			goto cleanup;
	}
	if (rc < 0)
		goto cleanup;
	*out = u;
	u = NULL;
	rc = 0;
cleanup:
	if (rc == -ENOMEM && errlen)
		snprintf(err, errlen, "out of memory");
	free(rec.buf);
	usage_free(u);
	return rc;
}

int usage_csv_load(const char *path, struct usage **out, char *err, size_t errlen)
{
	bool is_stdin = strcmp(path, "-") == 0;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int fd, rc;

	*out = NULL;
	fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot open: %s", strerror(-rc));
		return rc;
	}
	for (;;) {
		ssize_t n;

		if (len == cap) {
			size_t ncap = cap ? cap * 2 : 65536;
			char *b;

			if (cap > (size_t)USAGE_CSV_MAX_BYTES) {
				rc = -EFBIG;
				snprintf(err, errlen, "larger than %ld bytes", USAGE_CSV_MAX_BYTES);
				goto cleanup;
			}
			b = realloc(buf, ncap);
			if (!b) {
				rc = -ENOMEM;
				snprintf(err, errlen, "out of memory");
				goto cleanup;
			}
			buf = b;
			cap = ncap;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			snprintf(err, errlen, "cannot read: %s", strerror(-rc));
			goto cleanup;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	rc = usage_csv_parse(buf ? buf : "", len, out, err, errlen);
cleanup:
	free(buf);
	if (!is_stdin)
		close(fd);
	return rc;
}

int usage_csv_write_field(FILE *f, const char *s)
{
	if (!strpbrk(s, ",\"\r\n"))
		return fputs(s, f) < 0 ? -EIO : 0;
	if (fputc('"', f) == EOF)
		return -EIO;
	for (; *s; s++) {
		if (*s == '"' && fputc('"', f) == EOF)
			return -EIO;
		if (fputc(*s, f) == EOF)
			return -EIO;
	}
	return fputc('"', f) == EOF ? -EIO : 0;
}
