/* Fuzz target: the hashmap rules file (JSON) the rater prices with. Rules
 * that load must be consistently indexed (sorted names, every rule's group
 * and project index naming its own strings, views pointing into their
 * list), and must price records of every service for the global view and
 * for projects without crashing or failing other than by range. */
// SOURCES: common/file_read.c rater/rules.c rater/json_path.c rater/rating.c rater/decimal.c
// LIBS: -ljansson -lgmp
// SEEDS: rater/rules.sample.json
// MAX_LEN: 65536
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rater/rating.h"
#include "rater/rules.h"
#include "tests/fuzz/fuzz.h"

#define RULES_FUZZ_SERVICES 8 /* services and projects priced per input: enough to reach */
#define RULES_FUZZ_PROJECTS 4 /* every code path, few enough to keep executions fast */
#define RULES_FUZZ_ATTRS 16

static void rules_list_check(const struct rules *r, const struct rule_list *l)
{
	for (size_t i = 0; i < l->n_rules; i++) {
		const struct rule *ru = &l->rules[i];

		FUZZ_CHECK(ru->group && ru->group_idx < r->n_groups);
		FUZZ_CHECK(strcmp(r->groups[ru->group_idx], ru->group) == 0);
		if (ru->project) {
			FUZZ_CHECK(ru->project_idx < r->n_projects);
			FUZZ_CHECK(strcmp(r->projects[ru->project_idx], ru->project) == 0);
		} else {
			FUZZ_CHECK(ru->project_idx == RULES_GLOBAL);
		}
	}
	FUZZ_CHECK(l->n_views >= 1 && l->views[0].project_idx == RULES_GLOBAL);
	for (size_t v = 0; v < l->n_views; v++) {
		const struct rule_view *vw = &l->views[v];

		if (v > 1)
			FUZZ_CHECK(l->views[v - 1].project_idx < vw->project_idx);
		FUZZ_CHECK(rule_list_view(l, vw->project_idx) == vw);
		for (size_t k = 0; k < vw->n; k++)
			FUZZ_CHECK(vw->rule[k] >= l->rules && vw->rule[k] < l->rules + l->n_rules);
		for (size_t k = 1; vw->by_value && k < vw->n; k++)
			FUZZ_CHECK(strcmp(vw->rule[vw->by_value[k - 1]]->value,
					  vw->rule[vw->by_value[k]]->value) <= 0);
	}
}

/* Prices one record of service @s: each field's attribute set to the value
 * of its first mapping (else a number), the quantity a threshold level. */
static void rules_price_check(const struct rules *r, const struct rules_service *s,
			      const char *project)
{
	struct rating_attr attrs[RULES_FUZZ_ATTRS];
	struct rating_record rec = { .service = s->name, .project = project, .attrs = attrs };
	struct decimal qty, price;
	int rc;

	decimal_init(&qty);
	decimal_init(&price);
	if (s->thresholds.n_rules)
		decimal_copy(&qty, &s->thresholds.rules[s->thresholds.n_rules - 1].level);
	else
		FUZZ_CHECK(decimal_parse(&qty, "2.5") == 0);
	rec.qty = &qty;
	for (size_t i = 0; i < s->n_fields && rec.n_attrs < RULES_FUZZ_ATTRS; i++) {
		const struct rules_field *f = &s->fields[i];

		attrs[rec.n_attrs].key = f->name;
		attrs[rec.n_attrs].value = f->mappings.n_rules ? f->mappings.rules[0].value : "12.5";
		rec.n_attrs++;
	}
	rc = rating_price(r, &rec, &price, NULL);
	FUZZ_CHECK(rc == 0 || rc == -ERANGE);
	decimal_clear(&price);
	decimal_clear(&qty);
}

static int rules_input(const uint8_t *data, size_t size)
{
	char *json = fuzz_strndup(data, size), err[512];
	struct rules *r = NULL;
	int rc;

	if (!json)
		return 0;
	rc = rules_load_string(json, &r, err, sizeof(err));
	if (rc) {
		FUZZ_CHECK(r == NULL && (rc == -EINVAL || rc == -ENOMEM) && err[0]);
		goto out;
	}
	FUZZ_PARSED();
	for (size_t i = 1; i < r->n_groups; i++)
		FUZZ_CHECK(strcmp(r->groups[i - 1], r->groups[i]) < 0);
	for (size_t i = 0; i < r->n_projects; i++) {
		FUZZ_CHECK(i == 0 || strcmp(r->projects[i - 1], r->projects[i]) < 0);
		FUZZ_CHECK(rules_project_find(r, r->projects[i]) == i);
	}
	for (size_t i = 0; i < r->n_services; i++) {
		const struct rules_service *s = &r->services[i];

		FUZZ_CHECK(i == 0 || strcmp(r->services[i - 1].name, s->name) < 0);
		FUZZ_CHECK(rules_service_find(r, s->name) == s);
		rules_list_check(r, &s->mappings);
		rules_list_check(r, &s->thresholds);
		for (size_t k = 0; k < s->n_fields; k++) {
			rules_list_check(r, &s->fields[k].mappings);
			rules_list_check(r, &s->fields[k].thresholds);
		}
		if (i >= RULES_FUZZ_SERVICES)
			continue;
		rules_price_check(r, s, NULL);
		for (size_t p = 0; p < r->n_projects && p < RULES_FUZZ_PROJECTS; p++)
			rules_price_check(r, s, r->projects[p]);
	}
out:
	rules_free(r);
	free(json);
	return 0;
}

FUZZ_ENTRY(rules_input)
