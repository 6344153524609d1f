/*
 * strhash.h — a fast 64-bit hash of a NUL-terminated string, 8 bytes a step,
 * for in-memory tables on the commit path (frame names, ledger slots).
 * Byte-wise FNV-1a cost a third of a ledger commit. Not for anything a
 * peer controls where collisions could be forced: callers confirm a hit
 * with a full compare or only trust hashes of their own names.
 */
#ifndef HV_WIRE_STRHASH_H
#define HV_WIRE_STRHASH_H

#include <stdint.h>
#include <string.h>

#define HV_STRHASH_SEED 0x243f6a8885a308d3ull

static inline uint64_t hv_strhash_mix(uint64_t h)
{
	h ^= h >> 32;
	h *= 0xd6e8feb86659fd93ull;
	h ^= h >> 32;
	return h;
}

/* Hashes @s, continuing from @h (chain calls to hash several strings). */
static inline uint64_t hv_strhash(uint64_t h, const char *s)
{
	size_t len = strlen(s), i = 0;
	uint64_t w;

	for (; i + 8 <= len; i += 8) {
		memcpy(&w, s + i, 8);
		h = hv_strhash_mix(h ^ w) + 0x9e3779b97f4a7c15ull;
	}
	w = 0;
	memcpy(&w, s + i, len - i);
	/* the length ends the string: "ab" + "c" and "a" + "bc" differ */
	return hv_strhash_mix(h ^ w ^ ((uint64_t)len << 56)) + 0x9e3779b97f4a7c15ull;
}

#endif
