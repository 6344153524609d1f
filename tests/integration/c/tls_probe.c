/*
 * tls_probe — a deliberately non-conforming uplink client for
 * tests/integration/tls_negatives.sh: it offers what hvrater must refuse.
 *
 *   tls_probe --connect HOST:PORT --plain TEXT      send TEXT (C escapes \r \n \xNN) over plain TCP
 *   tls_probe --connect HOST:PORT --random N        send N random bytes (not starting with a
 *                                                   TLS handshake's 0x16) over plain TCP
 *   tls_probe --connect HOST:PORT [--version 1.0|1.1|1.2] [--suites NAME,...]
 *             [--ca F --cert F --key F] [--name SERVER_NAME]
 *                                                   one TLS handshake with mbedTLS, limited
 *                                                   to that version and those suites
 *
 * It does not check the server's certificate (its purpose is to reach the
 * server's own checks). Prints one line: "handshake ok: VERSION SUITE",
 * "handshake refused: WHY [(alert N)]", or for plain TCP "sent N bytes;
 * peer closed after sending M bytes" / "...; still open after 5 s".
 * Exit 0: handshake done (or plain bytes sent and the peer closed);
 * 1: refused (or still open); 2: usage or set-up error.
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_ciphersuites.h>
#include <mbedtls/x509_crt.h>

#include "wire/tls.h"

#define PROBE_WAIT_MS 5000
#define PROBE_SUITES_MAX 32

struct probe_opts {
	const char *connect, *plain, *version, *suites, *ca, *cert, *key, *name;
	long random;
};

static int tcp_open(const char *addr)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	char host[256], port_s[8];
	uint16_t port;
	int fd;

	if (tls_addr_split(addr, host, sizeof(host), &port)) {
		fprintf(stderr, "tls_probe: --connect %s: not HOST:PORT\n", addr);
		return -EINVAL;
	}
	snprintf(port_s, sizeof(port_s), "%u", port);
	if (getaddrinfo(host, port_s, &hints, &ai)) {
		fprintf(stderr, "tls_probe: cannot resolve %s\n", host);
		return -EINVAL;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		fprintf(stderr, "tls_probe: connect %s: %s\n", addr, strerror(errno));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd < 0 ? -EIO : fd;
}

/* "GET / HTTP/1.0\r\n\r\n" with \r, \n, \t, \\ and \xNN decoded; returns the length. */
static size_t unescape(const char *s, char *out)
{
	size_t n = 0;

	for (; *s; s++) {
		if (*s != '\\' || !s[1]) {
			out[n++] = *s;
			continue;
		}
		s++;
		if (*s == 'r')
			out[n++] = '\r';
		else if (*s == 'n')
			out[n++] = '\n';
		else if (*s == 't')
			out[n++] = '\t';
		else if (*s == 'x' && s[1] && s[2]) {
			char hex[3] = { s[1], s[2], 0 };

			out[n++] = (char)strtol(hex, NULL, 16);
			s += 2;
		} else {
			out[n++] = *s;
		}
	}
	return n;
}

/* Sends bytes that are not a TLS handshake, then waits for the peer to close. */
static int probe_plain(const struct probe_opts *o)
{
	char *buf = NULL, in[4096];
	size_t len, got = 0;
	int fd, rc = 2;

	if (o->plain) {
		buf = malloc(strlen(o->plain) + 1);
		if (!buf)
			return 2;
		len = unescape(o->plain, buf);
	} else {
		FILE *r = fopen("/dev/urandom", "re");

		len = (size_t)o->random;
		buf = malloc(len ? len : 1);
		if (!r || !buf || fread(buf, 1, len, r) != len) {
			if (r)
				fclose(r);
			free(buf);
			return 2;
		}
		fclose(r);
		/* never by chance the start of a TLS handshake record */
		if (len && (unsigned char)buf[0] == 0x16)
			buf[0] = 0x17;
	}
	fd = tcp_open(o->connect);
	if (fd < 0)
		goto out;
	if (send(fd, buf, len, MSG_NOSIGNAL) != (ssize_t)len) {
		fprintf(stderr, "tls_probe: send: %s\n", strerror(errno));
		goto out;
	}
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, PROBE_WAIT_MS) <= 0) {
			printf("sent %zu bytes; still open after %d s\n", len, PROBE_WAIT_MS / 1000);
			rc = 1;
			break;
		}
		n = recv(fd, in, sizeof(in), 0);
		if (n <= 0) {
			printf("sent %zu bytes; peer closed after sending %zu bytes\n", len, got);
			rc = 0;
			break;
		}
		got += (size_t)n;
	}
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return rc;
}

static int probe_tls(const struct probe_opts *o)
{
	static const char pers[] = "tls_probe";
	int suites[PROBE_SUITES_MAX + 1] = { 0 }, minor = MBEDTLS_SSL_MINOR_VERSION_3, rc, ret = 2;
	mbedtls_ssl_context ssl;
	mbedtls_ssl_config conf;
	mbedtls_x509_crt ca, cert;
	mbedtls_pk_context key;
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_net_context net;
	char msg[200];

	mbedtls_ssl_init(&ssl);
	mbedtls_ssl_config_init(&conf);
	mbedtls_x509_crt_init(&ca);
	mbedtls_x509_crt_init(&cert);
	mbedtls_pk_init(&key);
	mbedtls_entropy_init(&entropy);
	mbedtls_ctr_drbg_init(&drbg);
	mbedtls_net_init(&net);
	if (o->version && strcmp(o->version, "1.2")) {
		if (!strcmp(o->version, "1.1"))
			minor = MBEDTLS_SSL_MINOR_VERSION_2;
		else if (!strcmp(o->version, "1.0"))
			minor = MBEDTLS_SSL_MINOR_VERSION_1;
		else {
			fprintf(stderr, "tls_probe: --version %s: 1.0, 1.1 or 1.2\n", o->version);
			goto out;
		}
	}
	if (o->suites) {
		char list[1024], *save = NULL;
		size_t n = 0;

		snprintf(list, sizeof(list), "%s", o->suites);
		for (char *w = strtok_r(list, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
			int id = mbedtls_ssl_get_ciphersuite_id(w);

			if (!id || n == PROBE_SUITES_MAX) {
				fprintf(stderr, "tls_probe: cipher suite %s: not in this mbedTLS\n", w);
				goto out;
			}
			suites[n++] = id;
		}
	}
	if (mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, (const unsigned char *)pers,
				  sizeof(pers) - 1) ||
	    mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
					MBEDTLS_SSL_PRESET_DEFAULT)) {
		fprintf(stderr, "tls_probe: mbedTLS set-up failed\n");
		goto out;
	}
	mbedtls_ssl_conf_rng(&conf, mbedtls_ctr_drbg_random, &drbg);
	mbedtls_ssl_conf_read_timeout(&conf, PROBE_WAIT_MS);
	mbedtls_ssl_conf_min_version(&conf, MBEDTLS_SSL_MAJOR_VERSION_3, minor);
	mbedtls_ssl_conf_max_version(&conf, MBEDTLS_SSL_MAJOR_VERSION_3, minor);
	if (o->suites)
		mbedtls_ssl_conf_ciphersuites(&conf, suites);
	/* the server's checks are under test, not ours */
	mbedtls_ssl_conf_authmode(&conf, MBEDTLS_SSL_VERIFY_NONE);
	if (o->cert && o->key) {
		if (mbedtls_x509_crt_parse_file(&cert, o->cert) ||
		    mbedtls_pk_parse_keyfile(&key, o->key, NULL) ||
		    mbedtls_ssl_conf_own_cert(&conf, &cert, &key)) {
			fprintf(stderr, "tls_probe: cannot load %s / %s\n", o->cert, o->key);
			goto out;
		}
	}
	if (o->ca && mbedtls_x509_crt_parse_file(&ca, o->ca) == 0)
		mbedtls_ssl_conf_ca_chain(&conf, &ca, NULL);
	if (mbedtls_ssl_setup(&ssl, &conf) || (o->name && mbedtls_ssl_set_hostname(&ssl, o->name))) {
		fprintf(stderr, "tls_probe: mbedTLS set-up failed\n");
		goto out;
	}
	net.fd = tcp_open(o->connect);
	if (net.fd < 0)
		goto out;
	/* a server that never answers ends the probe, not the test */
	mbedtls_ssl_set_bio(&ssl, &net, mbedtls_net_send, NULL, mbedtls_net_recv_timeout);
	while ((rc = mbedtls_ssl_handshake(&ssl)) == MBEDTLS_ERR_SSL_WANT_READ ||
	       rc == MBEDTLS_ERR_SSL_WANT_WRITE)
		;
	if (rc == 0) {
		printf("handshake ok: %s %s\n", mbedtls_ssl_get_version(&ssl),
		       mbedtls_ssl_get_ciphersuite(&ssl));
		mbedtls_ssl_close_notify(&ssl);
		ret = 0;
		goto out;
	}
	mbedtls_strerror(rc, msg, sizeof(msg));
	if (rc == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE && ssl.in_msg)
		printf("handshake refused: %s (alert %d)\n", msg, ssl.in_msg[1]);
	else
		printf("handshake refused: %s\n", msg);
	ret = 1;
out:
	mbedtls_net_free(&net);
	mbedtls_ssl_free(&ssl);
	mbedtls_ssl_config_free(&conf);
	mbedtls_x509_crt_free(&ca);
	mbedtls_x509_crt_free(&cert);
	mbedtls_pk_free(&key);
	mbedtls_ctr_drbg_free(&drbg);
	mbedtls_entropy_free(&entropy);
	return ret;
}

static void usage(void)
{
	fputs("Usage: tls_probe --connect HOST:PORT (--plain TEXT | --random N |\n"
	      "       [--version 1.0|1.1|1.2] [--suites NAME,...] [--ca F] [--cert F --key F] [--name N])\n",
	      stderr);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "connect", required_argument, NULL, 'c' }, { "plain", required_argument, NULL, 'p' },
		{ "random", required_argument, NULL, 'r' },  { "version", required_argument, NULL, 'v' },
		{ "suites", required_argument, NULL, 's' },  { "ca", required_argument, NULL, 'a' },
		{ "cert", required_argument, NULL, 'e' },    { "key", required_argument, NULL, 'k' },
		{ "name", required_argument, NULL, 'n' },    { 0 },
	};
	struct probe_opts o = { .random = -1 };
	int opt;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': o.connect = optarg; break;
		case 'p': o.plain = optarg; break;
		case 'r': o.random = strtol(optarg, NULL, 10); break;
		case 'v': o.version = optarg; break;
		case 's': o.suites = optarg; break;
		case 'a': o.ca = optarg; break;
		case 'e': o.cert = optarg; break;
		case 'k': o.key = optarg; break;
		case 'n': o.name = optarg; break;
		default: usage(); return 2;
		}
	}
	if (!o.connect || optind != argc || (o.plain && o.random >= 0) || o.random > 1 << 20) {
		usage();
		return 2;
	}
	if (o.plain || o.random >= 0)
		return probe_plain(&o);
	return probe_tls(&o);
}
