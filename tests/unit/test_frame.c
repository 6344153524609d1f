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
		cmocka_unit_test(test_merge_sums_counters),
		cmocka_unit_test(test_many_deltas_index),
		cmocka_unit_test(test_metric_format),
	};
	return cmocka_run_group_tests_name("frame", tests, NULL, NULL);
}
