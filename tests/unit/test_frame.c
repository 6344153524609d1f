/* Frame codec: canonical bytes round-trip, the decoder refuses every malformed
 * input without crashing, merging keeps totals. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include "wire/frame.h"
#include "wire/metric.h"
#include "wire/varint.h"

static void build(struct frame *f)
{
	struct frame_resource r = { 0 };

	frame_init(f);
	f->seq = 42;
	f->start_ns = 1700000000000000000;
	f->end_ns = 1700000010000000000;
	strcpy(r.resource, "0c6e1c02-3c52-4bb8-9b0b-6f5f3e4c9d01");
	assert_int_equal(frame_attr_set(&r, "project", "p1"), 0);
	assert_int_equal(frame_attr_set(&r, "name", "vm-a"), 0);
	assert_int_equal(frame_resource_add(f, &r), 0);
	assert_int_equal(frame_delta_add(f, r.resource, "cpu.time", "", 1500000000), 0);
	assert_int_equal(frame_delta_add(f, r.resource, "cpu.time", "", 5), 0);
	assert_int_equal(frame_delta_add(f, r.resource, "net.tx.bytes", "class=public;device=tap0", 1234), 0);
	assert_int_equal(frame_delta_add(f, "host", "energy", "part=remainder", -1), 0);
	assert_int_equal(frame_delta_add(f, r.resource, "memory.resident", "", 100), 0);
	assert_int_equal(frame_delta_add(f, r.resource, "memory.resident", "", 90), 0);
	assert_int_equal(frame_delta_add(f, r.resource, "disk.read.bytes", "device=vda", 0), 0);
}

static void test_roundtrip(void **state)
{
	struct frame f, g;
	uint8_t *buf, *buf2;
	size_t len, len2;

	build(&f);
	frame_canonicalize(&f);
	assert_int_equal(f.n_delta, 4); /* the zero counter delta is dropped */
	assert_int_equal(frame_encode(&f, &buf, &len), 0);
	frame_init(&g);
	assert_int_equal(frame_decode(&g, buf, len), 0);
	assert_int_equal(g.seq, 42);
	assert_int_equal(g.n_delta, 4);
	assert_int_equal(frame_delta_find(&g, f.res[0].resource, "cpu.time", "")->value, 1500000005);
	assert_int_equal(frame_delta_find(&g, f.res[0].resource, "memory.resident", "")->value, 100);
	assert_int_equal(frame_delta_find(&g, "host", "energy", "part=remainder")->value, -1);
	assert_string_equal(frame_attr_get(&g.res[0], "project"), "p1");
	/* canonical: re-encoding the decoded frame gives the same bytes */
	assert_int_equal(frame_encode(&g, &buf2, &len2), 0);
	assert_int_equal(len, len2);
	assert_memory_equal(buf, buf2, len);
	free(buf);
	free(buf2);
	frame_free(&f);
	frame_free(&g);
}

static void test_decode_rejects_every_truncation_and_flip(void **state)
{
	struct frame f, g;
	uint8_t *buf;
	size_t len;

	build(&f);
	frame_canonicalize(&f);
	assert_int_equal(frame_encode(&f, &buf, &len), 0);
	frame_init(&g);
	for (size_t n = 0; n < len; n++)
		assert_int_not_equal(frame_decode(&g, buf, n), 0);
	/* a wrong version is told apart from garbage */
	buf[3] = 99;
	assert_int_equal(frame_decode(&g, buf, len), -EPROTO);
	buf[3] = FRAME_VERSION;
	/* flipping any byte never crashes (the result may still decode) */
	for (size_t i = 0; i < len; i++) {
		buf[i] ^= 0xff;
		(void)frame_decode(&g, buf, len);
		buf[i] ^= 0xff;
	}
	free(buf);
	frame_free(&f);
	frame_free(&g);
}

static void test_decode_refuses_lying_counts(void **state)
{
	struct wbuf w;
	struct frame g;
	uint8_t *buf, zero[HV_HASH_LEN] = { 0 };
	size_t len;

	wbuf_init(&w);
	wbuf_put(&w, "HVF", 3);
	wbuf_u8(&w, FRAME_VERSION);
	wbuf_u64be(&w, 1);
	wbuf_u64be(&w, 0);
	wbuf_u64be(&w, 1);
	wbuf_u32be(&w, 0);
	wbuf_u32be(&w, 1);
	wbuf_str(&w, "");
	wbuf_put(&w, zero, sizeof(zero));
	wbuf_uvarint(&w, 0);
	wbuf_uvarint(&w, UINT64_MAX / 2); /* billions of deltas in a few bytes */
	assert_int_equal(wbuf_finish(&w, &buf, &len), 0);
	frame_init(&g);
	assert_int_equal(frame_decode(&g, buf, len), -EBADMSG);
	free(buf);
	frame_free(&g);
}

/* A frame head up to prev_hash with no announcements, for hand-made delta sections. */
static void head(struct wbuf *w)
{
	uint8_t zero[HV_HASH_LEN] = { 0 };

	wbuf_init(w);
	wbuf_put(w, "HVF", 3);
	wbuf_u8(w, FRAME_VERSION);
	wbuf_u64be(w, 7);
	wbuf_u64be(w, 100);
	wbuf_u64be(w, 200);
	wbuf_u32be(w, 0);
	wbuf_u32be(w, 1);
	wbuf_str(w, "");
	wbuf_put(w, zero, sizeof(zero));
	wbuf_uvarint(w, 0); /* no announcements */
}

/* Decodes a hand-made frame: names[], then one group per resource of (m, l, v) triples. */
static int decode_made(const char *const *names, size_t n_names, const char *const *res,
		       const int *counts, const uint64_t *triples, size_t n_res)
{
	struct wbuf w;
	struct frame g;
	uint8_t *buf;
	size_t len, t = 0;
	int err;

	head(&w);
	wbuf_uvarint(&w, n_names);
	for (size_t i = 0; i < n_names; i++)
		wbuf_str(&w, names[i]);
	wbuf_uvarint(&w, n_res);
	for (size_t g_i = 0; g_i < n_res; g_i++) {
		wbuf_str(&w, res[g_i]);
		wbuf_uvarint(&w, (uint64_t)counts[g_i]);
		for (int k = 0; k < counts[g_i]; k++, t += 3) {
			wbuf_uvarint(&w, triples[t]);
			wbuf_uvarint(&w, triples[t + 1]);
			wbuf_svarint(&w, (int64_t)triples[t + 2]);
		}
	}
	assert_int_equal(wbuf_finish(&w, &buf, &len), 0);
	frame_init(&g);
	err = frame_decode(&g, buf, len);
	free(buf);
	frame_free(&g);
	return err;
}

/* Version 2 has one encoding per frame: the decoder refuses every other spelling. */
static void test_decode_refuses_non_canonical(void **state)
{
	const char *ok_names[] = { "", "cpu.time", "net.tx.bytes" };
	const char *unsorted[] = { "cpu.time", "", "net.tx.bytes" };
	const char *two_res[] = { "a", "b" }, *res_desc[] = { "b", "a" }, *res_same[] = { "a", "a" };
	const int one[] = { 1, 1 }, two[] = { 2 }, none[] = { 0 };
	/* (metric, labels, value) */
	const uint64_t good[] = { 1, 0, 5, 2, 0, 6 };
	const uint64_t in_order[] = { 1, 0, 5, 2, 0, 6 }, reversed[] = { 2, 0, 6, 1, 0, 5 };
	const uint64_t dup[] = { 1, 0, 5, 1, 0, 6 }, out_of_range[] = { 1, 0, 5, 9, 0, 6 };

	/* the reference: two resources, one delta each, all names used */
	assert_int_equal(decode_made(ok_names, 3, two_res, one, good, 2), 0);
	assert_int_equal(decode_made(ok_names, 3, (const char *const[]){ "a" }, two, in_order, 1), 0);
	/* names out of order, a name twice, a name nobody uses */
	assert_int_equal(decode_made(unsorted, 3, two_res, one, good, 2), -EBADMSG);
	assert_int_equal(decode_made((const char *const[]){ "", "cpu.time", "cpu.time", "net.tx.bytes" },
				     4, two_res, one, (const uint64_t[]){ 1, 0, 5, 3, 0, 6 }, 2), -EBADMSG);
	assert_int_equal(decode_made((const char *const[]){ "", "a.unused", "cpu.time", "net.tx.bytes" },
				     4, two_res, one, (const uint64_t[]){ 2, 0, 5, 3, 0, 6 }, 2), -EBADMSG);
	/* groups out of order or repeated, an empty group */
	assert_int_equal(decode_made(ok_names, 3, res_desc, one, good, 2), -EBADMSG);
	assert_int_equal(decode_made(ok_names, 3, res_same, one, good, 2), -EBADMSG);
	assert_int_equal(decode_made(ok_names, 3, (const char *const[]){ "a" }, none, good, 1), -EBADMSG);
	/* deltas out of order, repeated, or naming past the table */
	assert_int_equal(decode_made(ok_names, 3, (const char *const[]){ "a" }, two, reversed, 1), -EBADMSG);
	assert_int_equal(decode_made(ok_names, 3, (const char *const[]){ "a" }, two, dup, 1), -EBADMSG);
	assert_int_equal(decode_made(ok_names, 3, (const char *const[]){ "a" }, two, out_of_range, 1), -EBADMSG);
}

/* Many resources and metrics: round trip, order independent of insertion, ~7 bytes a delta. */
static void test_large_frame_compact_and_order_free(void **state)
{
	struct frame f, g, h;
	const struct metric_def *defs;
	size_t n_defs;
	uint8_t *a, *b;
	size_t la, lb;
	struct frame_head hd;

	defs = metric_all(&n_defs);
	frame_init(&f);
	frame_init(&g);
	for (int pass = 0; pass < 2; pass++) {
		struct frame *x = pass ? &g : &f;

		x->seq = 9;
		x->end_ns = 10;
		for (int i = 0; i < 200 * 15; i++) {
			/* pass 0 adds resource-major, pass 1 metric-major and backwards */
			int k = pass ? 200 * 15 - 1 - i : i;
			int r = pass ? k % 200 : k / 15, m = pass ? k / 200 : k % 15;
			char res[HV_ID_MAX];

			snprintf(res, sizeof(res), "%08x-7d3c-4e1a-9b2f-%012x", (unsigned)(r * 2654435761u), r);
			assert_int_equal(frame_delta_add(x, res, defs[m].name, m % 3 ? "" : "class=public",
							 1000000 + r * 15 + m), 0);
		}
		frame_canonicalize(x);
	}
	assert_int_equal(frame_encode(&f, &a, &la), 0);
	assert_int_equal(frame_encode(&g, &b, &lb), 0);
	assert_int_equal(la, lb);
	assert_memory_equal(a, b, la);
	assert_true(la < 3000 * 8 + 200 * 40);
	frame_init(&h);
	assert_int_equal(frame_decode(&h, a, la), 0);
	assert_int_equal(h.n_delta, 3000);
	assert_int_equal(frame_head_decode(a, la, &hd), 0);
	assert_int_equal(hd.seq, 9);
	assert_int_equal(hd.end_ns, 10);
	assert_int_equal(hd.merged, 1);
	a[3] = 1; /* a version 1 frame is told apart */
	assert_int_equal(frame_head_decode(a, la, &hd), -EPROTO);
	free(a);
	free(b);
	frame_free(&f);
	frame_free(&g);
	frame_free(&h);
}

static void test_merge_sums_counters(void **state)
{
	struct frame a, b;

	frame_init(&a);
	frame_init(&b);
	a.seq = 10;
	a.start_ns = 0;
	a.end_ns = 10;
	b.seq = 11;
	b.start_ns = 10;
	b.end_ns = 30;
	assert_int_equal(frame_delta_add(&a, "x", "cpu.time", "", 7), 0);
	assert_int_equal(frame_delta_add(&b, "x", "cpu.time", "", 8), 0);
	assert_int_equal(frame_delta_add(&b, "y", "net.rx.bytes", "class=default", 3), 0);
	assert_int_equal(frame_delta_add(&a, "x", "memory.resident", "", 50), 0);
	assert_int_equal(frame_delta_add(&b, "x", "memory.resident", "", 40), 0);
	assert_int_equal(frame_delta_add(&a, "host", "power", "", 100000), 0);
	assert_int_equal(frame_delta_add(&b, "host", "power", "", 400000), 0);
	assert_int_equal(frame_merge(&a, &b), 0);
	assert_int_equal(frame_delta_find(&a, "x", "cpu.time", "")->value, 15);
	assert_int_equal(frame_delta_find(&a, "y", "net.rx.bytes", "class=default")->value, 3);
	assert_int_equal(frame_delta_find(&a, "x", "memory.resident", "")->value, 50);
	/* duration-weighted mean: (100000*10 + 400000*20) / 30 */
	assert_int_equal(frame_delta_find(&a, "host", "power", "")->value, 300000);
	assert_int_equal(a.merged, 2);
	assert_true(a.flags & FRAME_MERGED);
	assert_int_equal(a.end_ns, 30);
	b.seq = 20; /* not adjacent */
	assert_int_equal(frame_merge(&a, &b), -EINVAL);
	frame_free(&a);
	frame_free(&b);
}

static void test_many_deltas_index(void **state)
{
	struct frame f;
	char res[HV_ID_MAX];

	frame_init(&f);
	for (int round = 0; round < 2; round++)
		for (int i = 0; i < 5000; i++) {
			snprintf(res, sizeof(res), "vm-%d", i);
			assert_int_equal(frame_delta_add(&f, res, "cpu.time", "", i), 0);
		}
	assert_int_equal(f.n_delta, 5000);
	assert_int_equal(frame_delta_find(&f, "vm-4321", "cpu.time", "")->value, 2 * 4321);
	assert_null(frame_delta_find(&f, "vm-5000", "cpu.time", ""));
	frame_free(&f);
}

static void test_metric_format(void **state)
{
	char buf[32];

	assert_int_equal(metric_value_format(metric_lookup("energy"), 12345, buf, sizeof(buf)), 6);
	assert_string_equal(buf, "12.345");
	metric_value_format(metric_lookup("energy"), -5, buf, sizeof(buf));
	assert_string_equal(buf, "-0.005");
	metric_value_format(metric_lookup("cpu.time"), 42, buf, sizeof(buf));
	assert_string_equal(buf, "42");
	scaled_format(INT64_MIN, 3, buf, sizeof(buf));
	assert_string_equal(buf, "-9223372036854775.808");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_decode_rejects_every_truncation_and_flip),
		cmocka_unit_test(test_decode_refuses_lying_counts),
		cmocka_unit_test(test_decode_refuses_non_canonical),
		cmocka_unit_test(test_large_frame_compact_and_order_free),
		cmocka_unit_test(test_merge_sums_counters),
		cmocka_unit_test(test_many_deltas_index),
		cmocka_unit_test(test_metric_format),
	};
	return cmocka_run_group_tests_name("frame", tests, NULL, NULL);
}
