/* Store under SIGKILL: a child process commits frames as fast as it can
 * into a small ring (so compaction — merging and re-chaining — runs all the
 * time, and the uplink's sent cursor moves) and is killed at random
 * instants. After every kill the store must open, its chain verify, and
 * every counter's deltas over all frames add up exactly to its baseline:
 * nothing lost, nothing counted twice, whatever the instant. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <stdbool.h>
#include <inttypes.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "store/store.h"

#define N_RES 24
#define N_MET 3
#define KILLS 200 /* HV_KILLS=N for a longer hunt */

static const char *const metrics[N_MET] = { "cpu.time", "disk.write.bytes", "net.tx.bytes" };
static char dir[64];

static int setup(void **state)
{
	strcpy(dir, "/tmp/hvtest-kill-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static uint64_t mono_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000 + (uint64_t)t.tv_nsec / 1000;
}

static void key_of(size_t i, char key[STORE_KEY_MAX], char res[HV_ID_MAX])
{
	snprintf(res, HV_ID_MAX, "0b9e4c1a-5d2f-4a7e-8c3b-%012zx", i / N_MET);
	snprintf(key, STORE_KEY_MAX, "%s/%s", metrics[i % N_MET], res);
}

static int cmp_key(const void *a, const void *b)
{
	return strcmp(((const struct baseline *)a)->key, ((const struct baseline *)b)->key);
}

struct loaded {
	struct baseline b[N_RES * N_MET];
	size_t n;
};

static int load_one(const struct baseline *b, void *arg)
{
	struct loaded *l = arg;

	if (l->n >= N_RES * N_MET)
		return -E2BIG;
	l->b[l->n++] = *b;
	return 0;
}

/*
 * The child: a sampler in miniature. Its counters only grow (a function of
 * the monotonic clock, so they keep counting while it is dead); each frame
 * carries value - baseline, committed with the new baselines; a failed
 * commit keeps the old ones. Never returns.
 */
static void child_run(void)
{
	struct store_opts so = { .host_id = "kill", .max_bytes = 256 << 10 };
	struct store *st;
	struct loaded l = { .n = 0 };
	struct baseline put[N_RES * N_MET];
	struct store_meta m;
	uint64_t tick = 0;

	if (store_open(&st, dir, &so) || store_meta_read(st, &m))
		_exit(3);
	if (store_baselines_foreach(st, load_one, &l))
		_exit(4);
	for (size_t i = 0; i < N_RES * N_MET; i++) {
		key_of(i, put[i].key, put[i].resource);
		snprintf(put[i].metric, sizeof(put[i].metric), "%s", metrics[i % N_MET]);
		put[i].labels[0] = '\0';
		put[i].epoch = 1;
		put[i].flags = 0;
		put[i].value = 0;
	}
	qsort(put, N_RES * N_MET, sizeof(put[0]), cmp_key);
	for (size_t i = 0; i < l.n; i++) {
		struct baseline *b = bsearch(&l.b[i], put, N_RES * N_MET, sizeof(put[0]), cmp_key);

		if (!b)
			_exit(5);
		b->value = l.b[i].value;
	}
	for (;;) {
		struct frame f;
		struct baseline next[N_RES * N_MET];
		uint64_t now = mono_us();
		int err;

		frame_init(&f);
		f.start_ns = m.last_end_ns;
		f.end_ns = (int64_t)now * 1000;
		for (size_t i = 0; i < N_RES * N_MET; i++) {
			uint64_t counter = now * (1 + i % 5);

			next[i] = put[i];
			next[i].value = counter;
			next[i].time_ns = f.end_ns;
			if (counter > put[i].value &&
			    frame_delta_add(&f, put[i].resource, put[i].metric, "",
					    (int64_t)(counter - put[i].value)))
				_exit(6);
		}
		err = store_frame_commit(st, &f, next, N_RES * N_MET, NULL, 0, NULL);
		frame_free(&f);
		if (err == 0) {
			memcpy(put, next, sizeof(put));
			m.last_end_ns = (int64_t)now * 1000;
		} else if (err != -ENOSPC) {
			_exit(7);
		}
		/* the uplink: hand frames over, then learn the rater had none of them */
		if (++tick % 37 == 0 && store_meta_read(st, &m) == 0)
			store_sent(st, tick % 74 ? m.next_seq - 1 : 0);
	}
}

struct totals {
	struct loaded base;
	int64_t sum[N_RES * N_MET];
	uint64_t frames, originals, merged;
};

static int add_frame(const struct frame *f, void *arg)
{
	struct totals *t = arg;

	t->frames++;
	t->originals += f->merged;
	t->merged += f->merged > 1;
	for (size_t i = 0; i < f->n_delta; i++) {
		struct baseline key;
		const struct baseline *b;

		snprintf(key.key, sizeof(key.key), "%s/%s", f->delta[i].metric, f->delta[i].resource);
		b = bsearch(&key, t->base.b, t->base.n, sizeof(key), cmp_key);
		assert_non_null(b);
		assert_true(f->delta[i].value > 0);
		t->sum[b - t->base.b] += f->delta[i].value;
	}
	return 0;
}

/* Opens the store as the next agent would, and checks every invariant.
 * Returns false when the child died before it created the store. */
static bool check_store(struct totals *t)
{
	struct store_opts so = { .read_only = true };
	struct store *st;
	struct store_meta m;
	uint64_t bad, n;
	int err;

	memset(t, 0, sizeof(*t));
	err = store_open(&st, dir, &so);
	if (err == -ENOENT)
		return false;
	assert_int_equal(err, 0);
	assert_int_equal(store_verify(st, &bad, &n), 0);
	assert_int_equal(store_baselines_foreach(st, load_one, &t->base), 0);
	qsort(t->base.b, t->base.n, sizeof(t->base.b[0]), cmp_key);
	assert_int_equal(store_frames_foreach(st, 0, add_frame, t), 0);
	assert_int_equal(store_meta_read(st, &m), 0);
	assert_int_equal(t->frames, n);
	/* no original frame is missing: seqs 1..next-1 are all in some frame */
	assert_int_equal(t->originals, m.next_seq - 1);
	for (size_t i = 0; i < t->base.n; i++)
		if ((uint64_t)t->sum[i] != t->base.b[i].value)
			fail_msg("%s: frames sum to %" PRId64 ", baseline %" PRIu64, t->base.b[i].key,
				 t->sum[i], t->base.b[i].value);
	store_close(st);
	return true;
}

static void test_kill_anywhere(void **state)
{
	struct totals t = { 0 };
	unsigned seed = (unsigned)time(NULL);
	uint64_t commits_seen = 0;
	int kills = getenv("HV_KILLS") ? atoi(getenv("HV_KILLS")) : KILLS, stalled = 0;
	useconds_t window = 20000; /* kill within 0-20 ms: a commit takes about 1 ms here */
	bool exists = false;
	uint64_t before;
	int status;

	if (getenv("HV_SEED"))
		seed = (unsigned)strtoul(getenv("HV_SEED"), NULL, 10);
	print_message("seed %u (HV_SEED=%u repeats this run)\n", seed, seed);
	srand(seed);
	time_t t0 = time(NULL);
	int k;

	for (k = 0; k < kills; k++) {
		pid_t pid;

		/* on a slow machine (valgrind) stop after a minute, with 50 kills at least */
		if (k >= 50 && time(NULL) - t0 > 60)
			break;
		pid = fork();

		assert_true(pid >= 0);
		if (pid == 0)
			child_run();
		before = commits_seen;
		usleep((useconds_t)rand() % window);
		kill(pid, SIGKILL);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (!WIFSIGNALED(status)) /* the child gave up on its own: say how */
			fail_msg("kill %d: child exited with %d", k, WEXITSTATUS(status));
		if (!check_store(&t)) {
			assert_false(exists); /* once created, a store never goes away */
		} else {
			exists = true;
			commits_seen = t.originals;
		}
		/* a slow machine (valgrind): widen the window until commits happen */
		stalled = commits_seen == before ? stalled + 1 : 0;
		if (stalled >= 3 && window < 2000000) {
			window *= 2;
			stalled = 0;
		}
	}
	print_message("%d kills: %" PRIu64 " frames committed, %" PRIu64 " kept (%" PRIu64
		      " merged), every total equal to its baseline (kill window %u ms)\n", k,
		      commits_seen, t.frames, t.merged, (unsigned)(window / 1000));
	assert_true(commits_seen > (uint64_t)k / 2);
	assert_true(t.merged > 0); /* compaction did run under the kills */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_kill_anywhere, setup, teardown),
	};
	return cmocka_run_group_tests_name("store_kill", tests, NULL, NULL);
}
