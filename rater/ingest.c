#include "rater/ingest.h"
#include "wire/batch.h"
#include "wire/tls.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static void reason(struct ingest_result *res, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reason(struct ingest_result *res, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(res->reason, sizeof(res->reason), fmt, ap);
	va_end(ap);
}

/* Last original sequence a frame covers; false when it would not fit 64 bits. */
static bool frame_end_seq(const struct frame *f, uint64_t *end)
{
	if (!f->merged || f->seq == 0 || f->seq > UINT64_MAX - (f->merged - 1))
		return false;
	*end = f->seq + f->merged - 1;
	return true;
}

/* Checks 1-4 of ingest.h: nothing stored is consulted. Returns true when they pass. */
static bool batch_acceptable(const struct batch *b, const struct ingest_peer *peer,
			     struct ingest_result *res)
{
	const struct frame *last = &b->frames[b->n_frames - 1];
	char hex[2 * HV_HASH_LEN + 1];
	size_t bad = 0;
	int err;

	if (strcmp(b->host_id, peer->host_id)) {
		reason(res, "batch claims host id '%s' but the client certificate is '%s'",
		       b->host_id, peer->host_id);
		return false;
	}
	for (size_t i = 0; i < b->n_frames; i++) {
		uint64_t end;

		if (!frame_end_seq(&b->frames[i], &end)) {
			reason(res, "frame %zu: sequence %" PRIu64 " + %u merged is out of range", i,
			       b->frames[i].seq, b->frames[i].merged);
			return false;
		}
	}
	if (batch_chain_check(b, NULL, &bad)) {
		frame_hash_hex(b->frames[bad].hash, hex);
		reason(res, "bad chain: frame seq %" PRIu64 " (index %zu) does not hash to %.16s... "
		       "or does not link to the frame before it", b->frames[bad].seq, bad, hex);
		return false;
	}
	err = tls_verify_hash(peer->pk, last->hash, b->sig, b->sig_len);
	if (err == -EINVAL) {
		reason(res, "the client certificate's key is not an EC key: cannot verify the batch signature");
		return false;
	}
	if (err) {
		reason(res, "batch signature (%zu bytes) does not verify with the client certificate's key",
		       b->sig_len);
		return false;
	}
	return true;
}

int ingest_batch(struct rstore *rs, struct rstore_txn *parent, const struct ingest_peer *peer,
		 const uint8_t *msg, size_t len, struct ingest_result *res)
{
	struct rstore_txn *t = NULL;
	struct rstore_host h;
	struct batch b;
	char hex[2 * HV_HASH_LEN + 1], hex2[2 * HV_HASH_LEN + 1];
	bool known_host;
	size_t k;
	int err;

	memset(res, 0, sizeof(*res));
	res->ack.status = ACK_REFUSED;
	batch_init(&b);
	err = batch_decode(&b, msg, len);
	if (err == -ENOMEM)
		return err;
	if (err) {
		if (err == -EPROTO)
			reason(res, "malformed batch: unknown version %u (this rater reads %u)",
			       len >= 4 ? msg[3] : 0, BATCH_VERSION);
		else if (err == -E2BIG)
			reason(res, "malformed batch: over the limits (%u frames, %u deltas, %u strings)",
			       BATCH_MAX_FRAMES, BATCH_MAX_DELTAS, BATCH_MAX_STRINGS);
		else
			reason(res, "malformed batch (%zu bytes): does not decode", len);
		err = 0;
		goto out;
	}
	snprintf(res->claimed_id, sizeof(res->claimed_id), "%s", b.host_id);
	res->n_frames = b.n_frames;
	res->first_seq = b.frames[0].seq;
	if (!frame_end_seq(&b.frames[b.n_frames - 1], &res->last_seq))
		res->last_seq = b.frames[b.n_frames - 1].seq;
	if (!batch_acceptable(&b, peer, res))
		goto out;

	if ((err = rstore_txn_begin(rs, parent, &t)))
		goto out;
	err = rstore_host_get(t, peer->host_id, &h);
	if (err && err != -ENOENT)
		goto out;
	known_host = err == 0;
	err = 0;
	if (!known_host) {
		memset(&h, 0, sizeof(h));
		snprintf(h.host_id, sizeof(h.host_id), "%s", peer->host_id);
		h.first_seq = b.frames[0].seq;
	}

	/* frames the rater already holds: skip them, but they must be the same */
	for (k = 0; known_host && k < b.n_frames; k++) {
		const struct frame *f = &b.frames[k];
		uint8_t stored[HV_HASH_LEN];
		uint64_t end = f->seq + f->merged - 1; /* checked by batch_acceptable */

		if (f->seq > h.last_seq)
			break;
		if (end > h.last_seq) {
			reason(res, "frame seq %" PRIu64 "..%" PRIu64 " straddles the stored last seq %" PRIu64
			       " (merged after it was stored?)", f->seq, end, h.last_seq);
			goto out;
		}
		err = rstore_frame_hash(t, peer->host_id, f->seq, stored);
		if (err == -ENOENT) { /* before the rater's first_seq, or merged differently */
			err = 0;
			continue;
		}
		if (err)
			goto out;
		if (memcmp(stored, f->hash, HV_HASH_LEN)) {
			frame_hash_hex(stored, hex);
			frame_hash_hex(f->hash, hex2);
			reason(res, "frame seq %" PRIu64 " differs from the stored copy (stored %.16s..., sent %.16s...)",
			       f->seq, hex, hex2);
			goto out;
		}
	}
	res->n_known = k;
	if (known_host && k < b.n_frames) {
		const struct frame *f = &b.frames[k];

		if (f->seq != h.last_seq + 1) {
			res->ack.status = ACK_GAP;
			res->ack.ack_seq = h.last_seq;
			reason(res, "gap: batch continues at seq %" PRIu64 ", the rater holds up to %" PRIu64,
			       f->seq, h.last_seq);
			goto out;
		}
		if (memcmp(f->prev_hash, h.head, HV_HASH_LEN)) {
			frame_hash_hex(h.head, hex);
			frame_hash_hex(f->prev_hash, hex2);
			reason(res, "frame seq %" PRIu64 " does not continue the stored chain head "
			       "(head %.16s..., its prev_hash %.16s...)", f->seq, hex, hex2);
			goto out;
		}
	}
	for (size_t i = k; i < b.n_frames; i++) {
		err = rstore_frame_add(t, peer->host_id, &b.frames[i]);
		if (err == -EEXIST) { /* last_seq says new, frames says stored: never advance over it */
			reason(res, "frame seq %" PRIu64 " is stored beyond the host's last seq %" PRIu64
			       " (rater store inconsistent)", b.frames[i].seq, h.last_seq);
			err = 0;
			goto out;
		}
		if (err)
			goto out;
	}
	if (k < b.n_frames) {
		const struct frame *last = &b.frames[b.n_frames - 1];

		h.last_seq = res->last_seq;
		memcpy(h.head, last->hash, HV_HASH_LEN);
		h.last_end_ns = last->end_ns;
		h.frames += b.n_frames - k;
		h.batches++;
	}
	h.duplicates += k;
	h.last_seen_ns = peer->now_ns;
	snprintf(h.peer, sizeof(h.peer), "%s", peer->addr ? peer->addr : "");
	if ((err = rstore_host_put(t, &h)))
		goto out;
	err = rstore_txn_commit(t);
	t = NULL;
	if (err)
		goto out;
	res->n_new = b.n_frames - k;
	res->ack.status = ACK_STORED;
	res->ack.ack_seq = h.last_seq;
	memcpy(res->head, h.head, HV_HASH_LEN);
out:
	rstore_txn_abort(t);
	batch_free(&b);
	if (err) {
		memset(res->reason, 0, sizeof(res->reason));
		res->ack.status = ACK_REFUSED;
	}
	return err;
}
