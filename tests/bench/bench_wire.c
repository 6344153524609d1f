/*
 * bench_wire — two measurements of the uplink's wire format.
 *
 *   bench_wire size STORE
 *     Re-encodes every frame of an agent's ledger as the uplink sends it in
 *     steady state (one frame per batch, a P-256 signature, the 4-byte
 *     message header) and prints, per frame and in total, the bytes and the
 *     deltas (changed counters) it carries:
 *       frame seq=N end=UNIX_SECONDS deltas=N announced=N bytes=N fixed=N
 *       wire frames=N deltas=N bytes=N bytes_per_delta=X steady_bytes_per_delta=X
 *            marginal_bytes_per_delta=X
 *     "steady" leaves out frames that announce resources (metadata is sent
 *     when a VM appears or changes, not every interval); "fixed" is the same
 *     batch with no delta (host id, times, hashes, signature, header), and
 *     "marginal" the bytes a delta adds beyond it: what the average tends to
 *     as a host has more VMs.
 *
 *   bench_wire load -a HOST:PORT -k PKIDIR [-n HOSTS] [-v VMS] [-f FRAMES]
 *                   [-b BATCHES] [-s SECONDS] [-p RATER_PID]
 *     HOSTS synthetic hosts (certificates PKIDIR/bench-I.pem/.key, CA
 *     PKIDIR/ca.pem), one thread and one mutual-TLS connection each, send
 *     BATCHES batches of FRAMES frames, each frame VMS VMs x 15 changed
 *     counters with the agent's metric names and labels, chained and signed
 *     as an agent does. Everything is encoded and signed before the clock
 *     starts, so the timed part is the rater's work (TLS, decode, chain and
 *     signature check, dedup, durable commit) plus the sender's writes.
 *     Each thread waits for the ack before its next batch, like the agent.
 *     With -p the rater's CPU time (utime+stime of all its threads) over
 *     the timed part is read from /proc, giving deltas per CPU second:
 *       load hosts=N batches=N deltas=N secs=X deltas_per_sec=X
 *            rater_cpu_s=X deltas_per_cpu_s=X ack_p50_ms=X ack_p99_ms=X ack_max_ms=X
 *            wire_bytes_per_delta=X   (the synthetic batches' bytes per delta)
 */
#include "wire/batch.h"
#include "wire/frame.h"
#include "wire/msg.h"
#include "wire/tls.h"
#include "store/store.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SIG_P256_DER 72 /* typical DER length of a P-256 ECDSA signature */

static int64_t mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* ---- size ---------------------------------------------------------------------- */

struct size_acc {
	uint64_t frames, deltas, bytes, steady_deltas, steady_bytes, fixed;
	struct frame empty; /* scratch: a frame's head without its deltas */
	int err;
};

static int size_one(const struct frame *f, void *arg)
{
	struct size_acc *a = arg;
	uint8_t sig[SIG_P256_DER], *body = NULL;
	size_t len = 0, fixed = 0;
	int err;

	memset(sig, 0x5a, sizeof(sig));
	if ((err = batch_encode("compute-0001.example.net", f, 1, sig, sizeof(sig), &body, &len))) {
		a->err = err;
		return 1;
	}
	free(body);
	len += MSG_HDR_LEN;
	/* the same batch without deltas and announcements: the per-batch overhead */
	if ((err = frame_copy(&a->empty, f))) {
		a->err = err;
		return 1;
	}
	frame_reset(&a->empty);
	body = NULL;
	if ((err = batch_encode("compute-0001.example.net", &a->empty, 1, sig, sizeof(sig), &body,
				&fixed))) {
		a->err = err;
		return 1;
	}
	free(body);
	fixed += MSG_HDR_LEN;
	printf("frame seq=%" PRIu64 " end=%" PRId64 " deltas=%zu announced=%zu bytes=%zu fixed=%zu\n",
	       f->seq, f->end_ns / 1000000000, f->n_delta, f->n_res, len, fixed);
	a->frames++;
	a->deltas += f->n_delta;
	a->bytes += len;
	a->fixed += fixed;
	if (!f->n_res) {
		a->steady_deltas += f->n_delta;
		a->steady_bytes += len;
	}
	return 0;
}

static int cmd_size(const char *dir)
{
	struct store_opts so = { .read_only = true };
	struct store *st = NULL;
	struct size_acc a = { 0 };
	int err;

	frame_init(&a.empty);
	if ((err = store_open(&st, dir, &so))) {
		fprintf(stderr, "bench_wire: cannot open store %s: %s\n", dir, store_strerror(err));
		return 1;
	}
	err = store_frames_foreach(st, 0, size_one, &a);
	store_close(st);
	frame_free(&a.empty);
	if (err < 0 || a.err) {
		fprintf(stderr, "bench_wire: reading %s: %s\n", dir, strerror(-(err < 0 ? err : a.err)));
		return 1;
	}
	printf("wire frames=%" PRIu64 " deltas=%" PRIu64 " bytes=%" PRIu64
	       " bytes_per_delta=%.3f steady_bytes_per_delta=%.3f marginal_bytes_per_delta=%.3f\n",
	       a.frames, a.deltas, a.bytes, a.deltas ? (double)a.bytes / (double)a.deltas : 0.0,
	       a.steady_deltas ? (double)a.steady_bytes / (double)a.steady_deltas : 0.0,
	       a.deltas ? (double)(a.bytes - a.fixed) / (double)a.deltas : 0.0);
	return a.frames ? 0 : 1;
}

/* ---- load ---------------------------------------------------------------------- */

struct load_opts {
	char host[64];
	uint16_t port;
	const char *pki;
	unsigned hosts, vms, frames, batches, secs;
	int rater_pid;
};

struct msgbuf {
	uint8_t *p;
	size_t len;
};

struct host {
	unsigned idx;
	const struct load_opts *o;
	pthread_barrier_t *ready;
	volatile int *go;
	int64_t deadline_ns;
	struct tls_config *tls;
	struct tls_conn conn;
	int fd;
	struct msgbuf *msgs;
	size_t n_msgs;
	/* results */
	size_t sent, deltas, bytes;
	int64_t *lat;
	int err;
	char why[TLS_WHY_MAX];
};

/* One VM's counters as the agent names them (daemon/sampler.c). */
static const struct {
	const char *metric, *labels;
	int64_t base, spread;
} vm_counters[] = {
	{ "cpu.time", "", 2000000000, 3000000000 },
	{ "cpu.time.vcpu", "", 1800000000, 2500000000 },
	{ "vcpu.alloc", "", 20000, 1 },
	{ "memory.alloc", "", 20480000, 1 },
	{ "memory.resident", "", 1800, 300 },
	{ "disk.read.bytes", "device=vda", 40960, 4000000 },
	{ "disk.write.bytes", "device=vda", 81920, 8000000 },
	{ "disk.read.requests", "device=vda", 10, 1000 },
	{ "disk.write.requests", "device=vda", 20, 2000 },
	{ "net.tx.bytes", "class=public;device=tap0", 1500, 900000 },
	{ "net.rx.bytes", "class=public;device=tap0", 1500, 900000 },
	{ "net.tx.packets", "class=public;device=tap0", 10, 900 },
	{ "net.rx.packets", "class=public;device=tap0", 10, 900 },
	{ "net.tx.bytes", "class=internal;device=tap0", 1500, 90000 },
	{ "net.rx.bytes", "class=internal;device=tap0", 1500, 90000 },
};
#define VM_COUNTERS (sizeof(vm_counters) / sizeof(vm_counters[0]))

static uint64_t rnd_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Encodes and signs this host's batches: a chain from seq 1, frames 10 s apart. */
static int host_prepare(struct host *h)
{
	const struct load_opts *o = h->o;
	char host_id[HV_ID_MAX], uuid[HV_ID_MAX];
	uint8_t prev[HV_HASH_LEN] = { 0 }, sig[BATCH_SIG_MAX], *body;
	struct frame *fr = calloc(o->frames, sizeof(*fr));
	uint64_t seq = 1, rs = 0x9e3779b97f4a7c15ull ^ ((uint64_t)h->idx << 32);
	int64_t t0 = ((int64_t)time(NULL) / 10 - (int64_t)o->batches * o->frames - 1) * 10;
	size_t sig_len, len;
	int err = 0;

	snprintf(host_id, sizeof(host_id), "bench-%u", h->idx);
	h->msgs = calloc(o->batches, sizeof(*h->msgs));
	if (!fr || !h->msgs)
		return -ENOMEM;
	for (unsigned i = 0; i < o->frames; i++)
		frame_init(&fr[i]);
	for (unsigned b = 0; b < o->batches && !err; b++) {
		for (unsigned i = 0; i < o->frames && !err; i++, seq++) {
			struct frame *f = &fr[i];

			frame_reset(f);
			f->seq = seq;
			f->start_ns = (t0 + (int64_t)(seq - 1) * 10) * 1000000000;
			f->end_ns = f->start_ns + 10 * (int64_t)1000000000;
			f->flags = 0;
			f->merged = 1;
			memcpy(f->prev_hash, prev, HV_HASH_LEN);
			for (unsigned v = 0; v < o->vms && !err; v++) {
				snprintf(uuid, sizeof(uuid), "%08x-%04x-4%03x-8%03x-%012x", h->idx, v,
					 v & 0xfff, h->idx & 0xfff, v * 7919u);
				if (seq == 1) {
					struct frame_resource r = { 0 };
					char name[32];

					snprintf(r.resource, sizeof(r.resource), "%s", uuid);
					snprintf(name, sizeof(name), "instance-%08x", v);
					if (!(err = frame_attr_set(&r, "name", name)) &&
					    !(err = frame_attr_set(&r, "project", "2b7c4d1e9f3a4c5b8d6e7f8091a2b3c4")) &&
					    !(err = frame_attr_set(&r, "flavor", "m1.small")))
						err = frame_resource_add(f, &r);
				}
				for (size_t k = 0; k < VM_COUNTERS && !err; k++)
					err = frame_delta_add(f, uuid, vm_counters[k].metric, vm_counters[k].labels,
							      vm_counters[k].base +
							      (int64_t)(rnd_next(&rs) % (uint64_t)vm_counters[k].spread));
			}
			if (err)
				break;
			/* the hash the store would give it: of its canonical bytes */
			frame_canonicalize(f);
			if ((err = frame_encode(f, &body, &len)))
				break;
			err = frame_hash(body, len, f->hash);
			free(body);
			memcpy(prev, f->hash, HV_HASH_LEN);
			h->deltas += f->n_delta;
		}
		if (err)
			break;
		if ((err = tls_sign_hash(h->tls, fr[o->frames - 1].hash, sig, sizeof(sig), &sig_len)))
			break;
		body = NULL;
		if ((err = batch_encode(host_id, fr, o->frames, sig, sig_len, &body, &len)))
			break;
		h->msgs[b].p = malloc(len + MSG_HDR_LEN);
		if (!h->msgs[b].p) {
			free(body);
			err = -ENOMEM;
			break;
		}
		msg_header_encode(h->msgs[b].p, len);
		memcpy(h->msgs[b].p + MSG_HDR_LEN, body, len);
		h->msgs[b].len = len + MSG_HDR_LEN;
		h->n_msgs++;
		free(body);
	}
	for (unsigned i = 0; i < o->frames; i++)
		frame_free(&fr[i]);
	free(fr);
	h->deltas = h->n_msgs ? h->deltas / o->batches : 0; /* per batch from here on */
	return err;
}

static int wait_fd(int fd, int what)
{
	struct pollfd p = { .fd = fd, .events = what == TLS_WANT_WRITE ? POLLOUT : POLLIN };

	return poll(&p, 1, 30000) == 1 ? 0 : -ETIMEDOUT;
}

static int host_connect(struct host *h)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(h->o->port) };
	int one = 1, rc;

	if (inet_pton(AF_INET, h->o->host, &sa.sin_addr) != 1)
		return -EINVAL;
	h->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (h->fd < 0)
		return -errno;
	setsockopt(h->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(h->fd, (struct sockaddr *)&sa, sizeof(sa)))
		return -errno;
	fcntl(h->fd, F_SETFL, fcntl(h->fd, F_GETFL) | O_NONBLOCK);
	if ((rc = tls_conn_setup(&h->conn, h->tls, h->fd, h->o->host)))
		return rc;
	while ((rc = tls_handshake(&h->conn, h->why, sizeof(h->why))) > 0)
		if ((rc = wait_fd(h->fd, rc)))
			return rc;
	return rc;
}

static int host_write(struct host *h, const uint8_t *p, size_t len)
{
	size_t n;
	int rc;

	while (len) {
		rc = tls_write(&h->conn, p, len, &n, h->why, sizeof(h->why));
		if (rc > 0) {
			if ((rc = wait_fd(h->fd, rc)))
				return rc;
			continue;
		}
		if (rc < 0)
			return rc;
		p += n;
		len -= n;
	}
	return 0;
}

static int host_read_ack(struct host *h, struct ack *a)
{
	struct msg_reader rd;
	uint8_t *p;
	size_t want, n;
	int rc;

	msg_reader_init(&rd, ACK_MAX_LEN);
	for (;;) {
		if ((rc = msg_reader_want(&rd, &p, &want)))
			break;
		rc = tls_read(&h->conn, p, want, &n, h->why, sizeof(h->why));
		if (rc > 0) {
			if (tls_pending(&h->conn))
				continue;
			if ((rc = wait_fd(h->fd, rc)))
				break;
			continue;
		}
		if (rc < 0)
			break;
		rc = msg_reader_got(&rd, n);
		if (rc < 0)
			break;
		if (rc == 1) {
			rc = ack_decode(a, rd.body, rd.body_len);
			break;
		}
	}
	msg_reader_free(&rd);
	return rc;
}

static void *host_run(void *arg)
{
	struct host *h = arg;
	struct ack a;
	int err;

	if (!(err = host_prepare(h)))
		err = host_connect(h);
	h->err = err;
	pthread_barrier_wait(h->ready); /* everyone prepared and connected */
	pthread_barrier_wait(h->ready); /* main has read the clocks */
	if (err)
		return NULL;
	h->lat = calloc(h->n_msgs ? h->n_msgs : 1, sizeof(*h->lat));
	if (!h->lat) {
		h->err = -ENOMEM;
		return NULL;
	}
	for (size_t b = 0; b < h->n_msgs && mono_ns() < h->deadline_ns; b++) {
		int64_t t = mono_ns();

		if ((err = host_write(h, h->msgs[b].p, h->msgs[b].len)) || (err = host_read_ack(h, &a)))
			break;
		if (a.status != ACK_STORED) {
			snprintf(h->why, sizeof(h->why), "ack status %u at seq %" PRIu64, a.status,
				 a.ack_seq);
			err = -EPROTO;
			break;
		}
		h->lat[h->sent++] = mono_ns() - t;
		h->bytes += h->msgs[b].len;
	}
	h->err = err;
	tls_close_notify(&h->conn);
	return NULL;
}

/* utime + stime of every thread of @pid, in seconds; -1 if unreadable. */
static double proc_cpu_s(int pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut, st;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (!(f = fopen(path, "re")))
		return -1;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	if (!p || !(p = strrchr(buf, ')')))
		return -1;
	/* fields after ")": state(3) ... utime(14) stime(15) */
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static int cmd_load(struct load_opts *o)
{
	struct host *hs = calloc(o->hosts, sizeof(*hs));
	pthread_t *th = calloc(o->hosts, sizeof(*th));
	pthread_barrier_t ready;
	size_t total = 0, n_lat = 0, deltas = 0, bytes = 0;
	int64_t *lat = NULL, t0, t1;
	double cpu0 = -1, cpu1 = -1, secs;
	int rc = 1, started = 0;
	char ca[512], cert[512], key[512];

	if (!hs || !th)
		return 1;
	pthread_barrier_init(&ready, NULL, o->hosts + 1);
	snprintf(ca, sizeof(ca), "%s/ca.pem", o->pki);
	for (unsigned i = 0; i < o->hosts; i++) {
		struct host *h = &hs[i];

		h->idx = i;
		h->o = o;
		h->ready = &ready;
		h->fd = -1;
		tls_conn_init(&h->conn);
		snprintf(cert, sizeof(cert), "%s/bench-%u.pem", o->pki, i);
		snprintf(key, sizeof(key), "%s/bench-%u.key", o->pki, i);
		if (tls_config_open(&h->tls, TLS_CLIENT, ca, cert, key, h->why, sizeof(h->why))) {
			fprintf(stderr, "bench_wire: host %u: %s\n", i, h->why);
			goto out;
		}
	}
	for (unsigned i = 0; i < o->hosts; i++) {
		if (pthread_create(&th[i], NULL, host_run, &hs[i])) {
			fprintf(stderr, "bench_wire: cannot start thread %u\n", i);
			exit(1); /* the barrier would wait forever */
		}
		started++;
	}
	pthread_barrier_wait(&ready);
	for (unsigned i = 0; i < o->hosts; i++)
		if (hs[i].err) {
			fprintf(stderr, "bench_wire: host %u: %s %s\n", i, strerror(-hs[i].err), hs[i].why);
			rc = 2;
		}
	t0 = mono_ns();
	for (unsigned i = 0; i < o->hosts; i++)
		hs[i].deadline_ns = t0 + (int64_t)o->secs * 1000000000;
	if (o->rater_pid)
		cpu0 = proc_cpu_s(o->rater_pid);
	pthread_barrier_wait(&ready);
	for (int i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	t1 = mono_ns();
	if (o->rater_pid)
		cpu1 = proc_cpu_s(o->rater_pid);
	if (rc == 2)
		goto out;
	for (unsigned i = 0; i < o->hosts; i++) {
		if (hs[i].err)
			fprintf(stderr, "bench_wire: host %u stopped after %zu batches: %s %s\n", i,
				hs[i].sent, strerror(-hs[i].err), hs[i].why);
		total += hs[i].sent;
		deltas += hs[i].sent * hs[i].deltas;
		bytes += hs[i].bytes;
	}
	lat = calloc(total ? total : 1, sizeof(*lat));
	if (!lat)
		goto out;
	for (unsigned i = 0; i < o->hosts; i++)
		for (size_t b = 0; b < hs[i].sent; b++)
			lat[n_lat++] = hs[i].lat[b];
	qsort(lat, n_lat, sizeof(*lat), cmp_i64);
	secs = (double)(t1 - t0) / 1e9;
	printf("load hosts=%u vms=%u frames_per_batch=%u batches=%zu deltas=%zu secs=%.3f "
	       "deltas_per_sec=%.0f rater_cpu_s=%.3f deltas_per_cpu_s=%.0f "
	       "ack_p50_ms=%.3f ack_p99_ms=%.3f ack_max_ms=%.3f wire_bytes_per_delta=%.3f\n",
	       o->hosts, o->vms, o->frames, total, deltas, secs, (double)deltas / secs,
	       cpu1 - cpu0, cpu1 > cpu0 ? (double)deltas / (cpu1 - cpu0) : 0.0,
	       n_lat ? (double)lat[n_lat / 2] / 1e6 : 0.0,
	       n_lat ? (double)lat[(n_lat * 99) / 100] / 1e6 : 0.0,
	       n_lat ? (double)lat[n_lat - 1] / 1e6 : 0.0,
	       deltas ? (double)bytes / (double)deltas : 0.0);
	rc = total ? 0 : 1;
	for (unsigned i = 0; i < o->hosts; i++)
		if (hs[i].err)
			rc = 1;
out:
	for (unsigned i = 0; i < o->hosts; i++) {
		tls_conn_free(&hs[i].conn);
		if (hs[i].fd >= 0)
			close(hs[i].fd);
		tls_config_close(hs[i].tls);
		for (size_t b = 0; b < hs[i].n_msgs; b++)
			free(hs[i].msgs[b].p);
		free(hs[i].msgs);
		free(hs[i].lat);
	}
	free(lat);
	free(hs);
	free(th);
	return rc;
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_wire size STORE\n"
			"       bench_wire load -a HOST:PORT -k PKIDIR [-n HOSTS] [-v VMS] [-f FRAMES]\n"
			"                       [-b BATCHES] [-s SECONDS] [-p RATER_PID]\n");
	exit(2);
}

static unsigned num(const char *s, unsigned lo, unsigned hi)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < lo || v > hi) {
		fprintf(stderr, "bench_wire: '%s' is not a number in %u..%u\n", s, lo, hi);
		exit(2);
	}
	return (unsigned)v;
}

int main(int argc, char **argv)
{
	struct load_opts o = { .hosts = 8, .vms = 100, .frames = 1, .batches = 200, .secs = 20 };
	const char *addr = NULL;
	int opt;

	if (argc < 2)
		usage();
	if (!strcmp(argv[1], "size")) {
		if (argc != 3)
			usage();
		return cmd_size(argv[2]);
	}
	if (strcmp(argv[1], "load"))
		usage();
	optind = 2;
	while ((opt = getopt(argc, argv, "a:k:n:v:f:b:s:p:")) != -1) {
		switch (opt) {
		case 'a': addr = optarg; break;
		case 'k': o.pki = optarg; break;
		case 'n': o.hosts = num(optarg, 1, 1000); break;
		case 'v': o.vms = num(optarg, 1, 10000); break;
		case 'f': o.frames = num(optarg, 1, BATCH_MAX_FRAMES); break;
		case 'b': o.batches = num(optarg, 1, 1000000); break;
		case 's': o.secs = num(optarg, 1, 3600); break;
		case 'p': o.rater_pid = (int)num(optarg, 1, 1u << 30); break;
		default: usage();
		}
	}
	if (!addr || !o.pki || tls_addr_split(addr, o.host, sizeof(o.host), &o.port))
		usage();
	return cmd_load(&o);
}
