/* Fuzz target: the request head of hvmeterd's Prometheus endpoint
 * (prom_http_request_parse, bytes from any local scraper) and its listen
 * address parser (prom_listen_parse, a config value). The request parser
 * reads only the @len bytes it is given (ASan: the input is an exact-size
 * heap copy), answers only the documented statuses, and says 200 only for
 * GET or HEAD of /metrics over HTTP/1.x. */
// SOURCES: daemon/prom_http.c daemon/prom_metrics.c wire/*.c store/*.c
// LIBS: -lmbedtls -lmbedx509 -lmbedcrypto -llmdb -lpthread
// MAX_LEN: 8192
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/prom_http.h"
#include "tests/fuzz/fuzz.h"

static int prom_http_input(const uint8_t *data, size_t size)
{
	const char *req = (const char *)data;
	bool head_only = true;
	int status = prom_http_request_parse(req, size, &head_only);

	FUZZ_CHECK(status == 200 || status == 400 || status == 404 || status == 405 || status == 505);
	if (status == 200) {
		FUZZ_PARSED();
		FUZZ_CHECK(head_only ? size > 5 && memcmp(req, "HEAD /metrics", 13 < size ? 13 : size) == 0
				     : size > 4 && memcmp(req, "GET /metrics", 12 < size ? 12 : size) == 0);
	} else {
		FUZZ_CHECK(!head_only);
	}
	/* the same bytes as a listen address, when they could be one */
	if (size < PROM_LISTEN_MAX) {
		char *s = fuzz_strndup(data, size), why[160];
		struct sockaddr_storage ss;
		socklen_t len = 0;
		bool loopback;

		if (s && prom_listen_parse(s, &ss, &len, &loopback, why, sizeof(why)) == 0) {
			FUZZ_PARSED();
			FUZZ_CHECK(ss.ss_family == AF_INET || ss.ss_family == AF_INET6);
			FUZZ_CHECK(len == (ss.ss_family == AF_INET ? sizeof(struct sockaddr_in)
								: sizeof(struct sockaddr_in6)));
		}
		free(s);
	}
	return 0;
}

FUZZ_ENTRY(prom_http_input)
