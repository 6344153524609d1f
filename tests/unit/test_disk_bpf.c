/*
 * test_disk_bpf.c — the block-layer program against I/O whose size we know:
 * children in two blkio cgroups write and read files with O_DIRECT on a
 * real block device at the same time, and each cgroup's counters must show
 * its own bytes and nothing of the other's. Also pinning across
 * close/reopen, forget, and the blkcg id helpers.
 *
 * Needs root, bpffs, a blkcg hierarchy (v1 blkio, or v2 with io) and a
 * directory on a real block device (/var/tmp); without them every test
 * prints why and is skipped. It creates cgroups named hvmeter-test-PID-*
 * and pins under /sys/fs/bpf/hvmeter-test-disk-PID, and removes both.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <linux/magic.h>

#include <cmocka.h>

#include <bpf/bpf.h>

#include "daemon/cpu_bpf.h"
#include "daemon/disk_bpf.h"

#define MAX_CGROUPS 8
#define MIB (1024ULL * 1024ULL)
#define AGREE_PCT 1.0
#define IO_DIR "/var/tmp"
/* the child pages in a few blocks of its own; an ASan build up to ~128 KiB */
#define READ_EXTRA (256 * 1024ULL)

static char g_skip[256];   /* why every test skips; empty: run */
static char g_blkcg[1024]; /* blkcg mount point */
static char g_pin[256];
static char g_cgroups[MAX_CGROUPS][PATH_MAX];
static int g_ncgroups;
static struct disk_bpf *g_open; /* closed by the teardown if a test fails */

static void skip_if_unavailable(void)
{
	if (g_skip[0]) {
		print_message("skipping: %s\n", g_skip);
		skip();
	}
}

static struct disk_bpf *open_pin(void)
{
	struct disk_bpf *d = NULL;
	int err;

	skip_if_unavailable();
	err = disk_bpf_open(&d, g_pin);
	if (err == -EPERM || err == -ENOSYS || err == -EOPNOTSUPP) {
		snprintf(g_skip, sizeof(g_skip), "BPF cannot be used here: disk_bpf_open: %s",
			 strerror(-err));
		print_message("skipping: %s\n", g_skip);
		skip();
	}
	assert_int_equal(err, 0);
	assert_non_null(d);
	assert_null(g_open);
	g_open = d;
	return d;
}

static void close_d(struct disk_bpf **d)
{
	assert_ptr_equal(*d, g_open);
	disk_bpf_close(g_open);
	g_open = NULL;
	*d = NULL;
}

static int test_teardown(void **state)
{
	disk_bpf_close(g_open);
	g_open = NULL;
	return 0;
}

/* Creates a blkcg, removed by the group teardown; returns its path. */
static const char *cg_create(const char *name, uint64_t *id)
{
	char *path;
	struct stat st;

	assert_true(g_ncgroups < MAX_CGROUPS);
	path = g_cgroups[g_ncgroups];
	snprintf(path, PATH_MAX, "%s/hvmeter-test-%d-%s", g_blkcg, (int)getpid(), name);
	assert_int_equal(mkdir(path, 0755), 0);
	g_ncgroups++;
	assert_int_equal(disk_blkcg_id(path, id), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_true(*id == st.st_ino); /* the id is the directory's inode */
	return path;
}

/*
 * "--io FILE MIB": writes MIB MiB to FILE with O_DIRECT in 1 MiB writes,
 * fsyncs, reads it back with O_DIRECT, removes it. Runs exec'd, so that
 * under valgrind it runs natively and inherits nothing.
 */
static int io_main(const char *file, const char *mib_s)
{
	long mib = strtol(mib_s, NULL, 10);
	void *buf = NULL;
	int fd, ret = 0;

	if (mib <= 0 || posix_memalign(&buf, 4096, MIB) != 0)
		return 3;
	for (size_t i = 0; i < MIB; i++)
		((unsigned char *)buf)[i] = (unsigned char)(i * 131 + 7);
	fd = open(file, O_RDWR | O_CREAT | O_TRUNC | O_DIRECT | O_CLOEXEC, 0600);
	if (fd < 0) {
		free(buf);
		return 4;
	}
	for (long i = 0; i < mib && ret == 0; i++)
		if (write(fd, buf, MIB) != (ssize_t)MIB)
			ret = 5;
	if (ret == 0 && fsync(fd) != 0)
		ret = 6;
	if (ret == 0 && lseek(fd, 0, SEEK_SET) != 0)
		ret = 7;
	for (long i = 0; i < mib && ret == 0; i++)
		if (read(fd, buf, MIB) != (ssize_t)MIB)
			ret = 8;
	close(fd);
	unlink(file);
	free(buf);
	return ret;
}

/* Forks a child that moves itself into @cg (NULL: stays in ours) and execs
 * the I/O runner. */
static pid_t io_start(const char *cg, const char *tag, int mib)
{
	char self[PATH_MAX], procs[PATH_MAX], file[PATH_MAX], buf[32], arg[32];
	ssize_t len;
	pid_t pid;

	len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	assert_true(len > 0);
	self[len] = '\0';
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", cg ? cg : "");
	snprintf(file, sizeof(file), IO_DIR "/hvmeter-test-disk-%d-%s", (int)getpid(), tag);
	snprintf(arg, sizeof(arg), "%d", mib);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = cg ? open(procs, O_WRONLY | O_CLOEXEC) : -1;
		int n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());

		if (cg && (fd < 0 || write(fd, buf, (size_t)n) != n))
			_exit(2);
		if (fd >= 0)
			close(fd);
		execl(self, self, "--io", file, arg, (char *)NULL);
		_exit(9);
	}
	return pid;
}

static void io_wait(pid_t pid)
{
	int status;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/*
 * One run outside the test cgroups first: the exec'd runner's program and
 * libraries may not be in the page cache, and reading them would be the
 * first child's I/O (rightly charged to it, but not what we compare).
 */
static void io_warm_up(void)
{
	static bool done;

	if (!done)
		io_wait(io_start(NULL, "warm", 1));
	done = true;
}

static double pct_diff(uint64_t got, uint64_t want)
{
	return want ? 100.0 * ((double)got - (double)want) / (double)want : 100.0;
}

static void print_io(const char *what, const struct disk_io *io)
{
	print_message("%s: write %llu B in %llu bios, read %llu B in %llu bios\n", what,
		      (unsigned long long)io->write_bytes, (unsigned long long)io->write_reqs,
		      (unsigned long long)io->read_bytes, (unsigned long long)io->read_reqs);
}

/*
 * Writes within AGREE_PCT of @mib; reads too, plus READ_EXTRA for what the
 * child pages in itself (an inode or directory block; its program and
 * libraries were paged in by a warm-up run, see io_warm_up()).
 */
static void expect_io(const char *what, const struct disk_io *io, int mib)
{
	uint64_t want = (uint64_t)mib * MIB;
	double dw = pct_diff(io->write_bytes, want), dr = pct_diff(io->read_bytes, want);

	print_io(what, io);
	print_message("%s: write diff %+.4f %%, read diff %+.4f %%\n", what, dw, dr);
	assert_true(dw <= AGREE_PCT && dw >= -AGREE_PCT);
	assert_true(dr >= -AGREE_PCT);
	assert_true(io->read_bytes <= want + want / 100 + READ_EXTRA);
	assert_true(io->write_reqs >= (uint64_t)mib / 2 && io->write_reqs <= want / 4096);
	assert_true(io->read_reqs >= (uint64_t)mib / 2 && io->read_reqs <= want / 4096);
}

static void read_or_zero(struct disk_bpf *d, uint64_t id, struct disk_io *io)
{
	int err = disk_bpf_read(d, id, io);

	if (err == -ENOENT)
		memset(io, 0, sizeof(*io));
	else
		assert_int_equal(err, 0);
}

static void test_blkcg_helpers(void **state)
{
	char dir[PATH_MAX];
	uint64_t id, root;
	struct stat st;

	skip_if_unavailable();
	assert_int_equal(disk_blkcg_root_id(&root), 0);
	assert_int_equal(stat(g_blkcg, &st), 0);
	assert_true(root == st.st_ino);
	assert_int_equal(disk_blkcg_id(g_blkcg, &id), 0);
	assert_true(id == root);
	assert_int_equal(disk_blkcg_id(".", &id), 0); /* relative to the mount */
	assert_true(id == root);
	assert_int_equal(disk_blkcg_dir_of_pid(getpid(), dir, sizeof(dir)), 0);
	assert_int_equal(strncmp(dir, g_blkcg, strlen(g_blkcg)), 0);
	assert_int_equal(disk_blkcg_id(dir, &id), 0);
	assert_int_equal(disk_blkcg_dir_of_pid(-1, dir, sizeof(dir)), -EINVAL);
	assert_int_equal(disk_blkcg_dir_of_pid(0x3ffffff, dir, sizeof(dir)), -ENOENT);
	assert_int_equal(disk_blkcg_id("/proc", &id), -EINVAL);
	assert_int_equal(disk_blkcg_id("hvmeter-no-such-cgroup", &id), -ENOENT);
	print_message("blkcg mount %s, root id %llu\n", g_blkcg, (unsigned long long)root);
}

/* Two cgroups doing O_DIRECT I/O at once: each sees its own bytes only. */
static void test_direct_io_attributed(void **state)
{
	struct disk_bpf *d;
	struct disk_io a, b, idle;
	const char *cga, *cgb;
	uint64_t ida, idb, idi, root;
	pid_t pa, pb;

	skip_if_unavailable();
	assert_int_equal(disk_bpf_unpin(g_pin), 0);
	d = open_pin();
	assert_false(disk_bpf_reused(d));
	assert_int_not_equal(disk_bpf_epoch(d), 0);
	cga = cg_create("a", &ida);
	cgb = cg_create("b", &idb);
	cg_create("idle", &idi);
	assert_int_equal(disk_bpf_read(d, ida, &a), -ENOENT);

	io_warm_up();
	pa = io_start(cga, "a", 16);
	pb = io_start(cgb, "b", 4);
	io_wait(pa);
	io_wait(pb);

	assert_int_equal(disk_bpf_read(d, ida, &a), 0);
	assert_int_equal(disk_bpf_read(d, idb, &b), 0);
	expect_io("cgroup a, 16 MiB", &a, 16);
	expect_io("cgroup b, 4 MiB", &b, 4);
	read_or_zero(d, idi, &idle);
	print_io("idle cgroup", &idle);
	assert_true(idle.read_bytes == 0 && idle.write_bytes == 0);
	assert_int_equal(disk_blkcg_root_id(&root), 0);
	assert_true(ida != root && idb != root && idi != root);
	close_d(&d);
}

/* Reopening reuses the pins; I/O done while closed is counted too. */
static void test_reopen_continues(void **state)
{
	struct disk_bpf *d;
	struct disk_io a1, a2, u;
	const char *cg;
	uint64_t id, epoch;

	skip_if_unavailable();
	assert_int_equal(disk_bpf_unpin(g_pin), 0);
	d = open_pin();
	epoch = disk_bpf_epoch(d);
	cg = cg_create("reopen", &id);
	io_warm_up();
	io_wait(io_start(cg, "r1", 2));
	assert_int_equal(disk_bpf_read(d, id, &a1), 0);
	close_d(&d);

	io_wait(io_start(cg, "r2", 4)); /* nobody holds an fd: only the pins */

	d = open_pin();
	assert_true(disk_bpf_reused(d));
	assert_true(disk_bpf_epoch(d) == epoch);
	assert_int_equal(disk_bpf_read(d, id, &a2), 0);
	a2.write_bytes -= a1.write_bytes;
	a2.read_bytes -= a1.read_bytes;
	a2.write_reqs -= a1.write_reqs;
	a2.read_reqs -= a1.read_reqs;
	expect_io("while closed, 4 MiB", &a2, 4);
	assert_int_equal(disk_bpf_unattributed(d, &u), 0);
	print_io("unattributed", &u);
	close_d(&d);

	/* After unpinning, a new epoch starts from zero. */
	assert_int_equal(disk_bpf_unpin(g_pin), 0);
	d = open_pin();
	assert_false(disk_bpf_reused(d));
	assert_true(disk_bpf_epoch(d) != epoch);
	assert_int_equal(disk_bpf_read(d, id, &a1), -ENOENT);
	close_d(&d);
}

/* A pinned map of another size is another configuration: not reused. */
static void test_other_size_not_reused(void **state)
{
	struct disk_bpf_opts opts = { .pin_dir = g_pin, .max_entries = 64 };
	struct disk_bpf *d = NULL;
	uint64_t epoch;

	skip_if_unavailable();
	d = open_pin();
	epoch = disk_bpf_epoch(d);
	close_d(&d);
	assert_int_equal(disk_bpf_open_opts(&d, &opts), 0);
	g_open = d;
	assert_false(disk_bpf_reused(d));
	assert_true(disk_bpf_epoch(d) != epoch);
	close_d(&d);
	opts.max_entries = 1;
	assert_int_equal(disk_bpf_open_opts(&d, &opts), -EINVAL);
	assert_null(d);
}

static void test_forget_and_stats(void **state)
{
	struct disk_bpf *d;
	struct disk_io io;
	const char *cg;
	uint64_t id, ns0, cnt0, ns1, cnt1;
	int stats_fd;

	skip_if_unavailable();
	d = open_pin();
	cg = cg_create("forget", &id);
	stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	assert_true(stats_fd >= 0);
	assert_int_equal(disk_bpf_prog_stats(d, &ns0, &cnt0), 0);
	io_wait(io_start(cg, "f", 1));
	assert_int_equal(disk_bpf_prog_stats(d, &ns1, &cnt1), 0);
	close(stats_fd);
	print_message("prog stats: %llu runs, %.0f ns per run\n",
		      (unsigned long long)(cnt1 - cnt0),
		      cnt1 > cnt0 ? (double)(ns1 - ns0) / (double)(cnt1 - cnt0) : 0.0);
	assert_true(cnt1 > cnt0 && ns1 > ns0);

	assert_int_equal(disk_bpf_read(d, id, &io), 0);
	assert_true(io.write_bytes >= MIB);
	assert_int_equal(disk_bpf_forget(d, id), 0);
	assert_int_equal(disk_bpf_read(d, id, &io), -ENOENT);
	assert_int_equal(disk_bpf_forget(d, id), -ENOENT);
	assert_int_equal(disk_bpf_forget(d, DISK_KEY_UNATTRIBUTED), -EINVAL);
	close_d(&d);
}

/* Is @dir on a real block device that takes O_DIRECT? */
static const char *io_dir_unusable(void)
{
	struct statfs sf;
	struct stat st;

	if (statfs(IO_DIR, &sf) != 0 || stat(IO_DIR, &st) != 0)
		return "cannot stat " IO_DIR;
	if (sf.f_type == TMPFS_MAGIC || major(st.st_dev) == 0)
		return IO_DIR " is not on a block device";
	return NULL;
}

static int group_setup(void **state)
{
	const char *why;

	if (geteuid() != 0) {
		snprintf(g_skip, sizeof(g_skip), "needs root (BPF, bpffs, cgroups)");
		return 0;
	}
	if (disk_blkcg_mount(g_blkcg, sizeof(g_blkcg)) != 0) {
		snprintf(g_skip, sizeof(g_skip),
			 "no blkcg hierarchy (v1 blkio, or v2 with the io controller)");
		return 0;
	}
	why = io_dir_unusable();
	if (why) {
		snprintf(g_skip, sizeof(g_skip), "%s", why);
		return 0;
	}
	snprintf(g_pin, sizeof(g_pin), "/sys/fs/bpf/hvmeter-test-disk-%d", (int)getpid());
	return 0;
}

static int group_teardown(void **state)
{
	if (g_pin[0])
		disk_bpf_unpin(g_pin);
	for (int i = g_ncgroups - 1; i >= 0; i--) {
		/* Exited tasks can linger a moment as zombies of the cgroup. */
		for (int tries = 0; tries < 50 && rmdir(g_cgroups[i]) != 0 && errno == EBUSY; tries++)
			usleep(20000);
	}
	return 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_blkcg_helpers, test_teardown),
		cmocka_unit_test_teardown(test_direct_io_attributed, test_teardown),
		cmocka_unit_test_teardown(test_reopen_continues, test_teardown),
		cmocka_unit_test_teardown(test_other_size_not_reused, test_teardown),
		cmocka_unit_test_teardown(test_forget_and_stats, test_teardown),
	};

	if (argc == 4 && strcmp(argv[1], "--io") == 0)
		return io_main(argv[2], argv[3]);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
