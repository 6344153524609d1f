#include "daemon/config.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ini.h>

#include "ipmi/bmc.h"

void config_defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	if (gethostname(c->host_id, sizeof(c->host_id) - 1) < 0 || !c->host_id[0])
		strcpy(c->host_id, "localhost");
	c->interval = 10;
	strcpy(c->store, "/var/lib/hvmeter");
	c->store_max_bytes = 256ull << 20;
	c->retention = 30ull * 86400;
	c->log_level = LOG_LVL_INFO;
	c->bpf = BPF_AUTO;
	strcpy(c->bpf_pin_dir, "/sys/fs/bpf/hvmeter");
	strcpy(c->libvirt_uri, "qemu:///system");
	strcpy(c->bmc_driver, "none");
	c->bmc_port = 623;
	c->bmc_cipher_suite = 3;
	strcpy(c->bmc_privilege, "user");
	c->bmc_timeout_ms = 2000;
	c->bmc_poll_ms = 1000;
	strcpy(c->bmc_maps_dir, "/usr/share/hvmeter/firmware-configs");
	c->libvirt_timeout = 5;
	uplink_config_defaults(&c->uplink);
}

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

/* Parser state: inih reads through line_reader so we always know the line. */
struct parse_ctx {
	struct config *c;
	const char *name;
	const char *text;   /* string input, or NULL */
	size_t off;
	FILE *fp;
	int line;
	char *err;
	int failed;
};

static char *line_reader(char *str, int num, void *stream)
{
	struct parse_ctx *p = stream;

	if (p->fp) {
		if (!fgets(str, num, p->fp))
			return NULL;
	} else {
		size_t n = 0;

		if (!p->text[p->off])
			return NULL;
		while (p->text[p->off] && n + 1 < (size_t)num) {
			char ch = p->text[p->off++];

			str[n++] = ch;
			if (ch == '\n')
				break;
		}
		str[n] = '\0';
	}
	p->line++;
	return str;
}

static int fail(struct parse_ctx *p, const char *section, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(struct parse_ctx *p, const char *section, const char *key, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	if (p->failed++) /* report the first error only: one clear line */
		return 0;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	snprintf(p->err, CONFIG_ERR_MAX, "%s:%d: [%s] %s: %s", p->name, p->line, section, key, why);
	return 0;
}

static int set_str(struct parse_ctx *p, const char *section, const char *key, const char *value,
		   char *dst, size_t cap)
{
	if (!value[0])
		return fail(p, section, key, "must not be empty");
	if (strlen(value) >= cap)
		return fail(p, section, key, "too long: '%.64s...'", value);
	strcpy(dst, value);
	return 1;
}

/* For keys whose empty value means "not set". */
static int set_opt_str(struct parse_ctx *p, const char *section, const char *key,
		       const char *value, char *dst, size_t cap)
{
	if (strlen(value) >= cap)
		return fail(p, section, key, "too long: '%.64s...'", value);
	strcpy(dst, value);
	return 1;
}

static int set_num(struct parse_ctx *p, const char *section, const char *key, const char *value,
		   uint64_t min, uint64_t max, int suffix, uint64_t *dst)
{
	int err = parse_u64(value, min, max, suffix, dst);

	if (err == -EINVAL)
		return fail(p, section, key, "not a number: '%s'", value);
	if (err == -ERANGE)
		return fail(p, section, key, "out of range [%llu, %llu]: '%s'",
			    (unsigned long long)min, (unsigned long long)max, value);
	return 1;
}

static int on_key(void *user, const char *section, const char *key, const char *value)
{
	struct parse_ctx *p = user;
	struct config *c = p->c;
	uint64_t n;

	if (strcmp(section, "agent") == 0) {
		if (strcmp(key, "host_id") == 0) {
			for (const char *q = value; *q; q++)
				if (!isalnum((unsigned char)*q) && !strchr("-_.", *q))
					return fail(p, section, key,
						    "may hold only letters, digits, '-', '_', '.': '%s'", value);
			return set_str(p, section, key, value, c->host_id, sizeof(c->host_id));
		}
		if (strcmp(key, "interval") == 0) {
			if (set_num(p, section, key, value, 1, 3600, 0, &n) > 0)
				c->interval = (uint32_t)n;
			return 1;
		}
		if (strcmp(key, "store") == 0)
			return set_str(p, section, key, value, c->store, sizeof(c->store));
		if (strcmp(key, "store_max_bytes") == 0)
			return set_num(p, section, key, value, 128ull << 10, 1ull << 40, 1, &c->store_max_bytes);
		if (strcmp(key, "retention") == 0) {
			int err = parse_duration(value, 1, 3650ull * 86400, &c->retention);

			if (err == -EINVAL)
				return fail(p, section, key, "not a duration (N, Ns, Nm, Nh or Nd): '%s'", value);
			if (err == -ERANGE)
				return fail(p, section, key, "out of range [1s, 3650d]: '%s'", value);
			return 1;
		}
		if (strcmp(key, "log_level") == 0) {
			if (log_level_parse(value, &c->log_level))
				return fail(p, section, key,
					    "must be error, warn, info or debug: '%s'", value);
			return 1;
		}
		if (strcmp(key, "bpf") == 0) {
			if (strcmp(value, "auto") == 0)
				c->bpf = BPF_AUTO;
			else if (strcmp(value, "on") == 0)
				c->bpf = BPF_ON;
			else if (strcmp(value, "off") == 0)
				c->bpf = BPF_OFF;
			else
				return fail(p, section, key, "must be auto, on or off: '%s'", value);
			return 1;
		}
		if (strcmp(key, "bpf_pin_dir") == 0)
			return set_str(p, section, key, value, c->bpf_pin_dir, sizeof(c->bpf_pin_dir));
	} else if (strcmp(section, "libvirt") == 0) {
		if (strcmp(key, "uri") == 0)
			return set_str(p, section, key, value, c->libvirt_uri, sizeof(c->libvirt_uri));
		if (strcmp(key, "timeout") == 0) {
			if (set_num(p, section, key, value, 1, 600, 0, &n) > 0)
				c->libvirt_timeout = (uint32_t)n;
			return 1;
		}
	} else if (strcmp(section, "bmc") == 0) {
		if (strcmp(key, "driver") == 0) {
			enum bmc_driver d;

			if (strcmp(value, "none") && bmc_driver_parse(value, &d))
				return fail(p, section, key, "must be none, inband, lan20 or lan15: '%s'", value);
			return set_str(p, section, key, value, c->bmc_driver, sizeof(c->bmc_driver));
		}
		if (strcmp(key, "host") == 0)
			return set_opt_str(p, section, key, value, c->bmc_host, sizeof(c->bmc_host));
		if (strcmp(key, "user") == 0)
			return set_opt_str(p, section, key, value, c->bmc_user, sizeof(c->bmc_user));
		if (strcmp(key, "password") == 0)
			return set_opt_str(p, section, key, value, c->bmc_password, sizeof(c->bmc_password));
		if (strcmp(key, "password_file") == 0)
			return set_opt_str(p, section, key, value, c->bmc_password_file,
					   sizeof(c->bmc_password_file));
		if (strcmp(key, "privilege") == 0) {
			enum bmc_privilege pr;

			if (bmc_privilege_parse(value, &pr))
				return fail(p, section, key, "must be user, operator or admin: '%s'", value);
			return set_str(p, section, key, value, c->bmc_privilege, sizeof(c->bmc_privilege));
		}
		if (strcmp(key, "workarounds") == 0) {
			struct bmc_workarounds w;
			char why[160];

			if (value[0] && bmc_workarounds_parse(value, &w, why, sizeof(why)))
				return fail(p, section, key, "%s", why);
			if (strlen(value) >= sizeof(c->bmc_workarounds))
				return fail(p, section, key, "too long");
			strcpy(c->bmc_workarounds, value);
			return 1;
		}
		if (strcmp(key, "map") == 0) {
			if (strlen(value) >= sizeof(c->bmc_map))
				return fail(p, section, key, "too long");
			strcpy(c->bmc_map, strcmp(value, "auto") ? value : "");
			return 1;
		}
		if (strcmp(key, "maps_dir") == 0)
			return set_str(p, section, key, value, c->bmc_maps_dir, sizeof(c->bmc_maps_dir));
		{
			static const struct { const char *key; uint64_t min, max; size_t off; } nums[] = {
				{ "port", 1, 65535, offsetof(struct config, bmc_port) },
				{ "cipher_suite", 0, 17, offsetof(struct config, bmc_cipher_suite) },
				{ "timeout_ms", 100, 60000, offsetof(struct config, bmc_timeout_ms) },
				{ "poll_ms", 100, 60000, offsetof(struct config, bmc_poll_ms) },
				{ "idle_watts", 0, 100000, offsetof(struct config, idle_watts) },
			};

			for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
				if (strcmp(key, nums[i].key))
					continue;
				if (set_num(p, section, key, value, nums[i].min, nums[i].max, 0, &n) > 0)
					*(uint32_t *)((char *)c + nums[i].off) = (uint32_t)n;
				return 1;
			}
		}
	} else if (strcmp(section, "network") == 0) {
		if (strcmp(key, "classes") == 0) {
			/* empty means no class file: the one place an empty value is valid */
			if (strlen(value) >= sizeof(c->net_classes))
				return fail(p, section, key, "too long");
			strcpy(c->net_classes, value);
			return 1;
		}
	} else if (strcmp(section, "uplink") == 0) {
		char why[256];
		int rc = uplink_config_key(&c->uplink, key, value, why, sizeof(why));

		if (rc > 0)
			return 1;
		if (rc == 0)
			return fail(p, section, key, "%s", why);
	} else {
		return fail(p, section, key, "unknown section");
	}
	return fail(p, section, key, "unknown key");
}

static int parse(struct parse_ctx *p)
{
	int rc = ini_parse_stream(line_reader, p, on_key, p);

	if (rc == 0 && !p->failed) {
		char why[300];

		/* the [uplink] keys that only make sense together */
		if (uplink_config_check(&p->c->uplink, why, sizeof(why))) {
			snprintf(p->err, CONFIG_ERR_MAX, "%s: [uplink] %s", p->name, why);
			return -EINVAL;
		}
		return 0;
	}
	if (rc < 0) {
		snprintf(p->err, CONFIG_ERR_MAX, "%s: cannot read: %s", p->name, strerror(errno));
		return -EIO;
	}
	if (!p->failed) /* inih's own syntax error: no key handler ran */
		snprintf(p->err, CONFIG_ERR_MAX,
			 "%s:%d: syntax error (expected 'key = value' or '[section]')", p->name, rc);
	return -EINVAL;
}

int config_parse_string(struct config *c, const char *name, const char *text,
			char err[CONFIG_ERR_MAX])
{
	struct parse_ctx p = { .c = c, .name = name, .text = text, .err = err };

	config_defaults(c);
	err[0] = '\0';
	return parse(&p);
}

int config_load(struct config *c, const char *path, char err[CONFIG_ERR_MAX])
{
	struct parse_ctx p = { .c = c, .name = path, .err = err };
	int rc;

	config_defaults(c);
	err[0] = '\0';
	p.fp = fopen(path, "re");
	if (!p.fp) {
		rc = -errno;
		snprintf(err, CONFIG_ERR_MAX, "%s: cannot open: %s", path, strerror(-rc));
		return rc;
	}
	rc = parse(&p);
	fclose(p.fp);
	return rc;
}

void config_print(const struct config *c, FILE *out)
{
	static const char *const bpf_names[] = { "auto", "on", "off" };
	char dur[32];

	fprintf(out, "[agent]\n");
	fprintf(out, "host_id = %s\n", c->host_id);
	fprintf(out, "interval = %u\n", c->interval);
	fprintf(out, "store = %s\n", c->store);
	fprintf(out, "store_max_bytes = %llu\n", (unsigned long long)c->store_max_bytes);
	duration_format(c->retention, dur, sizeof(dur));
	fprintf(out, "retention = %s\n", dur);
	fprintf(out, "log_level = %s\n", log_level_name(c->log_level));
	fprintf(out, "bpf = %s\n", bpf_names[c->bpf]);
	fprintf(out, "bpf_pin_dir = %s\n", c->bpf_pin_dir);
	fprintf(out, "\n[libvirt]\n");
	fprintf(out, "uri = %s\n", c->libvirt_uri);
	fprintf(out, "timeout = %u\n", c->libvirt_timeout);
	fprintf(out, "\n[bmc]\n");
	fprintf(out, "driver = %s\n", c->bmc_driver);
	fprintf(out, "host = %s\n", c->bmc_host);
	fprintf(out, "port = %u\n", c->bmc_port);
	fprintf(out, "user = %s\n", c->bmc_user);
	fprintf(out, "password = %s\n", c->bmc_password[0] ? "(set, not shown)" : "");
	fprintf(out, "password_file = %s\n", c->bmc_password_file);
	fprintf(out, "cipher_suite = %u\n", c->bmc_cipher_suite);
	fprintf(out, "privilege = %s\n", c->bmc_privilege);
	fprintf(out, "workarounds = %s\n", c->bmc_workarounds);
	fprintf(out, "timeout_ms = %u\n", c->bmc_timeout_ms);
	fprintf(out, "poll_ms = %u\n", c->bmc_poll_ms);
	fprintf(out, "map = %s\n", c->bmc_map[0] ? c->bmc_map : "auto");
	fprintf(out, "maps_dir = %s\n", c->bmc_maps_dir);
	fprintf(out, "idle_watts = %u\n", c->idle_watts);
	fprintf(out, "\n[network]\n");
	fprintf(out, "classes = %s\n", c->net_classes);
	fputc('\n', out);
	uplink_config_print(&c->uplink, out);
}
