/* Fuzz target: hvrater's INI configuration parser. A config that parses
 * must print, parse back and print the same text (`hvrater serve -n`
 * output is a config). */
// SOURCES: common/*.c rater/rater_config.c wire/*.c
// LIBS: -linih -lmbedtls -lmbedx509 -lmbedcrypto
// SEEDS: rater/hvrater.conf.sample
// MAX_LEN: 8192
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "rater/rater_config.h"
#include "tests/fuzz/fuzz.h"

/* rater_config_print of @c into a malloc'd string, or NULL. */
static char *rater_config_printed(const struct rater_config *c)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return NULL;
	rater_config_print(c, f);
	if (fclose(f)) {
		free(text);
		return NULL;
	}
	return text;
}

static int rater_config_input(const uint8_t *data, size_t size)
{
	char err[RATER_ERR_MAX], err2[RATER_ERR_MAX];
	char *text = fuzz_strndup(data, size), *p1 = NULL, *p2 = NULL, *unindented = NULL;
	struct rater_config c, c2;

	if (!text)
		return 0;
	if (rater_config_parse_string(&c, "fuzz.conf", text, err)) {
		FUZZ_CHECK(err[0] != '\0');
		goto out;
	}
	FUZZ_PARSED();
	p1 = rater_config_printed(&c);
	if (!p1)
		goto out;
	/* indentation means nothing: the same lines unindented give the same config */
	unindented = fuzz_unindented(text);
	if (unindented) {
		FUZZ_CHECK(rater_config_parse_string(&c2, "unindented.conf", unindented, err2) == 0);
		p2 = rater_config_printed(&c2);
		FUZZ_CHECK(!p2 || strcmp(p1, p2) == 0);
		free(p2);
		p2 = NULL;
	}
	fuzz_ini_drop_empty(p1);
	if (fuzz_ini_comment_value(p1))
		goto out;
	if (rater_config_parse_string(&c2, "printed.conf", p1, err2)) {
		/* libinih's fixed line buffer: a value that filled an input line prints
		 * longer ("key = value"); such a line must be refused as too long */
		FUZZ_CHECK(fuzz_longest_line(p1) > INI_MAX_LINE - 1 &&
			   strstr(err2, "line longer than"));
		goto out;
	}
	p2 = rater_config_printed(&c2);
	if (p2) {
		fuzz_ini_drop_empty(p2);
		FUZZ_CHECK(strcmp(p1, p2) == 0);
	}
out:
	free(unindented);
	free(p2);
	free(p1);
	free(text);
	return 0;
}

FUZZ_ENTRY(rater_config_input)
