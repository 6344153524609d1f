/*
 * rules.h — the hashmap rules file: loading, validation, and the rules in
 * force for one project.
 *
 * The file (rater/RATING-RULES.md has the full format and the deviations):
 *
 *   {"services": {NAME: {"mappings": [...], "thresholds": [...],
 *                        "fields": {FIELD: {"mappings": [...], "thresholds": [...]}}}}}
 *   mapping   {"type": "flat"|"rate", "cost": "DEC", "value": "TEXT" (field mappings only),
 *              "group": "NAME", "project": "ID"}
 *   threshold {"level": "DEC", "type": "flat"|"rate", "cost": "DEC", "group": "NAME",
 *              "project": "ID"}
 *
 * Numbers are JSON strings holding decimals (a JSON number would pass
 * through a binary double). The whole file is validated before anything is
 * returned; the first problem is reported with its JSON path, e.g.
 * `services.instance.fields.flavor_name.mappings[2].cost: not a decimal: "1,5"`.
 *
 * Array order in the file stands for the order of CloudKitty's database
 * rows; field order stands for the order of its fields. Both decide which
 * threshold wins a tie and the order in which groups are summed.
 *
 * A loaded struct rules is immutable: any number of threads may rate with it.
 */
#ifndef HV_RATER_RULES_H
#define HV_RATER_RULES_H

#include <stddef.h>

#include "rater/decimal.h"

#define RULES_DEFAULT_GROUP "_DEFAULT_" /* CloudKitty's name for "no group" */
#define RULES_NAME_MAX 255              /* names, values, projects: CloudKitty's String(255) */
#define RULES_GLOBAL ((size_t)-1)       /* project index of rules without a project */

enum rule_type {
	RULE_FLAT = 0,
	RULE_RATE = 1,
};

/* One mapping or threshold as written in the file. */
struct rule {
	enum rule_type type;
	struct decimal cost;
	struct decimal level; /* thresholds only (>= 0); 0 for mappings */
	char *value;          /* field mappings only; NULL otherwise */
	char *group;          /* RULES_DEFAULT_GROUP when the file gives none */
	char *project;        /* NULL: applies to every project */
	size_t group_idx;     /* index in rules->groups */
	size_t project_idx;   /* index in rules->projects, or RULES_GLOBAL */
	size_t pos;           /* index in its JSON array, for messages */
};

/*
 * The rules of one list in force for one project, in the order CloudKitty
 * evaluates them: group by group (groups of global rules in order of first
 * appearance, then groups only the project uses), and inside a group the
 * global rules with each one the project overrides replaced in place, then
 * the project's additions.
 */
struct rule_view {
	size_t project_idx;        /* RULES_GLOBAL for the view of global rules only */
	size_t n;
	const struct rule **rule;  /* evaluation order */
	size_t *by_value;          /* field mappings: positions in rule[] sorted by value, then position */
};

/* A "mappings" or "thresholds" array and its views. */
struct rule_list {
	size_t n_rules;
	struct rule *rules;        /* file order */
	size_t n_views;
	struct rule_view *views;   /* views[0]: global; then one per project, by project_idx */
};

struct rules_field {
	char *name;
	struct rule_list mappings;
	struct rule_list thresholds;
};

struct rules_service {
	char *name;
	struct rule_list mappings;
	struct rule_list thresholds;
	size_t n_fields;
	struct rules_field *fields; /* file order */
};

struct rules {
	size_t n_services;
	struct rules_service *services; /* sorted by name */
	size_t n_groups;
	char **groups;                  /* sorted; rule.group_idx indexes this */
	size_t n_projects;
	char **projects;                /* sorted; rule.project_idx indexes this */
};

/*
 * Loads and validates the rules in @json (NUL-terminated). On success *@out
 * holds the rules (free with rules_free()) and 0 is returned. On failure
 * *@out is NULL, @err (if @errlen > 0) holds one line saying where and what,
 * and the return is -EINVAL (invalid file) or -ENOMEM.
 */
int rules_load_string(const char *json, struct rules **out, char *err, size_t errlen);

/*
 * As rules_load_string() on the file @path. Also returns -errno from
 * opening or reading it (message in @err). A JSON syntax error reads
 * "LINE:COLUMN: message".
 */
int rules_load_file(const char *path, struct rules **out, char *err, size_t errlen);

/* Frees everything; accepts NULL. */
void rules_free(struct rules *r);

/* The service named @name, or NULL when the rules do not price it. */
const struct rules_service *rules_service_find(const struct rules *r, const char *name);

/* Index of @project in r->projects, or RULES_GLOBAL (no rules of its own; NULL and "" too). */
size_t rules_project_find(const struct rules *r, const char *project);

/* The view of @l for project index @project_idx (the global view if it has no own rules). */
const struct rule_view *rule_list_view(const struct rule_list *l, size_t project_idx);

/* "flat" or "rate". */
const char *rule_type_name(enum rule_type t);

#endif
