#include "daemon/uplink.h"
#include "daemon/log.h"
#include "wire/batch.h"
#include "wire/msg.h"
#include "wire/timefmt.h"
#include "wire/tls.h"

#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BACKOFF_MIN_MS   1000
#define BACKOFF_MAX_MS   (300 * 1000)
#define IDLE_POLL_MS     1000 /* new frames are noticed at least this often without a notify */
#define UPLINK_ERR_MAX   320

enum uplink_state {
	UP_IDLE,        /* nothing to send, not connected */
	UP_CONNECTING,
	UP_CONNECTED,   /* connected, nothing to send */
	UP_SENDING,     /* a batch is out, waiting for its ack */
	UP_BACKOFF,
};

static const char *const state_names[] = { "idle", "connecting", "connected", "sending", "backoff" };

/* Frames of the batch being assembled (deep copies). */
struct pending {
	struct frame *f;
	size_t n, cap;
	size_t bytes;        /* estimated encoded size */
	size_t max_frames, max_bytes;
};

struct uplink {
	struct uplink_config cfg;
	char host_id[HV_ID_MAX];
	struct store *st;
	struct tls_config *tls;
	pthread_t thread;
	bool started;
	int wake_fd;                 /* eventfd: notify and stop */
	atomic_bool stop;
	pthread_mutex_t store_lock;  /* the daemon's store writes vs ours */

	/* status, under mu */
	pthread_mutex_t mu;
	enum uplink_state state;
	int64_t retry_ns;            /* realtime of the next attempt (backoff) */
	uint64_t acked_seq;
	int64_t acked_at_ns;         /* when the last ack arrived, 0 if none since start */
	int64_t acked_end_ns;        /* end of the last acknowledged frame (lag origin) */
	char error[UPLINK_ERR_MAX];
	int64_t error_ns;

	/* the thread's own */
	struct tls_conn tc;
	int fd;
	unsigned failures;
	uint64_t resend_from;        /* rater lost acknowledged frames: resend from here (0 = no) */
	uint64_t rng;
	struct pending p;
};

static int64_t now_realtime(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void state_set(struct uplink *u, enum uplink_state s)
{
	pthread_mutex_lock(&u->mu);
	u->state = s;
	pthread_mutex_unlock(&u->mu);
}

/* Records the failure for `hvmeter status`; logs it when it is news. */
static void error_set(struct uplink *u, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void error_set(struct uplink *u, const char *fmt, ...)
{
	char msg[UPLINK_ERR_MAX];
	bool news;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&u->mu);
	news = strcmp(msg, u->error) != 0;
	snprintf(u->error, sizeof(u->error), "%s", msg);
	u->error_ns = now_realtime();
	pthread_mutex_unlock(&u->mu);
	/* a rater that stays down gives the same error every retry: log it once */
	if (news || u->failures == 0)
		log_warn("uplink: %s", msg);
	else
		log_debug("uplink: %s", msg);
}

/* ---- waiting -------------------------------------------------------------------- */

static void wake_drain(struct uplink *u)
{
	uint64_t x;

	while (read(u->wake_fd, &x, sizeof(x)) == sizeof(x))
		;
}

/*
 * Waits until @fd is ready for @events, the wake fd fires, or @deadline_ms
 * (monotonic) passes. @fd < 0 waits on the wake fd only. Returns 1 when @fd
 * is ready, 0 when woken (a notify), -ETIMEDOUT, or -ECANCELED on stop.
 */
static int wait_ready(struct uplink *u, int fd, short events, int64_t deadline_ms)
{
	for (;;) {
		struct pollfd pfd[2] = { { .fd = u->wake_fd, .events = POLLIN },
					 { .fd = fd, .events = events } };
		int64_t left = deadline_ms - now_ms();
		int n;

		if (atomic_load(&u->stop))
			return -ECANCELED;
		if (left <= 0)
			return -ETIMEDOUT;
		n = poll(pfd, fd >= 0 ? 2 : 1, left > INT32_MAX ? INT32_MAX : (int)left);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (atomic_load(&u->stop))
			return -ECANCELED;
		if (fd >= 0 && pfd[1].revents)
			return 1;
		if (pfd[0].revents) {
			wake_drain(u);
			return 0;
		}
	}
}

/* Like wait_ready, but a notify does not end the wait (mid-exchange). */
static int wait_io(struct uplink *u, int fd, short events, int64_t deadline_ms)
{
	int rc;

	while ((rc = wait_ready(u, fd, events, deadline_ms)) == 0)
		;
	return rc < 0 ? rc : 0;
}

/* ---- connection ------------------------------------------------------------------- */

static void conn_close(struct uplink *u, bool notify)
{
	if (u->fd < 0)
		return;
	if (notify)
		tls_close_notify(&u->tc);
	tls_conn_free(&u->tc);
	close(u->fd);
	u->fd = -1;
	tls_conn_init(&u->tc);
}

static int tcp_connect(struct uplink *u, const char *host, uint16_t port, int64_t deadline,
		       char *why, size_t whylen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	char port_s[8];
	int err = -EHOSTUNREACH, rc;

	snprintf(port_s, sizeof(port_s), "%u", port);
	rc = getaddrinfo(host, port_s, &hints, &ai);
	if (rc) {
		snprintf(why, whylen, "resolve %.100s: %s", host, gai_strerror(rc));
		return -EHOSTUNREACH;
	}
	for (struct addrinfo *a = ai; a; a = a->ai_next) {
		int fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		int one = 1, soerr = 0;
		socklen_t sl = sizeof(soerr);

		if (fd < 0) {
			err = -errno;
			continue;
		}
		if (connect(fd, a->ai_addr, a->ai_addrlen) < 0 && errno != EINPROGRESS) {
			err = -errno;
			close(fd);
			continue;
		}
		rc = wait_io(u, fd, POLLOUT, deadline);
		if (rc == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0) {
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
			u->fd = fd;
			freeaddrinfo(ai);
			return 0;
		}
		err = rc ? rc : -(soerr ? soerr : EIO);
		close(fd);
		if (rc == -ECANCELED)
			break;
	}
	freeaddrinfo(ai);
	snprintf(why, whylen, "connect %.100s: %s", u->cfg.rater,
		 err == -ETIMEDOUT ? "timed out" : strerror(-err));
	return err;
}

static int conn_open(struct uplink *u)
{
	char host[256], why[TLS_WHY_MAX] = "";
	uint16_t port;
	int64_t deadline = now_ms() + (int64_t)u->cfg.timeout * 1000;
	int rc;

	state_set(u, UP_CONNECTING);
	if (tls_addr_split(u->cfg.rater, host, sizeof(host), &port)) {
		error_set(u, "rater address '%s' is not HOST:PORT", u->cfg.rater);
		return -EINVAL;
	}
	rc = tcp_connect(u, host, port, deadline, why, sizeof(why));
	if (rc) {
		if (rc != -ECANCELED)
			error_set(u, "%s", why);
		return rc;
	}
	tls_conn_init(&u->tc);
	if ((rc = tls_conn_setup(&u->tc, u->tls, u->fd, u->cfg.server_name))) {
		error_set(u, "TLS set-up: %s", strerror(-rc));
		conn_close(u, false);
		return rc;
	}
	while ((rc = tls_handshake(&u->tc, why, sizeof(why))) > 0) {
		rc = wait_io(u, u->fd, rc == TLS_WANT_READ ? POLLIN : POLLOUT, deadline);
		if (rc) {
			snprintf(why, sizeof(why), "handshake: %s",
				 rc == -ETIMEDOUT ? "timed out" : strerror(-rc));
			break;
		}
	}
	if (rc) {
		if (rc != -ECANCELED)
			error_set(u, "rater %s (name %s): %s", u->cfg.rater, u->cfg.server_name, why);
		conn_close(u, false);
		return rc;
	}
	log_info("uplink: connected to %s (%s)", u->cfg.rater,
		 mbedtls_ssl_get_ciphersuite(&u->tc.ssl));
	state_set(u, UP_CONNECTED);
	return 0;
}

/* Writes all of @buf before @deadline. */
static int conn_write(struct uplink *u, const uint8_t *buf, size_t len, int64_t deadline,
		      char *why, size_t whylen)
{
	size_t off = 0;

	while (off < len) {
		size_t n = 0;
		int rc = tls_write(&u->tc, buf + off, len - off, &n, why, whylen);

		if (rc > 0) {
			rc = wait_io(u, u->fd, rc == TLS_WANT_READ ? POLLIN : POLLOUT, deadline);
			if (rc) {
				snprintf(why, whylen, "send: %s", rc == -ETIMEDOUT ? "timed out" : strerror(-rc));
				return rc;
			}
			continue;
		}
		if (rc)
			return rc;
		off += n;
	}
	return 0;
}

/* Reads one message of at most @max bytes into @rd before @deadline. */
static int conn_read_msg(struct uplink *u, struct msg_reader *rd, int64_t deadline, char *why,
			 size_t whylen)
{
	for (;;) {
		uint8_t *p;
		size_t want, n = 0;
		int rc = msg_reader_want(rd, &p, &want);

		if (rc)
			return rc;
		rc = tls_read(&u->tc, p, want, &n, why, whylen);
		if (rc > 0) {
			rc = wait_io(u, u->fd, rc == TLS_WANT_READ ? POLLIN : POLLOUT, deadline);
			if (rc) {
				snprintf(why, whylen, "waiting for the ack: %s",
					 rc == -ETIMEDOUT ? "timed out" : strerror(-rc));
				return rc;
			}
			continue;
		}
		if (rc)
			return rc;
		rc = msg_reader_got(rd, n);
		if (rc < 0) {
			snprintf(why, whylen, "the rater sent a message of a bad length");
			return rc;
		}
		if (rc == 1)
			return 0;
	}
}

/* ---- batches ------------------------------------------------------------------------ */

static void pending_clear(struct pending *p)
{
	for (size_t i = 0; i < p->n; i++)
		frame_free(&p->f[i]);
	p->n = 0;
	p->bytes = 0;
}

/*
 * An upper bound of a frame's share of the batch: every name spelled out
 * (the batch's dictionary only makes it smaller).
 */
static size_t frame_estimate(const struct frame *f)
{
	size_t n = 64 + HV_HASH_LEN + strlen(f->policy);

	for (size_t i = 0; i < f->n_delta; i++)
		n += 16 + strlen(f->delta[i].resource) + strlen(f->delta[i].metric) +
		     strlen(f->delta[i].labels);
	for (size_t i = 0; i < f->n_res; i++) {
		n += 8 + strlen(f->res[i].resource);
		for (uint32_t k = 0; k < f->res[i].n_attrs; k++)
			n += 4 + strlen(f->res[i].attrs[k].key) + strlen(f->res[i].attrs[k].value);
	}
	return n;
}

static int pending_add(const struct frame *f, void *arg)
{
	struct pending *p = arg;
	size_t est = frame_estimate(f);
	int err;

	if (p->n >= p->max_frames || (p->n && p->bytes + est > p->max_bytes))
		return 1; /* full: stop the walk */
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 64;
		struct frame *nf = realloc(p->f, cap * sizeof(*nf));

		if (!nf)
			return -ENOMEM;
		p->f = nf;
		p->cap = cap;
	}
	frame_init(&p->f[p->n]);
	if ((err = frame_copy(&p->f[p->n], f)))
		return err;
	p->n++;
	p->bytes += est;
	return 0;
}

static uint64_t frame_last_seq(const struct frame *f)
{
	return f->seq + (f->merged ? f->merged : 1) - 1;
}

/*
 * Takes the next batch and marks it sent, under the store lock so that no
 * merge can rewrite those frames in between. Returns the number of frames
 * (0: nothing to send) or -errno.
 */
static int batch_collect(struct uplink *u)
{
	struct pending *p = &u->p;
	int err;

	pending_clear(p);
	pthread_mutex_lock(&u->store_lock);
	if (u->resend_from)
		err = store_frames_foreach(u->st, u->resend_from, pending_add, p);
	else
		err = store_unacked_foreach(u->st, 0, pending_add, p);
	if (err > 0)
		err = 0;
	if (!err && p->n)
		err = store_sent(u->st, frame_last_seq(&p->f[p->n - 1]));
	pthread_mutex_unlock(&u->store_lock);
	if (err) {
		pending_clear(p);
		return err;
	}
	return (int)p->n;
}

/* Sends the pending batch and waits for its ack. */
static int batch_exchange(struct uplink *u, struct ack *a, char *why, size_t whylen)
{
	const struct frame *last = &u->p.f[u->p.n - 1];
	uint8_t sig[BATCH_SIG_MAX], hdr[MSG_HDR_LEN], *body = NULL;
	size_t sig_len = 0, len = 0;
	struct msg_reader rd;
	int64_t deadline;
	int err;

	msg_reader_init(&rd, ACK_MAX_LEN);
	if ((err = tls_sign_hash(u->tls, last->hash, sig, sizeof(sig), &sig_len))) {
		snprintf(why, whylen, "cannot sign the batch with %.128s: %s", u->cfg.key,
			 err == -EINVAL ? "not an EC key" : "signing failed");
		goto out;
	}
	err = batch_encode(u->host_id, u->p.f, u->p.n, sig, sig_len, &body, &len);
	if (!err)
		err = msg_header_encode(hdr, len);
	if (err) {
		snprintf(why, whylen, "cannot encode a batch of %zu frames: %s", u->p.n, strerror(-err));
		goto out;
	}
	state_set(u, UP_SENDING);
	deadline = now_ms() + (int64_t)u->cfg.timeout * 1000;
	if ((err = conn_write(u, hdr, sizeof(hdr), deadline, why, whylen)) ||
	    (err = conn_write(u, body, len, deadline, why, whylen)))
		goto out;
	/* the rater commits before it answers: allow a full timeout for that */
	deadline = now_ms() + (int64_t)u->cfg.timeout * 1000;
	if ((err = conn_read_msg(u, &rd, deadline, why, whylen)))
		goto out;
	if ((err = ack_decode(a, rd.body, rd.body_len)))
		snprintf(why, whylen, "the rater's answer is not an ack (%s)",
			 err == -EPROTO ? "another version" : "malformed");
out:
	msg_reader_free(&rd);
	free(body);
	return err;
}

/* The end time of frame @seq for the lag, from the batch or the store; 0 if unknown. */
static int64_t frame_end_of(struct uplink *u, uint64_t seq)
{
	struct frame f;
	int64_t end = 0;

	for (size_t i = 0; i < u->p.n; i++)
		if (frame_last_seq(&u->p.f[i]) == seq)
			return u->p.f[i].end_ns;
	frame_init(&f);
	pthread_mutex_lock(&u->store_lock);
	if (seq && store_frame_read(u->st, seq, &f) == 0)
		end = f.end_ns;
	pthread_mutex_unlock(&u->store_lock);
	frame_free(&f);
	return end;
}

static void acked(struct uplink *u, uint64_t seq)
{
	int64_t end = frame_end_of(u, seq);

	pthread_mutex_lock(&u->mu);
	u->acked_seq = seq;
	u->acked_at_ns = now_realtime();
	if (end)
		u->acked_end_ns = end;
	pthread_mutex_unlock(&u->mu);
}

/*
 * Acts on the rater's answer. Returns 0 to go on over the same connection,
 * or -errno with @why (the caller closes and backs off).
 */
static int ack_handle(struct uplink *u, const struct ack *a, char *why, size_t whylen)
{
	uint64_t first = u->p.f[0].seq, last = frame_last_seq(&u->p.f[u->p.n - 1]);
	struct store_meta m;
	int err;

	if (a->status == ACK_REFUSED) {
		snprintf(why, whylen, "the rater refused the batch of seq %" PRIu64 "..%" PRIu64
			 " (its log says why)", first, last);
		return -EPERM;
	}
	pthread_mutex_lock(&u->store_lock);
	err = store_meta_read(u->st, &m);
	pthread_mutex_unlock(&u->store_lock);
	if (err) {
		snprintf(why, whylen, "cannot read the ledger: %s", store_strerror(err));
		return err;
	}
	if (a->ack_seq >= m.next_seq) {
		snprintf(why, whylen, "the rater holds up to seq %" PRIu64 " but this ledger ends at %"
			 PRIu64 " (ledger recreated under the same host id?)", a->ack_seq, m.next_seq - 1);
		return -ERANGE;
	}
	if (a->status == ACK_STORED && a->ack_seq < last) {
		snprintf(why, whylen, "the rater acknowledged seq %" PRIu64 ", short of the batch's %"
			 PRIu64, a->ack_seq, last);
		return -EPROTO;
	}
	pthread_mutex_lock(&u->store_lock);
	err = store_ack(u->st, a->ack_seq);
	/* a gap: frames after the rater's position are not with it after all */
	if (!err && a->status == ACK_GAP)
		err = store_sent(u->st, a->ack_seq);
	pthread_mutex_unlock(&u->store_lock);
	if (err) {
		snprintf(why, whylen, "cannot record the ack of seq %" PRIu64 ": %s", a->ack_seq,
			 store_strerror(err));
		return err;
	}
	acked(u, a->ack_seq > m.ack_seq ? a->ack_seq : m.ack_seq);
	if (a->status == ACK_STORED) {
		u->resend_from = 0;
		if (u->failures)
			log_info("uplink: rater %s acknowledges again, up to seq %" PRIu64, u->cfg.rater,
				 a->ack_seq);
		u->failures = 0;
		pthread_mutex_lock(&u->mu);
		u->error[0] = '\0';
		pthread_mutex_unlock(&u->mu);
		return 0;
	}
	/* ACK_GAP: resend from what the rater has; below our own ack only if it lost frames */
	if (a->ack_seq < m.ack_seq) {
		if (m.oldest_seq > a->ack_seq + 1) {
			snprintf(why, whylen, "the rater asks for seq %" PRIu64 " onwards, but this ledger "
				 "keeps only seq %" PRIu64 " onwards", a->ack_seq + 1, m.oldest_seq);
			return -ENOENT;
		}
		log_warn("uplink: the rater holds only up to seq %" PRIu64 " (acknowledged %" PRIu64
			 " before): resending from %" PRIu64, a->ack_seq, m.ack_seq, a->ack_seq + 1);
		u->resend_from = a->ack_seq + 1;
	} else {
		log_info("uplink: the rater holds up to seq %" PRIu64 ", batch began at %" PRIu64
			 ": resending from there", a->ack_seq, first);
		u->resend_from = 0;
	}
	return 0;
}

/* ---- the thread -------------------------------------------------------------------------- */

static uint32_t jitter_rand(struct uplink *u)
{
	/* xorshift64*: jitter only needs to spread hosts apart, not secrecy */
	u->rng ^= u->rng >> 12;
	u->rng ^= u->rng << 25;
	u->rng ^= u->rng >> 27;
	return (uint32_t)((u->rng * 2685821657736338717ull) >> 32);
}

static void backoff(struct uplink *u)
{
	uint64_t base = BACKOFF_MIN_MS, delay;

	for (unsigned i = 0; i < u->failures && base < BACKOFF_MAX_MS; i++)
		base *= 2;
	if (base > BACKOFF_MAX_MS)
		base = BACKOFF_MAX_MS;
	/* half fixed, half random: hosts cut off together do not return together */
	delay = base / 2 + jitter_rand(u) % (base / 2 + 1);
	u->failures++;
	pthread_mutex_lock(&u->mu);
	u->state = UP_BACKOFF;
	u->retry_ns = now_realtime() + (int64_t)delay * 1000000;
	pthread_mutex_unlock(&u->mu);
	{
		int64_t deadline = now_ms() + (int64_t)delay;

		while (wait_ready(u, -1, 0, deadline) == 0)
			; /* new frames wait for the backoff too */
	}
}

static void fail(struct uplink *u, int err, const char *why)
{
	conn_close(u, false);
	if (err == -ECANCELED)
		return;
	error_set(u, "%s", why);
	backoff(u);
}

/* The lag's origin at start: the end of the acknowledged frame, else the first frame's start. */
static int first_start(const struct frame *f, void *arg)
{
	*(int64_t *)arg = f->start_ns;
	return 1;
}

/* Never called with mu held: it takes the store lock (lock order: store_lock, then mu). */
static void lag_origin_init(struct uplink *u)
{
	struct store_meta m;
	int64_t end, start = 0;
	int err;

	pthread_mutex_lock(&u->store_lock);
	err = store_meta_read(u->st, &m);
	pthread_mutex_unlock(&u->store_lock);
	if (err)
		return;
	end = frame_end_of(u, m.ack_seq);
	if (!end) {
		pthread_mutex_lock(&u->store_lock);
		if (store_unacked_foreach(u->st, 0, first_start, &start) >= 0)
			end = start;
		pthread_mutex_unlock(&u->store_lock);
	}
	pthread_mutex_lock(&u->mu);
	u->acked_seq = m.ack_seq;
	u->acked_end_ns = end;
	pthread_mutex_unlock(&u->mu);
}

static bool have_unacked(struct uplink *u)
{
	struct store_meta m;
	int err;

	if (u->resend_from)
		return true;
	pthread_mutex_lock(&u->store_lock);
	err = store_meta_read(u->st, &m);
	pthread_mutex_unlock(&u->store_lock);
	/* on a read error, try: batch_collect will report it */
	return err != 0 || m.next_seq > m.ack_seq + 1;
}

/* Whether the rater closed an idle connection (readable while we expect nothing). */
static bool conn_closed_by_peer(struct uplink *u)
{
	uint8_t b[64];
	size_t n = 0;
	char why[TLS_WHY_MAX];
	int rc = tls_read(&u->tc, b, sizeof(b), &n, why, sizeof(why));

	if (rc == TLS_WANT_READ || rc == TLS_WANT_WRITE)
		return false;
	if (rc == 0)
		log_warn("uplink: the rater sent %zu unexpected bytes: reconnecting", n);
	else
		log_info("uplink: the rater closed the idle connection");
	return true;
}

static void *uplink_main(void *arg)
{
	struct uplink *u = arg;
	char why[TLS_WHY_MAX + 64];

	lag_origin_init(u);
	while (!atomic_load(&u->stop)) {
		struct ack a;
		int n, err;

		/* connect only when there is something to send; mark frames sent
		 * only once connected (sent frames are exempt from merging) */
		if (u->fd < 0) {
			if (!have_unacked(u)) {
				state_set(u, UP_IDLE);
				wait_ready(u, -1, 0, now_ms() + IDLE_POLL_MS);
				continue;
			}
			if ((err = conn_open(u))) {
				conn_close(u, false);
				if (err != -ECANCELED)
					backoff(u);
				continue;
			}
		}
		n = batch_collect(u);
		if (n < 0) {
			snprintf(why, sizeof(why), "cannot read the ledger: %s", store_strerror(n));
			fail(u, n, why);
			continue;
		}
		if (n == 0) {
			state_set(u, UP_CONNECTED);
			err = wait_ready(u, u->fd, POLLIN, now_ms() + IDLE_POLL_MS);
			if (err == 1 && conn_closed_by_peer(u))
				conn_close(u, false);
			continue;
		}
		why[0] = '\0';
		err = batch_exchange(u, &a, why, sizeof(why));
		if (!err)
			err = ack_handle(u, &a, why, sizeof(why));
		if (err) {
			fail(u, err, why);
			continue;
		}
		state_set(u, UP_CONNECTED);
	}
	conn_close(u, true);
	pending_clear(&u->p);
	return NULL;
}

/* ---- the daemon's side ------------------------------------------------------------------------ */

int uplink_start(struct uplink **out, const struct uplink_config *cfg, const char *host_id,
		 struct store *st, char *why, size_t whylen)
{
	struct uplink *u;
	sigset_t all, old;
	int err;

	*out = NULL;
	if (!cfg->rater[0])
		return 0;
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->cfg = *cfg;
	snprintf(u->host_id, sizeof(u->host_id), "%s", host_id);
	u->st = st;
	u->fd = -1;
	u->wake_fd = -1;
	tls_conn_init(&u->tc);
	pthread_mutex_init(&u->mu, NULL);
	pthread_mutex_init(&u->store_lock, NULL);
	u->p.max_frames = cfg->batch_frames ? cfg->batch_frames : 360;
	u->p.max_bytes = cfg->batch_bytes ? cfg->batch_bytes : (8u << 20);
	if (getrandom(&u->rng, sizeof(u->rng), GRND_NONBLOCK) != sizeof(u->rng) || !u->rng)
		u->rng = (uint64_t)now_realtime() ^ ((uint64_t)getpid() << 32) ^ 0x9e3779b97f4a7c15ull;

	err = tls_config_open(&u->tls, TLS_CLIENT, cfg->ca, cfg->cert, cfg->key, why, whylen);
	if (err)
		goto fail;
	if (tls_config_own_problem(u->tls))
		log_warn("uplink: %s: %s: the rater will refuse it", cfg->cert,
			 tls_config_own_problem(u->tls));
	else if (strcmp(tls_config_own_id(u->tls), host_id))
		log_warn("uplink: certificate %s names host '%s' but host_id is '%s': the rater will "
			 "refuse every batch", cfg->cert, tls_config_own_id(u->tls), host_id);
	u->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (u->wake_fd < 0) {
		err = -errno;
		snprintf(why, whylen, "eventfd: %s", strerror(-err));
		goto fail;
	}
	/* the thread must never take the daemon's signals (they go to its signalfd) */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	err = -pthread_create(&u->thread, NULL, uplink_main, u);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		snprintf(why, whylen, "cannot start the uplink thread: %s", strerror(-err));
		goto fail;
	}
	u->started = true;
	log_info("uplink: to %s (name %s), batches of up to %u frames, timeout %u s", cfg->rater,
		 cfg->server_name, cfg->batch_frames, cfg->timeout);
	*out = u;
	return 0;
fail:
	uplink_stop(u);
	return err;
}

void uplink_stop(struct uplink *u)
{
	if (!u)
		return;
	if (u->started) {
		atomic_store(&u->stop, true);
		uplink_notify(u);
		pthread_join(u->thread, NULL);
	}
	conn_close(u, false);
	tls_conn_free(&u->tc);
	pending_clear(&u->p);
	free(u->p.f);
	tls_config_close(u->tls);
	if (u->wake_fd >= 0)
		close(u->wake_fd);
	pthread_mutex_destroy(&u->mu);
	pthread_mutex_destroy(&u->store_lock);
	free(u);
}

void uplink_notify(struct uplink *u)
{
	uint64_t one = 1;

	if (u && u->wake_fd >= 0 && write(u->wake_fd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is saturated, a wake-up is pending anyway */
	}
}

void uplink_store_lock(struct uplink *u)
{
	if (u)
		pthread_mutex_lock(&u->store_lock);
}

void uplink_store_unlock(struct uplink *u)
{
	if (u)
		pthread_mutex_unlock(&u->store_lock);
}

size_t uplink_status(struct uplink *u, char *buf, size_t len)
{
	char state[320], acked[96], err[UPLINK_ERR_MAX + 64], t[RFC3339_LEN];
	struct store_meta m;
	uint64_t lag_frames = 0;
	double lag_s = 0;
	bool have_meta;
	int n;

	if (!len)
		return 0;
	if (!u) {
		n = snprintf(buf, len, "uplink=off\n");
		return n < 0 ? 0 : (size_t)n >= len ? len - 1 : (size_t)n;
	}
	have_meta = store_meta_read(u->st, &m) == 0;
	pthread_mutex_lock(&u->mu);
	/* nothing acknowledged yet (or its frame is gone): the lag counts from
	 * the oldest frame still waiting, found once */
	if (!u->acked_end_ns && have_meta && m.next_seq > m.ack_seq + 1)
		store_unacked_foreach(u->st, 0, first_start, &u->acked_end_ns);
	if (u->state == UP_BACKOFF) {
		int64_t left = u->retry_ns - now_realtime();

		snprintf(state, sizeof(state), "backoff %s (retry in %lld s)", u->cfg.rater,
			 (long long)(left > 0 ? (left + 999999999) / 1000000000 : 0));
	} else {
		snprintf(state, sizeof(state), "%s %s", state_names[u->state], u->cfg.rater);
	}
	if (u->acked_at_ns) {
		rfc3339_format(u->acked_at_ns, t, sizeof(t));
		snprintf(acked, sizeof(acked), "seq %" PRIu64 " (at %s)", u->acked_seq, t);
	} else {
		snprintf(acked, sizeof(acked), "seq %" PRIu64, u->acked_seq);
	}
	if (u->error[0]) {
		rfc3339_format(u->error_ns, t, sizeof(t));
		snprintf(err, sizeof(err), "%s (at %s)", u->error, t);
	} else {
		snprintf(err, sizeof(err), "none");
	}
	if (have_meta && m.next_seq > m.ack_seq + 1) {
		lag_frames = m.next_seq - 1 - m.ack_seq;
		if (u->acked_end_ns && m.last_end_ns > u->acked_end_ns)
			lag_s = (double)(m.last_end_ns - u->acked_end_ns) / 1e9;
	}
	pthread_mutex_unlock(&u->mu);
	n = snprintf(buf, len, "uplink=%s\nuplink_acked=%s\nuplink_lag=%" PRIu64 " frames, %.1f s\n"
		     "uplink_error=%s\n", state, acked, lag_frames, lag_s, err);
	return n < 0 ? 0 : (size_t)n >= len ? len - 1 : (size_t)n;
}
