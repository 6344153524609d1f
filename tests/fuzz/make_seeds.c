/* Writes valid seed inputs for the binary fuzz targets:
 *   make_seeds DIR   writes DIR/fuzz_frame/frameN.bin, DIR/fuzz_batch/batchN.bin
 *                    and DIR/fuzz_msg/streamN.bin
 * Run by hand when the formats change (the text formats' seeds are the
 * committed sample files and small files in tests/fuzz/corpus/); the outputs
 * are committed. Build and run it with the project's libraries:
 *   make && cc -std=gnu11 -D_GNU_SOURCE -I. -o build/make_seeds tests/fuzz/make_seeds.c \
 *      build/libhvwire.a -lmbedtls -lmbedx509 -lmbedcrypto && build/make_seeds tests/fuzz/corpus */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire/batch.h"
#include "wire/msg.h"

static int write_file(const char *dir, const char *name, const uint8_t *p, size_t n)
{
	char path[512];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "wb");
	if (!fp || fwrite(p, 1, n, fp) != n) {
		perror(path);
		return 1;
	}
	return fclose(fp) != 0;
}

/* Appends one message (length prefix and @body) to @out at *@n. */
static void stream_put(uint8_t *out, size_t *n, const uint8_t *body, size_t len)
{
	msg_header_encode(out + *n, len);
	memcpy(out + *n + MSG_HDR_LEN, body, len);
	*n += MSG_HDR_LEN + len;
}

/* fuzz_msg inputs: a chunk-size byte, then acks as the rater sends them (and a batch). */
static int msg_seeds(const char *root, const uint8_t *batch, size_t batch_len)
{
	static const struct ack acks[] = {
		{ ACK_STORED, 9 }, { ACK_GAP, 6 }, { ACK_REFUSED, 0 }, { ACK_STORED, UINT64_MAX },
	};
	uint8_t out[4096], ack[ACK_MAX_LEN];
	char dir[400];
	size_t n;
	int len, rc = 0;

	snprintf(dir, sizeof(dir), "%s/fuzz_msg", root);
	for (int s = 0; s < 3; s++) {
		char name[32];

		n = 0;
		out[n++] = (uint8_t)(s * 97 + 3);
		for (size_t i = 0; i < sizeof(acks) / sizeof(acks[0]); i++) {
			if (s == 1 && i == 1 && n + MSG_HDR_LEN + batch_len < sizeof(out))
				stream_put(out, &n, batch, batch_len);
			if ((len = ack_encode(&acks[(i + (size_t)s) % 4], ack, sizeof(ack))) < 0)
				return 1;
			stream_put(out, &n, ack, (size_t)len);
		}
		snprintf(name, sizeof(name), "stream%d.bin", s);
		rc |= write_file(dir, name, out, n);
	}
	return rc;
}

int main(int argc, char **argv)
{
	struct frame f[3];
	uint8_t prev[HV_HASH_LEN] = { 0 }, *buf, sig[72];
	size_t len;
	char dir[400], name[64];
	int rc = 0;

	if (argc != 2)
		return 2;
	memset(sig, 0x30, sizeof(sig));
	for (int i = 0; i < 3; i++) {
		struct frame_resource r = { 0 };

		frame_init(&f[i]);
		f[i].seq = 7 + (uint64_t)i;
		f[i].start_ns = 1795600000000000000ll + i * 10000000000ll;
		f[i].end_ns = f[i].start_ns + 10000000000ll;
		memcpy(f[i].prev_hash, prev, HV_HASH_LEN);
		strcpy(r.resource, "6a4c1f0e-2b7d-4e39-9a51-0c8d3e7f1b24");
		frame_attr_set(&r, "name", "vm-a");
		frame_attr_set(&r, "project", "demo");
		if (i == 0)
			frame_resource_add(&f[i], &r);
		frame_delta_add(&f[i], r.resource, "cpu.time", "", 1000000000 + i);
		frame_delta_add(&f[i], r.resource, "net.tx.bytes", "class=public;device=tap0", 1500);
		frame_delta_add(&f[i], "host", "energy", "part=remainder", -3);
		frame_canonicalize(&f[i]);
		if (frame_encode(&f[i], &buf, &len) || frame_hash(buf, len, f[i].hash))
			return 1;
		memcpy(prev, f[i].hash, HV_HASH_LEN);
		snprintf(dir, sizeof(dir), "%s/fuzz_frame", argv[1]);
		snprintf(name, sizeof(name), "frame%d.bin", i);
		rc |= write_file(dir, name, buf, len);
		free(buf);
	}
	snprintf(dir, sizeof(dir), "%s/fuzz_batch", argv[1]);
	for (size_t n = 1; n <= 3; n++) {
		if (batch_encode("hv-01", f, n, sig, sizeof(sig), &buf, &len))
			return 1;
		snprintf(name, sizeof(name), "batch%zu.bin", n);
		rc |= write_file(dir, name, buf, len);
		if (n == 1)
			rc |= msg_seeds(argv[1], buf, len);
		free(buf);
	}
	for (int i = 0; i < 3; i++)
		frame_free(&f[i]);
	return rc;
}
