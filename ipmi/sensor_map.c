/*
 * sensor_map.c — the .map line format (firmware-configs/README.md), map
 * sets and selector matching.
 *
 * The parser works on (buf, len) and never needs a NUL terminator: the same
 * entry point serves files and the fuzzer.
 */
#include "ipmi/sensor_map.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <freeipmi/spec/ipmi-sensor-units-spec.h>

#define MAX_TOKENS 16

struct token {
	char text[SENSOR_MAP_LINE_MAX];
	bool quoted;
};

struct parser {
	struct sensor_map *m;
	struct sensor_map_error *err;
	unsigned line;
	bool have_map, have_desc;
	struct token tok[MAX_TOKENS];
	size_t ntok;
};

static int fail(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct parser *p, const char *fmt, ...)
{
	va_list ap;

	if (p->err) {
		p->err->line = p->line;
		va_start(ap, fmt);
		vsnprintf(p->err->msg, sizeof(p->err->msg), fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

void sensor_map_error_format(const struct sensor_map_error *e, char *buf, size_t len)
{
	if (e->file[0] && e->line)
		snprintf(buf, len, "%s:%u: %s", e->file, e->line, e->msg);
	else if (e->file[0])
		snprintf(buf, len, "%s: %s", e->file, e->msg);
	else if (e->line)
		snprintf(buf, len, "line %u: %s", e->line, e->msg);
	else
		snprintf(buf, len, "%s", e->msg);
}

/* Splits one line into tokens: bare words, "quoted strings" with \" and \\, # comments. */
static int tokenize(struct parser *p, const char *s, size_t len)
{
	size_t i = 0;

	p->ntok = 0;
	while (i < len) {
		struct token *t;
		size_t o = 0;

		if (s[i] == ' ' || s[i] == '\t' || s[i] == '\r') {
			i++;
			continue;
		}
		if (s[i] == '#')
			break;
		if (p->ntok == MAX_TOKENS)
			return fail(p, "too many words (at most %d)", MAX_TOKENS);
		t = &p->tok[p->ntok++];
		t->quoted = s[i] == '"';
		if (t->quoted) {
			i++;
			for (;;) {
				if (i >= len)
					return fail(p, "unterminated string");
				if (s[i] == '"') {
					i++;
					break;
				}
				if (s[i] == '\\') {
					if (i + 1 >= len || (s[i + 1] != '"' && s[i + 1] != '\\'))
						return fail(p, "bad escape in string (only \\\" and \\\\)");
					i++;
				}
				if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
					return fail(p, "control character in string");
				t->text[o++] = s[i++];
			}
			if (i < len && s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '#')
				return fail(p, "missing blank after string");
		} else {
			while (i < len && s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '#') {
				if (s[i] == '"')
					return fail(p, "quote inside a word");
				if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
					return fail(p, "control character");
				t->text[o++] = s[i++];
			}
		}
		t->text[o] = '\0';
	}
	return 0;
}

/* Decimal or 0x hex, at most @max. */
static int parse_num(struct parser *p, const char *s, unsigned long max, const char *what, unsigned long *out)
{
	unsigned long v = 0;
	int base = 10;
	size_t i = 0;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		i = 2;
	}
	if (!s[i])
		return fail(p, "%s: \"%s\" is not a number", what, s);
	for (; s[i]; i++) {
		int d;

		if (s[i] >= '0' && s[i] <= '9')
			d = s[i] - '0';
		else if (base == 16 && s[i] >= 'a' && s[i] <= 'f')
			d = s[i] - 'a' + 10;
		else if (base == 16 && s[i] >= 'A' && s[i] <= 'F')
			d = s[i] - 'A' + 10;
		else
			return fail(p, "%s: \"%s\" is not a number", what, s);
		if (v > (max - (unsigned long)d) / (unsigned long)base)
			return fail(p, "%s: %s is above %lu", what, s, max);
		v = v * (unsigned long)base + (unsigned long)d;
	}
	*out = v;
	return 0;
}

static bool valid_name(const char *s, bool allow_dash)
{
	size_t n = strlen(s);

	if (n == 0 || n >= SENSOR_MAP_NAME_MAX)
		return false;
	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      (allow_dash && c == '-')))
			return false;
	}
	return s[n - 1] != '.';
}

static const struct {
	const char *name;
	uint8_t code;
} type_names[] = {
	{ "temperature", 0x01 }, { "voltage", 0x02 },      { "current", 0x03 },
	{ "fan", 0x04 },         { "power_supply", 0x08 }, { "power_unit", 0x09 },
	{ "cooling", 0x0a },     { "other_units", 0x0b },  { "memory", 0x0c },
};

static int parse_type(struct parser *p, const char *s, uint8_t *out)
{
	unsigned long v;

	for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++)
		if (!strcasecmp(s, type_names[i].name)) {
			*out = type_names[i].code;
			return 0;
		}
	if (s[0] >= '0' && s[0] <= '9') {
		if (parse_num(p, s, 0xff, "sensor type", &v))
			return -EINVAL;
		*out = (uint8_t)v;
		return 0;
	}
	return fail(p, "unknown sensor type \"%s\"", s);
}

/* Parses tokens [from, ntok) as a selector. */
static int parse_selector(struct parser *p, size_t from, struct sensor_selector *sel)
{
	memset(sel, 0, sizeof(*sel));
	if (from >= p->ntok)
		return fail(p, "missing sensor selector (name, glob, number, type, unit)");
	for (size_t i = from; i < p->ntok; i += 2) {
		const char *key = p->tok[i].text;
		const char *val;
		unsigned long v;
		unsigned bit;

		if (p->tok[i].quoted)
			return fail(p, "expected a selector word, got a string");
		if (!strcmp(key, "name"))
			bit = SENSOR_SEL_NAME;
		else if (!strcmp(key, "glob"))
			bit = SENSOR_SEL_GLOB;
		else if (!strcmp(key, "number"))
			bit = SENSOR_SEL_NUMBER;
		else if (!strcmp(key, "type"))
			bit = SENSOR_SEL_TYPE;
		else if (!strcmp(key, "unit"))
			bit = SENSOR_SEL_UNIT;
		else
			return fail(p, "unknown selector \"%s\"", key);
		if (i + 1 >= p->ntok)
			return fail(p, "selector \"%s\" needs a value", key);
		if (sel->has & bit)
			return fail(p, "selector \"%s\" given twice", key);
		if ((bit | sel->has) & SENSOR_SEL_NAME && (bit | sel->has) & SENSOR_SEL_GLOB)
			return fail(p, "give name or glob, not both");
		val = p->tok[i + 1].text;
		switch (bit) {
		case SENSOR_SEL_NAME:
		case SENSOR_SEL_GLOB:
			if (!val[0] || strlen(val) >= sizeof(sel->name))
				return fail(p, "sensor %s must be 1..%zu characters", key, sizeof(sel->name) - 1);
			memcpy(sel->name, val, strlen(val) + 1);
			break;
		case SENSOR_SEL_NUMBER:
			if (parse_num(p, val, 0xff, "sensor number", &v))
				return -EINVAL;
			sel->number = (uint8_t)v;
			break;
		case SENSOR_SEL_TYPE:
			if (parse_type(p, val, &sel->type))
				return -EINVAL;
			break;
		case SENSOR_SEL_UNIT:
			if (bmc_unit_parse(val, &sel->unit))
				return fail(p, "unknown unit \"%s\" (W, C, F, V, A, J, RPM, %%...)", val);
			break;
		}
		sel->has |= bit;
	}
	return 0;
}

static int directive(struct parser *p)
{
	struct sensor_map *m = p->m;
	const char *kw = p->tok[0].text;
	unsigned long v;

	if (p->tok[0].quoted)
		return fail(p, "a line must start with a directive, not a string");
	if (!p->have_map && strcmp(kw, "map"))
		return fail(p, "the first directive must be \"map NAME\"");

	if (!strcmp(kw, "map")) {
		if (p->have_map)
			return fail(p, "\"map\" given twice (one map per file)");
		if (p->ntok != 2 || !valid_name(p->tok[1].text, true))
			return fail(p, "map NAME: lowercase letters, digits, '.', '_', '-', at most %d",
				    SENSOR_MAP_NAME_MAX - 1);
		memcpy(m->name, p->tok[1].text, strlen(p->tok[1].text) + 1);
		p->have_map = true;
		return 0;
	}
	if (!strcmp(kw, "description")) {
		if (p->have_desc)
			return fail(p, "\"description\" given twice");
		if (p->ntok != 2 || strlen(p->tok[1].text) >= sizeof(m->description))
			return fail(p, "description \"TEXT\" (at most %zu characters)", sizeof(m->description) - 1);
		memcpy(m->description, p->tok[1].text, strlen(p->tok[1].text) + 1);
		p->have_desc = true;
		return 0;
	}
	if (!strcmp(kw, "match")) {
		struct sensor_map_match mt = { 0 };

		if (m->n_match == SENSOR_MAP_MAX_MATCH)
			return fail(p, "too many match lines (at most %d)", SENSOR_MAP_MAX_MATCH);
		if (p->ntok == 2 && !strcmp(p->tok[1].text, "any")) {
			mt.any = true;
		} else if ((p->ntok == 3 || p->ntok == 5) && !strcmp(p->tok[1].text, "manufacturer")) {
			if (parse_num(p, p->tok[2].text, 0xfffff, "manufacturer id", &v))
				return -EINVAL;
			mt.manufacturer_id = (uint32_t)v;
			if (p->ntok == 5) {
				if (strcmp(p->tok[3].text, "product"))
					return fail(p, "expected \"product\", got \"%s\"", p->tok[3].text);
				if (parse_num(p, p->tok[4].text, 0xffff, "product id", &v))
					return -EINVAL;
				mt.has_product = true;
				mt.product_id = (uint16_t)v;
			}
		} else {
			return fail(p, "match any | match manufacturer ID [product ID]");
		}
		m->match[m->n_match++] = mt;
		return 0;
	}
	if (!strcmp(kw, "workarounds")) {
		struct bmc_workarounds wa;
		char msg[128];
		size_t used = strlen(m->workarounds_str);

		if (p->ntok < 2)
			return fail(p, "workarounds NAME[,NAME...]");
		for (size_t i = 1; i < p->ntok; i++) {
			size_t l = strlen(p->tok[i].text);

			if (bmc_workarounds_parse(p->tok[i].text, &wa, msg, sizeof(msg)))
				return fail(p, "%s", msg);
			bmc_workarounds_merge(&m->workarounds, &wa);
			if (used + l + 2 > sizeof(m->workarounds_str))
				return fail(p, "workarounds too long");
			if (used)
				m->workarounds_str[used++] = ',';
			memcpy(m->workarounds_str + used, p->tok[i].text, l + 1);
			used += l;
		}
		return 0;
	}
	if (!strcmp(kw, "power")) {
		struct sensor_map_power pw = { 0 };

		if (m->n_power == SENSOR_MAP_MAX_POWER)
			return fail(p, "too many power lines (at most %d)", SENSOR_MAP_MAX_POWER);
		if (p->ntok == 2 && !strcmp(p->tok[1].text, "dcmi")) {
			pw.kind = SENSOR_MAP_POWER_DCMI;
		} else if (p->ntok >= 2 && !strcmp(p->tok[1].text, "sensor")) {
			pw.kind = SENSOR_MAP_POWER_SENSOR;
			if (parse_selector(p, 2, &pw.sel))
				return -EINVAL;
			if (pw.sel.has & SENSOR_SEL_UNIT && pw.sel.unit != IPMI_SENSOR_UNIT_WATTS)
				return fail(p, "a power sensor must read in W");
			/* system power is in watts whatever else the selector says */
			pw.sel.has |= SENSOR_SEL_UNIT;
			pw.sel.unit = IPMI_SENSOR_UNIT_WATTS;
		} else {
			return fail(p, "power dcmi | power sensor SELECTOR");
		}
		m->power[m->n_power++] = pw;
		return 0;
	}
	if (!strcmp(kw, "export")) {
		struct sensor_map_export ex = { 0 };

		if (m->n_export == SENSOR_MAP_MAX_EXPORT)
			return fail(p, "too many export lines (at most %d)", SENSOR_MAP_MAX_EXPORT);
		if (p->ntok < 2 || p->tok[1].quoted || !valid_name(p->tok[1].text, false))
			return fail(p, "export NAME SELECTOR: NAME is lowercase letters, digits, '.', '_'");
		memcpy(ex.name, p->tok[1].text, strlen(p->tok[1].text) + 1);
		if (parse_selector(p, 2, &ex.sel))
			return -EINVAL;
		m->exports[m->n_export++] = ex;
		return 0;
	}
	return fail(p, "unknown directive \"%s\"", kw);
}

int sensor_map_parse(const char *buf, size_t len, struct sensor_map *out, struct sensor_map_error *err)
{
	struct parser *p;
	size_t pos = 0;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (err) {
		err->line = 0;
		err->msg[0] = '\0';
	}
	/* the token buffers are too big for a fuzzer's stack */
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->m = out;
	p->err = err;
	if (len > SENSOR_MAP_MAX_BYTES) {
		rc = fail(p, "map larger than %d bytes", SENSOR_MAP_MAX_BYTES);
		goto cleanup;
	}
	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t l = nl ? (size_t)(nl - (buf + pos)) : len - pos;

		p->line++;
		if (memchr(buf + pos, '\0', l)) {
			rc = fail(p, "NUL byte");
			goto cleanup;
		}
		if (l >= SENSOR_MAP_LINE_MAX) {
			rc = fail(p, "line longer than %d characters", SENSOR_MAP_LINE_MAX - 1);
			goto cleanup;
		}
		rc = tokenize(p, buf + pos, l);
		if (rc)
			goto cleanup;
		if (p->ntok) {
			rc = directive(p);
			if (rc)
				goto cleanup;
		}
		pos += l + (nl ? 1 : 0);
	}
	p->line = 0;
	if (!p->have_map)
		rc = fail(p, "no \"map NAME\" line");
	else if (!out->n_match)
		rc = fail(p, "map %s: no \"match\" line", out->name);
	else if (!out->n_power)
		rc = fail(p, "map %s: no \"power\" line", out->name);
cleanup:
	free(p);
	return rc;
}

int sensor_map_load_file(const char *path, struct sensor_map *out, struct sensor_map_error *err)
{
	char *buf = NULL;
	size_t used = 0;
	ssize_t n;
	int fd, rc = 0;

	if (err) {
		snprintf(err->file, sizeof(err->file), "%s", path);
		err->line = 0;
		err->msg[0] = '\0';
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		rc = -errno;
		if (err)
			snprintf(err->msg, sizeof(err->msg), "%s", strerror(errno));
		return rc;
	}
	buf = malloc(SENSOR_MAP_MAX_BYTES + 1);
	if (!buf) {
		rc = -ENOMEM;
		goto cleanup;
	}
	while ((n = read(fd, buf + used, SENSOR_MAP_MAX_BYTES + 1 - used)) > 0) {
		used += (size_t)n;
		if (used > SENSOR_MAP_MAX_BYTES)
			break;
	}
	if (n < 0) {
		rc = -errno;
		if (err)
			snprintf(err->msg, sizeof(err->msg), "%s", strerror(errno));
		goto cleanup;
	}
	rc = sensor_map_parse(buf, used, out, err);
cleanup:
	free(buf);
	close(fd);
	return rc;
}

/* Compares an SDR id string to a name, ignoring case and the blanks BMCs pad with. */
static bool name_equal(const char *want, const char *have)
{
	size_t lw = strlen(want), lh = strlen(have);

	while (lh && have[lh - 1] == ' ')
		lh--;
	while (lw && want[lw - 1] == ' ')
		lw--;
	return lw == lh && strncasecmp(want, have, lw) == 0;
}

bool sensor_selector_match(const struct sensor_selector *sel, const struct bmc_sensor *s)
{
	if (!sel->has)
		return false;
	if (sel->has & SENSOR_SEL_NAME && !name_equal(sel->name, s->name))
		return false;
	if (sel->has & SENSOR_SEL_GLOB && fnmatch(sel->name, s->name, FNM_CASEFOLD) != 0)
		return false;
	if (sel->has & SENSOR_SEL_NUMBER && sel->number != s->number)
		return false;
	if (sel->has & SENSOR_SEL_TYPE && sel->type != s->type)
		return false;
	if (sel->has & SENSOR_SEL_UNIT && sel->unit != s->unit)
		return false;
	return true;
}

long sensor_selector_find(const struct sensor_selector *sel, const struct bmc_sensor *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (sensor_selector_match(sel, &list[i]))
			return (long)i;
	return -1;
}

void sensor_selector_format(const struct sensor_selector *sel, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
#define APPEND(...)                                                            \
	do {                                                                   \
		int w_ = snprintf(buf + o, o < len ? len - o : 0, __VA_ARGS__); \
		if (w_ > 0)                                                    \
			o += (size_t)w_;                                       \
		if (o >= len)                                                  \
			return;                                                \
	} while (0)
	if (sel->has & SENSOR_SEL_NAME)
		APPEND("name \"%s\"", sel->name);
	if (sel->has & SENSOR_SEL_GLOB)
		APPEND("glob \"%s\"", sel->name);
	if (sel->has & SENSOR_SEL_NUMBER)
		APPEND("%snumber 0x%02x", o ? " " : "", sel->number);
	if (sel->has & SENSOR_SEL_TYPE)
		APPEND("%stype 0x%02x", o ? " " : "", sel->type);
	if (sel->has & SENSOR_SEL_UNIT)
		APPEND("%sunit %s", o ? " " : "", bmc_unit_name(sel->unit));
#undef APPEND
}

int sensor_map_match_score(const struct sensor_map *m, uint32_t manufacturer_id, uint16_t product_id)
{
	int best = 0;

	for (size_t i = 0; i < m->n_match; i++) {
		const struct sensor_map_match *mt = &m->match[i];
		int score = 0;

		if (mt->any)
			score = 1;
		else if (mt->manufacturer_id == manufacturer_id)
			score = mt->has_product ? (mt->product_id == product_id ? 3 : 0) : 2;
		if (score > best)
			best = score;
	}
	return best;
}

static int map_name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct sensor_map *)a)->name, ((const struct sensor_map *)b)->name);
}

int sensor_map_set_add(struct sensor_map_set *set, const struct sensor_map *m)
{
	struct sensor_map *maps;

	for (size_t i = 0; i < set->n; i++)
		if (!strcmp(set->maps[i].name, m->name)) {
			set->maps[i] = *m;
			return 0;
		}
	maps = realloc(set->maps, (set->n + 1) * sizeof(*maps));
	if (!maps)
		return -ENOMEM;
	set->maps = maps;
	set->maps[set->n++] = *m;
	qsort(set->maps, set->n, sizeof(*set->maps), map_name_cmp);
	return 0;
}

static int filename_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int sensor_map_set_load_dir(struct sensor_map_set *set, const char *dir, struct sensor_map_error *err)
{
	struct sensor_map *m = NULL;
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;
	int rc = 0;

	if (err) {
		snprintf(err->file, sizeof(err->file), "%s", dir);
		err->line = 0;
		err->msg[0] = '\0';
	}
	d = opendir(dir);
	if (!d) {
		rc = -errno;
		if (err)
			snprintf(err->msg, sizeof(err->msg), "%s", strerror(errno));
		return rc;
	}
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);

		if (de->d_name[0] == '.' || l < 5 || strcmp(de->d_name + l - 4, ".map"))
			continue;
		if (n == cap) {
			char **nn = realloc(names, (cap ? cap * 2 : 16) * sizeof(*nn));

			if (!nn) {
				rc = -ENOMEM;
				goto cleanup;
			}
			names = nn;
			cap = cap ? cap * 2 : 16;
		}
		names[n] = strdup(de->d_name);
		if (!names[n]) {
			rc = -ENOMEM;
			goto cleanup;
		}
		n++;
	}
	if (n)
		qsort(names, n, sizeof(*names), filename_cmp);
	m = malloc(sizeof(*m));
	if (!m) {
		rc = -ENOMEM;
		goto cleanup;
	}
	for (size_t i = 0; i < n; i++) {
		char path[BMC_PATH_MAX];

		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, names[i]) >= sizeof(path)) {
			rc = -ENAMETOOLONG;
			goto cleanup;
		}
		rc = sensor_map_load_file(path, m, err);
		if (rc)
			goto cleanup;
		rc = sensor_map_set_add(set, m);
		if (rc)
			goto cleanup;
	}
cleanup:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(m);
	closedir(d);
	return rc;
}

const struct sensor_map *sensor_map_set_find(const struct sensor_map_set *set, const char *name)
{
	for (size_t i = 0; i < set->n; i++)
		if (!strcmp(set->maps[i].name, name))
			return &set->maps[i];
	return NULL;
}

const struct sensor_map *sensor_map_set_match(const struct sensor_map_set *set, uint32_t manufacturer_id,
					      uint16_t product_id)
{
	const struct sensor_map *best = NULL;
	int best_score = 0;

	for (size_t i = 0; i < set->n; i++) {
		int s = sensor_map_match_score(&set->maps[i], manufacturer_id, product_id);

		if (s > best_score) {
			best = &set->maps[i];
			best_score = s;
		}
	}
	return best;
}

void sensor_map_set_free(struct sensor_map_set *set)
{
	if (!set)
		return;
	free(set->maps);
	set->maps = NULL;
	set->n = 0;
}

unsigned sensor_unit_scale(uint16_t unit)
{
	switch (unit) {
	case IPMI_SENSOR_UNIT_WATTS:
	case IPMI_SENSOR_UNIT_VOLTS:
	case IPMI_SENSOR_UNIT_AMPS:
	case IPMI_SENSOR_UNIT_JOULES:
		return 3;
	case IPMI_SENSOR_UNIT_DEGREES_C:
	case IPMI_SENSOR_UNIT_DEGREES_F:
	case IPMI_SENSOR_UNIT_DEGREES_K:
	case BMC_UNIT_PERCENT:
		return 1;
	default:
		return 0;
	}
}

int64_t sensor_value_scaled(double v, unsigned scale)
{
	double f = v;

	for (unsigned i = 0; i < scale; i++)
		f *= 10.0;
	if (!(f == f))
		return 0;
	if (f >= 9.2e18)
		return INT64_MAX;
	if (f <= -9.2e18)
		return INT64_MIN;
	return llround(f);
}
