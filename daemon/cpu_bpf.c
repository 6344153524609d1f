/*
 * cpu_bpf.c — loader of bpf/cpu.bpf.c: pinning, reuse, reading counters.
 *
 * Pins are reused under the rule of bpf_pin.h: the pinned link's program
 * must have the tag of the program we just loaded from our own object, and
 * the pinned counter map must be one that program uses, with the type and
 * sizes we ask for.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf/cpu.h"
#include "daemon/bpf_pin.h"
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

#define PIN_LINK "cpu_link"
#define PIN_MAP "cpu_ns"

static const char *const pin_names[] = { PIN_LINK, PIN_MAP };

struct cpu_bpf {
	int link_fd;
	int prog_fd;
	int map_fd;
	int ncpus;
	uint64_t *percpu; /* lookup buffer: one value per possible CPU */
	uint64_t epoch;
	bool reused;
};

/* Makes sure the lost-time counter exists (before attach, and on reuse). */
static int lost_key_insert(struct cpu_bpf *c, int map_fd)
{
	uint64_t key = CPU_KEY_LOST;
	int err;

	memset(c->percpu, 0, (size_t)c->ncpus * sizeof(uint64_t));
	err = bpf_map_update_elem(map_fd, &key, c->percpu, BPF_NOEXIST);
	return err == -EEXIST ? 0 : err;
}

static int before_attach(void *arg, int map_fd)
{
	return lost_key_insert(arg, map_fd);
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
	static const enum bpf_map_type types[] = { BPF_MAP_TYPE_PERCPU_HASH,
						   BPF_MAP_TYPE_TASK_STORAGE };
	struct bpf_pin_map_spec spec = {
		.name = PIN_MAP, .type = BPF_MAP_TYPE_PERCPU_HASH,
		.key_size = CPU_NS_KEY_SIZE, .value_size = CPU_NS_VALUE_SIZE,
		.max_entries = max_entries,
	};
	struct cpu_skel *skel = NULL;
	struct bpf_prog_info fresh;
	struct cpu_bpf *c = NULL;
	int lock_fd = -1;
	int err;

	*out = NULL;
	if (max_entries < 2 || strlen(dir) >= PATH_MAX - 16)
		return -EINVAL;
	err = bpf_pin_probe(types, sizeof(types) / sizeof(types[0]));
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

	lock_fd = bpf_pin_dir_lock(dir);
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
	err = bpf_pin_prog_info(bpf_program__fd(skel->progs.cpu_switch), &fresh, NULL, NULL);
	if (err)
		goto cleanup;

	err = bpf_pin_reuse_link(dir, PIN_LINK, &spec, &fresh, &c->link_fd, &c->prog_fd,
				 &c->map_fd);
	if (err < 0)
		goto cleanup;
	c->reused = err == 1;
	if (c->reused) {
		/* Normally present; -E2BIG: full map, lost time is not kept. */
		err = lost_key_insert(c, c->map_fd);
		if (err == -E2BIG)
			err = 0;
	} else {
		err = bpf_pin_attach_link(dir, PIN_LINK, PIN_MAP, skel->progs.cpu_switch,
					  skel->maps.cpu_ns, before_attach, c, &c->link_fd,
					  &c->prog_fd, &c->map_fd);
	}
	if (err)
		goto cleanup;
	err = bpf_pin_epoch(c->map_fd, c->prog_fd, &c->epoch);
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
	return bpf_pin_prog_stats(c->prog_fd, run_ns, run_cnt);
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
	return bpf_pin_unpin(pin_dir ? pin_dir : CPU_BPF_PIN_DIR, pin_names,
			     sizeof(pin_names) / sizeof(pin_names[0]));
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
