/* Fuzz target: the batch decoder and chain check, the rater's first contact
 * with bytes from the network. */
// SOURCES: wire/batch.c wire/frame.c wire/varint.c wire/metric.c
// LIBS: -lmbedcrypto
#include <stdint.h>
#include <stdlib.h>

#include "wire/batch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct batch b;
	size_t bad;

	batch_init(&b);
	if (batch_decode(&b, data, size) == 0)
		(void)batch_chain_check(&b, NULL, &bad);
	batch_free(&b);
	return 0;
}
