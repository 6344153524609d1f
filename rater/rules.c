/*
 * rules.c — load, validate and index the hashmap rules file.
 *
 * Loading is all-or-nothing: the JSON is walked once into struct rules,
 * checking every value; names are then interned and, per list, the view of
 * every project computed, so that rating a record does no overlay work.
 */
#include "common/file_read.h"
#include "rater/rules.h"
#include "rater/json_path.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#define RULES_FILE_MAX (64L << 20) /* a rules file this large is a mistake, not a config */
#define COST_INT_DIGITS 12         /* CloudKitty: cost NUMERIC(40,28), level NUMERIC(20,8) */
#define COST_PLACES 28
#define LEVEL_PLACES 8

enum rule_kind {
	KIND_SERVICE_MAPPING,
	KIND_FIELD_MAPPING,
	KIND_THRESHOLD,
};

const char *rule_type_name(enum rule_type t)
{
	return t == RULE_RATE ? "rate" : "flat";
}

/* ---- values ---------------------------------------------------------------- */

/* A non-empty string of at most RULES_NAME_MAX bytes; *@out is NULL when optional and absent. */
static int get_name(struct json_path *c, json_t *obj, const char *key, bool required, char **out)
{
	json_t *v = json_object_get(obj, key);
	size_t old;
	int err = 0;

	*out = NULL;
	old = jpath_push_key(c, key);
	if (!v) {
		if (required)
			err = jpath_fail(c, "missing");
		goto cleanup;
	}
	if (!json_is_string(v)) {
		err = jpath_fail(c, "must be a string");
		goto cleanup;
	}
	if (json_string_length(v) == 0) {
		err = jpath_fail(c, "must not be empty");
		goto cleanup;
	}
	if (json_string_length(v) > RULES_NAME_MAX) {
		err = jpath_fail(c, "longer than %d bytes", RULES_NAME_MAX);
		goto cleanup;
	}
	*out = strdup(json_string_value(v));
	if (!*out)
		err = -ENOMEM;
cleanup:
	jpath_pop(c, old);
	return err;
}

/* A decimal written as a JSON string. */
static int get_decimal(struct json_path *c, json_t *obj, const char *key, struct decimal *d,
		       char *text, size_t textlen)
{
	json_t *v = json_object_get(obj, key);
	size_t old;
	int err;

	old = jpath_push_key(c, key);
	if (!v) {
		err = jpath_fail(c, "missing");
		goto cleanup;
	}
	if (json_is_number(v)) {
		/* jansson would hand us a double: 0.1 would not be 0.1 any more */
		err = jpath_fail(c, "must be a string holding a decimal (\"%s\": \"1.5\", not 1.5)", key);
		goto cleanup;
	}
	if (!json_is_string(v)) {
		err = jpath_fail(c, "must be a string holding a decimal");
		goto cleanup;
	}
	jpath_quote(text, textlen, json_string_value(v));
	err = decimal_parse(d, json_string_value(v));
	if (err == -EINVAL)
		err = jpath_fail(c, "not a decimal: %s", text);
	else if (err == -ERANGE)
		err = jpath_fail(c, "out of range: %s", text);
cleanup:
	jpath_pop(c, old);
	return err;
}

static int get_type(struct json_path *c, json_t *obj, enum rule_type *t)
{
	json_t *v = json_object_get(obj, "type");
	char q[96];
	size_t old;
	int err = 0;

	old = jpath_push_key(c, "type");
	if (!v) {
		err = jpath_fail(c, "missing (\"flat\" or \"rate\")");
	} else if (!json_is_string(v)) {
		err = jpath_fail(c, "must be a string: \"flat\" or \"rate\"");
	} else if (strcmp(json_string_value(v), "flat") == 0) {
		*t = RULE_FLAT;
	} else if (strcmp(json_string_value(v), "rate") == 0) {
		*t = RULE_RATE;
	} else {
		jpath_quote(q, sizeof(q), json_string_value(v));
		err = jpath_fail(c, "unknown type %s (expected \"flat\" or \"rate\")", q);
	}
	jpath_pop(c, old);
	return err;
}

/* Checks that @d fits NUMERIC(12 + @places, @places), CloudKitty's column. */
static int check_numeric(struct json_path *c, const char *key, const struct decimal *d,
			 long places, const char *text, const char *column)
{
	size_t old = jpath_push_key(c, key);
	int err = 0;

	if (decimal_sign(d) != 0 && decimal_adjusted(d) >= COST_INT_DIGITS)
		err = jpath_fail(c, "more than %d digits before the point: %s (CloudKitty stores it as %s)",
			   COST_INT_DIGITS, text, column);
	else if (!decimal_fits_places(d, places))
		err = jpath_fail(c, "more than %ld digits after the point: %s (CloudKitty stores it as %s)",
			   places, text, column);
	jpath_pop(c, old);
	return err;
}

/* ---- one rule ----------------------------------------------------------------- */

static void rule_init(struct rule *r)
{
	memset(r, 0, sizeof(*r));
	decimal_init(&r->cost);
	decimal_init(&r->level);
	r->project_idx = RULES_GLOBAL;
}

static void rule_clear(struct rule *r)
{
	decimal_clear(&r->cost);
	decimal_clear(&r->level);
	free(r->value);
	free(r->group);
	free(r->project);
}

static int parse_rule(struct json_path *c, json_t *obj, enum rule_kind kind, struct rule *r)
{
	static const char *const mapping_keys[] = { "type", "cost", "value", "group", "project", NULL };
	static const char *const threshold_keys[] = { "level", "type", "cost", "group", "project", NULL };
	char text[96];
	size_t old;
	int err;

	if (!json_is_object(obj))
		return jpath_fail(c, "must be an object");
	err = jpath_check_keys(c, obj, kind == KIND_THRESHOLD ? threshold_keys : mapping_keys);
	if (err)
		return err;
	if (kind == KIND_THRESHOLD) {
		err = get_decimal(c, obj, "level", &r->level, text, sizeof(text));
		if (err)
			return err;
		if (decimal_sign(&r->level) < 0) {
			old = jpath_push_key(c, "level");
			err = jpath_fail(c, "negative level: %s (it could never be reached)", text);
			jpath_pop(c, old);
			return err;
		}
		err = check_numeric(c, "level", &r->level, LEVEL_PLACES, text, "NUMERIC(20,8)");
		if (err)
			return err;
	}
	err = get_type(c, obj, &r->type);
	if (err)
		return err;
	err = get_decimal(c, obj, "cost", &r->cost, text, sizeof(text));
	if (err)
		return err;
	err = check_numeric(c, "cost", &r->cost, COST_PLACES, text, "NUMERIC(40,28)");
	if (err)
		return err;
	if (kind != KIND_THRESHOLD && r->type == RULE_FLAT && decimal_sign(&r->cost) < 0) {
		old = jpath_push_key(c, "cost");
		err = jpath_fail(c, "negative flat cost: %s (CloudKitty would silently ignore it)", text);
		jpath_pop(c, old);
		return err;
	}
	if (kind == KIND_SERVICE_MAPPING && json_object_get(obj, "value")) {
		old = jpath_push_key(c, "value");
		err = jpath_fail(c, "a service mapping has no value (field mappings go under \"fields\")");
		jpath_pop(c, old);
		return err;
	}
	if (kind == KIND_FIELD_MAPPING) {
		err = get_name(c, obj, "value", false, &r->value);
		if (err)
			return err;
		if (!r->value) {
			old = jpath_push_key(c, "value");
			err = jpath_fail(c, "missing (a field mapping matches on its value)");
			jpath_pop(c, old);
			return err;
		}
	}
	err = get_name(c, obj, "group", false, &r->group);
	if (err)
		return err;
	if (!r->group) {
		r->group = strdup(RULES_DEFAULT_GROUP);
		if (!r->group)
			return -ENOMEM;
	}
	return get_name(c, obj, "project", false, &r->project);
}

static bool same_key(const struct rule *a, const struct rule *b, enum rule_kind kind)
{
	if (strcmp(a->group, b->group) != 0)
		return false;
	if (kind == KIND_FIELD_MAPPING)
		return strcmp(a->value, b->value) == 0;
	if (kind == KIND_THRESHOLD)
		return decimal_cmp(&a->level, &b->level) == 0;
	return true; /* service mappings: one per group */
}

static bool same_scope(const struct rule *a, const struct rule *b)
{
	if (!a->project || !b->project)
		return !a->project && !b->project;
	return strcmp(a->project, b->project) == 0;
}

struct key_sort {
	const struct rule_list *l;
	enum rule_kind kind;
};

/* Orders rules by scope, group and key, then by position: equal keys end up adjacent. */
static int cmp_key(const void *a, const void *b, void *arg)
{
	const struct key_sort *ks = arg;
	const struct rule *x = &ks->l->rules[*(const size_t *)a], *y = &ks->l->rules[*(const size_t *)b];
	int c;

	if (!x->project || !y->project)
		c = (x->project != NULL) - (y->project != NULL);
	else
		c = strcmp(x->project, y->project);
	if (!c)
		c = strcmp(x->group, y->group);
	if (!c && ks->kind == KIND_FIELD_MAPPING)
		c = strcmp(x->value, y->value);
	if (!c && ks->kind == KIND_THRESHOLD)
		c = decimal_cmp(&x->level, &y->level);
	return c ? c : (x->pos > y->pos) - (x->pos < y->pos);
}

/*
 * CloudKitty keys its rules by group (and value or level); a second one
 * silently replaces the first. Reports the earliest rule in the file that
 * repeats an earlier one's key in the same scope. Sorting keeps this
 * n log n: rules files with thousands of flavors exist.
 */
static int check_duplicates(struct json_path *c, const struct rule_list *l, enum rule_kind kind,
			    const char *list_name)
{
	struct key_sort ks = { .l = l, .kind = kind };
	size_t *idx, i_dup = SIZE_MAX, j_dup = 0;
	char g[96], p[128] = "", v[96];
	const struct rule *b;
	size_t old;
	int err;

	if (l->n_rules < 2)
		return 0;
	idx = calloc(l->n_rules, sizeof(*idx));
	if (!idx)
		return -ENOMEM;
	for (size_t i = 0; i < l->n_rules; i++)
		idx[i] = i;
	qsort_r(idx, l->n_rules, sizeof(*idx), cmp_key, &ks);
	for (size_t i = 1; i < l->n_rules; i++) {
		const struct rule *x = &l->rules[idx[i - 1]], *y = &l->rules[idx[i]];

		/* in a run of equal keys the first two are the earliest pair */
		if (same_scope(x, y) && same_key(x, y, kind) && idx[i] < i_dup &&
		    (i < 2 || !same_scope(&l->rules[idx[i - 2]], x) ||
		     !same_key(&l->rules[idx[i - 2]], x, kind))) {
			i_dup = idx[i];
			j_dup = idx[i - 1];
		}
	}
	free(idx);
	if (i_dup == SIZE_MAX)
		return 0;

	b = &l->rules[i_dup];
	jpath_quote(g, sizeof(g), b->group);
	if (b->project) {
		jpath_quote(v, sizeof(v), b->project);
		snprintf(p, sizeof(p), " for project %s", v);
	}
	old = jpath_push_index(c, i_dup);
	if (kind == KIND_SERVICE_MAPPING) {
		err = jpath_fail(c, "second service mapping in group %s%s (the first is %s[%zu])", g, p,
			   list_name, j_dup);
	} else if (kind == KIND_FIELD_MAPPING) {
		jpath_quote(v, sizeof(v), b->value);
		err = jpath_fail(c, "value %s already mapped in group %s%s by %s[%zu]", v, g, p, list_name,
			   j_dup);
	} else {
		err = jpath_fail(c, "same level as %s[%zu] in group %s%s", list_name, j_dup, g, p);
	}
	jpath_pop(c, old);
	return err;
}

static int parse_list(struct json_path *c, json_t *obj, const char *key, enum rule_kind kind,
		      struct rule_list *l)
{
	json_t *arr = json_object_get(obj, key);
	size_t old, n;
	int err = 0;

	if (!arr)
		return 0;
	old = jpath_push_key(c, key);
	if (!json_is_array(arr)) {
		err = jpath_fail(c, "must be an array");
		goto cleanup;
	}
	n = json_array_size(arr);
	if (n) {
		l->rules = calloc(n, sizeof(*l->rules));
		if (!l->rules) {
			err = -ENOMEM;
			goto cleanup;
		}
		for (size_t i = 0; i < n; i++)
			rule_init(&l->rules[i]);
		l->n_rules = n;
	}
	for (size_t i = 0; i < n; i++) {
		size_t o = jpath_push_index(c, i);

		l->rules[i].pos = i;
		err = parse_rule(c, json_array_get(arr, i), kind, &l->rules[i]);
		jpath_pop(c, o);
		if (err)
			goto cleanup;
	}
	err = check_duplicates(c, l, kind, key);
cleanup:
	jpath_pop(c, old);
	return err;
}

/* ---- services and fields -------------------------------------------------------- */

static void list_free(struct rule_list *l)
{
	for (size_t i = 0; i < l->n_rules; i++)
		rule_clear(&l->rules[i]);
	free(l->rules);
	for (size_t i = 0; i < l->n_views; i++) {
		free(l->views[i].rule);
		free(l->views[i].by_value);
	}
	free(l->views);
	memset(l, 0, sizeof(*l));
}

static void service_free(struct rules_service *s)
{
	for (size_t i = 0; i < s->n_fields; i++) {
		free(s->fields[i].name);
		list_free(&s->fields[i].mappings);
		list_free(&s->fields[i].thresholds);
	}
	free(s->fields);
	list_free(&s->mappings);
	list_free(&s->thresholds);
	free(s->name);
}

static int parse_fields(struct json_path *c, json_t *fields, struct rules_service *s)
{
	static const char *const field_keys[] = { "mappings", "thresholds", NULL };
	size_t old = jpath_push_key(c, "fields"), i = 0;
	const char *fname;
	json_t *fv;
	int err = 0;

	if (!json_is_object(fields)) {
		err = jpath_fail(c, "must be an object");
		goto cleanup;
	}
	s->fields = calloc(json_object_size(fields) ? json_object_size(fields) : 1, sizeof(*s->fields));
	if (!s->fields) {
		err = -ENOMEM;
		goto cleanup;
	}
	json_object_foreach(fields, fname, fv) {
		struct rules_field *f = &s->fields[i++];
		size_t o = jpath_push_key(c, fname);

		s->n_fields = i;
		f->name = strdup(fname);
		if (!f->name)
			err = -ENOMEM;
		else if (!*fname)
			err = jpath_fail(c, "a field name must not be empty");
		else if (strlen(fname) > RULES_NAME_MAX)
			err = jpath_fail(c, "field name longer than %d bytes", RULES_NAME_MAX);
		else if (!json_is_object(fv))
			err = jpath_fail(c, "must be an object");
		else if (!(err = jpath_check_keys(c, fv, field_keys)) &&
			 !(err = parse_list(c, fv, "mappings", KIND_FIELD_MAPPING, &f->mappings)))
			err = parse_list(c, fv, "thresholds", KIND_THRESHOLD, &f->thresholds);
		jpath_pop(c, o);
		if (err)
			break;
	}
cleanup:
	jpath_pop(c, old);
	return err;
}

static int parse_service(struct json_path *c, const char *name, json_t *obj, struct rules_service *s)
{
	static const char *const service_keys[] = { "mappings", "thresholds", "fields", NULL };
	json_t *fields;
	int err;

	s->name = strdup(name);
	if (!s->name)
		return -ENOMEM;
	if (!*name)
		return jpath_fail(c, "a service name must not be empty");
	if (strlen(name) > RULES_NAME_MAX)
		return jpath_fail(c, "service name longer than %d bytes", RULES_NAME_MAX);
	if (!json_is_object(obj))
		return jpath_fail(c, "must be an object");
	if ((err = jpath_check_keys(c, obj, service_keys)) ||
	    (err = parse_list(c, obj, "mappings", KIND_SERVICE_MAPPING, &s->mappings)) ||
	    (err = parse_list(c, obj, "thresholds", KIND_THRESHOLD, &s->thresholds)))
		return err;
	fields = json_object_get(obj, "fields");
	return fields ? parse_fields(c, fields, s) : 0;
}

/* ---- interning and views ------------------------------------------------------------ */

static int cmp_strp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_service(const void *a, const void *b)
{
	return strcmp(((const struct rules_service *)a)->name, ((const struct rules_service *)b)->name);
}

/* Calls @fn on every list of @r with its kind. */
static int rules_for_each_list(struct rules *r,
			       int (*fn)(struct rule_list *l, enum rule_kind kind, void *arg), void *arg)
{
	int err;

	for (size_t i = 0; i < r->n_services; i++) {
		struct rules_service *s = &r->services[i];

		if ((err = fn(&s->mappings, KIND_SERVICE_MAPPING, arg)) ||
		    (err = fn(&s->thresholds, KIND_THRESHOLD, arg)))
			return err;
		for (size_t j = 0; j < s->n_fields; j++)
			if ((err = fn(&s->fields[j].mappings, KIND_FIELD_MAPPING, arg)) ||
			    (err = fn(&s->fields[j].thresholds, KIND_THRESHOLD, arg)))
				return err;
	}
	return 0;
}

struct names {
	size_t n, cap;
	char **v; /* borrowed from the rules until interned */
	bool projects;
};

static int collect_names(struct rule_list *l, enum rule_kind kind, void *arg)
{
	struct names *nm = arg;

	for (size_t i = 0; i < l->n_rules; i++) {
		char *s = nm->projects ? l->rules[i].project : l->rules[i].group;

		if (!s)
			continue;
		if (nm->n == nm->cap) {
			size_t cap = nm->cap ? nm->cap * 2 : 16;
			char **v = realloc(nm->v, cap * sizeof(*v));

			if (!v)
				return -ENOMEM;
			nm->v = v;
			nm->cap = cap;
		}
		nm->v[nm->n++] = s;
	}
	return 0;
}

/* Sorted, unique, owned copies of the group (or project) names used by the rules. */
static int intern(struct rules *r, bool projects)
{
	struct names nm = { .projects = projects };
	char ***out = projects ? &r->projects : &r->groups;
	size_t *n_out = projects ? &r->n_projects : &r->n_groups;
	size_t u = 0;
	int err;

	err = rules_for_each_list(r, collect_names, &nm);
	if (err)
		goto cleanup;
	if (nm.n)
		qsort(nm.v, nm.n, sizeof(*nm.v), cmp_strp);
	*out = calloc(nm.n ? nm.n : 1, sizeof(**out));
	if (!*out) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (size_t i = 0; i < nm.n; i++) {
		if (u && strcmp((*out)[u - 1], nm.v[i]) == 0)
			continue;
		(*out)[u] = strdup(nm.v[i]);
		if (!(*out)[u]) {
			err = -ENOMEM;
			goto cleanup;
		}
		*n_out = ++u;
	}
cleanup:
	free(nm.v);
	return err;
}

static size_t find_name(char *const *v, size_t n, const char *s)
{
	char *const *p = bsearch(&s, v, n, sizeof(*v), cmp_strp);

	return p ? (size_t)(p - v) : RULES_GLOBAL;
}

static int assign_indexes(struct rule_list *l, enum rule_kind kind, void *arg)
{
	const struct rules *r = arg;

	for (size_t i = 0; i < l->n_rules; i++) {
		struct rule *ru = &l->rules[i];

		ru->group_idx = find_name(r->groups, r->n_groups, ru->group);
		ru->project_idx = ru->project ? find_name(r->projects, r->n_projects, ru->project)
					      : RULES_GLOBAL;
	}
	return 0;
}

static int cmp_by_value(const void *a, const void *b, void *arg)
{
	const struct rule_view *v = arg;
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	int c = strcmp(v->rule[x]->value, v->rule[y]->value);

	if (c)
		return c;
	return x < y ? -1 : x > y;
}

/*
 * The rules of @l in force for @project, in CloudKitty's order (see struct
 * rule_view). @repl is scratch space of l->n_rules entries.
 */
static int build_view(const struct rule_list *l, enum rule_kind kind, size_t project,
		      size_t n_groups, const struct rule **repl, struct rule_view *v)
{
	size_t n = l->n_rules ? l->n_rules : 1;
	size_t *order = NULL, n_order = 0;
	bool *seen = NULL, *adds = NULL;
	int err = 0;

	v->project_idx = project;
	v->rule = calloc(n, sizeof(*v->rule));
	order = calloc(n, sizeof(*order));
	seen = calloc(n_groups ? n_groups : 1, sizeof(*seen)); /* by group index */
	adds = calloc(n, sizeof(*adds));
	if (!v->rule || !order || !seen || !adds) {
		err = -ENOMEM;
		goto cleanup;
	}
	/* which global rule each of the project's rules replaces; the others are additions */
	for (size_t i = 0; i < l->n_rules; i++)
		repl[i] = NULL;
	for (size_t j = 0; project != RULES_GLOBAL && j < l->n_rules; j++) {
		const struct rule *pr = &l->rules[j];
		bool replaced = false;

		if (pr->project_idx != project)
			continue;
		for (size_t i = 0; i < l->n_rules; i++) {
			if (l->rules[i].project_idx == RULES_GLOBAL && same_key(&l->rules[i], pr, kind)) {
				repl[i] = pr;
				replaced = true;
			}
		}
		adds[j] = !replaced;
	}
	/* group order: the global rules' groups as first met, then the project's new ones */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < l->n_rules; i++) {
			const struct rule *ru = &l->rules[i];

			if (ru->project_idx != (pass == 0 ? RULES_GLOBAL : project))
				continue;
			if (!seen[ru->group_idx]) {
				seen[ru->group_idx] = true;
				order[n_order++] = ru->group_idx;
			}
		}
		if (project == RULES_GLOBAL)
			break;
	}
	for (size_t g = 0; g < n_order; g++) {
		/* the global rules of the group, each replaced in place by the project's own... */
		for (size_t i = 0; i < l->n_rules; i++)
			if (l->rules[i].project_idx == RULES_GLOBAL && l->rules[i].group_idx == order[g])
				v->rule[v->n++] = repl[i] ? repl[i] : &l->rules[i];
		/* ...then the project's rules that replaced nothing */
		for (size_t j = 0; project != RULES_GLOBAL && j < l->n_rules; j++)
			if (adds[j] && l->rules[j].group_idx == order[g])
				v->rule[v->n++] = &l->rules[j];
	}
	if (kind == KIND_FIELD_MAPPING) {
		v->by_value = calloc(n, sizeof(*v->by_value));
		if (!v->by_value) {
			err = -ENOMEM;
			goto cleanup;
		}
		for (size_t i = 0; i < v->n; i++)
			v->by_value[i] = i;
		qsort_r(v->by_value, v->n, sizeof(*v->by_value), cmp_by_value, v);
	}
cleanup:
	free(adds);
	free(seen);
	free(order);
	return err;
}

static int build_views(struct rule_list *l, enum rule_kind kind, void *arg)
{
	const struct rules *r = arg;
	const struct rule **repl = NULL;
	size_t n_views = 1;
	bool *used = NULL;
	int err = 0;

	used = calloc(r->n_projects ? r->n_projects : 1, sizeof(*used));
	if (!used)
		return -ENOMEM;
	for (size_t i = 0; i < l->n_rules; i++) {
		size_t p = l->rules[i].project_idx;

		if (p != RULES_GLOBAL && !used[p]) {
			used[p] = true;
			n_views++;
		}
	}
	l->views = calloc(n_views, sizeof(*l->views));
	if (!l->views) {
		err = -ENOMEM;
		goto cleanup;
	}
	repl = calloc(l->n_rules ? l->n_rules : 1, sizeof(*repl));
	if (!repl) {
		err = -ENOMEM;
		goto cleanup;
	}
	l->n_views = 1;
	err = build_view(l, kind, RULES_GLOBAL, r->n_groups, repl, &l->views[0]);
	/* views[1..] by ascending project index, for rule_list_view()'s bsearch */
	for (size_t p = 0; !err && p < r->n_projects; p++) {
		if (!used[p])
			continue;
		err = build_view(l, kind, p, r->n_groups, repl, &l->views[l->n_views++]);
	}
cleanup:
	free(repl);
	free(used);
	return err;
}

/* ---- public ------------------------------------------------------------------------- */

void rules_free(struct rules *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_services; i++)
		service_free(&r->services[i]);
	free(r->services);
	for (size_t i = 0; i < r->n_groups; i++)
		free(r->groups[i]);
	free(r->groups);
	for (size_t i = 0; i < r->n_projects; i++)
		free(r->projects[i]);
	free(r->projects);
	free(r);
}

static int rules_from_json(struct json_path *c, json_t *root, struct rules *r)
{
	static const char *const top_keys[] = { "services", NULL };
	json_t *services, *sv;
	const char *name;
	size_t i = 0, old;
	int err;

	if (!json_is_object(root))
		return jpath_fail(c, "must be an object with \"services\"");
	err = jpath_check_keys(c, root, top_keys);
	if (err)
		return err;
	services = json_object_get(root, "services");
	old = jpath_push_key(c, "services");
	if (!services) {
		err = jpath_fail(c, "missing");
		goto cleanup;
	}
	if (!json_is_object(services)) {
		err = jpath_fail(c, "must be an object");
		goto cleanup;
	}
	r->services = calloc(json_object_size(services) ? json_object_size(services) : 1,
			     sizeof(*r->services));
	if (!r->services) {
		err = -ENOMEM;
		goto cleanup;
	}
	json_object_foreach(services, name, sv) {
		size_t o = jpath_push_key(c, name);

		r->n_services = ++i;
		err = parse_service(c, name, sv, &r->services[i - 1]);
		jpath_pop(c, o);
		if (err)
			goto cleanup;
	}
	qsort(r->services, r->n_services, sizeof(*r->services), cmp_service);
	if ((err = intern(r, false)) || (err = intern(r, true)) ||
	    (err = rules_for_each_list(r, assign_indexes, r)))
		goto cleanup;
	err = rules_for_each_list(r, build_views, r);
cleanup:
	jpath_pop(c, old);
	return err;
}

static int rules_load_buf(const char *buf, size_t len, struct rules **out, char *err, size_t errlen)
{
	struct json_path c;
	struct rules *r = NULL;
	json_error_t jerr;
	json_t *root = NULL;
	int rc;

	*out = NULL;
	jpath_init(&c, err, errlen);
	/* duplicate keys would silently drop a service or field: refuse them */
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		if (errlen)
			snprintf(err, errlen, "%d:%d: %s", jerr.line, jerr.column, jerr.text);
		rc = -EINVAL;
		goto cleanup;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		rc = -ENOMEM;
		goto cleanup;
	}
	rc = rules_from_json(&c, root, r);
	if (rc)
		goto cleanup;
	*out = r;
	r = NULL;
cleanup:
	if (rc == -ENOMEM && errlen)
		snprintf(err, errlen, "out of memory");
	rules_free(r);
	json_decref(root);
	return rc;
}

int rules_load_string(const char *json, struct rules **out, char *err, size_t errlen)
{
	return rules_load_buf(json, strlen(json), out, err, errlen);
}

int rules_load_file(const char *path, struct rules **out, char *err, size_t errlen)
{
	char *buf;
	size_t len;
	int rc;

	*out = NULL;
	if ((rc = file_read_all(path, RULES_FILE_MAX, &buf, &len, err, errlen)))
		return rc;
	rc = rules_load_buf(buf, len, out, err, errlen);
	free(buf);
	return rc;
}

const struct rules_service *rules_service_find(const struct rules *r, const char *name)
{
	size_t lo = 0, hi = r->n_services;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, r->services[mid].name);

		if (c == 0)
			return &r->services[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

size_t rules_project_find(const struct rules *r, const char *project)
{
	if (!project || !*project)
		return RULES_GLOBAL;
	return find_name(r->projects, r->n_projects, project);
}

const struct rule_view *rule_list_view(const struct rule_list *l, size_t project_idx)
{
	size_t lo = 1, hi = l->n_views;

	if (project_idx == RULES_GLOBAL)
		return &l->views[0];
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (l->views[mid].project_idx == project_idx)
			return &l->views[mid];
		if (l->views[mid].project_idx < project_idx)
			lo = mid + 1;
		else
			hi = mid;
	}
	return &l->views[0];
}
