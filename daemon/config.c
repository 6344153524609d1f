#include "daemon/config.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


#include "common/ini_reader.h"
#include "daemon/prom_http.h"
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

/* Parser state: the shared INI reader, and what the checks at the end need. */
struct parse_ctx {
	struct ini_reader r;
	struct config *c;
	int prom_listen_line;  /* where [prometheus] listen was set, for the check at the end */
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
	} else if (strcmp(section, "prometheus") == 0) {
		if (strcmp(key, "listen") == 0) {
			struct sockaddr_storage ss;
			socklen_t sl;
			bool loopback;
			char why[160];

			/* empty: the endpoint is off */
			if (value[0] && prom_listen_parse(value, &ss, &sl, &loopback, why, sizeof(why)))
				return fail(p, section, key, "%s", why);
			p->prom_listen_line = p->r.line;
			return set_opt_str(p, section, key, value, c->prom_listen, sizeof(c->prom_listen));
		}
		if (strcmp(key, "allow_remote") == 0) {
			if (strcmp(value, "yes") == 0)
				c->prom_allow_remote = true;
			else if (strcmp(value, "no") == 0)
				c->prom_allow_remote = false;
			else
				return fail(p, section, key, "must be yes or no: '%s'", value);
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
	char why[300];
	int err = ini_reader_run(&p->r);

	if (err)
		return err;
	/* the [uplink] keys that only make sense together */
	if (uplink_config_check(&p->c->uplink, why, sizeof(why))) {
		ini_fail_file(&p->r, "[uplink] %s", why);
		return -EINVAL;
	}
	/* the endpoint names every VM and project and has no authentication */
	if (p->c->prom_listen[0] && !p->c->prom_allow_remote) {
		struct sockaddr_storage ss;
		socklen_t sl;
		bool loopback = false;

		prom_listen_parse(p->c->prom_listen, &ss, &sl, &loopback, why, sizeof(why));
		if (!loopback) {
			snprintf(p->r.err, p->r.err_len,
				 "%s:%d: [prometheus] listen: %s is not a loopback address "
				 "(set allow_remote = yes to serve other hosts)",
				 p->r.name, p->prom_listen_line, p->c->prom_listen);
			return -EINVAL;
		}
	}
	return 0;
}

static int parse_from(struct config *c, const char *name, const char *text, char err[CONFIG_ERR_MAX])
{
	struct parse_ctx p = {
		.r = { .name = name, .text = text, .err = err, .err_len = CONFIG_ERR_MAX,
		       .on_key = on_key },
		.c = c,
	};

	p.r.user = &p;
	config_defaults(c);
	return parse(&p);
}

int config_parse_string(struct config *c, const char *name, const char *text,
			char err[CONFIG_ERR_MAX])
{
	return parse_from(c, name, text, err);
}

int config_load(struct config *c, const char *path, char err[CONFIG_ERR_MAX])
{
	return parse_from(c, path, NULL, err);
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
	fprintf(out, "\n[prometheus]\n");
	fprintf(out, "listen = %s\n", c->prom_listen);
	fprintf(out, "allow_remote = %s\n", c->prom_allow_remote ? "yes" : "no");
	fputc('\n', out);
	uplink_config_print(&c->uplink, out);
}

/* One "key = value" of config_print's output, with the section it is in. */
struct printed_key {
	char section[16];
	char key[32];
	const char *value; /* into the printed text, up to the newline */
	size_t value_len;
};

/* Walks config_print's text: *pos advances past the next key line. 0 at the end. */
static int next_key(const char *text, size_t *pos, char *section, size_t seclen,
		    struct printed_key *k)
{
	while (text[*pos]) {
		const char *line = text + *pos, *eol = strchr(line, '\n'), *eq;
		size_t n = eol ? (size_t)(eol - line) : strlen(line);

		*pos += n + (eol != NULL);
		if (n >= 2 && line[0] == '[') {
			snprintf(section, seclen, "%.*s", (int)(n - 2), line + 1);
			continue;
		}
		eq = memchr(line, '=', n);
		if (!eq || eq == line)
			continue;
		snprintf(k->section, sizeof(k->section), "%s", section);
		snprintf(k->key, sizeof(k->key), "%.*s", (int)(eq - line - 1), line);
		k->value = eq + 1 + (eq[1] == ' ');
		k->value_len = (size_t)(line + n - k->value);
		return 1;
	}
	return 0;
}

static enum config_apply apply_kind(const char *section, const char *key)
{
	if (strcmp(section, "agent") == 0 && strcmp(key, "log_level") == 0)
		return CONFIG_APPLY_LOG;
	if (strcmp(section, "bmc") == 0)
		return CONFIG_APPLY_BMC;
	return CONFIG_APPLY_RESTART;
}

static char *print_to_string(const struct config *c)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	config_print(c, f);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

int config_diff(const struct config *old, const struct config *new, struct config_change *out,
		size_t cap)
{
	char *a = print_to_string(old), *b = print_to_string(new);
	char sa[16] = "", sb[16] = "";
	size_t pa = 0, pb = 0;
	struct printed_key ka, kb;
	int n = -ENOMEM;

	if (!a || !b)
		goto out;
	n = 0;
	/* the same function printed both: the same keys in the same order */
	while (next_key(a, &pa, sa, sizeof(sa), &ka) && next_key(b, &pb, sb, sizeof(sb), &kb)) {
		bool differ = ka.value_len != kb.value_len || memcmp(ka.value, kb.value, ka.value_len);
		bool secret = strcmp(ka.section, "bmc") == 0 && strcmp(ka.key, "password") == 0;

		/* the password prints as "(set, not shown)": compare the real ones */
		if (secret)
			differ = strcmp(old->bmc_password, new->bmc_password) != 0;
		if (!differ)
			continue;
		if ((size_t)n < cap) {
			struct config_change *c = &out[n];

			snprintf(c->section, sizeof(c->section), "%s", ka.section);
			snprintf(c->key, sizeof(c->key), "%s", ka.key);
			snprintf(c->before, sizeof(c->before), "%.*s", (int)ka.value_len, ka.value);
			snprintf(c->after, sizeof(c->after), "%.*s", (int)kb.value_len, kb.value);
			if (secret) {
				snprintf(c->before, sizeof(c->before), "%s", old->bmc_password[0] ? "(not shown)" : "");
				snprintf(c->after, sizeof(c->after), "%s", new->bmc_password[0] ? "(not shown)" : "");
			}
			c->apply = apply_kind(ka.section, ka.key);
		}
		n++;
	}
out:
	free(a);
	free(b);
	return n;
}

void config_apply(struct config *dst, const struct config *src, enum config_apply what)
{
	if (what == CONFIG_APPLY_LOG) {
		dst->log_level = src->log_level;
		return;
	}
	if (what != CONFIG_APPLY_BMC)
		return;
#define COPY(field) memcpy(&dst->field, &src->field, sizeof(dst->field))
	COPY(bmc_driver);
	COPY(bmc_host);
	COPY(bmc_port);
	COPY(bmc_user);
	COPY(bmc_password);
	COPY(bmc_password_file);
	COPY(bmc_cipher_suite);
	COPY(bmc_privilege);
	COPY(bmc_workarounds);
	COPY(bmc_timeout_ms);
	COPY(bmc_poll_ms);
	COPY(bmc_map);
	COPY(bmc_maps_dir);
	COPY(idle_watts);
#undef COPY
}
