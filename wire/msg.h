/*
 * msg.h — messages on the uplink's TLS stream (wire/FORMAT.md, "Messages on
 * the TLS stream"): a u32 big-endian length, then the body. The agent sends
 * batches; the rater answers each with an ack.
 *
 * Nothing here does I/O: msg_reader tells the caller where the next bytes
 * go, so the same code serves the agent's blocking loop and the rater's
 * non-blocking state machine. No function logs; all return 0 or -errno.
 */
#ifndef HV_WIRE_MSG_H
#define HV_WIRE_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "wire/batch.h"

#define MSG_HDR_LEN     4
#define MSG_MAX_BYTES   BATCH_MAX_BYTES /* 64 MiB: nothing larger is ever allocated */

#define ACK_VERSION     1
#define ACK_MAX_LEN     (3 + 1 + 1 + 10) /* "HVA", version, status, uv ack_seq */

/* What the rater says about a batch (the ack's status byte). */
enum ack_status {
	ACK_STORED = 0,  /* stored (or already had) every frame up to ack_seq */
	ACK_GAP = 1,     /* the batch does not follow: resend from ack_seq + 1 */
	ACK_REFUSED = 2, /* chain, host id, signature or malformed: the rater closes */
};

struct ack {
	uint8_t status;   /* enum ack_status */
	uint64_t ack_seq; /* the highest original sequence the rater durably holds */
};

/* Writes the length prefix of a @body_len-byte body. -E2BIG past MSG_MAX_BYTES, -EINVAL for 0. */
int msg_header_encode(uint8_t hdr[MSG_HDR_LEN], size_t body_len);

/*
 * Reads a length prefix, refusing it before anything is allocated:
 * returns 0 with *body_len set, -EBADMSG for an empty body, -E2BIG when it
 * exceeds @max (itself capped at MSG_MAX_BYTES).
 */
int msg_header_decode(const uint8_t hdr[MSG_HDR_LEN], size_t max, size_t *body_len);

/* Encodes @a into @buf (at least ACK_MAX_LEN bytes). Returns the length, or -EINVAL. */
int ack_encode(const struct ack *a, uint8_t *buf, size_t cap);

/*
 * Decodes an ack body. Returns 0, -EPROTO for another version, -EBADMSG for
 * a wrong magic, an unknown status, a truncated or over-long varint, or
 * trailing bytes.
 */
int ack_decode(struct ack *a, const uint8_t *buf, size_t len);

/*
 * Incremental reader of one message. Usage:
 *   msg_reader_init(&r, max);
 *   loop: msg_reader_want(&r, &p, &n); read up to n bytes into p;
 *         rc = msg_reader_got(&r, got);   1 = complete, 0 = more, < 0 = refuse
 *   use r.body / r.body_len; msg_reader_reset(&r) for the next message.
 * The body buffer grows with the bytes actually received (never to the
 * declared length at once), so a peer that announces 64 MiB and sends
 * nothing costs little memory.
 */
struct msg_reader {
	size_t max;          /* largest body accepted */
	uint8_t hdr[MSG_HDR_LEN];
	size_t hdr_got;
	uint8_t *body;       /* owned; valid once complete */
	size_t body_len;     /* declared length (0 until the header is in) */
	size_t body_got;
	size_t body_cap;
};

void msg_reader_init(struct msg_reader *r, size_t max);
/* Frees the body; accepts a zeroed reader. */
void msg_reader_free(struct msg_reader *r);
/* Forgets the current message (keeps the buffer for the next one). */
void msg_reader_reset(struct msg_reader *r);
/* True once a byte of the current message has arrived. */
int msg_reader_started(const struct msg_reader *r);
/*
 * Where the next bytes go and how many are wanted at most.
 * Returns 0, or -ENOMEM when the buffer cannot grow.
 */
int msg_reader_want(struct msg_reader *r, uint8_t **p, size_t *n);
/*
 * Accounts @n bytes written where msg_reader_want() said. Returns 1 when the
 * message is complete, 0 when more is needed, or the header's refusal
 * (-EBADMSG, -E2BIG).
 */
int msg_reader_got(struct msg_reader *r, size_t n);

#endif
