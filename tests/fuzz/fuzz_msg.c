/* Fuzz target: the uplink's message framing (wire/msg.c) as both ends run
 * it: a stream of length-prefixed messages fed to msg_reader in chunks of
 * the sizes the input's first bytes choose (as TLS records would cut it),
 * each complete body read as an ack (what the agent does with the rater's
 * answers). The reader never hands out room past the declared end, every
 * body is exactly as long as declared, and an ack that decodes encodes
 * back to the same bytes. */
// SOURCES: wire/*.c
// LIBS: -lmbedtls -lmbedx509 -lmbedcrypto
// MAX_LEN: 16384
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz.h"
#include "wire/msg.h"

#define MSG_FUZZ_MAX_BODY (1u << 20) /* a small limit, so refusals by size are reached too */

static void msg_ack_check(const uint8_t *body, size_t len)
{
	uint8_t again[ACK_MAX_LEN];
	struct ack a;
	int n;

	if (ack_decode(&a, body, len) != 0)
		return;
	FUZZ_PARSED();
	FUZZ_CHECK(a.status <= ACK_REFUSED);
	n = ack_encode(&a, again, sizeof(again));
	FUZZ_CHECK(n > 0 && (size_t)n == len && memcmp(again, body, len) == 0);
}

static int msg_input(const uint8_t *data, size_t size)
{
	struct msg_reader r;
	size_t pos, chunk_seed;

	if (size < 2)
		return 0;
	/* first byte: the chunk sizes (1..256 bytes, varying); the rest: the stream */
	chunk_seed = data[0];
	pos = 1;
	msg_reader_init(&r, MSG_FUZZ_MAX_BODY);
	while (pos < size) {
		size_t want, got;
		uint8_t *p;
		int rc;

		if (msg_reader_want(&r, &p, &want) != 0)
			break;
		FUZZ_CHECK(want > 0);
		if (r.hdr_got == MSG_HDR_LEN)
			FUZZ_CHECK(r.body_got + want <= r.body_len && r.body_got + want <= r.body_cap);
		got = chunk_seed % 256 + 1;
		chunk_seed = chunk_seed * 131 + 7;
		if (got > want)
			got = want;
		if (got > size - pos)
			got = size - pos;
		memcpy(p, data + pos, got);
		pos += got;
		rc = msg_reader_got(&r, got);
		if (rc < 0) {
			FUZZ_CHECK(rc == -EBADMSG || rc == -E2BIG);
			break;
		}
		if (rc == 1) {
			FUZZ_CHECK(r.body_got == r.body_len && r.body_len > 0 &&
				   r.body_len <= MSG_FUZZ_MAX_BODY);
			msg_ack_check(r.body, r.body_len);
			msg_reader_reset(&r);
			FUZZ_CHECK(!msg_reader_started(&r));
		}
	}
	msg_reader_free(&r);
	return 0;
}

FUZZ_ENTRY(msg_input)
