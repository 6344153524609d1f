/* Fuzz target: the libvirt domain XML reader (daemon/domain_xml.c). Its
 * strings come from outside: Nova copies the tenant's instance name, and
 * project and user names, into <nova:instance>. A domain that parses must
 * have a 36-character UUID and a name, and every attribute it announces
 * must be valid UTF-8 (the XML is; the rater stores and prints them as
 * JSON), within the frame's limits. */
// SOURCES: daemon/domain_xml.c wire/*.c
// LIBS: -lxml2 -lmbedtls -lmbedx509 -lmbedcrypto
// MAX_LEN: 16384
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/agent.h"
#include "tests/fuzz/fuzz.h"

/* RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF. */
static bool domain_xml_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		unsigned c = *p, n = c < 0x80 ? 0 : (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 :
					 (c & 0xf8) == 0xf0 ? 3 : 4;
		unsigned cp = n == 0 ? c : n == 1 ? c & 0x1f : n == 2 ? c & 0x0f : c & 0x07;

		if (n == 4)
			return false;
		for (unsigned i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (p[i] & 0x3f);
		}
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		p += n + 1;
	}
	return true;
}

static int domain_xml_input(const uint8_t *data, size_t size)
{
	char *xml = fuzz_strndup(data, size);
	struct vm *vm = calloc(1, sizeof(*vm));

	if (!xml || !vm)
		goto out;
	if (domain_xml_parse(xml, vm) != 0)
		goto out;
	FUZZ_PARSED();
	FUZZ_CHECK(strlen(vm->uuid) == 36 && vm->name[0]);
	if (!domain_xml_utf8(vm->name))
		fprintf(stderr, "domain name is not UTF-8: '%s'\n", vm->name);
	FUZZ_CHECK(domain_xml_utf8(vm->name));
	FUZZ_CHECK(strcmp(vm->meta.resource, vm->uuid) == 0 && vm->meta.n_attrs <= HV_ATTRS_MAX);
	for (uint32_t i = 0; i < vm->meta.n_attrs; i++) {
		const struct frame_attr *a = &vm->meta.attrs[i];

		FUZZ_CHECK(a->key[0] && a->value[0]);
		if (!domain_xml_utf8(a->value))
			fprintf(stderr, "attribute %s is not UTF-8: '%s'\n", a->key, a->value);
		FUZZ_CHECK(domain_xml_utf8(a->value));
	}
	FUZZ_CHECK(vm->n_taps <= VM_TAPS_MAX);
	for (size_t i = 0; i < vm->n_taps; i++)
		FUZZ_CHECK(strlen(vm->taps[i].name) < sizeof(vm->taps[i].name));
out:
	free(vm);
	free(xml);
	return 0;
}

FUZZ_ENTRY(domain_xml_input)
