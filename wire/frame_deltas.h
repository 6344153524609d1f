/*
 * frame_deltas.h — the delta section of a canonical frame (version 2), private
 * to wire/frame.c. See wire/FORMAT.md:
 *
 *   uv n_names  { str name }                  metric names and label sets, sorted, unique, all used
 *   uv n_groups { str resource  uv n  { uv metric  uv labels  sv value } }
 *
 * Grouping by resource and naming metrics by index keep a delta at 6-8 bytes
 * instead of ~58 (a resource id and a metric name each time): the hash chain,
 * the ledger's writes and its fsyncs all scale with these bytes.
 */
#ifndef HV_WIRE_FRAME_DELTAS_H
#define HV_WIRE_FRAME_DELTAS_H

#include "wire/frame.h"
#include "wire/varint.h"

/* Writes @f's deltas (sorted and unique: canonicalized). Returns 0 or -ENOMEM. */
int frame_deltas_encode(struct wbuf *b, const struct frame *f);

/*
 * Reads the section into @f (which holds no deltas yet). Refuses, with
 * -EBADMSG, anything but the one canonical form: unsorted or unused names,
 * unsorted groups or deltas, empty groups, over-long strings, lying counts.
 * Returns 0, -EBADMSG or -ENOMEM.
 */
int frame_deltas_decode(struct rbuf *r, struct frame *f);

/* Appends a delta without the lookup index (decode: order proves uniqueness). */
int frame_delta_append(struct frame *f, const char *resource, const char *metric,
		       const char *labels, int64_t value);

#endif
