/*
 * test_metrics_map — the metrics file (rater/metrics_map.c): a good file
 * with every key, the defaults, the shipped sample, and each kind of error
 * with the JSON path it names.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rater/metrics_map.h"

static struct metrics_map *parse_ok(const char *text)
{
	struct metrics_map *m = NULL;
	char err[512] = "";
	int rc = metrics_map_parse(text, strlen(text), &m, err, sizeof(err));

	if (rc)
		print_error("refused: %s\n", err);
	assert_int_equal(rc, 0);
	assert_non_null(m);
	return m;
}

static void assert_q(const mpq_t q, const char *want)
{
	mpq_t w;

	mpq_init(w);
	assert_int_equal(mpq_set_str(w, want, 10), 0);
	mpq_canonicalize(w);
	if (!mpq_equal(q, w)) {
		char *got = mpq_get_str(NULL, 10, q);

		print_error("got %s, want %s\n", got, want);
		free(got);
		fail();
	}
	mpq_clear(w);
}

static void test_good(void **state)
{
	struct metrics_map *m = parse_ok(
		"{\"metrics\": {"
		" \"instance\": {\"metric\": \"vcpu.alloc\", \"aggregate\": \"duration\","
		"   \"factor\": \"1/3600\", \"unit\": \"hour\", \"metadata\": [\"flavor\", \"name\"]},"
		" \"network.outgoing.public\": {\"metric\": \"net.tx.bytes\", \"unit\": \"GiB\","
		"   \"labels\": {\"class\": \"public\"}, \"factor\": \"1/1073741824\","
		"   \"offset\": \"-0.5\", \"mutate\": \"CEIL\", \"resources\": \"all\"},"
		" \"mem.peak\": {\"metric\": \"memory.resident\", \"unit\": \"MiB\"},"
		" \"host.energy\": {\"metric\": \"energy\", \"unit\": \"kWh\", \"factor\": \"2.5e-7\","
		"   \"resources\": \"host\", \"mutate\": \"NOTNUMBOOL\"}}}");

	assert_int_equal(m->n_services, 4);
	/* file order */
	assert_string_equal(m->services[0].name, "instance");
	assert_string_equal(m->services[0].metric, "vcpu.alloc");
	assert_non_null(m->services[0].def);
	assert_int_equal(m->services[0].def->scale, 3);
	assert_int_equal(m->services[0].aggregate, METRICS_AGG_DURATION);
	assert_q(m->services[0].factor, "1/3600");
	assert_q(m->services[0].offset, "0");
	assert_string_equal(m->services[0].factor_text, "1/3600");
	assert_string_equal(m->services[0].unit, "hour");
	assert_int_equal(m->services[0].n_metadata, 2);
	assert_string_equal(m->services[0].metadata[0], "flavor");
	assert_string_equal(m->services[0].metadata[1], "name");
	assert_int_equal(m->services[0].resources, METRICS_RES_VM);
	assert_int_equal(m->services[0].mutate, METRICS_MUTATE_NONE);

	assert_string_equal(m->services[1].name, "network.outgoing.public");
	assert_int_equal(m->services[1].aggregate, METRICS_AGG_SUM); /* a counter's default */
	assert_int_equal(m->services[1].n_labels, 1);
	assert_string_equal(m->services[1].labels[0].key, "class");
	assert_string_equal(m->services[1].labels[0].value, "public");
	assert_q(m->services[1].factor, "1/1073741824");
	assert_q(m->services[1].offset, "-1/2");
	assert_int_equal(m->services[1].mutate, METRICS_MUTATE_CEIL);
	assert_int_equal(m->services[1].resources, METRICS_RES_ALL);

	assert_int_equal(m->services[2].aggregate, METRICS_AGG_MAX); /* a max gauge's default */
	assert_q(m->services[2].factor, "1");

	assert_q(m->services[3].factor, "1/4000000");
	assert_int_equal(m->services[3].resources, METRICS_RES_HOST);
	assert_int_equal(m->services[3].mutate, METRICS_MUTATE_NOTNUMBOOL);
	assert_string_equal(metrics_aggregate_name(METRICS_AGG_DURATION), "duration");
	assert_string_equal(metrics_mutate_name(METRICS_MUTATE_NUMBOOL), "NUMBOOL");
	assert_string_equal(metrics_resources_name(METRICS_RES_HOST), "host");
	metrics_map_free(m);
	metrics_map_free(NULL);
}

static void test_matches(void **state)
{
	struct metrics_map *m = parse_ok(
		"{\"metrics\": {"
		" \"pub\": {\"metric\": \"net.tx.bytes\", \"unit\": \"B\", \"labels\": {\"class\": \"public\"}},"
		" \"two\": {\"metric\": \"net.tx.bytes\", \"unit\": \"B\","
		"   \"labels\": {\"class\": \"a\", \"device\": \"vnet1\"}},"
		" \"any\": {\"metric\": \"energy\", \"unit\": \"J\", \"resources\": \"all\"},"
		" \"vm\": {\"metric\": \"energy\", \"unit\": \"J\"},"
		" \"host\": {\"metric\": \"energy\", \"unit\": \"J\", \"resources\": \"host\","
		"   \"labels\": {\"part\": \"remainder\"}},"
		" \"whole\": {\"metric\": \"energy\", \"unit\": \"J\", \"resources\": \"host\","
		"   \"labels\": {\"part\": \"\"}}}}");
	const struct metrics_service *pub = &m->services[0], *two = &m->services[1],
				     *any = &m->services[2], *vm = &m->services[3], *host = &m->services[4];

	assert_true(metrics_service_matches(pub, "u1", "class=public;device=vnet0"));
	assert_true(metrics_service_matches(pub, "u1", "device=vnet0;class=public"));
	assert_false(metrics_service_matches(pub, "u1", "class=publicity;device=vnet0"));
	assert_false(metrics_service_matches(pub, "u1", "xclass=public"));
	assert_false(metrics_service_matches(pub, "u1", ""));
	assert_false(metrics_service_matches(pub, "host", "class=public"));
	assert_true(metrics_service_matches(two, "u1", "class=a;device=vnet1"));
	assert_false(metrics_service_matches(two, "u1", "class=a;device=vnet10"));
	assert_true(metrics_service_matches(any, "host", ""));
	assert_true(metrics_service_matches(any, "u1", ""));
	assert_true(metrics_service_matches(vm, "u1", ""));
	assert_false(metrics_service_matches(vm, "host", ""));
	assert_true(metrics_service_matches(host, "host", "part=remainder"));
	assert_false(metrics_service_matches(host, "host", ""));
	assert_false(metrics_service_matches(host, "u1", "part=remainder"));
	/* "part": "" — only series without a part label (the host's total, not its remainder) */
	assert_true(metrics_service_matches(&m->services[5], "host", ""));
	assert_true(metrics_service_matches(&m->services[5], "host", "class=x;partly=1"));
	assert_false(metrics_service_matches(&m->services[5], "host", "part=remainder"));
	assert_false(metrics_service_matches(&m->services[5], "host", "a=b;part="));
	metrics_map_free(m);
}

/* Every kind of error names its place. */
static void test_errors(void **state)
{
	static const struct {
		const char *text, *msg;
	} bad[] = {
		{ "[]", "(top level): must be an object with \"metrics\"" },
		{ "{}", "metrics: missing" },
		{ "{\"metrics\": {}, \"x\": 1}", "x: unknown key (expected metrics)" },
		{ "{\"metrics\": []}", "metrics: must be an object" },
		{ "{\"metrics\": {\"cpu\": 1}}", "metrics.cpu: must be an object" },
		{ "{\"metrics\": {\"\": {}}}", "metrics[\"\"]: a service name is non-empty" },
		{ "{\"metrics\": {\"cpu\": {\"unit\": \"h\"}}}", "metrics.cpu.metric: missing" },
		{ "{\"metrics\": {\"cpu\": {\"metric\": \"cpu.time\"}}}", "metrics.cpu.unit: missing" },
		{ "{\"metrics\": {\"cpu\": {\"metric\": \"cpu.tme\", \"unit\": \"h\"}}}",
		  "metrics.cpu.metric: unknown hvmeter metric \"cpu.tme\"" },
		{ "{\"metrics\": {\"cpu\": {\"metric\": 7, \"unit\": \"h\"}}}",
		  "metrics.cpu.metric: must be a string" },
		{ "{\"metrics\": {\"cpu\": {\"metric\": \"cpu.time\", \"unit\": \"\"}}}",
		  "metrics.cpu.unit: must not be empty" },
		{ "{\"metrics\": {\"cpu\": {\"metric\": \"cpu.time\", \"unit\": \"h\", \"colour\": 1}}}",
		  "metrics.cpu.colour: unknown key (expected metric, unit, aggregate" },
		{ "{\"metrics\": {\"cpu\": {\"metric\": \"cpu.time\", \"unit\": \"h\", \"factor\": 0.5}}}",
		  "metrics.cpu.factor: must be a string holding a decimal or a fraction" },
		{ "{\"metrics\": {\"cpu\": {\"metric\": \"cpu.time\", \"unit\": \"h\", \"factor\": \"1/0\"}}}",
		  "metrics.cpu.factor: not a decimal or a fraction (DEC/DEC, the divisor not 0): \"1/0\"" },
		{ "{\"metrics\": {\"cpu\": {\"metric\": \"cpu.time\", \"unit\": \"h\", \"factor\": \"1,5\"}}}",
		  "metrics.cpu.factor: not a decimal or a fraction: \"1,5\"" },
		{ "{\"metrics\": {\"cpu\": {\"metric\": \"cpu.time\", \"unit\": \"h\", \"factor\": \"1/2/3\"}}}",
		  "metrics.cpu.factor: not a decimal or a fraction" },
		{ "{\"metrics\": {\"cpu\": {\"metric\": \"cpu.time\", \"unit\": \"h\", \"factor\": \"-1\"}}}",
		  "metrics.cpu.factor: must be positive: \"-1\"" },
		{ "{\"metrics\": {\"cpu\": {\"metric\": \"cpu.time\", \"unit\": \"h\", \"factor\": \"0\"}}}",
		  "metrics.cpu.factor: must be positive" },
		{ "{\"metrics\": {\"cpu\": {\"metric\": \"cpu.time\", \"unit\": \"h\", \"offset\": \"1/2\"}}}",
		  "metrics.cpu.offset: not a decimal: \"1/2\"" },
		{ "{\"metrics\": {\"cpu\": {\"metric\": \"cpu.time\", \"unit\": \"h\", \"offset\": 1}}}",
		  "metrics.cpu.offset: must be a string holding a decimal" },
		{ "{\"metrics\": {\"cpu\": {\"metric\": \"cpu.time\", \"unit\": \"h\", \"aggregate\": \"avg\"}}}",
		  "metrics.cpu.aggregate: must be \"sum\", \"max\" or \"duration\", not \"avg\"" },
		{ "{\"metrics\": {\"p\": {\"metric\": \"memory.resident\", \"unit\": \"h\", \"aggregate\": \"sum\"}}}",
		  "metrics.p.aggregate: \"sum\" of memory.resident adds up gauge readings" },
		{ "{\"metrics\": {\"p\": {\"metric\": \"power\", \"unit\": \"W\"}}}",
		  "metrics.p.aggregate: missing: power is a mean gauge" },
		{ "{\"metrics\": {\"cpu\": {\"metric\": \"cpu.time\", \"unit\": \"h\", \"mutate\": \"ceil\"}}}",
		  "metrics.cpu.mutate: must be \"NONE\", \"CEIL\", \"FLOOR\", \"NUMBOOL\" or \"NOTNUMBOOL\", not \"ceil\"" },
		{ "{\"metrics\": {\"cpu\": {\"metric\": \"cpu.time\", \"unit\": \"h\", \"resources\": true}}}",
		  "metrics.cpu.resources: must be a string: \"vm\", \"host\" or \"all\"" },
		{ "{\"metrics\": {\"n\": {\"metric\": \"net.tx.bytes\", \"unit\": \"B\", \"labels\": [\"class\"]}}}",
		  "metrics.n.labels: must be an object" },
		{ "{\"metrics\": {\"n\": {\"metric\": \"net.tx.bytes\", \"unit\": \"B\", \"labels\": {\"class\": 1}}}}",
		  "metrics.n.labels.class: must be a string" },
		{ "{\"metrics\": {\"n\": {\"metric\": \"net.tx.bytes\", \"unit\": \"B\", \"labels\": {\"a=b\": \"c\"}}}}",
		  "metrics.n.labels[\"a=b\"]: a label name is non-empty" },
		{ "{\"metrics\": {\"n\": {\"metric\": \"net.tx.bytes\", \"unit\": \"B\", \"labels\": {\"class\": \"a;b\"}}}}",
		  "metrics.n.labels.class: a label value cannot hold ';'" },
		{ "{\"metrics\": {\"cpu\": {\"metric\": \"cpu.time\", \"unit\": \"h\", \"metadata\": \"name\"}}}",
		  "metrics.cpu.metadata: must be an array" },
		{ "{\"metrics\": {\"cpu\": {\"metric\": \"cpu.time\", \"unit\": \"h\", \"metadata\": [\"name\", 3]}}}",
		  "metrics.cpu.metadata[1]: must be a string" },
		{ "{\"metrics\": {\"cpu\": {\"metric\": \"cpu.time\", \"unit\": \"h\", \"metadata\": [\"a\", \"a\"]}}}",
		  "metrics.cpu.metadata[1]: \"a\" is listed twice" },
		{ "{\"metrics\": {\"cpu\": {\"metric\": \"cpu.time\", \"unit\": \"h\", \"metadata\": [\"project\"]}}}",
		  "metrics.cpu.metadata[0]: \"project\" is a group-by column" },
		/* the JSON library's own findings: line and column */
		{ "{\"metrics\": {\"cpu\": {}, \"cpu\": {}}}", "1:" },
		{ "{\"metrics\": ", "1:" },
		{ "", "1:" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct metrics_map *m = (struct metrics_map *)1;
		char err[512] = "";
		int rc = metrics_map_parse(bad[i].text, strlen(bad[i].text), &m, err, sizeof(err));

		if (rc != -EINVAL || m || strncmp(err, bad[i].msg, strlen(bad[i].msg))) {
			print_error("case %zu: rc %d\n got: %s\nwant: %s\n", i, rc, err, bad[i].msg);
			fail();
		}
	}
}

/* The buffer need not end in a NUL: the fuzzer hands over exact lengths. */
static void test_buffer_length(void **state)
{
	const char *text = "{\"metrics\": {\"cpu\": {\"metric\": \"cpu.time\", \"unit\": \"h\"}}}GARBAGE";
	size_t len = strlen(text) - strlen("GARBAGE");
	struct metrics_map *m = NULL;
	char err[256];

	assert_int_equal(metrics_map_parse(text, len, &m, err, sizeof(err)), 0);
	metrics_map_free(m);
	assert_int_equal(metrics_map_parse(text, len - 1, &m, err, sizeof(err)), -EINVAL);
	assert_null(m);
	/* no room for a message is fine too */
	assert_int_equal(metrics_map_parse(text, len - 1, &m, NULL, 0), -EINVAL);
}

static void test_files(void **state)
{
	struct metrics_map *m = NULL;
	char err[512];
	int rc = metrics_map_load_file("rater/metrics.sample.json", &m, err, sizeof(err));

	if (rc == -ENOENT)
		skip(); /* run from another directory */
	if (rc)
		print_error("rater/metrics.sample.json: %s\n", err);
	assert_int_equal(rc, 0);
	/* the sample prices what the brief asks for */
	for (const char *const *want = (const char *const[]){ "instance", "cpu", "memory", "disk.read",
							       "disk.write", "network.outgoing.public",
							       "network.outgoing.private", "energy", NULL };
	     *want; want++) {
		bool found = false;

		for (size_t i = 0; i < m->n_services; i++)
			found |= strcmp(m->services[i].name, *want) == 0;
		if (!found) {
			print_error("sample lacks %s\n", *want);
			fail();
		}
	}
	metrics_map_free(m);
	assert_int_equal(metrics_map_load_file("/nonexistent/metrics.json", &m, err, sizeof(err)), -ENOENT);
	assert_string_equal(err, "cannot open: No such file or directory");
	assert_int_equal(metrics_map_load_file("/", &m, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "not a regular file");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_matches),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_buffer_length),
		cmocka_unit_test(test_files),
	};

	return cmocka_run_group_tests_name("metrics_map", tests, NULL, NULL);
}
