/*
 * report.h — rated usage from the rater's store: `hvrater report`.
 *
 * One record per rating period, project, resource and service (a
 * CloudKitty record): the stored series of the service's metric that match
 * it (labels, resource kind) summed over the hosts that carried the
 * resource in that period, converted by the metrics file
 * (rater/quantity.h), and priced by the hashmap rules (rater/rating.h) —
 * per record, so thresholds see the whole period's quantity.
 *
 * The resource's metadata is the one in force at the period's end (the
 * last announcement by a frame that started before it; a resource that
 * moved between hosts within a period takes the first host's, in host id
 * order). The project is its "project" attribute (empty when none). A
 * record's metadata is that metadata restricted to the service's
 * "metadata" list; rules see it with "project" (when not empty) and
 * "resource" laid over, as `hvrater rate` does. The host's own series
 * (resource "host") are reported under the host id as resource.
 *
 * Closing: rater/period.h. Only closed periods are reported unless
 * include_open is set; every record says whether its period is closed.
 */
#ifndef HV_RATER_REPORT_H
#define HV_RATER_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rater/decimal.h"
#include "rater/metrics_map.h"
#include "rater/rating.h"
#include "rater/rstore.h"
#include "rater/rules.h"

struct report_opts {
	int64_t from_s;       /* periods that begin in [from_s, to_s) */
	int64_t to_s;
	const char *project;  /* only this project's records; NULL for all */
	bool include_open;    /* also periods not closed yet */
	int64_t now_ns;       /* the clock periods close by */
	int64_t close_wait_s;
};

struct report_record {
	int64_t begin_s, end_s;
	bool closed;
	char *project;            /* "" when the resource has none */
	char *resource;           /* resource id (the host id for the host's own series) */
	char *host;               /* the host that carried it (the first, if several) */
	char *name;               /* the resource's "name" attribute, or NULL */
	char *project_name;       /* its "project_name" attribute, or NULL */
	const struct metrics_service *service;
	struct decimal qty;       /* in service->unit */
	struct decimal price;
	size_t n_attrs;
	struct rating_attr *attrs; /* the record's metadata (strings owned here) */
};

struct report {
	uint32_t period_s;
	size_t n_records;
	struct report_record *records; /* by begin, project, resource, service name */
	int64_t first_open_s;          /* begin of the first open period seen, or INT64_MAX */
	char behind_host[HV_ID_MAX];   /* a host holding it open ("" when it is not over yet) */
	size_t n_series;               /* stored series read */
	size_t n_unmapped;             /* of which no service used (metric not in the metrics file) */
};

/*
 * Builds the report of @rs under metrics @m and @rules with @o. On success
 * *@out holds it (free with report_free()) and 0 is returned; on failure
 * *@out is NULL, @err holds one line and the return is -errno (a store
 * error, -ERANGE for a quantity or price beyond the decimal range, -ENOMEM).
 * @log receives the rating's debug messages (may be NULL).
 */
int report_build(struct rstore *rs, const struct metrics_map *m, const struct rules *rules,
		 const struct report_opts *o, const struct rating_log *log, struct report **out,
		 char *err, size_t errlen);

/* Frees everything; accepts NULL. */
void report_free(struct report *r);

#endif
