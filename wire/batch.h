/*
 * batch.h — consecutive frames of one host, compacted for the uplink
 * (wire/FORMAT.md, "Batch"). Shared by agent (encode) and rater (decode).
 */
#ifndef HV_WIRE_BATCH_H
#define HV_WIRE_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "wire/frame.h"

#define BATCH_VERSION     1
#define BATCH_MAX_FRAMES  4096
#define BATCH_MAX_BYTES   (64u << 20)
#define BATCH_MAX_STRINGS (1u << 20)
#define BATCH_MAX_DELTAS  (1u << 20)
#define BATCH_SIG_MAX     160

struct batch {
	char host_id[HV_ID_MAX];
	size_t n_frames;
	struct frame *frames;   /* decoded; hash[] holds the hash carried on the wire */
	uint8_t sig[BATCH_SIG_MAX];
	size_t sig_len;
};

void batch_init(struct batch *b);
void batch_free(struct batch *b);

/*
 * Encodes @n canonical frames (consecutive sequences, as the store keeps
 * them, each with its hash) and a signature over the last frame's hash.
 * Returns 0, -EINVAL (not consecutive, too many, bad host id) or -ENOMEM.
 */
int batch_encode(const char *host_id, const struct frame *frames, size_t n,
		 const uint8_t *sig, size_t sig_len, uint8_t **out, size_t *len);

/*
 * Decodes a batch into @b (initialised; replaced). Never trusts a length:
 * -EBADMSG for anything malformed, -EPROTO for another version, -E2BIG past
 * the limits, -ENOMEM. Does not check hashes: see batch_chain_check().
 */
int batch_decode(struct batch *b, const uint8_t *buf, size_t len);

/*
 * Recomputes every frame's canonical bytes and hash: each must equal the
 * hash carried on the wire and link to the previous one, the first to
 * @head (the receiver's chain head for this host; NULL skips that link).
 * Returns 0, or -EBADMSG with *bad_index set to the first frame that fails.
 */
int batch_chain_check(const struct batch *b, const uint8_t head[HV_HASH_LEN], size_t *bad_index);

#endif
