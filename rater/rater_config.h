/*
 * rater_config.h — hvrater.conf: one INI file, sections [rater] (the server)
 * and [rating] (what `hvrater report` prices with), every key documented
 * with its default in rater/hvrater.conf.sample.
 *
 * The whole file is parsed and validated before anything acts on it; an
 * error names the file, line and key. Nothing here logs.
 */
#ifndef HV_RATER_CONFIG_H
#define HV_RATER_CONFIG_H

#include <stdbool.h>
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
	char user[64];                    /* account `serve` switches to when started as root; "" none */
	bool allow_root;                  /* run as root without `user` (default no: refused) */
	/* [rating] */
	char rules[RATER_PATH_MAX];       /* hashmap rules file; "" none */
	char metrics[RATER_PATH_MAX];     /* metrics file; "" none */
	uint32_t close_wait;              /* seconds, or periods when close_wait_periods */
	bool close_wait_periods;          /* default: 2 periods */
};

/* The close_wait of @c in seconds (periods resolved with @c->period). */
int64_t rater_config_close_wait_s(const struct rater_config *c);

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

/*
 * Writes the configuration in canonical form (every key; keys without a
 * value, such as an unset user, as a comment line).
 */
void rater_config_print(const struct rater_config *c, FILE *out);

const char *rater_log_level_name(enum rater_log_level l);

#endif
