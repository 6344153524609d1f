#include "common/parse_num.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int parse_u64(const char *s, uint64_t min, uint64_t max, int allow_suffix, uint64_t *out)
{
	unsigned long long v;
	uint64_t mult = 1;
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (allow_suffix && *end) {
		switch (toupper((unsigned char)*end)) {
		case 'K': mult = 1ull << 10; break;
		case 'M': mult = 1ull << 20; break;
		case 'G': mult = 1ull << 30; break;
		case 'T': mult = 1ull << 40; break;
		default: return -EINVAL;
		}
		end++;
		if (toupper((unsigned char)*end) == 'I' && toupper((unsigned char)end[1]) == 'B')
			end += 2;
		else if (toupper((unsigned char)*end) == 'B')
			end++;
	}
	while (isspace((unsigned char)*end))
		end++;
	if (*end)
		return -EINVAL;
	if (v > UINT64_MAX / mult)
		return -ERANGE;
	v *= mult;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

static const struct {
	char unit;
	uint64_t secs;
} duration_units[] = { { 'd', 86400 }, { 'h', 3600 }, { 'm', 60 }, { 's', 1 } };

int parse_duration(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char num[32];
	size_t len;
	uint64_t mult = 1, v;
	int err;

	while (isspace((unsigned char)*s))
		s++;
	len = strlen(s);
	while (len && isspace((unsigned char)s[len - 1]))
		len--;
	if (!len || len >= sizeof(num))
		return -EINVAL;
	memcpy(num, s, len);
	num[len] = '\0';
	if (isalpha((unsigned char)num[len - 1])) {
		size_t i;

		for (i = 0; i < sizeof(duration_units) / sizeof(duration_units[0]); i++)
			if (tolower((unsigned char)num[len - 1]) == duration_units[i].unit)
				break;
		if (i == sizeof(duration_units) / sizeof(duration_units[0]))
			return -EINVAL;
		mult = duration_units[i].secs;
		num[len - 1] = '\0';
	}
	/* the number itself through the one range-checked helper */
	if ((err = parse_u64(num, 0, UINT64_MAX / mult, 0, &v)))
		return err;
	v *= mult;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

void duration_format(uint64_t secs, char *buf, size_t len)
{
	for (size_t i = 0; i < sizeof(duration_units) / sizeof(duration_units[0]); i++) {
		if (secs && secs % duration_units[i].secs == 0) {
			snprintf(buf, len, "%llu%c", (unsigned long long)(secs / duration_units[i].secs),
				 duration_units[i].unit);
			return;
		}
	}
	snprintf(buf, len, "0s");
}
