#include "wire/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mbedtls/asn1.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/oid.h>
#include <mbedtls/x509_crt.h>

/* subjectAltName GeneralName tags (RFC 5280): mbedTLS 2.28 has no names for them */
#define SAN_DNS (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 2)
#define SAN_IP  (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7)

struct tls_config {
	enum tls_role role;
	mbedtls_ssl_config conf;
	mbedtls_x509_crt ca, cert;
	mbedtls_pk_context key;
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	char own_id[HV_ID_MAX];
	char own_problem[96];    /* "" or why the peer will refuse our certificate */
};

/* The whole allow-list: forward secrecy (ECDHE) and AEAD (GCM), nothing else. */
static const int tls_suites[] = {
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	0,
};

static const mbedtls_ecp_group_id tls_curves[] = {
	MBEDTLS_ECP_DP_CURVE25519, MBEDTLS_ECP_DP_SECP256R1, MBEDTLS_ECP_DP_SECP384R1,
	MBEDTLS_ECP_DP_SECP521R1, MBEDTLS_ECP_DP_NONE,
};

/* No SHA-1 (or weaker) in handshake signatures. */
static const int tls_sig_hashes[] = {
	MBEDTLS_MD_SHA512, MBEDTLS_MD_SHA384, MBEDTLS_MD_SHA256, MBEDTLS_MD_NONE,
};

static void why_set(char *why, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void why_set(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!why || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
}

static void mbed_text(int rc, char *buf, size_t len)
{
	mbedtls_strerror(rc, buf, len);
}

/* A host id must be usable as a key and in a log line: the agent's own rule. */
static int id_valid(const unsigned char *p, size_t n)
{
	if (!n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z') ||
		      (p[i] >= '0' && p[i] <= '9') || p[i] == '-' || p[i] == '_' || p[i] == '.'))
			return 0;
	return 1;
}

/* CN first (how host certificates are issued), else the first DNS SAN. */
static int crt_id(const mbedtls_x509_crt *crt, char *out, size_t len)
{
	const unsigned char *p = NULL;
	size_t n = 0;

	if (!crt)
		return -ENOENT;
	for (const mbedtls_x509_name *name = &crt->subject; name; name = name->next)
		if (name->oid.p && MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &name->oid) == 0) {
			p = name->val.p;
			n = name->val.len;
			break;
		}
	if (!p)
		for (const mbedtls_x509_sequence *s = &crt->subject_alt_names; s && s->buf.p; s = s->next)
			if (s->buf.tag == SAN_DNS) {
				p = s->buf.p;
				n = s->buf.len;
				break;
			}
	if (!p)
		return -ENOENT;
	if (!id_valid(p, n))
		return -EINVAL;
	if (n >= len || n >= HV_ID_MAX)
		return -ENAMETOOLONG;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

static int file_check(const char *what, const char *path, char *why, size_t whylen)
{
	FILE *f;

	if (!path || !path[0]) {
		why_set(why, whylen, "no %s file configured", what);
		return -EINVAL;
	}
	f = fopen(path, "re");
	if (!f) {
		int err = -errno;

		why_set(why, whylen, "%s %s: %s", what, path, strerror(-err));
		return err;
	}
	fclose(f);
	return 0;
}

void tls_config_close(struct tls_config *t)
{
	if (!t)
		return;
	mbedtls_ssl_config_free(&t->conf);
	mbedtls_x509_crt_free(&t->ca);
	mbedtls_x509_crt_free(&t->cert);
	mbedtls_pk_free(&t->key);
	mbedtls_ctr_drbg_free(&t->drbg);
	mbedtls_entropy_free(&t->entropy);
	free(t);
}

int tls_config_open(struct tls_config **out, enum tls_role role, const char *ca_file,
		    const char *cert_file, const char *key_file, char *why, size_t whylen)
{
	static const char pers[] = "hvmeter-tls";
	struct tls_config *t;
	char msg[160];
	int rc, err;

	*out = NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->role = role;
	mbedtls_ssl_config_init(&t->conf);
	mbedtls_x509_crt_init(&t->ca);
	mbedtls_x509_crt_init(&t->cert);
	mbedtls_pk_init(&t->key);
	mbedtls_entropy_init(&t->entropy);
	mbedtls_ctr_drbg_init(&t->drbg);

	if ((err = file_check("CA", ca_file, why, whylen)) ||
	    (err = file_check("certificate", cert_file, why, whylen)) ||
	    (err = file_check("key", key_file, why, whylen)))
		goto fail;
	err = -EINVAL;
	rc = mbedtls_x509_crt_parse_file(&t->ca, ca_file);
	if (rc) { /* > 0: some certificates did not parse; a pinned CA file must be clean */
		mbed_text(rc < 0 ? rc : MBEDTLS_ERR_X509_INVALID_FORMAT, msg, sizeof(msg));
		why_set(why, whylen, "CA %s: %s", ca_file, msg);
		goto fail;
	}
	rc = mbedtls_x509_crt_parse_file(&t->cert, cert_file);
	if (rc) {
		mbed_text(rc < 0 ? rc : MBEDTLS_ERR_X509_INVALID_FORMAT, msg, sizeof(msg));
		why_set(why, whylen, "certificate %s: %s", cert_file, msg);
		goto fail;
	}
	rc = mbedtls_pk_parse_keyfile(&t->key, key_file, NULL);
	if (rc) {
		mbed_text(rc, msg, sizeof(msg));
		why_set(why, whylen, "key %s: %s", key_file, msg);
		goto fail;
	}
	if (mbedtls_pk_check_pair(&t->cert.pk, &t->key)) {
		why_set(why, whylen, "key %s does not belong to certificate %s", key_file, cert_file);
		goto fail;
	}
	if (crt_id(&t->cert, t->own_id, sizeof(t->own_id)))
		t->own_id[0] = '\0';
	/* not fatal: the agent keeps sampling and the refusal shows in its status */
	if (mbedtls_x509_time_is_past(&t->cert.valid_to))
		snprintf(t->own_problem, sizeof(t->own_problem), "certificate has expired");
	else if (mbedtls_x509_time_is_future(&t->cert.valid_from))
		snprintf(t->own_problem, sizeof(t->own_problem), "certificate is not valid yet");
	else if (role == TLS_CLIENT && !t->own_id[0])
		snprintf(t->own_problem, sizeof(t->own_problem),
			 "certificate has no CN or DNS name usable as a host id");
	err = -EIO;
	rc = mbedtls_ctr_drbg_seed(&t->drbg, mbedtls_entropy_func, &t->entropy,
				   (const unsigned char *)pers, sizeof(pers) - 1);
	if (rc) {
		mbed_text(rc, msg, sizeof(msg));
		why_set(why, whylen, "random generator: %s", msg);
		goto fail;
	}
	rc = mbedtls_ssl_config_defaults(&t->conf,
					 role == TLS_SERVER ? MBEDTLS_SSL_IS_SERVER : MBEDTLS_SSL_IS_CLIENT,
					 MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
	if (rc) {
		err = -ENOMEM;
		why_set(why, whylen, "TLS configuration defaults failed");
		goto fail;
	}
	mbedtls_ssl_conf_min_version(&t->conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_max_version(&t->conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_ciphersuites(&t->conf, tls_suites);
	mbedtls_ssl_conf_curves(&t->conf, tls_curves);
	mbedtls_ssl_conf_sig_hashes(&t->conf, tls_sig_hashes);
	mbedtls_ssl_conf_authmode(&t->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_ca_chain(&t->conf, &t->ca, NULL);
	mbedtls_ssl_conf_rng(&t->conf, mbedtls_ctr_drbg_random, &t->drbg);
	mbedtls_ssl_conf_renegotiation(&t->conf, MBEDTLS_SSL_RENEGOTIATION_DISABLED);
	if (role == TLS_CLIENT) /* each connection authenticates in full */
		mbedtls_ssl_conf_session_tickets(&t->conf, MBEDTLS_SSL_SESSION_TICKETS_DISABLED);
	if (mbedtls_ssl_conf_own_cert(&t->conf, &t->cert, &t->key)) {
		err = -ENOMEM;
		why_set(why, whylen, "cannot use certificate %s", cert_file);
		goto fail;
	}
	*out = t;
	return 0;
fail:
	tls_config_close(t);
	return err;
}

const char *tls_config_own_id(const struct tls_config *t)
{
	return t->own_id;
}

const char *tls_config_own_problem(const struct tls_config *t)
{
	return t->own_problem[0] ? t->own_problem : NULL;
}

/* ---- one connection -------------------------------------------------------- */

static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
	int fd = *(const int *)ctx;
	ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

	if (n >= 0)
		return (int)n;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return MBEDTLS_ERR_SSL_WANT_WRITE;
	if (errno == EPIPE || errno == ECONNRESET)
		return MBEDTLS_ERR_NET_CONN_RESET;
	return MBEDTLS_ERR_NET_SEND_FAILED;
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
	int fd = *(const int *)ctx;
	ssize_t n = recv(fd, buf, len, 0);

	if (n >= 0)
		return (int)n; /* 0: EOF, which mbedTLS reports as MBEDTLS_ERR_SSL_CONN_EOF */
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return MBEDTLS_ERR_SSL_WANT_READ;
	if (errno == ECONNRESET || errno == EPIPE)
		return MBEDTLS_ERR_NET_CONN_RESET;
	return MBEDTLS_ERR_NET_RECV_FAILED;
}

static int san_has_ip(const mbedtls_x509_crt *crt, const uint8_t *ip, size_t len)
{
	for (const mbedtls_x509_sequence *s = &crt->subject_alt_names; s && s->buf.p; s = s->next)
		if (s->buf.tag == SAN_IP && s->buf.len == len && memcmp(s->buf.p, ip, len) == 0)
			return 1;
	return 0;
}

/* Called for every certificate of the peer's chain, the leaf last (depth 0). */
static int verify_cb(void *ctx, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
	struct tls_conn *c = ctx;

	if (depth == 0) {
		if (mbedtls_x509_dn_gets(c->peer_subject, sizeof(c->peer_subject), &crt->subject) < 0)
			c->peer_subject[0] = '\0';
		if (mbedtls_x509_dn_gets(c->peer_issuer, sizeof(c->peer_issuer), &crt->issuer) < 0)
			c->peer_issuer[0] = '\0';
		if (c->want_ip_len && !san_has_ip(crt, c->want_ip, c->want_ip_len))
			*flags |= MBEDTLS_X509_BADCERT_CN_MISMATCH;
	}
	c->verify_flags |= *flags;
	return 0;
}

void tls_conn_init(struct tls_conn *c)
{
	memset(c, 0, sizeof(*c));
	mbedtls_ssl_init(&c->ssl);
	c->fd = -1;
}

void tls_conn_free(struct tls_conn *c)
{
	if (!c)
		return;
	mbedtls_ssl_free(&c->ssl);
	mbedtls_ssl_init(&c->ssl);
}

int tls_conn_setup(struct tls_conn *c, struct tls_config *t, int fd, const char *server_name)
{
	int rc;

	c->fd = fd;
	c->verify_flags = 0;
	c->peer_subject[0] = c->peer_issuer[0] = '\0';
	c->want_ip_len = 0;
	if ((rc = mbedtls_ssl_setup(&c->ssl, &t->conf)))
		return rc == MBEDTLS_ERR_SSL_ALLOC_FAILED ? -ENOMEM : -EINVAL;
	if (t->role == TLS_CLIENT) {
		struct in6_addr a6;
		struct in_addr a4;

		if (!server_name || !server_name[0])
			return -EINVAL;
		if (inet_pton(AF_INET, server_name, &a4) == 1) {
			memcpy(c->want_ip, &a4, 4);
			c->want_ip_len = 4;
		} else if (inet_pton(AF_INET6, server_name, &a6) == 1) {
			memcpy(c->want_ip, &a6, 16);
			c->want_ip_len = 16;
		} else if ((rc = mbedtls_ssl_set_hostname(&c->ssl, server_name))) {
			return rc == MBEDTLS_ERR_SSL_ALLOC_FAILED ? -ENOMEM : -EINVAL;
		}
	}
	mbedtls_ssl_set_verify(&c->ssl, verify_cb, c);
	mbedtls_ssl_set_bio(&c->ssl, &c->fd, bio_send, bio_recv, NULL);
	return 0;
}

/* Every verification failure in one line: "expired; not signed by the trusted CA". */
static void verify_text(uint32_t flags, char *buf, size_t len)
{
	char raw[512];
	size_t o = 0;

	if (mbedtls_x509_crt_verify_info(raw, sizeof(raw), "", flags) < 0)
		snprintf(raw, sizeof(raw), "flags 0x%x", flags);
	for (const char *p = raw; *p && o + 1 < len; p++) {
		if (*p == '\n') {
			if (p[1] && o + 3 < len) {
				buf[o++] = ';';
				buf[o++] = ' ';
			}
		} else {
			buf[o++] = *p;
		}
	}
	buf[o] = '\0';
}

/* mbedTLS codes end here: to -errno, with the reason in words. */
static int io_err(struct tls_conn *c, int rc, const char *what, char *why, size_t whylen)
{
	char msg[160];

	switch (rc) {
	case MBEDTLS_ERR_SSL_WANT_READ:
		return TLS_WANT_READ;
	case MBEDTLS_ERR_SSL_WANT_WRITE:
		return TLS_WANT_WRITE;
	case MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY:
	case MBEDTLS_ERR_SSL_CONN_EOF:
	case MBEDTLS_ERR_NET_CONN_RESET:
		why_set(why, whylen, "%s: connection closed by peer", what);
		return -ECONNRESET;
	case MBEDTLS_ERR_X509_CERT_VERIFY_FAILED: {
		char v[256];

		verify_text(c->verify_flags, v, sizeof(v));
		why_set(why, whylen, "%s: certificate \"%s\" (issuer \"%s\") refused: %s", what,
			c->peer_subject, c->peer_issuer, v);
		return -EACCES;
	}
	case MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE:
		why_set(why, whylen, "%s: the peer sent no certificate", what);
		return -EACCES;
	case MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE:
		/* the peer refused us; in 2.28 the alert's description is in_msg[1] */
		why_set(why, whylen, "%s: the peer sent fatal alert %d%s", what,
			c->ssl.in_msg ? c->ssl.in_msg[1] : -1,
			c->ssl.in_msg && c->ssl.in_msg[1] == MBEDTLS_SSL_ALERT_MSG_BAD_CERT ?
				" (bad certificate: it does not trust ours)" :
			c->ssl.in_msg && c->ssl.in_msg[1] == MBEDTLS_SSL_ALERT_MSG_UNKNOWN_CA ?
				" (unknown CA: it does not trust the CA of ours)" :
			c->ssl.in_msg && c->ssl.in_msg[1] == MBEDTLS_SSL_ALERT_MSG_CERT_EXPIRED ?
				" (certificate expired)" :
			c->ssl.in_msg && c->ssl.in_msg[1] == MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE ?
				" (handshake failure: no common suite or version)" : "");
		return -EACCES;
	case MBEDTLS_ERR_SSL_BAD_HS_CLIENT_HELLO:
		/* a server's first read: the record header is in in_hdr (5 bytes) */
		if (c->ssl.in_hdr && c->ssl.in_hdr[0] != MBEDTLS_SSL_MSG_HANDSHAKE) {
			char first[5 * 4 + 1];
			size_t o = 0;

			for (int i = 0; i < 5; i++) {
				unsigned char ch = c->ssl.in_hdr[i];

				o += (size_t)snprintf(first + o, sizeof(first) - o,
						      ch >= 0x20 && ch < 0x7f && ch != '\\' ? "%c" : "\\x%02x", ch);
			}
			why_set(why, whylen, "%s: not TLS: the peer's first bytes are \"%s\" (plain TCP, "
				"HTTP or another protocol)", what, first);
			return -EPROTO;
		}
		why_set(why, whylen, "%s: malformed TLS ClientHello", what);
		return -EPROTO;
	case MBEDTLS_ERR_SSL_BAD_HS_PROTOCOL_VERSION:
		/* 2.28 keeps the peer's highest version in major_ver.minor_ver (3.1 = TLS 1.0) */
		why_set(why, whylen, "%s: the peer offers at most %s %d.%d; only TLS 1.2 is allowed", what,
			c->ssl.major_ver == 3 && c->ssl.minor_ver >= 1 ? "TLS" : "SSL",
			c->ssl.major_ver == 3 && c->ssl.minor_ver >= 1 ? 1 : c->ssl.major_ver,
			c->ssl.major_ver == 3 && c->ssl.minor_ver >= 1 ? c->ssl.minor_ver - 1 : c->ssl.minor_ver);
		return -EPROTO;
	case MBEDTLS_ERR_SSL_NO_CIPHER_CHOSEN:
	case MBEDTLS_ERR_SSL_NO_USABLE_CIPHERSUITE:
		why_set(why, whylen, "%s: no cipher suite in common with the peer (allowed: TLS 1.2 "
			"ECDHE-ECDSA or ECDHE-RSA with AES-GCM)", what);
		return -EPROTO;
	case MBEDTLS_ERR_SSL_ALLOC_FAILED:
		why_set(why, whylen, "%s: out of memory", what);
		return -ENOMEM;
	default:
		mbed_text(rc, msg, sizeof(msg));
		why_set(why, whylen, "%s: %s", what, msg);
		return -EPROTO;
	}
}

int tls_handshake(struct tls_conn *c, char *why, size_t whylen)
{
	int rc = mbedtls_ssl_handshake(&c->ssl);

	if (!rc)
		return 0;
	rc = io_err(c, rc, "handshake", why, whylen);
	/* a peer that refuses our certificate often just hangs up: say so */
	if (rc == -ECONNRESET)
		why_set(why, whylen, "handshake: the peer closed the connection (does it trust our "
			"certificate? its log says)");
	return rc;
}

int tls_read(struct tls_conn *c, uint8_t *buf, size_t len, size_t *n, char *why, size_t whylen)
{
	int rc = mbedtls_ssl_read(&c->ssl, buf, len);

	if (rc > 0) {
		*n = (size_t)rc;
		return 0;
	}
	if (rc == 0) {
		why_set(why, whylen, "read: connection closed by peer");
		return -ECONNRESET;
	}
	return io_err(c, rc, "read", why, whylen);
}

int tls_write(struct tls_conn *c, const uint8_t *buf, size_t len, size_t *n, char *why,
	      size_t whylen)
{
	int rc = mbedtls_ssl_write(&c->ssl, buf, len);

	if (rc >= 0) {
		*n = (size_t)rc;
		return 0;
	}
	return io_err(c, rc, "write", why, whylen);
}

void tls_close_notify(struct tls_conn *c)
{
	(void)mbedtls_ssl_close_notify(&c->ssl);
}

size_t tls_pending(const struct tls_conn *c)
{
	return mbedtls_ssl_get_bytes_avail(&c->ssl);
}

int tls_peer_id(const struct tls_conn *c, char *out, size_t len)
{
	return crt_id(mbedtls_ssl_get_peer_cert(&c->ssl), out, len);
}

mbedtls_pk_context *tls_peer_pk(const struct tls_conn *c)
{
	const mbedtls_x509_crt *crt = mbedtls_ssl_get_peer_cert(&c->ssl);

	/* mbedtls_pk_verify takes a non-const context; it does not modify it */
	return crt ? (mbedtls_pk_context *)&crt->pk : NULL;
}

/* ---- batch signatures ------------------------------------------------------ */

int tls_sign_hash(struct tls_config *t, const uint8_t hash[HV_HASH_LEN], uint8_t *sig,
		  size_t cap, size_t *sig_len)
{
	uint8_t buf[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
	size_t n = 0;

	if (!mbedtls_pk_can_do(&t->key, MBEDTLS_PK_ECDSA))
		return -EINVAL;
	if (mbedtls_pk_sign(&t->key, MBEDTLS_MD_SHA256, hash, HV_HASH_LEN, buf, &n,
			    mbedtls_ctr_drbg_random, &t->drbg))
		return -EIO;
	if (n > cap)
		return -EINVAL;
	memcpy(sig, buf, n);
	*sig_len = n;
	return 0;
}

int tls_verify_hash(mbedtls_pk_context *pk, const uint8_t hash[HV_HASH_LEN],
		    const uint8_t *sig, size_t sig_len)
{
	if (!pk || !mbedtls_pk_can_do(pk, MBEDTLS_PK_ECDSA))
		return -EINVAL;
	if (!sig_len)
		return -EBADMSG;
	return mbedtls_pk_verify(pk, MBEDTLS_MD_SHA256, hash, HV_HASH_LEN, sig, sig_len) ? -EBADMSG : 0;
}

/* ---- addresses ------------------------------------------------------------- */

int tls_addr_split(const char *addr, char *host, size_t hlen, uint16_t *port)
{
	const char *colon, *h = addr;
	size_t n;
	unsigned long p;
	char *end;

	if (addr[0] == '[') { /* [v6]:port: the v6 address holds colons itself */
		const char *close = strchr(addr, ']');

		if (!close || close[1] != ':')
			return -EINVAL;
		h = addr + 1;
		n = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(addr, ':');
		if (!colon || strchr(addr, ':') != colon)
			return -EINVAL;
		n = (size_t)(colon - addr);
	}
	if (!n || n >= hlen)
		return -EINVAL;
	/* "[::1 ]:7443" would only fail when dialled, and its name cannot be written back */
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)h[i] <= ' ' || h[i] == 0x7f)
			return -EINVAL;
	if (colon[1] < '0' || colon[1] > '9')
		return -EINVAL;
	errno = 0;
	p = strtoul(colon + 1, &end, 10);
	if (errno || *end || p == 0 || p > 65535)
		return -EINVAL;
	memcpy(host, h, n);
	host[n] = '\0';
	*port = (uint16_t)p;
	return 0;
}
