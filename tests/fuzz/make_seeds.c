/* Writes valid seed inputs for the frame and batch fuzz targets:
 *   make_seeds DIR   writes DIR/fuzz_frame/frameN.bin and DIR/fuzz_batch/batchN.bin
 * Run by hand when the formats change; the outputs are committed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire/batch.h"

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
		free(buf);
	}
	for (int i = 0; i < 3; i++)
		frame_free(&f[i]);
	return rc;
}
