/* Fuzz target: the traffic class file (daemon/netclass.c). A file that
 * parses must give sorted, distinct prefixes whose class ids are named; its
 * rules printed back as "CIDR CLASS" lines must parse to the same prefixes
 * and ids; and parsing it again with its own id table (a SIGHUP reload)
 * must keep every id. */
// SOURCES: daemon/netclass.c
// LIBS: -lmbedcrypto
// SEEDS: daemon/netclass.sample
// MAX_LEN: 65536
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/netclass.h"
#include "tests/fuzz/fuzz.h"

/* The rules of @nc as a class file, in a malloc'd buffer of *@len bytes. */
static char *netclass_printed(const struct netclass *nc, size_t *len)
{
	char *text = NULL, cidr[64];
	FILE *f = open_memstream(&text, len);

	if (!f)
		return NULL;
	for (size_t i = 0; i < nc->n_prefixes; i++) {
		const struct netclass_prefix *p = &nc->prefixes[i];

		FUZZ_CHECK(netclass_prefix_format(p, cidr, sizeof(cidr)) == 0);
		fprintf(f, "%s\t%s # line %u\n", cidr, netclass_name(nc, p->class_id), p->line);
	}
	if (fclose(f)) {
		free(text);
		return NULL;
	}
	return text;
}

static void netclass_same_rules(const struct netclass *a, const struct netclass *b)
{
	FUZZ_CHECK(a->n_prefixes == b->n_prefixes);
	for (size_t i = 0; i < a->n_prefixes; i++) {
		const struct netclass_prefix *x = &a->prefixes[i], *y = &b->prefixes[i];

		FUZZ_CHECK(x->family == y->family && x->len == y->len && x->class_id == y->class_id);
		FUZZ_CHECK(memcmp(x->addr, y->addr, sizeof(x->addr)) == 0);
	}
}

static int netclass_input(const uint8_t *data, size_t size)
{
	struct netclass *nc = NULL, *again = NULL, *reload = NULL;
	char err[512], *text = NULL;
	size_t len = 0;
	int rc;

	rc = netclass_parse((const char *)data, size, "fuzz.classes", NULL, &nc, err, sizeof(err));
	if (rc) {
		FUZZ_CHECK(nc == NULL && err[0]);
		return 0;
	}
	FUZZ_PARSED();
	FUZZ_CHECK(strcmp(netclass_name(nc, NETCLASS_ID_DEFAULT), "default") == 0);
	FUZZ_CHECK(netclass_name(nc, NETCLASS_ID_LOST) == NULL);
	for (size_t i = 0; i < nc->n_prefixes; i++) {
		const struct netclass_prefix *p = &nc->prefixes[i];
		const char *name = netclass_name(nc, p->class_id);

		FUZZ_CHECK(p->family == 4 || p->family == 6);
		FUZZ_CHECK(p->len <= (p->family == 4 ? 32 : 128));
		FUZZ_CHECK(p->class_id != NETCLASS_ID_LOST && name && nc->in_file[p->class_id]);
		FUZZ_CHECK(netclass_id(nc, name) == p->class_id);
		if (i) { /* sorted by family, address, length, and no prefix twice */
			const struct netclass_prefix *q = &nc->prefixes[i - 1];
			int c = memcmp(q->addr, p->addr, sizeof(p->addr));

			FUZZ_CHECK(q->family < p->family ||
				   (q->family == p->family && (c < 0 || (c == 0 && q->len < p->len))));
		}
	}
	text = netclass_printed(nc, &len);
	if (!text)
		goto out;
	rc = netclass_parse(text, len, "printed.classes", &nc->ids, &again, err, sizeof(err));
	if (rc)
		fprintf(stderr, "printed rules do not parse back: %s\n%s", err, text);
	FUZZ_CHECK(rc == 0);
	netclass_same_rules(nc, again);
	rc = netclass_parse((const char *)data, size, "fuzz.classes", &nc->ids, &reload, err,
			    sizeof(err));
	FUZZ_CHECK(rc == 0);
	netclass_same_rules(nc, reload);
	FUZZ_CHECK(memcmp(&nc->ids, &reload->ids, sizeof(nc->ids)) == 0);
	FUZZ_CHECK(memcmp(nc->sha256, reload->sha256, sizeof(nc->sha256)) == 0);
out:
	free(text);
	netclass_free(reload);
	netclass_free(again);
	netclass_free(nc);
	return 0;
}

FUZZ_ENTRY(netclass_input)
