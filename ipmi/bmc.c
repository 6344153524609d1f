/*
 * bmc.c — libfreeipmi behind bmc.h. FreeIPMI error numbers become -errno
 * here and nowhere else.
 */
#include "ipmi/bmc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <freeipmi/freeipmi.h>

struct bmc {
	struct bmc_config cfg;
	struct bmc_workarounds wa;
	ipmi_ctx_t ctx;
	ipmi_sdr_ctx_t sdr;
	ipmi_sensor_read_ctx_t sread;
	bool sdr_open;
	char cache_path[BMC_PATH_MAX + BMC_HOST_MAX + 32];
	char desc[BMC_PATH_MAX + BMC_HOST_MAX + 16];
	char err[BMC_ERR_MAX];
};

#define DEFAULT_TIMEOUT_MS 2000
#define DEFAULT_CIPHER_SUITE 3
#define DEFAULT_DEVICE "/dev/ipmi0"

static void set_err(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void set_err(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!buf || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void bmc_config_init(struct bmc_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->driver = BMC_DRIVER_INBAND;
	cfg->cipher_suite = -1;
	cfg->privilege = BMC_PRIV_USER;
	cfg->auth15 = BMC_AUTH15_MD5;
	cfg->timeout_ms = DEFAULT_TIMEOUT_MS;
}

/* FreeIPMI's api error numbers, converted once here. */
static int errnum_to_errno(int e)
{
	switch (e) {
	case IPMI_ERR_SUCCESS: return 0;
	case IPMI_ERR_USERNAME_INVALID:
	case IPMI_ERR_PASSWORD_INVALID:
	case IPMI_ERR_K_G_INVALID:
	case IPMI_ERR_PRIVILEGE_LEVEL_INSUFFICIENT:
	case IPMI_ERR_PRIVILEGE_LEVEL_CANNOT_BE_OBTAINED:
	case IPMI_ERR_AUTHENTICATION_TYPE_UNAVAILABLE:
	case IPMI_ERR_PASSWORD_VERIFICATION_TIMEOUT:
		return -EACCES;
	case IPMI_ERR_PERMISSION: return -EPERM;
	case IPMI_ERR_CIPHER_SUITE_ID_UNAVAILABLE:
	case IPMI_ERR_IPMI_2_0_UNAVAILABLE:
		return -EPROTONOSUPPORT;
	case IPMI_ERR_CONNECTION_TIMEOUT:
	case IPMI_ERR_SESSION_TIMEOUT:
	case IPMI_ERR_MESSAGE_TIMEOUT:
	case IPMI_ERR_DRIVER_TIMEOUT:
		return -ETIMEDOUT;
	case IPMI_ERR_DEVICE_NOT_FOUND:
	case IPMI_ERR_DEVICE_NOT_SUPPORTED:
		return -ENODEV;
	case IPMI_ERR_COMMAND_INVALID_OR_UNSUPPORTED:
	case IPMI_ERR_COMMAND_INVALID_FOR_SELECTED_INTERFACE:
		return -EOPNOTSUPP;
	case IPMI_ERR_BMC_BUSY:
	case IPMI_ERR_DRIVER_BUSY:
		return -EBUSY;
	case IPMI_ERR_OUT_OF_MEMORY: return -ENOMEM;
	case IPMI_ERR_HOSTNAME_INVALID: return -EHOSTUNREACH;
	case IPMI_ERR_PARAMETERS:
	case IPMI_ERR_DRIVER_PATH_REQUIRED:
		return -EINVAL;
	case IPMI_ERR_NOT_FOUND: return -ENOENT;
	default: return -EIO;
	}
}

/* Records FreeIPMI's reason for the last failure of b->ctx; returns -errno. */
static int ctx_fail(struct bmc *b, const char *what)
{
	int e = ipmi_ctx_errnum(b->ctx);

	set_err(b->err, sizeof(b->err), "%s: %s: %s", bmc_describe(b), what, ipmi_ctx_errormsg(b->ctx));
	return errnum_to_errno(e);
}

/*
 * Close-on-exec for FreeIPMI's descriptors: libfreeipmi opens its UDP socket
 * and SDR cache file without O_CLOEXEC, so we note the open descriptors
 * before a call and mark the new ones after it. Another thread's descriptor
 * opened meanwhile may get the flag too, which every hvmeter fd has anyway.
 */
struct fd_list {
	int *fd;
	size_t n, cap;
};

static int fd_cmp(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

static void fd_list_snapshot(struct fd_list *l)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;

	l->n = 0;
	if (!d)
		return;
	while ((de = readdir(d))) {
		char *end;
		long v = strtol(de->d_name, &end, 10);

		/* the listing's own descriptor is free again by the time FreeIPMI opens one */
		if (*end || end == de->d_name || v < 0 || v == dirfd(d))
			continue;
		if (l->n == l->cap) {
			size_t cap = l->cap ? l->cap * 2 : 64;
			int *p = realloc(l->fd, cap * sizeof(*p));

			if (!p)
				break;
			l->fd = p;
			l->cap = cap;
		}
		l->fd[l->n++] = (int)v;
	}
	closedir(d);
	if (l->n)
		qsort(l->fd, l->n, sizeof(*l->fd), fd_cmp);
}

static void fd_list_cloexec_new(const struct fd_list *before)
{
	struct fd_list after = { 0 };

	fd_list_snapshot(&after);
	for (size_t i = 0; i < after.n; i++) {
		int fd = after.fd[i], fl;

		if (fd <= 2 || (before->n && bsearch(&fd, before->fd, before->n, sizeof(int), fd_cmp)))
			continue;
		fl = fcntl(fd, F_GETFD);
		if (fl >= 0 && !(fl & FD_CLOEXEC))
			fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
	}
	free(after.fd);
}

/* Reads the first line of a small secret file into @buf; NUL-terminated, length in *len. */
static int read_secret_line(const char *path, char *buf, size_t cap, size_t *len, char *err, size_t errlen)
{
	char tmp[256];
	ssize_t n;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		rc = -errno;
		set_err(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return rc;
	}
	n = read(fd, tmp, sizeof(tmp) - 1);
	if (n < 0) {
		rc = -errno;
		set_err(err, errlen, "cannot read %s: %s", path, strerror(errno));
		goto cleanup;
	}
	tmp[n] = '\0';
	tmp[strcspn(tmp, "\r\n")] = '\0';
	*len = strlen(tmp);
	if (*len >= cap) {
		rc = -EINVAL;
		set_err(err, errlen, "%s: secret longer than %zu bytes", path, cap - 1);
		goto cleanup;
	}
	memcpy(buf, tmp, *len + 1);
cleanup:
	explicit_bzero(tmp, sizeof(tmp));
	close(fd);
	return rc;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* K_g: "0x" then up to 40 hex digits, or up to 20 raw bytes (as FreeIPMI's -k). */
static int read_kg(const char *path, unsigned char *kg, unsigned *kg_len, char *err, size_t errlen)
{
	char line[2 * BMC_KG_MAX + 3];
	size_t len = 0;
	int rc;

	rc = read_secret_line(path, line, sizeof(line), &len, err, errlen);
	if (rc)
		return rc;
	if (len >= 2 && line[0] == '0' && (line[1] == 'x' || line[1] == 'X')) {
		size_t digits = len - 2;

		if (digits == 0 || digits % 2 || digits / 2 > BMC_KG_MAX) {
			rc = -EINVAL;
			goto bad;
		}
		for (size_t i = 0; i < digits / 2; i++) {
			int hi = hexval(line[2 + 2 * i]), lo = hexval(line[3 + 2 * i]);

			if (hi < 0 || lo < 0) {
				rc = -EINVAL;
				goto bad;
			}
			kg[i] = (unsigned char)(hi << 4 | lo);
		}
		*kg_len = (unsigned)(digits / 2);
	} else {
		if (len > BMC_KG_MAX) {
			rc = -EINVAL;
			goto bad;
		}
		memcpy(kg, line, len);
		*kg_len = (unsigned)len;
	}
	explicit_bzero(line, sizeof(line));
	return 0;
bad:
	set_err(err, errlen, "%s: K_g must be 0x and up to 40 hex digits, or up to 20 bytes", path);
	explicit_bzero(line, sizeof(line));
	return rc;
}

static int validate(const struct bmc_config *cfg, char *err, size_t errlen)
{
	if (cfg->driver != BMC_DRIVER_INBAND && cfg->driver != BMC_DRIVER_LAN20 &&
	    cfg->driver != BMC_DRIVER_LAN15) {
		set_err(err, errlen, "unknown BMC driver %d", (int)cfg->driver);
		return -EINVAL;
	}
	if (cfg->timeout_ms && (cfg->timeout_ms < 100 || cfg->timeout_ms > 60000)) {
		set_err(err, errlen, "BMC timeout %u ms out of range 100..60000", cfg->timeout_ms);
		return -EINVAL;
	}
	if (cfg->driver == BMC_DRIVER_INBAND)
		return 0;
	if (!cfg->host[0]) {
		set_err(err, errlen, "%s: no BMC host given", bmc_driver_name(cfg->driver));
		return -EINVAL;
	}
	if (cfg->port > 65535) {
		set_err(err, errlen, "BMC port %u out of range", cfg->port);
		return -EINVAL;
	}
	if (cfg->password[0] && cfg->password_file[0]) {
		set_err(err, errlen, "give a BMC password or a password file, not both");
		return -EINVAL;
	}
	if (cfg->cipher_suite < -1 || cfg->cipher_suite > 17) {
		set_err(err, errlen, "cipher suite %d out of range 0..17", cfg->cipher_suite);
		return -EINVAL;
	}
	if (cfg->privilege > BMC_PRIV_ADMIN || cfg->auth15 > BMC_AUTH15_NONE) {
		set_err(err, errlen, "bad BMC privilege or authentication type");
		return -EINVAL;
	}
	return 0;
}

static uint8_t privilege_code(enum bmc_privilege p)
{
	switch (p) {
	case BMC_PRIV_OPERATOR: return IPMI_PRIVILEGE_LEVEL_OPERATOR;
	case BMC_PRIV_ADMIN: return IPMI_PRIVILEGE_LEVEL_ADMIN;
	case BMC_PRIV_USER: break;
	}
	return IPMI_PRIVILEGE_LEVEL_USER;
}

static uint8_t auth15_code(enum bmc_auth15 a)
{
	switch (a) {
	case BMC_AUTH15_MD2: return IPMI_AUTHENTICATION_TYPE_MD2;
	case BMC_AUTH15_STRAIGHT: return IPMI_AUTHENTICATION_TYPE_STRAIGHT_PASSWORD_KEY;
	case BMC_AUTH15_NONE: return IPMI_AUTHENTICATION_TYPE_NONE;
	case BMC_AUTH15_MD5: break;
	}
	return IPMI_AUTHENTICATION_TYPE_MD5;
}

static void sanitize(char *dst, size_t cap, const char *src)
{
	size_t i;

	for (i = 0; src[i] && i + 1 < cap; i++) {
		char c = src[i];

		dst[i] = ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			  c == '.' || c == '-') ? c : '_';
	}
	dst[i] = '\0';
}

static int open_lan(struct bmc *b, char *err, size_t errlen)
{
	const struct bmc_config *c = &b->cfg;
	char hostport[BMC_HOST_MAX + 16];
	char password[BMC_PASSWORD_MAX + 1] = "";
	unsigned char kg[BMC_KG_MAX];
	unsigned kg_len = 0, timeout, retrans;
	size_t plen = 0;
	int rc;

	if (c->password_file[0]) {
		rc = read_secret_line(c->password_file, password, sizeof(password), &plen, err, errlen);
		if (rc)
			goto cleanup;
	} else {
		memcpy(password, c->password, sizeof(password));
		password[BMC_PASSWORD_MAX] = '\0';
	}
	if (c->driver == BMC_DRIVER_LAN15 && strlen(password) > 16) {
		rc = -EINVAL;
		set_err(err, errlen, "IPMI 1.5 passwords are at most 16 bytes");
		goto cleanup;
	}
	if (c->kg_file[0]) {
		rc = read_kg(c->kg_file, kg, &kg_len, err, errlen);
		if (rc)
			goto cleanup;
	}
	if (c->port && strchr(c->host, ':'))
		snprintf(hostport, sizeof(hostport), "[%s]:%u", c->host, c->port);
	else if (c->port)
		snprintf(hostport, sizeof(hostport), "%s:%u", c->host, c->port);
	else
		snprintf(hostport, sizeof(hostport), "%s", c->host);

	/* FreeIPMI retransmits inside its session timeout; keep a few tries. */
	timeout = c->timeout_ms;
	retrans = timeout / 4;
	if (retrans < 50)
		retrans = timeout / 2;

	if (c->driver == BMC_DRIVER_LAN20)
		rc = ipmi_ctx_open_outofband_2_0(b->ctx, hostport, c->user[0] ? c->user : NULL,
						 password[0] ? password : NULL, kg_len ? kg : NULL, kg_len,
						 privilege_code(c->privilege),
						 (uint8_t)(c->cipher_suite < 0 ? DEFAULT_CIPHER_SUITE
									       : c->cipher_suite),
						 timeout, retrans, b->wa.lan20, IPMI_FLAGS_DEFAULT);
	else
		rc = ipmi_ctx_open_outofband(b->ctx, hostport, c->user[0] ? c->user : NULL,
					     password[0] ? password : NULL, auth15_code(c->auth15),
					     privilege_code(c->privilege), timeout, retrans, b->wa.lan15,
					     IPMI_FLAGS_DEFAULT);
	if (rc < 0) {
		rc = ctx_fail(b, "cannot open session");
		set_err(err, errlen, "%s", b->err);
	}
cleanup:
	explicit_bzero(password, sizeof(password));
	explicit_bzero(kg, sizeof(kg));
	return rc;
}

static int open_inband(struct bmc *b, char *err, size_t errlen)
{
	const char *dev = b->cfg.device[0] ? b->cfg.device : DEFAULT_DEVICE;
	struct stat st;
	int rc;

	/*
	 * Only the kernel driver: probing KCS/SSIF ports from user space would
	 * race the kernel's own ipmi_si on a hypervisor.
	 */
	if (stat(dev, &st) < 0) {
		rc = errno == ENOENT ? -ENODEV : -errno;
		set_err(err, errlen,
			"in-band IPMI device %s %s (load the ipmi_si and ipmi_devintf kernel modules, "
			"or read the BMC over LAN)", dev,
			errno == ENOENT ? "does not exist" : strerror(errno));
		return rc;
	}
	if (access(dev, R_OK | W_OK) < 0) {
		rc = -errno;
		set_err(err, errlen, "in-band IPMI device %s: %s", dev, strerror(errno));
		return rc;
	}
	rc = ipmi_ctx_open_inband(b->ctx, IPMI_DEVICE_OPENIPMI, 1, 0, 0, dev, b->wa.inband, IPMI_FLAGS_DEFAULT);
	if (rc < 0) {
		rc = ctx_fail(b, "cannot open in-band device");
		set_err(err, errlen, "%s", b->err);
	}
	return rc;
}

int bmc_open(const struct bmc_config *cfg, const struct bmc_workarounds *extra, struct bmc **out,
	     char *err, size_t errlen)
{
	struct fd_list before = { 0 };
	struct bmc *b = NULL;
	unsigned flags;
	int rc;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	rc = validate(cfg, err, errlen);
	if (rc)
		return rc;
	b = calloc(1, sizeof(*b));
	if (!b) {
		set_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	b->cfg = *cfg;
	b->cfg.host[BMC_HOST_MAX - 1] = '\0';
	if (!b->cfg.timeout_ms)
		b->cfg.timeout_ms = DEFAULT_TIMEOUT_MS;
	rc = bmc_workarounds_parse(cfg->workarounds, &b->wa, err, errlen);
	if (rc)
		goto cleanup;
	bmc_workarounds_merge(&b->wa, extra);

	if (cfg->driver == BMC_DRIVER_INBAND) {
		snprintf(b->desc, sizeof(b->desc), "inband %s", cfg->device[0] ? cfg->device : DEFAULT_DEVICE);
		snprintf(b->cache_path, sizeof(b->cache_path), "%s/sdr-cache-inband", cfg->sdr_cache_dir);
	} else {
		char safe[BMC_HOST_MAX];

		snprintf(b->desc, sizeof(b->desc), "%s %s:%u", bmc_driver_name(cfg->driver), cfg->host,
			 cfg->port ? cfg->port : 623);
		sanitize(safe, sizeof(safe), cfg->host);
		snprintf(b->cache_path, sizeof(b->cache_path), "%s/sdr-cache-%s-%u", cfg->sdr_cache_dir, safe,
			 cfg->port ? cfg->port : 623);
	}

	b->ctx = ipmi_ctx_create();
	if (!b->ctx) {
		rc = -ENOMEM;
		set_err(err, errlen, "out of memory");
		goto cleanup;
	}
	fd_list_snapshot(&before);
	if (cfg->driver == BMC_DRIVER_INBAND)
		rc = open_inband(b, err, errlen);
	else
		rc = open_lan(b, err, errlen);
	fd_list_cloexec_new(&before);
	if (rc)
		goto cleanup;
	if (b->wa.ctx && ipmi_ctx_get_flags(b->ctx, &flags) == 0)
		ipmi_ctx_set_flags(b->ctx, flags | b->wa.ctx);
	*out = b;
	b = NULL;
cleanup:
	free(before.fd);
	bmc_close(b);
	return rc;
}

void bmc_close(struct bmc *b)
{
	if (!b)
		return;
	if (b->sread)
		ipmi_sensor_read_ctx_destroy(b->sread);
	if (b->sdr) {
		if (b->sdr_open)
			ipmi_sdr_cache_close(b->sdr);
		ipmi_sdr_ctx_destroy(b->sdr);
	}
	if (b->ctx) {
		ipmi_ctx_close(b->ctx);
		ipmi_ctx_destroy(b->ctx);
	}
	explicit_bzero(b->cfg.password, sizeof(b->cfg.password));
	free(b);
}

const char *bmc_last_error(const struct bmc *b)
{
	return b ? b->err : "";
}

const char *bmc_describe(const struct bmc *b)
{
	return b ? b->desc : "bmc";
}

int bmc_device_id(struct bmc *b, struct bmc_device_id *out)
{
	fiid_obj_t rs = NULL;
	uint64_t v;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	rs = fiid_obj_create(tmpl_cmd_get_device_id_rs);
	if (!rs)
		return -ENOMEM;
	if (ipmi_cmd_get_device_id(b->ctx, rs) < 0) {
		rc = ctx_fail(b, "Get Device ID");
		goto cleanup;
	}
#define GET(field, dst)                                                                   \
	do {                                                                              \
		if (fiid_obj_get(rs, field, &v) < 0) {                                    \
			set_err(b->err, sizeof(b->err), "%s: Get Device ID: no %s", b->desc, \
				field);                                                   \
			rc = -ENODATA;                                                    \
			goto cleanup;                                                     \
		}                                                                         \
		dst = v;                                                                  \
	} while (0)
	GET("device_id", out->device_id);
	GET("device_revision.revision", out->device_revision);
	GET("firmware_revision1.major_revision", out->fw_major);
	GET("firmware_revision2.minor_revision", out->fw_minor);
	GET("ipmi_version_major", out->ipmi_major);
	GET("ipmi_version_minor", out->ipmi_minor);
	GET("manufacturer_id.id", out->manufacturer_id);
	GET("product_id", out->product_id);
#undef GET
	/* The minor revision is BCD (IPMI 2.0 table 20-2): 0x30 is ".30". */
	snprintf(out->firmware, sizeof(out->firmware), "%u.%02x", out->fw_major, out->fw_minor);
cleanup:
	fiid_obj_destroy(rs);
	return rc;
}

/* Completion codes meaning "not here": invalid command, LUN, data, parameter, state. */
static bool cc_unsupported(uint64_t cc)
{
	return cc == 0xC1 || cc == 0xC2 || cc == 0xC9 || cc == 0xCC || cc == 0xD5 || cc == 0xD6;
}

static int dcmi_fail(struct bmc *b, fiid_obj_t rs, const char *what)
{
	uint64_t cc = 0;
	int rc;

	if (ipmi_ctx_errnum(b->ctx) == IPMI_ERR_BAD_COMPLETION_CODE && fiid_obj_get(rs, "comp_code", &cc) >= 0 &&
	    cc_unsupported(cc)) {
		set_err(b->err, sizeof(b->err), "%s: %s: not supported (completion code 0x%02x)", b->desc, what,
			(unsigned)cc);
		return -EOPNOTSUPP;
	}
	rc = ctx_fail(b, what);
	return rc;
}

int bmc_dcmi_supported(struct bmc *b)
{
	fiid_obj_t rs;
	uint64_t v = 0;
	int rc;

	rs = fiid_obj_create(tmpl_cmd_dcmi_get_dcmi_capability_info_supported_dcmi_capabilities_rs);
	if (!rs)
		return -ENOMEM;
	if (ipmi_cmd_dcmi_get_dcmi_capability_info_supported_dcmi_capabilities(b->ctx, rs) < 0) {
		rc = dcmi_fail(b, rs, "DCMI Get Capability Info");
		if (rc == -EOPNOTSUPP)
			rc = 0;
		goto cleanup;
	}
	if (fiid_obj_get(rs, "optional_platform_capabilities.power_management_monitoring_support", &v) < 0) {
		rc = 0;
		goto cleanup;
	}
	rc = v ? 1 : 0;
	if (!rc)
		set_err(b->err, sizeof(b->err), "%s: DCMI without power management", b->desc);
cleanup:
	fiid_obj_destroy(rs);
	return rc;
}

int bmc_dcmi_power_read(struct bmc *b, unsigned *watts)
{
	fiid_obj_t rs;
	uint64_t cur = 0, active = 0;
	int rc = 0;

	rs = fiid_obj_create(tmpl_cmd_dcmi_get_power_reading_rs);
	if (!rs)
		return -ENOMEM;
	if (ipmi_cmd_dcmi_get_power_reading(b->ctx, IPMI_DCMI_POWER_READING_MODE_SYSTEM_POWER_STATISTICS, 0, rs) < 0) {
		rc = dcmi_fail(b, rs, "DCMI Get Power Reading");
		goto cleanup;
	}
	if (fiid_obj_get(rs, "current_power", &cur) < 0 ||
	    fiid_obj_get(rs, "power_reading_state.power_measurement", &active) < 0) {
		set_err(b->err, sizeof(b->err), "%s: DCMI Get Power Reading: short answer", b->desc);
		rc = -ENODATA;
		goto cleanup;
	}
	if (active != IPMI_DCMI_POWER_READING_STATE_POWER_MEASUREMENT_ACTIVE) {
		set_err(b->err, sizeof(b->err), "%s: DCMI power measurement not active", b->desc);
		rc = -ENODATA;
		goto cleanup;
	}
	*watts = (unsigned)cur;
cleanup:
	fiid_obj_destroy(rs);
	return rc;
}

/* ---- SDR cache and sensors ---------------------------------------------- */

static int sdr_fail(struct bmc *b, const char *what)
{
	int e = ipmi_sdr_ctx_errnum(b->sdr);

	set_err(b->err, sizeof(b->err), "%s: %s: %s", b->desc, what, ipmi_sdr_ctx_errormsg(b->sdr));
	switch (e) {
	case IPMI_SDR_ERR_OUT_OF_MEMORY: return -ENOMEM;
	case IPMI_SDR_ERR_PERMISSION: return -EACCES;
	case IPMI_SDR_ERR_FILENAME_INVALID:
	case IPMI_SDR_ERR_PARAMETERS:
		return -EINVAL;
	case IPMI_SDR_ERR_NOT_FOUND: return -ENOENT;
	case IPMI_SDR_ERR_IPMI_ERROR:
		/* the BMC did not answer; say why, from the api context */
		if (ipmi_ctx_errnum(b->ctx) != IPMI_ERR_SUCCESS)
			return ctx_fail(b, what);
		return -EIO;
	default: return -EIO;
	}
}

static int sdr_create(struct bmc *b)
{
	char tmp[sizeof(b->cache_path) + 32];
	struct fd_list before = { 0 };
	int rc = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp%ld", b->cache_path, (long)getpid());
	fd_list_snapshot(&before);
	/* build beside and rename, so a crash never leaves a half cache under the real name */
	if (ipmi_sdr_cache_create(b->sdr, b->ctx, tmp, IPMI_SDR_CACHE_CREATE_FLAGS_OVERWRITE | b->wa.sdr, NULL,
				  NULL) < 0) {
		rc = sdr_fail(b, "cannot build SDR cache");
		unlink(tmp);
		goto cleanup;
	}
	if (rename(tmp, b->cache_path) < 0) {
		rc = -errno;
		set_err(b->err, sizeof(b->err), "%s: rename %s: %s", b->desc, tmp, strerror(errno));
		unlink(tmp);
	}
cleanup:
	fd_list_cloexec_new(&before);
	free(before.fd);
	return rc;
}

static int sdr_ensure(struct bmc *b)
{
	struct fd_list before = { 0 };
	int rc = 0, e;

	if (b->sdr_open)
		return 0;
	if (!b->cfg.sdr_cache_dir[0]) {
		set_err(b->err, sizeof(b->err), "%s: no SDR cache directory configured", b->desc);
		return -EINVAL;
	}
	if (!b->sdr) {
		b->sdr = ipmi_sdr_ctx_create();
		if (!b->sdr)
			return -ENOMEM;
	}
	fd_list_snapshot(&before);
	if (ipmi_sdr_cache_open(b->sdr, b->ctx, b->cache_path) == 0) {
		b->sdr_open = true;
		goto cleanup;
	}
	e = ipmi_sdr_ctx_errnum(b->sdr);
	if (e != IPMI_SDR_ERR_CACHE_READ_CACHE_DOES_NOT_EXIST && e != IPMI_SDR_ERR_CACHE_INVALID &&
	    e != IPMI_SDR_ERR_CACHE_OUT_OF_DATE) {
		rc = sdr_fail(b, "cannot open SDR cache");
		goto cleanup;
	}
	rc = sdr_create(b);
	if (rc)
		goto cleanup;
	if (ipmi_sdr_cache_open(b->sdr, b->ctx, b->cache_path) < 0) {
		rc = sdr_fail(b, "cannot open new SDR cache");
		goto cleanup;
	}
	b->sdr_open = true;
cleanup:
	fd_list_cloexec_new(&before);
	free(before.fd);
	return rc;
}

static int sread_ensure(struct bmc *b)
{
	if (b->sread)
		return 0;
	b->sread = ipmi_sensor_read_ctx_create(b->ctx);
	if (!b->sread)
		return -ENOMEM;
	if (b->wa.sensor)
		ipmi_sensor_read_ctx_set_flags(b->sread, b->wa.sensor);
	return 0;
}

static enum bmc_sensor_state threshold_state(uint16_t bits)
{
	/* Get Sensor Reading byte 3: 0 lnc, 1 lc, 2 lnr, 3 unc, 4 uc, 5 unr */
	if (bits & 0x36)
		return BMC_SENSOR_CRITICAL;
	if (bits & 0x09)
		return BMC_SENSOR_WARNING;
	return BMC_SENSOR_OK;
}

/* Reads the value of the sensor described by @rec; fatal errors (BMC gone) return -errno. */
static int read_value(struct bmc *b, const void *rec, unsigned len, struct bmc_sensor *s)
{
	double *val = NULL;
	uint8_t raw = 0;
	uint16_t bits = 0;
	int rc, e;

	s->has_value = false;
	s->state = BMC_SENSOR_UNKNOWN;
	s->event_bitmask = 0;
	rc = ipmi_sensor_read(b->sread, rec, len, 0, &raw, &val, &bits);
	if (rc < 0) {
		e = ipmi_sensor_read_ctx_errnum(b->sread);
		set_err(b->err, sizeof(b->err), "%s: sensor \"%s\": %s", b->desc, s->name,
			ipmi_sensor_read_ctx_errormsg(b->sread));
		if (e == IPMI_SENSOR_READ_ERR_IPMI_ERROR || e == IPMI_SENSOR_READ_ERR_SYSTEM_ERROR) {
			int ae = ipmi_ctx_errnum(b->ctx);

			/* a dead session is the caller's business; a refused reading is not */
			if (ae == IPMI_ERR_SESSION_TIMEOUT || ae == IPMI_ERR_MESSAGE_TIMEOUT ||
			    ae == IPMI_ERR_CONNECTION_TIMEOUT || ae == IPMI_ERR_DRIVER_TIMEOUT)
				return ctx_fail(b, "Get Sensor Reading");
		}
		if (e == IPMI_SENSOR_READ_ERR_OUT_OF_MEMORY)
			return -ENOMEM;
		return -ENODATA;
	}
	s->event_bitmask = bits;
	if (rc == 1 && val) {
		if (isfinite(*val)) {
			s->has_value = true;
			s->value = *val;
		}
		free(val);
	}
	if (s->reading_type == IPMI_EVENT_READING_TYPE_CODE_THRESHOLD && s->has_value)
		s->state = threshold_state(bits);
	return s->has_value ? 0 : -ENODATA;
}

/*
 * ID strings packed as 6-bit ASCII or BCD+ (IPMI 2.0 section 43.15): libfreeipmi
 * returns their raw bytes, so decode them here. Length counts characters.
 * Returns false when the record holds a plain 8-bit string (or none).
 */
static bool decode_packed_id(const uint8_t *rec, unsigned len, char *out, size_t cap)
{
	static const char bcd[] = "0123456789 -.:,_";
	unsigned off, chars, kind;

	if (len < 5)
		return false;
	off = rec[3] == IPMI_SDR_FORMAT_FULL_SENSOR_RECORD ? 47 : 31;
	if (len <= off)
		return false;
	kind = rec[off] >> 6;
	chars = rec[off] & 0x1f;
	if (kind != 1 && kind != 2)
		return false;
	if (chars >= cap)
		chars = (unsigned)cap - 1;
	for (unsigned i = 0; i < chars; i++) {
		unsigned v;

		if (kind == 1) {
			unsigned b = off + 1 + i / 2;

			if (b >= len)
				break;
			v = (rec[b] >> (i % 2 ? 4 : 0)) & 0xf;
			out[i] = bcd[v];
		} else {
			/* four 6-bit characters in three bytes, least significant bits first */
			unsigned bit = i * 6, b = off + 1 + bit / 8, sh = bit % 8;
			unsigned w;

			if (b >= len)
				break;
			w = rec[b] | (b + 1 < len ? (unsigned)rec[b + 1] << 8 : 0);
			v = (w >> sh) & 0x3f;
			out[i] = (char)(v + 0x20);
		}
		out[i + 1] = '\0';
	}
	out[chars] = '\0';
	return true;
}

/* Fills the static fields of @s from an SDR record. Returns 0, or 1 to skip the record. */
static int parse_record(struct bmc *b, const void *rec, unsigned len, struct bmc_sensor *s)
{
	uint16_t id;
	uint8_t type, owner_type = 0, owner = 0, pct = 0, mod = 0, rate = 0, base = 0, modunit = 0;
	char name[IPMI_SDR_MAX_ID_STRING_LENGTH + 1] = "";

	memset(s, 0, sizeof(*s));
	if (ipmi_sdr_parse_record_id_and_type(b->sdr, rec, len, &id, &type) < 0)
		return 1;
	if (type != IPMI_SDR_FORMAT_FULL_SENSOR_RECORD && type != IPMI_SDR_FORMAT_COMPACT_SENSOR_RECORD)
		return 1;
	s->record_id = id;
	s->record_type = type;
	if (ipmi_sdr_parse_sensor_number(b->sdr, rec, len, &s->number) < 0 ||
	    ipmi_sdr_parse_sensor_type(b->sdr, rec, len, &s->type) < 0 ||
	    ipmi_sdr_parse_event_reading_type_code(b->sdr, rec, len, &s->reading_type) < 0)
		return 1;
	if (ipmi_sdr_parse_sensor_owner_id(b->sdr, rec, len, &owner_type, &owner) == 0)
		s->owner_id = (uint8_t)(owner << 1 | owner_type);
	if (!decode_packed_id(rec, len, name, sizeof(name)) &&
	    ipmi_sdr_parse_id_string(b->sdr, rec, len, name, sizeof(name) - 1) < 0)
		name[0] = '\0';
	/* names come from the BMC: keep them printable */
	for (size_t i = 0; name[i]; i++)
		if ((unsigned char)name[i] < 0x20 || (unsigned char)name[i] > 0x7e)
			name[i] = '?';
	snprintf(s->name, sizeof(s->name), "%s", name);
	if (ipmi_sdr_parse_sensor_units(b->sdr, rec, len, &pct, &mod, &rate, &base, &modunit) == 0)
		s->unit = pct ? BMC_UNIT_PERCENT : base;
	s->type_str = ipmi_get_sensor_type_string(s->type);
	if (!s->type_str)
		s->type_str = s->type >= 0xC0 ? "OEM" : "Unknown";
	s->unit_str = bmc_unit_name(s->unit);
	return 0;
}

int bmc_sensors_read(struct bmc *b, unsigned flags, struct bmc_sensor **out, size_t *n)
{
	uint8_t rec[IPMI_SDR_MAX_RECORD_LENGTH];
	struct bmc_sensor *list = NULL;
	uint16_t count = 0;
	size_t used = 0;
	int64_t deadline = now_ms() + b->cfg.timeout_ms;
	int rc, len;

	*out = NULL;
	*n = 0;
	rc = sdr_ensure(b);
	if (rc)
		return rc;
	rc = sread_ensure(b);
	if (rc)
		return rc;
	if (ipmi_sdr_cache_record_count(b->sdr, &count) < 0)
		return sdr_fail(b, "SDR record count");
	list = calloc(count ? count : 1, sizeof(*list));
	if (!list)
		return -ENOMEM;
	if (ipmi_sdr_cache_first(b->sdr) < 0) {
		rc = count ? sdr_fail(b, "SDR first record") : 0;
		goto cleanup;
	}
	do {
		struct bmc_sensor *s = &list[used];

		if (used == count)
			break;
		len = ipmi_sdr_cache_record_read(b->sdr, rec, sizeof(rec));
		if (len <= 0)
			continue;
		if (parse_record(b, rec, (unsigned)len, s))
			continue;
		used++;
		if (flags & BMC_SENSORS_NO_VALUES)
			continue;
		if (now_ms() > deadline) {
			set_err(b->err, sizeof(b->err), "%s: sensor scan passed its %u ms deadline", b->desc,
				b->cfg.timeout_ms);
			rc = -ETIMEDOUT;
			goto cleanup;
		}
		rc = read_value(b, rec, (unsigned)len, s);
		if (rc && rc != -ENODATA)
			goto cleanup;
		rc = 0;
	} while (ipmi_sdr_cache_next(b->sdr) == 1);
	*out = list;
	*n = used;
	list = NULL;
cleanup:
	free(list);
	return rc;
}

int bmc_sensor_read(struct bmc *b, struct bmc_sensor *s)
{
	uint8_t rec[IPMI_SDR_MAX_RECORD_LENGTH];
	int rc, len;

	rc = sdr_ensure(b);
	if (rc)
		return rc;
	rc = sread_ensure(b);
	if (rc)
		return rc;
	if (ipmi_sdr_cache_search_record_id(b->sdr, s->record_id) < 0)
		return sdr_fail(b, "SDR record lookup");
	len = ipmi_sdr_cache_record_read(b->sdr, rec, sizeof(rec));
	if (len <= 0)
		return sdr_fail(b, "SDR record read");
	return read_value(b, rec, (unsigned)len, s);
}
