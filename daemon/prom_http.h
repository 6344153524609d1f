/*
 * prom_http.h — the opt-in Prometheus endpoint of hvmeterd: a minimal
 * HTTP/1.1 server that answers GET /metrics with the exposition text the
 * sampler published last (prom_metrics.h). It never touches libvirt, the
 * BPF maps or the store: a scrape costs the sampler one mutex hold for a
 * memcpy.
 *
 * One thread, one connection at a time, one request per connection
 * ("Connection: close"). Limits: a request head of at most
 * PROM_HTTP_REQUEST_MAX bytes, read within PROM_HTTP_READ_MS; the answer
 * written within PROM_HTTP_WRITE_MS. Anything else is answered with a
 * status line (400, 404, 405, 431) or the connection is closed.
 *
 * Listening on anything but a loopback address needs allow_remote: the
 * endpoint has no authentication and names every VM and project.
 */
#ifndef HV_DAEMON_PROM_HTTP_H
#define HV_DAEMON_PROM_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#define PROM_HTTP_REQUEST_MAX 8192
#define PROM_HTTP_READ_MS 5000
#define PROM_HTTP_WRITE_MS 10000
#define PROM_LISTEN_MAX 64 /* "[v6 address]:port" */

struct prom_http;
struct prom_metrics;

/*
 * Parses "IPv4:PORT" or "[IPv6]:PORT" (numeric addresses only, port
 * 1..65535) into @ss/@len; *loopback says whether the address is one of the
 * host's loopback addresses (127.0.0.0/8, ::1, ::ffff:127.0.0.0/104).
 * Returns 0 or -EINVAL with @why (no file or key: the caller adds them).
 */
int prom_listen_parse(const char *s, struct sockaddr_storage *ss, socklen_t *len, bool *loopback,
		      char *why, size_t whylen);

/*
 * What one request head asks for. Returns the HTTP status to answer:
 * 200 for GET or HEAD of /metrics (*head_only set for HEAD), 400 for a
 * malformed request line, 404 for another path, 405 for another method,
 * 505 for a protocol other than HTTP/1.x. @buf need not be NUL-terminated.
 * Pure: no I/O.
 */
int prom_http_request_parse(const char *buf, size_t len, bool *head_only);

/*
 * Binds and listens on @address (already validated by the config) and keeps
 * @pm, which must outlive prom_http_close(). Call it while privileges are
 * still held (a port below 1024); start the thread after daemonizing.
 * Returns 0, or -errno with @err saying what failed ("127.0.0.1:9177:
 * Address already in use").
 */
int prom_http_open(struct prom_http **out, const char *address, struct prom_metrics *pm, char *err,
		   size_t errlen);

/* Starts the serving thread (all signals blocked in it). 0 or -errno. */
int prom_http_start(struct prom_http *h);

/* Stops the thread (a request in progress is cut), closes the socket, frees
 * everything. Accepts NULL and a never-started server. */
void prom_http_close(struct prom_http *h);

/* The address it listens on, "127.0.0.1:9177", for the log. */
const char *prom_http_address(const struct prom_http *h);

#endif
