#include "wire/varint.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void wbuf_init(struct wbuf *b)
{
	memset(b, 0, sizeof(*b));
}

void wbuf_free(struct wbuf *b)
{
	free(b->p);
	wbuf_init(b);
}

int wbuf_reserve(struct wbuf *b, size_t extra)
{
	size_t cap;
	uint8_t *np;

	if (b->err)
		return -1;
	if (b->len + extra <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < b->len + extra)
		cap *= 2;
	np = realloc(b->p, cap);
	if (!np) {
		b->err = -ENOMEM;
		return -1;
	}
	b->p = np;
	b->cap = cap;
	return 0;
}

void wbuf_put(struct wbuf *b, const void *data, size_t len)
{
	if (!len || wbuf_reserve(b, len))
		return;
	memcpy(b->p + b->len, data, len);
	b->len += len;
}

void wbuf_u8(struct wbuf *b, uint8_t v)
{
	wbuf_put(b, &v, 1);
}

void wbuf_u32be(struct wbuf *b, uint32_t v)
{
	uint8_t x[4] = { v >> 24, v >> 16, v >> 8, v };

	wbuf_put(b, x, 4);
}

void be64_put(uint8_t out[8], uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		out[i] = (uint8_t)v;
}

uint64_t be64_get(const uint8_t in[8])
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | in[i];
	return v;
}

void wbuf_u64be(struct wbuf *b, uint64_t v)
{
	uint8_t x[8];

	be64_put(x, v);
	wbuf_put(b, x, 8);
}

void wbuf_uvarint(struct wbuf *b, uint64_t v)
{
	uint8_t x[10];
	size_t n = 0;

	/* the common case, room for the longest varint: write in place */
	if (!b->err && b->cap - b->len >= sizeof(x)) {
		uint8_t *p = b->p + b->len;

		for (; v >= 0x80; v >>= 7)
			*p++ = (uint8_t)(v | 0x80);
		*p++ = (uint8_t)v;
		b->len = (size_t)(p - b->p);
		return;
	}

	do {
		x[n] = v & 0x7f;
		v >>= 7;
		if (v)
			x[n] |= 0x80;
		n++;
	} while (v);
	wbuf_put(b, x, n);
}

void wbuf_svarint(struct wbuf *b, int64_t v)
{
	wbuf_uvarint(b, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

void wbuf_str(struct wbuf *b, const char *s)
{
	size_t n = strlen(s);

	wbuf_uvarint(b, n);
	wbuf_put(b, s, n);
}

int wbuf_finish(struct wbuf *b, uint8_t **out, size_t *len)
{
	int err = b->err;

	if (err) {
		wbuf_free(b);
		return err;
	}
	*out = b->p;
	*len = b->len;
	b->p = NULL;
	b->len = b->cap = 0;
	return 0;
}

void rbuf_init(struct rbuf *r, const uint8_t *p, size_t len)
{
	r->p = p;
	r->len = len;
	r->off = 0;
}

size_t rbuf_left(const struct rbuf *r)
{
	return r->len - r->off;
}

int rbuf_get(struct rbuf *r, void *out, size_t len)
{
	if (len > rbuf_left(r))
		return -1;
	memcpy(out, r->p + r->off, len);
	r->off += len;
	return 0;
}

int rbuf_u8(struct rbuf *r, uint8_t *v)
{
	return rbuf_get(r, v, 1);
}

int rbuf_u32be(struct rbuf *r, uint32_t *v)
{
	uint8_t x[4];

	if (rbuf_get(r, x, 4))
		return -1;
	*v = (uint32_t)x[0] << 24 | (uint32_t)x[1] << 16 | (uint32_t)x[2] << 8 | x[3];
	return 0;
}

int rbuf_u64be(struct rbuf *r, uint64_t *v)
{
	uint8_t x[8];

	if (rbuf_get(r, x, 8))
		return -1;
	*v = be64_get(x);
	return 0;
}

int rbuf_uvarint(struct rbuf *r, uint64_t *v)
{
	uint64_t x = 0;

	for (unsigned shift = 0; shift < 64; shift += 7) {
		uint8_t c;

		if (rbuf_u8(r, &c))
			return -1;
		if (shift == 63 && c > 1)
			return -1; /* overflows 64 bits */
		x |= (uint64_t)(c & 0x7f) << shift;
		if (!c && shift)
			return -1; /* over-long: a last byte 0 adds nothing; encodings are minimal */
		if (!(c & 0x80)) {
			*v = x;
			return 0;
		}
	}
	return -1;
}

int rbuf_svarint(struct rbuf *r, int64_t *v)
{
	uint64_t u;

	if (rbuf_uvarint(r, &u))
		return -1;
	*v = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
	return 0;
}

int rbuf_str(struct rbuf *r, char *out, size_t cap)
{
	uint64_t n;

	if (rbuf_uvarint(r, &n) || n >= cap || n > rbuf_left(r))
		return -1;
	if (memchr(r->p + r->off, '\0', n))
		return -1;
	memcpy(out, r->p + r->off, n);
	out[n] = '\0';
	r->off += n;
	return 0;
}
