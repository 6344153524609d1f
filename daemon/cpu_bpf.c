/*
 * cpu_bpf.c — loader of bpf/cpu.bpf.c: pinning, reuse, reading counters.
 *
 * Reuse rule: the pinned link's program must have the same tag as the
 * program we just loaded from our own object (the tag is a hash of the
 * instructions with map references blanked, so it changes with any code
 * change and nothing else), and the pinned counter map must be one that
 * program uses, with the type and sizes we ask for. A version number kept
 * in a pinned map would depend on someone remembering to bump it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf/cpu.h"
#include "daemon/cpu_bpf.h"

/*
 * bpftool names the skeleton's struct after the object file (cpu.bpf.o ->
 * struct cpu_bpf), which is the name of our public handle: rename the
 * skeleton's struct in this file only. Its functions (cpu_bpf__open...)
 * are distinct tokens and keep their names.
 */
#define cpu_bpf cpu_skel
#include "bpf/cpu.skel.h"
#undef cpu_bpf

#define BPFFS_ROOT "/sys/fs/bpf"
#define PIN_LINK "cpu_link"
#define PIN_MAP "cpu_ns"
#define BOOT_ID_PATH "/proc/sys/kernel/random/boot_id"
#define MAX_PROG_MAPS 16

struct cpu_bpf {
	int link_fd;
	int prog_fd;
	int map_fd;
	int ncpus;
	uint64_t *percpu; /* lookup buffer: one value per possible CPU */
	uint64_t epoch;
	bool reused;
};

static int pin_path(char *buf, size_t len, const char *dir, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static bool is_bpffs(const char *path)
{
	struct statfs sf;

	return statfs(path, &sf) == 0 && sf.f_type == BPF_FS_MAGIC;
}

/* mkdir -p with mode 0700 for the missing components. */
static int mkdir_p(const char *path)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(buf))
		return len ? -ENAMETOOLONG : -EINVAL;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;

		*p = '\0';
		if (mkdir(buf, 0700) != 0 && errno != EEXIST)
			return -errno;
		*p = c;
		if (c == '\0')
			break;
	}
	return 0;
}

/* Makes @dir exist on bpffs, mounting bpffs on /sys/fs/bpf if needed. */
static int pin_dir_prepare(const char *dir)
{
	size_t rootlen = strlen(BPFFS_ROOT);
	int err;

	if (dir[0] != '/')
		return -EINVAL;
	if (strncmp(dir, BPFFS_ROOT, rootlen) == 0 &&
	    (dir[rootlen] == '/' || dir[rootlen] == '\0') && !is_bpffs(BPFFS_ROOT)) {
		err = mkdir_p(BPFFS_ROOT);
		if (err)
			return err;
		if (mount("bpf", BPFFS_ROOT, "bpf", MS_NOSUID | MS_NODEV | MS_NOEXEC,
			  "mode=0700") != 0)
			return -errno;
	}
	err = mkdir_p(dir);
	if (err)
		return err;
	return is_bpffs(dir) ? 0 : -EINVAL;
}

/*
 * Opens and flocks @dir; retries if the directory was replaced while we
 * waited (a concurrent cpu_bpf_unpin() removed it). Returns an fd or -errno.
 */
static int pin_dir_lock(const char *dir)
{
	for (int tries = 0; tries < 8; tries++) {
		struct stat a, b;
		int fd, err;

		err = pin_dir_prepare(dir);
		if (err)
			return err;
		fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		if (flock(fd, LOCK_EX) != 0) {
			err = -errno;
			close(fd);
			return err;
		}
		if (fstat(fd, &a) == 0 && stat(dir, &b) == 0 &&
		    a.st_dev == b.st_dev && a.st_ino == b.st_ino)
			return fd;
		close(fd);
	}
	return -EAGAIN;
}

static int obj_info(int fd, void *info, uint32_t len)
{
	uint32_t l = len;

	return bpf_obj_get_info_by_fd(fd, info, &l) ? -errno : 0;
}

/* Program info with up to MAX_PROG_MAPS of its map ids in @map_ids. */
static int prog_info(int fd, struct bpf_prog_info *info, uint32_t *map_ids,
		     uint32_t *nmaps)
{
	int err;

	memset(info, 0, sizeof(*info));
	if (map_ids) {
		info->nr_map_ids = MAX_PROG_MAPS;
		info->map_ids = (uint64_t)(uintptr_t)map_ids;
	}
	err = obj_info(fd, info, sizeof(*info));
	if (err)
		return err;
	if (nmaps)
		*nmaps = info->nr_map_ids < MAX_PROG_MAPS ? info->nr_map_ids : MAX_PROG_MAPS;
	return 0;
}

/* Removes our pins from @dir; missing ones are fine. */
static int pins_remove(const char *dir)
{
	static const char *const names[] = { PIN_LINK, PIN_MAP };
	char path[PATH_MAX];
	int err;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		err = pin_path(path, sizeof(path), dir, names[i]);
		if (err)
			return err;
		if (unlink(path) != 0 && errno != ENOENT)
			return -errno;
	}
	return 0;
}

/*
 * Is @fd a BPF object of @kind ("bpf-map", "bpf-link")? The info call alone
 * cannot tell: it fills a link's info from a map without error. bpftool
 * tells them apart the same way, by the anon inode's name; older kernels
 * spell the link's "bpf_link", so '_' and '-' compare equal.
 */
static bool bpf_fd_is(int fd, const char *kind)
{
	static const char prefix[] = "anon_inode:";
	char path[64], target[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return false;
	target[n] = '\0';
	if (strncmp(target, prefix, sizeof(prefix) - 1) != 0)
		return false;
	for (char *p = target; *p; p++)
		if (*p == '_')
			*p = '-';
	return strcmp(target + sizeof(prefix) - 1, kind) == 0;
}

/* A pin of ours that is gone or holds something else: start afresh. */
static bool pin_is_stale(int err)
{
	return err == -ENOENT || err == -EINVAL;
}

/*
 * Takes the pinned link and map if they come from the program described by
 * @fresh and match @max_entries. Returns 1 (fds stored in @c), 0 (nothing
 * usable is pinned) or -errno.
 */
static int pins_reuse(struct cpu_bpf *c, const char *dir,
		      const struct bpf_prog_info *fresh, uint32_t max_entries)
{
	struct bpf_link_info linfo;
	struct bpf_prog_info pinfo;
	struct bpf_map_info minfo;
	/* Zeroed although the kernel fills it: valgrind cannot see that. */
	uint32_t map_ids[MAX_PROG_MAPS] = { 0 }, nmaps = 0;
	char path[PATH_MAX];
	int link_fd = -1, prog_fd = -1, map_fd = -1;
	int ret;
	bool uses_map = false;

	ret = pin_path(path, sizeof(path), dir, PIN_LINK);
	if (ret)
		goto cleanup;
	link_fd = bpf_obj_get(path);
	if (link_fd < 0) {
		ret = pin_is_stale(link_fd) ? 0 : link_fd;
		goto cleanup;
	}
	if (!bpf_fd_is(link_fd, "bpf-link"))
		goto cleanup; /* ret == 0 */
	memset(&linfo, 0, sizeof(linfo));
	ret = obj_info(link_fd, &linfo, sizeof(linfo));
	if (ret)
		goto cleanup;
	prog_fd = bpf_prog_get_fd_by_id(linfo.prog_id);
	if (prog_fd < 0) {
		ret = prog_fd == -ENOENT ? 0 : prog_fd;
		goto cleanup;
	}
	ret = prog_info(prog_fd, &pinfo, map_ids, &nmaps);
	if (ret)
		goto cleanup;
	if (pinfo.type != fresh->type ||
	    memcmp(pinfo.tag, fresh->tag, sizeof(pinfo.tag)) != 0)
		goto cleanup; /* ret == 0: another program */

	ret = pin_path(path, sizeof(path), dir, PIN_MAP);
	if (ret)
		goto cleanup;
	map_fd = bpf_obj_get(path);
	if (map_fd < 0) {
		ret = pin_is_stale(map_fd) ? 0 : map_fd;
		goto cleanup;
	}
	if (!bpf_fd_is(map_fd, "bpf-map"))
		goto cleanup; /* ret == 0 */
	memset(&minfo, 0, sizeof(minfo));
	ret = obj_info(map_fd, &minfo, sizeof(minfo));
	if (ret)
		goto cleanup;
	for (uint32_t i = 0; i < nmaps; i++)
		uses_map |= map_ids[i] == minfo.id;
	if (!uses_map || minfo.type != BPF_MAP_TYPE_PERCPU_HASH ||
	    minfo.key_size != CPU_NS_KEY_SIZE || minfo.value_size != CPU_NS_VALUE_SIZE ||
	    minfo.max_entries != max_entries)
		goto cleanup;

	c->link_fd = link_fd;
	c->prog_fd = prog_fd;
	c->map_fd = map_fd;
	link_fd = prog_fd = map_fd = -1;
	ret = 1;
cleanup:
	if (map_fd >= 0)
		close(map_fd);
	if (prog_fd >= 0)
		close(prog_fd);
	if (link_fd >= 0)
		close(link_fd);
	return ret;
}

/* Makes sure the lost-time counter exists (before attach, and on reuse). */
static int lost_key_insert(struct cpu_bpf *c)
{
	uint64_t key = CPU_KEY_LOST;
	int err;

	memset(c->percpu, 0, (size_t)c->ncpus * sizeof(uint64_t));
	err = bpf_map_update_elem(c->map_fd, &key, c->percpu, BPF_NOEXIST);
	return err == -EEXIST ? 0 : err;
}

/* Loads the fresh program, attaches and pins it; fds go to @c. */
static int fresh_attach(struct cpu_bpf *c, struct cpu_skel *skel, const char *dir)
{
	struct bpf_link *link = NULL;
	char path[PATH_MAX];
	bool pinned = false;
	int err;

	err = pins_remove(dir);
	if (err)
		goto cleanup;
	c->map_fd = fcntl(bpf_map__fd(skel->maps.cpu_ns), F_DUPFD_CLOEXEC, 3);
	c->prog_fd = fcntl(bpf_program__fd(skel->progs.cpu_switch), F_DUPFD_CLOEXEC, 3);
	if (c->map_fd < 0 || c->prog_fd < 0) {
		err = -errno;
		goto cleanup;
	}
	err = lost_key_insert(c);
	if (err)
		goto cleanup;
	link = bpf_program__attach(skel->progs.cpu_switch);
	if (!link) {
		err = -errno;
		goto cleanup;
	}
	/* The map first: a link pinned without its map would be useless. */
	pinned = true;
	err = pin_path(path, sizeof(path), dir, PIN_MAP);
	if (err)
		goto cleanup;
	err = bpf_obj_pin(c->map_fd, path);
	if (err)
		goto cleanup;
	err = pin_path(path, sizeof(path), dir, PIN_LINK);
	if (err)
		goto cleanup;
	err = bpf_link__pin(link, path);
	if (err)
		goto cleanup;
	c->link_fd = fcntl(bpf_link__fd(link), F_DUPFD_CLOEXEC, 3);
	if (c->link_fd < 0)
		err = -errno;
cleanup:
	if (err && pinned)
		pins_remove(dir);
	/* Closes libbpf's link fd; the pin and our dup keep it attached. */
	bpf_link__destroy(link);
	return err;
}

static uint64_t fnv1a(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* Hash of boot_id, the map's id and the program's load time. */
static int epoch_compute(struct cpu_bpf *c)
{
	struct bpf_map_info minfo;
	struct bpf_prog_info pinfo;
	char boot_id[64];
	ssize_t n;
	uint64_t h = 0xcbf29ce484222325ULL;
	int fd, err;

	fd = open(BOOT_ID_PATH, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, boot_id, sizeof(boot_id));
	err = n < 0 ? -errno : 0;
	close(fd);
	if (err)
		return err;
	if (n < 16)
		return -EIO;
	memset(&minfo, 0, sizeof(minfo));
	err = obj_info(c->map_fd, &minfo, sizeof(minfo));
	if (err)
		return err;
	err = prog_info(c->prog_fd, &pinfo, NULL, NULL);
	if (err)
		return err;
	h = fnv1a(h, boot_id, (size_t)n);
	h = fnv1a(h, &minfo.id, sizeof(minfo.id));
	h = fnv1a(h, &pinfo.load_time, sizeof(pinfo.load_time));
	c->epoch = h ? h : 1;
	return 0;
}

/* Can BPF be used at all, with what this program needs? */
static int features_probe(void)
{
	int fd;

	if (access("/sys/kernel/btf/vmlinux", R_OK) != 0)
		return -EOPNOTSUPP;
	/* The simplest map tells privilege (EPERM) and syscall (ENOSYS) apart
	 * from missing features, which libbpf's probes report alike. */
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, NULL, 4, 8, 1, NULL);
	if (fd < 0)
		return fd;
	close(fd);
	if (libbpf_probe_bpf_map_type(BPF_MAP_TYPE_PERCPU_HASH, NULL) != 1 ||
	    libbpf_probe_bpf_map_type(BPF_MAP_TYPE_TASK_STORAGE, NULL) != 1)
		return -EOPNOTSUPP;
	return 0;
}

static uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int cpu_bpf_open_opts(struct cpu_bpf **out, const struct cpu_bpf_opts *opts)
{
	const char *dir = opts && opts->pin_dir ? opts->pin_dir : CPU_BPF_PIN_DIR;
	uint32_t max_entries = opts && opts->max_entries ? opts->max_entries : CPU_NS_MAX_ENTRIES;
	struct cpu_skel *skel = NULL;
	struct bpf_prog_info fresh;
	struct cpu_bpf *c = NULL;
	int lock_fd = -1;
	int err;

	*out = NULL;
	if (max_entries < 2 || strlen(dir) >= PATH_MAX - 16)
		return -EINVAL;
	err = features_probe();
	if (err)
		goto cleanup;
	c = calloc(1, sizeof(*c));
	if (!c) {
		err = -ENOMEM;
		goto cleanup;
	}
	c->link_fd = c->prog_fd = c->map_fd = -1;
	c->ncpus = libbpf_num_possible_cpus();
	if (c->ncpus <= 0) {
		err = c->ncpus < 0 ? c->ncpus : -EIO;
		goto cleanup;
	}
	c->percpu = calloc((size_t)c->ncpus, sizeof(uint64_t));
	if (!c->percpu) {
		err = -ENOMEM;
		goto cleanup;
	}

	lock_fd = pin_dir_lock(dir);
	if (lock_fd < 0) {
		err = lock_fd;
		goto cleanup;
	}

	/* Load our program even when reusing: its tag is the reference. */
	skel = cpu_bpf__open();
	if (!skel) {
		err = -errno;
		goto cleanup;
	}
	skel->rodata->cfg_load_ns = monotonic_ns();
	err = bpf_map__set_max_entries(skel->maps.cpu_ns, max_entries);
	if (err)
		goto cleanup;
	err = cpu_bpf__load(skel);
	if (err)
		goto cleanup;
	err = prog_info(bpf_program__fd(skel->progs.cpu_switch), &fresh, NULL, NULL);
	if (err)
		goto cleanup;

	err = pins_reuse(c, dir, &fresh, max_entries);
	if (err < 0)
		goto cleanup;
	c->reused = err == 1;
	if (c->reused) {
		/* Normally present; -E2BIG: full map, lost time is not kept. */
		err = lost_key_insert(c);
		if (err == -E2BIG)
			err = 0;
	} else {
		err = fresh_attach(c, skel, dir);
	}
	if (err)
		goto cleanup;
	err = epoch_compute(c);
	if (err)
		goto cleanup;
	*out = c;
	c = NULL;
cleanup:
	/* A fresh program that was not attached is freed here. */
	cpu_bpf__destroy(skel);
	if (lock_fd >= 0)
		close(lock_fd);
	cpu_bpf_close(c);
	return err;
}

int cpu_bpf_open(struct cpu_bpf **out, const char *pin_dir)
{
	struct cpu_bpf_opts opts = { .pin_dir = pin_dir };

	return cpu_bpf_open_opts(out, &opts);
}

int cpu_bpf_read(struct cpu_bpf *c, uint64_t cgroup_id, uint64_t *ns)
{
	uint64_t sum = 0;
	int err;

	err = bpf_map_lookup_elem(c->map_fd, &cgroup_id, c->percpu);
	if (err)
		return err;
	for (int i = 0; i < c->ncpus; i++)
		sum += c->percpu[i];
	*ns = sum;
	return 0;
}

int cpu_bpf_lost(struct cpu_bpf *c, uint64_t *ns)
{
	int err = cpu_bpf_read(c, CPU_KEY_LOST, ns);

	if (err == -ENOENT) { /* could not be inserted: map was full at open */
		*ns = 0;
		err = 0;
	}
	return err;
}

int cpu_bpf_forget(struct cpu_bpf *c, uint64_t cgroup_id)
{
	if (cgroup_id == CPU_KEY_LOST)
		return -EINVAL;
	return bpf_map_delete_elem(c->map_fd, &cgroup_id);
}

uint64_t cpu_bpf_epoch(const struct cpu_bpf *c)
{
	return c->epoch;
}

int cpu_bpf_prog_stats(struct cpu_bpf *c, uint64_t *run_ns, uint64_t *run_cnt)
{
	struct bpf_prog_info info;
	int err;

	err = prog_info(c->prog_fd, &info, NULL, NULL);
	if (err)
		return err;
	*run_ns = info.run_time_ns;
	*run_cnt = info.run_cnt;
	return 0;
}

bool cpu_bpf_reused(const struct cpu_bpf *c)
{
	return c->reused;
}

void cpu_bpf_close(struct cpu_bpf *c)
{
	if (!c)
		return;
	if (c->link_fd >= 0)
		close(c->link_fd);
	if (c->prog_fd >= 0)
		close(c->prog_fd);
	if (c->map_fd >= 0)
		close(c->map_fd);
	free(c->percpu);
	free(c);
}

int cpu_bpf_unpin(const char *pin_dir)
{
	const char *dir = pin_dir ? pin_dir : CPU_BPF_PIN_DIR;
	int fd, err;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (flock(fd, LOCK_EX) != 0) {
		err = -errno;
		goto cleanup;
	}
	err = pins_remove(dir);
	if (err)
		goto cleanup;
	if (rmdir(dir) != 0 && errno != ENOTEMPTY && errno != EEXIST && errno != ENOENT)
		err = -errno;
cleanup:
	close(fd);
	return err;
}

int cgroup_id_of_path(const char *path, uint64_t *id)
{
	/* struct file_handle ends in a flexible array: room for 8 bytes. */
	uint64_t buf[(sizeof(struct file_handle) + sizeof(uint64_t) + 7) / 8];
	struct file_handle *fh = (struct file_handle *)buf;
	struct statfs sf;
	struct stat st;
	int mount_id;

	if (statfs(path, &sf) != 0)
		return -errno;
	if (sf.f_type != CGROUP2_SUPER_MAGIC && sf.f_type != CGROUP_SUPER_MAGIC)
		return -EINVAL;
	/* kernfs exports the 64-bit node id as the handle: exact everywhere. */
	fh->handle_bytes = sizeof(uint64_t);
	if (name_to_handle_at(AT_FDCWD, path, fh, &mount_id, 0) == 0 &&
	    fh->handle_bytes == sizeof(uint64_t)) {
		memcpy(id, fh->f_handle, sizeof(*id));
		return 0;
	}
	/* No export support: on 64-bit the inode number is the same id. */
	if (stat(path, &st) != 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	*id = st.st_ino;
	return 0;
}
