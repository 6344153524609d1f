/*
 * test_rating.c — rules loading and CloudKitty-compatible pricing.
 *
 * Where the expected prices come from:
 * - case_ck_*: cloudkitty/tests/test_hashmap.py (openstack/cloudkitty), the
 *   test named in each comment, on its CK_RESOURCES_DATA records (the nested
 *   "metadata" dict left out: no rule reads it). Costs are written as that
 *   test's SQLite database hands them back, Decimal('%.28f' % float(cost)) —
 *   test_load_mappings shows 1.337 as 1.3369999999999999662492200514 — so
 *   the test's literal expected Decimals are reproduced digit for digit.
 * - case_doc_*: doc/source/user/rating/hashmap.rst, the section named.
 * - the other cases: the rule of /work/shared/RATING.md named in the comment.
 * Every expected string of the cases was checked by running CloudKitty's own
 * HashMap code (cloudkitty/rating/hash/__init__.py at commit 4595e098, June
 * 2026) on the same rules and records with Python 3.11's decimal module.
 *
 * Rules are written with ' for " so they stay readable; load_rules() swaps them.
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

#include "rater/decimal.h"
#include "rater/rating.h"
#include "rater/rules.h"

#define TENANT "f266f30b11f246b589fd266f85eeec39" /* test_hashmap.py's self._tenant_id */
#define MAX_RECS 16

struct rating_rec {
	const char *service;
	const char *project;
	const char *qty;
	const char *meta; /* "key=value;key=value" */
	const char *price;
};

struct rating_case {
	const char *rules;
	struct rating_rec recs[MAX_RECS];
};

/* Loads @text with every ' turned into ". Returns NULL and fills @err on failure. */
static struct rules *rules_try(const char *text, int *rc, char *err, size_t errlen)
{
	struct rules *r = NULL;
	char *json = strdup(text);

	assert_non_null(json);
	for (char *p = json; *p; p++)
		if (*p == '\'')
			*p = '"';
	*rc = rules_load_string(json, &r, err, errlen);
	free(json);
	return r;
}

static struct rules *load_rules(const char *text)
{
	char err[512];
	int rc;
	struct rules *r = rules_try(text, &rc, err, sizeof(err));

	if (rc)
		print_error("rules refused: %s\n", err);
	assert_int_equal(rc, 0);
	assert_non_null(r);
	return r;
}

/* Splits "k=v;k=v" (in place) into @attrs; returns the count. */
static size_t parse_meta(char *buf, struct rating_attr *attrs, size_t max)
{
	size_t n = 0;

	for (char *item = buf; *buf && item; ) {
		char *semi = strchr(item, ';'), *eq;

		if (semi)
			*semi = '\0';
		eq = strchr(item, '=');
		assert_non_null(eq);
		*eq = '\0';
		assert_true(n < max);
		attrs[n++] = (struct rating_attr){ item, eq + 1 };
		item = semi ? semi + 1 : NULL;
	}
	return n;
}

/* Prices one record starting from @incoming; returns the price as Python's str() would print it. */
static char *price_from(const struct rules *r, const char *service, const char *project,
			const char *qty, const char *meta, const char *incoming,
			const struct rating_log *log)
{
	struct rating_attr attrs[32];
	struct rating_record rec;
	struct decimal q, price;
	char *buf = strdup(meta), *out = NULL;

	assert_non_null(buf);
	decimal_init(&q);
	decimal_init(&price);
	assert_int_equal(decimal_parse(&q, qty), 0);
	assert_int_equal(decimal_parse(&price, incoming), 0);
	rec = (struct rating_record){
		.service = service,
		.project = project,
		.qty = &q,
		.n_attrs = parse_meta(buf, attrs, 32),
		.attrs = attrs,
	};
	assert_int_equal(rating_price(r, &rec, &price, log), 0);
	assert_int_equal(decimal_format_alloc(&price, &out), 0);
	decimal_clear(&price);
	decimal_clear(&q);
	free(buf);
	return out;
}

static char *price_of(const struct rules *r, const char *service, const char *project,
		      const char *qty, const char *meta)
{
	return price_from(r, service, project, qty, meta, "0", NULL);
}

/* One cmocka test per case, named after it. */
#define RATING_CASE(name) \
	{ "case_" #name, run_case, NULL, NULL, (void *)&case_##name }

static void run_case(void **state)
{
	const struct rating_case *c = *state;
	struct rules *r = load_rules(c->rules);

	for (size_t i = 0; i < MAX_RECS && c->recs[i].service; i++) {
		const struct rating_rec *rec = &c->recs[i];
		char *got = price_of(r, rec->service, rec->project, rec->qty, rec->meta);

		if (strcmp(got, rec->price) != 0)
			print_error("record %zu (%s, project \"%s\", q %s, %s): got %s, want %s\n", i,
				    rec->service, rec->project, rec->qty, rec->meta, got, rec->price);
		assert_string_equal(got, rec->price);
		free(got);
	}
	rules_free(r);
}

/* ---- the cases ---------------------------------------------------------------- */

/* cloudkitty/tests/test_hashmap.py: HashMapRatingTest.test_process_services */
static const struct rating_case case_ck_process_services = {
	.rules =
		"{'services': {'compute': {'mappings': [{'type': 'flat', "
		"'cost': '1.3369999999999999662492200514', 'group': 'test_group'}, {'type': 'flat', "
		"'cost': '1.4199999999999999289457264240'}]}}}",
	.recs = {
		{ "compute", TENANT, "1", "availability_zone=nova;flavor=m1.nano;image_id=f5600101-8fa2-4864-899e-ebcb7ed6b568;memory=64;name=prod1;project_id=f266f30b11f246b589fd266f85eeec39;user_id=55b3379b949243009ee96972fbf51ed1;vcpus=1", "2.756999999999999895194946475" },
		{ "compute", TENANT, "2", "availability_zone=nova;flavor=m1.tiny;image_id=a41fba37-2429-4f15-aa00-b5bc4bf557bf;memory=512;name=dev1;project_id=f266f30b11f246b589fd266f85eeec39;user_id=55b3379b949243009ee96972fbf51ed1;vcpus=1", "5.513999999999999790389892950" },
		{ "compute", TENANT, "2", "availability_zone=nova;flavor=m1.xlarge;image_id=0052f884-461d-4e3a-9598-7e5391888209;memory=16384;name=dev1;project_id=f266f30b11f246b589fd266f85eeec39;user_id=55b3379b949243009ee96972fbf51ed1;vcpus=8", "5.513999999999999790389892950" },
		{ "compute", TENANT, "1", "availability_zone=nova;flavor=m1.nano;image_id=a41fba37-2429-4f15-aa00-b5bc4bf557bf;memory=64;name=dev2;project_id=f266f30b11f246b589fd266f85eeec39;user_id=55b3379b949243009ee96972fbf51ed1;vcpus=1", "2.756999999999999895194946475" },
	},
};

/* cloudkitty/tests/test_hashmap.py: HashMapRatingTest.test_process_fields */
static const struct rating_case case_ck_process_fields = {
	.rules =
		"{'services': {'compute': {'fields': {'flavor': {'mappings': [{'type': 'flat', "
		"'cost': '1.3369999999999999662492200514', 'value': 'm1.nano', 'group': 'test_group'}, "
		"{'type': 'flat', 'cost': '1.4199999999999999289457264240', 'value': 'm1.tiny'}]}, "
		"'image_id': {'mappings': [{'type': 'rate', 'cost': '1.1000000000000000888178419700', "
		"'value': 'a41fba37-2429-4f15-aa00-b5bc4bf557bf', 'group': 'test_group'}]}}}}}",
	.recs = {
		{ "compute", TENANT, "1", "availability_zone=nova;flavor=m1.nano;image_id=f5600101-8fa2-4864-899e-ebcb7ed6b568;memory=64;name=prod1;project_id=f266f30b11f246b589fd266f85eeec39;user_id=55b3379b949243009ee96972fbf51ed1;vcpus=1", "1.336999999999999966249220051" },
		{ "compute", TENANT, "2", "availability_zone=nova;flavor=m1.tiny;image_id=a41fba37-2429-4f15-aa00-b5bc4bf557bf;memory=512;name=dev1;project_id=f266f30b11f246b589fd266f85eeec39;user_id=55b3379b949243009ee96972fbf51ed1;vcpus=1", "2.839999999999999857891452848" },
		{ "compute", TENANT, "2", "availability_zone=nova;flavor=m1.xlarge;image_id=0052f884-461d-4e3a-9598-7e5391888209;memory=16384;name=dev1;project_id=f266f30b11f246b589fd266f85eeec39;user_id=55b3379b949243009ee96972fbf51ed1;vcpus=8", "0" },
		{ "compute", TENANT, "1", "availability_zone=nova;flavor=m1.nano;image_id=a41fba37-2429-4f15-aa00-b5bc4bf557bf;memory=64;name=dev2;project_id=f266f30b11f246b589fd266f85eeec39;user_id=55b3379b949243009ee96972fbf51ed1;vcpus=1", "1.470700000000000081623596770" },
	},
};

/* cloudkitty/tests/test_hashmap.py: HashMapRatingTest.test_process_fields_no_match */
static const struct rating_case case_ck_process_fields_no_match = {
	.rules =
		"{'services': {'compute': {'fields': {'flavor': {'mappings': [{'type': 'flat', "
		"'cost': '1.3369999999999999662492200514', 'value': 'non-existent'}]}}}}}",
	.recs = {
		{ "compute", TENANT, "1", "availability_zone=nova;flavor=m1.nano;image_id=f5600101-8fa2-4864-899e-ebcb7ed6b568;memory=64;name=prod1;project_id=f266f30b11f246b589fd266f85eeec39;user_id=55b3379b949243009ee96972fbf51ed1;vcpus=1", "0" },
		{ "compute", TENANT, "2", "availability_zone=nova;flavor=m1.tiny;image_id=a41fba37-2429-4f15-aa00-b5bc4bf557bf;memory=512;name=dev1;project_id=f266f30b11f246b589fd266f85eeec39;user_id=55b3379b949243009ee96972fbf51ed1;vcpus=1", "0" },
		{ "compute", TENANT, "2", "availability_zone=nova;flavor=m1.xlarge;image_id=0052f884-461d-4e3a-9598-7e5391888209;memory=16384;name=dev1;project_id=f266f30b11f246b589fd266f85eeec39;user_id=55b3379b949243009ee96972fbf51ed1;vcpus=8", "0" },
		{ "compute", TENANT, "1", "availability_zone=nova;flavor=m1.nano;image_id=a41fba37-2429-4f15-aa00-b5bc4bf557bf;memory=64;name=dev2;project_id=f266f30b11f246b589fd266f85eeec39;user_id=55b3379b949243009ee96972fbf51ed1;vcpus=1", "0" },
	},
};

/* cloudkitty/tests/test_hashmap.py: HashMapRatingTest.test_process_field_threshold */
static const struct rating_case case_ck_process_field_threshold = {
	.rules =
		"{'services': {'compute': {'fields': {'memory': {'thresholds': [{'level': '64', "
		"'type': 'flat', 'cost': '0.1337000000000000132782673745'}, {'level': '128', "
		"'type': 'flat', 'cost': '0.2000000000000000111022302463'}]}}}}}",
	.recs = {
		{ "compute", TENANT, "1", "availability_zone=nova;flavor=m1.nano;image_id=f5600101-8fa2-4864-899e-ebcb7ed6b568;memory=64;name=prod1;project_id=f266f30b11f246b589fd266f85eeec39;user_id=55b3379b949243009ee96972fbf51ed1;vcpus=1", "0.1337000000000000132782673745" },
		{ "compute", TENANT, "2", "availability_zone=nova;flavor=m1.tiny;image_id=a41fba37-2429-4f15-aa00-b5bc4bf557bf;memory=512;name=dev1;project_id=f266f30b11f246b589fd266f85eeec39;user_id=55b3379b949243009ee96972fbf51ed1;vcpus=1", "0.4000000000000000222044604926" },
		{ "compute", TENANT, "2", "availability_zone=nova;flavor=m1.xlarge;image_id=0052f884-461d-4e3a-9598-7e5391888209;memory=16384;name=dev1;project_id=f266f30b11f246b589fd266f85eeec39;user_id=55b3379b949243009ee96972fbf51ed1;vcpus=8", "0.4000000000000000222044604926" },
		{ "compute", TENANT, "1", "availability_zone=nova;flavor=m1.nano;image_id=a41fba37-2429-4f15-aa00-b5bc4bf557bf;memory=64;name=dev2;project_id=f266f30b11f246b589fd266f85eeec39;user_id=55b3379b949243009ee96972fbf51ed1;vcpus=1", "0.1337000000000000132782673745" },
	},
};

/* cloudkitty/tests/test_hashmap.py: HashMapRatingTest.test_process_field_threshold_no_match */
static const struct rating_case case_ck_process_field_threshold_no_match = {
	.rules =
		"{'services': {'compute': {'fields': {'memory': {'thresholds': [{'level': '32768', "
		"'type': 'flat', 'cost': '0.1337000000000000132782673745'}]}}}}}",
	.recs = {
		{ "compute", TENANT, "1", "availability_zone=nova;flavor=m1.nano;image_id=f5600101-8fa2-4864-899e-ebcb7ed6b568;memory=64;name=prod1;project_id=f266f30b11f246b589fd266f85eeec39;user_id=55b3379b949243009ee96972fbf51ed1;vcpus=1", "0" },
		{ "compute", TENANT, "2", "availability_zone=nova;flavor=m1.tiny;image_id=a41fba37-2429-4f15-aa00-b5bc4bf557bf;memory=512;name=dev1;project_id=f266f30b11f246b589fd266f85eeec39;user_id=55b3379b949243009ee96972fbf51ed1;vcpus=1", "0" },
		{ "compute", TENANT, "2", "availability_zone=nova;flavor=m1.xlarge;image_id=0052f884-461d-4e3a-9598-7e5391888209;memory=16384;name=dev1;project_id=f266f30b11f246b589fd266f85eeec39;user_id=55b3379b949243009ee96972fbf51ed1;vcpus=8", "0" },
		{ "compute", TENANT, "1", "availability_zone=nova;flavor=m1.nano;image_id=a41fba37-2429-4f15-aa00-b5bc4bf557bf;memory=64;name=dev2;project_id=f266f30b11f246b589fd266f85eeec39;user_id=55b3379b949243009ee96972fbf51ed1;vcpus=1", "0" },
	},
};

/* cloudkitty/tests/test_hashmap.py: HashMapRatingTest.test_process_service_threshold */
static const struct rating_case case_ck_process_service_threshold = {
	.rules =
		"{'services': {'compute': {'thresholds': [{'level': '1', 'type': 'flat', "
		"'cost': '0.1000000000000000055511151231'}, {'level': '2', 'type': 'flat', "
		"'cost': '0.1499999999999999944488848769'}]}}}",
	.recs = {
		{ "compute", TENANT, "1", "availability_zone=nova;flavor=m1.nano;image_id=f5600101-8fa2-4864-899e-ebcb7ed6b568;memory=64;name=prod1;project_id=f266f30b11f246b589fd266f85eeec39;user_id=55b3379b949243009ee96972fbf51ed1;vcpus=1", "0.1000000000000000055511151231" },
		{ "compute", TENANT, "2", "availability_zone=nova;flavor=m1.tiny;image_id=a41fba37-2429-4f15-aa00-b5bc4bf557bf;memory=512;name=dev1;project_id=f266f30b11f246b589fd266f85eeec39;user_id=55b3379b949243009ee96972fbf51ed1;vcpus=1", "0.1499999999999999944488848769" },
		{ "compute", TENANT, "2", "availability_zone=nova;flavor=m1.xlarge;image_id=0052f884-461d-4e3a-9598-7e5391888209;memory=16384;name=dev1;project_id=f266f30b11f246b589fd266f85eeec39;user_id=55b3379b949243009ee96972fbf51ed1;vcpus=8", "0.1499999999999999944488848769" },
		{ "compute", TENANT, "1", "availability_zone=nova;flavor=m1.nano;image_id=a41fba37-2429-4f15-aa00-b5bc4bf557bf;memory=64;name=dev2;project_id=f266f30b11f246b589fd266f85eeec39;user_id=55b3379b949243009ee96972fbf51ed1;vcpus=1", "0.1000000000000000055511151231" },
	},
};

/* cloudkitty/tests/test_hashmap.py: HashMapRatingTest.test_process_rating */
static const struct rating_case case_ck_process_rating = {
	.rules =
		"{'services': {'compute': {'mappings': [{'type': 'flat', "
		"'cost': '1.0000000000000000000000000000'}], "
		"'fields': {'flavor': {'mappings': [{'type': 'flat', "
		"'cost': '1.3369999999999999662492200514', 'value': 'm1.nano', 'group': 'test_group'}, "
		"{'type': 'flat', 'cost': '1.4199999999999999289457264240', 'value': 'm1.tiny', "
		"'group': 'test_group'}]}, 'vcpus': {'mappings': [{'type': 'flat', "
		"'cost': '16.0000000000000000000000000000', 'value': '8', "
		"'group': 'second_test_group'}]}, 'image_id': {'mappings': [{'type': 'rate', "
		"'cost': '1.1000000000000000888178419700', "
		"'value': 'a41fba37-2429-4f15-aa00-b5bc4bf557bf', 'group': 'test_group'}]}, "
		"'memory': {'thresholds': [{'level': '64', 'type': 'flat', "
		"'cost': '0.1499999999999999944488848769', 'group': 'test_group'}, {'level': '128', "
		"'type': 'flat', 'cost': '0.2000000000000000111022302463', 'group': 'test_group'}]}}}}}",
	.recs = {
		{ "compute", TENANT, "1", "availability_zone=nova;flavor=m1.nano;image_id=f5600101-8fa2-4864-899e-ebcb7ed6b568;memory=64;name=prod1;project_id=f266f30b11f246b589fd266f85eeec39;user_id=55b3379b949243009ee96972fbf51ed1;vcpus=1", "2.486999999999999960698104928" },
		{ "compute", TENANT, "2", "availability_zone=nova;flavor=m1.tiny;image_id=a41fba37-2429-4f15-aa00-b5bc4bf557bf;memory=512;name=dev1;project_id=f266f30b11f246b589fd266f85eeec39;user_id=55b3379b949243009ee96972fbf51ed1;vcpus=1", "5.564000000000000155875312656" },
		{ "compute", TENANT, "2", "availability_zone=nova;flavor=m1.xlarge;image_id=0052f884-461d-4e3a-9598-7e5391888209;memory=16384;name=dev1;project_id=f266f30b11f246b589fd266f85eeec39;user_id=55b3379b949243009ee96972fbf51ed1;vcpus=8", "34.40000000000000002220446049" },
		{ "compute", TENANT, "1", "availability_zone=nova;flavor=m1.nano;image_id=a41fba37-2429-4f15-aa00-b5bc4bf557bf;memory=64;name=dev2;project_id=f266f30b11f246b589fd266f85eeec39;user_id=55b3379b949243009ee96972fbf51ed1;vcpus=1", "2.635700000000000088840046430" },
	},
};

/* cloudkitty/tests/test_hashmap.py: HashMapRatingTest._generate_hashmap_rules / test_load_rates (project rules replace global ones with the same key), exact costs */
static const struct rating_case case_ck_load_rates_overlay = {
	.rules =
		"{'services': {'compute': {'mappings': [{'type': 'rate', 'cost': '1.42'}], "
		"'fields': {'flavor': {'mappings': [{'type': 'flat', 'cost': '1.337', "
		"'value': 'm1.tiny'}, {'type': 'rate', 'cost': '13.37', 'value': 'm1.large', "
		"'group': 'test_group'}, {'type': 'flat', 'cost': '2', 'value': 'm1.tiny', "
		"'project': 'f266f30b11f246b589fd266f85eeec39'}]}, "
		"'memory': {'thresholds': [{'level': '64', 'type': 'flat', 'cost': '0.02', "
		"'group': 'test_group'}, {'level': '128', 'type': 'flat', 'cost': '0.03', "
		"'group': 'test_group'}, {'level': '64', 'type': 'flat', 'cost': '0.03', "
		"'group': 'test_group', 'project': 'f266f30b11f246b589fd266f85eeec39'}]}}}}}",
	.recs = {
		{ "compute", TENANT, "1", "flavor=m1.tiny;memory=64", "2.87" },
		{ "compute", "other", "1", "flavor=m1.tiny;memory=64", "1.91854" },
		{ "compute", TENANT, "2", "flavor=m1.large;memory=128", "0.8022" },
		{ "compute", "other", "2", "flavor=m1.large;memory=100", "0.5348" },
	},
};

/* cloudkitty/tests/test_hashmap.py: HashMapRatingTest.test_update_result_flat (flats 1, 0.5, 1.5: the largest stays) */
static const struct rating_case case_ck_update_result_flat = {
	.rules =
		"{'services': {'s': {'fields': {'a': {'mappings': [{'type': 'flat', 'cost': '1', "
		"'value': 'x', 'group': 'test_group'}]}, 'b': {'mappings': [{'type': 'flat', "
		"'cost': '0.5', 'value': 'x', 'group': 'test_group'}]}, "
		"'c': {'mappings': [{'type': 'flat', 'cost': '1.5', 'value': 'x', "
		"'group': 'test_group'}]}}}}}",
	.recs = {
		{ "s", "", "1", "a=x;b=x;c=x", "1.5" },
		{ "s", "", "1", "a=x;b=x", "1" },
		{ "s", "", "1", "b=x", "0.5" },
	},
};

/* cloudkitty/tests/test_hashmap.py: HashMapRatingTest.test_update_result_rate (rates 0.5, 0.5, 1 multiply to 0.25) */
static const struct rating_case case_ck_update_result_rate = {
	.rules =
		"{'services': {'s': {'mappings': [{'type': 'flat', 'cost': '1', 'group': 'test_group'}], "
		"'fields': {'a': {'mappings': [{'type': 'rate', 'cost': '0.5', 'value': 'x', "
		"'group': 'test_group'}]}, 'b': {'mappings': [{'type': 'rate', 'cost': '0.5', "
		"'value': 'x', 'group': 'test_group'}]}, 'c': {'mappings': [{'type': 'rate', "
		"'cost': '1', 'value': 'x', 'group': 'test_group'}]}}}}}",
	.recs = {
		{ "s", "", "1", "a=x;b=x;c=x", "0.25" },
		{ "s", "", "1", "a=x", "0.5" },
	},
};

/* cloudkitty/tests/test_hashmap.py: HashMapRatingTest.test_update_result_threshold (levels 0, 10, 15: the highest reached wins) */
static const struct rating_case case_ck_update_result_threshold = {
	.rules =
		"{'services': {'s': {'mappings': [{'type': 'flat', 'cost': '1', 'group': 'test_group'}], "
		"'fields': {'n': {'thresholds': [{'level': '0', 'type': 'flat', 'cost': '0.01', "
		"'group': 'test_group'}, {'level': '10', 'type': 'flat', 'cost': '1', "
		"'group': 'test_group'}, {'level': '15', 'type': 'flat', 'cost': '1.1', "
		"'group': 'test_group'}]}}}}}",
	.recs = {
		{ "s", "", "1", "n=20", "2.1" },
		{ "s", "", "1", "n=12", "2" },
		{ "s", "", "1", "n=0", "1.01" },
	},
};

/* doc/source/user/rating/hashmap.rst: "Volume per GiB with discount" (20 GiB 0.02, 50 GiB 0.049 / 0.0485, 80 GiB 0.0784 / 0.0776, 250 GiB 0.2375) */
static const struct rating_case case_doc_volume_discount = {
	.rules =
		"{'services': {'volume.size': {'mappings': [{'type': 'flat', 'cost': '0.001', "
		"'group': 'volume_thresholds'}], 'thresholds': [{'level': '50', 'type': 'rate', "
		"'cost': '0.98', 'group': 'volume_thresholds'}, {'level': '50', 'type': 'rate', "
		"'cost': '0.97', 'group': 'volume_thresholds', "
		"'project': '2d5b39657dc542d4b2a14b685335304e'}, {'level': '200', 'type': 'rate', "
		"'cost': '0.95', 'group': 'volume_thresholds'}]}}}",
	.recs = {
		{ "volume.size", "other", "20", "", "0.020" },
		{ "volume.size", "other", "50", "", "0.04900" },
		{ "volume.size", "other", "80", "", "0.07840" },
		{ "volume.size", "other", "250", "", "0.23750" },
		{ "volume.size", "2d5b39657dc542d4b2a14b685335304e", "20", "", "0.020" },
		{ "volume.size", "2d5b39657dc542d4b2a14b685335304e", "50", "", "0.04850" },
		{ "volume.size", "2d5b39657dc542d4b2a14b685335304e", "80", "", "0.07760" },
		{ "volume.size", "2d5b39657dc542d4b2a14b685335304e", "250", "", "0.23750" },
	},
};

/* doc/source/user/rating/hashmap.rst: "Field mappings" (10 GiB SSD_gold 0.3, 1 GiB HDD_bronze 0.01, 0.5 GiB SSD_silver 0.01) */
static const struct rating_case case_doc_field_mappings = {
	.rules =
		"{'services': {'volume.size': {'fields': {'volume_type': {'mappings': [{'type': 'flat', "
		"'cost': '0.03', 'value': 'SSD_gold'}, {'type': 'flat', 'cost': '0.02', "
		"'value': 'SSD_silver'}, {'type': 'flat', 'cost': '0.01', 'value': 'HDD_bronze'}]}}}}}",
	.recs = {
		{ "volume.size", "p", "10", "volume_type=SSD_gold", "0.30" },
		{ "volume.size", "p", "1", "volume_type=HDD_bronze", "0.01" },
		{ "volume.size", "p", "0.5", "volume_type=SSD_silver", "0.010" },
	},
};

/* /work/shared/RATING.md table, row "none", column "flat" (F=2, R=3, C=7, q=5) */
static const struct rating_case case_table_none = {
	.rules =
		"{'services': {'svc': {'mappings': [{'type': 'flat', 'cost': '2'}], "
		"'fields': {'f': {'mappings': [{'type': 'rate', 'cost': '3', 'value': 'x'}]}}}}}",
	.recs = {
		{ "svc", "", "5", "f=x;size=10", "30" },
	},
};

/* /work/shared/RATING.md table, row "field", column "flat" (F=2, R=3, C=7, q=5) */
static const struct rating_case case_table_field_flat = {
	.rules =
		"{'services': {'svc': {'mappings': [{'type': 'flat', 'cost': '2'}], "
		"'fields': {'f': {'mappings': [{'type': 'rate', 'cost': '3', 'value': 'x'}]}, "
		"'size': {'thresholds': [{'level': '1', 'type': 'flat', 'cost': '7'}]}}}}}",
	.recs = {
		{ "svc", "", "5", "f=x;size=10", "135" },
	},
};

/* /work/shared/RATING.md table, row "field", column "rate" (F=2, R=3, C=7, q=5) */
static const struct rating_case case_table_field_rate = {
	.rules =
		"{'services': {'svc': {'mappings': [{'type': 'flat', 'cost': '2'}], "
		"'fields': {'f': {'mappings': [{'type': 'rate', 'cost': '3', 'value': 'x'}]}, "
		"'size': {'thresholds': [{'level': '1', 'type': 'rate', 'cost': '7'}]}}}}}",
	.recs = {
		{ "svc", "", "5", "f=x;size=10", "210" },
	},
};

/* /work/shared/RATING.md table, row "service", column "flat" (F=2, R=3, C=7, q=5) */
static const struct rating_case case_table_service_flat = {
	.rules =
		"{'services': {'svc': {'mappings': [{'type': 'flat', 'cost': '2'}], "
		"'fields': {'f': {'mappings': [{'type': 'rate', 'cost': '3', 'value': 'x'}]}}, "
		"'thresholds': [{'level': '1', 'type': 'flat', 'cost': '7'}]}}}",
	.recs = {
		{ "svc", "", "5", "f=x;size=10", "37" },
	},
};

/* /work/shared/RATING.md table, row "service", column "rate" (F=2, R=3, C=7, q=5) */
static const struct rating_case case_table_service_rate = {
	.rules =
		"{'services': {'svc': {'mappings': [{'type': 'flat', 'cost': '2'}], "
		"'fields': {'f': {'mappings': [{'type': 'rate', 'cost': '3', 'value': 'x'}]}}, "
		"'thresholds': [{'level': '1', 'type': 'rate', 'cost': '7'}]}}}",
	.recs = {
		{ "svc", "", "5", "f=x;size=10", "210" },
	},
};

/* RATING.md: ">= and not tiered: the highest level reached prices the whole quantity" */
static const struct rating_case case_thresholds_not_tiered = {
	.rules =
		"{'services': {'s': {'mappings': [{'type': 'flat', 'cost': '0.5'}], "
		"'thresholds': [{'level': '10', 'type': 'flat', 'cost': '1'}, {'level': '20', "
		"'type': 'flat', 'cost': '2'}]}}}",
	.recs = {
		{ "s", "", "20", "", "12.0" },
		{ "s", "", "19.99", "", "10.995" },
		{ "s", "", "10", "", "6.0" },
		{ "s", "", "9.99", "", "4.995" },
		{ "s", "", "25", "", "14.5" },
	},
};

/* RATING.md: "one threshold slot per group, shared by the service and all its fields" */
static const struct rating_case case_threshold_slot_shared = {
	.rules =
		"{'services': {'s': {'mappings': [{'type': 'flat', 'cost': '2', 'group': 'g'}], "
		"'thresholds': [{'level': '5', 'type': 'flat', 'cost': '100', 'group': 'g'}], "
		"'fields': {'size': {'thresholds': [{'level': '50', 'type': 'flat', 'cost': '1', "
		"'group': 'g'}]}}}}}",
	.recs = {
		{ "s", "", "10", "size=60", "30" },
		{ "s", "", "10", "size=40", "120" },
		{ "s", "", "4", "size=60", "12" },
		{ "s", "", "4", "size=40", "8" },
	},
};

/* RATING.md: "ties: first seen wins; service thresholds are seen before field thresholds" */
static const struct rating_case case_tie_service_first = {
	.rules =
		"{'services': {'s': {'mappings': [{'type': 'flat', 'cost': '2', 'group': 'g'}], "
		"'thresholds': [{'level': '10', 'type': 'flat', 'cost': '7', 'group': 'g'}], "
		"'fields': {'size': {'thresholds': [{'level': '10', 'type': 'flat', 'cost': '3', "
		"'group': 'g'}]}}}}}",
	.recs = {
		{ "s", "", "10", "size=10", "27" },
		{ "s", "", "10", "size=11", "27" },
	},
};

/* RATING.md: "ties: first seen wins" between two fields (field order = file order) */
static const struct rating_case case_tie_field_order = {
	.rules =
		"{'services': {'s': {'mappings': [{'type': 'flat', 'cost': '2', 'group': 'g'}], "
		"'fields': {'a': {'thresholds': [{'level': '5', 'type': 'flat', 'cost': '1', "
		"'group': 'g'}]}, 'b': {'thresholds': [{'level': '5', 'type': 'flat', 'cost': '2', "
		"'group': 'g'}]}}}}}",
	.recs = {
		{ "s", "", "1", "a=5;b=5", "3" },
		{ "s", "", "1", "b=5", "4" },
	},
};

/* same as tie_field_order with the fields in the other order */
static const struct rating_case case_tie_field_order_swapped = {
	.rules =
		"{'services': {'s': {'mappings': [{'type': 'flat', 'cost': '2', 'group': 'g'}], "
		"'fields': {'b': {'thresholds': [{'level': '5', 'type': 'flat', 'cost': '2', "
		"'group': 'g'}]}, 'a': {'thresholds': [{'level': '5', 'type': 'flat', 'cost': '1', "
		"'group': 'g'}]}}}}}",
	.recs = {
		{ "s", "", "1", "a=5;b=5", "4" },
	},
};

/* RATING.md: "a group with only rate mappings prices to 0 (rates scale a flat)" */
static const struct rating_case case_rate_only_group = {
	.rules =
		"{'services': {'s': {'mappings': [{'type': 'rate', 'cost': '10', 'group': 'r'}, "
		"{'type': 'flat', 'cost': '2', 'group': 'f'}], "
		"'fields': {'t': {'mappings': [{'type': 'rate', 'cost': '3', 'value': 'x', "
		"'group': 'r'}]}}}}}",
	.recs = {
		{ "s", "", "3", "t=x", "6" },
		{ "s", "", "2.50", "", "5.00" },
	},
};

/* RATING.md: rate-only group = 0, alone on the service (the zero keeps the quantity's exponent) */
static const struct rating_case case_rate_only_service = {
	.rules =
		"{'services': {'s': {'mappings': [{'type': 'rate', 'cost': '3'}]}}}",
	.recs = {
		{ "s", "", "2.50", "", "0.00" },
		{ "s", "", "1E+2", "", "0" },
	},
};

/* cloudkitty/rating/hash/__init__.py: add_rating_informations() sums groups in creation order; each addition rounds to 28 digits */
static const struct rating_case case_group_sum_order_big_first = {
	.rules =
		"{'services': {'s': {'mappings': [{'type': 'flat', 'cost': '1E+11', 'group': 'big'}, "
		"{'type': 'flat', 'cost': '0.00000000000000003', 'group': 'a'}, {'type': 'flat', "
		"'cost': '0.00000000000000003', 'group': 'b'}]}}}",
	.recs = {
		{ "s", "", "1E+17", "", "1.000000000000000000000000000E+28" },
	},
};

/* cloudkitty/rating/hash/__init__.py, as group_sum_order_big_first with the small groups first: 3 + 3 + 1E+28 rounds up */
static const struct rating_case case_group_sum_order_big_last = {
	.rules =
		"{'services': {'s': {'mappings': [{'type': 'flat', 'cost': '0.00000000000000003', "
		"'group': 'a'}, {'type': 'flat', 'cost': '0.00000000000000003', 'group': 'b'}, "
		"{'type': 'flat', 'cost': '1E+11', 'group': 'big'}]}}}",
	.recs = {
		{ "s", "", "1E+17", "", "1.000000000000000000000000001E+28" },
	},
};

/* RATING.md "Rules in force for a project P": P replaces global rules with the same key, adds the others; other projects' rules are invisible */
static const struct rating_case case_overlay_project = {
	.rules =
		"{'services': {'s': {'mappings': [{'type': 'flat', 'cost': '1'}, {'type': 'flat', "
		"'cost': '5', 'project': 'P'}, {'type': 'flat', 'cost': '100', 'group': 'extra', "
		"'project': 'Q'}], 'fields': {'flavor': {'mappings': [{'type': 'rate', 'cost': '2', "
		"'value': 'big'}, {'type': 'rate', 'cost': '3', 'value': 'big', 'project': 'P'}, "
		"{'type': 'flat', 'cost': '10', 'value': 'big', 'group': 'pgroup', "
		"'project': 'P'}]}}}}}",
	.recs = {
		{ "s", "P", "2", "flavor=big", "50" },
		{ "s", "Q", "2", "flavor=big", "204" },
		{ "s", "R", "2", "flavor=big", "4" },
		{ "s", "", "2", "flavor=small", "2" },
		{ "s", "P", "2", "", "10" },
	},
};

/* RATING.md: field mapping values match the attribute text exactly (8.0 is not "8"; case-sensitive) */
static const struct rating_case case_text_exact = {
	.rules =
		"{'services': {'s': {'fields': {'vcpus': {'mappings': [{'type': 'flat', 'cost': '1', "
		"'value': '8'}]}, 'flavor': {'mappings': [{'type': 'flat', 'cost': '2', "
		"'value': 'm1.tiny'}]}}}}}",
	.recs = {
		{ "s", "", "1", "vcpus=8", "1" },
		{ "s", "", "1", "vcpus=8.0", "0" },
		{ "s", "", "1", "flavor=M1.tiny", "0" },
		{ "s", "", "1", "flavor=m1.tiny ", "0" },
	},
};

/* cloudkitty/rating/hash/__init__.py: update_result(): a flat <= 0 never takes effect, so a project flat 0 over a global flat 4 makes it free */
static const struct rating_case case_zero_flat_overlay = {
	.rules =
		"{'services': {'s': {'fields': {'f': {'mappings': [{'type': 'flat', 'cost': '4', "
		"'value': 'x'}, {'type': 'flat', 'cost': '0', 'value': 'x', 'project': 'P'}]}}}}}",
	.recs = {
		{ "s", "P", "3", "f=x", "0" },
		{ "s", "Q", "3", "f=x", "12" },
	},
};

/* cloudkitty/rating/hash/__init__.py: process_fields(): decimal.Decimal(text) takes spaces, underscores and infinities */
static const struct rating_case case_python_numbers = {
	.rules =
		"{'services': {'s': {'mappings': [{'type': 'flat', 'cost': '1'}], "
		"'fields': {'memory': {'thresholds': [{'level': '128', 'type': 'flat', "
		"'cost': '1'}]}}}}}",
	.recs = {
		{ "s", "", "1", "memory= 128 ", "2" },
		{ "s", "", "1", "memory=1_28", "2" },
		{ "s", "", "1", "memory=inf", "2" },
		{ "s", "", "1", "memory=-Infinity", "1" },
		{ "s", "", "1", "memory=1e3", "2" },
		{ "s", "", "1", "memory=127", "1" },
		{ "s", "", "1", "memory=12_7", "1" },
		{ "s", "", "1", "memory=128.000", "2" },
		{ "s", "", "1", "memory=\xc2\xa0" "128", "2" },
		{ "s", "", "1", "memory=1e9999999", "2" },
		{ "s", "", "1", "memory=1e-9999999", "1" },
		{ "s", "", "1", "memory=1e999999999999999999", "2" },
	},
};

/* cloudkitty/rating/hash/db/sqlalchemy/models.py: cost is NUMERIC(40,28); a cost of 40 digits: F keeps all of them until the first operation rounds */
static const struct rating_case case_long_cost = {
	.rules =
		"{'services': {'s': {'mappings': [{'type': 'flat', "
		"'cost': '123456789012.1234567890123456789012345678'}], "
		"'fields': {'f': {'mappings': [{'type': 'rate', 'cost': '3', 'value': 'x'}]}}}}}",
	.recs = {
		{ "s", "", "7", "f=x", "2592592569254.592592569259260" },
		{ "s", "", "7", "", "864197523084.8641975230864199" },
	},
};

/* cloudkitty/rating/hash/__init__.py: update_result() and add_rating_informations() take negative rates and threshold costs (discounts) */
static const struct rating_case case_negative_rate_and_threshold = {
	.rules =
		"{'services': {'s': {'mappings': [{'type': 'flat', 'cost': '10'}], "
		"'thresholds': [{'level': '5', 'type': 'flat', 'cost': '-3'}], "
		"'fields': {'f': {'mappings': [{'type': 'rate', 'cost': '-1', 'value': 'credit'}]}}}}}",
	.recs = {
		{ "s", "", "6", "", "57" },
		{ "s", "", "2", "f=credit", "-20" },
		{ "s", "", "6", "f=credit", "-63" },
	},
};

/* ---- behaviour outside the table -------------------------------------------------- */

struct log_capture {
	int calls;
	char last[512];
};

static void capture(void *arg, const char *msg)
{
	struct log_capture *c = arg;

	c->calls++;
	snprintf(c->last, sizeof(c->last), "%s", msg);
}

/*
 * RATING.md "Where to deviate": CloudKitty's Decimal('lots') raises and the
 * whole period fails; here the field's thresholds count as not reached, its
 * mappings still apply, and a debug message says so.
 */
static void test_non_numeric_threshold_field(void **state)
{
	struct rules *r = load_rules(
		"{'services': {'s': {'mappings': [{'type': 'flat', 'cost': '1'}], 'fields': {"
		"'memory': {'mappings': [{'type': 'flat', 'cost': '5', 'value': 'lots', 'group': 'g'}],"
		"           'thresholds': [{'level': '128', 'type': 'flat', 'cost': '1'}]},"
		"'flavor': {'mappings': [{'type': 'flat', 'cost': '7', 'value': 'x', 'group': 'h'}]}}}}}");
	struct log_capture cap = { 0 };
	struct rating_log log = { .debug = capture, .arg = &cap };
	char *p;

	p = price_from(r, "s", "", "1", "memory=lots", "0", &log);
	assert_string_equal(p, "6"); /* default group 1×1, group g flat 5 */
	free(p);
	assert_int_equal(cap.calls, 1);
	assert_non_null(strstr(cap.last, "memory"));
	assert_non_null(strstr(cap.last, "\"lots\""));

	/* NaN parses in Python but its comparison raises: same treatment */
	p = price_from(r, "s", "", "1", "memory=NaN", "0", &log);
	assert_string_equal(p, "1");
	free(p);
	assert_int_equal(cap.calls, 2);

	/* a field without thresholds never turns its text into a number: nothing to report */
	p = price_from(r, "s", "", "1", "flavor=x", "0", &log);
	assert_string_equal(p, "8");
	free(p);
	assert_int_equal(cap.calls, 2);

	/* no log given: still priced, silently */
	p = price_from(r, "s", "", "1", "memory=lots", "0", NULL);
	assert_string_equal(p, "6");
	free(p);
	rules_free(r);
}

/* RATING.md step 1: unknown service → the incoming price is left as it came. */
static void test_unknown_service_keeps_price(void **state)
{
	struct rules *r = load_rules("{'services': {'s': {'mappings': [{'type': 'flat', 'cost': '2'}]}}}");
	char *p;

	p = price_from(r, "other", "P", "3", "", "5.0", NULL);
	assert_string_equal(p, "5.0");
	free(p);
	p = price_from(r, "other", "P", "3", "", "0", NULL);
	assert_string_equal(p, "0");
	free(p);
	/* RATING.md step 5: price = incoming price + Σ groups */
	p = price_from(r, "s", "P", "3", "", "1.5", NULL);
	assert_string_equal(p, "7.5");
	free(p);
	rules_free(r);
}

/* A known service with no rule that matches: no group, price stays 0. */
static void test_empty_service_and_rules(void **state)
{
	struct rules *r = load_rules("{'services': {'s': {}, 't': {'fields': {'f': {}}}}}");
	char *p;

	p = price_of(r, "s", "", "3", "f=1");
	assert_string_equal(p, "0");
	free(p);
	p = price_of(r, "t", "", "3", "f=1");
	assert_string_equal(p, "0");
	free(p);
	rules_free(r);
	r = load_rules("{'services': {}}");
	p = price_of(r, "s", "", "3", "");
	assert_string_equal(p, "0");
	free(p);
	rules_free(r);
}

/* rating.h: an attribute given twice counts once, the first (the group-by key laid over). */
static void test_first_attribute_wins(void **state)
{
	struct rules *r = load_rules(
		"{'services': {'s': {'fields': {'project': {'mappings': ["
		"{'type': 'flat', 'cost': '1', 'value': 'a'}, {'type': 'flat', 'cost': '2', 'value': 'b', 'group': 'g'}]}}}}}");
	char *p = price_of(r, "s", "", "1", "project=a;project=b");

	assert_string_equal(p, "1");
	free(p);
	rules_free(r);
}

/* The service name is looked up exactly among many (services are kept sorted). */
static void test_many_services(void **state)
{
	char json[8192], *w = json, *p;
	struct rules *r;

	w += sprintf(w, "{'services': {");
	for (int i = 99; i >= 0; i--)
		w += sprintf(w, "'svc%02d': {'mappings': [{'type': 'flat', 'cost': '%d'}]}%s", i, i,
			     i ? ", " : "");
	sprintf(w, "}}");
	r = load_rules(json);
	assert_int_equal(r->n_services, 100);
	for (int i = 0; i < 100; i++) {
		char name[16], want[16];

		snprintf(name, sizeof(name), "svc%02d", i);
		snprintf(want, sizeof(want), "%d", 2 * i);
		p = price_of(r, name, "", "2", "");
		assert_string_equal(p, want);
		free(p);
	}
	assert_null(rules_service_find(r, "svc100"));
	assert_null(rules_service_find(r, ""));
	rules_free(r);
}

/* ---- rules files refused, with the JSON path ----------------------------------------- */

struct bad_rules {
	const char *rules;
	const char *error; /* the whole message */
};

static const struct bad_rules bad[] = {
	/* the brief's example */
	{ "{'services': {'instance': {'fields': {'flavor_name': {'mappings': ["
	  "{'type': 'flat', 'cost': '1', 'value': 'a'}, {'type': 'flat', 'cost': '2', 'value': 'b'},"
	  "{'type': 'flat', 'cost': '1,5', 'value': 'c'}]}}}}}",
	  "services.instance.fields.flavor_name.mappings[2].cost: not a decimal: \"1,5\"" },
	{ "{'services': {'s': {'mappings': [{'type': 'fixed', 'cost': '1'}]}}}",
	  "services.s.mappings[0].type: unknown type \"fixed\" (expected \"flat\" or \"rate\")" },
	{ "{'services': {'s': {'mappings': [{'cost': '1'}]}}}",
	  "services.s.mappings[0].type: missing (\"flat\" or \"rate\")" },
	{ "{'services': {'s': {'mappings': [{'type': 'flat'}]}}}",
	  "services.s.mappings[0].cost: missing" },
	{ "{'services': {'s': {'thresholds': [{'level': '-1', 'type': 'flat', 'cost': '1'}]}}}",
	  "services.s.thresholds[0].level: negative level: \"-1\" (it could never be reached)" },
	{ "{'services': {'s': {'fields': {'f': {'thresholds': [{'level': '-0.001', 'type': 'rate', 'cost': '1'}]}}}}}",
	  "services.s.fields.f.thresholds[0].level: negative level: \"-0.001\" (it could never be reached)" },
	{ "{'services': {'s': {'mappings': [{'type': 'flat', 'cost': '-0.5'}]}}}",
	  "services.s.mappings[0].cost: negative flat cost: \"-0.5\" (CloudKitty would silently ignore it)" },
	{ "{'services': {'s': {'fields': {'f': {'mappings': [{'type': 'flat', 'cost': '-1', 'value': 'x'}]}}}}}",
	  "services.s.fields.f.mappings[0].cost: negative flat cost: \"-1\" (CloudKitty would silently ignore it)" },
	{ "{'services': {'s': {'mappings': [{'type': 'flat', 'cost': '1', 'group': 'g'}, {'type': 'rate', 'cost': '2', 'group': 'g'}]}}}",
	  "services.s.mappings[1]: second service mapping in group \"g\" (the first is mappings[0])" },
	{ "{'services': {'s': {'mappings': [{'type': 'flat', 'cost': '1'}, {'type': 'rate', 'cost': '2', 'group': '_DEFAULT_'}]}}}",
	  "services.s.mappings[1]: second service mapping in group \"_DEFAULT_\" (the first is mappings[0])" },
	{ "{'services': {'s': {'mappings': [{'type': 'flat', 'cost': '1', 'project': 'P'}, {'type': 'flat', 'cost': '1', 'project': 'Q'},"
	  "{'type': 'flat', 'cost': '2', 'project': 'P'}]}}}",
	  "services.s.mappings[2]: second service mapping in group \"_DEFAULT_\" for project \"P\" (the first is mappings[0])" },
	/* the first repeated key in file order is reported, whatever the sort order */
	{ "{'services': {'s': {'mappings': [{'type': 'flat', 'cost': '1', 'group': 'b'}, {'type': 'flat', 'cost': '1', 'group': 'a'},"
	  "{'type': 'flat', 'cost': '2', 'group': 'a'}, {'type': 'flat', 'cost': '2', 'group': 'b'}, {'type': 'flat', 'cost': '3', 'group': 'a'}]}}}",
	  "services.s.mappings[2]: second service mapping in group \"a\" (the first is mappings[1])" },
	{ "{'services': {'s': {'fields': {'f': {'mappings': [{'type': 'flat', 'cost': '1', 'value': 'x'}, {'type': 'rate', 'cost': '2', 'value': 'x'}]}}}}}",
	  "services.s.fields.f.mappings[1]: value \"x\" already mapped in group \"_DEFAULT_\" by mappings[0]" },
	{ "{'services': {'s': {'thresholds': [{'level': '1', 'type': 'flat', 'cost': '1'}, {'level': '1.0', 'type': 'flat', 'cost': '2'}]}}}",
	  "services.s.thresholds[1]: same level as thresholds[0] in group \"_DEFAULT_\"" },
	{ "{'services': {'s': {'mappings': [{'type': 'flat', 'cost': '1', 'colour': 'red'}]}}}",
	  "services.s.mappings[0].colour: unknown key (expected type, cost, value, group, project)" },
	{ "{'services': {'s': {'thresholds': [{'level': '1', 'type': 'flat', 'cost': '1', 'value': 'x'}]}}}",
	  "services.s.thresholds[0].value: unknown key (expected level, type, cost, group, project)" },
	{ "{'services': {'s': {'thresholdz': []}}}",
	  "services.s.thresholdz: unknown key (expected mappings, thresholds, fields)" },
	{ "{'services': {'s': {'fields': {'f': {'fields': {}}}}}}",
	  "services.s.fields.f.fields: unknown key (expected mappings, thresholds)" },
	{ "{'servics': {}}", "servics: unknown key (expected services)" },
	{ "{}", "services: missing" },
	{ "[]", "(top level): must be an object with \"services\"" },
	{ "{'services': []}", "services: must be an object" },
	{ "{'services': {'s': {'mappings': {}}}}", "services.s.mappings: must be an array" },
	{ "{'services': {'s': {'mappings': ['flat']}}}", "services.s.mappings[0]: must be an object" },
	{ "{'services': {'s': {'fields': {'f': {'mappings': [{'type': 'flat', 'cost': '1'}]}}}}}",
	  "services.s.fields.f.mappings[0].value: missing (a field mapping matches on its value)" },
	{ "{'services': {'s': {'mappings': [{'type': 'flat', 'cost': '1', 'value': 'x'}]}}}",
	  "services.s.mappings[0].value: a service mapping has no value (field mappings go under \"fields\")" },
	{ "{'services': {'s': {'fields': {'f': {'mappings': [{'type': 'flat', 'cost': '1', 'value': ''}]}}}}}",
	  "services.s.fields.f.mappings[0].value: must not be empty" },
	{ "{'services': {'s': {'mappings': [{'type': 'flat', 'cost': 1.5}]}}}",
	  "services.s.mappings[0].cost: must be a string holding a decimal (\"cost\": \"1.5\", not 1.5)" },
	{ "{'services': {'s': {'thresholds': [{'level': 64, 'type': 'flat', 'cost': '1'}]}}}",
	  "services.s.thresholds[0].level: must be a string holding a decimal (\"level\": \"1.5\", not 1.5)" },
	{ "{'services': {'s': {'mappings': [{'type': 'flat', 'cost': 'inf'}]}}}",
	  "services.s.mappings[0].cost: not a decimal: \"inf\"" },
	{ "{'services': {'s': {'mappings': [{'type': 'flat', 'cost': ' 1'}]}}}",
	  "services.s.mappings[0].cost: not a decimal: \" 1\"" },
	{ "{'services': {'s': {'mappings': [{'type': 'flat', 'cost': '1e9999999'}]}}}",
	  "services.s.mappings[0].cost: out of range: \"1e9999999\"" },
	{ "{'services': {'s': {'mappings': [{'type': 'flat', 'cost': '1000000000000'}]}}}",
	  "services.s.mappings[0].cost: more than 12 digits before the point: \"1000000000000\" "
	  "(CloudKitty stores it as NUMERIC(40,28))" },
	{ "{'services': {'s': {'mappings': [{'type': 'rate', 'cost': '0.00000000000000000000000000001'}]}}}",
	  "services.s.mappings[0].cost: more than 28 digits after the point: \"0.00000000000000000000000000001\" "
	  "(CloudKitty stores it as NUMERIC(40,28))" },
	{ "{'services': {'s': {'thresholds': [{'level': '0.123456789', 'type': 'flat', 'cost': '1'}]}}}",
	  "services.s.thresholds[0].level: more than 8 digits after the point: \"0.123456789\" "
	  "(CloudKitty stores it as NUMERIC(20,8))" },
	{ "{'services': {'volume.size': {'mappings': [{'type': 'flat', 'cost': 'abc'}]}}}",
	  "services[\"volume.size\"].mappings[0].cost: not a decimal: \"abc\"" },
	{ "{'services': {'s': {'mappings': [{'type': 'flat', 'cost': '1', 'group': ''}]}}}",
	  "services.s.mappings[0].group: must not be empty" },
	{ "{'services': {'s': {'mappings': [{'type': 'flat', 'cost': '1', 'project': 7}]}}}",
	  "services.s.mappings[0].project: must be a string" },
	{ "{'services': {'': {}}}", "services[\"\"]: a service name must not be empty" },
	{ "{'services': {'s': {'fields': {'': {}}}}}", "services.s.fields[\"\"]: a field name must not be empty" },
	{ "{'services': {'s': {'fields': {'f': []}}}}", "services.s.fields.f: must be an object" },
};

static void test_rules_refused_with_path(void **state)
{
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char err[512] = "";
		int rc;
		struct rules *r = rules_try(bad[i].rules, &rc, err, sizeof(err));

		if (rc != -EINVAL || strcmp(err, bad[i].error) != 0)
			print_error("case %zu: rc %d, got '%s'\n           want '%s'\n", i, rc, err,
				    bad[i].error);
		assert_int_equal(rc, -EINVAL);
		assert_null(r);
		assert_string_equal(err, bad[i].error);
	}
}

static void test_rules_json_errors(void **state)
{
	char err[512];
	struct rules *r = NULL;
	int rc;

	/* jansson would keep the last of two equal keys and drop a service silently */
	r = rules_try("{'services': {'s': {}, 's': {}}}", &rc, err, sizeof(err));
	assert_int_equal(rc, -EINVAL);
	assert_null(r);
	assert_non_null(strstr(err, "duplicate object key"));
	assert_true(strncmp(err, "1:", 2) == 0);

	r = rules_try("{'services': {'s': {}}", &rc, err, sizeof(err));
	assert_int_equal(rc, -EINVAL);
	assert_true(strncmp(err, "1:", 2) == 0);

	rc = rules_load_file("/nonexistent/rules.json", &r, err, sizeof(err));
	assert_int_equal(rc, -ENOENT);
	assert_null(r);
	assert_string_equal(err, "cannot open: No such file or directory");

	rc = rules_load_file("/", &r, err, sizeof(err));
	assert_int_equal(rc, -EINVAL);
	assert_string_equal(err, "not a regular file");
}

/* What the rules accept although it looks odd: each has a meaning in CloudKitty. */
static void test_rules_accepted(void **state)
{
	static const char *const good[] = {
		/* one service mapping per group and scope: other projects and groups are fine */
		"{'services': {'s': {'mappings': [{'type': 'flat', 'cost': '1'}, {'type': 'flat', 'cost': '1', 'project': 'P'},"
		"{'type': 'flat', 'cost': '1', 'group': 'g'}, {'type': 'flat', 'cost': '1', 'group': 'g', 'project': 'P'}]}}}",
		/* the same value in two groups, the same level in two groups */
		"{'services': {'s': {'fields': {'f': {'mappings': [{'type': 'flat', 'cost': '1', 'value': 'x'},"
		"{'type': 'rate', 'cost': '2', 'value': 'x', 'group': 'g'}], 'thresholds': [{'level': '1', 'type': 'flat', 'cost': '1'},"
		"{'level': '1', 'type': 'flat', 'cost': '1', 'group': 'g'}]}}}}}",
		/* negative rates and threshold costs are discounts; a zero flat overrides to free */
		"{'services': {'s': {'mappings': [{'type': 'rate', 'cost': '-1'}, {'type': 'flat', 'cost': '0', 'group': 'g'}],"
		"'thresholds': [{'level': '0', 'type': 'flat', 'cost': '-5'}, {'level': '-0', 'type': 'rate', 'cost': '2', 'group': 'g'}]}}}",
		/* trailing zeros beyond 28 places are still a NUMERIC(40,28) value; exponents are fine */
		"{'services': {'s': {'mappings': [{'type': 'rate', 'cost': '1.50000000000000000000000000000'},"
		"{'type': 'flat', 'cost': '1E+11', 'group': 'g'}, {'type': 'flat', 'cost': '999999999999.9999999999999999999999999999', 'group': 'h'}],"
		"'thresholds': [{'level': '12.5e-7', 'type': 'flat', 'cost': '1'}]}}}",
		"{'services': {}}",
	};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		rules_free(load_rules(good[i]));
}

/* Names are interned and each list has a view per project that has rules in it. */
static void test_rules_index(void **state)
{
	struct rules *r = load_rules(
		"{'services': {'s': {'mappings': [{'type': 'flat', 'cost': '1', 'group': 'b'},"
		"{'type': 'flat', 'cost': '2', 'group': 'a', 'project': 'Q'}, {'type': 'flat', 'cost': '3', 'group': 'b', 'project': 'P'}]}}}");
	const struct rules_service *s = rules_service_find(r, "s");
	const struct rule_view *v;

	assert_non_null(s);
	assert_int_equal(r->n_groups, 2);
	assert_string_equal(r->groups[0], "a");
	assert_int_equal(r->n_projects, 2);
	assert_string_equal(r->projects[0], "P");
	assert_int_equal(rules_project_find(r, "Q"), 1);
	assert_true(rules_project_find(r, "R") == RULES_GLOBAL);
	assert_true(rules_project_find(r, "") == RULES_GLOBAL);
	assert_true(rules_project_find(r, NULL) == RULES_GLOBAL);
	assert_int_equal(s->mappings.n_views, 3);
	v = rule_list_view(&s->mappings, RULES_GLOBAL);
	assert_int_equal(v->n, 1);
	/* P: its rule replaces the global one in group b */
	v = rule_list_view(&s->mappings, 0);
	assert_int_equal(v->n, 1);
	assert_int_equal(v->rule[0]->pos, 2);
	/* Q: the global group b first, then Q's new group a */
	v = rule_list_view(&s->mappings, 1);
	assert_int_equal(v->n, 2);
	assert_int_equal(v->rule[0]->pos, 0);
	assert_int_equal(v->rule[1]->pos, 1);
	assert_string_equal(rule_type_name(v->rule[1]->type), "flat");
	rules_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		RATING_CASE(ck_process_services),
		RATING_CASE(ck_process_fields),
		RATING_CASE(ck_process_fields_no_match),
		RATING_CASE(ck_process_field_threshold),
		RATING_CASE(ck_process_field_threshold_no_match),
		RATING_CASE(ck_process_service_threshold),
		RATING_CASE(ck_process_rating),
		RATING_CASE(ck_load_rates_overlay),
		RATING_CASE(ck_update_result_flat),
		RATING_CASE(ck_update_result_rate),
		RATING_CASE(ck_update_result_threshold),
		RATING_CASE(doc_volume_discount),
		RATING_CASE(doc_field_mappings),
		RATING_CASE(table_none),
		RATING_CASE(table_field_flat),
		RATING_CASE(table_field_rate),
		RATING_CASE(table_service_flat),
		RATING_CASE(table_service_rate),
		RATING_CASE(thresholds_not_tiered),
		RATING_CASE(threshold_slot_shared),
		RATING_CASE(tie_service_first),
		RATING_CASE(tie_field_order),
		RATING_CASE(tie_field_order_swapped),
		RATING_CASE(rate_only_group),
		RATING_CASE(rate_only_service),
		RATING_CASE(group_sum_order_big_first),
		RATING_CASE(group_sum_order_big_last),
		RATING_CASE(overlay_project),
		RATING_CASE(text_exact),
		RATING_CASE(zero_flat_overlay),
		RATING_CASE(python_numbers),
		RATING_CASE(long_cost),
		RATING_CASE(negative_rate_and_threshold),
		cmocka_unit_test(test_non_numeric_threshold_field),
		cmocka_unit_test(test_unknown_service_keeps_price),
		cmocka_unit_test(test_empty_service_and_rules),
		cmocka_unit_test(test_first_attribute_wins),
		cmocka_unit_test(test_many_services),
		cmocka_unit_test(test_rules_refused_with_path),
		cmocka_unit_test(test_rules_json_errors),
		cmocka_unit_test(test_rules_accepted),
		cmocka_unit_test(test_rules_index),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
