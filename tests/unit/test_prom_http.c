/* The /metrics endpoint: listen addresses (numeric, loopback told apart),
 * request lines, and a real server on 127.0.0.1 answering real sockets:
 * 200 with the snapshot and its length, 404, 405, 431 for an oversized
 * head, a silent client cut off after the read timeout while the next one
 * waits, and a close that does not wait for a stuck client. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "daemon/prom_http.h"
#include "daemon/prom_metrics.h"

static void test_listen_parse(void **state)
{
	static const struct {
		const char *in;
		int ok, loopback;
	} cases[] = {
		{ "127.0.0.1:9177", 1, 1 },    { "127.9.8.7:1", 1, 1 },    { "[::1]:9177", 1, 1 },
		{ "[::ffff:127.0.0.1]:80", 1, 1 }, { "0.0.0.0:9177", 1, 0 }, { "10.0.0.1:9177", 1, 0 },
		{ "[::]:9177", 1, 0 },         { "localhost:9177", 0, 0 }, { "127.0.0.1", 0, 0 },
		{ "127.0.0.1:0", 0, 0 },       { "127.0.0.1:65536", 0, 0 }, { "127.0.0.1:91x", 0, 0 },
		{ "::1:9177", 0, 0 },          { "[::1]9177", 0, 0 },      { ":9177", 0, 0 },
		{ "", 0, 0 },
	};
	struct sockaddr_storage ss;
	socklen_t len;
	bool loopback;
	char why[160];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = prom_listen_parse(cases[i].in, &ss, &len, &loopback, why, sizeof(why));

		if ((rc == 0) != cases[i].ok)
			fail_msg("'%s': rc %d (%s)", cases[i].in, rc, rc ? why : "accepted");
		if (rc == 0 && loopback != cases[i].loopback)
			fail_msg("'%s': loopback %d", cases[i].in, loopback);
	}
	assert_int_equal(prom_listen_parse("127.0.0.1:9177", &ss, &len, &loopback, why, sizeof(why)), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 9177);
}

static void test_request_parse(void **state)
{
	static const struct {
		const char *req;
		int status, head;
	} cases[] = {
		{ "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 200, 0 },
		{ "GET /metrics HTTP/1.0\n\n", 200, 0 },
		{ "HEAD /metrics HTTP/1.1\r\n\r\n", 200, 1 },
		{ "GET /metrics?x=1 HTTP/1.1\r\n\r\n", 200, 0 },
		{ "GET /metricsx HTTP/1.1\r\n\r\n", 404, 0 },
		{ "GET / HTTP/1.1\r\n\r\n", 404, 0 },
		{ "GET /metric HTTP/1.1\r\n\r\n", 404, 0 },
		{ "POST /metrics HTTP/1.1\r\n\r\n", 405, 0 },
		{ "DELETE /metrics HTTP/1.1\r\n\r\n", 405, 0 },
		{ "GET /metrics HTTP/2.0\r\n\r\n", 505, 0 },
		{ "GET /metrics\r\n\r\n", 400, 0 },
		{ "GET metrics HTTP/1.1\r\n\r\n", 400, 0 },
		{ " /metrics HTTP/1.1\r\n\r\n", 400, 0 },
		{ "GET /metrics FOO/1.1\r\n\r\n", 400, 0 },
		{ "garbage", 400, 0 },
	};
	bool head;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int st = prom_http_request_parse(cases[i].req, strlen(cases[i].req), &head);

		if (st != cases[i].status || head != cases[i].head)
			fail_msg("'%s': %d head %d", cases[i].req, st, head);
	}
}

/* ---- a live server ---------------------------------------------------------- */

struct live {
	struct prom_metrics *pm;
	struct prom_http *h;
	int port;
};

static int live_up(void **state)
{
	struct live *l = calloc(1, sizeof(*l));
	char addr[32], err[256];

	assert_non_null(l);
	assert_int_equal(prom_metrics_new(&l->pm, "test-1"), 0);
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	/* a random high port; another test may hold one, so try a few */
	for (int i = 0; i < 20 && !l->h; i++) {
		l->port = 20000 + rand() % 30000;
		snprintf(addr, sizeof(addr), "127.0.0.1:%d", l->port);
		if (prom_http_open(&l->h, addr, l->pm, err, sizeof(err)) != 0)
			l->h = NULL;
	}
	assert_non_null(l->h);
	assert_string_equal(prom_http_address(l->h), addr);
	assert_int_equal(prom_http_start(l->h), 0);
	*state = l;
	return 0;
}

static int live_down(void **state)
{
	struct live *l = *state;

	prom_http_close(l->h);
	prom_metrics_free(l->pm);
	free(l);
	return 0;
}

static int dial(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct timeval tv = { .tv_sec = 15 };

	assert_true(fd >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* Sends @req (may be NULL) and reads the answer until the server closes. */
static char *exchange(int port, const char *req, size_t req_len, size_t *len)
{
	int fd = dial(port);
	size_t cap = 1 << 16;
	char *buf = malloc(cap);
	ssize_t r;

	assert_non_null(buf);
	if (req)
		assert_int_equal(send(fd, req, req_len, MSG_NOSIGNAL), (ssize_t)req_len);
	*len = 0;
	while ((r = recv(fd, buf + *len, cap - *len - 1, 0)) > 0)
		*len += (size_t)r;
	buf[*len] = '\0';
	close(fd);
	return buf;
}

static void test_get_metrics(void **state)
{
	struct live *l = *state;
	const char req[] = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/plain\r\n\r\n";
	char *resp, *snap, *body;
	size_t len, snap_len;
	unsigned long clen = 0;

	resp = exchange(l->port, req, sizeof(req) - 1, &len);
	assert_int_equal(strncmp(resp, "HTTP/1.1 200 OK\r\n", 17), 0);
	assert_non_null(strstr(resp, "\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
	assert_non_null(strstr(resp, "\r\nConnection: close\r\n"));
	assert_non_null(strstr(resp, "\r\nContent-Length: "));
	clen = strtoul(strstr(resp, "\r\nContent-Length: ") + 18, NULL, 10);
	body = strstr(resp, "\r\n\r\n");
	assert_non_null(body);
	body += 4;
	assert_int_equal(clen, len - (size_t)(body - resp));
	assert_int_equal(prom_metrics_snapshot(l->pm, &snap, &snap_len), 0);
	assert_int_equal(clen, snap_len);
	assert_memory_equal(body, snap, snap_len);
	assert_non_null(strstr(body, "hvmeter_build_info{version=\"test-1\"} 1\n"));
	free(snap);
	free(resp);

	/* HEAD: the same head, no body */
	resp = exchange(l->port, "HEAD /metrics HTTP/1.1\r\n\r\n", 26, &len);
	assert_int_equal(strncmp(resp, "HTTP/1.1 200 OK\r\n", 17), 0);
	assert_int_equal(strcmp(strstr(resp, "\r\n\r\n"), "\r\n\r\n"), 0);
	free(resp);
}

static void test_refusals(void **state)
{
	struct live *l = *state;
	char *resp, *big;
	size_t len;

	resp = exchange(l->port, "GET / HTTP/1.1\r\n\r\n", 18, &len);
	assert_int_equal(strncmp(resp, "HTTP/1.1 404 Not Found\r\n", 24), 0);
	assert_non_null(strstr(resp, "Content-Length: 0\r\n"));
	free(resp);
	resp = exchange(l->port, "POST /metrics HTTP/1.1\r\n\r\n", 26, &len);
	assert_int_equal(strncmp(resp, "HTTP/1.1 405 Method Not Allowed\r\n", 33), 0);
	assert_non_null(strstr(resp, "\r\nAllow: GET, HEAD\r\n"));
	free(resp);
	/* a head that never ends within the limit */
	big = malloc(PROM_HTTP_REQUEST_MAX + 100);
	assert_non_null(big);
	memcpy(big, "GET /metrics HTTP/1.1\r\nX: ", 26);
	memset(big + 26, 'a', PROM_HTTP_REQUEST_MAX + 74);
	resp = exchange(l->port, big, PROM_HTTP_REQUEST_MAX, &len);
	assert_int_equal(strncmp(resp, "HTTP/1.1 431 ", 13), 0);
	free(resp);
	free(big);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One connection at a time: a client that says nothing holds the server for
 * the read timeout, then is closed and the next one is served. */
static void test_silent_client_times_out(void **state)
{
	struct live *l = *state;
	int silent = dial(l->port);
	double t0 = now_s(), waited;
	char *resp, c;
	size_t len;

	resp = exchange(l->port, "GET /metrics HTTP/1.1\r\n\r\n", 25, &len);
	waited = now_s() - t0;
	assert_int_equal(strncmp(resp, "HTTP/1.1 200 OK\r\n", 17), 0);
	print_message("served after %.2f s behind a silent client\n", waited);
	assert_true(waited >= PROM_HTTP_READ_MS / 1000.0 - 0.5);
	assert_true(waited < PROM_HTTP_READ_MS / 1000.0 + 5);
	/* the silent one got nothing and was closed */
	assert_int_equal(recv(silent, &c, 1, 0), 0);
	close(silent);
	free(resp);
}

/* Closing does not wait for a client in the middle of a request. */
static void test_close_with_stuck_client(void **state)
{
	struct prom_metrics *pm;
	struct prom_http *h = NULL;
	char addr[32], err[256];
	int port = 0, fd;
	double t0;

	assert_int_equal(prom_metrics_new(&pm, "x"), 0);
	for (int i = 0; i < 20 && !h; i++) {
		port = 20000 + rand() % 30000;
		snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
		if (prom_http_open(&h, addr, pm, err, sizeof(err)))
			h = NULL;
	}
	assert_non_null(h);
	assert_int_equal(prom_http_start(h), 0);
	fd = dial(port);
	assert_int_equal(send(fd, "GET /met", 8, MSG_NOSIGNAL), 8);
	usleep(200000);
	t0 = now_s();
	prom_http_close(h);
	assert_true(now_s() - t0 < 1.0);
	close(fd);
	prom_metrics_free(pm);
}

static void test_open_refuses_a_taken_port(void **state)
{
	struct live *l = *state;
	struct prom_http *h = NULL;
	char addr[32], err[256];

	snprintf(addr, sizeof(addr), "127.0.0.1:%d", l->port);
	assert_int_equal(prom_http_open(&h, addr, l->pm, err, sizeof(err)), -EADDRINUSE);
	assert_null(h);
	assert_non_null(strstr(err, addr));
	assert_non_null(strstr(err, "in use"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_listen_parse),
		cmocka_unit_test(test_request_parse),
		cmocka_unit_test_setup_teardown(test_get_metrics, live_up, live_down),
		cmocka_unit_test_setup_teardown(test_refusals, live_up, live_down),
		cmocka_unit_test_setup_teardown(test_silent_client_times_out, live_up, live_down),
		cmocka_unit_test_setup_teardown(test_open_refuses_a_taken_port, live_up, live_down),
		cmocka_unit_test(test_close_with_stuck_client),
	};
	return cmocka_run_group_tests_name("prom_http", tests, NULL, NULL);
}
