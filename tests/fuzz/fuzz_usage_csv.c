/* Fuzz target: the usage CSV that `hvrater rate` reads. Rows that parse
 * must write back (usage_csv_write_field) to a CSV that parses to the same
 * fields and quantities, and must price under a fixed rules set (whose
 * field thresholds read metadata values as numbers) without failing other
 * than by range. */
// SOURCES: common/file_read.c rater/usage_csv.c rater/rules.c rater/json_path.c rater/rating.c rater/decimal.c
// LIBS: -ljansson -lgmp
// MAX_LEN: 65536
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rater/rating.h"
#include "rater/rules.h"
#include "rater/usage_csv.h"
#include "tests/fuzz/fuzz.h"

/* Services the seeds use, a field mapping, field and service thresholds, a project overlay. */
static const char usage_csv_rules_json[] =
	"{\"services\": {"
	" \"instance\": {\"mappings\": [{\"type\": \"flat\", \"cost\": \"0.01\", \"group\": \"up\"}],"
	"  \"fields\": {\"flavor\": {\"mappings\": ["
	"   {\"type\": \"rate\", \"cost\": \"2\", \"value\": \"m1.large\", \"group\": \"up\"},"
	"   {\"type\": \"rate\", \"cost\": \"1.5\", \"value\": \"m1.large\", \"group\": \"up\", \"project\": \"acme\"}]},"
	"   \"vcpus\": {\"thresholds\": [{\"level\": \"4\", \"type\": \"flat\", \"cost\": \"0.5\"}]}}},"
	" \"volume.size\": {\"mappings\": [{\"type\": \"flat\", \"cost\": \"0.001\", \"group\": \"v\"}],"
	"  \"thresholds\": [{\"level\": \"50\", \"type\": \"rate\", \"cost\": \"0.98\", \"group\": \"v\"},"
	"   {\"level\": \"200\", \"type\": \"rate\", \"cost\": \"0.95\", \"group\": \"v\"}]}}}";

static const struct rules *usage_csv_rules(void)
{
	static struct rules *rules; /* loaded once, kept for the process */
	char err[256];

	if (!rules && rules_load_string(usage_csv_rules_json, &rules, err, sizeof(err))) {
		fprintf(stderr, "fuzz_usage_csv: built-in rules: %s\n", err);
		abort();
	}
	return rules;
}

/* @u written back as CSV into a malloc'd buffer (*@len bytes), or NULL. */
static char *usage_csv_written(const struct usage *u, size_t *len)
{
	char *text = NULL;
	FILE *f = open_memstream(&text, len);
	int err = 0;

	if (!f)
		return NULL;
	for (size_t c = 0; c < USAGE_N_COLUMNS; c++)
		fprintf(f, "%s%s", c ? "," : "", usage_column_names[c]);
	fputs("\r\n", f); /* CRLF here, LF below: both line ends */
	for (size_t i = 0; i < u->n_rows && !err; i++) {
		for (size_t c = 0; c < USAGE_N_COLUMNS && !err; c++) {
			if (c)
				fputc(',', f);
			err = usage_csv_write_field(f, u->rows[i].col[c]);
		}
		fputc('\n', f);
	}
	if (fclose(f) || err) {
		free(text);
		return NULL;
	}
	return text;
}

static int usage_csv_input(const uint8_t *data, size_t size)
{
	struct usage *u = NULL, *u2 = NULL;
	char err[512], *text = NULL;
	size_t len = 0;
	int rc;

	rc = usage_csv_parse((const char *)data, size, &u, err, sizeof(err));
	if (rc) {
		FUZZ_CHECK(u == NULL && err[0]);
		return 0;
	}
	FUZZ_PARSED();
	for (size_t i = 0; i < u->n_rows; i++) {
		const struct usage_row *row = &u->rows[i];
		struct rating_record rec = {
			.service = row->col[USAGE_SERVICE], .project = row->col[USAGE_PROJECT],
			.qty = &row->qty, .n_attrs = row->n_attrs, .attrs = row->attrs,
		};
		struct decimal price;

		decimal_init(&price);
		rc = rating_price(usage_csv_rules(), &rec, &price, NULL);
		FUZZ_CHECK(rc == 0 || rc == -ERANGE);
		decimal_clear(&price);
	}
	text = usage_csv_written(u, &len);
	if (!text)
		goto out;
	rc = usage_csv_parse(text, len, &u2, err, sizeof(err));
	if (rc)
		fprintf(stderr, "written CSV does not parse back: %s\n", err);
	FUZZ_CHECK(rc == 0);
	FUZZ_CHECK(u2->n_rows == u->n_rows);
	for (size_t i = 0; i < u->n_rows; i++) {
		for (size_t c = 0; c < USAGE_N_COLUMNS; c++)
			FUZZ_CHECK(strcmp(u->rows[i].col[c], u2->rows[i].col[c]) == 0);
		FUZZ_CHECK(decimal_cmp(&u->rows[i].qty, &u2->rows[i].qty) == 0);
		FUZZ_CHECK(u->rows[i].n_attrs == u2->rows[i].n_attrs);
	}
out:
	free(text);
	usage_free(u2);
	usage_free(u);
	return 0;
}

FUZZ_ENTRY(usage_csv_input)
