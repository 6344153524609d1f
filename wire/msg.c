#include "wire/msg.h"
#include "wire/varint.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t ack_magic[3] = { 'H', 'V', 'A' };

/* First allocation for a body; it then doubles as bytes arrive. */
#define MSG_FIRST_CHUNK (64u << 10)

int msg_header_encode(uint8_t hdr[MSG_HDR_LEN], size_t body_len)
{
	if (!body_len)
		return -EINVAL;
	if (body_len > MSG_MAX_BYTES)
		return -E2BIG;
	hdr[0] = (uint8_t)(body_len >> 24);
	hdr[1] = (uint8_t)(body_len >> 16);
	hdr[2] = (uint8_t)(body_len >> 8);
	hdr[3] = (uint8_t)body_len;
	return 0;
}

int msg_header_decode(const uint8_t hdr[MSG_HDR_LEN], size_t max, size_t *body_len)
{
	size_t n = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | hdr[3];

	if (max > MSG_MAX_BYTES)
		max = MSG_MAX_BYTES;
	if (!n)
		return -EBADMSG;
	if (n > max)
		return -E2BIG;
	*body_len = n;
	return 0;
}

int ack_encode(const struct ack *a, uint8_t *buf, size_t cap)
{
	size_t n = 0;
	uint64_t v = a->ack_seq;

	if (cap < ACK_MAX_LEN || a->status > ACK_REFUSED)
		return -EINVAL;
	memcpy(buf, ack_magic, 3);
	n = 3;
	buf[n++] = ACK_VERSION;
	buf[n++] = a->status;
	do {
		buf[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v);
	return (int)n;
}

int ack_decode(struct ack *a, const uint8_t *buf, size_t len)
{
	struct rbuf r;
	uint8_t magic[3], version, status;
	uint64_t seq;

	rbuf_init(&r, buf, len);
	if (rbuf_get(&r, magic, 3) || memcmp(magic, ack_magic, 3) || rbuf_u8(&r, &version))
		return -EBADMSG;
	if (version != ACK_VERSION)
		return -EPROTO;
	if (rbuf_u8(&r, &status) || status > ACK_REFUSED || rbuf_uvarint(&r, &seq) || rbuf_left(&r))
		return -EBADMSG;
	a->status = status;
	a->ack_seq = seq;
	return 0;
}

void msg_reader_init(struct msg_reader *r, size_t max)
{
	memset(r, 0, sizeof(*r));
	r->max = max > MSG_MAX_BYTES ? MSG_MAX_BYTES : max;
}

void msg_reader_free(struct msg_reader *r)
{
	free(r->body);
	r->body = NULL;
	r->body_cap = 0;
	msg_reader_reset(r);
}

void msg_reader_reset(struct msg_reader *r)
{
	r->hdr_got = 0;
	r->body_len = 0;
	r->body_got = 0;
	/* a huge buffer from one big batch is not kept for every idle connection */
	if (r->body_cap > MSG_FIRST_CHUNK) {
		free(r->body);
		r->body = NULL;
		r->body_cap = 0;
	}
}

int msg_reader_started(const struct msg_reader *r)
{
	return r->hdr_got > 0;
}

int msg_reader_want(struct msg_reader *r, uint8_t **p, size_t *n)
{
	if (r->hdr_got < MSG_HDR_LEN) {
		*p = r->hdr + r->hdr_got;
		*n = MSG_HDR_LEN - r->hdr_got;
		return 0;
	}
	if (r->body_got >= r->body_len)
		return -EINVAL; /* complete: reset first */
	if (r->body_got == r->body_cap) {
		size_t cap = r->body_cap >= MSG_FIRST_CHUNK ? r->body_cap * 2 : MSG_FIRST_CHUNK;
		uint8_t *nb;

		if (cap > r->body_len)
			cap = r->body_len;
		nb = realloc(r->body, cap);
		if (!nb)
			return -ENOMEM;
		r->body = nb;
		r->body_cap = cap;
	}
	*p = r->body + r->body_got;
	/* never past the declared end: the next message's bytes stay in TLS */
	*n = (r->body_cap < r->body_len ? r->body_cap : r->body_len) - r->body_got;
	return 0;
}

int msg_reader_got(struct msg_reader *r, size_t n)
{
	int err;

	if (r->hdr_got < MSG_HDR_LEN) {
		r->hdr_got += n;
		if (r->hdr_got < MSG_HDR_LEN)
			return 0;
		if ((err = msg_header_decode(r->hdr, r->max, &r->body_len)))
			return err;
		return 0;
	}
	r->body_got += n;
	return r->body_got == r->body_len ? 1 : 0;
}
