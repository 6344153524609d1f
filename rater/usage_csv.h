/*
 * usage_csv.h — the usage CSV that `hvrater rate` prices, and CSV output.
 *
 * RFC 4180: comma-separated, fields containing commas, quotes or line
 * breaks are double-quoted with "" for a quote; LF or CRLF line ends. The
 * first line is the header, exactly:
 *
 *   begin,end,project,resource,service,qty,metadata
 *
 * One line per record, already summed over its period (one row = one
 * CloudKitty record):
 *   begin, end  RFC 3339 times ("2026-01-01T00:00:00Z", offsets allowed), begin < end
 *   project     whose rules overlay the global ones; may be empty (global rules only)
 *   resource    the resource id; not empty
 *   service     the hashmap service name; not empty
 *   qty         the quantity in the billing unit, a plain decimal ("1.5", "2e3")
 *   metadata    "key=value;key=value" (may be empty); a key once, no ';' in values,
 *               the first '=' splits
 * Blank lines are skipped; text must be UTF-8 (a leading BOM is ignored).
 *
 * Every row is checked before any is returned; the first problem is
 * reported as "line N, column NAME: what".
 */
#ifndef HV_RATER_USAGE_CSV_H
#define HV_RATER_USAGE_CSV_H

#include <stddef.h>
#include <stdio.h>

#include "rater/decimal.h"
#include "rater/rating.h"

#define USAGE_CSV_MAX_BYTES (1L << 30) /* 1 GiB of usage: beyond, split the file */
#define USAGE_FIELD_MAX 65536          /* bytes in one field */
#define USAGE_ATTRS_MAX 256            /* metadata entries in one row */

enum usage_column {
	USAGE_BEGIN = 0,
	USAGE_END,
	USAGE_PROJECT,
	USAGE_RESOURCE,
	USAGE_SERVICE,
	USAGE_QTY,
	USAGE_METADATA,
	USAGE_N_COLUMNS,
};

struct usage_row {
	size_t line;                        /* line the record starts on (1 = header) */
	char *col[USAGE_N_COLUMNS];         /* the fields as written (unquoted) */
	struct decimal qty;                 /* col[USAGE_QTY] parsed */
	size_t n_attrs;
	struct rating_attr *attrs;          /* metadata in written order; point into attr_buf */
	char *attr_buf;
};

struct usage {
	size_t n_rows;
	struct usage_row *rows;             /* input order */
};

/* The header names, in order ("begin", ..., "metadata"). */
extern const char *const usage_column_names[USAGE_N_COLUMNS];

/*
 * Parses @len bytes at @text. On success *@out holds every row (free with
 * usage_free()) and 0 is returned. On failure *@out is NULL, @err holds
 * "line N, column NAME: what" (or "line N: what") and the return is -EINVAL,
 * -EFBIG (over a limit above) or -ENOMEM.
 */
int usage_csv_parse(const char *text, size_t len, struct usage **out, char *err, size_t errlen);

/* As usage_csv_parse() on the file @path ("-" reads standard input); adds -errno from reading. */
int usage_csv_load(const char *path, struct usage **out, char *err, size_t errlen);

/* Frees everything; accepts NULL. */
void usage_free(struct usage *u);

/*
 * Writes @s as one CSV field to @f, quoted when it holds a comma, a quote,
 * CR or LF. Returns 0 or -EIO.
 */
int usage_csv_write_field(FILE *f, const char *s);

#endif
