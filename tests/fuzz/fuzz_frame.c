/* Fuzz target: the canonical frame decoder (frames come from the ledger and,
 * inside batches, from the network). A decoded frame must re-encode, and
 * its encoding must decode to a frame that encodes to the same bytes. */
// SOURCES: wire/*.c
// LIBS: -lmbedtls -lmbedx509 -lmbedcrypto
// MAX_LEN: 65536
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz.h"
#include "wire/frame.h"

static int frame_input(const uint8_t *data, size_t size)
{
	struct frame f, g;
	uint8_t *out = NULL, *again = NULL;
	size_t len, len2;

	frame_init(&f);
	frame_init(&g);
	if (frame_decode(&f, data, size) != 0)
		goto out;
	FUZZ_PARSED();
	frame_canonicalize(&f);
	FUZZ_CHECK(frame_encode(&f, &out, &len) == 0);
	FUZZ_CHECK(frame_decode(&g, out, len) == 0);
	frame_canonicalize(&g);
	FUZZ_CHECK(frame_encode(&g, &again, &len2) == 0);
	FUZZ_CHECK(len2 == len && memcmp(out, again, len) == 0);
out:
	free(again);
	free(out);
	frame_free(&g);
	frame_free(&f);
	return 0;
}

FUZZ_ENTRY(frame_input)
