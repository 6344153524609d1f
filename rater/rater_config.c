#include "rater/rater_config.h"
#include "common/ini_reader.h"
#include "common/parse_num.h"
#include "rater/rstore.h"
#include "wire/tls.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const level_names[] = { "error", "warn", "info", "debug" };

const char *rater_log_level_name(enum rater_log_level l)
{
	return l <= RLOG_DEBUG ? level_names[l] : "?";
}

void rater_config_defaults(struct rater_config *c)
{
	memset(c, 0, sizeof(*c));
	strcpy(c->listen, "127.0.0.1:7443");
	strcpy(c->store, "/var/lib/hvrater");
	c->store_max_bytes = RSTORE_DEFAULT_MAX_BYTES;
	c->idle_timeout = 300;
	c->max_hosts = 10000;
	c->period = RSTORE_DEFAULT_PERIOD;
	c->log_level = RLOG_INFO;
	c->close_wait = 2;
	c->close_wait_periods = true;
}

int64_t rater_config_close_wait_s(const struct rater_config *c)
{
	return c->close_wait_periods ? (int64_t)c->close_wait * c->period : (int64_t)c->close_wait;
}

struct parse_ctx {
	struct ini_reader r;
	struct rater_config *c;
};

static int fail(struct parse_ctx *p, const char *section, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fail(struct parse_ctx *p, const char *section, const char *key, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return ini_fail(&p->r, section, key, "%s", why);
}

static int set_str_in(struct parse_ctx *p, const char *section, const char *key,
		      const char *value, char *dst, size_t cap)
{
	if (!value[0])
		return fail(p, section, key, "must not be empty");
	if (strlen(value) >= cap)
		return fail(p, section, key, "too long: '%.64s...'", value);
	strcpy(dst, value);
	return 1;
}

static int set_str(struct parse_ctx *p, const char *key, const char *value, char *dst, size_t cap)
{
	return set_str_in(p, "rater", key, value, dst, cap);
}

static int set_bool(struct parse_ctx *p, const char *section, const char *key, const char *value,
		    bool *dst)
{
	if (strcmp(value, "yes") == 0 || strcmp(value, "true") == 0 || strcmp(value, "1") == 0)
		*dst = true;
	else if (strcmp(value, "no") == 0 || strcmp(value, "false") == 0 || strcmp(value, "0") == 0)
		*dst = false;
	else
		return fail(p, section, key, "must be yes or no: '%s'", value);
	return 1;
}

/* "N" or "N s" seconds (0..366 days), or "N period(s)" (0..1000). */
static int set_close_wait(struct parse_ctx *p, const char *key, const char *value)
{
	struct rater_config *c = p->c;
	const char *unit = value;
	char num[32];
	uint64_t n;
	size_t len;
	bool periods;

	while (isdigit((unsigned char)*unit))
		unit++;
	len = (size_t)(unit - value);
	while (isspace((unsigned char)*unit))
		unit++;
	periods = strcmp(unit, "period") == 0 || strcmp(unit, "periods") == 0;
	if (!len || len >= sizeof(num) || (*unit && !periods && strcmp(unit, "s")))
		return fail(p, "rating", key, "must be seconds ('7200') or periods ('2 periods'): '%s'",
			    value);
	memcpy(num, value, len);
	num[len] = '\0';
	if (parse_u64(num, 0, periods ? 1000 : 366 * 86400, 0, &n))
		return fail(p, "rating", key, "out of range [0, %s]: '%s'",
			    periods ? "1000 periods" : "31622400 s", value);
	c->close_wait = (uint32_t)n;
	c->close_wait_periods = periods;
	return 1;
}

/* A user name as useradd(8) takes them: no path or separator characters. */
static int set_user(struct parse_ctx *p, const char *key, const char *value)
{
	for (const char *s = value; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("._-", *s))
			return fail(p, "rater", key, "not a user name: '%s'", value);
	return set_str(p, key, value, p->c->user, sizeof(p->c->user));
}

static int set_num(struct parse_ctx *p, const char *key, const char *value, uint64_t min,
		   uint64_t max, int suffix, uint64_t *dst)
{
	int err = parse_u64(value, min, max, suffix, dst);

	if (err == -EINVAL)
		return fail(p, "rater", key, "not a number: '%s'", value);
	if (err)
		return fail(p, "rater", key, "out of range [%llu, %llu]: '%s'", (unsigned long long)min,
			    (unsigned long long)max, value);
	return 1;
}

static int set_u32(struct parse_ctx *p, const char *key, const char *value, uint64_t min,
		   uint64_t max, uint32_t *dst)
{
	uint64_t n;

	if (parse_u64(value, min, max, 0, &n))
		return set_num(p, key, value, min, max, 0, &n); /* reports */
	*dst = (uint32_t)n;
	return 1;
}

static int on_key(void *user, const char *section, const char *key, const char *value)
{
	struct parse_ctx *p = user;
	struct rater_config *c = p->c;

	if (strcmp(section, "rating") == 0) {
		if (strcmp(key, "rules") == 0)
			return set_str_in(p, section, key, value, c->rules, sizeof(c->rules));
		if (strcmp(key, "metrics") == 0)
			return set_str_in(p, section, key, value, c->metrics, sizeof(c->metrics));
		if (strcmp(key, "close_wait") == 0)
			return set_close_wait(p, key, value);
		return fail(p, section, key, "unknown key");
	}
	if (strcmp(section, "rater"))
		return fail(p, section, key, "unknown section");
	if (strcmp(key, "listen") == 0) {
		char host[256];
		uint16_t port;

		if (tls_addr_split(value, host, sizeof(host), &port))
			return fail(p, section, key, "must be HOST:PORT or [IPv6]:PORT: '%s'", value);
		return set_str(p, key, value, c->listen, sizeof(c->listen));
	}
	if (strcmp(key, "store") == 0)
		return set_str(p, key, value, c->store, sizeof(c->store));
	if (strcmp(key, "store_max_bytes") == 0)
		return set_num(p, key, value, 1ull << 20, 1ull << 44, 1, &c->store_max_bytes);
	if (strcmp(key, "ca") == 0)
		return set_str(p, key, value, c->ca, sizeof(c->ca));
	if (strcmp(key, "cert") == 0)
		return set_str(p, key, value, c->cert, sizeof(c->cert));
	if (strcmp(key, "key") == 0)
		return set_str(p, key, value, c->key, sizeof(c->key));
	if (strcmp(key, "idle_timeout") == 0)
		return set_u32(p, key, value, 1, 86400, &c->idle_timeout);
	if (strcmp(key, "max_hosts") == 0)
		return set_u32(p, key, value, 1, 1000000, &c->max_hosts);
	if (strcmp(key, "period") == 0)
		return set_u32(p, key, value, 60, 31 * 86400, &c->period);
	if (strcmp(key, "user") == 0)
		return set_user(p, key, value);
	if (strcmp(key, "allow_root") == 0)
		return set_bool(p, section, key, value, &c->allow_root);
	if (strcmp(key, "log_level") == 0) {
		for (int i = 0; i <= RLOG_DEBUG; i++)
			if (strcmp(value, level_names[i]) == 0) {
				c->log_level = (enum rater_log_level)i;
				return 1;
			}
		return fail(p, section, key, "must be error, warn, info or debug: '%s'", value);
	}
	return fail(p, section, key, "unknown key");
}

static int parse(struct parse_ctx *p)
{
	struct rater_config *c = p->c;
	int err = ini_reader_run(&p->r);

	if (err)
		return err;
	/* the whole file is in: what must be there together */
	if (!c->ca[0] || !c->cert[0] || !c->key[0]) {
		ini_fail_file(&p->r, "[rater] %s: required (mutual TLS needs ca, cert and key)",
			      !c->ca[0] ? "ca" : !c->cert[0] ? "cert" : "key");
		return -EINVAL;
	}
	return 0;
}

static int parse_from(struct rater_config *c, const char *name, const char *text,
		      char err[RATER_ERR_MAX])
{
	struct parse_ctx p = {
		.r = { .name = name, .text = text, .err = err, .err_len = RATER_ERR_MAX,
		       .on_key = on_key },
		.c = c,
	};

	p.r.user = &p;
	rater_config_defaults(c);
	return parse(&p);
}

int rater_config_parse_string(struct rater_config *c, const char *name, const char *text,
			      char err[RATER_ERR_MAX])
{
	return parse_from(c, name, text, err);
}

int rater_config_load(struct rater_config *c, const char *path, char err[RATER_ERR_MAX])
{
	return parse_from(c, path, NULL, err);
}

void rater_config_print(const struct rater_config *c, FILE *out)
{
	fprintf(out, "[rater]\n");
	fprintf(out, "listen = %s\n", c->listen);
	fprintf(out, "store = %s\n", c->store);
	fprintf(out, "store_max_bytes = %llu\n", (unsigned long long)c->store_max_bytes);
	fprintf(out, "ca = %s\n", c->ca);
	fprintf(out, "cert = %s\n", c->cert);
	fprintf(out, "key = %s\n", c->key);
	fprintf(out, "idle_timeout = %u\n", c->idle_timeout);
	fprintf(out, "max_hosts = %u\n", c->max_hosts);
	fprintf(out, "period = %u\n", c->period);
	fprintf(out, "log_level = %s\n", rater_log_level_name(c->log_level));
	if (c->user[0])
		fprintf(out, "user = %s\n", c->user);
	else
		fprintf(out, "# user = (none)\n");
	fprintf(out, "allow_root = %s\n", c->allow_root ? "yes" : "no");
	fprintf(out, "[rating]\n");
	fprintf(out, "%srules = %s\n", c->rules[0] ? "" : "# ", c->rules[0] ? c->rules : "(none)");
	fprintf(out, "%smetrics = %s\n", c->metrics[0] ? "" : "# ",
		c->metrics[0] ? c->metrics : "(none)");
	if (c->close_wait_periods)
		fprintf(out, "close_wait = %u period%s\n", c->close_wait, c->close_wait == 1 ? "" : "s");
	else
		fprintf(out, "close_wait = %u\n", c->close_wait);
}
