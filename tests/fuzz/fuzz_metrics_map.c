/* Fuzz target: the rater's metrics file (JSON, rater/metrics_map.c). A map
 * that parses must hold a known metric, a positive factor and named enums
 * for every service, must answer metrics_service_matches for a few series,
 * and must print back (as JSON, with the texts it kept) to a file that
 * parses to the same services. */
// SOURCES: common/file_read.c rater/metrics_map.c rater/json_path.c rater/decimal.c wire/*.c
// LIBS: -ljansson -lgmp -lmbedtls -lmbedx509 -lmbedcrypto
// SEEDS: rater/metrics.sample.json
// MAX_LEN: 65536
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "rater/metrics_map.h"
#include "tests/fuzz/fuzz.h"

/* @m as a metrics file, every key explicit (malloc'd; NULL if out of memory). */
static char *metrics_map_printed(const struct metrics_map *m)
{
	json_t *root = json_object(), *metrics = json_object();
	char *text = NULL;
	int bad = !root || !metrics;

	for (size_t i = 0; !bad && i < m->n_services; i++) {
		const struct metrics_service *s = &m->services[i];
		json_t *o = json_object(), *labels = json_object(), *meta = json_array();

		bad = !o || !labels || !meta;
		for (size_t k = 0; !bad && k < s->n_labels; k++)
			bad = json_object_set_new(labels, s->labels[k].key, json_string(s->labels[k].value));
		for (size_t k = 0; !bad && k < s->n_metadata; k++)
			bad = json_array_append_new(meta, json_string(s->metadata[k]));
		bad = bad || json_object_set_new(o, "metric", json_string(s->metric)) ||
		      json_object_set_new(o, "unit", json_string(s->unit)) ||
		      json_object_set_new(o, "aggregate", json_string(metrics_aggregate_name(s->aggregate))) ||
		      json_object_set_new(o, "factor", json_string(s->factor_text)) ||
		      json_object_set_new(o, "offset", json_string(s->offset_text)) ||
		      json_object_set_new(o, "mutate", json_string(metrics_mutate_name(s->mutate))) ||
		      json_object_set_new(o, "resources", json_string(metrics_resources_name(s->resources))) ||
		      json_object_set(o, "labels", labels) || json_object_set(o, "metadata", meta) ||
		      json_object_set(metrics, s->name, o);
		json_decref(meta);
		json_decref(labels);
		json_decref(o);
	}
	if (!bad && json_object_set(root, "metrics", metrics) == 0)
		text = json_dumps(root, JSON_COMPACT);
	json_decref(metrics);
	json_decref(root);
	return text;
}

static const struct metrics_service *metrics_service_named(const struct metrics_map *m,
							    const char *name)
{
	for (size_t i = 0; i < m->n_services; i++)
		if (strcmp(m->services[i].name, name) == 0)
			return &m->services[i];
	return NULL;
}

static void metrics_service_same(const struct metrics_service *a, const struct metrics_service *b)
{
	FUZZ_CHECK(b && strcmp(a->metric, b->metric) == 0 && strcmp(a->unit, b->unit) == 0);
	FUZZ_CHECK(a->def == b->def && a->aggregate == b->aggregate && a->mutate == b->mutate &&
		   a->resources == b->resources);
	FUZZ_CHECK(mpq_equal(a->factor, b->factor) && mpq_equal(a->offset, b->offset));
	FUZZ_CHECK(a->n_labels == b->n_labels && a->n_metadata == b->n_metadata);
	for (size_t k = 0; k < a->n_labels; k++)
		FUZZ_CHECK(strcmp(a->labels[k].key, b->labels[k].key) == 0 &&
			   strcmp(a->labels[k].value, b->labels[k].value) == 0);
	for (size_t k = 0; k < a->n_metadata; k++)
		FUZZ_CHECK(strcmp(a->metadata[k], b->metadata[k]) == 0);
}

static int metrics_map_input(const uint8_t *data, size_t size)
{
	static const char *const series_labels[] = { "", "class=public;device=tap0", "part=remainder" };
	struct metrics_map *m = NULL, *m2 = NULL;
	char err[512], *text = NULL;
	int rc;

	rc = metrics_map_parse((const char *)data, size, &m, err, sizeof(err));
	if (rc) {
		FUZZ_CHECK(m == NULL && err[0]);
		return 0;
	}
	FUZZ_PARSED();
	for (size_t i = 0; i < m->n_services; i++) {
		const struct metrics_service *s = &m->services[i];

		FUZZ_CHECK(s->name[0] && s->def && s->unit && mpq_sgn(s->factor) > 0);
		FUZZ_CHECK(s->factor_text && s->offset_text);
		FUZZ_CHECK(metrics_aggregate_name(s->aggregate) && metrics_mutate_name(s->mutate) &&
			   metrics_resources_name(s->resources));
		for (size_t k = 0; k < sizeof(series_labels) / sizeof(series_labels[0]); k++) {
			bool vm = metrics_service_matches(s, "6a4c1f0e-2b7d-4e39-9a51-0c8d3e7f1b24",
							  series_labels[k]);
			bool host = metrics_service_matches(s, "host", series_labels[k]);

			FUZZ_CHECK(!vm || s->resources != METRICS_RES_HOST);
			FUZZ_CHECK(!host || s->resources != METRICS_RES_VM);
		}
	}
	text = metrics_map_printed(m);
	if (!text)
		goto out;
	rc = metrics_map_parse(text, strlen(text), &m2, err, sizeof(err));
	if (rc)
		fprintf(stderr, "printed metrics file does not parse back: %s\n%s\n", err, text);
	FUZZ_CHECK(rc == 0);
	FUZZ_CHECK(m2->n_services == m->n_services);
	for (size_t i = 0; i < m->n_services; i++)
		metrics_service_same(&m->services[i], metrics_service_named(m2, m->services[i].name));
out:
	free(text);
	metrics_map_free(m2);
	metrics_map_free(m);
	return 0;
}

FUZZ_ENTRY(metrics_map_input)
