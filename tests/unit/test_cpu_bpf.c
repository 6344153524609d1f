/*
 * test_cpu_bpf.c — the CPU time program against the kernel's own cgroup
 * accounting (cpu.stat usage_usec), and pinning across close/reopen.
 *
 * Needs root, bpffs, cgroup v2 and a kernel that loads tp_btf programs;
 * without them every test prints why and is skipped. It creates cgroups
 * under the v2 mount and pins under /sys/fs/bpf/hvmeter-test-PID, and
 * removes both at the end.
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
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cmocka.h>

#include <bpf/bpf.h>

#include "daemon/cpu_bpf.h"

#define MAX_CGROUPS 8
#define AGREE_PCT 1.0

static char g_skip[256];     /* why every test skips; empty: run */
static char g_cg2[256];  /* cgroup v2 mount point */
static char g_pin[256];  /* our pin directory */
static char g_cgroups[MAX_CGROUPS][PATH_MAX];
static int g_ncgroups;
static struct cpu_bpf *g_open; /* closed by the teardown if a test fails */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Finds the cgroup2 mount in /proc/self/mountinfo. */
static int cg2_find(char *out, size_t len)
{
	char line[4096];
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int err = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char mnt[PATH_MAX];
		const char *sep = strstr(line, " - ");

		if (!sep || strncmp(sep, " - cgroup2 ", 11) != 0)
			continue;
		/* id parent major:minor root mountpoint ... */
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1)
			continue;
		if (strlen(mnt) < len) {
			strcpy(out, mnt);
			err = 0;
			break;
		}
	}
	fclose(f);
	return err;
}

/* Creates a v2 cgroup, removed by the group teardown; returns its path. */
static const char *cg_create(const char *name, uint64_t *id)
{
	char *path;

	assert_true(g_ncgroups < MAX_CGROUPS);
	path = g_cgroups[g_ncgroups];
	snprintf(path, PATH_MAX, "%s/hvmeter-test-%d-%s", g_cg2, (int)getpid(), name);
	assert_int_equal(mkdir(path, 0755), 0);
	g_ncgroups++;
	assert_int_equal(cgroup_id_of_path(path, id), 0);
	return path;
}

/* cpu.stat usage_usec of @cg, in ns. */
static uint64_t cg_usage_ns(const char *cg)
{
	char path[PATH_MAX], key[64];
	unsigned long long v, usage = 0;
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "%s/cpu.stat", cg);
	f = fopen(path, "re");
	assert_non_null(f);
	while (fscanf(f, "%63s %llu", key, &v) == 2) {
		if (strcmp(key, "usage_usec") == 0) {
			usage = v;
			found = true;
		}
	}
	fclose(f);
	assert_true(found);
	return (uint64_t)usage * 1000;
}

static void spin_until(uint64_t end)
{
	while (now_ns() < end)
		;
}

/*
 * "--burn SECS": spin for SECS in this process and nproc-1 children of it,
 * more spinners than CPUs, so they are switched often. Runs exec'd, so
 * that under valgrind the burners run natively and inherit nothing.
 */
static int burner_main(const char *secs)
{
	int nproc = (int)sysconf(_SC_NPROCESSORS_ONLN) + 1;
	uint64_t end = now_ns() + (uint64_t)(strtod(secs, NULL) * 1e9);

	for (int i = 1; i < nproc; i++) {
		pid_t p = fork();

		if (p < 0)
			return 3;
		if (p == 0) {
			spin_until(end);
			_exit(0);
		}
	}
	spin_until(end);
	while (wait(NULL) > 0)
		;
	return 0;
}

/* Forks a child that moves itself into @cg and execs the burner. */
static void burn(const char *cg, double secs)
{
	char self[PATH_MAX], path[PATH_MAX], buf[32], arg[32];
	ssize_t len;
	int status;
	pid_t pid;

	len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	assert_true(len > 0);
	self[len] = '\0';
	snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
	snprintf(arg, sizeof(arg), "%.3f", secs);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(path, O_WRONLY | O_CLOEXEC);
		int n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());

		if (fd < 0 || write(fd, buf, (size_t)n) != n)
			_exit(2);
		close(fd);
		execl(self, self, "--burn", arg, (char *)NULL);
		_exit(4);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static double pct_diff(uint64_t got, uint64_t want)
{
	return want ? 100.0 * ((double)got - (double)want) / (double)want : 100.0;
}

static void expect_agree(const char *what, uint64_t bpf_ns, uint64_t cg_ns)
{
	double d = pct_diff(bpf_ns, cg_ns);

	print_message("%s: bpf %llu ns, cpu.stat %llu ns, diff %+.4f %%\n", what,
		      (unsigned long long)bpf_ns, (unsigned long long)cg_ns, d);
	assert_true(cg_ns > 0);
	assert_true(d <= AGREE_PCT && d >= -AGREE_PCT);
}

static void skip_if_unavailable(void)
{
	if (g_skip[0]) {
		print_message("skipping: %s\n", g_skip);
		skip();
	}
}

static struct cpu_bpf *open_or_skip(const struct cpu_bpf_opts *opts)
{
	struct cpu_bpf *c = NULL;
	int err;

	skip_if_unavailable();
	err = cpu_bpf_open_opts(&c, opts);
	if (err == -EPERM || err == -ENOSYS || err == -EOPNOTSUPP) {
		snprintf(g_skip, sizeof(g_skip), "BPF cannot be used here: cpu_bpf_open: %s",
			 strerror(-err));
		print_message("skipping: %s\n", g_skip);
		skip();
	}
	assert_int_equal(err, 0);
	assert_non_null(c);
	assert_null(g_open);
	g_open = c;
	return c;
}

static void close_c(struct cpu_bpf **c)
{
	assert_ptr_equal(*c, g_open);
	cpu_bpf_close(g_open);
	g_open = NULL;
	*c = NULL;
}

static int test_teardown(void **state)
{
	cpu_bpf_close(g_open);
	g_open = NULL;
	return 0;
}

static struct cpu_bpf *open_pin(void)
{
	struct cpu_bpf_opts opts = { .pin_dir = g_pin };

	return open_or_skip(&opts);
}

static bool pinned(const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", g_pin, name);
	return access(path, F_OK) == 0;
}

/* Counting matches the kernel's cgroup accounting of the same tasks. */
static void test_matches_cpu_stat(void **state)
{
	struct cpu_bpf *c;
	const char *cg;
	uint64_t id, ns;

	skip_if_unavailable();
	assert_int_equal(cpu_bpf_unpin(g_pin), 0);
	c = open_pin();
	assert_false(cpu_bpf_reused(c));
	assert_true(pinned("cpu_link") && pinned("cpu_ns"));
	assert_int_not_equal(cpu_bpf_epoch(c), 0);

	cg = cg_create("match", &id);
	assert_int_equal(cpu_bpf_read(c, id, &ns), -ENOENT);
	burn(cg, 1.5);
	assert_int_equal(cpu_bpf_read(c, id, &ns), 0);
	expect_agree("1.5 s burn", ns, cg_usage_ns(cg));
	close_c(&c);
}

/* Reopening reuses the pins; time burnt while closed is counted too. */
static void test_reopen_continues(void **state)
{
	struct cpu_bpf *c;
	const char *cg;
	uint64_t id, ns1, ns2, u1, u2, epoch;

	skip_if_unavailable();
	assert_int_equal(cpu_bpf_unpin(g_pin), 0);
	c = open_pin();
	assert_false(cpu_bpf_reused(c));
	epoch = cpu_bpf_epoch(c);
	cg = cg_create("reopen", &id);
	burn(cg, 0.5);
	assert_int_equal(cpu_bpf_read(c, id, &ns1), 0);
	u1 = cg_usage_ns(cg);
	close_c(&c);

	burn(cg, 1.0); /* nobody holds an fd: only the pins keep counting */
	u2 = cg_usage_ns(cg);

	c = open_pin();
	assert_true(cpu_bpf_reused(c));
	assert_true(cpu_bpf_epoch(c) == epoch);
	assert_int_equal(cpu_bpf_read(c, id, &ns2), 0);
	assert_true(ns2 >= ns1);
	expect_agree("burn while closed", ns2 - ns1, u2 - u1);
	expect_agree("total after reopen", ns2, u2);
	close_c(&c);
}

/* After unpinning, a new open starts a new epoch from zero. */
static void test_unpin_new_epoch(void **state)
{
	struct cpu_bpf *c;
	const char *cg;
	uint64_t id, ns, epoch;

	skip_if_unavailable();
	c = open_pin();
	epoch = cpu_bpf_epoch(c);
	cg = cg_create("unpin", &id);
	burn(cg, 0.2);
	assert_int_equal(cpu_bpf_read(c, id, &ns), 0);
	close_c(&c);

	assert_int_equal(cpu_bpf_unpin(g_pin), 0);
	assert_false(pinned("cpu_link") || pinned("cpu_ns"));
	assert_int_equal(access(g_pin, F_OK), -1); /* empty directory removed */
	assert_int_equal(cpu_bpf_unpin(g_pin), 0); /* nothing left: still fine */

	c = open_pin();
	assert_false(cpu_bpf_reused(c));
	assert_true(cpu_bpf_epoch(c) != epoch);
	assert_int_equal(cpu_bpf_read(c, id, &ns), -ENOENT);
	close_c(&c);
}

/* Foreign objects under our pin names are replaced, not trusted. */
static void test_stale_pins_replaced(void **state)
{
	struct cpu_bpf *c;
	char path[PATH_MAX];
	uint64_t ns;
	int fd;

	skip_if_unavailable();
	c = open_pin(); /* pins ours, creating the directory */
	close_c(&c);
	snprintf(path, sizeof(path), "%s/cpu_link", g_pin);
	assert_int_equal(unlink(path), 0);
	snprintf(path, sizeof(path), "%s/cpu_ns", g_pin);
	assert_int_equal(unlink(path), 0);
	/* An array map both as "cpu_ns" and where our link should be. */
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, NULL, 4, 8, 1, NULL);
	assert_true(fd >= 0);
	assert_int_equal(bpf_obj_pin(fd, path), 0);
	snprintf(path, sizeof(path), "%s/cpu_link", g_pin);
	assert_int_equal(bpf_obj_pin(fd, path), 0);
	close(fd);

	c = open_pin();
	assert_false(cpu_bpf_reused(c));
	assert_int_equal(cpu_bpf_lost(c, &ns), 0);
	close_c(&c);
	c = open_pin(); /* what replaced them is ours */
	assert_true(cpu_bpf_reused(c));
	close_c(&c);
}

/* Another map size is another configuration: not reused. A full map puts
 * the time on the lost counter instead of dropping it. */
static void test_full_map_counts_lost(void **state)
{
	struct cpu_bpf_opts opts = { .pin_dir = g_pin, .max_entries = 2 };
	struct cpu_bpf *c;
	const char *cg;
	uint64_t id, ns = 0, lost0, lost1, u;
	uint64_t epoch;
	int err;

	skip_if_unavailable();
	c = open_pin();
	epoch = cpu_bpf_epoch(c);
	close_c(&c);

	c = open_or_skip(&opts);
	assert_false(cpu_bpf_reused(c));
	assert_true(cpu_bpf_epoch(c) != epoch);
	/* The single free slot goes to whichever cgroup switches first. */
	usleep(100000);
	assert_int_equal(cpu_bpf_lost(c, &lost0), 0);
	cg = cg_create("full", &id);
	burn(cg, 0.3);
	u = cg_usage_ns(cg);
	err = cpu_bpf_read(c, id, &ns);
	assert_true(err == 0 || err == -ENOENT);
	assert_int_equal(cpu_bpf_lost(c, &lost1), 0);
	print_message("full map: cgroup %llu ns, lost grew %llu ns, cpu.stat %llu ns\n",
		      (unsigned long long)ns, (unsigned long long)(lost1 - lost0),
		      (unsigned long long)u);
	assert_true(lost1 - lost0 + ns >= u / 100 * 99);
	close_c(&c);
	assert_int_equal(cpu_bpf_unpin(g_pin), 0);
}

static void test_forget(void **state)
{
	struct cpu_bpf *c;
	const char *cg;
	uint64_t id, ns;

	skip_if_unavailable();
	c = open_pin();
	cg = cg_create("forget", &id);
	burn(cg, 0.1);
	assert_int_equal(cpu_bpf_read(c, id, &ns), 0);
	assert_true(ns > 0);
	assert_int_equal(cpu_bpf_forget(c, id), 0);
	assert_int_equal(cpu_bpf_read(c, id, &ns), -ENOENT);
	assert_int_equal(cpu_bpf_forget(c, id), -ENOENT);
	assert_int_equal(cpu_bpf_forget(c, 0), -EINVAL); /* the lost counter */
	assert_int_equal(cpu_bpf_lost(c, &ns), 0);
	close_c(&c);
}

static void test_prog_stats(void **state)
{
	struct cpu_bpf *c;
	uint64_t ns0, cnt0, ns1, cnt1;
	int stats_fd;

	skip_if_unavailable();
	c = open_pin();
	/* Enables run-time statistics while the fd is open; no global sysctl. */
	stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	assert_true(stats_fd >= 0);
	assert_int_equal(cpu_bpf_prog_stats(c, &ns0, &cnt0), 0);
	usleep(200000);
	assert_int_equal(cpu_bpf_prog_stats(c, &ns1, &cnt1), 0);
	close(stats_fd);
	print_message("prog stats: %llu runs, %.0f ns per run\n",
		      (unsigned long long)(cnt1 - cnt0),
		      cnt1 > cnt0 ? (double)(ns1 - ns0) / (double)(cnt1 - cnt0) : 0.0);
	assert_true(cnt1 > cnt0);
	assert_true(ns1 > ns0);
	close_c(&c);
}

static void test_cgroup_id_of_path(void **state)
{
	struct stat st;
	uint64_t id;

	skip_if_unavailable();
	assert_int_equal(cgroup_id_of_path(g_cg2, &id), 0);
	assert_true(id == 1); /* the v2 root */
	assert_int_equal(stat(g_cg2, &st), 0);
	assert_true(id == st.st_ino);
	assert_int_equal(cgroup_id_of_path("/proc", &id), -EINVAL);
	assert_int_equal(cgroup_id_of_path("/nonexistent-hvmeter", &id), -ENOENT);
}

static int group_setup(void **state)
{
	if (geteuid() != 0) {
		snprintf(g_skip, sizeof(g_skip), "needs root (BPF, bpffs, cgroups)");
		return 0;
	}
	if (cg2_find(g_cg2, sizeof(g_cg2)) != 0) {
		snprintf(g_skip, sizeof(g_skip), "no cgroup2 mount in /proc/self/mountinfo");
		return 0;
	}
	snprintf(g_pin, sizeof(g_pin), "/sys/fs/bpf/hvmeter-test-%d", (int)getpid());
	return 0;
}

static int group_teardown(void **state)
{
	if (g_pin[0])
		cpu_bpf_unpin(g_pin);
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
		cmocka_unit_test_teardown(test_cgroup_id_of_path, test_teardown),
		cmocka_unit_test_teardown(test_matches_cpu_stat, test_teardown),
		cmocka_unit_test_teardown(test_reopen_continues, test_teardown),
		cmocka_unit_test_teardown(test_unpin_new_epoch, test_teardown),
		cmocka_unit_test_teardown(test_stale_pins_replaced, test_teardown),
		cmocka_unit_test_teardown(test_full_map_counts_lost, test_teardown),
		cmocka_unit_test_teardown(test_forget, test_teardown),
		cmocka_unit_test_teardown(test_prog_stats, test_teardown),
	};

	if (argc == 3 && strcmp(argv[1], "--burn") == 0)
		return burner_main(argv[2]);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
