#include "daemon/uplink_config.h"
#include "daemon/config.h"
#include "wire/batch.h"
#include "wire/tls.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void uplink_config_defaults(struct uplink_config *c)
{
	memset(c, 0, sizeof(*c));
	c->batch_frames = 360;
	c->batch_bytes = 8u << 20;
	c->timeout = 30;
}

static int bad(char *why, size_t whylen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return 0;
}

static int set_path(char *dst, size_t cap, const char *value, char *why, size_t whylen)
{
	if (!value[0])
		return bad(why, whylen, "must not be empty");
	if (strlen(value) >= cap)
		return bad(why, whylen, "too long: '%.64s...'", value);
	strcpy(dst, value);
	return 1;
}

static int set_u32(uint32_t *dst, const char *value, uint64_t min, uint64_t max, int suffix,
		   char *why, size_t whylen)
{
	uint64_t n;
	int err = parse_u64(value, min, max, suffix, &n);

	if (err == -EINVAL)
		return bad(why, whylen, "not a number: '%s'", value);
	if (err)
		return bad(why, whylen, "out of range [%llu, %llu]: '%s'", (unsigned long long)min,
			   (unsigned long long)max, value);
	*dst = (uint32_t)n;
	return 1;
}

int uplink_config_key(struct uplink_config *c, const char *key, const char *value, char *why,
		      size_t whylen)
{
	if (strcmp(key, "rater") == 0) {
		char host[256];
		uint16_t port;

		if (!value[0]) { /* explicitly off */
			c->rater[0] = '\0';
			return 1;
		}
		if (tls_addr_split(value, host, sizeof(host), &port))
			return bad(why, whylen, "must be HOST:PORT or [IPv6]:PORT: '%s'", value);
		return set_path(c->rater, sizeof(c->rater), value, why, whylen);
	}
	if (strcmp(key, "ca") == 0)
		return set_path(c->ca, sizeof(c->ca), value, why, whylen);
	if (strcmp(key, "cert") == 0)
		return set_path(c->cert, sizeof(c->cert), value, why, whylen);
	if (strcmp(key, "key") == 0)
		return set_path(c->key, sizeof(c->key), value, why, whylen);
	if (strcmp(key, "server_name") == 0)
		return set_path(c->server_name, sizeof(c->server_name), value, why, whylen);
	if (strcmp(key, "batch_frames") == 0)
		return set_u32(&c->batch_frames, value, 1, BATCH_MAX_FRAMES, 0, why, whylen);
	if (strcmp(key, "batch_bytes") == 0)
		return set_u32(&c->batch_bytes, value, 64u << 10, BATCH_MAX_BYTES, 1, why, whylen);
	if (strcmp(key, "timeout") == 0)
		return set_u32(&c->timeout, value, 1, 3600, 0, why, whylen);
	return -1;
}

int uplink_config_check(struct uplink_config *c, char *why, size_t whylen)
{
	char host[256];
	uint16_t port;

	if (!c->rater[0])
		return 0;
	if (!c->ca[0] || !c->cert[0] || !c->key[0]) {
		snprintf(why, whylen, "%s: required when rater is set (mutual TLS)",
			 !c->ca[0] ? "ca" : !c->cert[0] ? "cert" : "key");
		return -EINVAL;
	}
	if (!c->server_name[0]) {
		if (tls_addr_split(c->rater, host, sizeof(host), &port)) {
			snprintf(why, whylen, "rater: must be HOST:PORT or [IPv6]:PORT");
			return -EINVAL;
		}
		snprintf(c->server_name, sizeof(c->server_name), "%s", host);
	}
	return 0;
}

void uplink_config_print(const struct uplink_config *c, FILE *out)
{
	fprintf(out, "[uplink]\n");
	fprintf(out, "rater = %s\n", c->rater);
	fprintf(out, "ca = %s\n", c->ca);
	fprintf(out, "cert = %s\n", c->cert);
	fprintf(out, "key = %s\n", c->key);
	fprintf(out, "server_name = %s\n", c->server_name);
	fprintf(out, "batch_frames = %u\n", c->batch_frames);
	fprintf(out, "batch_bytes = %u\n", c->batch_bytes);
	fprintf(out, "timeout = %u\n", c->timeout);
}
