/* Fuzz target: the BMC sensor maps (firmware-configs/NAME.map, ipmi/sensor_map.c).
 * A map that parses must print back, in the same line format, to a map
 * that parses to the same fields; its selectors must format and match
 * sensors without crashing, and a set holding it must find it by name. */
// SOURCES: ipmi/sensor_map.c ipmi/bmc_names.c
// LIBS: -lm
// SEEDS: firmware-configs/dell-idrac.map firmware-configs/generic.map firmware-configs/hpe-ilo.map firmware-configs/lenovo-xcc.map firmware-configs/supermicro.map
// MAX_LEN: 65536
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <freeipmi/spec/ipmi-sensor-units-spec.h>

#include "ipmi/sensor_map.h"
#include "tests/fuzz/fuzz.h"

/* Writes @s as a quoted map string (only \" and \\ are escapes). */
static void sensor_map_put_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static void sensor_map_put_selector(FILE *f, const struct sensor_selector *sel)
{
	if (sel->has & SENSOR_SEL_NAME) {
		fputs(" name ", f);
		sensor_map_put_string(f, sel->name);
	}
	if (sel->has & SENSOR_SEL_GLOB) {
		fputs(" glob ", f);
		sensor_map_put_string(f, sel->name);
	}
	if (sel->has & SENSOR_SEL_NUMBER)
		fprintf(f, " number 0x%02x", sel->number);
	if (sel->has & SENSOR_SEL_TYPE)
		fprintf(f, " type %u", sel->type);
	if (sel->has & SENSOR_SEL_UNIT)
		fprintf(f, " unit %s", bmc_unit_name(sel->unit));
	fputc('\n', f);
}

/* @m in the .map line format, in a malloc'd buffer of *@len bytes. */
static char *sensor_map_printed(const struct sensor_map *m, size_t *len)
{
	const char *wa = m->workarounds_str, *comma = strrchr(wa, ',');
	char *text = NULL;
	FILE *f = open_memstream(&text, len);

	if (!f)
		return NULL;
	fprintf(f, "map %s\n", m->name);
	if (m->description[0]) {
		fputs("description ", f);
		sensor_map_put_string(f, m->description);
		fputc('\n', f);
	}
	for (size_t i = 0; i < m->n_match; i++) {
		const struct sensor_map_match *mt = &m->match[i];

		if (mt->any)
			fputs("match any\n", f);
		else if (mt->has_product)
			fprintf(f, "match manufacturer %u product 0x%04x\n", mt->manufacturer_id,
				mt->product_id);
		else
			fprintf(f, "match manufacturer 0x%x\n", mt->manufacturer_id);
	}
	/* The parser joins the words of workarounds lines with ','. One word of
	 * 255 characters does not fit where several joined ones do: split it
	 * at its last comma, which two lines join back to the same text. */
	if (strlen(wa) + 2 > sizeof(m->workarounds_str) && comma && comma > wa) {
		fprintf(f, "workarounds \"%.*s\"\n", (int)(comma - wa), wa);
		fprintf(f, "workarounds \"%s\"\n", comma + 1);
	} else if (wa[0]) {
		fputs("workarounds ", f);
		sensor_map_put_string(f, wa);
		fputc('\n', f);
	}
	for (size_t i = 0; i < m->n_power; i++) {
		if (m->power[i].kind == SENSOR_MAP_POWER_DCMI) {
			fputs("power dcmi\n", f);
		} else {
			fputs("power sensor", f);
			sensor_map_put_selector(f, &m->power[i].sel);
		}
	}
	for (size_t i = 0; i < m->n_export; i++) {
		fprintf(f, "export %s", m->exports[i].name);
		sensor_map_put_selector(f, &m->exports[i].sel);
	}
	if (fclose(f)) {
		free(text);
		return NULL;
	}
	return text;
}

static void sensor_selector_same(const struct sensor_selector *a, const struct sensor_selector *b)
{
	FUZZ_CHECK(a->has == b->has);
	if (a->has & (SENSOR_SEL_NAME | SENSOR_SEL_GLOB))
		FUZZ_CHECK(strcmp(a->name, b->name) == 0);
	if (a->has & SENSOR_SEL_NUMBER)
		FUZZ_CHECK(a->number == b->number);
	if (a->has & SENSOR_SEL_TYPE)
		FUZZ_CHECK(a->type == b->type);
	if (a->has & SENSOR_SEL_UNIT)
		FUZZ_CHECK(a->unit == b->unit);
}

static void sensor_map_same(const struct sensor_map *a, const struct sensor_map *b)
{
	FUZZ_CHECK(strcmp(a->name, b->name) == 0);
	FUZZ_CHECK(strcmp(a->description, b->description) == 0);
	FUZZ_CHECK(strcmp(a->workarounds_str, b->workarounds_str) == 0);
	FUZZ_CHECK(memcmp(&a->workarounds, &b->workarounds, sizeof(a->workarounds)) == 0);
	FUZZ_CHECK(a->n_match == b->n_match && a->n_power == b->n_power && a->n_export == b->n_export);
	for (size_t i = 0; i < a->n_match; i++) {
		FUZZ_CHECK(a->match[i].any == b->match[i].any);
		FUZZ_CHECK(a->match[i].manufacturer_id == b->match[i].manufacturer_id);
		FUZZ_CHECK(a->match[i].has_product == b->match[i].has_product);
		FUZZ_CHECK(a->match[i].product_id == b->match[i].product_id);
	}
	for (size_t i = 0; i < a->n_power; i++) {
		FUZZ_CHECK(a->power[i].kind == b->power[i].kind);
		sensor_selector_same(&a->power[i].sel, &b->power[i].sel);
	}
	for (size_t i = 0; i < a->n_export; i++) {
		FUZZ_CHECK(strcmp(a->exports[i].name, b->exports[i].name) == 0);
		sensor_selector_same(&a->exports[i].sel, &b->exports[i].sel);
	}
}

/* Every selector against a few sensors; the power sensor selectors ask for W. */
static void sensor_map_exercise(const struct sensor_map *m)
{
	static const struct bmc_sensor sensors[] = {
		{ .name = "Pwr Consumption", .number = 0x77, .type = 0x03,
		  .unit = IPMI_SENSOR_UNIT_WATTS },
		{ .name = "Inlet Temp   ", .number = 0x04, .type = 0x01,
		  .unit = IPMI_SENSOR_UNIT_DEGREES_C },
		{ .name = "FAN1", .number = 0x41, .type = 0x04,
		  .unit = IPMI_SENSOR_UNIT_RPM },
	};
	const size_t n = sizeof(sensors) / sizeof(sensors[0]);
	char text[256];

	for (size_t i = 0; i < m->n_power; i++) {
		long k = sensor_selector_find(&m->power[i].sel, sensors, n);

		if (m->power[i].kind == SENSOR_MAP_POWER_SENSOR)
			FUZZ_CHECK(m->power[i].sel.unit == sensors[0].unit && (k == -1 || k == 0));
		sensor_selector_format(&m->power[i].sel, text, sizeof(text));
	}
	for (size_t i = 0; i < m->n_export; i++) {
		FUZZ_CHECK(m->exports[i].sel.has != 0);
		(void)sensor_selector_find(&m->exports[i].sel, sensors, n);
		sensor_selector_format(&m->exports[i].sel, text, sizeof(text));
	}
}

static int sensor_map_input(const uint8_t *data, size_t size)
{
	struct sensor_map *m = malloc(sizeof(*m)), *m2 = malloc(sizeof(*m2));
	struct sensor_map_set set = { 0 };
	struct sensor_map_error err = { .file = "fuzz.map" };
	char msg[512], *text = NULL;
	size_t len = 0;
	int rc;

	if (!m || !m2)
		goto out;
	rc = sensor_map_parse((const char *)data, size, m, &err);
	if (rc) {
		sensor_map_error_format(&err, msg, sizeof(msg));
		FUZZ_CHECK(err.msg[0] != '\0');
		goto out;
	}
	FUZZ_PARSED();
	FUZZ_CHECK(m->n_match > 0 && m->n_power > 0);
	sensor_map_exercise(m);
	FUZZ_CHECK(sensor_map_set_add(&set, m) == 0);
	FUZZ_CHECK(sensor_map_set_find(&set, m->name) == &set.maps[0]);
	for (size_t i = 0; i < m->n_match; i++)
		FUZZ_CHECK(sensor_map_set_match(&set, m->match[i].manufacturer_id,
						m->match[i].product_id) == &set.maps[0]);
	text = sensor_map_printed(m, &len);
	if (!text)
		goto out;
	rc = sensor_map_parse(text, len, m2, &err);
	if (rc) {
		sensor_map_error_format(&err, msg, sizeof(msg));
		fprintf(stderr, "printed map does not parse back: %s\n%s", msg, text);
	}
	FUZZ_CHECK(rc == 0);
	sensor_map_same(m, m2);
out:
	free(text);
	sensor_map_set_free(&set);
	free(m2);
	free(m);
	return 0;
}

FUZZ_ENTRY(sensor_map_input)
