/*
 * rating.h — price one record the way CloudKitty's hashmap module does.
 *
 * /work/shared/RATING.md (the project's measured description of CloudKitty)
 * is the specification; rater/RATING-RULES.md lists where hvrater deviates.
 * In short, per group: service and field mappings set a flat F (most
 * expensive wins) and a rate R (product); one threshold slot per group takes
 * the highest level reached (q for service thresholds, the attribute's
 * number for field thresholds; >=, not tiered); then
 *   sub = R × (F [+ C field flat]) [× C field rate] × q [+ C service flat] [× C service rate]
 * and the price is the incoming price plus every group's sub, each step in
 * 28-digit decimal arithmetic in CloudKitty's order.
 */
#ifndef HV_RATER_RATING_H
#define HV_RATER_RATING_H

#include <stddef.h>

#include "rater/decimal.h"
#include "rater/rules.h"

/* One attribute of a record (CloudKitty's `desc`): metadata with the group-by keys laid over. */
struct rating_attr {
	const char *key;
	const char *value;
};

/* One record: one service, one resource, one period, quantity already in the billing unit. */
struct rating_record {
	const char *service;
	const char *project;             /* whose rules overlay the global ones; NULL or "" for none */
	const struct decimal *qty;
	size_t n_attrs;
	const struct rating_attr *attrs; /* a key given twice: the first counts */
};

/*
 * Where rating_price() reports what it did about odd input (library code
 * logs nothing itself). Messages are debug level: the record was still
 * priced, as documented.
 */
struct rating_log {
	void (*debug)(void *arg, const char *msg);
	void *arg;
};

/*
 * Adds the price of @rec under @rules to *@price (initialise it, normally to
 * 0 with decimal_set_long(price, 0); CloudKitty starts from the record's
 * incoming price). A service the rules do not know leaves *@price unchanged.
 * A field with thresholds whose attribute is not a number counts as "no
 * threshold reached" for that field, reported through @log (may be NULL).
 * Returns 0, or -ERANGE if an intermediate result leaves the decimal range
 * (then *@price is unchanged), or -ENOMEM.
 * Thread rules: @rules is only read; concurrent calls are fine.
 */
int rating_price(const struct rules *rules, const struct rating_record *rec, struct decimal *price,
		 const struct rating_log *log);

#endif
