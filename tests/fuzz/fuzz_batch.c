/* Fuzz target: the batch decoder and chain check, the rater's first contact
 * with bytes from the network. Its frames, put in canonical order (as the
 * agent's store keeps them), must encode to bytes that decode and encode to
 * themselves when the encoder takes them. */
// SOURCES: wire/*.c
// LIBS: -lmbedtls -lmbedx509 -lmbedcrypto
// MAX_LEN: 65536
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz.h"
#include "wire/batch.h"

static int batch_input(const uint8_t *data, size_t size)
{
	struct batch b, b2;
	uint8_t *out = NULL, *again = NULL;
	size_t bad, len, len2;

	batch_init(&b);
	batch_init(&b2);
	if (batch_decode(&b, data, size) != 0)
		goto out;
	FUZZ_PARSED();
	(void)batch_chain_check(&b, NULL, &bad);
	for (size_t i = 0; i < b.n_frames; i++)
		frame_canonicalize(&b.frames[i]);
	if (batch_encode(b.host_id, b.frames, b.n_frames, b.sig, b.sig_len, &out, &len) != 0)
		goto out;
	FUZZ_CHECK(batch_decode(&b2, out, len) == 0);
	FUZZ_CHECK(b2.n_frames == b.n_frames && strcmp(b2.host_id, b.host_id) == 0);
	FUZZ_CHECK(batch_encode(b2.host_id, b2.frames, b2.n_frames, b2.sig, b2.sig_len, &again,
				&len2) == 0);
	FUZZ_CHECK(len2 == len && memcmp(out, again, len) == 0);
out:
	free(again);
	free(out);
	batch_free(&b2);
	batch_free(&b);
	return 0;
}

FUZZ_ENTRY(batch_input)
