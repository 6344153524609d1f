/*
 * test_rstore — the rater's store and ingest, exactly once: the same batch
 * twice counts once, overlaps count their new frames only, a gap is refused
 * with the stored position, a broken chain, a foreign host id, a bad
 * signature and every truncation store nothing; group commits, periods,
 * reopen, metadata history and merged frames.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>

#include "rater/ingest.h"
#include "rater/rstore.h"
#include "wire/batch.h"
#include "wire/msg.h"

#define T0 1700000000000000000ll /* 2023-11-14T22:13:20Z */
#define SEC 1000000000ll

struct fx {
	char dir[64];
	struct rstore *rs;
	mbedtls_pk_context key, other;
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
};

static void key_gen(struct fx *x, mbedtls_pk_context *pk)
{
	mbedtls_pk_init(pk);
	assert_int_equal(mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)), 0);
	assert_int_equal(mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(*pk),
					     mbedtls_ctr_drbg_random, &x->drbg), 0);
}

static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));
	struct rstore_opts o = { .period = 3600 };

	if (!x)
		return -1;
	strcpy(x->dir, "/tmp/hvt-rstore.XXXXXX");
	if (!mkdtemp(x->dir))
		return -1;
	mbedtls_entropy_init(&x->entropy);
	mbedtls_ctr_drbg_init(&x->drbg);
	if (mbedtls_ctr_drbg_seed(&x->drbg, mbedtls_entropy_func, &x->entropy, NULL, 0))
		return -1;
	key_gen(x, &x->key);
	key_gen(x, &x->other);
	if (rstore_open(&x->rs, x->dir, &o))
		return -1;
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fx *x = *state;
	char cmd[128];

	rstore_close(x->rs);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", x->dir);
	if (system(cmd)) {
		/* a leftover temp dir is not a failure */
	}
	mbedtls_pk_free(&x->key);
	mbedtls_pk_free(&x->other);
	mbedtls_ctr_drbg_free(&x->drbg);
	mbedtls_entropy_free(&x->entropy);
	free(x);
	return 0;
}

/*
 * Frames seq @seq.. chained from @prev: one per 10 s, vm-1 cpu.time = 100 * seq
 * (+ @salt, to make a different chain), vm-2 net.tx.bytes = seq; frame 1
 * announces vm-1.
 */
static void frames_make(struct frame *f, size_t n, uint64_t seq, const uint8_t *prev, int64_t salt)
{
	uint8_t p[HV_HASH_LEN] = { 0 };

	if (prev)
		memcpy(p, prev, HV_HASH_LEN);
	for (size_t i = 0; i < n; i++) {
		uint8_t *bytes = NULL;
		size_t len = 0;
		uint64_t s = seq + i;

		frame_init(&f[i]);
		f[i].seq = s;
		f[i].merged = 1;
		f[i].start_ns = T0 + (int64_t)s * 10 * SEC;
		f[i].end_ns = f[i].start_ns + 10 * SEC;
		memcpy(f[i].prev_hash, p, HV_HASH_LEN);
		assert_int_equal(frame_delta_add(&f[i], "vm-1", "cpu.time", "", 100 * (int64_t)s + salt), 0);
		assert_int_equal(frame_delta_add(&f[i], "vm-2", "net.tx.bytes", "class=public", (int64_t)s), 0);
		if (s == 1) {
			struct frame_resource r = { .resource = "vm-1" };

			frame_attr_set(&r, "name", "web-1");
			frame_attr_set(&r, "project", "p1");
			assert_int_equal(frame_resource_add(&f[i], &r), 0);
		}
		frame_canonicalize(&f[i]);
		assert_int_equal(frame_encode(&f[i], &bytes, &len), 0);
		assert_int_equal(frame_hash(bytes, len, f[i].hash), 0);
		memcpy(p, f[i].hash, HV_HASH_LEN);
		free(bytes);
	}
}

static void frames_free(struct frame *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		frame_free(&f[i]);
}

/* A signed batch body (no length prefix) of @f[0..n). */
static uint8_t *batch_make(struct fx *x, mbedtls_pk_context *pk, const char *host,
			   const struct frame *f, size_t n, size_t *len)
{
	uint8_t sig[MBEDTLS_PK_SIGNATURE_MAX_SIZE], *out = NULL;
	size_t sl = 0;

	assert_int_equal(mbedtls_pk_sign(pk, MBEDTLS_MD_SHA256, f[n - 1].hash, HV_HASH_LEN, sig, &sl,
					 mbedtls_ctr_drbg_random, &x->drbg), 0);
	assert_int_equal(batch_encode(host, f, n, sig, sl, &out, len), 0);
	return out;
}

/* Ingests @buf for host-a (certificate key x->key) in its own durable transaction. */
static int ingest(struct fx *x, const char *cert_id, const uint8_t *buf, size_t len,
		  struct ingest_result *res)
{
	struct ingest_peer peer = { .host_id = cert_id, .pk = &x->key, .addr = "127.0.0.1:1", .now_ns = T0 };
	struct rstore_txn *t;
	int err;

	assert_int_equal(rstore_txn_begin(x->rs, NULL, &t), 0);
	err = ingest_batch(x->rs, t, &peer, buf, len, res);
	assert_int_equal(rstore_txn_commit(t), 0);
	return err;
}

/* Ingests frames seq [@seq, @seq + @n) of the main chain (salt 0). */
static void ingest_range(struct fx *x, uint64_t seq, size_t n, const uint8_t *prev,
			 struct ingest_result *res)
{
	struct frame f[64];
	size_t len;
	uint8_t *b;

	frames_make(f, n, seq, prev, 0);
	b = batch_make(x, &x->key, "host-a", f, n, &len);
	assert_int_equal(ingest(x, "host-a", b, len, res), 0);
	free(b);
	frames_free(f, n);
}

struct sums {
	int64_t cpu, net;
	uint64_t rows;
};

static int sum_cb(const struct rstore_usage *u, void *arg)
{
	struct sums *s = arg;

	if (!strcmp(u->metric, "cpu.time"))
		s->cpu += u->sum;
	if (!strcmp(u->metric, "net.tx.bytes")) {
		assert_string_equal(u->labels, "class=public");
		s->net += u->sum;
	}
	s->rows++;
	return 0;
}

static struct sums sums_of(struct fx *x, const char *host)
{
	struct sums s = { 0 };

	assert_int_equal(rstore_usage_foreach(x->rs, 0, INT64_MAX, host, sum_cb, &s), 0);
	return s;
}

/* Σ 100·s for s in [a, b] */
static int64_t cpu_expected(uint64_t a, uint64_t b)
{
	int64_t t = 0;

	for (uint64_t s = a; s <= b; s++)
		t += 100 * (int64_t)s;
	return t;
}

static int64_t net_expected(uint64_t a, uint64_t b)
{
	int64_t t = 0;

	for (uint64_t s = a; s <= b; s++)
		t += (int64_t)s;
	return t;
}

static void host_read(struct fx *x, const char *id, struct rstore_host *h)
{
	struct rstore_txn *t;

	assert_int_equal(rstore_txn_begin(x->rs, NULL, &t), 0);
	assert_int_equal(rstore_host_get(t, id, h), 0);
	rstore_txn_abort(t);
}

static void test_same_batch_twice_counts_once(void **state)
{
	struct fx *x = *state;
	struct ingest_result r;
	struct frame f[5];
	struct rstore_host h;
	struct sums s;
	uint8_t *b;
	size_t len;

	frames_make(f, 5, 1, NULL, 0);
	b = batch_make(x, &x->key, "host-a", f, 5, &len);
	assert_int_equal(ingest(x, "host-a", b, len, &r), 0);
	assert_int_equal(r.ack.status, ACK_STORED);
	assert_int_equal(r.ack.ack_seq, 5);
	assert_int_equal(r.n_new, 5);
	assert_memory_equal(r.head, f[4].hash, HV_HASH_LEN);
	/* again: already had them, re-acknowledged, nothing added */
	assert_int_equal(ingest(x, "host-a", b, len, &r), 0);
	assert_int_equal(r.ack.status, ACK_STORED);
	assert_int_equal(r.ack.ack_seq, 5);
	assert_int_equal(r.n_new, 0);
	assert_int_equal(r.n_known, 5);
	s = sums_of(x, "host-a");
	assert_int_equal(s.cpu, cpu_expected(1, 5));
	assert_int_equal(s.net, net_expected(1, 5));
	host_read(x, "host-a", &h);
	assert_int_equal(h.first_seq, 1);
	assert_int_equal(h.last_seq, 5);
	assert_int_equal(h.frames, 5);
	assert_int_equal(h.duplicates, 5);
	assert_memory_equal(h.head, f[4].hash, HV_HASH_LEN);
	assert_int_equal(h.last_end_ns, f[4].end_ns);
	assert_string_equal(h.peer, "127.0.0.1:1");
	free(b);
	frames_free(f, 5);
}

static void test_overlap_counts_new_frames_only(void **state)
{
	struct fx *x = *state;
	struct ingest_result r;
	struct frame f[8];
	struct rstore_host h;
	struct sums s;

	ingest_range(x, 1, 5, NULL, &r);
	frames_make(f, 8, 1, NULL, 0);
	/* 3..8 overlaps 3..5 */
	{
		size_t len;
		uint8_t *b = batch_make(x, &x->key, "host-a", f + 2, 6, &len);

		assert_int_equal(ingest(x, "host-a", b, len, &r), 0);
		free(b);
	}
	assert_int_equal(r.ack.status, ACK_STORED);
	assert_int_equal(r.ack.ack_seq, 8);
	assert_int_equal(r.n_known, 3);
	assert_int_equal(r.n_new, 3);
	s = sums_of(x, "host-a");
	assert_int_equal(s.cpu, cpu_expected(1, 8));
	assert_int_equal(s.net, net_expected(1, 8));
	host_read(x, "host-a", &h);
	assert_memory_equal(h.head, f[7].hash, HV_HASH_LEN);
	frames_free(f, 8);
}

static void test_gap_refused_with_position(void **state)
{
	struct fx *x = *state;
	struct ingest_result r;
	struct frame f[12];
	struct rstore_host h;
	struct sums s;
	size_t len;
	uint8_t *b;

	ingest_range(x, 1, 5, NULL, &r);
	frames_make(f, 12, 1, NULL, 0);
	b = batch_make(x, &x->key, "host-a", f + 8, 3, &len); /* 9..11: 6..8 missing */
	assert_int_equal(ingest(x, "host-a", b, len, &r), 0);
	assert_int_equal(r.ack.status, ACK_GAP);
	assert_int_equal(r.ack.ack_seq, 5);
	assert_non_null(strstr(r.reason, "gap"));
	free(b);
	s = sums_of(x, "host-a");
	assert_int_equal(s.cpu, cpu_expected(1, 5));
	host_read(x, "host-a", &h);
	assert_int_equal(h.last_seq, 5);
	/* the resend from 6 then completes it */
	b = batch_make(x, &x->key, "host-a", f + 5, 7, &len);
	assert_int_equal(ingest(x, "host-a", b, len, &r), 0);
	assert_int_equal(r.ack.status, ACK_STORED);
	assert_int_equal(r.ack.ack_seq, 12);
	free(b);
	s = sums_of(x, "host-a");
	assert_int_equal(s.cpu, cpu_expected(1, 12));
	frames_free(f, 12);
}

/* Everything refused leaves the store exactly as it was. */
static void assert_unchanged(struct fx *x, uint64_t last, int64_t cpu)
{
	struct rstore_host h;
	struct sums s = sums_of(x, "host-a");

	assert_int_equal(s.cpu, cpu);
	host_read(x, "host-a", &h);
	assert_int_equal(h.last_seq, last);
	s = sums_of(x, "host-b");
	assert_int_equal(s.rows, 0);
}

static void test_refusals_store_nothing(void **state)
{
	struct fx *x = *state;
	struct ingest_result r;
	struct frame good[8], other[3], mine[3];
	size_t len;
	uint8_t *b;

	ingest_range(x, 1, 5, NULL, &r);
	frames_make(good, 8, 1, NULL, 0);

	/* a chain that does not continue the head: seq 6.. of another history */
	frames_make(other, 3, 6, NULL, 7);
	b = batch_make(x, &x->key, "host-a", other, 3, &len);
	assert_int_equal(ingest(x, "host-a", b, len, &r), 0);
	assert_int_equal(r.ack.status, ACK_REFUSED);
	assert_non_null(strstr(r.reason, "chain head"));
	free(b);
	assert_unchanged(x, 5, cpu_expected(1, 5));

	/* known frames that differ from the stored copies */
	frames_make(mine, 3, 1, NULL, 1);
	b = batch_make(x, &x->key, "host-a", mine, 3, &len);
	assert_int_equal(ingest(x, "host-a", b, len, &r), 0);
	assert_int_equal(r.ack.status, ACK_REFUSED);
	assert_non_null(strstr(r.reason, "differs"));
	free(b);
	assert_unchanged(x, 5, cpu_expected(1, 5));

	/* host A's certificate claiming host B */
	b = batch_make(x, &x->key, "host-b", good + 5, 3, &len);
	assert_int_equal(ingest(x, "host-a", b, len, &r), 0);
	assert_int_equal(r.ack.status, ACK_REFUSED);
	assert_string_equal(r.claimed_id, "host-b");
	assert_non_null(strstr(r.reason, "host-b"));
	free(b);
	assert_unchanged(x, 5, cpu_expected(1, 5));

	/* signed with another key than the certificate's */
	b = batch_make(x, &x->other, "host-a", good + 5, 3, &len);
	assert_int_equal(ingest(x, "host-a", b, len, &r), 0);
	assert_int_equal(r.ack.status, ACK_REFUSED);
	assert_non_null(strstr(r.reason, "signature"));
	free(b);
	assert_unchanged(x, 5, cpu_expected(1, 5));

	/* a tampered delta: the carried hash no longer matches */
	good[6].delta[0].value += 1;
	b = batch_make(x, &x->key, "host-a", good + 5, 3, &len);
	assert_int_equal(ingest(x, "host-a", b, len, &r), 0);
	assert_int_equal(r.ack.status, ACK_REFUSED);
	assert_non_null(strstr(r.reason, "bad chain"));
	free(b);
	good[6].delta[0].value -= 1;
	assert_unchanged(x, 5, cpu_expected(1, 5));

	/* and the untouched batch still goes in */
	b = batch_make(x, &x->key, "host-a", good + 5, 3, &len);
	assert_int_equal(ingest(x, "host-a", b, len, &r), 0);
	assert_int_equal(r.ack.status, ACK_STORED);
	free(b);
	assert_unchanged(x, 8, cpu_expected(1, 8));
	frames_free(good, 8);
	frames_free(other, 3);
	frames_free(mine, 3);
}

static void test_malformed_every_truncation(void **state)
{
	struct fx *x = *state;
	struct ingest_result r;
	struct frame f[3];
	size_t len;
	uint8_t *b;

	ingest_range(x, 1, 2, NULL, &r);
	frames_make(f, 3, 1, NULL, 0);
	b = batch_make(x, &x->key, "host-a", f + 2, 1, &len);
	for (size_t cut = 0; cut < len; cut++) {
		assert_int_equal(ingest(x, "host-a", b, cut, &r), 0);
		assert_int_equal(r.ack.status, ACK_REFUSED);
		assert_true(r.reason[0]);
	}
	b[3] = BATCH_VERSION + 1;
	assert_int_equal(ingest(x, "host-a", b, len, &r), 0);
	assert_int_equal(r.ack.status, ACK_REFUSED);
	assert_non_null(strstr(r.reason, "version"));
	b[3] = BATCH_VERSION;
	/* flipping any single byte never stores anything wrong */
	for (size_t i = 0; i < len; i++) {
		b[i] ^= 0x41;
		assert_int_equal(ingest(x, "host-a", b, len, &r), 0);
		b[i] ^= 0x41;
		assert_int_not_equal(r.ack.status, ACK_STORED);
	}
	assert_unchanged(x, 2, cpu_expected(1, 2));
	assert_int_equal(ingest(x, "host-a", b, len, &r), 0);
	assert_int_equal(r.ack.status, ACK_STORED);
	assert_unchanged(x, 3, cpu_expected(1, 3));
	free(b);
	frames_free(f, 3);
}

static void test_new_host_adopted_mid_chain(void **state)
{
	struct fx *x = *state;
	struct ingest_result r;
	struct frame f[104];
	struct rstore_host h;
	size_t len;
	uint8_t *b;

	/* an agent whose first 99 frames were pruned before it reached the rater */
	frames_make(f, 104, 1, NULL, 0);
	b = batch_make(x, &x->key, "host-a", f + 99, 3, &len);
	assert_int_equal(ingest(x, "host-a", b, len, &r), 0);
	assert_int_equal(r.ack.status, ACK_STORED);
	assert_int_equal(r.ack.ack_seq, 102);
	free(b);
	host_read(x, "host-a", &h);
	assert_int_equal(h.first_seq, 100);
	assert_int_equal(h.last_seq, 102);
	/* older frames are then "already had": acknowledged, not stored */
	b = batch_make(x, &x->key, "host-a", f + 90, 14, &len);
	assert_int_equal(ingest(x, "host-a", b, len, &r), 0);
	assert_int_equal(r.ack.status, ACK_STORED);
	assert_int_equal(r.ack.ack_seq, 104);
	assert_int_equal(r.n_new, 2);
	free(b);
	assert_int_equal(sums_of(x, "host-a").cpu, cpu_expected(100, 104));
	frames_free(f, 104);
}

static void test_group_commit(void **state)
{
	struct fx *x = *state;
	struct ingest_peer pa = { .host_id = "host-a", .pk = &x->key, .addr = "a", .now_ns = T0 };
	struct ingest_peer pb = { .host_id = "host-b", .pk = &x->other, .addr = "b", .now_ns = T0 };
	struct ingest_result ra, rb, rbad;
	struct rstore_txn *t;
	struct frame f[4];
	size_t la, lb;
	uint8_t *a, *bb;

	frames_make(f, 4, 1, NULL, 0);
	a = batch_make(x, &x->key, "host-a", f, 4, &la);
	bb = batch_make(x, &x->other, "host-b", f, 2, &lb);
	/* a round that is never committed leaves nothing */
	assert_int_equal(rstore_txn_begin(x->rs, NULL, &t), 0);
	assert_int_equal(ingest_batch(x->rs, t, &pa, a, la, &ra), 0);
	assert_int_equal(ra.ack.status, ACK_STORED);
	rstore_txn_abort(t);
	assert_int_equal(sums_of(x, NULL).rows, 0);
	/* one round, three batches (one refused), one commit */
	assert_int_equal(rstore_txn_begin(x->rs, NULL, &t), 0);
	assert_int_equal(ingest_batch(x->rs, t, &pa, a, la, &ra), 0);
	assert_int_equal(ingest_batch(x->rs, t, &pb, a, la, &rbad), 0); /* B's cert, A's batch */
	assert_int_equal(ingest_batch(x->rs, t, &pb, bb, lb, &rb), 0);
	assert_int_equal(rstore_txn_commit(t), 0);
	assert_int_equal(ra.ack.status, ACK_STORED);
	assert_int_equal(rbad.ack.status, ACK_REFUSED);
	assert_int_equal(rb.ack.status, ACK_STORED);
	assert_int_equal(sums_of(x, "host-a").cpu, cpu_expected(1, 4));
	assert_int_equal(sums_of(x, "host-b").cpu, cpu_expected(1, 2));
	free(a);
	free(bb);
	frames_free(f, 4);
}

static void test_reopen_keeps_head_and_period(void **state)
{
	struct fx *x = *state;
	struct rstore_opts o = { .period = 3600 }, other = { .period = 600 }, ro = { .read_only = true };
	struct ingest_result r;
	struct rstore *rs2 = NULL;
	struct rstore_host h;
	struct frame f[6];

	ingest_range(x, 1, 6, NULL, &r);
	frames_make(f, 6, 1, NULL, 0);
	rstore_close(x->rs);
	x->rs = NULL;
	assert_int_equal(rstore_open(&rs2, x->dir, &other), -EEXIST);
	assert_int_equal(rstore_open(&rs2, x->dir, &ro), 0);
	assert_int_equal(rstore_period(rs2), 3600);
	rstore_close(rs2);
	assert_int_equal(rstore_open(&x->rs, x->dir, &o), 0);
	host_read(x, "host-a", &h);
	assert_int_equal(h.last_seq, 6);
	assert_memory_equal(h.head, f[5].hash, HV_HASH_LEN);
	assert_int_equal(sums_of(x, "host-a").cpu, cpu_expected(1, 6));
	/* the chain continues across the restart */
	ingest_range(x, 7, 2, f[5].hash, &r);
	assert_int_equal(r.ack.status, ACK_STORED);
	assert_int_equal(r.ack.ack_seq, 8);
	{
		struct rstore *absent = NULL;
		char dir[96];

		snprintf(dir, sizeof(dir), "%s/none", x->dir);
		assert_int_equal(rstore_open(&absent, dir, &ro), -ENOENT);
	}
	frames_free(f, 6);
}

struct period_rows {
	int64_t starts[8];
	int64_t cpu[8];
	size_t n;
};

static int period_cb(const struct rstore_usage *u, void *arg)
{
	struct period_rows *p = arg;

	if (strcmp(u->metric, "cpu.time"))
		return 0;
	assert_true(p->n < 8);
	p->starts[p->n] = u->period_start;
	p->cpu[p->n++] = u->sum;
	assert_int_equal(u->frames * 10 * SEC, u->dur_ns);
	return 0;
}

static void test_periods(void **state)
{
	struct fx *x = *state;
	struct ingest_result r;
	struct period_rows p = { .n = 0 };
	int64_t t0s = T0 / SEC, first_period = (t0s + 10) / 3600 * 3600;
	uint64_t boundary;

	/* 1000 frames of 10 s: ~2.8 hours, so 3 or 4 periods */
	for (uint64_t s = 1; s <= 1000; s += 50) {
		uint8_t head[HV_HASH_LEN] = { 0 };

		if (s > 1) {
			struct rstore_host h;

			host_read(x, "host-a", &h);
			memcpy(head, h.head, HV_HASH_LEN);
		}
		ingest_range(x, s, 50, s > 1 ? head : NULL, &r);
		assert_int_equal(r.ack.status, ACK_STORED);
	}
	assert_int_equal(rstore_usage_foreach(x->rs, 0, INT64_MAX, "host-a", period_cb, &p), 0);
	assert_true(p.n >= 3);
	assert_int_equal(p.starts[0], first_period);
	{
		int64_t total = 0;

		for (size_t i = 0; i < p.n; i++) {
			assert_int_equal(p.starts[i] % 3600, 0);
			total += p.cpu[i];
		}
		assert_int_equal(total, cpu_expected(1, 1000));
	}
	/* the first period holds exactly the frames starting before its end */
	boundary = (uint64_t)((first_period + 3600 - t0s) / 10); /* frames with seq < boundary */
	assert_int_equal(p.cpu[0], cpu_expected(1, boundary - 1));
	/* a range selects whole periods */
	memset(&p, 0, sizeof(p));
	assert_int_equal(rstore_usage_foreach(x->rs, first_period + 3600, first_period + 7200, NULL,
					      period_cb, &p), 0);
	assert_int_equal(p.n, 1);
	assert_int_equal(p.starts[0], first_period + 3600);
}

static void test_resource_metadata(void **state)
{
	struct fx *x = *state;
	struct ingest_result r;
	struct frame f[3];
	struct frame_resource res;
	struct rstore_host h;
	size_t len;
	uint8_t *b;

	ingest_range(x, 1, 2, NULL, &r); /* frame 1 announces vm-1: web-1, p1 */
	host_read(x, "host-a", &h);
	frames_make(f, 1, 3, h.head, 0);
	{
		struct frame_resource ann = { .resource = "vm-1" };
		uint8_t *bytes = NULL;
		size_t bl;

		frame_attr_set(&ann, "name", "web-1-renamed");
		frame_attr_set(&ann, "project", "p2");
		assert_int_equal(frame_resource_add(&f[0], &ann), 0);
		frame_canonicalize(&f[0]);
		assert_int_equal(frame_encode(&f[0], &bytes, &bl), 0);
		assert_int_equal(frame_hash(bytes, bl, f[0].hash), 0);
		free(bytes);
	}
	b = batch_make(x, &x->key, "host-a", f, 1, &len);
	assert_int_equal(ingest(x, "host-a", b, len, &r), 0);
	assert_int_equal(r.ack.status, ACK_STORED);
	free(b);
	assert_int_equal(rstore_resource_at(x->rs, "host-a", "vm-1", T0 + 25 * SEC, &res), 0);
	assert_string_equal(frame_attr_get(&res, "project"), "p1");
	assert_int_equal(rstore_resource_at(x->rs, "host-a", "vm-1", T0 + 30 * SEC, &res), 0);
	assert_string_equal(frame_attr_get(&res, "project"), "p2");
	assert_int_equal(rstore_resource_at(x->rs, "host-a", "vm-1", INT64_MAX, &res), 0);
	assert_string_equal(frame_attr_get(&res, "name"), "web-1-renamed");
	/* before the first announcement: the first one */
	assert_int_equal(rstore_resource_at(x->rs, "host-a", "vm-1", 0, &res), 0);
	assert_string_equal(frame_attr_get(&res, "project"), "p1");
	assert_int_equal(rstore_resource_at(x->rs, "host-a", "vm-2", INT64_MAX, &res), -ENOENT);
	assert_int_equal(rstore_resource_at(x->rs, "host-b", "vm-1", INT64_MAX, &res), -ENOENT);
	frames_free(f, 1);
}

static void test_merged_frames(void **state)
{
	struct fx *x = *state;
	struct ingest_result r;
	struct frame f[6], m;
	size_t len;
	uint8_t *b, *bytes = NULL;
	size_t bl;

	/* frames 1..3 merged into one (seq 1, merged 3), then 4..6 */
	frames_make(f, 3, 1, NULL, 0);
	frame_init(&m);
	assert_int_equal(frame_copy(&m, &f[0]), 0);
	assert_int_equal(frame_merge(&m, &f[1]), 0);
	assert_int_equal(frame_merge(&m, &f[2]), 0);
	frame_canonicalize(&m);
	assert_int_equal(frame_encode(&m, &bytes, &bl), 0);
	assert_int_equal(frame_hash(bytes, bl, m.hash), 0);
	free(bytes);
	frames_free(f, 3);
	frames_make(f, 3, 4, m.hash, 0);
	b = batch_make(x, &x->key, "host-a", &m, 1, &len);
	assert_int_equal(ingest(x, "host-a", b, len, &r), 0);
	assert_int_equal(r.ack.status, ACK_STORED);
	assert_int_equal(r.ack.ack_seq, 3);
	free(b);
	b = batch_make(x, &x->key, "host-a", f, 3, &len);
	assert_int_equal(ingest(x, "host-a", b, len, &r), 0);
	assert_int_equal(r.ack.status, ACK_STORED);
	assert_int_equal(r.ack.ack_seq, 6);
	free(b);
	assert_int_equal(sums_of(x, "host-a").cpu, cpu_expected(1, 6));
	frame_free(&m);
	frames_free(f, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_same_batch_twice_counts_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overlap_counts_new_frames_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gap_refused_with_position, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals_store_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_every_truncation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_host_adopted_mid_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen_keeps_head_and_period, setup, teardown),
		cmocka_unit_test_setup_teardown(test_periods, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resource_metadata, setup, teardown),
		cmocka_unit_test_setup_teardown(test_merged_frames, setup, teardown),
	};

	return cmocka_run_group_tests_name("rstore", tests, NULL, NULL);
}
