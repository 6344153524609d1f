/*
 * rating.c — CloudKitty's hashmap pricing of one record.
 *
 * Mirrors HashMap.process() in cloudkitty/rating/hash/__init__.py step by
 * step, including the order of operations, because every decimal operation
 * rounds to 28 digits: a different order can change the last digit.
 */
#include "rater/rating.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum threshold_scope {
	SCOPE_FIELD = 0, /* CloudKitty's default slot is scope "field", flat, cost 0, level -1 */
	SCOPE_SERVICE,
};

/* CloudKitty's _res[group]. */
struct group_slot {
	bool used;
	struct decimal flat; /* starts at 0 */
	struct decimal rate; /* starts at 1 */
	const struct rule *threshold; /* NULL: the default slot (level -1, flat 0) */
	enum threshold_scope scope;
};

struct rating_state {
	struct group_slot *slot; /* by group index */
	size_t *order;           /* groups in the order CloudKitty created them */
	size_t n_order;
};

/* update_result()'s "if group not in self._res": the slot is created on first use. */
static struct group_slot *slot_get(struct rating_state *st, size_t group)
{
	struct group_slot *s = &st->slot[group];

	if (!s->used) {
		s->used = true;
		decimal_init(&s->flat);
		decimal_init(&s->rate);
		decimal_set_long(&s->rate, 1);
		s->threshold = NULL;
		s->scope = SCOPE_FIELD;
		st->order[st->n_order++] = group;
	}
	return s;
}

/* update_result() for a mapping. */
static int apply_mapping(struct rating_state *st, const struct rule *m)
{
	struct group_slot *s = slot_get(st, m->group_idx);

	if (m->type == RULE_RATE)
		return decimal_mul(&s->rate, &s->rate, &m->cost);
	/* only the most expensive flat counts; the cost itself is kept, unrounded */
	if (decimal_cmp(&m->cost, &s->flat) > 0)
		decimal_copy(&s->flat, &m->cost);
	return 0;
}

/* update_result() for a threshold: strictly higher level wins, so the first of a tie stays. */
static void offer_threshold(struct rating_state *st, const struct rule *t, enum threshold_scope scope)
{
	struct group_slot *s = slot_get(st, t->group_idx);

	/* levels are >= 0 (checked at load), so any beats the default level -1 */
	if (s->threshold && decimal_cmp(&t->level, &s->threshold->level) <= 0)
		return;
	s->threshold = t;
	s->scope = scope;
}

static const char *attr_find(const struct rating_record *rec, const char *key)
{
	for (size_t i = 0; i < rec->n_attrs; i++)
		if (strcmp(rec->attrs[i].key, key) == 0)
			return rec->attrs[i].value;
	return NULL;
}

static int cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

/* process_mappings(): every mapping whose value is the attribute's text, in view order. */
static int field_mappings(struct rating_state *st, const struct rule_view *v, const char *text)
{
	size_t lo = 0, hi = v->n, first, n = 0;
	size_t *hits = NULL;
	int err = 0;

	/* lower bound of @text in by_value */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(v->rule[v->by_value[mid]]->value, text) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	first = lo;
	while (lo < v->n && strcmp(v->rule[v->by_value[lo]]->value, text) == 0)
		lo++;
	if (lo == first)
		return 0;
	/* one match per group at most; group slots must be created in CloudKitty's order */
	hits = malloc((lo - first) * sizeof(*hits));
	if (!hits)
		return -ENOMEM;
	for (size_t i = first; i < lo; i++)
		hits[n++] = v->by_value[i];
	qsort(hits, n, sizeof(*hits), cmp_size);
	for (size_t i = 0; i < n && !err; i++)
		err = apply_mapping(st, v->rule[hits[i]]);
	free(hits);
	return err;
}

static void log_debug(const struct rating_log *log, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void log_debug(const struct rating_log *log, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!log || !log->debug)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log->debug(log->arg, msg);
}

/*
 * process_thresholds() for a field: CloudKitty compares Decimal(attribute)
 * with each level. Text Decimal() refuses (or NaN, whose comparison raises)
 * makes CloudKitty fail the whole period; here it means "not reached".
 */
static int field_thresholds(struct rating_state *st, const struct rule_view *v,
			    const struct rating_record *rec, const char *field, const char *text,
			    const struct rating_log *log)
{
	enum decimal_class cls = DECIMAL_NAN;
	struct decimal x;
	int err;

	decimal_init(&x);
	err = decimal_parse_python(&x, text, &cls);
	if (err == -ENOMEM)
		goto cleanup;
	if (err || cls == DECIMAL_NAN) {
		log_debug(log, "service %s, field %s: value \"%.64s\" is not a number; "
			  "its thresholds count as not reached", rec->service, field, text);
		err = 0;
		goto cleanup;
	}
	for (size_t i = 0; i < v->n; i++) {
		const struct rule *t = v->rule[i];
		bool reached = cls == DECIMAL_INF ||
			       (cls == DECIMAL_FINITE && decimal_cmp(&x, &t->level) >= 0);

		if (reached)
			offer_threshold(st, t, SCOPE_FIELD);
	}
cleanup:
	decimal_clear(&x);
	return err;
}

/* add_rating_informations() for one group: sub = R × F × q with the threshold worked in. */
static int group_subtotal(const struct group_slot *s, const struct decimal *qty,
			  const struct decimal *zero, struct decimal *sub)
{
	const struct decimal *cost = s->threshold ? &s->threshold->cost : zero;
	enum rule_type type = s->threshold ? s->threshold->type : RULE_FLAT;
	struct decimal flat, rate;
	int err;

	decimal_init(&flat);
	decimal_init(&rate);
	decimal_copy(&flat, &s->flat);
	decimal_copy(&rate, &s->rate);
	/* the default slot is scope "field", flat, cost 0: CloudKitty adds that 0 (it rounds F) */
	if (s->scope == SCOPE_FIELD) {
		if (type == RULE_FLAT)
			err = decimal_add(&flat, &flat, cost);
		else
			err = decimal_mul(&rate, &rate, cost);
		if (err)
			goto cleanup;
	}
	if ((err = decimal_mul(sub, &rate, &flat)) || (err = decimal_mul(sub, sub, qty)))
		goto cleanup;
	if (s->scope == SCOPE_SERVICE) {
		if (type == RULE_FLAT)
			err = decimal_add(sub, sub, cost);
		else
			err = decimal_mul(sub, sub, cost);
	}
cleanup:
	decimal_clear(&rate);
	decimal_clear(&flat);
	return err;
}

int rating_price(const struct rules *rules, const struct rating_record *rec, struct decimal *price,
		 const struct rating_log *log)
{
	const struct rules_service *svc;
	struct rating_state st = { 0 };
	struct decimal total, sub, zero;
	size_t project;
	int err = 0;

	svc = rules_service_find(rules, rec->service);
	if (!svc)
		return 0; /* process_services/process_fields return early: price unchanged */
	project = rules_project_find(rules, rec->project);

	decimal_init(&total);
	decimal_init(&sub);
	decimal_init(&zero);
	st.slot = calloc(rules->n_groups ? rules->n_groups : 1, sizeof(*st.slot));
	st.order = calloc(rules->n_groups ? rules->n_groups : 1, sizeof(*st.order));
	if (!st.slot || !st.order) {
		err = -ENOMEM;
		goto cleanup;
	}

	/* process_services(): every service mapping, then the thresholds q reaches */
	{
		const struct rule_view *v = rule_list_view(&svc->mappings, project);

		for (size_t i = 0; i < v->n && !err; i++)
			err = apply_mapping(&st, v->rule[i]);
		if (err)
			goto cleanup;
		v = rule_list_view(&svc->thresholds, project);
		for (size_t i = 0; i < v->n; i++)
			if (decimal_cmp(rec->qty, &v->rule[i]->level) >= 0)
				offer_threshold(&st, v->rule[i], SCOPE_SERVICE);
	}

	/* process_fields(): fields in order, those the record has */
	for (size_t f = 0; f < svc->n_fields; f++) {
		const struct rules_field *fld = &svc->fields[f];
		const char *text = attr_find(rec, fld->name);
		const struct rule_view *v;

		if (!text)
			continue;
		err = field_mappings(&st, rule_list_view(&fld->mappings, project), text);
		if (err)
			goto cleanup;
		v = rule_list_view(&fld->thresholds, project);
		/* "if group_mappings['thresholds']": only then is the text made a number */
		if (v->n) {
			err = field_thresholds(&st, v, rec, fld->name, text, log);
			if (err)
				goto cleanup;
		}
	}

	/* add_rating_informations(): price += sub, group by group in creation order */
	decimal_copy(&total, price);
	for (size_t i = 0; i < st.n_order; i++) {
		err = group_subtotal(&st.slot[st.order[i]], rec->qty, &zero, &sub);
		if (err)
			goto cleanup;
		err = decimal_add(&total, &total, &sub);
		if (err)
			goto cleanup;
	}
	decimal_copy(price, &total);
cleanup:
	for (size_t i = 0; st.order && i < st.n_order; i++) {
		decimal_clear(&st.slot[st.order[i]].rate);
		decimal_clear(&st.slot[st.order[i]].flat);
	}
	free(st.order);
	free(st.slot);
	decimal_clear(&zero);
	decimal_clear(&sub);
	decimal_clear(&total);
	return err;
}
