/*
 * ingest.h — one batch from one authenticated host into the rater's store.
 *
 * The checks, in order; the first that fails decides and nothing is stored:
 *   1. the message decodes as a batch of this version (limits included);
 *   2. the batch's host id is the certificate's (invariant 8);
 *   3. every frame's hash recomputes from its canonical bytes and links to
 *      the one before (batch_chain_check);
 *   4. the signature over the last frame's hash verifies with the
 *      certificate's public key (so the whole chain is the host's own);
 *   5. against the stored host: frames the rater already has are skipped
 *      (their stored hashes must equal the batch's), the first new frame
 *      must be last_seq + 1 (else: gap, resend from last_seq + 1) and must
 *      link to the stored chain head.
 * Then the new frames, their usage and the advanced head are written in one
 * (child) transaction. Outcomes map to the ack (wire/msg.h):
 *   ACK_STORED  stored, or had them all already: ack_seq = last_seq
 *   ACK_GAP     the batch starts after last_seq + 1: ack_seq = last_seq
 *   ACK_REFUSED 1-4 failed, or the chain diverges from what is stored
 *
 * A host the rater has never seen is adopted from its first batch: whatever
 * its first sequence and prev_hash (an agent whose ring was pruned or merged
 * before it first reached the rater starts after 1). Its first_seq records
 * where the rater's copy begins.
 *
 * Nothing here logs: the result carries the reason in words.
 */
#ifndef HV_RATER_INGEST_H
#define HV_RATER_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include <mbedtls/pk.h>

#include "rater/rstore.h"
#include "wire/msg.h"

#define INGEST_REASON_MAX 320

/* Who sent the batch, as the TLS layer established it. */
struct ingest_peer {
	const char *host_id;          /* from the client certificate */
	mbedtls_pk_context *pk;       /* the client certificate's public key */
	const char *addr;             /* "ip:port", for the host record */
	int64_t now_ns;               /* realtime of arrival */
};

struct ingest_result {
	struct ack ack;
	char claimed_id[HV_ID_MAX];   /* the batch's host id ("" if it did not decode) */
	size_t n_frames;              /* frames in the batch */
	size_t n_new;                 /* of which stored now */
	size_t n_known;               /* of which already stored (skipped) */
	uint64_t first_seq, last_seq; /* the batch's range (original sequences) */
	uint8_t head[HV_HASH_LEN];    /* the host's chain head after this batch */
	char reason[INGEST_REASON_MAX]; /* why refused or a gap; "" when stored */
};

/*
 * Checks and stores the batch in @msg (@len bytes) inside a child of
 * @parent; the parent's commit makes it durable, and only then may the
 * ack in @res be sent. Returns 0 with @res filled whatever the verdict,
 * or -ENOMEM / -ENOSPC / -EIO when the store failed (nothing of the batch
 * is in @parent; send no ack).
 */
int ingest_batch(struct rstore *rs, struct rstore_txn *parent, const struct ingest_peer *peer,
		 const uint8_t *msg, size_t len, struct ingest_result *res);

#endif
