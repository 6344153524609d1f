/*
 * metrics_map.c — load and check the metrics file (rater/METRICS.md).
 *
 * Loading is all-or-nothing: every service is read and checked, the first
 * problem names its JSON path, and only a wholly valid file is returned.
 */
#include "common/file_read.h"
#include "rater/metrics_map.h"
#include "rater/json_path.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

static const char *const agg_names[] = { "sum", "max", "duration" };
static const char *const mutate_names[] = { "NONE", "CEIL", "FLOOR", "NUMBOOL", "NOTNUMBOOL" };
static const char *const res_names[] = { "vm", "host", "all" };

const char *metrics_aggregate_name(enum metrics_aggregate a)
{
	return (size_t)a < sizeof(agg_names) / sizeof(agg_names[0]) ? agg_names[a] : "?";
}

const char *metrics_mutate_name(enum metrics_mutate m)
{
	return (size_t)m < sizeof(mutate_names) / sizeof(mutate_names[0]) ? mutate_names[m] : "?";
}

const char *metrics_resources_name(enum metrics_resources r)
{
	return (size_t)r < sizeof(res_names) / sizeof(res_names[0]) ? res_names[r] : "?";
}

/* ---- values ------------------------------------------------------------------ */

/* A non-empty string of at most METRICS_NAME_MAX bytes, copied into *@out. */
static int name_dup(struct json_path *c, json_t *v, char **out)
{
	if (!json_is_string(v))
		return jpath_fail(c, "must be a string");
	if (json_string_length(v) == 0)
		return jpath_fail(c, "must not be empty");
	if (json_string_length(v) > METRICS_NAME_MAX)
		return jpath_fail(c, "longer than %d bytes", METRICS_NAME_MAX);
	if (strlen(json_string_value(v)) != json_string_length(v))
		return jpath_fail(c, "must not hold a NUL character");
	*out = strdup(json_string_value(v));
	return *out ? 0 : -ENOMEM;
}

/* Member @key of @obj as a name; *@out stays NULL when optional and absent. */
static int get_name(struct json_path *c, json_t *obj, const char *key, bool required, char **out)
{
	json_t *v = json_object_get(obj, key);
	size_t old = jpath_push_key(c, key);
	int err = 0;

	*out = NULL;
	if (v)
		err = name_dup(c, v, out);
	else if (required)
		err = jpath_fail(c, "missing");
	jpath_pop(c, old);
	return err;
}

/* One of @names (@n of them) by exact text; @dflt when absent. */
static int get_enum(struct json_path *c, json_t *obj, const char *key, const char *const *names,
		    size_t n, int dflt, int *out)
{
	json_t *v = json_object_get(obj, key);
	size_t old = jpath_push_key(c, key);
	char q[96], list[128] = "";
	int err = 0;

	*out = dflt;
	if (!v)
		goto cleanup;
	for (size_t i = 0; i < n; i++) {
		if (json_is_string(v) && strcmp(json_string_value(v), names[i]) == 0) {
			*out = (int)i;
			goto cleanup;
		}
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s\"%s\"",
			 i == 0 ? "" : i + 1 == n ? " or " : ", ", names[i]);
	}
	if (json_is_string(v)) {
		jpath_quote(q, sizeof(q), json_string_value(v));
		err = jpath_fail(c, "must be %s, not %s", list, q);
	} else {
		err = jpath_fail(c, "must be a string: %s", list);
	}
cleanup:
	jpath_pop(c, old);
	return err;
}

/* @text as "DEC" or (with @fraction) "DEC/DEC" into @q. Returns 0 or -EINVAL. */
static int rational_parse(const char *text, bool fraction, mpq_t q)
{
	struct decimal num, den;
	const char *slash = fraction ? strchr(text, '/') : NULL;
	char *left = NULL;
	mpq_t d;
	int err;

	decimal_init(&num);
	decimal_init(&den);
	mpq_init(d);
	if (slash) {
		left = strndup(text, (size_t)(slash - text));
		err = left ? decimal_parse(&num, left) : -ENOMEM;
		if (!err)
			err = decimal_parse(&den, slash + 1);
		if (!err && decimal_sign(&den) == 0)
			err = -EINVAL;
	} else {
		err = decimal_parse(&num, text);
		decimal_set_long(&den, 1);
	}
	if (!err) {
		decimal_get_mpq(&num, q);
		decimal_get_mpq(&den, d);
		mpq_div(q, q, d);
	}
	mpq_clear(d);
	decimal_clear(&den);
	decimal_clear(&num);
	free(left);
	return err == -ERANGE ? -EINVAL : err;
}

/* A decimal (or a fraction) written as a JSON string; @dflt when absent. */
static int get_rational(struct json_path *c, json_t *obj, const char *key, bool fraction,
			const char *dflt, mpq_t q, char **text)
{
	json_t *v = json_object_get(obj, key);
	size_t old = jpath_push_key(c, key);
	const char *what = fraction ? "a decimal or a fraction" : "a decimal";
	char quoted[96];
	int err = 0;

	if (!v) {
		*text = strdup(dflt);
		err = *text ? rational_parse(dflt, fraction, q) : -ENOMEM;
		goto cleanup;
	}
	if (json_is_number(v)) {
		/* jansson would hand us a double: 0.1 would not be 0.1 any more */
		err = jpath_fail(c, "must be a string holding %s (\"%s\": \"%s\")", what, key,
				 fraction ? "1/3600" : "0.5");
		goto cleanup;
	}
	if (!json_is_string(v)) {
		err = jpath_fail(c, "must be a string holding %s", what);
		goto cleanup;
	}
	jpath_quote(quoted, sizeof(quoted), json_string_value(v));
	if (json_string_length(v) > METRICS_NAME_MAX ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		err = jpath_fail(c, "not %s: %s", what, quoted);
		goto cleanup;
	}
	err = rational_parse(json_string_value(v), fraction, q);
	if (err == -EINVAL) {
		err = jpath_fail(c, "not %s%s: %s", what,
				 fraction && strchr(json_string_value(v), '/') ?
				 " (DEC/DEC, the divisor not 0)" : "", quoted);
		goto cleanup;
	}
	if (!err) {
		*text = strdup(json_string_value(v));
		if (!*text)
			err = -ENOMEM;
	}
cleanup:
	jpath_pop(c, old);
	return err;
}

static int get_labels(struct json_path *c, json_t *obj, struct metrics_service *s)
{
	json_t *v = json_object_get(obj, "labels"), *val;
	size_t old = jpath_push_key(c, "labels");
	const char *key;
	int err = 0;

	if (!v)
		goto cleanup;
	if (!json_is_object(v)) {
		err = jpath_fail(c, "must be an object of label names and values ({\"class\": \"public\"})");
		goto cleanup;
	}
	s->labels = calloc(json_object_size(v) + 1, sizeof(*s->labels));
	if (!s->labels) {
		err = -ENOMEM;
		goto cleanup;
	}
	json_object_foreach(v, key, val) {
		size_t o = jpath_push_key(c, key);
		struct metrics_label *l = &s->labels[s->n_labels];

		if (!*key || strlen(key) > METRICS_NAME_MAX || strpbrk(key, "=;"))
			err = jpath_fail(c, "a label name is non-empty, at most %d bytes, without '=' or ';'",
					 METRICS_NAME_MAX);
		else if (!(l->key = strdup(key)))
			err = -ENOMEM;
		else
			s->n_labels++;
		/* "" stands for "the series has no such label" */
		if (!err && json_is_string(val) && json_string_length(val) == 0)
			err = (l->value = strdup("")) ? 0 : -ENOMEM;
		else if (!err && (err = name_dup(c, val, &l->value)) == 0 && strchr(l->value, ';'))
			err = jpath_fail(c, "a label value cannot hold ';' (the agent never writes one)");
		jpath_pop(c, o);
		if (err)
			goto cleanup;
	}
cleanup:
	jpath_pop(c, old);
	return err;
}

static int get_metadata(struct json_path *c, json_t *obj, struct metrics_service *s)
{
	json_t *v = json_object_get(obj, "metadata"), *item;
	size_t old = jpath_push_key(c, "metadata"), i;
	int err = 0;

	if (!v)
		goto cleanup;
	if (!json_is_array(v)) {
		err = jpath_fail(c, "must be an array of metadata keys ([\"flavor\", \"name\"])");
		goto cleanup;
	}
	s->metadata = calloc(json_array_size(v) + 1, sizeof(*s->metadata));
	if (!s->metadata) {
		err = -ENOMEM;
		goto cleanup;
	}
	json_array_foreach(v, i, item) {
		size_t o = jpath_push_index(c, i);

		err = name_dup(c, item, &s->metadata[i]);
		if (!err)
			s->n_metadata++;
		for (size_t j = 0; !err && j < i; j++)
			if (strcmp(s->metadata[j], s->metadata[i]) == 0)
				err = jpath_fail(c, "\"%s\" is listed twice", s->metadata[i]);
		if (!err && (strcmp(s->metadata[i], "project") == 0 ||
			     strcmp(s->metadata[i], "resource") == 0))
			err = jpath_fail(c, "\"%s\" is a group-by column of every record, not metadata",
					 s->metadata[i]);
		jpath_pop(c, o);
		if (err)
			goto cleanup;
	}
cleanup:
	jpath_pop(c, old);
	return err;
}

/* ---- a service ------------------------------------------------------------------ */

static void service_init(struct metrics_service *s)
{
	memset(s, 0, sizeof(*s));
	mpq_init(s->factor);
	mpq_init(s->offset);
}

static void service_clear(struct metrics_service *s)
{
	for (size_t i = 0; i < s->n_labels; i++) {
		free(s->labels[i].key);
		free(s->labels[i].value);
	}
	free(s->labels);
	for (size_t i = 0; i < s->n_metadata; i++)
		free(s->metadata[i]);
	free(s->metadata);
	free(s->name);
	free(s->metric);
	free(s->unit);
	free(s->factor_text);
	free(s->offset_text);
	mpq_clear(s->factor);
	mpq_clear(s->offset);
}

static int parse_service(struct json_path *c, const char *name, json_t *obj,
			 struct metrics_service *s)
{
	static const char *const keys[] = { "metric", "unit", "aggregate", "factor", "offset",
					    "mutate", "labels", "resources", "metadata", NULL };
	int agg = -1, v, err;
	size_t old;

	if (!*name || strlen(name) > METRICS_NAME_MAX)
		return jpath_fail(c, "a service name is non-empty and at most %d bytes", METRICS_NAME_MAX);
	if (!json_is_object(obj))
		return jpath_fail(c, "must be an object with at least \"metric\" and \"unit\"");
	if ((err = jpath_check_keys(c, obj, keys)))
		return err;
	if (!(s->name = strdup(name)))
		return -ENOMEM;
	if ((err = get_name(c, obj, "metric", true, &s->metric)))
		return err;
	s->def = metric_lookup(s->metric);
	if (!s->def) {
		old = jpath_push_key(c, "metric");
		err = jpath_fail(c, "unknown hvmeter metric \"%s\" (`hvmeter dump` lists the metrics "
				 "stored; README \"What is metered\")", s->metric);
		jpath_pop(c, old);
		return err;
	}
	if ((err = get_name(c, obj, "unit", true, &s->unit)) ||
	    (err = get_enum(c, obj, "aggregate", agg_names, 3, -1, &agg)))
		return err;
	if (agg < 0) {
		/* what the metric's own kind means; a mean gauge has no default */
		if (s->def->kind == METRIC_GAUGE_MEAN) {
			old = jpath_push_key(c, "aggregate");
			err = jpath_fail(c, "missing: %s is a mean gauge; say \"max\" or \"duration\"",
					 s->metric);
			jpath_pop(c, old);
			return err;
		}
		agg = s->def->kind == METRIC_GAUGE_MAX ? METRICS_AGG_MAX : METRICS_AGG_SUM;
	}
	s->aggregate = (enum metrics_aggregate)agg;
	if (s->aggregate == METRICS_AGG_SUM && s->def->kind != METRIC_COUNTER) {
		old = jpath_push_key(c, "aggregate");
		err = jpath_fail(c, "\"sum\" of %s adds up gauge readings, which means nothing; "
				 "use \"max\" or \"duration\"", s->metric);
		jpath_pop(c, old);
		return err;
	}
	if ((err = get_rational(c, obj, "factor", true, "1", s->factor, &s->factor_text)))
		return err;
	if (mpq_sgn(s->factor) <= 0) {
		old = jpath_push_key(c, "factor");
		err = jpath_fail(c, "must be positive: \"%s\"", s->factor_text);
		jpath_pop(c, old);
		return err;
	}
	if ((err = get_rational(c, obj, "offset", false, "0", s->offset, &s->offset_text)) ||
	    (err = get_enum(c, obj, "mutate", mutate_names, 5, METRICS_MUTATE_NONE, &v)))
		return err;
	s->mutate = (enum metrics_mutate)v;
	if ((err = get_enum(c, obj, "resources", res_names, 3, METRICS_RES_VM, &v)))
		return err;
	s->resources = (enum metrics_resources)v;
	if ((err = get_labels(c, obj, s)))
		return err;
	return get_metadata(c, obj, s);
}

/* ---- the file --------------------------------------------------------------------- */

void metrics_map_free(struct metrics_map *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n_services; i++)
		service_clear(&m->services[i]);
	free(m->services);
	free(m);
}

static int map_from_json(struct json_path *c, json_t *root, struct metrics_map *m)
{
	static const char *const top_keys[] = { "metrics", NULL };
	json_t *metrics, *sv;
	const char *name;
	size_t old;
	int err;

	if (!json_is_object(root))
		return jpath_fail(c, "must be an object with \"metrics\"");
	if ((err = jpath_check_keys(c, root, top_keys)))
		return err;
	metrics = json_object_get(root, "metrics");
	old = jpath_push_key(c, "metrics");
	if (!metrics) {
		err = jpath_fail(c, "missing");
		goto cleanup;
	}
	if (!json_is_object(metrics)) {
		err = jpath_fail(c, "must be an object: one key per rated service");
		goto cleanup;
	}
	m->services = calloc(json_object_size(metrics) + 1, sizeof(*m->services));
	if (!m->services) {
		err = -ENOMEM;
		goto cleanup;
	}
	json_object_foreach(metrics, name, sv) {
		size_t o = jpath_push_key(c, name);

		service_init(&m->services[m->n_services++]);
		err = parse_service(c, name, sv, &m->services[m->n_services - 1]);
		jpath_pop(c, o);
		if (err)
			goto cleanup;
	}
cleanup:
	jpath_pop(c, old);
	return err;
}

int metrics_map_parse(const char *buf, size_t len, struct metrics_map **out, char *err,
		      size_t errlen)
{
	struct json_path c;
	struct metrics_map *m = NULL;
	json_error_t jerr;
	json_t *root;
	int rc;

	*out = NULL;
	jpath_init(&c, err, errlen);
	/* duplicate keys would silently drop a service: refuse them */
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		if (errlen)
			snprintf(err, errlen, "%d:%d: %s", jerr.line, jerr.column, jerr.text);
		return -EINVAL;
	}
	m = calloc(1, sizeof(*m));
	rc = m ? map_from_json(&c, root, m) : -ENOMEM;
	if (rc == -ENOMEM && errlen)
		snprintf(err, errlen, "out of memory");
	if (rc) {
		metrics_map_free(m);
		m = NULL;
	}
	json_decref(root);
	*out = m;
	return rc;
}

int metrics_map_load_file(const char *path, struct metrics_map **out, char *err, size_t errlen)
{
	char *buf;
	size_t len;
	int rc;

	*out = NULL;
	if ((rc = file_read_all(path, METRICS_MAP_FILE_MAX, &buf, &len, err, errlen)))
		return rc;
	rc = metrics_map_parse(buf, len, out, err, errlen);
	free(buf);
	return rc;
}

/*
 * Whether "k=v;k=v" @labels holds @key=@value as one whole entry; for an
 * empty @value, whether it has no @key at all.
 */
static bool labels_have(const char *labels, const char *key, const char *value)
{
	size_t kl = strlen(key), vl = strlen(value);
	const char *p = labels;

	while (*p) {
		const char *end = strchr(p, ';');
		size_t n = end ? (size_t)(end - p) : strlen(p);

		if (n > kl && memcmp(p, key, kl) == 0 && p[kl] == '=')
			return vl && n == kl + 1 + vl && memcmp(p + kl + 1, value, vl) == 0;
		if (!end)
			break;
		p = end + 1;
	}
	return vl == 0;
}

bool metrics_service_matches(const struct metrics_service *s, const char *resource,
			     const char *labels)
{
	bool host = strcmp(resource, "host") == 0;

	if ((s->resources == METRICS_RES_VM && host) || (s->resources == METRICS_RES_HOST && !host))
		return false;
	for (size_t i = 0; i < s->n_labels; i++)
		if (!labels_have(labels, s->labels[i].key, s->labels[i].value))
			return false;
	return true;
}
