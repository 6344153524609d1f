/*
 * prom_http.c — the /metrics endpoint: a deliberately small HTTP server.
 * Prometheus needs nothing more than one GET answered with a body and a
 * length, so there is no keep-alive, no chunking and no second request per
 * connection; every wait has a deadline so a stuck client holds the thread
 * for seconds, never forever.
 */
#include "daemon/prom_http.h"
#include "daemon/prom_metrics.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct prom_http {
	struct prom_metrics *pm;
	int listen_fd;
	int stop_fd;          /* eventfd: written by prom_http_close() */
	pthread_t thread;
	bool started;
	char address[PROM_LISTEN_MAX];
};

static bool ipv4_loopback(const struct in_addr *a)
{
	return (ntohl(a->s_addr) >> 24) == 127;
}

int prom_listen_parse(const char *s, struct sockaddr_storage *ss, socklen_t *len, bool *loopback,
		      char *why, size_t whylen)
{
	char host[PROM_LISTEN_MAX];
	const char *port_s;
	unsigned long port;
	char *end;
	size_t hl;

	memset(ss, 0, sizeof(*ss));
	if (strlen(s) >= sizeof(host)) {
		snprintf(why, whylen, "too long: '%.32s...'", s);
		return -EINVAL;
	}
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':') {
			snprintf(why, whylen, "expected [IPv6]:PORT: '%s'", s);
			return -EINVAL;
		}
		hl = (size_t)(close - s - 1);
		memcpy(host, s + 1, hl);
		port_s = close + 2;
	} else {
		const char *colon = strrchr(s, ':');

		if (!colon || strchr(s, ':') != colon) {
			snprintf(why, whylen, "expected ADDRESS:PORT (IPv6 in brackets): '%s'", s);
			return -EINVAL;
		}
		hl = (size_t)(colon - s);
		memcpy(host, s, hl);
		port_s = colon + 1;
	}
	host[hl] = '\0';
	if (!isdigit((unsigned char)port_s[0])) {
		snprintf(why, whylen, "no port number: '%s'", s);
		return -EINVAL;
	}
	errno = 0;
	port = strtoul(port_s, &end, 10);
	if (errno || *end || port < 1 || port > 65535) {
		snprintf(why, whylen, "port must be 1..65535: '%s'", s);
		return -EINVAL;
	}
	if (s[0] == '[') {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

		if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1) {
			snprintf(why, whylen, "not a numeric IPv6 address: '%s'", host);
			return -EINVAL;
		}
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*a6);
		*loopback = IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr) ||
			    (IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr) && a6->sin6_addr.s6_addr[12] == 127);
	} else {
		struct sockaddr_in *a4 = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, host, &a4->sin_addr) != 1) {
			snprintf(why, whylen, "not a numeric IPv4 address: '%s'", host);
			return -EINVAL;
		}
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		*len = sizeof(*a4);
		*loopback = ipv4_loopback(&a4->sin_addr);
	}
	return 0;
}

int prom_http_request_parse(const char *buf, size_t len, bool *head_only)
{
	const char *eol = memchr(buf, '\n', len), *sp1, *sp2;
	size_t line, mlen, plen;

	*head_only = false;
	if (!eol)
		return 400;
	line = (size_t)(eol - buf);
	if (line && buf[line - 1] == '\r')
		line--;
	sp1 = memchr(buf, ' ', line);
	if (!sp1)
		return 400;
	mlen = (size_t)(sp1 - buf);
	sp2 = memchr(sp1 + 1, ' ', line - mlen - 1);
	if (!sp2 || mlen == 0)
		return 400;
	plen = (size_t)(sp2 - sp1 - 1);
	if (plen == 0 || sp1[1] != '/')
		return 400;
	/* the protocol: HTTP/1.0 or 1.1 (Prometheus speaks 1.1) */
	if ((size_t)(buf + line - (sp2 + 1)) != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) ||
	    !isdigit((unsigned char)sp2[8]))
		return buf + line - (sp2 + 1) >= 5 && memcmp(sp2 + 1, "HTTP/", 5) == 0 ? 505 : 400;
	if (!(mlen == 3 && memcmp(buf, "GET", 3) == 0) && !(mlen == 4 && memcmp(buf, "HEAD", 4) == 0))
		return 405;
	/* "/metrics" with or without a query string: Prometheus may add one */
	if (!((plen == 8 || (plen > 8 && sp1[9] == '?')) && memcmp(sp1 + 1, "/metrics", 8) == 0))
		return 404;
	*head_only = mlen == 4;
	return 200;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for @events on @fd until @deadline (mono ms) or a stop request.
 * 0 when ready, -ETIMEDOUT, -ECANCELED (stopping) or -errno. */
static int wait_fd(struct prom_http *h, int fd, short events, int64_t deadline)
{
	struct pollfd p[2] = { { .fd = fd, .events = events }, { .fd = h->stop_fd, .events = POLLIN } };
	int64_t left = deadline - mono_ms();
	int n;

	if (left <= 0)
		return -ETIMEDOUT;
	n = poll(p, 2, (int)(left > 60000 ? 60000 : left));
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	if (p[1].revents)
		return -ECANCELED;
	if (n == 0)
		return -ETIMEDOUT;
	return 0;
}

static int write_all(struct prom_http *h, int fd, const char *buf, size_t len, int64_t deadline)
{
	while (len) {
		ssize_t w = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		int err;

		if (w > 0) {
			buf += w;
			len -= (size_t)w;
			continue;
		}
		if (w < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		if ((err = wait_fd(h, fd, POLLOUT, deadline)))
			return err;
	}
	return 0;
}

/* Reads until the end of the head (an empty line), the limit or the deadline. */
static int read_head(struct prom_http *h, int fd, char *buf, size_t cap, size_t *len)
{
	int64_t deadline = mono_ms() + PROM_HTTP_READ_MS;

	*len = 0;
	for (;;) {
		ssize_t r;
		int err;

		if ((err = wait_fd(h, fd, POLLIN, deadline)))
			return err;
		r = recv(fd, buf + *len, cap - *len, MSG_DONTWAIT);
		if (r == 0)
			return -ECONNRESET;
		if (r < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return -errno;
		}
		*len += (size_t)r;
		if (memmem(buf, *len, "\r\n\r\n", 4) || memmem(buf, *len, "\n\n", 2))
			return 0;
		if (*len == cap)
			return -E2BIG;
	}
}

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 431: return "Request Header Fields Too Large";
	case 505: return "HTTP Version Not Supported";
	default: return "Internal Server Error";
	}
}

static void serve_one(struct prom_http *h, int fd)
{
	char req[PROM_HTTP_REQUEST_MAX], head[256], *body = NULL;
	size_t len = 0, body_len = 0;
	bool head_only = false;
	int status, err, n;

	err = read_head(h, fd, req, sizeof(req), &len);
	if (err == -E2BIG)
		status = 431;
	else if (err)
		return; /* timed out, reset or stopping: nothing worth answering */
	else
		status = prom_http_request_parse(req, len, &head_only);
	if (status == 200 && prom_metrics_snapshot(h->pm, &body, &body_len))
		status = 500;
	if (status != 200) {
		free(body);
		body = NULL;
		body_len = 0;
	}
	n = snprintf(head, sizeof(head),
		     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
		     "Connection: close\r\n\r\n",
		     status, reason(status),
		     status == 200 ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain",
		     body_len, status == 405 ? "Allow: GET, HEAD\r\n" : "");
	{
		int64_t deadline = mono_ms() + PROM_HTTP_WRITE_MS;

		if (write_all(h, fd, head, (size_t)n, deadline) == 0 && body && !head_only)
			write_all(h, fd, body, body_len, deadline);
	}
	free(body);
}

static void *serve(void *arg)
{
	struct prom_http *h = arg;
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	for (;;) {
		struct pollfd p[2] = { { .fd = h->listen_fd, .events = POLLIN },
				       { .fd = h->stop_fd, .events = POLLIN } };
		int fd;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		fd = accept4(h->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			/* out of fds the listener stays readable: pause rather than spin */
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
				poll(&p[1], 1, 100);
			continue;
		}
		serve_one(h, fd);
		close(fd);
	}
	return NULL;
}

int prom_http_open(struct prom_http **out, const char *address, struct prom_metrics *pm, char *err,
		   size_t errlen)
{
	struct prom_http *h = calloc(1, sizeof(*h));
	struct sockaddr_storage ss;
	socklen_t sl = 0;
	bool loopback;
	int one = 1, rc;
	char why[160];

	*out = NULL;
	if (!h)
		return -ENOMEM;
	h->listen_fd = h->stop_fd = -1;
	h->pm = pm;
	snprintf(h->address, sizeof(h->address), "%s", address);
	if ((rc = prom_listen_parse(address, &ss, &sl, &loopback, why, sizeof(why)))) {
		snprintf(err, errlen, "prometheus listen: %s", why);
		goto fail;
	}
	h->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	h->listen_fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (h->stop_fd < 0 || h->listen_fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "prometheus endpoint: %s", strerror(-rc));
		goto fail;
	}
	setsockopt(h->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(h->listen_fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(h->listen_fd, (struct sockaddr *)&ss, sl) < 0 || listen(h->listen_fd, 16) < 0) {
		rc = -errno;
		snprintf(err, errlen, "prometheus endpoint %s: %s", address, strerror(-rc));
		goto fail;
	}
	*out = h;
	return 0;
fail:
	prom_http_close(h);
	return rc;
}

int prom_http_start(struct prom_http *h)
{
	int rc = pthread_create(&h->thread, NULL, serve, h);

	if (rc)
		return -rc;
	h->started = true;
	return 0;
}

void prom_http_close(struct prom_http *h)
{
	uint64_t one = 1;

	if (!h)
		return;
	if (h->started) {
		/* written once to a fresh eventfd: it cannot overflow, so cannot fail */
		ssize_t w = write(h->stop_fd, &one, sizeof(one));

		(void)w;
		pthread_join(h->thread, NULL);
	}
	if (h->listen_fd >= 0)
		close(h->listen_fd);
	if (h->stop_fd >= 0)
		close(h->stop_fd);
	free(h);
}

const char *prom_http_address(const struct prom_http *h)
{
	return h->address;
}
