#include "rater/json_path.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void jpath_init(struct json_path *c, char *err, size_t errlen)
{
	c->path[0] = '\0';
	c->plen = 0;
	c->err = err;
	c->errlen = errlen;
	if (errlen)
		err[0] = '\0';
}

static void path_append(struct json_path *c, const char *s)
{
	size_t n = strlen(s);

	/* a path that does not fit is cut; the message stays readable */
	if (c->plen + n >= sizeof(c->path))
		n = sizeof(c->path) - 1 - c->plen;
	memcpy(c->path + c->plen, s, n);
	c->plen += n;
	c->path[c->plen] = '\0';
}

void jpath_quote(char *buf, size_t len, const char *s)
{
	size_t w = 0, i;

	if (len < 8) {
		if (len)
			buf[0] = '\0';
		return;
	}
	buf[w++] = '"';
	for (i = 0; s[i] && w + 7 < len && i < 64; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '"' || ch == '\\') {
			buf[w++] = '\\';
			buf[w++] = (char)ch;
		} else if (ch < 0x20 || ch == 0x7f) {
			w += (size_t)snprintf(buf + w, len - w, "\\u%04x", ch);
		} else {
			buf[w++] = (char)ch;
		}
	}
	if (s[i] && w + 5 < len) {
		memcpy(buf + w, "...", 3);
		w += 3;
	}
	buf[w++] = '"';
	buf[w] = '\0';
}

bool jpath_name_is_plain(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
			return false;
	return true;
}

size_t jpath_push_key(struct json_path *c, const char *key)
{
	size_t old = c->plen;
	char q[JPATH_LEN];

	if (jpath_name_is_plain(key)) {
		if (c->plen)
			path_append(c, ".");
		path_append(c, key);
	} else {
		jpath_quote(q, sizeof(q), key);
		path_append(c, "[");
		path_append(c, q);
		path_append(c, "]");
	}
	return old;
}

size_t jpath_push_index(struct json_path *c, size_t i)
{
	size_t old = c->plen;
	char b[32];

	snprintf(b, sizeof(b), "[%zu]", i);
	path_append(c, b);
	return old;
}

void jpath_pop(struct json_path *c, size_t old)
{
	c->plen = old;
	c->path[old] = '\0';
}

int jpath_fail(struct json_path *c, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!c->errlen)
		return -EINVAL;
	n = snprintf(c->err, c->errlen, "%s: ", c->plen ? c->path : "(top level)");
	if (n >= 0 && (size_t)n < c->errlen) {
		va_start(ap, fmt);
		vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

int jpath_check_keys(struct json_path *c, json_t *obj, const char *const *allowed)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v) {
		char list[256] = "";
		bool ok = false;
		size_t old;
		int err;

		for (size_t i = 0; allowed[i]; i++) {
			if (strcmp(key, allowed[i]) == 0)
				ok = true;
			snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
				 i ? ", " : "", allowed[i]);
		}
		if (ok)
			continue;
		old = jpath_push_key(c, key);
		err = jpath_fail(c, "unknown key (expected %s)", list);
		jpath_pop(c, old);
		return err;
	}
	return 0;
}
