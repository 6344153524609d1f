/*
 * test_rater_report — `hvrater report`'s engine and output (rater/report.c,
 * rater/report_out.c) on a real rater store: one record per period,
 * project, resource and service, summed over series and over the hosts a
 * VM moved between; labels and resource kinds select series; metadata in
 * force at the period's end, restricted to the service's list; thresholds
 * see the whole period; closed and open periods; the project filter; CSV,
 * JSON and the table.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "rater/metrics_map.h"
#include "rater/report.h"
#include "rater/report_out.h"
#include "rater/rstore.h"
#include "rater/rules.h"

#define SEC 1000000000LL
#define P 3600
#define B0 1800000000LL /* 2027-01-15T08:00:00Z, a multiple of P */
#define GIB 1073741824LL

static const char metrics_json[] =
	"{\"metrics\": {"
	" \"instance\": {\"metric\": \"vcpu.alloc\", \"aggregate\": \"duration\", \"factor\": \"1/3600\","
	"   \"unit\": \"hour\", \"metadata\": [\"flavor\", \"name\"]},"
	" \"cpu\": {\"metric\": \"cpu.time\", \"factor\": \"1/3600000000000\", \"unit\": \"core-hour\"},"
	" \"net.public\": {\"metric\": \"net.tx.bytes\", \"labels\": {\"class\": \"public\"},"
	"   \"factor\": \"1/1073741824\", \"unit\": \"GiB\"},"
	" \"host.energy\": {\"metric\": \"energy\", \"resources\": \"host\", \"factor\": \"1/3600\","
	"   \"unit\": \"Wh\", \"labels\": {\"part\": \"\"}}}}";

static const char rules_json[] =
	"{\"services\": {"
	" \"instance\": {\"fields\": {\"flavor\": {\"mappings\": ["
	"   {\"type\": \"flat\", \"cost\": \"0.02\", \"value\": \"m1.small\"},"
	"   {\"type\": \"flat\", \"cost\": \"0.5\", \"value\": \"m1.huge\"}]}}},"
	" \"cpu\": {\"mappings\": [{\"type\": \"flat\", \"cost\": \"0.03\"}]},"
	" \"net.public\": {\"mappings\": [{\"type\": \"flat\", \"cost\": \"0.09\"}],"
	"   \"thresholds\": [{\"level\": \"5\", \"type\": \"rate\", \"cost\": \"0.8\"}]},"
	" \"host.energy\": {\"mappings\": [{\"type\": \"flat\", \"cost\": \"0.3\"}]}}}";

struct fx {
	char dir[64];
	struct rstore *rs;
	struct metrics_map *m;
	struct rules *rules;
};

static void announce(struct frame *f, const char *res, const char *project, const char *name,
		     const char *flavor)
{
	struct frame_resource r;

	memset(&r, 0, sizeof(r));
	snprintf(r.resource, sizeof(r.resource), "%s", res);
	frame_attr_set(&r, "project", project);
	frame_attr_set(&r, "name", name);
	frame_attr_set(&r, "flavor", flavor);
	frame_attr_set(&r, "image", "img-1");
	assert_int_equal(frame_resource_add(f, &r), 0);
}

/*
 * hv1: frames of 600 s over two periods [B0, B0 + 7200); vm-a (project p1)
 * uses 60 s of CPU, 2 vCPUs, 1 GiB public and 10 B private traffic on two
 * taps per frame; the host's own energy 3.6 kJ per frame. vm-a is resized
 * to m1.huge in the second period. hv2: vm-b (project p2) in the first
 * period, and vm-a for its last frame there (it moved), then nothing.
 */
static void store_fill(struct rstore *rs)
{
	struct rstore_txn *t;
	struct rstore_host h1 = { .host_id = "hv1", .first_seq = 1 },
			   h2 = { .host_id = "hv2", .first_seq = 1 };

	assert_int_equal(rstore_txn_begin(rs, NULL, &t), 0);
	for (int i = 0; i < 12; i++) {
		struct frame f;

		frame_init(&f);
		f.seq = (uint64_t)i + 1;
		f.merged = 1;
		f.start_ns = (B0 + 600LL * i) * SEC;
		f.end_ns = f.start_ns + 600 * SEC;
		if (i == 0)
			announce(&f, "vm-a", "p1", "web", "m1.small");
		if (i == 7)
			announce(&f, "vm-a", "p1", "web", "m1.huge");
		assert_int_equal(frame_delta_add(&f, "vm-a", "cpu.time", "", 60 * SEC), 0);
		assert_int_equal(frame_delta_add(&f, "vm-a", "vcpu.alloc", "", 1200000), 0);
		assert_int_equal(frame_delta_add(&f, "vm-a", "net.tx.bytes", "class=public;device=tap0",
						 GIB / 2), 0);
		assert_int_equal(frame_delta_add(&f, "vm-a", "net.tx.bytes", "class=public;device=tap1",
						 GIB / 2), 0);
		assert_int_equal(frame_delta_add(&f, "vm-a", "net.tx.bytes", "class=private;device=tap0",
						 10), 0);
		assert_int_equal(frame_delta_add(&f, "host", "energy", "", 3600000), 0);
		assert_int_equal(frame_delta_add(&f, "host", "energy", "part=remainder", 1000), 0);
		assert_int_equal(rstore_frame_add(t, "hv1", &f), 0);
		h1.last_seq = f.seq;
		h1.last_end_ns = f.end_ns;
		frame_free(&f);
	}
	for (int i = 0; i < 6; i++) {
		struct frame f;

		frame_init(&f);
		f.seq = (uint64_t)i + 1;
		f.merged = 1;
		f.start_ns = (B0 + 600LL * i) * SEC;
		f.end_ns = f.start_ns + 600 * SEC;
		if (i == 0)
			announce(&f, "vm-b", "p2", "db", "m1.small");
		if (i == 5)
			announce(&f, "vm-a", "p1", "web", "m1.small");
		assert_int_equal(frame_delta_add(&f, "vm-b", "cpu.time", "", SEC), 0);
		if (i == 5) {
			assert_int_equal(frame_delta_add(&f, "vm-a", "cpu.time", "", 60 * SEC), 0);
			assert_int_equal(frame_delta_add(&f, "vm-a", "vcpu.alloc", "", 1200000), 0);
		}
		assert_int_equal(rstore_frame_add(t, "hv2", &f), 0);
		h2.last_seq = f.seq;
		h2.last_end_ns = f.end_ns;
		frame_free(&f);
	}
	assert_int_equal(rstore_host_put(t, &h1), 0);
	assert_int_equal(rstore_host_put(t, &h2), 0);
	assert_int_equal(rstore_txn_commit(t), 0);
}

static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));
	struct rstore_opts o = { .period = P };
	char err[256];

	if (!x)
		return -1;
	strcpy(x->dir, "/tmp/hvt-rreport.XXXXXX");
	if (!mkdtemp(x->dir) || rstore_open(&x->rs, x->dir, &o))
		return -1;
	store_fill(x->rs);
	if (metrics_map_parse(metrics_json, strlen(metrics_json), &x->m, err, sizeof(err)) ||
	    rules_load_string(rules_json, &x->rules, err, sizeof(err))) {
		print_error("%s\n", err);
		return -1;
	}
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fx *x = *state;
	char cmd[128];

	rstore_close(x->rs);
	metrics_map_free(x->m);
	rules_free(x->rules);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", x->dir);
	if (system(cmd)) {
		/* a leftover temp dir is not a failure */
	}
	free(x);
	return 0;
}

static struct report *build(struct fx *x, const struct report_opts *o)
{
	struct report *r = NULL;
	char err[256] = "";
	int rc = report_build(x->rs, x->m, x->rules, o, NULL, &r, err, sizeof(err));

	if (rc)
		print_error("report_build: %s\n", err);
	assert_int_equal(rc, 0);
	return r;
}

static char *render(const struct report *r, int format)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	if (format == 0)
		assert_int_equal(report_write_csv(f, r), 0);
	else if (format == 1)
		assert_int_equal(report_write_json(f, r), 0);
	else
		assert_int_equal(report_write_table(f, r, INT64_MIN, INT64_MAX, true), 0);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static void assert_has(const char *text, const char *line)
{
	if (!strstr(text, line)) {
		fprintf(stderr, "missing:\n%s\nin:\n%s\n", line, text);
		fail();
	}
}

/* now: both periods over; hv2 stopped at the first period's end, 60 s ago. */
#define NOW ((B0 + 2 * P + 60) * SEC)

static void test_records_csv(void **state)
{
	struct fx *x = *state;
	struct report_opts o = { .from_s = INT64_MIN, .to_s = INT64_MAX, .include_open = true,
				 .now_ns = NOW, .close_wait_s = 2 * P };
	struct report *r = build(x, &o);
	char *csv = render(r, 0);

	assert_int_equal(r->period_s, P);
	assert_int_equal(r->n_records, 9);
	assert_has(csv, "begin,end,closed,type,project,resource,qty,unit,price,metadata\n");
	/* vm-a in the first period: 6 frames on hv1 and its last one again on hv2 (moved):
	 * 7 × 60 s of CPU, 7 × 600 s running; metadata at the period's end (hv1's, first by id) */
	assert_has(csv, "2027-01-15T08:00:00Z,2027-01-15T09:00:00Z,true,cpu,p1,vm-a,"
			"0.1166666666666666666666666667,core-hour,0.003500000000000000000000000001,\n");
	assert_has(csv, "2027-01-15T08:00:00Z,2027-01-15T09:00:00Z,true,instance,p1,vm-a,"
			"1.166666666666666666666666667,hour,0.02333333333333333333333333334,"
			"flavor=m1.small;name=web\n");
	/* public traffic of both taps (private left out): 6 GiB, over the threshold of 5 */
	assert_has(csv, "2027-01-15T08:00:00Z,2027-01-15T09:00:00Z,true,net.public,p1,vm-a,6,GiB,"
			"0.432,\n");
	/* the second period: resized, priced as m1.huge; open (hv2 is behind, not yet gone) */
	assert_has(csv, "2027-01-15T09:00:00Z,2027-01-15T10:00:00Z,false,instance,p1,vm-a,1,hour,0.5,"
			"flavor=m1.huge;name=web\n");
	assert_has(csv, "2027-01-15T09:00:00Z,2027-01-15T10:00:00Z,false,net.public,p1,vm-a,6,GiB,"
			"0.432,\n");
	/* the host's own energy under the host id, without the remainder series, no project */
	assert_has(csv, "2027-01-15T08:00:00Z,2027-01-15T09:00:00Z,true,host.energy,,hv1,6,Wh,1.8,\n");
	/* vm-b: 6 s of CPU */
	assert_has(csv, "2027-01-15T08:00:00Z,2027-01-15T09:00:00Z,true,cpu,p2,vm-b,"
			"0.001666666666666666666666666667,core-hour,0.00005000000000000000000000000001,\n");
	/* no instance record for vm-b: it carried no vcpu.alloc */
	assert_null(strstr(csv, "instance,p2"));
	free(csv);
	report_free(r);
}

static void test_closing_and_filters(void **state)
{
	struct fx *x = *state;
	struct report_opts o = { .from_s = INT64_MIN, .to_s = INT64_MAX, .now_ns = NOW,
				 .close_wait_s = 2 * P };
	struct report *r = build(x, &o);

	/* closed periods only: the first one (hv2 holds the second open) */
	assert_int_equal(r->n_records, 5);
	for (size_t i = 0; i < r->n_records; i++) {
		assert_true(r->records[i].closed);
		assert_int_equal(r->records[i].begin_s, B0);
	}
	assert_int_equal(r->first_open_s, B0 + P);
	assert_string_equal(r->behind_host, "hv2");
	report_free(r);

	/* close_wait 30 s: hv2, silent since 60 s, counts as gone: both closed */
	o.close_wait_s = 30;
	r = build(x, &o);
	assert_int_equal(r->n_records, 9);
	assert_int_equal(r->first_open_s, INT64_MAX);
	report_free(r);

	/* --project, --from/--to (periods that begin in [from, to)) */
	o.project = "p2";
	r = build(x, &o);
	assert_int_equal(r->n_records, 1);
	assert_string_equal(r->records[0].resource, "vm-b");
	report_free(r);
	o.project = NULL;
	o.from_s = B0 + 1;
	r = build(x, &o);
	assert_int_equal(r->n_records, 4);
	report_free(r);
	o.from_s = B0;
	o.to_s = B0 + P;
	r = build(x, &o);
	assert_int_equal(r->n_records, 5);
	report_free(r);
	/* a project with nothing, and a store range with nothing */
	o.project = "nobody";
	r = build(x, &o);
	assert_int_equal(r->n_records, 0);
	report_free(r);
	/* the series no service uses are counted: private traffic, the remainder, vm-b's... */
	o.project = NULL;
	r = build(x, &o);
	assert_int_equal(r->n_series, 10);
	assert_int_equal(r->n_unmapped, 2); /* net.tx.bytes class=private, energy part=remainder */
	report_free(r);
}

static void test_json(void **state)
{
	struct fx *x = *state;
	struct report_opts o = { .from_s = INT64_MIN, .to_s = INT64_MAX, .now_ns = NOW,
				 .close_wait_s = 2 * P, .project = "p2" };
	struct report *r = build(x, &o);
	char *json = render(r, 1);

	assert_string_equal(json,
		"[\n{\"begin\": \"2027-01-15T08:00:00Z\", \"end\": \"2027-01-15T09:00:00Z\", "
		"\"closed\": true, \"type\": \"cpu\", \"unit\": \"core-hour\", "
		"\"qty\": \"0.001666666666666666666666666667\", "
		"\"price\": \"0.00005000000000000000000000000001\", "
		"\"groupby\": {\"project\": \"p2\", \"resource\": \"vm-b\"}, \"metadata\": {}}\n]\n");
	free(json);
	report_free(r);
	o.project = "nobody";
	r = build(x, &o);
	json = render(r, 1);
	assert_string_equal(json, "[]\n");
	free(json);
	report_free(r);
}

static void test_table(void **state)
{
	struct fx *x = *state;
	struct report_opts o = { .from_s = INT64_MIN, .to_s = INT64_MAX, .include_open = true,
				 .now_ns = NOW, .close_wait_s = 2 * P };
	struct report *r = build(x, &o);
	char *t = render(r, 2);

	assert_has(t, "PROJECT  VM   PERIOD                 SERVICE             QTY  UNIT           PRICE\n");
	assert_has(t, "-        hv1  2027-01-15T08:00:00Z   host.energy           6  Wh               1.8\n");
	assert_has(t, "p1       web  2027-01-15T08:00:00Z   cpu            0.116667  core-hour     0.0035\n");
	assert_has(t, "                                     instance        1.16667  hour       0.0233333\n");
	/* the open period is starred, and explained below */
	assert_has(t, "2027-01-15T09:00:00Z*");
	assert_has(t, "* the period is still open");
	/* totals per project and service, per project, overall */
	assert_has(t, "TOTALS\n");
	assert_has(t, "PROJECT         SERVICE                QTY  UNIT          PRICE\n");
	assert_has(t, "-               host.energy             12  Wh              3.6\n");
	assert_has(t, "p1              instance           2.16667  hour       0.523333\n");
	assert_has(t, "p1              net.public              12  GiB           0.864\n");
	assert_has(t, "p1              (all services)                          1.39383\n");
	assert_has(t, "(all projects)                                          4.99388\n");
	free(t);
	report_free(r);
	/* nothing in range: said so */
	o.project = "nobody";
	r = build(x, &o);
	t = render(r, 2);
	assert_has(t, "no rated usage in this range");
	free(t);
	report_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_records_csv),
		cmocka_unit_test(test_closing_and_filters),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_table),
	};

	return cmocka_run_group_tests_name("rater_report", tests, setup, teardown);
}
