#include "rater/serve.h"
#include "rater/ingest.h"
#include "rater/metrics_map.h"
#include "rater/privdrop.h"
#include "rater/rstore.h"
#include "rater/rules.h"
#include "wire/msg.h"
#include "wire/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_CONFIG "/etc/hvmeter/hvrater.conf"
#define HANDSHAKE_MAX_S 30
#define EVENTS_MAX 256

/* ---- logging (process-level) ---------------------------------------------------- */

static enum rater_log_level log_level_now = RLOG_INFO;

static void slog(enum rater_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void slog(enum rater_log_level level, const char *fmt, ...)
{
	char msg[1024];
	struct timespec ts;
	struct tm tm;
	va_list ap;

	if (level > log_level_now)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	fprintf(stderr, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ hvrater[%d]: %s: %s\n",
		tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		ts.tv_nsec / 1000000, (int)getpid(), rater_log_level_name(level), msg);
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- connections ------------------------------------------------------------------ */

enum conn_state {
	C_HANDSHAKE,
	C_READ,    /* reading a message */
	C_READY,   /* a complete batch waits for this round's group commit */
	C_WRITE,   /* writing the ack */
};

struct conn {
	struct tls_conn tc;        /* tc.fd is the socket */
	enum conn_state state;
	struct msg_reader rd;
	uint8_t out[MSG_HDR_LEN + ACK_MAX_LEN];
	size_t out_len, out_off;
	bool close_after_write;
	bool ingest_failed;
	uint32_t events;           /* current epoll interest */
	int64_t deadline_ms;       /* CLOCK_MONOTONIC */
	size_t idx;                /* in server.conns */
	char addr[64];             /* "ip:port" of the peer */
	char host_id[HV_ID_MAX];   /* from the certificate, once the handshake is done */
	struct ingest_result res;
	uint64_t batches;
	struct conn *next_ready;
};

struct server {
	const struct rater_config *cfg;
	struct tls_config *tls;
	struct rstore *rs;
	int ep, lfd, sig_fd, tick_fd;
	bool listen_paused;        /* out of fds: accept resumes on the next tick */
	struct conn **conns;
	size_t n_conns, cap_conns;
	struct conn *ready;        /* batches complete in this round */
	bool stop, tick;
	uint64_t over_limit;       /* connections closed at accept (max_hosts), since last log */
	int64_t over_limit_logged_ms;
};

static void conn_close(struct server *srv, struct conn *c, bool notify)
{
	struct conn *last;

	if (notify && c->state != C_HANDSHAKE)
		tls_close_notify(&c->tc);
	epoll_ctl(srv->ep, EPOLL_CTL_DEL, c->tc.fd, NULL);
	tls_conn_free(&c->tc);
	close(c->tc.fd);
	msg_reader_free(&c->rd);
	last = srv->conns[--srv->n_conns];
	srv->conns[c->idx] = last;
	last->idx = c->idx;
	free(c);
}

static void conn_interest(struct server *srv, struct conn *c, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = c };

	if (events == c->events)
		return;
	if (epoll_ctl(srv->ep, EPOLL_CTL_MOD, c->tc.fd, &ev) == 0)
		c->events = events;
}

static void conn_touch(struct server *srv, struct conn *c)
{
	c->deadline_ms = mono_ms() + (int64_t)srv->cfg->idle_timeout * 1000;
}

/* Queues an ack (and, for a refusal, the close that follows it). */
static void conn_ack(struct conn *c, const struct ack *a)
{
	int n = ack_encode(a, c->out + MSG_HDR_LEN, sizeof(c->out) - MSG_HDR_LEN);

	msg_header_encode(c->out, (size_t)n);
	c->out_len = MSG_HDR_LEN + (size_t)n;
	c->out_off = 0;
	c->close_after_write = a->status == ACK_REFUSED;
	c->state = C_WRITE;
}

static const char *who(const struct conn *c)
{
	return c->host_id[0] ? c->host_id : "(no host id yet)";
}

/*
 * Drives @c as far as it goes without blocking. Returns false when the
 * connection was closed (and freed).
 */
static bool conn_step(struct server *srv, struct conn *c)
{
	char why[TLS_WHY_MAX];
	int rc;

	for (;;) {
		switch (c->state) {
		case C_HANDSHAKE:
			rc = tls_handshake(&c->tc, why, sizeof(why));
			if (rc == TLS_WANT_READ || rc == TLS_WANT_WRITE) {
				conn_interest(srv, c, rc == TLS_WANT_READ ? EPOLLIN : EPOLLOUT);
				return true;
			}
			if (rc == -EACCES) {
				slog(RLOG_WARN, "refused connection from %s: %s", c->addr, why);
				conn_close(srv, c, false);
				return false;
			}
			if (rc) {
				/* port scans and health checks end here too: not worth a warning */
				slog(RLOG_INFO, "connection from %s failed in the handshake: %s", c->addr, why);
				conn_close(srv, c, false);
				return false;
			}
			rc = tls_peer_id(&c->tc, c->host_id, sizeof(c->host_id));
			if (rc) {
				slog(RLOG_WARN, "refused connection from %s: certificate \"%s\" carries no usable "
				     "host id (%s)", c->addr, c->tc.peer_subject,
				     rc == -ENOENT ? "no CN or DNS subjectAltName" : "invalid characters or too long");
				conn_close(srv, c, true);
				return false;
			}
			slog(RLOG_INFO, "host %s connected from %s (%s)", c->host_id, c->addr,
			     mbedtls_ssl_get_ciphersuite(&c->tc.ssl));
			c->state = C_READ;
			conn_touch(srv, c);
			break;
		case C_READ: {
			uint8_t *p;
			size_t want, got = 0;

			if (msg_reader_want(&c->rd, &p, &want)) {
				slog(RLOG_ERR, "host %s (%s): out of memory reading a batch", who(c), c->addr);
				conn_close(srv, c, false);
				return false;
			}
			rc = tls_read(&c->tc, p, want, &got, why, sizeof(why));
			if (rc == TLS_WANT_READ || rc == TLS_WANT_WRITE) {
				conn_interest(srv, c, rc == TLS_WANT_READ ? EPOLLIN : EPOLLOUT);
				return true;
			}
			if (rc) {
				if (msg_reader_started(&c->rd))
					slog(RLOG_WARN, "host %s (%s): connection ended mid-message (%zu of %zu "
					     "body bytes): nothing stored", who(c), c->addr, c->rd.body_got,
					     c->rd.body_len);
				else
					slog(RLOG_INFO, "host %s (%s) disconnected after %" PRIu64 " batches%s%s",
					     who(c), c->addr, c->batches, rc == -ECONNRESET ? "" : ": ",
					     rc == -ECONNRESET ? "" : why);
				conn_close(srv, c, false);
				return false;
			}
			conn_touch(srv, c);
			rc = msg_reader_got(&c->rd, got);
			if (rc < 0) {
				struct ack a = { .status = ACK_REFUSED };

				slog(RLOG_WARN, "refused message from host %s (%s): %s", who(c), c->addr,
				     rc == -E2BIG ? "declared length over the 64 MiB limit" : "empty message");
				conn_ack(c, &a);
				break;
			}
			if (rc == 1) { /* a whole batch: wait for the round's commit */
				c->state = C_READY;
				c->next_ready = srv->ready;
				srv->ready = c;
				conn_interest(srv, c, 0);
				return true;
			}
			break;
		}
		case C_READY:
			return true;
		case C_WRITE: {
			size_t n = 0;

			rc = tls_write(&c->tc, c->out + c->out_off, c->out_len - c->out_off, &n, why,
				       sizeof(why));
			if (rc == TLS_WANT_READ || rc == TLS_WANT_WRITE) {
				conn_interest(srv, c, rc == TLS_WANT_READ ? EPOLLIN : EPOLLOUT);
				return true;
			}
			if (rc) {
				slog(RLOG_INFO, "host %s (%s): cannot send the ack: %s", who(c), c->addr, why);
				conn_close(srv, c, false);
				return false;
			}
			c->out_off += n;
			conn_touch(srv, c);
			if (c->out_off < c->out_len)
				break;
			if (c->close_after_write) {
				conn_close(srv, c, true);
				return false;
			}
			msg_reader_reset(&c->rd);
			c->state = C_READ; /* the next batch may already sit in mbedTLS's buffer */
			break;
		}
		}
	}
}

/* ---- the group commit ---------------------------------------------------------------- */

static void log_result(const struct conn *c)
{
	const struct ingest_result *r = &c->res;
	char hex[2 * HV_HASH_LEN + 1];

	switch (r->ack.status) {
	case ACK_STORED:
		frame_hash_hex(r->head, hex);
		slog(RLOG_DEBUG, "host %s (%s): batch seq %" PRIu64 "..%" PRIu64 ": %zu stored, %zu "
		     "already had; ack %" PRIu64 ", head %.16s...", c->host_id, c->addr, r->first_seq,
		     r->last_seq, r->n_new, r->n_known, r->ack.ack_seq, hex);
		break;
	case ACK_GAP:
		slog(RLOG_INFO, "host %s (%s): %s; asked to resend from %" PRIu64, c->host_id, c->addr,
		     r->reason, r->ack.ack_seq + 1);
		break;
	default:
		slog(RLOG_WARN, "refused batch from %s (certificate CN '%s', batch claims '%s', %zu "
		     "frames, seq %" PRIu64 "..%" PRIu64 "): %s; nothing stored, closing", c->addr,
		     c->host_id, r->claimed_id[0] ? r->claimed_id : "?", r->n_frames, r->first_seq,
		     r->last_seq, r->reason);
		break;
	}
}

static void ingest_round(struct server *srv)
{
	struct rstore_txn *parent = NULL;
	struct conn *list = srv->ready, *c, *next;
	size_t n = 0;
	int err;

	srv->ready = NULL;
	if (!list)
		return;
	for (c = list; c; c = c->next_ready)
		n++;
	err = rstore_txn_begin(srv->rs, NULL, &parent);
	for (c = list; c && !err; c = c->next_ready) {
		struct ingest_peer peer = {
			.host_id = c->host_id,
			.pk = tls_peer_pk(&c->tc),
			.addr = c->addr,
			.now_ns = real_ns(),
		};
		int e = ingest_batch(srv->rs, parent, &peer, c->rd.body, c->rd.body_len, &c->res);

		c->ingest_failed = e != 0;
		if (e)
			slog(RLOG_ERR, "host %s (%s): cannot store batch: %s; not acknowledged", c->host_id,
			     c->addr, rstore_strerror(e));
	}
	if (!err) {
		err = rstore_txn_commit(parent);
		parent = NULL;
	}
	rstore_txn_abort(parent);
	if (err)
		slog(RLOG_ERR, "store commit failed: %s; %zu batches not acknowledged (agents resend)",
		     rstore_strerror(err), n);
	/* acks only now: the commit above returned, so what they claim is on disk */
	for (c = list; c; c = next) {
		next = c->next_ready;
		if (err || c->ingest_failed) {
			conn_close(srv, c, false);
			continue;
		}
		log_result(c);
		c->batches += c->res.ack.status == ACK_STORED;
		conn_ack(c, &c->res.ack);
		conn_step(srv, c);
	}
}

/* ---- accept, ticks, signals -------------------------------------------------------------- */

static void addr_text(const struct sockaddr_storage *sa, char *out, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (sa->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		port = ntohs(a->sin_port);
		snprintf(out, len, "%s:%u", host, port);
	} else if (sa->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
		port = ntohs(a->sin6_port);
		snprintf(out, len, "[%s]:%u", host, port);
	} else {
		snprintf(out, len, "?");
	}
}

static void accept_all(struct server *srv)
{
	for (;;) {
		struct sockaddr_storage sa;
		socklen_t sl = sizeof(sa);
		struct epoll_event ev;
		struct conn *c;
		int one = 1;
		int fd = accept4(srv->lfd, (struct sockaddr *)&sa, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				/* the listen socket stays readable: pause it, or this loop spins */
				slog(RLOG_ERR, "accept: %s (%zu connections open); pausing accepts for 1 s",
				     strerror(errno), srv->n_conns);
				epoll_ctl(srv->ep, EPOLL_CTL_DEL, srv->lfd, NULL);
				srv->listen_paused = true;
			}
			return; /* EAGAIN, or a connection that vanished (ECONNABORTED) */
		}
		if (srv->n_conns >= srv->cfg->max_hosts) {
			close(fd);
			srv->over_limit++;
			continue;
		}
		if (srv->n_conns == srv->cap_conns) {
			size_t cap = srv->cap_conns ? srv->cap_conns * 2 : 64;
			struct conn **nc = realloc(srv->conns, cap * sizeof(*nc));

			if (!nc) {
				close(fd);
				continue;
			}
			srv->conns = nc;
			srv->cap_conns = cap;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
		tls_conn_init(&c->tc);
		msg_reader_init(&c->rd, MSG_MAX_BYTES);
		addr_text(&sa, c->addr, sizeof(c->addr));
		if (tls_conn_setup(&c->tc, srv->tls, fd, NULL)) {
			tls_conn_free(&c->tc);
			close(fd);
			free(c);
			continue;
		}
		c->state = C_HANDSHAKE;
		c->events = EPOLLIN;
		c->deadline_ms = mono_ms() + 1000 * (int64_t)(srv->cfg->idle_timeout < HANDSHAKE_MAX_S ?
							       srv->cfg->idle_timeout : HANDSHAKE_MAX_S);
		ev.events = EPOLLIN;
		ev.data.ptr = c;
		if (epoll_ctl(srv->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
			tls_conn_free(&c->tc);
			close(fd);
			free(c);
			continue;
		}
		c->idx = srv->n_conns;
		srv->conns[srv->n_conns++] = c;
		slog(RLOG_DEBUG, "connection from %s", c->addr);
	}
}

static void on_tick(struct server *srv)
{
	int64_t now = mono_ms();

	for (size_t i = 0; i < srv->n_conns;) {
		struct conn *c = srv->conns[i];

		if (c->state != C_READY && now >= c->deadline_ms) {
			if (c->state == C_HANDSHAKE)
				slog(RLOG_INFO, "connection from %s: handshake timed out", c->addr);
			else if (msg_reader_started(&c->rd))
				slog(RLOG_WARN, "host %s (%s): stalled mid-message (%zu of %zu body bytes) "
				     "for %u s: closing, nothing stored", who(c), c->addr, c->rd.body_got,
				     c->rd.body_len, srv->cfg->idle_timeout);
			else
				slog(RLOG_INFO, "host %s (%s): idle for %u s, closing", who(c), c->addr,
				     srv->cfg->idle_timeout);
			conn_close(srv, c, c->state != C_HANDSHAKE);
			continue; /* conns[i] is now another connection */
		}
		i++;
	}
	if (srv->over_limit && now - srv->over_limit_logged_ms >= 10000) {
		slog(RLOG_WARN, "%" PRIu64 " connections refused at accept: max_hosts = %u reached",
		     srv->over_limit, srv->cfg->max_hosts);
		srv->over_limit = 0;
		srv->over_limit_logged_ms = now;
	}
	if (srv->listen_paused) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &srv->lfd };

		if (epoll_ctl(srv->ep, EPOLL_CTL_ADD, srv->lfd, &ev) == 0)
			srv->listen_paused = false;
	}
}

static void on_signal(struct server *srv)
{
	struct signalfd_siginfo si;

	while (read(srv->sig_fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			slog(RLOG_INFO, "SIGHUP: nothing to reload in this version");
			continue;
		}
		slog(RLOG_INFO, "signal %u: stopping (unacknowledged batches will be resent)", si.ssi_signo);
		srv->stop = true;
	}
}

/* ---- set-up ------------------------------------------------------------------------------ */

static int listen_open(const char *spec, int *out)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	char host[256], port_s[8];
	uint16_t port;
	int fd = -1, one = 1, rc, err;

	if (tls_addr_split(spec, host, sizeof(host), &port))
		return -EINVAL;
	snprintf(port_s, sizeof(port_s), "%u", port);
	rc = getaddrinfo(host, port_s, &hints, &ai);
	if (rc) {
		slog(RLOG_ERR, "listen %s: %s", spec, gai_strerror(rc));
		return -EADDRNOTAVAIL;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = -errno;
		goto fail;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 1024) < 0) {
		err = -errno;
		goto fail;
	}
	freeaddrinfo(ai);
	*out = fd;
	return 0;
fail:
	slog(RLOG_ERR, "listen %s: %s", spec, strerror(-err));
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return err;
}

/* Thousands of hosts need more than the usual 1024 descriptors. */
static void nofile_raise(uint32_t max_hosts)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)max_hosts + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ? want : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < want)
		slog(RLOG_WARN, "open-file limit %llu is below max_hosts + 64: accepts will pause when it is reached",
		     (unsigned long long)rl.rlim_cur);
}

static int fds_open(struct server *srv)
{
	struct itimerspec its = { .it_interval = { 1, 0 }, .it_value = { 1, 0 } };
	struct epoll_event ev = { .events = EPOLLIN };
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	signal(SIGPIPE, SIG_IGN); /* sends use MSG_NOSIGNAL; this is for anything else */
	srv->sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	srv->tick_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	srv->ep = epoll_create1(EPOLL_CLOEXEC);
	if (srv->sig_fd < 0 || srv->tick_fd < 0 || srv->ep < 0)
		return -errno;
	if (timerfd_settime(srv->tick_fd, 0, &its, NULL) < 0)
		return -errno;
	ev.data.ptr = &srv->sig_fd;
	if (epoll_ctl(srv->ep, EPOLL_CTL_ADD, srv->sig_fd, &ev) < 0)
		return -errno;
	ev.data.ptr = &srv->tick_fd;
	if (epoll_ctl(srv->ep, EPOLL_CTL_ADD, srv->tick_fd, &ev) < 0)
		return -errno;
	ev.data.ptr = &srv->lfd;
	if (epoll_ctl(srv->ep, EPOLL_CTL_ADD, srv->lfd, &ev) < 0)
		return -errno;
	return 0;
}

/* ---- privileges ---------------------------------------------------------------------------- */

/*
 * Decides, before anything is opened, who the server will run as: *@sw is
 * set when it must switch to *@u later. Root without a user is refused
 * unless allow_root says otherwise.
 */
static int identity_plan(const struct rater_config *cfg, struct privdrop_user *u, bool *sw)
{
	int err;

	*sw = false;
	if (geteuid() != 0) {
		if (cfg->user[0] && (privdrop_lookup(cfg->user, u) || u->uid != geteuid()))
			slog(RLOG_INFO, "started as uid %u, not root: running as such (user = %s is "
			     "for a start as root)", (unsigned)geteuid(), cfg->user);
		return 0;
	}
	if (!cfg->user[0]) {
		if (cfg->allow_root) {
			slog(RLOG_WARN, "running as root (allow_root = yes): a flaw in the TLS or batch "
			     "code would give the attacker root");
			return 0;
		}
		slog(RLOG_ERR, "started as root without [rater] user: set user = ACCOUNT (an "
		     "unprivileged account to switch to once the store and socket are open), or "
		     "allow_root = yes to keep root");
		return -EPERM;
	}
	err = privdrop_lookup(cfg->user, u);
	if (err) {
		slog(RLOG_ERR, "[rater] user %s: %s", cfg->user, err == -ENOENT ?
		     "no such user (create a system account, e.g. useradd --system hvrater)" :
		     strerror(-err));
		return err == -ENOENT ? -EINVAL : err;
	}
	if (u->uid == 0) {
		slog(RLOG_ERR, "[rater] user %s has uid 0: give an unprivileged account", cfg->user);
		return -EINVAL;
	}
	*sw = true;
	return 0;
}

static const char *const store_files[] = { "", "/data.mdb", "/lock.mdb" };
#define N_STORE_FILES (sizeof(store_files) / sizeof(store_files[0]))

/* Which of the store's directory and files do not exist yet. */
static void store_missing(const char *dir, bool missing[N_STORE_FILES])
{
	char path[RATER_PATH_MAX + 16];
	struct stat st;

	for (size_t i = 0; i < N_STORE_FILES; i++) {
		snprintf(path, sizeof(path), "%s%s", dir, store_files[i]);
		missing[i] = stat(path, &st) < 0 && errno == ENOENT;
	}
}

/* What this start created of the store belongs to the account the server runs as. */
static int store_give(const char *dir, const bool missing[N_STORE_FILES],
		      const struct privdrop_user *u)
{
	char path[RATER_PATH_MAX + 16];

	for (size_t i = 0; i < N_STORE_FILES; i++) {
		if (!missing[i])
			continue;
		snprintf(path, sizeof(path), "%s%s", dir, store_files[i]);
		if (chown(path, u->uid, u->gid) < 0) {
			slog(RLOG_ERR, "cannot give %s to user %s: %s", path, u->name, strerror(errno));
			return -errno;
		}
	}
	return 0;
}

int serve_run(const struct rater_config *cfg)
{
	struct server srv = { .cfg = cfg, .ep = -1, .lfd = -1, .sig_fd = -1, .tick_fd = -1 };
	struct rstore_opts ro = { .max_bytes = cfg->store_max_bytes, .period = cfg->period };
	struct epoll_event evs[EVENTS_MAX];
	char why[TLS_WHY_MAX], who_txt[128];
	struct privdrop_user user;
	bool sw, missing[N_STORE_FILES];
	int err;

	log_level_now = cfg->log_level;
	if ((err = identity_plan(cfg, &user, &sw)))
		goto out;
	store_missing(cfg->store, missing);
	err = tls_config_open(&srv.tls, TLS_SERVER, cfg->ca, cfg->cert, cfg->key, why, sizeof(why));
	if (err) {
		slog(RLOG_ERR, "TLS: %s", why);
		goto out;
	}
	if (tls_config_own_problem(srv.tls))
		slog(RLOG_WARN, "TLS: %s: %s: agents will refuse it", cfg->cert,
		     tls_config_own_problem(srv.tls));
	err = rstore_open(&srv.rs, cfg->store, &ro);
	if (err) {
		if (err == -EEXIST)
			slog(RLOG_ERR, "store %s was created with another period than %u s: usage "
			     "summed per period cannot be re-cut; keep the period or use a new store",
			     cfg->store, cfg->period);
		else
			slog(RLOG_ERR, "cannot open store %s: %s", cfg->store, rstore_strerror(err));
		goto out;
	}
	if (sw && (err = store_give(cfg->store, missing, &user)))
		goto out;
	nofile_raise(cfg->max_hosts);
	if ((err = listen_open(cfg->listen, &srv.lfd)))
		goto out;
	if ((err = fds_open(&srv))) {
		slog(RLOG_ERR, "cannot set up epoll, signals and timer: %s", strerror(-err));
		goto out;
	}
	/* everything that needs root is open: give it up before the first peer byte */
	err = sw ? privdrop_switch(&user) : geteuid() != 0 ? privdrop_caps() : 0;
	if (err) {
		slog(RLOG_ERR, "cannot %s: %s", sw ? "switch to the configured user" :
		     "drop capabilities", strerror(-err));
		goto out;
	}
	if (sw)
		snprintf(who_txt, sizeof(who_txt), "user %s (uid %u, gid %u), no capabilities",
			 user.name, (unsigned)user.uid, (unsigned)user.gid);
	else
		snprintf(who_txt, sizeof(who_txt), "uid %u%s", (unsigned)geteuid(),
			 geteuid() ? ", no capabilities" : " (root: allow_root = yes)");
	slog(RLOG_INFO, "listening on %s (TLS 1.2, ECDHE + AES-GCM, client certificates from %s), "
	     "store %s, period %u s, idle timeout %u s, max %u hosts, as %s", cfg->listen, cfg->ca,
	     cfg->store, rstore_period(srv.rs), cfg->idle_timeout, cfg->max_hosts, who_txt);
	while (!srv.stop) {
		int n = epoll_wait(srv.ep, evs, EVENTS_MAX, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			slog(RLOG_ERR, "epoll_wait: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;

			if (p == &srv.lfd) {
				accept_all(&srv);
			} else if (p == &srv.sig_fd) {
				on_signal(&srv);
			} else if (p == &srv.tick_fd) {
				uint64_t x;

				if (read(srv.tick_fd, &x, sizeof(x)) == sizeof(x))
					srv.tick = true;
			} else {
				conn_step(&srv, p);
			}
		}
		/* closing happens only after the events of this round were handled:
		 * evs[] may still point at a connection a tick would close */
		ingest_round(&srv);
		if (srv.tick) {
			srv.tick = false;
			on_tick(&srv);
		}
	}
out:
	while (srv.n_conns)
		conn_close(&srv, srv.conns[srv.n_conns - 1], true);
	free(srv.conns);
	rstore_close(srv.rs);
	tls_config_close(srv.tls);
	if (srv.lfd >= 0)
		close(srv.lfd);
	if (srv.ep >= 0)
		close(srv.ep);
	if (srv.sig_fd >= 0)
		close(srv.sig_fd);
	if (srv.tick_fd >= 0)
		close(srv.tick_fd);
	if (!err)
		slog(RLOG_INFO, "stopped");
	return err;
}

/* ---- the command ---------------------------------------------------------------------------- */

static void usage_serve(FILE *f)
{
	fputs("Usage: hvrater serve [-c FILE] [-n]\n"
	      "Accept agents over mutual TLS and store their frames exactly once.\n"
	      "\n"
	      "  -c, --config FILE  configuration (default " DEFAULT_CONFIG ";\n"
	      "                     every key in rater/hvrater.conf.sample)\n"
	      "  -n, --check        check the configuration (and the [rating] rules and metrics\n"
	      "                     files it names), print it in canonical form, exit\n"
	      "  -h, --help         show this help\n"
	      "\n"
	      "Runs in the foreground and logs to stderr; SIGTERM or SIGINT stop it.\n"
	      "Started as root it switches to [rater] user once its store, key and socket are\n"
	      "open (no capabilities, no_new_privs); without a user it refuses to run as root\n"
	      "unless allow_root = yes.\n"
	      "Exit status: 0 clean stop, 1 failure, 2 bad usage.\n",
	      f);
}

/* -n: the configuration in canonical form, and the [rating] files it names checked too. */
static int config_check(const struct rater_config *cfg)
{
	struct metrics_map *m = NULL;
	struct rules *r = NULL;
	char msg[1024];
	int rc = 0;

	if (cfg->rules[0] && rules_load_file(cfg->rules, &r, msg, sizeof(msg))) {
		fprintf(stderr, "hvrater serve: [rating] rules %s: %s\n", cfg->rules, msg);
		rc = 1;
	}
	if (cfg->metrics[0] && metrics_map_load_file(cfg->metrics, &m, msg, sizeof(msg))) {
		fprintf(stderr, "hvrater serve: [rating] metrics %s: %s\n", cfg->metrics, msg);
		rc = 1;
	}
	rules_free(r);
	metrics_map_free(m);
	if (!rc)
		rater_config_print(cfg, stdout);
	return rc;
}

int rater_cmd_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *path = DEFAULT_CONFIG;
	struct rater_config cfg;
	char err[RATER_ERR_MAX];
	bool check = false;
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "c:nh", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': path = optarg; break;
		case 'n': check = true; break;
		case 'h': usage_serve(stdout); return 0;
		default: usage_serve(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage_serve(stderr);
		return 2;
	}
	if (rater_config_load(&cfg, path, err)) {
		fprintf(stderr, "hvrater serve: %s\n", err);
		return 1;
	}
	if (check)
		return config_check(&cfg);
	return serve_run(&cfg) ? 1 : 0;
}
