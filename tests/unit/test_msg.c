/*
 * test_msg — wire/msg (length prefix, ack codec, incremental reader, every
 * truncation) and wire/tls (mutual TLS 1.2 over a socketpair with
 * certificates made here: names, IP SANs, foreign CA, expiry, batch
 * signatures).
 *
 * Also a client for integration tests (tests/integration/uplink_refusals.sh):
 *   test_msg client --rater HOST:PORT --ca F --cert F --key F [--name N]
 *                   [--host-id ID] [--case CASE] [--frames N] [--seq S] [--repeat K]
 * sends one crafted message per connection and prints what came back:
 *   "ack status=S seq=N" | "closed: WHY" | "handshake: WHY"
 * CASE: valid claim truncated oversized short-stream version badchain badsig
 * zero garbage. Exit 0 when the exchange ran (whatever the answer), 1 when
 * the connection or handshake failed, 2 on bad usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include "wire/batch.h"
#include "wire/msg.h"
#include "wire/tls.h"

/* ---- msg: length prefix ------------------------------------------------------------ */

static void test_header(void **state)
{
	uint8_t h[MSG_HDR_LEN];
	size_t n = 0;

	assert_int_equal(msg_header_encode(h, 300), 0);
	assert_memory_equal(h, "\0\0\x01\x2c", 4);
	assert_int_equal(msg_header_decode(h, MSG_MAX_BYTES, &n), 0);
	assert_int_equal(n, 300);
	assert_int_equal(msg_header_decode(h, 299, &n), -E2BIG);
	assert_int_equal(msg_header_encode(h, 0), -EINVAL);
	assert_int_equal(msg_header_encode(h, MSG_MAX_BYTES), 0);
	assert_int_equal(msg_header_decode(h, MSG_MAX_BYTES, &n), 0);
	assert_int_equal(n, MSG_MAX_BYTES);
	assert_int_equal(msg_header_encode(h, MSG_MAX_BYTES + 1), -E2BIG);
	/* a peer's header past 64 MiB is refused whatever the caller's max */
	memcpy(h, "\x04\0\0\x01", 4);
	assert_int_equal(msg_header_decode(h, SIZE_MAX, &n), -E2BIG);
	memcpy(h, "\xff\xff\xff\xff", 4);
	assert_int_equal(msg_header_decode(h, SIZE_MAX, &n), -E2BIG);
	memset(h, 0, 4);
	assert_int_equal(msg_header_decode(h, MSG_MAX_BYTES, &n), -EBADMSG);
}

/* ---- msg: the ack ------------------------------------------------------------------------ */

static void test_ack_roundtrip(void **state)
{
	static const uint64_t seqs[] = { 0, 1, 127, 128, 16383, 16384, 1ull << 32, UINT64_MAX };
	uint8_t buf[ACK_MAX_LEN];

	for (int st = ACK_STORED; st <= ACK_REFUSED; st++)
		for (size_t i = 0; i < sizeof(seqs) / sizeof(seqs[0]); i++) {
			struct ack a = { .status = (uint8_t)st, .ack_seq = seqs[i] }, b;
			int n = ack_encode(&a, buf, sizeof(buf));

			assert_true(n >= 6 && n <= ACK_MAX_LEN);
			assert_int_equal(ack_decode(&b, buf, (size_t)n), 0);
			assert_int_equal(b.status, st);
			assert_true(b.ack_seq == seqs[i]);
		}
	{
		struct ack a = { .status = 3 };

		assert_int_equal(ack_encode(&a, buf, sizeof(buf)), -EINVAL);
		a.status = 0;
		assert_int_equal(ack_encode(&a, buf, 5), -EINVAL);
	}
}

static void test_ack_truncated_and_bad(void **state)
{
	struct ack a = { .status = ACK_GAP, .ack_seq = UINT64_MAX }, b;
	uint8_t buf[ACK_MAX_LEN + 1];
	int n = ack_encode(&a, buf, sizeof(buf));

	assert_int_equal(n, ACK_MAX_LEN);
	/* every proper prefix is refused */
	for (int len = 0; len < n; len++)
		assert_int_equal(ack_decode(&b, buf, (size_t)len), -EBADMSG);
	/* a trailing byte */
	buf[n] = 0;
	assert_int_equal(ack_decode(&b, buf, (size_t)n + 1), -EBADMSG);
	/* wrong magic, version, status */
	n = ack_encode(&a, buf, sizeof(buf));
	buf[0] = 'X';
	assert_int_equal(ack_decode(&b, buf, (size_t)n), -EBADMSG);
	buf[0] = 'H';
	buf[3] = 2;
	assert_int_equal(ack_decode(&b, buf, (size_t)n), -EPROTO);
	buf[3] = ACK_VERSION;
	buf[4] = 3;
	assert_int_equal(ack_decode(&b, buf, (size_t)n), -EBADMSG);
	/* a varint of 11 bytes, and one of 10 whose last byte overflows 64 bits */
	memcpy(buf, "HVA\x01\x00", 5);
	memset(buf + 5, 0xff, 10);
	buf[15] = 0x01;
	assert_int_equal(ack_decode(&b, buf, 16), -EBADMSG);
	memset(buf + 5, 0xff, 9);
	buf[14] = 0x02;
	assert_int_equal(ack_decode(&b, buf, 15), -EBADMSG);
}

/* ---- msg: the incremental reader --------------------------------------------------------- */

/* Feeds @len bytes of @in through @r in chunks of @chunk; returns the final verdict. */
static int feed(struct msg_reader *r, const uint8_t *in, size_t len, size_t chunk, size_t *used)
{
	size_t off = 0;
	int rc = 0;

	while (off < len) {
		uint8_t *p;
		size_t want, n;

		assert_int_equal(msg_reader_want(r, &p, &want), 0);
		assert_true(want > 0);
		n = want < chunk ? want : chunk;
		if (n > len - off)
			n = len - off;
		memcpy(p, in + off, n);
		off += n;
		rc = msg_reader_got(r, n);
		if (rc)
			break;
	}
	*used = off;
	return rc;
}

static void test_reader(void **state)
{
	static const size_t chunks[] = { 1, 3, 4, 5, 100, 1 << 20 };
	size_t body_len = 200000, used;
	uint8_t *stream = malloc(2 * (MSG_HDR_LEN + body_len));
	struct msg_reader r;

	assert_non_null(stream);
	/* two messages back to back: the reader never reads into the second */
	msg_header_encode(stream, body_len);
	for (size_t i = 0; i < body_len; i++)
		stream[MSG_HDR_LEN + i] = (uint8_t)(i * 7);
	memcpy(stream + MSG_HDR_LEN + body_len, stream, MSG_HDR_LEN + body_len);
	for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
		msg_reader_init(&r, MSG_MAX_BYTES);
		for (int m = 0; m < 2; m++) {
			const uint8_t *in = stream + m * (MSG_HDR_LEN + body_len);

			assert_false(msg_reader_started(&r));
			assert_int_equal(feed(&r, in, MSG_HDR_LEN + body_len, chunks[c], &used), 1);
			assert_int_equal(used, MSG_HDR_LEN + body_len);
			assert_int_equal(r.body_len, body_len);
			assert_memory_equal(r.body, in + MSG_HDR_LEN, body_len);
			msg_reader_reset(&r);
		}
		msg_reader_free(&r);
	}
	/* truncated: every prefix leaves the reader waiting, never complete */
	msg_reader_init(&r, MSG_MAX_BYTES);
	for (size_t cut = 0; cut < MSG_HDR_LEN + 300; cut += 7) {
		msg_reader_reset(&r);
		assert_int_equal(feed(&r, stream, cut, 64, &used), 0);
		assert_int_equal(msg_reader_started(&r), cut > 0);
	}
	msg_reader_free(&r);
	free(stream);
}

static void test_reader_refuses_before_allocating(void **state)
{
	uint8_t hdr[MSG_HDR_LEN] = { 0x04, 0, 0, 1 }; /* 64 MiB + 1 */
	struct msg_reader r;
	size_t used;

	msg_reader_init(&r, MSG_MAX_BYTES);
	assert_int_equal(feed(&r, hdr, sizeof(hdr), 4, &used), -E2BIG);
	assert_null(r.body);
	msg_reader_free(&r);

	msg_reader_init(&r, ACK_MAX_LEN); /* the agent reading an ack */
	msg_header_encode(hdr, ACK_MAX_LEN + 1);
	assert_int_equal(feed(&r, hdr, sizeof(hdr), 1, &used), -E2BIG);
	msg_reader_free(&r);

	msg_reader_init(&r, MSG_MAX_BYTES);
	memset(hdr, 0, sizeof(hdr));
	assert_int_equal(feed(&r, hdr, sizeof(hdr), 2, &used), -EBADMSG);
	msg_reader_free(&r);

	/* a 64 MiB declaration with 10 bytes sent allocates a small buffer only */
	msg_reader_init(&r, MSG_MAX_BYTES);
	msg_header_encode(hdr, MSG_MAX_BYTES);
	assert_int_equal(feed(&r, hdr, sizeof(hdr), 4, &used), 0);
	{
		uint8_t ten[10] = { 0 };

		assert_int_equal(feed(&r, ten, sizeof(ten), 10, &used), 0);
		assert_true(r.body_cap <= (64u << 10));
	}
	msg_reader_free(&r);
}

static void test_addr_split(void **state)
{
	char h[64];
	uint16_t p;

	assert_int_equal(tls_addr_split("127.0.0.1:7443", h, sizeof(h), &p), 0);
	assert_string_equal(h, "127.0.0.1");
	assert_int_equal(p, 7443);
	assert_int_equal(tls_addr_split("rater.example:1", h, sizeof(h), &p), 0);
	assert_string_equal(h, "rater.example");
	assert_int_equal(tls_addr_split("[::1]:65535", h, sizeof(h), &p), 0);
	assert_string_equal(h, "::1");
	assert_int_equal(p, 65535);
	assert_int_equal(tls_addr_split("::1:7443", h, sizeof(h), &p), -EINVAL);
	assert_int_equal(tls_addr_split("host", h, sizeof(h), &p), -EINVAL);
	assert_int_equal(tls_addr_split("host:", h, sizeof(h), &p), -EINVAL);
	assert_int_equal(tls_addr_split(":80", h, sizeof(h), &p), -EINVAL);
	assert_int_equal(tls_addr_split("host:0", h, sizeof(h), &p), -EINVAL);
	assert_int_equal(tls_addr_split("host:65536", h, sizeof(h), &p), -EINVAL);
	assert_int_equal(tls_addr_split("host:80x", h, sizeof(h), &p), -EINVAL);
	assert_int_equal(tls_addr_split("host:-1", h, sizeof(h), &p), -EINVAL);
	assert_int_equal(tls_addr_split("[::1]7443", h, sizeof(h), &p), -EINVAL);
	assert_int_equal(tls_addr_split("averyveryveryveryverylonghostname.example:1", h, 8, &p), -EINVAL);
}

/* ---- tls: certificates made here --------------------------------------------------------- */

struct pki {
	char dir[64];
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
};

static struct pki pki;

static void path_of(char *out, size_t len, const char *name, const char *ext)
{
	snprintf(out, len, "%s/%s.%s", pki.dir, name, ext);
}

static void write_file(const char *path, const unsigned char *buf)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs((const char *)buf, f);
	fclose(f);
}

/* A P-256 key in NAME.key; returns it loaded in @pk. */
static void key_make(const char *name, mbedtls_pk_context *pk)
{
	unsigned char pem[4096];
	char path[128];

	mbedtls_pk_init(pk);
	assert_int_equal(mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)), 0);
	assert_int_equal(mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(*pk),
					     mbedtls_ctr_drbg_random, &pki.drbg), 0);
	assert_int_equal(mbedtls_pk_write_key_pem(pk, pem, sizeof(pem)), 0);
	path_of(path, sizeof(path), name, "key");
	write_file(path, pem);
}

/*
 * NAME.pem: subject CN=@cn, signed by (@issuer_key, @issuer_cn) or self-signed
 * when @issuer_key is NULL; @san: DER of a SubjectAltName or NULL.
 */
static void cert_make(const char *name, const char *cn, mbedtls_pk_context *key,
		      mbedtls_pk_context *issuer_key, const char *issuer_cn, const uint8_t *san,
		      size_t san_len, bool ca, const char *not_after)
{
	mbedtls_x509write_cert w;
	mbedtls_mpi serial;
	unsigned char pem[4096];
	char subj[128], iss[128], path[128];
	static int next_serial = 1;

	mbedtls_x509write_crt_init(&w);
	mbedtls_mpi_init(&serial);
	snprintf(subj, sizeof(subj), "CN=%s,O=hvmeter test", cn);
	snprintf(iss, sizeof(iss), "CN=%s,O=hvmeter test", issuer_key ? issuer_cn : cn);
	mbedtls_x509write_crt_set_version(&w, MBEDTLS_X509_CRT_VERSION_3);
	mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
	mbedtls_x509write_crt_set_subject_key(&w, key);
	mbedtls_x509write_crt_set_issuer_key(&w, issuer_key ? issuer_key : key);
	assert_int_equal(mbedtls_mpi_lset(&serial, next_serial++), 0);
	assert_int_equal(mbedtls_x509write_crt_set_serial(&w, &serial), 0);
	assert_int_equal(mbedtls_x509write_crt_set_subject_name(&w, subj), 0);
	assert_int_equal(mbedtls_x509write_crt_set_issuer_name(&w, iss), 0);
	assert_int_equal(mbedtls_x509write_crt_set_validity(&w, "20200101000000", not_after), 0);
	assert_int_equal(mbedtls_x509write_crt_set_basic_constraints(&w, ca, -1), 0);
	if (san)
		assert_int_equal(mbedtls_x509write_crt_set_extension(&w, MBEDTLS_OID_SUBJECT_ALT_NAME,
								     MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME),
								     0, san, san_len), 0);
	assert_int_equal(mbedtls_x509write_crt_pem(&w, pem, sizeof(pem), mbedtls_ctr_drbg_random,
						   &pki.drbg), 0);
	path_of(path, sizeof(path), name, "pem");
	write_file(path, pem);
	mbedtls_mpi_free(&serial);
	mbedtls_x509write_crt_free(&w);
}

static int pki_setup(void **state)
{
	/* SAN: DNS:localhost, IP:127.0.0.1 */
	static const uint8_t san_rater[] = { 0x30, 0x11, 0x82, 0x09, 'l', 'o', 'c', 'a', 'l', 'h', 'o',
					     's', 't', 0x87, 0x04, 127, 0, 0, 1 };
	mbedtls_pk_context ca, ca2, rater, a, b, x, old;

	strcpy(pki.dir, "/tmp/hvt-msg.XXXXXX");
	if (!mkdtemp(pki.dir))
		return -1;
	mbedtls_entropy_init(&pki.entropy);
	mbedtls_ctr_drbg_init(&pki.drbg);
	if (mbedtls_ctr_drbg_seed(&pki.drbg, mbedtls_entropy_func, &pki.entropy, NULL, 0))
		return -1;
	key_make("ca", &ca);
	cert_make("ca", "test CA", &ca, NULL, NULL, NULL, 0, true, "20991231235959");
	key_make("ca2", &ca2);
	cert_make("ca2", "other CA", &ca2, NULL, NULL, NULL, 0, true, "20991231235959");
	key_make("rater", &rater);
	cert_make("rater", "rater", &rater, &ca, "test CA", san_rater, sizeof(san_rater), false,
		  "20991231235959");
	key_make("host-a", &a);
	cert_make("host-a", "host-a", &a, &ca, "test CA", NULL, 0, false, "20991231235959");
	key_make("host-b", &b);
	cert_make("host-b", "host-b", &b, &ca, "test CA", NULL, 0, false, "20991231235959");
	key_make("foreign", &x);
	cert_make("foreign", "host-a", &x, &ca2, "other CA", NULL, 0, false, "20991231235959");
	key_make("expired", &old);
	cert_make("expired", "host-a", &old, &ca, "test CA", NULL, 0, false, "20210101000000");
	mbedtls_pk_free(&ca);
	mbedtls_pk_free(&ca2);
	mbedtls_pk_free(&rater);
	mbedtls_pk_free(&a);
	mbedtls_pk_free(&b);
	mbedtls_pk_free(&x);
	mbedtls_pk_free(&old);
	return 0;
}

static int pki_teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", pki.dir);
	if (system(cmd)) {
		/* a leftover temp dir is not a failure */
	}
	mbedtls_ctr_drbg_free(&pki.drbg);
	mbedtls_entropy_free(&pki.entropy);
	return 0;
}

static int cfg_open(struct tls_config **t, enum tls_role role, const char *ca, const char *who)
{
	char c[128], p[128], k[128], why[TLS_WHY_MAX];
	int err;

	path_of(c, sizeof(c), ca, "pem");
	path_of(p, sizeof(p), who, "pem");
	path_of(k, sizeof(k), who, "key");
	err = tls_config_open(t, role, c, p, k, why, sizeof(why));
	if (err)
		print_message("tls_config_open: %s\n", why);
	return err;
}

struct pair {
	struct tls_config *cc, *sc;
	struct tls_conn c, s;
	int fds[2];
	int crc, src;
	char cwhy[TLS_WHY_MAX], swhy[TLS_WHY_MAX];
};

/* Runs both handshakes over a socketpair, alternating, until both ended. */
static void pair_handshake(struct pair *p, const char *server_name)
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, p->fds), 0);
	tls_conn_init(&p->c);
	tls_conn_init(&p->s);
	assert_int_equal(tls_conn_setup(&p->c, p->cc, p->fds[0], server_name), 0);
	assert_int_equal(tls_conn_setup(&p->s, p->sc, p->fds[1], NULL), 0);
	p->crc = p->src = TLS_WANT_READ;
	for (int i = 0; i < 200 && (p->crc > 0 || p->src > 0); i++) {
		if (p->crc > 0)
			p->crc = tls_handshake(&p->c, p->cwhy, sizeof(p->cwhy));
		if (p->src > 0)
			p->src = tls_handshake(&p->s, p->swhy, sizeof(p->swhy));
	}
}

static void pair_free(struct pair *p)
{
	tls_conn_free(&p->c);
	tls_conn_free(&p->s);
	close(p->fds[0]);
	close(p->fds[1]);
	tls_config_close(p->cc);
	tls_config_close(p->sc);
}

static void test_tls_handshake_and_data(void **state)
{
	struct pair p = { 0 };
	char id[HV_ID_MAX], why[TLS_WHY_MAX];
	uint8_t buf[64];
	size_t n = 0;
	const char *suite;

	assert_int_equal(cfg_open(&p.cc, TLS_CLIENT, "ca", "host-a"), 0);
	assert_int_equal(cfg_open(&p.sc, TLS_SERVER, "ca", "rater"), 0);
	assert_string_equal(tls_config_own_id(p.cc), "host-a");
	assert_null(tls_config_own_problem(p.cc));
	pair_handshake(&p, "127.0.0.1");
	assert_int_equal(p.crc, 0);
	assert_int_equal(p.src, 0);
	assert_string_equal(mbedtls_ssl_get_version(&p.c.ssl), "TLSv1.2");
	suite = mbedtls_ssl_get_ciphersuite(&p.s.ssl);
	assert_non_null(strstr(suite, "ECDHE-ECDSA"));
	assert_non_null(strstr(suite, "GCM"));
	assert_int_equal(tls_peer_id(&p.s, id, sizeof(id)), 0);
	assert_string_equal(id, "host-a");
	assert_int_equal(tls_peer_id(&p.c, id, sizeof(id)), 0);
	assert_string_equal(id, "rater");
	assert_int_equal(tls_peer_id(&p.s, id, 3), -ENAMETOOLONG);
	/* an ack through the tunnel */
	assert_int_equal(tls_write(&p.s, (const uint8_t *)"HVA", 3, &n, why, sizeof(why)), 0);
	assert_int_equal(n, 3);
	assert_int_equal(tls_read(&p.c, buf, sizeof(buf), &n, why, sizeof(why)), 0);
	assert_int_equal(n, 3);
	assert_memory_equal(buf, "HVA", 3);
	assert_int_equal(tls_read(&p.c, buf, sizeof(buf), &n, why, sizeof(why)), TLS_WANT_READ);
	/* close_notify reads as end of stream */
	tls_close_notify(&p.s);
	assert_int_equal(tls_read(&p.c, buf, sizeof(buf), &n, why, sizeof(why)), -ECONNRESET);
	pair_free(&p);

	/* a DNS name from the certificate's SANs works as well */
	memset(&p, 0, sizeof(p));
	assert_int_equal(cfg_open(&p.cc, TLS_CLIENT, "ca", "host-b"), 0);
	assert_int_equal(cfg_open(&p.sc, TLS_SERVER, "ca", "rater"), 0);
	pair_handshake(&p, "localhost");
	assert_int_equal(p.crc, 0);
	assert_int_equal(p.src, 0);
	pair_free(&p);
}

static void test_tls_rater_name_checked(void **state)
{
	static const char *const wrong[] = { "127.0.0.2", "::1", "rater.example", "host-a" };

	for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
		struct pair p = { 0 };

		assert_int_equal(cfg_open(&p.cc, TLS_CLIENT, "ca", "host-a"), 0);
		assert_int_equal(cfg_open(&p.sc, TLS_SERVER, "ca", "rater"), 0);
		pair_handshake(&p, wrong[i]);
		assert_int_equal(p.crc, -EACCES);
		assert_non_null(strstr(p.cwhy, "CN=rater"));
		assert_true(p.src < 0);
		pair_free(&p);
	}
}

static void test_tls_foreign_and_expired_refused(void **state)
{
	static const char *const bad[] = { "foreign", "expired" };
	static const char *const words[] = { "not correctly signed", "expired" };

	for (size_t i = 0; i < 2; i++) {
		struct pair p = { 0 };

		assert_int_equal(cfg_open(&p.cc, TLS_CLIENT, "ca", bad[i]), 0);
		assert_int_equal(cfg_open(&p.sc, TLS_SERVER, "ca", "rater"), 0);
		pair_handshake(&p, "127.0.0.1");
		assert_int_equal(p.src, -EACCES);
		print_message("server says: %s\n", p.swhy);
		assert_non_null(strstr(p.swhy, words[i]));
		assert_non_null(strstr(p.swhy, "CN=host-a"));
		assert_true(p.crc < 0);
		pair_free(&p);
	}
	/* and the other way: an agent pinning another CA refuses the rater */
	{
		struct pair p = { 0 };

		assert_int_equal(cfg_open(&p.cc, TLS_CLIENT, "ca2", "host-a"), 0);
		assert_int_equal(cfg_open(&p.sc, TLS_SERVER, "ca", "rater"), 0);
		pair_handshake(&p, "127.0.0.1");
		assert_int_equal(p.crc, -EACCES);
		pair_free(&p);
	}
}

static void test_tls_config_errors(void **state)
{
	struct tls_config *t = NULL;
	char c[128], p[128], k[128], why[TLS_WHY_MAX];

	path_of(c, sizeof(c), "ca", "pem");
	path_of(p, sizeof(p), "host-a", "pem");
	path_of(k, sizeof(k), "host-b", "key");
	assert_int_equal(tls_config_open(&t, TLS_CLIENT, c, p, k, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "does not belong"));
	assert_null(t);
	assert_int_equal(tls_config_open(&t, TLS_CLIENT, "/nonexistent/ca.pem", p, k, why, sizeof(why)),
			 -ENOENT);
	assert_non_null(strstr(why, "/nonexistent/ca.pem"));
	/* a key file given as the CA */
	assert_int_equal(tls_config_open(&t, TLS_CLIENT, k, p, k, why, sizeof(why)), -EINVAL);
	tls_config_close(NULL);
	/* an expired certificate loads (it may be renewed in place) but says so */
	assert_int_equal(cfg_open(&t, TLS_CLIENT, "ca", "expired"), 0);
	assert_non_null(tls_config_own_problem(t));
	assert_non_null(strstr(tls_config_own_problem(t), "expired"));
	tls_config_close(t);
}

static void test_tls_batch_signature(void **state)
{
	struct pair p = { 0 };
	uint8_t hash[HV_HASH_LEN], sig[BATCH_SIG_MAX];
	size_t sl = 0;

	assert_int_equal(cfg_open(&p.cc, TLS_CLIENT, "ca", "host-a"), 0);
	assert_int_equal(cfg_open(&p.sc, TLS_SERVER, "ca", "rater"), 0);
	pair_handshake(&p, "127.0.0.1");
	assert_int_equal(p.src, 0);
	for (int i = 0; i < HV_HASH_LEN; i++)
		hash[i] = (uint8_t)i;
	assert_int_equal(tls_sign_hash(p.cc, hash, sig, sizeof(sig), &sl), 0);
	assert_true(sl > 60 && sl <= 72);
	assert_int_equal(tls_verify_hash(tls_peer_pk(&p.s), hash, sig, sl), 0);
	hash[0] ^= 1;
	assert_int_equal(tls_verify_hash(tls_peer_pk(&p.s), hash, sig, sl), -EBADMSG);
	hash[0] ^= 1;
	assert_int_equal(tls_verify_hash(tls_peer_pk(&p.s), hash, sig, sl - 1), -EBADMSG);
	assert_int_equal(tls_verify_hash(tls_peer_pk(&p.s), hash, sig, 0), -EBADMSG);
	assert_int_equal(tls_sign_hash(p.cc, hash, sig, 8, &sl), -EINVAL);
	assert_int_equal(tls_verify_hash(NULL, hash, sig, sl), -EINVAL);
	pair_free(&p);
}

/* ---- the integration client ------------------------------------------------------------- */

struct client {
	struct tls_config *cfg;
	struct tls_conn tc;
	int fd;
	char why[TLS_WHY_MAX];
};

static int client_wait(int fd, int rc)
{
	struct pollfd pfd = { .fd = fd, .events = rc == TLS_WANT_READ ? POLLIN : POLLOUT };

	return poll(&pfd, 1, 20000) == 1 ? 0 : -ETIMEDOUT;
}

static int client_connect(struct client *c, const char *rater, const char *name)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	char host[256], port_s[8];
	uint16_t port;
	int rc;

	if (tls_addr_split(rater, host, sizeof(host), &port))
		return -EINVAL;
	snprintf(port_s, sizeof(port_s), "%u", port);
	if (getaddrinfo(host, port_s, &hints, &ai))
		return -EHOSTUNREACH;
	c->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	rc = c->fd < 0 || connect(c->fd, ai->ai_addr, ai->ai_addrlen) < 0 ? -errno : 0;
	freeaddrinfo(ai);
	if (rc) {
		snprintf(c->why, sizeof(c->why), "connect: %s", strerror(-rc));
		return rc;
	}
	fcntl(c->fd, F_SETFL, O_NONBLOCK);
	tls_conn_init(&c->tc);
	if ((rc = tls_conn_setup(&c->tc, c->cfg, c->fd, name)))
		return rc;
	while ((rc = tls_handshake(&c->tc, c->why, sizeof(c->why))) > 0)
		if (client_wait(c->fd, rc))
			return -ETIMEDOUT;
	return rc;
}

static int client_send(struct client *c, const uint8_t *buf, size_t len)
{
	size_t off = 0, n;
	int rc;

	while (off < len) {
		rc = tls_write(&c->tc, buf + off, len - off, &n, c->why, sizeof(c->why));
		if (rc > 0) {
			if (client_wait(c->fd, rc))
				return -ETIMEDOUT;
			continue;
		}
		if (rc)
			return rc;
		off += n;
	}
	return 0;
}

/* Prints the rater's answer to one message; returns 0 when it answered or closed. */
static int client_answer(struct client *c)
{
	struct msg_reader rd;
	struct ack a;
	int rc;

	msg_reader_init(&rd, ACK_MAX_LEN);
	for (;;) {
		uint8_t *p;
		size_t want, n = 0;

		msg_reader_want(&rd, &p, &want);
		rc = tls_read(&c->tc, p, want, &n, c->why, sizeof(c->why));
		if (rc > 0) {
			if (client_wait(c->fd, rc)) {
				printf("timeout: no answer\n");
				break;
			}
			continue;
		}
		if (rc) {
			printf("closed: %s\n", c->why);
			rc = 0;
			break;
		}
		rc = msg_reader_got(&rd, n);
		if (rc < 0) {
			printf("bad answer length\n");
			break;
		}
		if (rc == 1) {
			rc = ack_decode(&a, rd.body, rd.body_len);
			if (rc)
				printf("bad ack\n");
			else
				printf("ack status=%u seq=%llu\n", a.status, (unsigned long long)a.ack_seq);
			break;
		}
	}
	fflush(stdout);
	msg_reader_free(&rd);
	return rc;
}

/* Frames seq @seq.. with a fixed content: vm-1 cpu.time 1000 + seq ns each. */
static void client_frames(struct frame *f, size_t n, uint64_t seq)
{
	uint8_t prev[HV_HASH_LEN] = { 0 };

	for (size_t i = 0; i < n; i++) {
		uint8_t *bytes = NULL;
		size_t len = 0;

		frame_init(&f[i]);
		f[i].seq = seq + i;
		f[i].merged = 1;
		f[i].start_ns = 1700000000000000000ll + (int64_t)(seq + i) * 1000000000;
		f[i].end_ns = f[i].start_ns + 1000000000;
		memcpy(f[i].prev_hash, prev, HV_HASH_LEN);
		frame_delta_add(&f[i], "vm-1", "cpu.time", "", 1000 + (int64_t)(seq + i));
		if (i == 0 && seq == 1) {
			struct frame_resource r = { .resource = "vm-1" };

			frame_attr_set(&r, "name", "client-vm");
			frame_attr_set(&r, "project", "p1");
			frame_resource_add(&f[i], &r);
		}
		frame_canonicalize(&f[i]);
		frame_encode(&f[i], &bytes, &len);
		frame_hash(bytes, len, f[i].hash);
		memcpy(prev, f[i].hash, HV_HASH_LEN);
		free(bytes);
	}
}

static int client_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "rater", required_argument, NULL, 'r' }, { "ca", required_argument, NULL, 'a' },
		{ "cert", required_argument, NULL, 'c' },  { "key", required_argument, NULL, 'k' },
		{ "name", required_argument, NULL, 'n' },  { "host-id", required_argument, NULL, 'i' },
		{ "case", required_argument, NULL, 'x' },  { "frames", required_argument, NULL, 'f' },
		{ "seq", required_argument, NULL, 's' },   { "repeat", required_argument, NULL, 'R' },
		{ 0 },
	};
	const char *rater = NULL, *ca = NULL, *cert = NULL, *key = NULL, *name = NULL, *id = NULL;
	const char *cs = "valid";
	size_t nf = 3, repeat = 1;
	uint64_t seq = 1;
	struct client c = { .fd = -1 };
	struct frame all[128], *f;
	uint8_t sig[BATCH_SIG_MAX], *body = NULL, *msg = NULL;
	size_t sl = 0, len = 0, mlen;
	char host[256];
	uint16_t port;
	int opt, rc = 1;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'r': rater = optarg; break;
		case 'a': ca = optarg; break;
		case 'c': cert = optarg; break;
		case 'k': key = optarg; break;
		case 'n': name = optarg; break;
		case 'i': id = optarg; break;
		case 'x': cs = optarg; break;
		case 'f': nf = strtoul(optarg, NULL, 10); break;
		case 's': seq = strtoull(optarg, NULL, 10); break;
		case 'R': repeat = strtoul(optarg, NULL, 10); break;
		default: return 2;
		}
	}
	if (!rater || !ca || !cert || !key || !nf || !seq || seq + nf - 1 > 128 ||
	    tls_addr_split(rater, host, sizeof(host), &port)) {
		fprintf(stderr, "usage: test_msg client --rater H:P --ca F --cert F --key F [--name N] "
			"[--host-id ID] [--case C] [--frames N] [--seq S] [--repeat K] (S + N - 1 <= 128)\n");
		return 2;
	}
	if (tls_config_open(&c.cfg, TLS_CLIENT, ca, cert, key, c.why, sizeof(c.why))) {
		printf("config: %s\n", c.why);
		return 1;
	}
	if (!id)
		id = tls_config_own_id(c.cfg);
	/* always the same chain from seq 1: batches from any seq continue each other */
	client_frames(all, seq + nf - 1, 1);
	f = all + seq - 1;
	if (strcmp(cs, "badchain") == 0 && nf > 1)
		f[1].delta[0].value += 1000000; /* the carried hash no longer matches */
	tls_sign_hash(c.cfg, f[nf - 1].hash, sig, sizeof(sig), &sl);
	if (strcmp(cs, "badsig") == 0)
		sig[sl / 2] ^= 0x55;
	if (batch_encode(id, f, nf, sig, sl, &body, &len)) {
		printf("cannot encode\n");
		goto out;
	}
	if (strcmp(cs, "version") == 0)
		body[3] = BATCH_VERSION + 1;
	if (strcmp(cs, "truncated") == 0)
		len -= 10;
	if (strcmp(cs, "garbage") == 0)
		for (size_t i = 0; i < len; i++)
			body[i] = (uint8_t)(i * 131 + 17);
	mlen = MSG_HDR_LEN + len;
	msg = malloc(mlen);
	msg_header_encode(msg, len);
	memcpy(msg + MSG_HDR_LEN, body, len);
	if (strcmp(cs, "oversized") == 0) {
		memcpy(msg, "\x04\x00\x00\x01", 4); /* 64 MiB + 1, nothing after */
		mlen = MSG_HDR_LEN;
	} else if (strcmp(cs, "zero") == 0) {
		memset(msg, 0, 4);
		mlen = MSG_HDR_LEN;
	} else if (strcmp(cs, "short-stream") == 0) {
		mlen = MSG_HDR_LEN + 10; /* then hang up mid-message */
	}
	rc = client_connect(&c, rater, name ? name : host);
	if (rc) {
		printf("handshake: %s\n", c.why);
		rc = 1;
		goto out;
	}
	for (size_t r = 0; r < repeat; r++) {
		if ((rc = client_send(&c, msg, mlen))) {
			printf("closed: %s\n", c.why);
			rc = 0;
			break;
		}
		if (strcmp(cs, "short-stream") == 0) {
			printf("hung up mid-message\n");
			break;
		}
		if ((rc = client_answer(&c)))
			break;
	}
	rc = rc ? 1 : 0;
out:
	for (size_t i = 0; i < seq + nf - 1; i++)
		frame_free(&all[i]);
	free(body);
	free(msg);
	tls_conn_free(&c.tc);
	if (c.fd >= 0)
		close(c.fd);
	tls_config_close(c.cfg);
	return rc;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_ack_roundtrip),
		cmocka_unit_test(test_ack_truncated_and_bad),
		cmocka_unit_test(test_reader),
		cmocka_unit_test(test_reader_refuses_before_allocating),
		cmocka_unit_test(test_addr_split),
		cmocka_unit_test(test_tls_handshake_and_data),
		cmocka_unit_test(test_tls_rater_name_checked),
		cmocka_unit_test(test_tls_foreign_and_expired_refused),
		cmocka_unit_test(test_tls_config_errors),
		cmocka_unit_test(test_tls_batch_signature),
	};

	if (argc > 1 && strcmp(argv[1], "client") == 0)
		return client_main(argc - 1, argv + 1);
	/* one group: tests/run.sh reads one summary per program */
	return cmocka_run_group_tests_name("msg", tests, pki_setup, pki_teardown);
}
