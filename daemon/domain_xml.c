#include "daemon/agent.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#define NOVA_NS "http://openstack.org/xmlns/libvirt/nova/1.1"

/*
 * Copies the string value of @expr (or "" when absent) into @out. A longer
 * value (a tenant's instance name) is cut before the character that does
 * not fit whole: cut inside one, it would no longer be UTF-8.
 */
static void xpath_str(xmlXPathContextPtr ctx, const char *expr, char *out, size_t len)
{
	xmlXPathObjectPtr o = xmlXPathEvalExpression((const xmlChar *)expr, ctx);

	out[0] = '\0';
	if (o && o->type == XPATH_STRING && o->stringval) {
		const char *s = (const char *)o->stringval;
		size_t n = strlen(s);

		if (n >= len)
			for (n = len - 1; n && ((unsigned char)s[n] & 0xc0) == 0x80; n--)
				;
		memcpy(out, s, n);
		out[n] = '\0';
	}
	xmlXPathFreeObject(o);
}

static void meta_set(struct vm *vm, const char *key, const char *value)
{
	if (value[0])
		frame_attr_set(&vm->meta, key, value);
}

/* libvirt memory values carry a unit attribute; normalise to KiB. */
static uint64_t to_kib(const char *num, const char *unit)
{
	unsigned long long v = strtoull(num, NULL, 10);

	if (!unit[0] || !strcmp(unit, "KiB") || !strcmp(unit, "k"))
		return v;
	if (!strcmp(unit, "b") || !strcmp(unit, "bytes"))
		return v / 1024;
	if (!strcmp(unit, "MiB") || !strcmp(unit, "M"))
		return v << 10;
	if (!strcmp(unit, "GiB") || !strcmp(unit, "G"))
		return v << 20;
	if (!strcmp(unit, "KB"))
		return v * 1000 / 1024;
	if (!strcmp(unit, "MB"))
		return v * 1000000 / 1024;
	if (!strcmp(unit, "GB"))
		return v * 1000000000 / 1024;
	return v;
}

int domain_xml_parse(const char *xml, struct vm *vm)
{
	xmlDocPtr doc;
	xmlXPathContextPtr ctx = NULL;
	char buf[HV_ATTR_VAL_MAX], unit[16];
	int err = -EINVAL;

	doc = xmlReadMemory(xml, (int)strlen(xml), "domain.xml", NULL,
			    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (!doc)
		return -EINVAL;
	ctx = xmlXPathNewContext(doc);
	if (!ctx) {
		err = -ENOMEM;
		goto out;
	}
	xmlXPathRegisterNs(ctx, (const xmlChar *)"nova", (const xmlChar *)NOVA_NS);

	xpath_str(ctx, "string(/domain/uuid)", vm->uuid, sizeof(vm->uuid));
	xpath_str(ctx, "string(/domain/name)", vm->name, sizeof(vm->name));
	if (strlen(vm->uuid) != 36 || !vm->name[0])
		goto out;

	xpath_str(ctx, "string(/domain/vcpu/@current)", buf, sizeof(buf));
	if (!buf[0])
		xpath_str(ctx, "string(/domain/vcpu)", buf, sizeof(buf));
	vm->vcpus = (uint32_t)strtoul(buf, NULL, 10);

	xpath_str(ctx, "string(/domain/currentMemory)", buf, sizeof(buf));
	xpath_str(ctx, "string(/domain/currentMemory/@unit)", unit, sizeof(unit));
	if (!buf[0]) {
		xpath_str(ctx, "string(/domain/memory)", buf, sizeof(buf));
		xpath_str(ctx, "string(/domain/memory/@unit)", unit, sizeof(unit));
	}
	vm->memory_kib = to_kib(buf, unit);

	/* host-side taps of the NICs, in XML order */
	vm->n_taps = 0;
	{
		xmlXPathObjectPtr o = xmlXPathEvalExpression(
			(const xmlChar *)"/domain/devices/interface/target/@dev", ctx);

		if (o && o->nodesetval) {
			for (int i = 0; i < o->nodesetval->nodeNr && vm->n_taps < VM_TAPS_MAX; i++) {
				xmlChar *dev = xmlNodeGetContent(o->nodesetval->nodeTab[i]);

				if (dev && strlen((const char *)dev) < sizeof(vm->taps[0].name)) {
					snprintf(vm->taps[vm->n_taps].name, sizeof(vm->taps[0].name), "%s",
						 (const char *)dev);
					vm->taps[vm->n_taps++].ifindex = 0;
				}
				xmlFree(dev);
			}
		}
		xmlXPathFreeObject(o);
	}
	memset(&vm->meta, 0, sizeof(vm->meta));
	snprintf(vm->meta.resource, sizeof(vm->meta.resource), "%s", vm->uuid);
	meta_set(vm, "domain", vm->name);
	xpath_str(ctx, "string(/domain/metadata/nova:instance/nova:name)", buf, sizeof(buf));
	meta_set(vm, "name", buf[0] ? buf : vm->name);
	xpath_str(ctx, "string(/domain/metadata/nova:instance/nova:owner/nova:project/@uuid)", buf, sizeof(buf));
	meta_set(vm, "project", buf);
	xpath_str(ctx, "string(/domain/metadata/nova:instance/nova:owner/nova:project)", buf, sizeof(buf));
	meta_set(vm, "project_name", buf);
	xpath_str(ctx, "string(/domain/metadata/nova:instance/nova:owner/nova:user/@uuid)", buf, sizeof(buf));
	meta_set(vm, "user", buf);
	xpath_str(ctx, "string(/domain/metadata/nova:instance/nova:owner/nova:user)", buf, sizeof(buf));
	meta_set(vm, "user_name", buf);
	xpath_str(ctx, "string(/domain/metadata/nova:instance/nova:flavor/@name)", buf, sizeof(buf));
	meta_set(vm, "flavor", buf);
	xpath_str(ctx, "string(/domain/metadata/nova:instance/nova:flavor/nova:vcpus)", buf, sizeof(buf));
	meta_set(vm, "flavor_vcpus", buf);
	xpath_str(ctx, "string(/domain/metadata/nova:instance/nova:flavor/nova:memory)", buf, sizeof(buf));
	meta_set(vm, "flavor_ram", buf);
	xpath_str(ctx, "string(/domain/metadata/nova:instance/nova:root[@type='image']/@uuid)", buf, sizeof(buf));
	meta_set(vm, "image", buf);
	err = 0;
out:
	xmlXPathFreeContext(ctx);
	xmlFreeDoc(doc);
	return err;
}
