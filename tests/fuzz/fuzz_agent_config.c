/* Fuzz target: hvmeterd's INI configuration parser, [uplink] section
 * included (daemon/uplink_config.c has no parser of its own: config.c hands
 * it each key). A config that parses must print, parse back and print the
 * same text: `hvmeterd -n` output is a config. */
// SOURCES: common/*.c daemon/config.c daemon/log.c daemon/uplink_config.c daemon/prom_http.c daemon/prom_metrics.c ipmi/bmc_names.c wire/*.c store/*.c
// LIBS: -linih -lmbedtls -lmbedx509 -lmbedcrypto -llmdb -lpthread
// SEEDS: daemon/hvmeterd.conf.sample
// MAX_LEN: 16384
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/config.h"
#include <ini.h>

#include "tests/fuzz/fuzz.h"

/* config_print of @c into a malloc'd string, or NULL. */
static char *agent_config_printed(const struct config *c)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return NULL;
	config_print(c, f);
	if (fclose(f)) {
		free(text);
		return NULL;
	}
	return text;
}

static int agent_config_input(const uint8_t *data, size_t size)
{
	char err[CONFIG_ERR_MAX], err2[CONFIG_ERR_MAX];
	char *text = fuzz_strndup(data, size), *p1 = NULL, *p2 = NULL, *unindented = NULL;
	struct config *c = malloc(sizeof(*c)), *c2 = malloc(sizeof(*c2));

	if (!text || !c || !c2)
		goto out;
	if (config_parse_string(c, "fuzz.conf", text, err)) {
		FUZZ_CHECK(err[0] != '\0'); /* a refusal always says why */
		goto out;
	}
	FUZZ_PARSED();
	p1 = agent_config_printed(c);
	if (!p1)
		goto out;
	/* indentation means nothing: the same lines unindented give the same config */
	unindented = fuzz_unindented(text);
	if (unindented) {
		FUZZ_CHECK(config_parse_string(c2, "unindented.conf", unindented, err2) == 0);
		p2 = agent_config_printed(c2);
		FUZZ_CHECK(!p2 || strcmp(p1, p2) == 0);
		free(p2);
		p2 = NULL;
	}
	fuzz_ini_drop_empty(p1);
	if (fuzz_ini_comment_value(p1))
		goto out;
	if (config_parse_string(c2, "printed.conf", p1, err2)) {
		/* libinih's fixed line buffer: a value that filled an input line prints
		 * longer ("key = value"); such a line must be refused as too long */
		FUZZ_CHECK(fuzz_longest_line(p1) > INI_MAX_LINE - 1 &&
			   strstr(err2, "line longer than"));
		goto out;
	}
	p2 = agent_config_printed(c2);
	if (p2) {
		fuzz_ini_drop_empty(p2);
		FUZZ_CHECK(strcmp(p1, p2) == 0);
	}
out:
	free(unindented);
	free(p2);
	free(p1);
	free(c2);
	free(c);
	free(text);
	return 0;
}

FUZZ_ENTRY(agent_config_input)
