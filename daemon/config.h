/*
 * config.h — hvmeterd's configuration: one INI file, every key documented
 * with its default in daemon/hvmeterd.conf.sample.
 *
 * The whole file is parsed and validated before anything acts on it; an
 * error names the file, line and key.
 */
#ifndef HV_DAEMON_CONFIG_H
#define HV_DAEMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/parse_num.h"
#include "daemon/log.h"
#include "daemon/uplink_config.h"
#include "ipmi/bmc.h"

#define CONFIG_PATH_MAX 512
#define CONFIG_ERR_MAX 600

enum bpf_mode { BPF_AUTO = 0, BPF_ON, BPF_OFF };

struct config {
	/* [agent] */
	char host_id[64];          /* default: the host name */
	uint32_t interval;         /* seconds, 1..3600, default 10 */
	char store[CONFIG_PATH_MAX];   /* default /var/lib/hvmeter */
	uint64_t store_max_bytes;  /* default 256 MiB, at least 128 KiB */
	uint64_t retention;        /* seconds acknowledged frames are kept, default 30 d */
	enum log_level log_level;  /* default info */
	enum bpf_mode bpf;         /* default auto: fall back to libvirt if BPF can't load */
	char bpf_pin_dir[CONFIG_PATH_MAX]; /* default /sys/fs/bpf/hvmeter */
	/* [libvirt] */
	char libvirt_uri[CONFIG_PATH_MAX]; /* default qemu:///system */
	uint32_t libvirt_timeout;  /* seconds a libvirt call may take, default 5 */
	/* [bmc] — host power; driver "none" (default) meters no energy */
	char bmc_driver[16];       /* none, inband, lan20, lan15 */
	char bmc_host[256];
	uint32_t bmc_port;         /* 623 */
	char bmc_user[BMC_USER_MAX + 1];
	char bmc_password[BMC_PASSWORD_MAX + 1]; /* or bmc_password_file, which is better */
	char bmc_password_file[CONFIG_PATH_MAX];
	uint32_t bmc_cipher_suite; /* 3 */
	char bmc_privilege[16];    /* user */
	char bmc_workarounds[128]; /* FreeIPMI -W names, "a,b" */
	uint32_t bmc_timeout_ms;   /* 2000 */
	uint32_t bmc_poll_ms;      /* 1000 */
	char bmc_map[64];          /* sensor map name, "" = by the BMC's manufacturer id */
	char bmc_maps_dir[CONFIG_PATH_MAX]; /* /usr/share/hvmeter/firmware-configs */
	uint32_t idle_watts;       /* host idle power for apportioning, 0 */
	/* [network] */
	char net_classes[CONFIG_PATH_MAX]; /* class file; "" (default): all traffic is "default" */
	/* [prometheus] — the opt-in /metrics endpoint */
	char prom_listen[64];      /* "" (default): off; "127.0.0.1:9177", "[::1]:9177" */
	bool prom_allow_remote;    /* a non-loopback listen address needs it; default no */
	/* [uplink] */
	struct uplink_config uplink;
};

/* Fills @c with every default. */
void config_defaults(struct config *c);

/*
 * Parses @path into @c (defaults first). Returns 0, or -errno with a
 * one-line message in @err ("FILE:LINE: unknown key 'x' in [agent]").
 */
int config_load(struct config *c, const char *path, char err[CONFIG_ERR_MAX]);

/* Same, from a string (tests, fuzzing); @name appears in messages. */
int config_parse_string(struct config *c, const char *name, const char *text,
			char err[CONFIG_ERR_MAX]);

/* Writes the configuration in canonical form (every key, sorted by section). */
void config_print(const struct config *c, FILE *out);

/*
 * What a SIGHUP can apply without a restart. Everything else (store,
 * interval, host_id, BPF, libvirt, uplink, prometheus, the path of the class
 * file...) is kept as it is and reported as needing one.
 */
enum config_apply {
	CONFIG_APPLY_LOG = 1,      /* [agent] log_level */
	CONFIG_APPLY_BMC,          /* any [bmc] key: the BMC reader is replaced */
	CONFIG_APPLY_RESTART,      /* not applied until hvmeterd restarts */
};

struct config_change {
	char section[16];
	char key[32];
	char before[CONFIG_PATH_MAX]; /* canonical values as config_print writes them; */
	char after[CONFIG_PATH_MAX];  /* a password is never shown */
	enum config_apply apply;
};

/*
 * Lists the keys whose values differ between @old and @new (in config_print
 * order), at most @cap of them in @out. Returns how many differ (may exceed
 * @cap), or -ENOMEM.
 */
int config_diff(const struct config *old, const struct config *new, struct config_change *out,
		size_t cap);

/* Copies from @src into @dst the keys of one kind (CONFIG_APPLY_LOG or _BMC). */
void config_apply(struct config *dst, const struct config *src, enum config_apply what);

#endif
