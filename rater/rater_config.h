/*
 * rater_config.h — hvrater.conf: one INI file, section [rater], every key
 * documented with its default in rater/hvrater.conf.sample.
 *
 * The whole file is parsed and validated before anything acts on it; an
 * error names the file, line and key. Nothing here logs.
 */
#ifndef HV_RATER_CONFIG_H
#define HV_RATER_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#define RATER_PATH_MAX 512
#define RATER_ERR_MAX  600

enum rater_log_level { RLOG_ERR = 0, RLOG_WARN, RLOG_INFO, RLOG_DEBUG };

struct rater_config {
	char listen[256];                 /* host:port, default 127.0.0.1:7443 */
	char store[RATER_PATH_MAX];       /* default /var/lib/hvrater */
	uint64_t store_max_bytes;         /* LMDB map, default 16 GiB */
	char ca[RATER_PATH_MAX];          /* CA that signs host certificates (required) */
	char cert[RATER_PATH_MAX];        /* the rater's certificate (required) */
	char key[RATER_PATH_MAX];         /* its private key (required) */
	uint32_t idle_timeout;            /* seconds, default 300 */
	uint32_t max_hosts;               /* concurrent connections, default 10000 */
	uint32_t period;                  /* seconds, default 3600 */
	enum rater_log_level log_level;   /* default info */
};

/* Fills @c with every default. */
void rater_config_defaults(struct rater_config *c);

/*
 * Parses @path into @c (defaults first) and validates it as a whole.
 * Returns 0, or -errno with a one-line message in @err
 * ("FILE:LINE: [rater] key: why", or "FILE: [rater] ca: required").
 */
int rater_config_load(struct rater_config *c, const char *path, char err[RATER_ERR_MAX]);

/* Same, from a string (tests); @name appears in messages. */
int rater_config_parse_string(struct rater_config *c, const char *name, const char *text,
			      char err[RATER_ERR_MAX]);

/* Writes the configuration in canonical form (every key). */
void rater_config_print(const struct rater_config *c, FILE *out);

const char *rater_log_level_name(enum rater_log_level l);

#endif
