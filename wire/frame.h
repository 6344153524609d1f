/*
 * frame.h — one sampling interval, and its canonical bytes.
 *
 * A frame is [start, end) plus, for each (resource, metric, labels) that
 * changed, the delta since the previous frame (invariant 2). Resources are
 * announced with their metadata only when they appear or change.
 *
 * The canonical encoding (frame_encode) is what the hash chain covers and
 * what the store keeps; it is deterministic: deltas and announcements are
 * sorted by frame_canonicalize() before encoding. See wire/FORMAT.md.
 */
#ifndef HV_WIRE_FRAME_H
#define HV_WIRE_FRAME_H

#include <stdint.h>
#include <stddef.h>

#define HV_ID_MAX      64   /* resource id: a domain UUID (36) or "host" */
#define HV_METRIC_MAX  32
#define HV_LABELS_MAX  128  /* "" or "key=value;key=value", keys sorted */
#define HV_ATTR_KEY_MAX 32
#define HV_ATTR_VAL_MAX 128
#define HV_ATTRS_MAX   16
#define HV_HASH_LEN    32   /* SHA-256 */

#define FRAME_VERSION  2 /* 2: deltas grouped by resource, names by index */
#define FRAME_MERGED   0x1u /* made by merging adjacent frames (invariant 7) */

/* Hard limits a decoder enforces: no peer-controlled size is unbounded. */
#define FRAME_MAX_DELTAS    (1u << 20)
#define FRAME_MAX_RESOURCES (1u << 16)

struct frame_delta {
	char resource[HV_ID_MAX];
	char metric[HV_METRIC_MAX];
	char labels[HV_LABELS_MAX];
	int64_t value; /* 10^-scale units of the metric (wire/metric.h) */
};

struct frame_attr {
	char key[HV_ATTR_KEY_MAX];
	char value[HV_ATTR_VAL_MAX];
};

/* Metadata of a resource, announced when it appears or changes. */
struct frame_resource {
	char resource[HV_ID_MAX];
	uint32_t n_attrs;
	struct frame_attr attrs[HV_ATTRS_MAX]; /* name, project, user, flavor... */
};

struct frame {
	uint64_t seq;
	int64_t start_ns; /* CLOCK_REALTIME, ns since the epoch */
	int64_t end_ns;
	uint32_t flags;   /* FRAME_MERGED */
	uint32_t merged;  /* number of original frames in this one (1 if not merged) */
	char policy[HV_ATTR_VAL_MAX]; /* e.g. energy apportioning policy; "" if none */
	uint8_t prev_hash[HV_HASH_LEN];
	uint8_t hash[HV_HASH_LEN]; /* SHA-256 of the canonical bytes (not encoded) */

	size_t n_res, cap_res;
	struct frame_resource *res;
	size_t n_delta, cap_delta;
	struct frame_delta *delta;
	uint32_t *index;   /* open addressing over delta[], private to frame.c */
	size_t index_cap;  /* power of two, or 0 */
};

/* Initialises an empty frame (no allocation). */
void frame_init(struct frame *f);
/* Frees what the frame owns and re-initialises it; accepts a zeroed frame. */
void frame_free(struct frame *f);
/* Empties the delta and resource lists, keeping their memory. */
void frame_reset(struct frame *f);

/*
 * Adds @value to the delta (resource, metric, labels), creating it if new.
 * Gauges of kind GAUGE_MAX keep the max instead of adding.
 * Returns 0, -EINVAL for an over-long name, or -ENOMEM.
 */
int frame_delta_add(struct frame *f, const char *resource, const char *metric,
		    const char *labels, int64_t value);
/* Looks a delta up; NULL when absent. */
struct frame_delta *frame_delta_find(struct frame *f, const char *resource,
				     const char *metric, const char *labels);

/* Appends an announcement (copied). Returns 0 or -ENOMEM. */
int frame_resource_add(struct frame *f, const struct frame_resource *r);

/* Sets attribute @key of @r (replacing an existing one). Returns 0, -E2BIG or -EINVAL. */
int frame_attr_set(struct frame_resource *r, const char *key, const char *value);
/* The value of attribute @key, or NULL. */
const char *frame_attr_get(const struct frame_resource *r, const char *key);

/* Makes @dst (initialised; replaced) a deep copy of @src. Returns 0 or -ENOMEM. */
int frame_copy(struct frame *dst, const struct frame *src);

/* Sorts deltas and announcements and drops zero counter deltas. */
void frame_canonicalize(struct frame *f);

/*
 * Encodes @f (canonicalize first) into a malloc'd buffer *out of *len bytes.
 * Returns 0 or -ENOMEM / -EINVAL.
 */
int frame_encode(const struct frame *f, uint8_t **out, size_t *len);

/*
 * Decodes @len bytes into @f (which must be initialised; its old content is
 * replaced). Never trusts a length: returns -EBADMSG for anything malformed,
 * -EPROTO for an unknown version, -ENOMEM, else 0. Does not compute the hash.
 */
int frame_decode(struct frame *f, const uint8_t *buf, size_t len);

/* The fixed-width head of a canonical frame. */
struct frame_head {
	uint64_t seq;
	int64_t start_ns, end_ns;
	uint32_t flags, merged;
};

/*
 * Reads only the head of canonical bytes @buf (at least its first 35 bytes):
 * what pruning and compaction planning need without decoding every delta.
 * Returns 0, -EPROTO for another version, or -EBADMSG.
 */
int frame_head_decode(const uint8_t *buf, size_t len, struct frame_head *h);

/* SHA-256 of @len bytes into @out. Returns 0 or -EIO. */
int frame_hash(const uint8_t *buf, size_t len, uint8_t out[HV_HASH_LEN]);

/* Lowercase hex of a hash into @out (65 bytes). */
void frame_hash_hex(const uint8_t h[HV_HASH_LEN], char out[2 * HV_HASH_LEN + 1]);

/*
 * Merges @next into @acc (which precedes it): deltas summed (gauges per their
 * kind), time range widened, announcements kept in order (later wins),
 * FRAME_MERGED set, merged counts added. Returns 0 or -ENOMEM / -EINVAL when
 * the frames are not adjacent in sequence.
 */
int frame_merge(struct frame *acc, const struct frame *next);

#endif
