/*
 * json_path.h — where in a JSON document a loader is, for error messages.
 *
 * The rules file and the metrics file report their first problem with the
 * JSON path of the value at fault (`services.cpu.mappings[2].cost: ...`,
 * `metrics["network.outgoing.public"].factor: ...`). A loader pushes a key
 * or an index while it reads a value and pops it afterwards; jpath_fail()
 * writes "PATH: why" into the caller's buffer.
 *
 * Nothing here allocates or logs.
 */
#ifndef HV_RATER_JSON_PATH_H
#define HV_RATER_JSON_PATH_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define JPATH_LEN 512

struct json_path {
	char path[JPATH_LEN]; /* the path being read; cut (still readable) if longer */
	size_t plen;
	char *err;            /* the caller's message buffer */
	size_t errlen;
};

/* Starts at the top level, messages to @err of @errlen bytes (which may be 0). */
void jpath_init(struct json_path *c, char *err, size_t errlen);

/* Pushes ".key" (or ["key"] for names other than [A-Za-z0-9_-]); returns the length to pop back to. */
size_t jpath_push_key(struct json_path *c, const char *key);
/* Pushes "[i]"; returns the length to pop back to. */
size_t jpath_push_index(struct json_path *c, size_t i);
/* Back to the length @old a push returned. */
void jpath_pop(struct json_path *c, size_t old);

/* Writes "PATH: message" ("(top level): ..." at the top) and returns -EINVAL. */
int jpath_fail(struct json_path *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Fails on the first key of object @obj that is not in the NULL-terminated
 * @allowed, naming the keys that are. Returns 0 or -EINVAL.
 */
int jpath_check_keys(struct json_path *c, json_t *obj, const char *const *allowed);

/* Writes @s JSON-quoted into @buf of @len bytes, cut after 64 bytes ("..."). */
void jpath_quote(char *buf, size_t len, const char *s);

/* True for a non-empty name of [A-Za-z0-9_-] only. */
bool jpath_name_is_plain(const char *s);

#endif
