/*
 * varint.h — growable write buffer and bounds-checked read cursor.
 *
 * Integers are LEB128 varints (zigzag for signed) or fixed big-endian;
 * strings are a varint length then the bytes, no NUL. A write error is
 * sticky and reported once by wbuf_finish(); every read returns 0 or -1 and
 * never reads past the end.
 */
#ifndef HV_WIRE_VARINT_H
#define HV_WIRE_VARINT_H

#include <stdint.h>
#include <stddef.h>

struct wbuf {
	uint8_t *p;
	size_t len, cap;
	int err;
};

void wbuf_init(struct wbuf *b);
void wbuf_free(struct wbuf *b);
void wbuf_put(struct wbuf *b, const void *data, size_t len);
/* Makes room for @extra more bytes up front (saves regrowing); 0, or -1 (sticky error). */
int wbuf_reserve(struct wbuf *b, size_t extra);
void wbuf_u8(struct wbuf *b, uint8_t v);
void wbuf_u32be(struct wbuf *b, uint32_t v);
void wbuf_u64be(struct wbuf *b, uint64_t v);
void wbuf_uvarint(struct wbuf *b, uint64_t v);
void wbuf_svarint(struct wbuf *b, int64_t v);
void wbuf_str(struct wbuf *b, const char *s);
/* Hands the bytes to *out (caller frees) and returns 0, or the sticky error. */
int wbuf_finish(struct wbuf *b, uint8_t **out, size_t *len);

struct rbuf {
	const uint8_t *p;
	size_t len, off;
};

void rbuf_init(struct rbuf *r, const uint8_t *p, size_t len);
size_t rbuf_left(const struct rbuf *r);
int rbuf_get(struct rbuf *r, void *out, size_t len);
int rbuf_u8(struct rbuf *r, uint8_t *v);
int rbuf_u32be(struct rbuf *r, uint32_t *v);
int rbuf_u64be(struct rbuf *r, uint64_t *v);
int rbuf_uvarint(struct rbuf *r, uint64_t *v);
int rbuf_svarint(struct rbuf *r, int64_t *v);
/* Reads a string into @out of @cap bytes; fails if it does not fit or holds a NUL. */
int rbuf_str(struct rbuf *r, char *out, size_t cap);

/* Fixed-width big-endian helpers for keys (LMDB order = numeric order). */
void be64_put(uint8_t out[8], uint64_t v);
uint64_t be64_get(const uint8_t in[8]);

#endif
