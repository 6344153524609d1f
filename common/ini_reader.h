/*
 * ini_reader.h — the INI scaffold both configuration files share (the
 * agent's hvmeterd.conf, the rater's hvrater.conf): inih driven through a
 * line reader that knows the line number, refuses over-long lines, reads
 * indented lines as keys (not as inih's continuation values), and keeps the
 * first error as one line "FILE:LINE: [section] key: why".
 */
#ifndef HV_COMMON_INI_READER_H
#define HV_COMMON_INI_READER_H

#include <stddef.h>
#include <stdio.h>

struct ini_reader {
	const char *name;   /* file name, for messages */
	const char *text;   /* string input, or NULL when reading fp */
	size_t off;
	FILE *fp;
	int line;           /* line being handled */
	char *err;          /* the first error, one line */
	size_t err_len;
	int failed;         /* errors seen (only the first is kept) */
	/* called for every key: return 1 to go on, 0 after ini_fail() */
	int (*on_key)(void *user, const char *section, const char *key, const char *value);
	void *user;
};

/*
 * Reads the whole input (r->text, else the file r->name opened here).
 * Returns 0, -EINVAL (an error, described in r->err) or -errno when the
 * file cannot be opened or read.
 */
int ini_reader_run(struct ini_reader *r);

/* Records "NAME:LINE: [section] key: why" unless an error came first. Returns 0. */
int ini_fail(struct ini_reader *r, const char *section, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Records "NAME: why" (checks across keys, after the file is read) unless an error came first. */
void ini_fail_file(struct ini_reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
