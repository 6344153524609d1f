#include "common/ini_reader.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include <ini.h>

/*
 * inih reads lines into a fixed buffer of @num bytes: a longer line would
 * come back cut in two, its tail parsed as a line of its own; refuse it.
 * inih also takes an indented line for the continuation of the previous
 * key's value and hands it over as a new value of that key ("  interval = 5"
 * after "store = x" set store to "interval = 5"): our values are one line
 * each, so an indented line (any blank inih skips: space, tab, CR, VT, FF)
 * is read as if it were not indented.
 */
static char *line_checked(struct ini_reader *r, char *str, int num)
{
	size_t n = strlen(str), blanks = strspn(str, " \t\r\v\f");

	if (n + 1 == (size_t)num && str[n - 1] != '\n') {
		/* the buffer is full: the line fits only if its newline or the end comes next */
		int next = r->fp ? getc(r->fp) : (unsigned char)r->text[r->off];
		int at_end = r->fp ? next == EOF : next == '\0';

		if (next == '\n') {
			if (!r->fp)
				r->off++;
		} else if (!at_end) {
			if (!r->failed++)
				snprintf(r->err, r->err_len, "%s:%d: line longer than %d characters",
					 r->name, r->line, num - 1);
			return NULL; /* stops inih; the caller sees r->failed */
		}
	}
	memmove(str, str + blanks, n - blanks + 1);
	return str;
}

static char *line_reader(char *str, int num, void *stream)
{
	struct ini_reader *r = stream;

	if (r->fp) {
		if (!fgets(str, num, r->fp))
			return NULL;
	} else {
		size_t n = 0;

		if (!r->text[r->off])
			return NULL;
		while (r->text[r->off] && n + 1 < (size_t)num) {
			char ch = r->text[r->off++];

			str[n++] = ch;
			if (ch == '\n')
				break;
		}
		str[n] = '\0';
	}
	r->line++;
	return line_checked(r, str, num);
}

static int on_key(void *user, const char *section, const char *key, const char *value)
{
	struct ini_reader *r = user;

	return r->on_key(r->user, section, key, value);
}

int ini_fail(struct ini_reader *r, const char *section, const char *key, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	if (r->failed++) /* the first error only: one clear line */
		return 0;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	snprintf(r->err, r->err_len, "%s:%d: [%s] %s: %s", r->name, r->line, section, key, why);
	return 0;
}

void ini_fail_file(struct ini_reader *r, const char *fmt, ...)
{
	char why[300];
	va_list ap;

	if (r->failed++)
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	snprintf(r->err, r->err_len, "%s: %s", r->name, why);
}

int ini_reader_run(struct ini_reader *r)
{
	int rc, err;

	r->err[0] = '\0';
	r->off = 0;
	r->line = 0;
	r->failed = 0;
	if (!r->text) {
		r->fp = fopen(r->name, "re");
		if (!r->fp) {
			err = -errno;
			snprintf(r->err, r->err_len, "%s: cannot open: %s", r->name, strerror(-err));
			return err;
		}
	}
	rc = ini_parse_stream(line_reader, r, on_key, r);
	err = rc < 0 ? -errno : 0;
	if (!r->text) {
		fclose(r->fp);
		r->fp = NULL;
	}
	if (rc < 0) {
		snprintf(r->err, r->err_len, "%s: cannot read: %s", r->name, strerror(-err));
		return err ? err : -EIO;
	}
	if (rc > 0 && !r->failed) /* inih's own syntax error: no key handler ran */
		snprintf(r->err, r->err_len,
			 "%s:%d: syntax error (expected 'key = value' or '[section]')", r->name, rc);
	return rc > 0 || r->failed ? -EINVAL : 0;
}
