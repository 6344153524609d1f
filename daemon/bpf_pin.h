/*
 * bpf_pin.h — what the loaders of bpf/NAME.bpf.c (cpu_bpf.c, disk_bpf.c,
 * net_bpf.c) share: one bpffs pin directory, locking it while a loader
 * decides, deciding whether pinned objects can be reused, and epochs.
 *
 * Reuse rule, the same for every loader: a pinned program is reused only if
 * it has the tag of the program the loader just built from its own object
 * (the tag hashes the instructions with map references blanked, so it
 * changes with any code change and nothing else), and a pinned map only if
 * it has the type and sizes the loader asks for and, where the program
 * references it, is one of that program's maps. A version number kept in a
 * pinned map would depend on someone remembering to bump it.
 *
 * Library code: logs nothing, never exits. Every function returns 0 (or the
 * documented count/flag) or -errno; fds it returns are close-on-exec.
 */
#ifndef HV_DAEMON_BPF_PIN_H
#define HV_DAEMON_BPF_PIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

/* The pin directory all loaders share unless told otherwise. */
#define BPF_PIN_DIR "/sys/fs/bpf/hvmeter"
/* At most this many of a program's map ids are looked at. */
#define BPF_PIN_PROG_MAPS_MAX 16

/* What a pinned map must be to be reused. */
struct bpf_pin_map_spec {
	const char *name;          /* pin name in the directory */
	enum bpf_map_type type;
	uint32_t key_size;
	uint32_t value_size;
	uint32_t max_entries;
};

/* "@dir/@name" into @buf; -ENAMETOOLONG rather than a silently cut path. */
int bpf_pin_path(char *buf, size_t len, const char *dir, const char *name);

/*
 * Makes @dir exist on bpffs (mode 0700, mounting bpffs on /sys/fs/bpf first
 * if @dir lies below it and nothing is mounted there), opens it and takes an
 * exclusive flock on it; retries if the directory was replaced while we
 * waited (a concurrent unpin removed it). Returns the locked fd (close it to
 * unlock) or -EINVAL (not absolute, not on bpffs) / -errno.
 */
int bpf_pin_dir_lock(const char *dir);

/* Unlinks @names from @dir; missing ones are fine. */
int bpf_pin_remove(const char *dir, const char *const *names, size_t n);

/*
 * Locks @dir, unlinks @names and removes the directory if it is then empty
 * (other loaders' pins keep it). Returns 0, also if nothing was there.
 */
int bpf_pin_unpin(const char *dir, const char *const *names, size_t n);

/*
 * Opens the pin @dir/@name if it is a BPF object of @kind ("bpf-map",
 * "bpf-link", "bpf-prog"). Returns 1 with *@fd set, 0 if nothing usable is
 * pinned there (missing, or another kind of object), or -errno.
 */
int bpf_pin_get(const char *dir, const char *name, const char *kind, int *fd);

/* bpf_obj_get_info_by_fd() as -errno. */
int bpf_pin_obj_info(int fd, void *info, uint32_t len);

/*
 * Program info of @fd with up to BPF_PIN_PROG_MAPS_MAX of its map ids in
 * @map_ids (may be NULL) and their number in *@nmaps (may be NULL).
 */
int bpf_pin_prog_info(int fd, struct bpf_prog_info *info, uint32_t *map_ids,
		      uint32_t *nmaps);

/* Same program type and tag: the same instructions. */
bool bpf_pin_prog_same(const struct bpf_prog_info *a, const struct bpf_prog_info *b);

/*
 * Does map @map_fd match @spec, and, if @map_ids is not NULL, is it one of
 * those @nmaps maps (a program's)? Returns 1, 0 or -errno.
 */
int bpf_pin_map_matches(int map_fd, const struct bpf_pin_map_spec *spec,
			const uint32_t *map_ids, uint32_t nmaps);

/*
 * The common case of a program attached by a pinned link, with one pinned
 * counter map: takes @link_name and @map if the link's program is the same
 * as @fresh and uses @map. Returns 1 with the three fds set, 0 if nothing
 * reusable is pinned, or -errno.
 */
int bpf_pin_reuse_link(const char *dir, const char *link_name,
		       const struct bpf_pin_map_spec *map,
		       const struct bpf_prog_info *fresh,
		       int *link_fd, int *prog_fd, int *map_fd);

/*
 * The other half of that case: replaces whatever is pinned under
 * @link_name and @map_name by @prog, attached (bpf_program__attach()), and
 * @map. @before_attach (may be NULL) runs on the map fd first, e.g. to
 * insert keys the program expects. On success the three dup'd fds are set;
 * on failure nothing stays pinned or attached by us.
 */
int bpf_pin_attach_link(const char *dir, const char *link_name,
			const char *map_name, struct bpf_program *prog,
			struct bpf_map *map,
			int (*before_attach)(void *arg, int map_fd), void *arg,
			int *link_fd, int *prog_fd, int *map_fd);

/*
 * An epoch id for counters kept in @map_fd and written by @prog_fd: a hash
 * of the boot id, the map id and the program's load time, so it changes
 * whenever the counters restart from zero and stays when pins are reused.
 * Never 0.
 */
int bpf_pin_epoch(int map_fd, int prog_fd, uint64_t *epoch);

/* Cumulative run time and count of @prog_fd (bpf_prog_info run_time_ns,
 * run_cnt: they move only while BPF statistics are enabled). */
int bpf_pin_prog_stats(int prog_fd, uint64_t *run_ns, uint64_t *run_cnt);

/*
 * Can BPF be used here with the map types @types? -EOPNOTSUPP without
 * kernel BTF or one of the types, -EPERM without privilege, -ENOSYS without
 * bpf(). Probing first tells these apart, which a failed load does not.
 */
int bpf_pin_probe(const enum bpf_map_type *types, size_t n);

/* dup of @fd at >= 3 with close-on-exec, or -errno. */
int bpf_pin_dup(int fd);

#endif
