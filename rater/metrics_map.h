/*
 * metrics_map.h — the metrics file: which hvmeter metric feeds which rated
 * service, and how its stored usage becomes the service's quantity.
 *
 * It plays the part of CloudKitty's metrics.yml (rater/METRICS.md has the
 * full format and where it differs), as JSON:
 *
 *   {"metrics": {
 *     "instance": {"metric": "vcpu.alloc", "aggregate": "duration",
 *                  "factor": "1/3600", "unit": "hour", "metadata": ["flavor", "name"]},
 *     "network.outgoing.public": {"metric": "net.tx.bytes", "labels": {"class": "public"},
 *                  "factor": "1/1073741824", "unit": "GiB"}}}
 *
 * Each key of "metrics" is a service (the name the hashmap rules price,
 * CloudKitty's alt_name). Per service:
 *   metric     required; an hvmeter metric (wire/metric.c)
 *   unit       required; the billing unit, for people (never converts anything)
 *   aggregate  "sum" (counters' default), "max" (default of max gauges) or
 *              "duration" (seconds of the frames that carried the metric)
 *   factor     "DEC" or "DEC/DEC", default "1"; positive
 *   offset     "DEC", default "0"
 *   mutate     "NONE" (default), "CEIL", "FLOOR", "NUMBOOL", "NOTNUMBOOL"
 *   labels     {"key": "value"...}: only series whose labels hold each pair
 *              ("key": "" — only series without that label)
 *   resources  "vm" (default), "host" (the host's own series) or "all"
 *   metadata   ["key"...]: resource metadata the records carry (and rules see)
 * Any other key is refused. Numbers are JSON strings (a JSON number would
 * pass through a binary double). The whole file is checked before anything
 * is returned; the first problem is reported with its JSON path, e.g.
 * `metrics.cpu.factor: not a decimal or a fraction: "1/0"`.
 *
 * A loaded map is immutable; any number of threads may read it. Nothing
 * here logs.
 */
#ifndef HV_RATER_METRICS_MAP_H
#define HV_RATER_METRICS_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <gmp.h>

#include "rater/decimal.h"
#include "wire/metric.h"

#define METRICS_MAP_FILE_MAX (16L << 20) /* bytes; a metrics file this large is a mistake */
#define METRICS_NAME_MAX     255         /* service names, units, label and metadata keys */

enum metrics_aggregate {
	METRICS_AGG_SUM = 0,   /* sum of the deltas (counters) */
	METRICS_AGG_MAX,       /* largest frame value (gauges of kind max) */
	METRICS_AGG_DURATION,  /* seconds of the frames that carried the series */
};

enum metrics_mutate {
	METRICS_MUTATE_NONE = 0,
	METRICS_MUTATE_CEIL,
	METRICS_MUTATE_FLOOR,
	METRICS_MUTATE_NUMBOOL,    /* 0 stays 0, anything else is 1 */
	METRICS_MUTATE_NOTNUMBOOL, /* 0 is 1, anything else is 0 */
};

enum metrics_resources {
	METRICS_RES_VM = 0, /* virtual machines (every resource but the host's own) */
	METRICS_RES_HOST,   /* the pseudo-resource "host": the hypervisor itself */
	METRICS_RES_ALL,
};

struct metrics_label {
	char *key;
	char *value;
};

struct metrics_service {
	char *name;                      /* the rated service ("instance") */
	char *metric;                    /* the hvmeter metric ("vcpu.alloc") */
	const struct metric_def *def;    /* its definition: unit, scale, kind */
	char *unit;                      /* billing unit ("hour") */
	enum metrics_aggregate aggregate;
	mpq_t factor;                    /* exact; > 0 */
	mpq_t offset;                    /* exact */
	char *factor_text;               /* as written ("1/3600"), for printing */
	char *offset_text;
	enum metrics_mutate mutate;
	enum metrics_resources resources;
	size_t n_labels;
	struct metrics_label *labels;    /* file order */
	size_t n_metadata;
	char **metadata;                 /* file order */
};

struct metrics_map {
	size_t n_services;
	struct metrics_service *services; /* file order */
};

/*
 * Parses and checks the metrics file held in @len bytes at @buf (no NUL
 * needed: this is the fuzzing entry point). On success *@out holds the map
 * (free with metrics_map_free()) and 0 is returned. On failure *@out is
 * NULL, @err (if @errlen > 0) holds one line — "PATH: what", or
 * "LINE:COLUMN: message" for a JSON syntax error — and the return is
 * -EINVAL (invalid file) or -ENOMEM.
 */
int metrics_map_parse(const char *buf, size_t len, struct metrics_map **out, char *err,
		      size_t errlen);

/*
 * As metrics_map_parse() on the file @path; also -errno from opening or
 * reading it, and -EFBIG beyond METRICS_MAP_FILE_MAX (message in @err).
 */
int metrics_map_load_file(const char *path, struct metrics_map **out, char *err, size_t errlen);

/* Frees everything; accepts NULL. */
void metrics_map_free(struct metrics_map *m);

/*
 * True when a stored series of @resource with @labels ("k=v;k=v", as the
 * agent writes them) feeds service @s (its metric is the caller's match).
 */
bool metrics_service_matches(const struct metrics_service *s, const char *resource,
			     const char *labels);

/* "sum", "max", "duration"; "NONE", "CEIL"...; "vm", "host", "all". */
const char *metrics_aggregate_name(enum metrics_aggregate a);
const char *metrics_mutate_name(enum metrics_mutate m);
const char *metrics_resources_name(enum metrics_resources r);

#endif
