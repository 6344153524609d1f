/* Store: a frame and its baselines commit together, survive reopening, the
 * chain verifies, and a single changed byte is caught at its sequence. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>
#include <cmocka.h>

#include <lmdb.h>

#include "store/store.h"
#include "wire/varint.h"

static char dir[64];

static int setup(void **state)
{
	strcpy(dir, "/tmp/hvtest-store-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static void commit_n(struct store *st, int n, int64_t t0)
{
	for (int i = 0; i < n; i++) {
		struct frame f;
		struct baseline b = { 0 };

		frame_init(&f);
		f.start_ns = t0 + i * 10;
		f.end_ns = t0 + (i + 1) * 10;
		assert_int_equal(frame_delta_add(&f, "vm1", "cpu.time", "", 100 + i), 0);
		snprintf(b.key, sizeof(b.key), "cpu/%d", 7);
		b.epoch = 3;
		b.value = (uint64_t)(1000 + i);
		strcpy(b.resource, "vm1");
		strcpy(b.metric, "cpu.time");
		assert_int_equal(store_frame_commit(st, &f, &b, 1, NULL, 0, "cpu=test\n"), 0);
		frame_free(&f);
	}
}

static int count_baselines(const struct baseline *b, void *arg)
{
	int *n = arg;

	assert_string_equal(b->key, "cpu/7");
	assert_int_equal(b->epoch, 3);
	(*n)++;
	return 0;
}

static void test_commit_reopen_verify(void **state)
{
	struct store_opts so = { .host_id = "h1" };
	struct store *st;
	struct store_meta m;
	struct frame f;
	uint64_t bad, n;
	int nb = 0;

	assert_int_equal(store_open(&st, dir, &so), 0);
	commit_n(st, 5, 1000);
	store_close(st);

	assert_int_equal(store_open(&st, dir, &so), 0);
	assert_int_equal(store_meta_read(st, &m), 0);
	assert_int_equal(m.next_seq, 6);
	assert_int_equal(m.n_frames, 5);
	assert_int_equal(m.oldest_seq, 1);
	assert_int_equal(m.last_end_ns, 1050);
	assert_string_equal(m.status, "cpu=test\n");
	assert_int_equal(store_baselines_foreach(st, count_baselines, &nb), 0);
	assert_int_equal(nb, 1);
	frame_init(&f);
	assert_int_equal(store_frame_read(st, 3, &f), 0);
	assert_int_equal(frame_delta_find(&f, "vm1", "cpu.time", "")->value, 102);
	frame_free(&f);
	assert_int_equal(store_verify(st, &bad, &n), 0);
	assert_int_equal(n, 5);
	store_close(st);

	/* another host id is refused: a store speaks for one host */
	so.host_id = "h2";
	assert_int_equal(store_open(&st, dir, &so), -EEXIST);
}

/* Flip one byte of frame @seq's record, @at bytes from its end, behind the
 * store's back. Frames are kept in parts keyed seq (u64 BE) || part (u32 BE):
 * the record's end is in its last part. */
static void corrupt_frame(uint64_t seq, size_t at)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_cursor *c;
	MDB_dbi dbi;
	uint8_t kb[12] = { 0 }, last[12], *copy;
	MDB_val k = { 12, kb }, v, lv = { 0, NULL };

	be64_put(kb, seq);
	assert_int_equal(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, 8);
	assert_int_equal(mdb_env_open(env, dir, 0, 0640), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "frames", 0, &dbi), 0);
	assert_int_equal(mdb_cursor_open(txn, dbi, &c), 0);
	for (int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	     rc == 0 && k.mv_size == 12 && be64_get(k.mv_data) == seq;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		memcpy(last, k.mv_data, 12);
		lv = v;
	}
	assert_non_null(lv.mv_data);
	copy = malloc(lv.mv_size);
	memcpy(copy, lv.mv_data, lv.mv_size);
	copy[lv.mv_size - at] ^= 0x01;
	mdb_cursor_close(c);
	k.mv_data = last;
	k.mv_size = 12;
	lv.mv_data = copy;
	assert_int_equal(mdb_put(txn, dbi, &k, &lv, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	free(copy);
}

static void test_verify_names_changed_frame(void **state)
{
	struct store_opts so = { .host_id = "h1" };
	struct store *st;
	uint64_t bad, n;

	assert_int_equal(store_open(&st, dir, &so), 0);
	commit_n(st, 6, 0);
	store_close(st);
	corrupt_frame(4, 1); /* the last byte: the value of the last delta */
	so.read_only = true;
	so.host_id = NULL;
	assert_int_equal(store_open(&st, dir, &so), 0);
	assert_int_equal(store_verify(st, &bad, &n), -EBADMSG);
	assert_int_equal(bad, 4);
	assert_int_equal(n, 3);
	store_close(st);
}

static void test_read_only_absent(void **state)
{
	struct store_opts so = { .read_only = true };
	struct store *st;
	char missing[128];

	snprintf(missing, sizeof(missing), "%s/none", dir);
	assert_true(store_open(&st, missing, &so) < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_commit_reopen_verify, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verify_names_changed_frame, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_only_absent, setup, teardown),
	};
	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
