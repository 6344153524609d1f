/* Replays every committed fuzz input (valid seeds, inputs the fuzzers
 * found interesting, crashes found once) and every sample file a target
 * names as a seed, through the fuzz targets' own functions: the target
 * files are included here, so make test's plain, ASan+UBSan and valgrind
 * runs check exactly what the fuzzer checked. Also fails when a target in
 * tests/fuzz/ or a corpus folder is missing from the table below. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <glob.h>
#include <cmocka.h>

#define FUZZ_REPLAY
#include "tests/fuzz/fuzz_agent_config.c"
#include "tests/fuzz/fuzz_batch.c"
#include "tests/fuzz/fuzz_domain_xml.c"
#include "tests/fuzz/fuzz_frame.c"
#include "tests/fuzz/fuzz_metrics_map.c"
#include "tests/fuzz/fuzz_msg.c"
#include "tests/fuzz/fuzz_netclass.c"
#include "tests/fuzz/fuzz_prom_http.c"
#include "tests/fuzz/fuzz_rater_config.c"
#include "tests/fuzz/fuzz_rules.c"
#include "tests/fuzz/fuzz_sensor_map.c"
#include "tests/fuzz/fuzz_usage_csv.c"

#define FUZZ_DIR "tests/fuzz"

struct fuzz_target {
	const char *name;
	int (*input)(const uint8_t *data, size_t size);
	size_t min_inputs; /* committed files and seeds at least: an empty corpus tests nothing */
	size_t min_parsed; /* of which the parser accepts at least (the valid seeds) */
};

static const struct fuzz_target fuzz_targets[] = {
	{ "fuzz_agent_config", agent_config_input, 4, 4 },
	{ "fuzz_batch", batch_input, 4, 3 },
	{ "fuzz_domain_xml", domain_xml_input, 5, 4 },
	{ "fuzz_frame", frame_input, 3, 3 },
	{ "fuzz_metrics_map", metrics_map_input, 3, 3 },
	{ "fuzz_msg", msg_input, 3, 12 },
	{ "fuzz_netclass", netclass_input, 3, 3 },
	{ "fuzz_prom_http", prom_http_input, 6, 4 },
	{ "fuzz_rater_config", rater_config_input, 4, 3 },
	{ "fuzz_rules", rules_input, 4, 4 },
	{ "fuzz_sensor_map", sensor_map_input, 6, 6 },
	{ "fuzz_usage_csv", usage_csv_input, 3, 3 },
};
#define N_TARGETS (sizeof(fuzz_targets) / sizeof(fuzz_targets[0]))

static const struct fuzz_target *target_find(const char *name, size_t len)
{
	for (size_t i = 0; i < N_TARGETS; i++)
		if (strlen(fuzz_targets[i].name) == len && strncmp(fuzz_targets[i].name, name, len) == 0)
			return &fuzz_targets[i];
	return NULL;
}

/* Feeds the whole file @path to @t, in a buffer of exactly its size. */
static void replay_file(const struct fuzz_target *t, const char *path)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *buf;
	long n;

	if (!fp)
		fail_msg("%s: cannot open", path);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	assert_true(n >= 0);
	rewind(fp);
	buf = malloc(n ? (size_t)n : 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	t->input(buf, (size_t)n);
	free(buf);
}

/* The files of tests/fuzz/corpus/NAME/. */
static size_t replay_corpus(const struct fuzz_target *t)
{
	char dir[256], path[512];
	struct dirent *de;
	size_t count = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), FUZZ_DIR "/corpus/%s", t->name);
	d = opendir(dir);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		replay_file(t, path);
		count++;
	}
	closedir(d);
	return count;
}

/* The files matching the globs of the target's "// SEEDS:" line. */
static size_t replay_seeds(const struct fuzz_target *t)
{
	char src[256], line[1024];
	size_t count = 0;
	FILE *fp;

	snprintf(src, sizeof(src), FUZZ_DIR "/%s.c", t->name);
	fp = fopen(src, "r");
	if (!fp)
		fail_msg("%s: cannot open", src);
	while (fgets(line, sizeof(line), fp)) {
		char *save = NULL;

		if (strncmp(line, "// SEEDS:", 9))
			continue;
		for (char *w = strtok_r(line + 9, " \t\n", &save); w; w = strtok_r(NULL, " \t\n", &save)) {
			glob_t g;

			if (glob(w, 0, NULL, &g) != 0)
				fail_msg("%s: seed %s matches no file", src, w);
			for (size_t i = 0; i < g.gl_pathc; i++)
				replay_file(t, g.gl_pathv[i]);
			count += g.gl_pathc;
			globfree(&g);
		}
	}
	fclose(fp);
	return count;
}

static void test_replay(void **state)
{
	const struct fuzz_target *t = *state;
	size_t n;

	fuzz_parsed_count = 0;
	n = replay_corpus(t) + replay_seeds(t);
	print_message("%s: %zu inputs replayed, %lu accepted by the parser\n", t->name, n,
		      fuzz_parsed_count);
	assert_true(n >= t->min_inputs);
	assert_true(fuzz_parsed_count >= t->min_parsed);
}

/* Every tests/fuzz/fuzz_*.c and every corpus folder has its row above. */
static void test_every_target_replayed(void **state)
{
	struct dirent *de;
	DIR *d = opendir(FUZZ_DIR);

	assert_non_null(d);
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);

		if (strncmp(de->d_name, "fuzz_", 5) || l < 3 || strcmp(de->d_name + l - 2, ".c"))
			continue;
		if (!target_find(de->d_name, l - 2))
			fail_msg(FUZZ_DIR "/%s is not replayed: add it to tests/unit/test_fuzz_corpus.c",
				 de->d_name);
	}
	closedir(d);
	d = opendir(FUZZ_DIR "/corpus");
	assert_non_null(d);
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && !target_find(de->d_name, strlen(de->d_name)))
			fail_msg(FUZZ_DIR "/corpus/%s belongs to no target", de->d_name);
	closedir(d);
}

int main(void)
{
	struct CMUnitTest tests[N_TARGETS + 1];

	tests[0] = (struct CMUnitTest)cmocka_unit_test(test_every_target_replayed);
	for (size_t i = 0; i < N_TARGETS; i++) {
		tests[i + 1] = (struct CMUnitTest)cmocka_unit_test_prestate(test_replay,
									    (void *)&fuzz_targets[i]);
		tests[i + 1].name = fuzz_targets[i].name;
	}
	return _cmocka_run_group_tests("fuzz_corpus", tests, N_TARGETS + 1, NULL, NULL);
}
