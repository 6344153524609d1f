/* Replays every committed fuzz input (valid seeds and crashes found once)
 * through the decoders, so the ASan+UBSan run of make test keeps them as
 * regression tests. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <cmocka.h>

#include "wire/batch.h"

typedef void (*replay_fn)(const uint8_t *p, size_t n);

static void replay_frame(const uint8_t *p, size_t n)
{
	struct frame f;

	frame_init(&f);
	(void)frame_decode(&f, p, n);
	frame_free(&f);
}

static void replay_batch(const uint8_t *p, size_t n)
{
	struct batch b;
	size_t bad;

	batch_init(&b);
	if (batch_decode(&b, p, n) == 0)
		(void)batch_chain_check(&b, NULL, &bad);
	batch_free(&b);
}

static size_t replay_dir(const char *dir, replay_fn fn)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t count = 0;

	assert_non_null(d);
	while ((de = readdir(d))) {
		char path[512];
		uint8_t *buf;
		long n;
		FILE *fp;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		fp = fopen(path, "rb");
		assert_non_null(fp);
		fseek(fp, 0, SEEK_END);
		n = ftell(fp);
		rewind(fp);
		buf = malloc(n ? (size_t)n : 1);
		assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
		fclose(fp);
		fn(buf, (size_t)n);
		free(buf);
		count++;
	}
	closedir(d);
	return count;
}

static void test_frame_corpus(void **state)
{
	assert_true(replay_dir("tests/fuzz/corpus/fuzz_frame", replay_frame) >= 3);
}

static void test_batch_corpus(void **state)
{
	assert_true(replay_dir("tests/fuzz/corpus/fuzz_batch", replay_batch) >= 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame_corpus),
		cmocka_unit_test(test_batch_corpus),
	};
	return cmocka_run_group_tests_name("fuzz_corpus", tests, NULL, NULL);
}
