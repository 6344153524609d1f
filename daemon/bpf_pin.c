/*
 * bpf_pin.c — pin directory, reuse checks and epochs shared by the loaders.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>

#include "daemon/bpf_pin.h"

#define BPFFS_ROOT "/sys/fs/bpf"
#define BOOT_ID_PATH "/proc/sys/kernel/random/boot_id"

int bpf_pin_path(char *buf, size_t len, const char *dir, const char *name)
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

int bpf_pin_dir_lock(const char *dir)
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

int bpf_pin_remove(const char *dir, const char *const *names, size_t n)
{
	char path[PATH_MAX];
	int err;

	for (size_t i = 0; i < n; i++) {
		err = bpf_pin_path(path, sizeof(path), dir, names[i]);
		if (err)
			return err;
		if (unlink(path) != 0 && errno != ENOENT)
			return -errno;
	}
	return 0;
}

int bpf_pin_unpin(const char *dir, const char *const *names, size_t n)
{
	int fd, err;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (flock(fd, LOCK_EX) != 0) {
		err = -errno;
		goto cleanup;
	}
	err = bpf_pin_remove(dir, names, n);
	if (err)
		goto cleanup;
	if (rmdir(dir) != 0 && errno != ENOTEMPTY && errno != EEXIST && errno != ENOENT)
		err = -errno;
cleanup:
	close(fd);
	return err;
}

/*
 * Is @fd a BPF object of @kind? The info call alone cannot tell: it fills a
 * link's info from a map without error. bpftool tells them apart the same
 * way, by the anon inode's name; older kernels spell it "bpf_link", so '_'
 * and '-' compare equal.
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

int bpf_pin_get(const char *dir, const char *name, const char *kind, int *fd)
{
	char path[PATH_MAX];
	int err, f;

	*fd = -1;
	err = bpf_pin_path(path, sizeof(path), dir, name);
	if (err)
		return err;
	f = bpf_obj_get(path);
	if (f < 0)
		/* Gone, or a file that is no BPF object: start afresh. */
		return f == -ENOENT || f == -EINVAL ? 0 : f;
	if (!bpf_fd_is(f, kind)) {
		close(f);
		return 0;
	}
	*fd = f;
	return 1;
}

int bpf_pin_obj_info(int fd, void *info, uint32_t len)
{
	uint32_t l = len;

	return bpf_obj_get_info_by_fd(fd, info, &l) ? -errno : 0;
}

int bpf_pin_prog_info(int fd, struct bpf_prog_info *info, uint32_t *map_ids,
		      uint32_t *nmaps)
{
	int err;

	memset(info, 0, sizeof(*info));
	if (map_ids) {
		info->nr_map_ids = BPF_PIN_PROG_MAPS_MAX;
		info->map_ids = (uint64_t)(uintptr_t)map_ids;
	}
	err = bpf_pin_obj_info(fd, info, sizeof(*info));
	if (err)
		return err;
	if (nmaps)
		*nmaps = info->nr_map_ids < BPF_PIN_PROG_MAPS_MAX ? info->nr_map_ids
								   : BPF_PIN_PROG_MAPS_MAX;
	return 0;
}

bool bpf_pin_prog_same(const struct bpf_prog_info *a, const struct bpf_prog_info *b)
{
	return a->type == b->type && memcmp(a->tag, b->tag, sizeof(a->tag)) == 0;
}

int bpf_pin_map_matches(int map_fd, const struct bpf_pin_map_spec *spec,
			const uint32_t *map_ids, uint32_t nmaps)
{
	struct bpf_map_info info;
	bool used = map_ids == NULL;
	int err;

	memset(&info, 0, sizeof(info));
	err = bpf_pin_obj_info(map_fd, &info, sizeof(info));
	if (err)
		return err;
	for (uint32_t i = 0; map_ids && i < nmaps; i++)
		used |= map_ids[i] == info.id;
	return used && info.type == spec->type && info.key_size == spec->key_size &&
	       info.value_size == spec->value_size && info.max_entries == spec->max_entries;
}

int bpf_pin_reuse_link(const char *dir, const char *link_name,
		       const struct bpf_pin_map_spec *map,
		       const struct bpf_prog_info *fresh,
		       int *link_fd, int *prog_fd, int *map_fd)
{
	struct bpf_link_info linfo;
	struct bpf_prog_info pinfo;
	/* Zeroed although the kernel fills it: valgrind cannot see that. */
	uint32_t map_ids[BPF_PIN_PROG_MAPS_MAX] = { 0 }, nmaps = 0;
	int lfd = -1, pfd = -1, mfd = -1;
	int ret;

	ret = bpf_pin_get(dir, link_name, "bpf-link", &lfd);
	if (ret <= 0)
		goto cleanup;
	memset(&linfo, 0, sizeof(linfo));
	ret = bpf_pin_obj_info(lfd, &linfo, sizeof(linfo));
	if (ret)
		goto cleanup;
	pfd = bpf_prog_get_fd_by_id(linfo.prog_id);
	if (pfd < 0) {
		ret = pfd == -ENOENT ? 0 : pfd;
		goto cleanup;
	}
	ret = bpf_pin_prog_info(pfd, &pinfo, map_ids, &nmaps);
	if (ret)
		goto cleanup;
	if (!bpf_pin_prog_same(&pinfo, fresh))
		goto cleanup; /* ret == 0: another program */
	ret = bpf_pin_get(dir, map->name, "bpf-map", &mfd);
	if (ret <= 0)
		goto cleanup;
	ret = bpf_pin_map_matches(mfd, map, map_ids, nmaps);
	if (ret <= 0)
		goto cleanup;
	*link_fd = lfd;
	*prog_fd = pfd;
	*map_fd = mfd;
	lfd = pfd = mfd = -1;
	ret = 1;
cleanup:
	if (mfd >= 0)
		close(mfd);
	if (pfd >= 0)
		close(pfd);
	if (lfd >= 0)
		close(lfd);
	return ret;
}

int bpf_pin_dup(int fd)
{
	int d = fcntl(fd, F_DUPFD_CLOEXEC, 3);

	return d < 0 ? -errno : d;
}

int bpf_pin_attach_link(const char *dir, const char *link_name,
			const char *map_name, struct bpf_program *prog,
			struct bpf_map *map,
			int (*before_attach)(void *arg, int map_fd), void *arg,
			int *link_fd, int *prog_fd, int *map_fd)
{
	const char *const names[] = { link_name, map_name };
	struct bpf_link *link = NULL;
	char path[PATH_MAX];
	int lfd = -1, pfd = -1, mfd = -1;
	bool pinned = false;
	int err;

	err = bpf_pin_remove(dir, names, 2);
	if (err)
		goto cleanup;
	mfd = bpf_pin_dup(bpf_map__fd(map));
	pfd = bpf_pin_dup(bpf_program__fd(prog));
	if (mfd < 0 || pfd < 0) {
		err = mfd < 0 ? mfd : pfd;
		goto cleanup;
	}
	if (before_attach) {
		err = before_attach(arg, mfd);
		if (err)
			goto cleanup;
	}
	link = bpf_program__attach(prog);
	if (!link) {
		err = -errno;
		goto cleanup;
	}
	/* The map first: a link pinned without its map would be useless. */
	pinned = true;
	err = bpf_pin_path(path, sizeof(path), dir, map_name);
	if (err)
		goto cleanup;
	err = bpf_obj_pin(mfd, path);
	if (err)
		goto cleanup;
	err = bpf_pin_path(path, sizeof(path), dir, link_name);
	if (err)
		goto cleanup;
	err = bpf_link__pin(link, path);
	if (err)
		goto cleanup;
	lfd = bpf_pin_dup(bpf_link__fd(link));
	if (lfd < 0) {
		err = lfd;
		goto cleanup;
	}
	*link_fd = lfd;
	*prog_fd = pfd;
	*map_fd = mfd;
	lfd = pfd = mfd = -1;
cleanup:
	if (err && pinned)
		bpf_pin_remove(dir, names, 2);
	/* Closes libbpf's link fd; the pin and our dup keep it attached. */
	bpf_link__destroy(link);
	if (mfd >= 0)
		close(mfd);
	if (pfd >= 0)
		close(pfd);
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

int bpf_pin_epoch(int map_fd, int prog_fd, uint64_t *epoch)
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
	err = bpf_pin_obj_info(map_fd, &minfo, sizeof(minfo));
	if (err)
		return err;
	err = bpf_pin_prog_info(prog_fd, &pinfo, NULL, NULL);
	if (err)
		return err;
	h = fnv1a(h, boot_id, (size_t)n);
	h = fnv1a(h, &minfo.id, sizeof(minfo.id));
	h = fnv1a(h, &pinfo.load_time, sizeof(pinfo.load_time));
	*epoch = h ? h : 1;
	return 0;
}

int bpf_pin_prog_stats(int prog_fd, uint64_t *run_ns, uint64_t *run_cnt)
{
	struct bpf_prog_info info;
	int err;

	err = bpf_pin_prog_info(prog_fd, &info, NULL, NULL);
	if (err)
		return err;
	*run_ns = info.run_time_ns;
	*run_cnt = info.run_cnt;
	return 0;
}

int bpf_pin_probe(const enum bpf_map_type *types, size_t n)
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
	for (size_t i = 0; i < n; i++)
		if (libbpf_probe_bpf_map_type(types[i], NULL) != 1)
			return -EOPNOTSUPP;
	return 0;
}
