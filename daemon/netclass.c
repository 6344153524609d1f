/*
 * netclass.c — class file parser (see netclass.h for the format).
 *
 * Works on a buffer with explicit length, so a fuzzer can feed it anything;
 * every limit (file size, line fields, names, rules, ids) is checked before
 * use.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <mbedtls/sha256.h>

#include "daemon/netclass.h"

#define TOKEN_MAX 64 /* longest CIDR: 45 for the address, '/', 3 digits */

static const char default_name[] = "default";

__attribute__((format(printf, 5, 6)))
static void errf(char *err, size_t errlen, const char *fname, unsigned int line,
		 const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line)
		snprintf(err, errlen, "%s:%u: %s", fname, line, msg);
	else
		snprintf(err, errlen, "%s: %s", fname, msg);
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static bool name_valid(const char *s, size_t n)
{
	if (n == 0 || n > NETCLASS_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* Id of @name in @ids, or -ENOENT. */
static int ids_find(const struct netclass_ids *ids, const char *name)
{
	for (int i = 0; i < NETCLASS_IDS; i++)
		if (ids->name[i][0] && strcmp(ids->name[i], name) == 0)
			return i;
	return -ENOENT;
}

/* Takes the lowest id never used in @ids for @name, or -ENOSPC. */
static int ids_add(struct netclass_ids *ids, const char *name)
{
	for (int i = 1; i <= NETCLASS_CLASSES_MAX; i++) {
		if (!ids->name[i][0]) {
			snprintf(ids->name[i], sizeof(ids->name[i]), "%s", name);
			return i;
		}
	}
	return -ENOSPC;
}

/*
 * Parses "ADDR/LEN" (@s, @n bytes, no NUL inside) into @p. Returns 0, or
 * -EINVAL with a reason in @why.
 */
static int cidr_parse(const char *s, size_t n, struct netclass_prefix *p, const char **why)
{
	char tok[TOKEN_MAX + 1];
	const char *slash;
	unsigned int len = 0, max;
	size_t digits;

	if (n > TOKEN_MAX) {
		*why = "is too long to be a CIDR";
		return -EINVAL;
	}
	memcpy(tok, s, n);
	tok[n] = '\0';
	slash = strchr(tok, '/');
	if (!slash) {
		*why = "has no /prefix-length";
		return -EINVAL;
	}
	tok[slash - tok] = '\0';
	memset(p, 0, sizeof(*p));
	if (strchr(tok, ':')) {
		p->family = 6;
		max = 128;
		if (inet_pton(AF_INET6, tok, p->addr) != 1) {
			*why = "is not a valid IPv6 address";
			return -EINVAL;
		}
	} else {
		p->family = 4;
		max = 32;
		if (inet_pton(AF_INET, tok, p->addr) != 1) {
			*why = "is not a valid IPv4 address (a.b.c.d)";
			return -EINVAL;
		}
	}
	digits = strlen(slash + 1);
	if (digits == 0 || digits > 3 || strspn(slash + 1, "0123456789") != digits) {
		*why = "has a malformed prefix length";
		return -EINVAL;
	}
	for (size_t i = 0; i < digits; i++)
		len = len * 10 + (unsigned int)(slash[1 + i] - '0');
	if (len > max) {
		*why = p->family == 4 ? "has a prefix length above 32" : "has a prefix length above 128";
		return -EINVAL;
	}
	p->len = (uint8_t)len;
	for (unsigned int bit = len; bit < max; bit++) {
		if (p->addr[bit / 8] & (0x80 >> (bit % 8))) {
			*why = "has host bits set";
			return -EINVAL;
		}
	}
	return 0;
}

int netclass_prefix_format(const struct netclass_prefix *p, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];
	int n;

	if (!inet_ntop(p->family == 4 ? AF_INET : AF_INET6, p->addr, a, sizeof(a)))
		return -EINVAL;
	n = snprintf(buf, len, "%s/%u", a, p->len);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* Orders by family, address, length, then line: duplicates end up adjacent,
 * first definition first. */
static int prefix_cmp(const void *a, const void *b)
{
	const struct netclass_prefix *x = a, *y = b;
	int c;

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	c = memcmp(x->addr, y->addr, sizeof(x->addr));
	if (c)
		return c;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return x->line < y->line ? -1 : x->line > y->line;
}

static bool prefix_same(const struct netclass_prefix *a, const struct netclass_prefix *b)
{
	return a->family == b->family && a->len == b->len &&
	       memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}

/*
 * Sorts the rules and refuses a prefix given twice. Equal prefixes sort
 * together, by line: in each run the first entry is the first definition
 * and the second the first repeat; the message names the repeat that comes
 * first in the file.
 */
static int duplicates_check(struct netclass *nc, const char *fname, char *err, size_t errlen)
{
	const struct netclass_prefix *first = NULL, *repeat = NULL;
	char p[INET6_ADDRSTRLEN + 8];
	size_t run = 0;

	qsort(nc->prefixes, nc->n_prefixes, sizeof(nc->prefixes[0]), prefix_cmp);
	for (size_t i = 1; i < nc->n_prefixes; i++) {
		if (!prefix_same(&nc->prefixes[run], &nc->prefixes[i])) {
			run = i;
			continue;
		}
		if (i == run + 1 && (!repeat || nc->prefixes[i].line < repeat->line)) {
			first = &nc->prefixes[run];
			repeat = &nc->prefixes[i];
		}
	}
	if (!repeat)
		return 0;
	netclass_prefix_format(repeat, p, sizeof(p));
	errf(err, errlen, fname, repeat->line, "duplicate prefix %s (first on line %u)", p,
	     first->line);
	return -EINVAL;
}

static struct netclass *netclass_new(const struct netclass_ids *prev)
{
	struct netclass *nc = calloc(1, sizeof(*nc));

	if (!nc)
		return NULL;
	if (prev)
		nc->ids = *prev;
	for (int i = 0; i < NETCLASS_IDS; i++) /* whatever @prev held: terminated */
		nc->ids.name[i][NETCLASS_NAME_MAX] = '\0';
	snprintf(nc->ids.name[NETCLASS_ID_DEFAULT], sizeof(nc->ids.name[0]), "%s", default_name);
	nc->ids.name[NETCLASS_ID_LOST][0] = '\0';
	nc->in_file[NETCLASS_ID_DEFAULT] = true;
	return nc;
}

/* Parses one rule line (comment already cut). Returns 0 (blank or a rule
 * appended), or -errno with @err set. */
static int line_parse(struct netclass *nc, size_t *cap, const char *s, size_t n,
		      const char *fname, unsigned int ln, char *err, size_t errlen)
{
	const char *f[3];
	size_t fl[3], nf = 0, i = 0;
	char name[NETCLASS_NAME_MAX + 1];
	struct netclass_prefix p;
	const char *why;
	int id;

	while (i < n) {
		while (i < n && is_blank(s[i]))
			i++;
		if (i == n)
			break;
		if (nf == 3) {
			nf++;
			break;
		}
		f[nf] = s + i;
		while (i < n && !is_blank(s[i]))
			i++;
		fl[nf] = (size_t)(s + i - f[nf]);
		nf++;
	}
	if (nf == 0)
		return 0;
	if (nf != 2) {
		errf(err, errlen, fname, ln, "expected \"CIDR CLASS-NAME\", found %s field%s",
		     nf > 3 ? "more than 3" : nf == 3 ? "3" : "1", nf == 1 ? "" : "s");
		return -EINVAL;
	}
	if (cidr_parse(f[0], fl[0], &p, &why)) {
		errf(err, errlen, fname, ln, "\"%.*s\" %s", (int)(fl[0] > TOKEN_MAX ? TOKEN_MAX : fl[0]),
		     f[0], why);
		return -EINVAL;
	}
	if (!name_valid(f[1], fl[1])) {
		errf(err, errlen, fname, ln,
		     "class name \"%.*s\" is not 1 to %d of [a-z0-9_-]",
		     (int)(fl[1] > NETCLASS_NAME_MAX ? NETCLASS_NAME_MAX : fl[1]), f[1],
		     NETCLASS_NAME_MAX);
		return -EINVAL;
	}
	memcpy(name, f[1], fl[1]);
	name[fl[1]] = '\0';
	id = ids_find(&nc->ids, name);
	if (id < 0)
		id = ids_add(&nc->ids, name);
	if (id < 0) {
		errf(err, errlen, fname, ln,
		     "no class id left for \"%s\": %d class names used since the counters "
		     "started (ids come free when counting restarts)",
		     name, NETCLASS_CLASSES_MAX);
		return -ENOSPC;
	}
	if (nc->n_prefixes == NETCLASS_PREFIXES_MAX) {
		errf(err, errlen, fname, ln, "more than %d rules", NETCLASS_PREFIXES_MAX);
		return -E2BIG;
	}
	if (nc->n_prefixes == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		struct netclass_prefix *v = realloc(nc->prefixes, ncap * sizeof(*v));

		if (!v) {
			errf(err, errlen, fname, ln, "out of memory");
			return -ENOMEM;
		}
		nc->prefixes = v;
		*cap = ncap;
	}
	p.class_id = (uint8_t)id;
	p.line = ln;
	nc->prefixes[nc->n_prefixes++] = p;
	nc->in_file[id] = true;
	return 0;
}

int netclass_parse(const char *buf, size_t len, const char *fname,
		   const struct netclass_ids *prev, struct netclass **out,
		   char *err, size_t errlen)
{
	struct netclass *nc = NULL;
	size_t cap = 0, pos = 0;
	unsigned int ln = 0;
	int ret = 0;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	if (!fname)
		fname = "(class file)";
	if (len > NETCLASS_FILE_MAX) {
		errf(err, errlen, fname, 0, "larger than %d bytes", NETCLASS_FILE_MAX);
		return -E2BIG;
	}
	nc = netclass_new(prev);
	if (!nc) {
		errf(err, errlen, fname, 0, "out of memory");
		return -ENOMEM;
	}
	while (pos < len) {
		const char *s = buf + pos, *nl = memchr(s, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - s) : len - pos;
		const char *hash = memchr(s, '#', n);

		ln++;
		pos += n + (nl ? 1 : 0);
		if (memchr(s, '\0', n)) {
			errf(err, errlen, fname, ln, "NUL byte in the line");
			ret = -EINVAL;
			goto cleanup;
		}
		if (hash)
			n = (size_t)(hash - s);
		ret = line_parse(nc, &cap, s, n, fname, ln, err, errlen);
		if (ret)
			goto cleanup;
	}

	if (nc->n_prefixes > 1) {
		ret = duplicates_check(nc, fname, err, errlen);
		if (ret)
			goto cleanup;
	}
	if (mbedtls_sha256_ret((const unsigned char *)buf, len, nc->sha256, 0) != 0) {
		errf(err, errlen, fname, 0, "SHA-256 failed");
		ret = -EIO;
		goto cleanup;
	}
	*out = nc;
	nc = NULL;
cleanup:
	netclass_free(nc);
	return ret;
}

int netclass_load(const char *path, const struct netclass_ids *prev,
		  struct netclass **out, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	struct stat st;
	int fd, ret;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		errf(err, errlen, path, 0, "cannot open: %s", strerror(-ret));
		return ret;
	}
	if (fstat(fd, &st) != 0) {
		ret = -errno;
		errf(err, errlen, path, 0, "cannot stat: %s", strerror(-ret));
		goto cleanup;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = -EINVAL;
		errf(err, errlen, path, 0, "not a regular file");
		goto cleanup;
	}
	if (st.st_size > NETCLASS_FILE_MAX) {
		ret = -E2BIG;
		errf(err, errlen, path, 0, "larger than %d bytes", NETCLASS_FILE_MAX);
		goto cleanup;
	}
	/* One byte more than the size: a file that grows meanwhile is seen. */
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		ret = -ENOMEM;
		errf(err, errlen, path, 0, "out of memory");
		goto cleanup;
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, (size_t)st.st_size + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			errf(err, errlen, path, 0, "cannot read: %s", strerror(-ret));
			goto cleanup;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > (size_t)st.st_size) {
			ret = -EAGAIN;
			errf(err, errlen, path, 0, "changed while being read");
			goto cleanup;
		}
	}
	ret = netclass_parse(buf, len, path, prev, out, err, errlen);
cleanup:
	free(buf);
	close(fd);
	return ret;
}

int netclass_empty(const struct netclass_ids *prev, struct netclass **out)
{
	return netclass_parse("", 0, NULL, prev, out, NULL, 0);
}

void netclass_free(struct netclass *nc)
{
	if (!nc)
		return;
	free(nc->prefixes);
	free(nc);
}

const char *netclass_name(const struct netclass *nc, unsigned int id)
{
	if (id >= NETCLASS_IDS || !nc->ids.name[id][0])
		return NULL;
	return nc->ids.name[id];
}

int netclass_id(const struct netclass *nc, const char *name)
{
	return ids_find(&nc->ids, name);
}

void netclass_sha256_hex(const struct netclass *nc, char out[2 * NETCLASS_SHA256_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";

	for (int i = 0; i < NETCLASS_SHA256_LEN; i++) {
		out[2 * i] = hex[nc->sha256[i] >> 4];
		out[2 * i + 1] = hex[nc->sha256[i] & 15];
	}
	out[2 * NETCLASS_SHA256_LEN] = '\0';
}
