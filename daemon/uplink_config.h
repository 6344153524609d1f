/*
 * uplink_config.h — the [uplink] section of hvmeterd.conf: where the rater
 * is and how to reach it. Every key is documented, with its default, in
 * daemon/hvmeterd.conf.sample; the defaults are here.
 *
 *   rater         HOST:PORT or [IPv6]:PORT of hvrater serve; empty (default) = uplink off
 *   ca            the CA that signed the rater's certificate (pinned; required when on)
 *   cert, key     this host's certificate (CN = host_id) and EC private key (required when on)
 *   server_name   name checked against the rater's certificate; default: the host part of rater
 *   batch_frames  frames per batch, 1..4096, default 360
 *   batch_bytes   bytes per batch (estimated before encoding), 64K..64M, default 8M
 *   timeout       seconds for connect, handshake, a send and the ack, 1..3600, default 30
 *
 * Nothing here logs.
 */
#ifndef HV_DAEMON_UPLINK_CONFIG_H
#define HV_DAEMON_UPLINK_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#define UPLINK_PATH_MAX 512

struct uplink_config {
	char rater[256];
	char ca[UPLINK_PATH_MAX];
	char cert[UPLINK_PATH_MAX];
	char key[UPLINK_PATH_MAX];
	char server_name[256];     /* "" until uplink_config_check fills the default */
	uint32_t batch_frames;
	uint32_t batch_bytes;
	uint32_t timeout;
};

/* Fills @c with every default (uplink off). */
void uplink_config_defaults(struct uplink_config *c);

/*
 * Applies one `key = value` of the [uplink] section. Returns 1 when handled,
 * 0 when the value is wrong (@why, of @whylen bytes, says why, without file
 * or line: the caller adds them), -1 for a key this section does not have.
 */
int uplink_config_key(struct uplink_config *c, const char *key, const char *value, char *why,
		      size_t whylen);

/*
 * Validates the section as a whole once the file is parsed, and fills
 * derived defaults (server_name). Returns 0, or -EINVAL with @why naming the
 * key ("ca: required when rater is set").
 */
int uplink_config_check(struct uplink_config *c, char *why, size_t whylen);

/* Writes the section in canonical form ("[uplink]" and every key). */
void uplink_config_print(const struct uplink_config *c, FILE *out);

#endif
