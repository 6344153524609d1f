/*
 * parse_num.h — the range-checked number and duration rules both
 * configuration files share (agent and rater): one spelling of sizes
 * ("16G") and durations ("30d") everywhere.
 */
#ifndef HV_COMMON_PARSE_NUM_H
#define HV_COMMON_PARSE_NUM_H

#include <stddef.h>
#include <stdint.h>

/*
 * Parses an unsigned decimal number with optional K/M/G/T suffix (powers of
 * 1024 when @allow_suffix) and checks it against [min, max].
 * Returns 0, -EINVAL (not a number) or -ERANGE.
 */
int parse_u64(const char *s, uint64_t min, uint64_t max, int allow_suffix, uint64_t *out);

/*
 * Parses a duration into seconds: a number with an optional unit s, m, h or
 * d ("3600", "90m", "12h", "30d"), checked against [min, max] seconds.
 * Returns 0, -EINVAL (not a duration) or -ERANGE.
 */
int parse_duration(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* Writes @secs in the largest unit that divides it ("30d", "90m", "7s") into @buf. */
void duration_format(uint64_t secs, char *buf, size_t len);

#endif
