/* Fuzz target: the canonical frame decoder (frames come from the ledger and,
 * inside batches, from the network). A decoded frame must re-encode. */
// SOURCES: wire/frame.c wire/varint.c wire/metric.c
// LIBS: -lmbedcrypto
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct frame f;
	uint8_t *out;
	size_t len;

	frame_init(&f);
	if (frame_decode(&f, data, size) == 0) {
		frame_canonicalize(&f);
		if (frame_encode(&f, &out, &len) != 0)
			abort();
		free(out);
	}
	frame_free(&f);
	return 0;
}
