/* Batch codec: frames survive the trip with their chain; tampering, every
 * truncation, a wrong version and lying counts are refused; report the
 * encoded size per changed counter for a realistic frame. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include "wire/batch.h"
#include "wire/varint.h"

#define N_FRAMES 6
#define N_VMS 20

/* Frames as the agent's store makes them: canonical, hashed, chained. */
static void make_chain(struct frame *fr, size_t n, size_t *n_counters)
{
	uint8_t prev[HV_HASH_LEN] = { 0 };

	*n_counters = 0;
	for (size_t i = 0; i < n; i++) {
		struct frame *f = &fr[i];
		uint8_t *bytes;
		size_t len;

		frame_init(f);
		f->seq = 100 + i;
		f->start_ns = 1795600000000000000ll + (int64_t)i * 10000000000ll;
		f->end_ns = f->start_ns + 10000000000ll;
		memcpy(f->prev_hash, prev, HV_HASH_LEN);
		if (i == 0) {
			struct frame_resource r = { 0 };

			strcpy(r.resource, "1b4e28ba-2fa1-11d2-883f-0016d3cca427");
			frame_attr_set(&r, "name", "web-1");
			frame_attr_set(&r, "project", "3f2a");
			frame_resource_add(f, &r);
		}
		for (int v = 0; v < N_VMS; v++) {
			char res[HV_ID_MAX];

			snprintf(res, sizeof(res), "1b4e28ba-2fa1-11d2-883f-0016d3cc%04d", v);
			frame_delta_add(f, res, "cpu.time", "", 1234567 + v * 1000 + (int64_t)i);
			frame_delta_add(f, res, "cpu.time.vcpu", "", 1034567 + v * 1000);
			frame_delta_add(f, res, "vcpu.alloc", "", 20000);
			frame_delta_add(f, res, "memory.alloc", "", 5120000);
			frame_delta_add(f, res, "net.tx.bytes", "class=public;device=tap0", 1500 * (v + 1));
			frame_delta_add(f, res, "disk.write.bytes", "device=vda", v ? 65536 : 0);
		}
		frame_canonicalize(f);
		*n_counters += f->n_delta;
		assert_int_equal(frame_encode(f, &bytes, &len), 0);
		assert_int_equal(frame_hash(bytes, len, f->hash), 0);
		memcpy(prev, f->hash, HV_HASH_LEN);
		free(bytes);
	}
}

static void test_roundtrip_and_chain(void **state)
{
	struct frame fr[N_FRAMES];
	struct batch b;
	uint8_t *buf, zero[HV_HASH_LEN] = { 0 }, sig[64];
	size_t len, bad, counters;

	memset(sig, 0xab, sizeof(sig));
	make_chain(fr, N_FRAMES, &counters);
	assert_int_equal(batch_encode("hv-01", fr, N_FRAMES, sig, sizeof(sig), &buf, &len), 0);
	print_message("batch: %zu frames, %zu changed counters, %zu bytes: %.2f bytes per counter "
		      "(incl. %d-byte hashes and names)\n", (size_t)N_FRAMES, counters, len,
		      (double)len / counters, HV_HASH_LEN);
	batch_init(&b);
	assert_int_equal(batch_decode(&b, buf, len), 0);
	assert_string_equal(b.host_id, "hv-01");
	assert_int_equal(b.n_frames, N_FRAMES);
	assert_int_equal(b.sig_len, sizeof(sig));
	for (size_t i = 0; i < N_FRAMES; i++) {
		assert_int_equal(b.frames[i].seq, fr[i].seq);
		assert_int_equal(b.frames[i].start_ns, fr[i].start_ns);
		assert_int_equal(b.frames[i].end_ns, fr[i].end_ns);
		assert_int_equal(b.frames[i].n_delta, fr[i].n_delta);
		assert_memory_equal(b.frames[i].hash, fr[i].hash, HV_HASH_LEN);
	}
	assert_string_equal(frame_attr_get(&b.frames[0].res[0], "name"), "web-1");
	assert_int_equal(batch_chain_check(&b, zero, &bad), 0);
	/* a receiver whose head is elsewhere refuses the first frame */
	assert_int_equal(batch_chain_check(&b, fr[1].hash, &bad), -EBADMSG);
	assert_int_equal(bad, 0);
	/* a value changed in transit breaks that frame's hash */
	b.frames[3].delta[5].value++;
	assert_int_equal(batch_chain_check(&b, zero, &bad), -EBADMSG);
	assert_int_equal(bad, 3);
	batch_free(&b);
	free(buf);
	for (size_t i = 0; i < N_FRAMES; i++)
		frame_free(&fr[i]);
}

static void test_refuses_malformed(void **state)
{
	struct frame fr[2];
	struct batch b;
	uint8_t *buf;
	size_t len, counters;

	make_chain(fr, 2, &counters);
	assert_int_equal(batch_encode("hv-01", fr, 2, NULL, 0, &buf, &len), 0);
	batch_init(&b);
	for (size_t n = 0; n < len; n++)
		assert_int_not_equal(batch_decode(&b, buf, n), 0);
	for (size_t i = 0; i < len; i++) { /* never crashes, never leaks */
		buf[i] ^= 0x5a;
		(void)batch_decode(&b, buf, len);
		batch_free(&b);
		buf[i] ^= 0x5a;
	}
	buf[3] = 2;
	assert_int_equal(batch_decode(&b, buf, len), -EPROTO);
	free(buf);
	/* frames that are not consecutive are not a batch */
	fr[1].seq = 500;
	assert_int_equal(batch_encode("hv-01", fr, 2, NULL, 0, &buf, &len), -EINVAL);
	for (size_t i = 0; i < 2; i++)
		frame_free(&fr[i]);
}

static void test_refuses_lying_counts(void **state)
{
	struct wbuf w;
	struct batch b;
	uint8_t *buf;
	size_t len;

	wbuf_init(&w);
	wbuf_put(&w, "HVB", 3);
	wbuf_u8(&w, BATCH_VERSION);
	wbuf_str(&w, "hv-01");
	wbuf_uvarint(&w, 1ull << 40); /* a trillion strings in a few bytes */
	assert_int_equal(wbuf_finish(&w, &buf, &len), 0);
	batch_init(&b);
	assert_int_equal(batch_decode(&b, buf, len), -EBADMSG);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_and_chain),
		cmocka_unit_test(test_refuses_malformed),
		cmocka_unit_test(test_refuses_lying_counts),
	};
	return cmocka_run_group_tests_name("batch", tests, NULL, NULL);
}
