/*
 * disk_bpf.c — loader of bpf/disk.bpf.c: pinning, reuse, reading counters,
 * and finding blkcg ids.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf/disk.h"
#include "daemon/bpf_pin.h"
#include "daemon/cpu_bpf.h"
#include "daemon/disk_bpf.h"

/* The skeleton's struct is named after the object (disk.bpf.o -> struct
 * disk_bpf), our public handle: rename it in this file only. */
#define disk_bpf disk_skel
#include "bpf/disk.skel.h"
#undef disk_bpf

#define PIN_LINK "disk_link"
#define PIN_MAP "disk_io"

static const char *const pin_names[] = { PIN_LINK, PIN_MAP };

struct disk_bpf {
	int link_fd;
	int prog_fd;
	int map_fd;
	int ncpus;
	struct disk_io *percpu; /* lookup buffer: one value per possible CPU */
	uint64_t epoch;
	bool reused;
};

/* Makes sure the unattributed counter exists (before attach, and on reuse). */
static int unattributed_insert(struct disk_bpf *d, int map_fd)
{
	uint64_t key = DISK_KEY_UNATTRIBUTED;
	int err;

	memset(d->percpu, 0, (size_t)d->ncpus * sizeof(*d->percpu));
	err = bpf_map_update_elem(map_fd, &key, d->percpu, BPF_NOEXIST);
	return err == -EEXIST ? 0 : err;
}

static int before_attach(void *arg, int map_fd)
{
	return unattributed_insert(arg, map_fd);
}

int disk_bpf_open_opts(struct disk_bpf **out, const struct disk_bpf_opts *opts)
{
	const char *dir = opts && opts->pin_dir ? opts->pin_dir : DISK_BPF_PIN_DIR;
	uint32_t max_entries = opts && opts->max_entries ? opts->max_entries : DISK_IO_MAX_ENTRIES;
	static const enum bpf_map_type types[] = { BPF_MAP_TYPE_PERCPU_HASH };
	struct bpf_pin_map_spec spec = {
		.name = PIN_MAP, .type = BPF_MAP_TYPE_PERCPU_HASH,
		.key_size = DISK_IO_KEY_SIZE, .value_size = DISK_IO_VALUE_SIZE,
		.max_entries = max_entries,
	};
	struct disk_skel *skel = NULL;
	struct bpf_prog_info fresh;
	struct disk_bpf *d = NULL;
	int lock_fd = -1;
	int err;

	*out = NULL;
	if (max_entries < 2 || strlen(dir) >= PATH_MAX - 16)
		return -EINVAL;
	err = bpf_pin_probe(types, sizeof(types) / sizeof(types[0]));
	if (err)
		goto cleanup;
	d = calloc(1, sizeof(*d));
	if (!d) {
		err = -ENOMEM;
		goto cleanup;
	}
	d->link_fd = d->prog_fd = d->map_fd = -1;
	d->ncpus = libbpf_num_possible_cpus();
	if (d->ncpus <= 0) {
		err = d->ncpus < 0 ? d->ncpus : -EIO;
		goto cleanup;
	}
	d->percpu = calloc((size_t)d->ncpus, sizeof(*d->percpu));
	if (!d->percpu) {
		err = -ENOMEM;
		goto cleanup;
	}

	lock_fd = bpf_pin_dir_lock(dir);
	if (lock_fd < 0) {
		err = lock_fd;
		goto cleanup;
	}

	/* Load our program even when reusing: its tag is the reference. */
	skel = disk_bpf__open();
	if (!skel) {
		err = -errno;
		goto cleanup;
	}
	err = bpf_map__set_max_entries(skel->maps.disk_io, max_entries);
	if (err)
		goto cleanup;
	err = disk_bpf__load(skel);
	if (err)
		goto cleanup;
	err = bpf_pin_prog_info(bpf_program__fd(skel->progs.disk_bio_queue), &fresh, NULL, NULL);
	if (err)
		goto cleanup;

	err = bpf_pin_reuse_link(dir, PIN_LINK, &spec, &fresh, &d->link_fd, &d->prog_fd,
				 &d->map_fd);
	if (err < 0)
		goto cleanup;
	d->reused = err == 1;
	if (d->reused) {
		/* Normally present; -E2BIG: full map, nothing to keep it in. */
		err = unattributed_insert(d, d->map_fd);
		if (err == -E2BIG)
			err = 0;
	} else {
		err = bpf_pin_attach_link(dir, PIN_LINK, PIN_MAP, skel->progs.disk_bio_queue,
					  skel->maps.disk_io, before_attach, d, &d->link_fd,
					  &d->prog_fd, &d->map_fd);
	}
	if (err)
		goto cleanup;
	err = bpf_pin_epoch(d->map_fd, d->prog_fd, &d->epoch);
	if (err)
		goto cleanup;
	*out = d;
	d = NULL;
cleanup:
	/* A fresh program that was not attached is freed here. */
	disk_bpf__destroy(skel);
	if (lock_fd >= 0)
		close(lock_fd);
	disk_bpf_close(d);
	return err;
}

int disk_bpf_open(struct disk_bpf **out, const char *pin_dir)
{
	struct disk_bpf_opts opts = { .pin_dir = pin_dir };

	return disk_bpf_open_opts(out, &opts);
}

int disk_bpf_read(struct disk_bpf *d, uint64_t blkcg_id, struct disk_io *out)
{
	struct disk_io sum = { 0 };
	int err;

	err = bpf_map_lookup_elem(d->map_fd, &blkcg_id, d->percpu);
	if (err)
		return err;
	for (int i = 0; i < d->ncpus; i++) {
		sum.read_bytes += d->percpu[i].read_bytes;
		sum.write_bytes += d->percpu[i].write_bytes;
		sum.read_reqs += d->percpu[i].read_reqs;
		sum.write_reqs += d->percpu[i].write_reqs;
	}
	*out = sum;
	return 0;
}

int disk_bpf_unattributed(struct disk_bpf *d, struct disk_io *out)
{
	int err = disk_bpf_read(d, DISK_KEY_UNATTRIBUTED, out);

	if (err == -ENOENT) { /* could not be inserted: map was full at open */
		memset(out, 0, sizeof(*out));
		err = 0;
	}
	return err;
}

int disk_bpf_forget(struct disk_bpf *d, uint64_t blkcg_id)
{
	if (blkcg_id == DISK_KEY_UNATTRIBUTED)
		return -EINVAL;
	return bpf_map_delete_elem(d->map_fd, &blkcg_id);
}

uint64_t disk_bpf_epoch(const struct disk_bpf *d)
{
	return d->epoch;
}

int disk_bpf_prog_stats(struct disk_bpf *d, uint64_t *run_ns, uint64_t *run_cnt)
{
	return bpf_pin_prog_stats(d->prog_fd, run_ns, run_cnt);
}

bool disk_bpf_reused(const struct disk_bpf *d)
{
	return d->reused;
}

void disk_bpf_close(struct disk_bpf *d)
{
	if (!d)
		return;
	if (d->link_fd >= 0)
		close(d->link_fd);
	if (d->prog_fd >= 0)
		close(d->prog_fd);
	if (d->map_fd >= 0)
		close(d->map_fd);
	free(d->percpu);
	free(d);
}

int disk_bpf_unpin(const char *pin_dir)
{
	return bpf_pin_unpin(pin_dir ? pin_dir : DISK_BPF_PIN_DIR, pin_names,
			     sizeof(pin_names) / sizeof(pin_names[0]));
}

/* ---- blkcg ids ------------------------------------------------------------ */

static int copy_path(char *out, size_t len, const char *a, const char *b)
{
	int n = snprintf(out, len, "%s%s", a, b);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* Does the comma-separated list @list contain @word? */
static bool list_has(const char *list, size_t n, const char *word)
{
	size_t wl = strlen(word);

	for (const char *p = list, *end = list + n; p < end;) {
		const char *c = memchr(p, ',', (size_t)(end - p));
		size_t l = c ? (size_t)(c - p) : (size_t)(end - p);

		if (l == wl && memcmp(p, word, wl) == 0)
			return true;
		p += l + 1;
	}
	return false;
}

/*
 * The mount points of the v1 blkio hierarchy and of cgroup2, from
 * /proc/self/mountinfo ("" when absent).
 */
static int cgroup_mounts(char *v1, size_t v1len, char *v2, size_t v2len)
{
	char line[4096];
	FILE *f;

	v1[0] = v2[0] = '\0';
	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char mnt[PATH_MAX], type[32], super[1024];
		const char *sep = strstr(line, " - ");

		if (!sep || sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1 ||
		    sscanf(sep + 3, "%31s %*s %1023s", type, super) != 2)
			continue;
		if (strcmp(type, "cgroup") == 0 && !v1[0] &&
		    list_has(super, strlen(super), "blkio"))
			snprintf(v1, v1len, "%s", strlen(mnt) < v1len ? mnt : "");
		else if (strcmp(type, "cgroup2") == 0 && !v2[0])
			snprintf(v2, v2len, "%s", strlen(mnt) < v2len ? mnt : "");
	}
	fclose(f);
	return 0;
}

/* Does the v2 root at @v2 offer the io controller? */
static bool v2_has_io(const char *v2)
{
	char path[PATH_MAX], buf[512];
	size_t n;
	FILE *f;
	bool has = false;

	if (copy_path(path, sizeof(path), v2, "/cgroup.controllers"))
		return false;
	f = fopen(path, "re");
	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	for (char *save = NULL, *t = strtok_r(buf, " \n", &save); t;
	     t = strtok_r(NULL, " \n", &save))
		has |= strcmp(t, "io") == 0;
	return has;
}

int disk_blkcg_mount(char *out, size_t len)
{
	char v1[PATH_MAX], v2[PATH_MAX];
	int err;

	err = cgroup_mounts(v1, sizeof(v1), v2, sizeof(v2));
	if (err)
		return err;
	/* With blkio bound to v1, v2 has no io controller at all. */
	if (v1[0])
		return copy_path(out, len, v1, "");
	if (v2[0] && v2_has_io(v2))
		return copy_path(out, len, v2, "");
	return -ENOENT;
}

int disk_blkcg_id(const char *path, uint64_t *id)
{
	char mnt[PATH_MAX], full[PATH_MAX];
	int err;

	if (path[0] == '/')
		return cgroup_id_of_path(path, id);
	err = disk_blkcg_mount(mnt, sizeof(mnt));
	if (err)
		return err;
	err = bpf_pin_path(full, sizeof(full), mnt, path); /* "MNT/PATH" */
	if (err)
		return err;
	return cgroup_id_of_path(full, id);
}

int disk_blkcg_root_id(uint64_t *id)
{
	char mnt[PATH_MAX];
	int err;

	err = disk_blkcg_mount(mnt, sizeof(mnt));
	if (err)
		return err;
	return cgroup_id_of_path(mnt, id);
}

int disk_blkcg_dir_of_pid(int pid, char *out, size_t len)
{
	char v1[PATH_MAX], v2[PATH_MAX], path[64], line[4096];
	bool use_v1;
	int err = -ENOENT;
	FILE *f;

	if (pid <= 0)
		return -EINVAL;
	err = cgroup_mounts(v1, sizeof(v1), v2, sizeof(v2));
	if (err)
		return err;
	use_v1 = v1[0] != '\0';
	if (!use_v1 && !(v2[0] && v2_has_io(v2)))
		return -ENOENT;
	snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? -ENOENT : -errno;
	err = -ENOENT;
	/* "ID:CONTROLLERS:PATH"; v2 is "0::PATH". */
	while (fgets(line, sizeof(line), f)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		char *nl;

		if (!c2)
			continue;
		nl = strchr(c2, '\n');
		if (nl)
			*nl = '\0';
		if (use_v1 ? list_has(c1 + 1, (size_t)(c2 - c1 - 1), "blkio")
			   : (c2 == c1 + 1 && strncmp(line, "0:", 2) == 0)) {
			/* The root is "/": no trailing slash on the result. */
			err = copy_path(out, len, use_v1 ? v1 : v2,
					strcmp(c2 + 1, "/") == 0 ? "" : c2 + 1);
			break;
		}
	}
	fclose(f);
	return err;
}
