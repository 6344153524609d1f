/*
 * bmc.h — one connection to a host's BMC, through libfreeipmi.
 *
 * A struct bmc is a FreeIPMI context opened in-band (the kernel's
 * /dev/ipmi0) or out of band (IPMI 2.0 RMCP+ or IPMI 1.5 LAN), plus the SDR
 * cache used to find and convert sensor readings. It offers the few reads
 * hvmeter needs: Get Device ID, DCMI Get Power Reading, and the SDR sensors.
 *
 * Timeouts: every out-of-band command is bounded by cfg.timeout_ms (FreeIPMI's
 * session timeout, with retransmissions inside it); calls that issue several
 * commands also stop at a deadline of cfg.timeout_ms from their start, so no
 * call blocks longer than about twice cfg.timeout_ms. The in-band OpenIPMI
 * driver has its own fixed timeout (60 s in FreeIPMI 1.6) that cannot be
 * shortened; callers that must never wait (the sampler) read the BMC from a
 * thread of their own (see power_reader.h).
 *
 * Threads: a struct bmc is used by one thread at a time. Nothing here logs;
 * every failure returns -errno and leaves a one-line reason in
 * bmc_last_error().
 *
 * Errors, as returned by every function below:
 *   -EINVAL        bad configuration or argument
 *   -ENODEV        in-band device missing (message says which and what to do)
 *   -EACCES        user, password, K_g or privilege refused by the BMC
 *   -EPROTONOSUPPORT  cipher suite or IPMI version not offered by the BMC
 *   -ETIMEDOUT     no answer within the timeout (BMC down, network, wrong port)
 *   -EOPNOTSUPP    the BMC answered that it does not support the command
 *   -ENODATA       the BMC answered without a usable value
 *   -EBUSY, -ENOMEM, -EIO, -EHOSTUNREACH (name did not resolve)
 * After -ETIMEDOUT on an out-of-band connection the session is usually gone:
 * close and open again.
 */
#ifndef HV_IPMI_BMC_H
#define HV_IPMI_BMC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BMC_HOST_MAX 256
#define BMC_PATH_MAX 512
#define BMC_USER_MAX 16      /* IPMI_MAX_USER_NAME_LENGTH */
#define BMC_PASSWORD_MAX 20  /* IPMI 2.0; IPMI 1.5 allows 16 */
#define BMC_KG_MAX 20
#define BMC_WORKAROUNDS_MAX 256
#define BMC_ERR_MAX 256
#define BMC_SENSOR_NAME_MAX 32 /* SDR id strings are at most 16 bytes */

enum bmc_driver {
	BMC_DRIVER_INBAND = 0, /* /dev/ipmi0 through the kernel's OpenIPMI driver */
	BMC_DRIVER_LAN20,      /* IPMI 2.0 RMCP+ */
	BMC_DRIVER_LAN15,      /* IPMI 1.5 LAN */
};

enum bmc_privilege {
	BMC_PRIV_USER = 0, /* enough for sensors and DCMI power reading */
	BMC_PRIV_OPERATOR,
	BMC_PRIV_ADMIN,
};

enum bmc_auth15 { /* IPMI 1.5 authentication type */
	BMC_AUTH15_MD5 = 0,
	BMC_AUTH15_MD2,
	BMC_AUTH15_STRAIGHT,
	BMC_AUTH15_NONE,
};

/*
 * Connection settings. Strings are copied by bmc_open(); empty means unset.
 * Exactly one of password, password_file may be set; kg_file is optional
 * (IPMI 2.0 BMC key). Files hold one line; a K_g line starting with "0x" is
 * hex, otherwise its bytes are the key.
 */
struct bmc_config {
	enum bmc_driver driver;
	char host[BMC_HOST_MAX];          /* LAN: name or address */
	unsigned port;                    /* LAN: UDP port, 0 = 623 */
	char user[BMC_USER_MAX + 1];
	char password[BMC_PASSWORD_MAX + 1];
	char password_file[BMC_PATH_MAX];
	char kg_file[BMC_PATH_MAX];
	int cipher_suite;                 /* LAN20: 0..17, -1 = 3 (HMAC-SHA1, AES) */
	enum bmc_privilege privilege;
	enum bmc_auth15 auth15;           /* LAN15 only */
	char workarounds[BMC_WORKAROUNDS_MAX]; /* FreeIPMI -W names, "a,b" */
	unsigned timeout_ms;              /* 0 = 2000; 100..60000 */
	char sdr_cache_dir[BMC_PATH_MAX]; /* must exist; needed by the sensor calls */
	char device[BMC_PATH_MAX];        /* in-band device, "" = /dev/ipmi0 */
};

/* Fills @cfg with the defaults above (in-band, user privilege, 2 s). */
void bmc_config_init(struct bmc_config *cfg);

/*
 * FreeIPMI workaround flags, split by where FreeIPMI takes them. Parsed from
 * the names ipmi-sensors -W accepts (authcap, opensesspriv, nochecksumcheck,
 * discretereading, ...). Unknown names are refused.
 */
struct bmc_workarounds {
	unsigned lan15;  /* IPMI_WORKAROUND_FLAGS_OUTOFBAND_* */
	unsigned lan20;  /* IPMI_WORKAROUND_FLAGS_OUTOFBAND_2_0_* */
	unsigned inband; /* IPMI_WORKAROUND_FLAGS_INBAND_* */
	unsigned sensor; /* IPMI_SENSOR_READ_FLAGS_* */
	unsigned sdr;    /* IPMI_SDR_CACHE_CREATE_FLAGS_* */
	unsigned ctx;    /* IPMI_FLAGS_* set around sensor reads */
};

/*
 * Parses a list of workaround names separated by commas or blanks into
 * @out (zeroed first). Returns 0, or -EINVAL with the offending name in @err.
 */
int bmc_workarounds_parse(const char *list, struct bmc_workarounds *out, char *err, size_t errlen);

/* Adds the flags of @b to @a. */
void bmc_workarounds_merge(struct bmc_workarounds *a, const struct bmc_workarounds *b);

/* True when every flag of @sub is in @set. */
bool bmc_workarounds_subset(const struct bmc_workarounds *sub, const struct bmc_workarounds *set);

struct bmc;

/*
 * Opens a session with the BMC described by @cfg, adding @extra workaround
 * flags (may be NULL) to those named in cfg->workarounds. Blocks at most
 * about cfg->timeout_ms (out of band). On failure *out is NULL and @err (may
 * be NULL) holds the reason, e.g. for a missing in-band device:
 * "in-band IPMI device /dev/ipmi0 does not exist (load ipmi_si and
 * ipmi_devintf, or read the BMC over LAN)" with -ENODEV.
 * Every file descriptor FreeIPMI opens is made close-on-exec.
 */
int bmc_open(const struct bmc_config *cfg, const struct bmc_workarounds *extra, struct bmc **out,
	     char *err, size_t errlen);

/* Ends the session (one Close Session on LAN, bounded by the timeout). NULL is fine. */
void bmc_close(struct bmc *b);

/* The reason for the most recent failure on @b ("" if none). Valid until the next call. */
const char *bmc_last_error(const struct bmc *b);

/* Describes the connection for messages: "lan20 127.0.0.1:623" or "inband /dev/ipmi0". */
const char *bmc_describe(const struct bmc *b);

struct bmc_device_id {
	uint32_t manufacturer_id; /* IANA enterprise number, 20 bits */
	uint16_t product_id;
	uint8_t device_id;
	uint8_t device_revision;
	uint8_t fw_major, fw_minor; /* minor is BCD-coded by the spec */
	uint8_t ipmi_major, ipmi_minor;
	char firmware[16];          /* "3.30" */
};

/* Get Device ID. */
int bmc_device_id(struct bmc *b, struct bmc_device_id *out);

/*
 * DCMI Get Capability Info, parameter 1. Returns 1 if the BMC declares DCMI
 * power management, 0 if it answers without it or does not answer DCMI at
 * all (group extension not supported), or another -errno.
 */
int bmc_dcmi_supported(struct bmc *b);

/*
 * DCMI Get Power Reading (system power statistics mode): the current system
 * input power in watts into *watts. -EOPNOTSUPP when the BMC answers that it
 * does not support DCMI (or this command); -ENODATA when it answers but flags
 * the measurement as not active.
 */
int bmc_dcmi_power_read(struct bmc *b, unsigned *watts);

enum bmc_sensor_state {
	BMC_SENSOR_UNKNOWN = 0, /* no reading (unavailable, scanning disabled, not analog) */
	BMC_SENSOR_OK,
	BMC_SENSOR_WARNING,     /* a non-critical threshold is crossed */
	BMC_SENSOR_CRITICAL,    /* a critical or non-recoverable threshold is crossed */
};

/* Base unit codes are the IPMI ones (6 = W, 1 = degrees C, 18 = RPM...); percentages use this. */
#define BMC_UNIT_PERCENT 0x100

struct bmc_sensor {
	uint16_t record_id;
	uint8_t record_type;    /* 1 full, 2 compact */
	uint8_t number;
	uint8_t owner_id;
	uint8_t type;           /* IPMI sensor type: 1 temperature, 3 current, 4 fan, 8 power supply... */
	uint8_t reading_type;   /* event/reading type code: 1 = threshold */
	uint16_t unit;          /* base unit code, or BMC_UNIT_PERCENT */
	char name[BMC_SENSOR_NAME_MAX];
	const char *type_str;   /* static: "Temperature", "Current", ... */
	const char *unit_str;   /* static: "W", "C", "RPM", "%", "V", "A", "" */
	bool has_value;         /* value is valid */
	double value;           /* in unit_str */
	uint16_t event_bitmask; /* threshold or discrete state bits as read */
	enum bmc_sensor_state state;
};

#define BMC_SENSORS_NO_VALUES 0x1 /* list the SDR only, read no values */

/*
 * Lists the full and compact sensor records of the SDR (from the cache in
 * cfg.sdr_cache_dir, built or refreshed first when missing, invalid or out
 * of date), reading each value unless BMC_SENSORS_NO_VALUES. A sensor whose
 * value cannot be read is listed with has_value false. *out is malloc'd (free
 * with free()), *n its length. -ETIMEDOUT if the deadline passed midway.
 */
int bmc_sensors_read(struct bmc *b, unsigned flags, struct bmc_sensor **out, size_t *n);

/*
 * Reads one sensor again, found by s->record_id; updates has_value, value,
 * event_bitmask and state. -ENODATA if the BMC gives no value.
 */
int bmc_sensor_read(struct bmc *b, struct bmc_sensor *s);

/* Static strings for enum values. */
const char *bmc_driver_name(enum bmc_driver d);
const char *bmc_sensor_state_name(enum bmc_sensor_state s);

/* Parses "inband", "lan20" ("lan_2_0"), "lan15" ("lan"). 0 or -EINVAL. */
int bmc_driver_parse(const char *s, enum bmc_driver *out);
/* Parses "user", "operator", "admin". 0 or -EINVAL. */
int bmc_privilege_parse(const char *s, enum bmc_privilege *out);

/* Unit code for a short name ("W", "C", "RPM", "%", "V", "A", "F", "J"), or -EINVAL. */
int bmc_unit_parse(const char *s, uint16_t *out);
/* Short name of a unit code ("" if unnamed). */
const char *bmc_unit_name(uint16_t unit);

#endif
