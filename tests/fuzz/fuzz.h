/*
 * fuzz.h — what every tests/fuzz/fuzz_*.c shares.
 *
 * A target is one static function `int NAME_input(const uint8_t *, size_t)`
 * that feeds the bytes to the real parser, checks cheap invariants with
 * FUZZ_CHECK, counts accepted inputs with FUZZ_PARSED and frees everything.
 * FUZZ_ENTRY(NAME_input) makes it the libFuzzer entry point;
 * tests/unit/test_fuzz_corpus.c defines FUZZ_REPLAY and includes the target
 * files themselves, so the committed corpus is replayed through exactly the
 * code the fuzzer ran (and FUZZ_CHECK becomes a cmocka assertion there).
 *
 * Comment lines a target file carries, read by tests/fuzz/run.sh (and the
 * SEEDS line also by the corpus replay):
 *   // SOURCES: wire/x.c ...         what to compile with it (globs)
 *   // LIBS: -lmbedcrypto ...        what to link
 *   // SEEDS: daemon/x.sample ...    committed files to start from (globs)
 *   // MAX_LEN: 8192                 largest input libFuzzer tries (default 65536)
 */
#ifndef HV_TESTS_FUZZ_H
#define HV_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef FUZZ_REPLAY
#define FUZZ_ENTRY(fn)
#define FUZZ_CHECK(cond) assert_true(cond)
#else
#define FUZZ_ENTRY(fn)                                                         \
	int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);          \
	int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)           \
	{                                                                      \
		return fn(data, size);                                         \
	}
/* abort() makes libFuzzer save the input as a crash artifact */
#define FUZZ_CHECK(cond)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: invariant failed: %s\n",       \
				__FILE__, __LINE__, #cond);                    \
			abort();                                               \
		}                                                              \
	} while (0)
#endif

/* Inputs the parser accepted (the replay test counts them: seeds must parse). */
static unsigned long fuzz_parsed_count;
#define FUZZ_PARSED() (fuzz_parsed_count++)

/* @size bytes of @data as a NUL-terminated string (malloc'd; NULL if out of memory). */
static inline char *fuzz_strndup(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s) {
		for (size_t i = 0; i < size; i++)
			s[i] = (char)data[i];
		s[size] = '\0';
	}
	return s;
}

/* Length of the longest line of @text, without its newline. */
static inline size_t fuzz_longest_line(const char *text)
{
	size_t longest = 0, n = 0;

	for (; *text; text++) {
		n = *text == '\n' ? 0 : n + 1;
		if (n > longest)
			longest = n;
	}
	return longest;
}

/* A copy of @text with every line's leading blanks (space, tab, CR, VT, FF)
 * removed (NULL if out of memory). */
static inline char *fuzz_unindented(const char *text)
{
	char *out = malloc(strlen(text) + 1), *w = out;
	int at_start = 1;

	if (!out)
		return NULL;
	for (; *text; text++) {
		if (at_start && *text && strchr(" \t\r\v\f", *text))
			continue;
		at_start = *text == '\n';
		*w++ = *text;
	}
	*w = '\0';
	return out;
}

/*
 * True when a printed "key = value" line has a value starting with ';'.
 * inih takes " ;" for the start of a comment, so such a value is read
 * only as written "key =;...": its canonical print cannot read back.
 */
static inline int fuzz_ini_comment_value(const char *printed)
{
	return strstr(printed, " = ;") != NULL;
}

/*
 * Drops, in place, the lines "key = " of a printed INI config: an empty
 * value prints as nothing after '=', and every key printed empty has an
 * empty default, so leaving the line out reads back the same.
 */
static inline void fuzz_ini_drop_empty(char *text)
{
	char *r = text, *w = text;

	while (*r) {
		char *nl = r;
		size_t n;

		while (*nl && *nl != '\n')
			nl++;
		n = (size_t)(nl - r) + (*nl == '\n');
		if (!(nl - r >= 2 && nl[-1] == ' ' && nl[-2] == '=')) {
			for (size_t i = 0; i < n; i++)
				w[i] = r[i];
			w += n;
		}
		r += n;
	}
	*w = '\0';
}

#endif
