/* Fuzz target: hvmeterd's INI configuration parser. */
// SOURCES: daemon/config.c daemon/log.c
// LIBS: -linih
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config c;
	char err[CONFIG_ERR_MAX];
	char *text = malloc(size + 1);

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	(void)config_parse_string(&c, "fuzz.conf", text, err);
	free(text);
	return 0;
}
