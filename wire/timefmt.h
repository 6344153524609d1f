/* timefmt.h — RFC 3339 UTC timestamps <-> ns since the epoch. */
#ifndef HV_WIRE_TIMEFMT_H
#define HV_WIRE_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

#define RFC3339_LEN 40

/* "2026-11-25T10:40:00.123456789Z". Returns 0 or -ENOSPC. */
int rfc3339_format(int64_t ns, char *buf, size_t len);

/*
 * Parses "YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)", a date "YYYY-MM-DD"
 * (midnight UTC) or "@SECONDS" (unix time). Returns 0 or -EINVAL.
 */
int rfc3339_parse(const char *s, int64_t *ns);

#endif
