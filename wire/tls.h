/*
 * tls.h — the uplink's TLS, shared by agent (client) and rater (server).
 *
 * One policy, set here and nowhere else: TLS 1.2 only (min = max), the
 * ciphersuites ECDHE-ECDSA and ECDHE-RSA with AES-128/256-GCM only, peer
 * certificates required on both sides and verified against one pinned CA
 * file, no renegotiation. Hosts are identified by their certificate
 * (tls_peer_id) and sign each batch with their TLS key (tls_sign_hash),
 * which must therefore be an EC key (ECDSA).
 *
 * I/O is non-blocking: the bio callbacks map EAGAIN to mbedTLS's WANT_READ /
 * WANT_WRITE, and tls_handshake/tls_read/tls_write return TLS_WANT_READ or
 * TLS_WANT_WRITE for the caller to poll the fd. mbedTLS error codes stop at
 * this file: functions return 0 (or a count), TLS_WANT_*, or -errno, and
 * put a one-line reason in @why where they take one.
 *
 * Thread rules: a tls_config is used by one thread at a time (its random
 * generator is not shared). Nothing here logs.
 */
#ifndef HV_WIRE_TLS_H
#define HV_WIRE_TLS_H

#include <stddef.h>
#include <stdint.h>

#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>

#include "wire/frame.h"

#define TLS_WANT_READ  1
#define TLS_WANT_WRITE 2
#define TLS_WHY_MAX    256

enum tls_role { TLS_CLIENT = 0, TLS_SERVER = 1 };

struct tls_config;

/*
 * Loads the pinned CA file, this side's certificate (chain) and private key
 * (PEM or DER files), checks that key and certificate match, and builds the
 * mbedTLS configuration for @role. Returns 0, -ENOENT / -EACCES when a file
 * cannot be read, -EINVAL for a file that does not parse or a key that does
 * not match its certificate, -ENOMEM; @why says which file and why.
 */
int tls_config_open(struct tls_config **out, enum tls_role role, const char *ca_file,
		    const char *cert_file, const char *key_file, char *why, size_t whylen);
/* Frees everything; accepts NULL. Contexts set up from it must be freed first. */
void tls_config_close(struct tls_config *t);

/* The identity in this side's own certificate (see tls_peer_id for the rule), "" if none. */
const char *tls_config_own_id(const struct tls_config *t);
/* Why peers will refuse this side's certificate (expired, not yet valid, no id), or NULL. */
const char *tls_config_own_problem(const struct tls_config *t);

/*
 * One connection: the mbedTLS context, the fd it runs on (owned by the
 * caller: tls_conn_free does not close it) and what the certificate check
 * saw, for the caller's log line when the handshake is refused.
 */
struct tls_conn {
	mbedtls_ssl_context ssl;
	int fd;
	uint32_t verify_flags;        /* mbedTLS X509 BADCERT flags of the peer's chain */
	char peer_subject[160];       /* the peer leaf certificate's subject, "" if none */
	char peer_issuer[160];
	uint8_t want_ip[16];          /* client: the rater's IP literal, checked against IP SANs */
	size_t want_ip_len;
};

/* Makes @c safe to free (no allocation). */
void tls_conn_init(struct tls_conn *c);
/* Frees the TLS state (not the fd); accepts an initialised, unset-up conn. */
void tls_conn_free(struct tls_conn *c);

/*
 * Prepares @c (tls_conn_init'ed) for one connection on non-blocking @fd;
 * @c must not move in memory until tls_conn_free (mbedTLS keeps &c->fd).
 * For a client, @server_name is checked against the server's certificate:
 * a DNS name against its CN / DNS SANs (by mbedTLS), an IPv4/IPv6 literal
 * against its IP address SANs (here: mbedTLS 2.28 does not). Servers pass
 * NULL. Returns 0, -EINVAL or -ENOMEM.
 */
int tls_conn_setup(struct tls_conn *c, struct tls_config *t, int fd, const char *server_name);

/*
 * One step of the handshake: 0 when done, TLS_WANT_READ / TLS_WANT_WRITE,
 * or -EACCES (the peer's certificate was refused: @why says why, with its
 * subject), -ECONNRESET (peer closed), -EPROTO (anything else, @why says).
 */
int tls_handshake(struct tls_conn *c, char *why, size_t whylen);

/*
 * Reads up to @len bytes: 0 with *n (> 0) set, TLS_WANT_READ / TLS_WANT_WRITE,
 * -ECONNRESET at the end of the stream (close_notify, EOF, reset), -EPROTO.
 */
int tls_read(struct tls_conn *c, uint8_t *buf, size_t len, size_t *n, char *why, size_t whylen);
/* Writes up to @len bytes: 0 with *n set, TLS_WANT_*, -ECONNRESET, -EPROTO. */
int tls_write(struct tls_conn *c, const uint8_t *buf, size_t len, size_t *n, char *why,
	      size_t whylen);
/* Sends close_notify, best effort (one non-blocking attempt). */
void tls_close_notify(struct tls_conn *c);
/* Bytes already decrypted and waiting (no poll will announce them). */
size_t tls_pending(const struct tls_conn *c);

/*
 * The host id a peer certificate carries: its subject CN, else its first
 * DNS subjectAltName. Returns 0, -ENOENT (no certificate or neither field),
 * -ENAMETOOLONG (does not fit @len).
 */
int tls_peer_id(const struct tls_conn *c, char *out, size_t len);
/* The peer certificate's public key (after the handshake), or NULL. */
mbedtls_pk_context *tls_peer_pk(const struct tls_conn *c);

/*
 * ECDSA signature (DER) with this side's private key over a SHA-256 @hash.
 * Returns 0 with *sig_len set, -EINVAL when the key is not EC or @cap is
 * too small, -EIO on a signing failure.
 */
int tls_sign_hash(struct tls_config *t, const uint8_t hash[HV_HASH_LEN], uint8_t *sig,
		  size_t cap, size_t *sig_len);
/*
 * Verifies an ECDSA (DER) signature over @hash with public key @pk.
 * Returns 0, -EINVAL when @pk is not an EC key, -EBADMSG when it does not verify.
 */
int tls_verify_hash(mbedtls_pk_context *pk, const uint8_t hash[HV_HASH_LEN],
		    const uint8_t *sig, size_t sig_len);

/*
 * Splits a TLS endpoint "host:port" or "[v6addr]:port" into @host (@hlen
 * bytes, brackets removed) and @port (1..65535). Returns 0 or -EINVAL.
 */
int tls_addr_split(const char *addr, char *host, size_t hlen, uint16_t *port);

#endif
