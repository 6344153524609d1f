/*
 * net_bpf.c — loader of bpf/net.bpf.c: pinning, reuse, tc attach/detach,
 * class tries, reading counters.
 *
 * No bpf_link exists for tc filters in libbpf 1.1 (no tcx): a filter holds
 * its program, so the programs themselves are pinned, beside the maps, and
 * the pinned programs' tags are what reuse is decided on.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf/net.h"
#include "daemon/bpf_pin.h"
#include "daemon/net_bpf.h"

/* The skeleton's struct is named after the object (net.bpf.o -> struct
 * net_bpf), our public handle: rename it in this file only. */
#define net_bpf net_skel
#include "bpf/net.skel.h"
#undef net_bpf

#define PIN_INGRESS "net_ingress"
#define PIN_EGRESS "net_egress"
#define PIN_STATS "net_stats"
#define PIN_CLASS4 "net_class4"
#define PIN_CLASS6 "net_class6"
#define PIN_NAMES "net_class_names"

/* Maps first, programs last: a program pin means the set is complete. */
static const char *const pin_names[] = { PIN_STATS, PIN_CLASS4, PIN_CLASS6, PIN_NAMES,
					 PIN_INGRESS, PIN_EGRESS };
#define N_PINS (sizeof(pin_names) / sizeof(pin_names[0]))
#define N_MAPS 4

enum { M_STATS, M_CLASS4, M_CLASS6, M_NAMES };

struct net_bpf {
	int prog_fd[2];       /* by NET_DIR_* */
	uint32_t prog_id[2];
	int map_fd[N_MAPS];
	int ncpus;
	struct net_count *percpu; /* lookup buffer: one value per possible CPU */
	uint32_t handle;
	uint16_t priority;
	uint64_t epoch;
	bool reused;
};

static void specs_fill(struct bpf_pin_map_spec *s, uint32_t max_entries)
{
	s[M_STATS] = (struct bpf_pin_map_spec){
		.name = PIN_STATS, .type = BPF_MAP_TYPE_PERCPU_HASH,
		.key_size = sizeof(struct net_key), .value_size = sizeof(struct net_count),
		.max_entries = max_entries,
	};
	s[M_CLASS4] = (struct bpf_pin_map_spec){
		.name = PIN_CLASS4, .type = BPF_MAP_TYPE_LPM_TRIE,
		.key_size = sizeof(struct net_lpm4), .value_size = sizeof(__u32),
		.max_entries = NET_CLASS_MAX_ENTRIES,
	};
	s[M_CLASS6] = (struct bpf_pin_map_spec){
		.name = PIN_CLASS6, .type = BPF_MAP_TYPE_LPM_TRIE,
		.key_size = sizeof(struct net_lpm6), .value_size = sizeof(__u32),
		.max_entries = NET_CLASS_MAX_ENTRIES,
	};
	s[M_NAMES] = (struct bpf_pin_map_spec){
		.name = PIN_NAMES, .type = BPF_MAP_TYPE_ARRAY,
		.key_size = sizeof(__u32), .value_size = sizeof(struct net_class_name),
		.max_entries = NET_CLASS_IDS,
	};
}

static void fds_close(struct net_bpf *n)
{
	for (int i = 0; i < 2; i++) {
		if (n->prog_fd[i] >= 0)
			close(n->prog_fd[i]);
		n->prog_fd[i] = -1;
	}
	for (int i = 0; i < N_MAPS; i++) {
		if (n->map_fd[i] >= 0)
			close(n->map_fd[i]);
		n->map_fd[i] = -1;
	}
}

/*
 * Takes the pinned programs and maps if both programs are the same as
 * @fresh and the maps match @specs (the counters and tries being maps of
 * both programs). Returns 1 (fds in @n), 0 (nothing reusable) or -errno.
 */
static int pins_reuse(struct net_bpf *n, const char *dir, const struct bpf_prog_info *fresh,
		      const struct bpf_pin_map_spec *specs)
{
	static const char *const prog_pins[2] = { PIN_INGRESS, PIN_EGRESS };
	uint32_t map_ids[2][BPF_PIN_PROG_MAPS_MAX] = { { 0 } }, nmaps[2] = { 0, 0 };
	struct bpf_prog_info info;
	int ret;

	for (int i = 0; i < 2; i++) {
		ret = bpf_pin_get(dir, prog_pins[i], "bpf-prog", &n->prog_fd[i]);
		if (ret <= 0)
			goto cleanup;
		ret = bpf_pin_prog_info(n->prog_fd[i], &info, map_ids[i], &nmaps[i]);
		if (ret)
			goto cleanup;
		if (!bpf_pin_prog_same(&info, &fresh[i]))
			goto cleanup; /* ret == 0: another program */
	}
	for (int m = 0; m < N_MAPS; m++) {
		ret = bpf_pin_get(dir, specs[m].name, "bpf-map", &n->map_fd[m]);
		if (ret <= 0)
			goto cleanup;
		for (int i = 0; i < 2; i++) {
			/* The names are the programs' neighbours, not their map. */
			ret = bpf_pin_map_matches(n->map_fd[m], &specs[m],
						  m == M_NAMES ? NULL : map_ids[i], nmaps[i]);
			if (ret <= 0)
				goto cleanup;
		}
	}
	return 1;
cleanup:
	fds_close(n);
	return ret;
}

/* Makes sure the lost counters exist (before the programs run, and on
 * reuse); -E2BIG: the map is full. */
static int lost_keys_insert(struct net_bpf *n)
{
	int err;

	memset(n->percpu, 0, (size_t)n->ncpus * sizeof(*n->percpu));
	for (uint8_t dir = 0; dir < 2; dir++) {
		struct net_key key = { .ifindex = 0, .dir = dir, .class_id = NET_CLASS_LOST };

		err = bpf_map_update_elem(n->map_fd[M_STATS], &key, n->percpu, BPF_NOEXIST);
		if (err && err != -EEXIST)
			return err;
	}
	return 0;
}

/* Pins the freshly loaded maps and programs of @skel; fds go to @n. */
static int pins_fresh(struct net_bpf *n, struct net_skel *skel, const char *dir)
{
	struct bpf_map *maps[N_MAPS] = { skel->maps.net_stats, skel->maps.net_class4,
					 skel->maps.net_class6, skel->maps.net_class_names };
	struct bpf_program *progs[2] = { skel->progs.net_ingress, skel->progs.net_egress };
	char path[PATH_MAX];
	bool pinned = false;
	int err;

	err = bpf_pin_remove(dir, pin_names, N_PINS);
	if (err)
		goto cleanup;
	for (int m = 0; m < N_MAPS; m++) {
		n->map_fd[m] = bpf_pin_dup(bpf_map__fd(maps[m]));
		if (n->map_fd[m] < 0) {
			err = n->map_fd[m];
			goto cleanup;
		}
	}
	for (int i = 0; i < 2; i++) {
		n->prog_fd[i] = bpf_pin_dup(bpf_program__fd(progs[i]));
		if (n->prog_fd[i] < 0) {
			err = n->prog_fd[i];
			goto cleanup;
		}
	}
	err = lost_keys_insert(n);
	if (err)
		goto cleanup;
	pinned = true;
	for (size_t i = 0; i < N_PINS; i++) {
		int fd = i < N_MAPS ? n->map_fd[i] : n->prog_fd[i - N_MAPS];

		err = bpf_pin_path(path, sizeof(path), dir, pin_names[i]);
		if (err)
			goto cleanup;
		err = bpf_obj_pin(fd, path);
		if (err)
			goto cleanup;
	}
cleanup:
	if (err && pinned)
		bpf_pin_remove(dir, pin_names, N_PINS);
	return err;
}

int net_bpf_open_opts(struct net_bpf **out, const struct net_bpf_opts *opts)
{
	const char *dir = opts && opts->pin_dir ? opts->pin_dir : NET_BPF_PIN_DIR;
	uint32_t max_entries = opts && opts->max_entries ? opts->max_entries : NET_STATS_MAX_ENTRIES;
	static const enum bpf_map_type types[] = { BPF_MAP_TYPE_PERCPU_HASH,
						   BPF_MAP_TYPE_LPM_TRIE, BPF_MAP_TYPE_ARRAY };
	struct bpf_pin_map_spec specs[N_MAPS];
	struct bpf_prog_info fresh[2];
	struct net_skel *skel = NULL;
	struct net_bpf *n = NULL;
	int lock_fd = -1;
	int err;

	*out = NULL;
	if (max_entries < 3 || strlen(dir) >= PATH_MAX - 32)
		return -EINVAL;
	err = bpf_pin_probe(types, sizeof(types) / sizeof(types[0]));
	if (err)
		goto cleanup;
	if (libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_SCHED_CLS, NULL) != 1) {
		err = -EOPNOTSUPP;
		goto cleanup;
	}
	specs_fill(specs, max_entries);
	n = calloc(1, sizeof(*n));
	if (!n) {
		err = -ENOMEM;
		goto cleanup;
	}
	n->prog_fd[0] = n->prog_fd[1] = -1;
	for (int m = 0; m < N_MAPS; m++)
		n->map_fd[m] = -1;
	n->handle = opts && opts->tc_handle ? opts->tc_handle : NET_BPF_TC_HANDLE;
	n->priority = opts && opts->tc_priority ? opts->tc_priority : NET_BPF_TC_PRIORITY;
	n->ncpus = libbpf_num_possible_cpus();
	if (n->ncpus <= 0) {
		err = n->ncpus < 0 ? n->ncpus : -EIO;
		goto cleanup;
	}
	n->percpu = calloc((size_t)n->ncpus, sizeof(*n->percpu));
	if (!n->percpu) {
		err = -ENOMEM;
		goto cleanup;
	}

	lock_fd = bpf_pin_dir_lock(dir);
	if (lock_fd < 0) {
		err = lock_fd;
		goto cleanup;
	}

	/* Load our programs even when reusing: their tags are the reference. */
	skel = net_bpf__open();
	if (!skel) {
		err = -errno;
		goto cleanup;
	}
	err = bpf_map__set_max_entries(skel->maps.net_stats, max_entries);
	if (err)
		goto cleanup;
	err = net_bpf__load(skel);
	if (err)
		goto cleanup;
	err = bpf_pin_prog_info(bpf_program__fd(skel->progs.net_ingress), &fresh[0], NULL, NULL);
	if (!err)
		err = bpf_pin_prog_info(bpf_program__fd(skel->progs.net_egress), &fresh[1], NULL, NULL);
	if (err)
		goto cleanup;

	err = pins_reuse(n, dir, fresh, specs);
	if (err < 0)
		goto cleanup;
	n->reused = err == 1;
	if (n->reused) {
		/* Normally present; -E2BIG: full map, losses are not kept. */
		err = lost_keys_insert(n);
		if (err == -E2BIG)
			err = 0;
	} else {
		err = pins_fresh(n, skel, dir);
	}
	if (err)
		goto cleanup;
	for (int i = 0; i < 2; i++) {
		struct bpf_prog_info info;

		err = bpf_pin_prog_info(n->prog_fd[i], &info, NULL, NULL);
		if (err)
			goto cleanup;
		n->prog_id[i] = info.id;
	}
	err = bpf_pin_epoch(n->map_fd[M_STATS], n->prog_fd[NET_DIR_INGRESS], &n->epoch);
	if (err)
		goto cleanup;
	*out = n;
	n = NULL;
cleanup:
	/* Fresh programs that were not pinned are freed here. */
	net_bpf__destroy(skel);
	if (lock_fd >= 0)
		close(lock_fd);
	net_bpf_close(n);
	return err;
}

int net_bpf_open(struct net_bpf **out, const char *pin_dir)
{
	struct net_bpf_opts opts = { .pin_dir = pin_dir };

	return net_bpf_open_opts(out, &opts);
}

/* ---- tc ------------------------------------------------------------------- */

static enum bpf_tc_attach_point hook_point(int dir)
{
	return dir == NET_DIR_INGRESS ? BPF_TC_INGRESS : BPF_TC_EGRESS;
}

/* Our filter on one hook: 1 if it already runs our program, else put in
 * place (0). */
static int hook_attach(struct net_bpf *n, int ifindex, int dir)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = hook_point(dir));
	LIBBPF_OPTS(bpf_tc_opts, query, .handle = n->handle, .priority = n->priority);
	LIBBPF_OPTS(bpf_tc_opts, attach, .handle = n->handle, .priority = n->priority,
		    .prog_fd = n->prog_fd[dir], .flags = BPF_TC_F_REPLACE);
	int err;

	/* Any failure (no clsact, no filter chain yet: -EINVAL; no filter:
	 * -ENOENT; no device) means "not ours yet": attaching tells. */
	if (bpf_tc_query(&hook, &query) == 0 && query.prog_id == n->prog_id[dir])
		return 1;
	/* Creates clsact if missing; an existing one is kept as it is. */
	err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST)
		return err;
	/* Replace: an older program of ours gives way without a gap. */
	return bpf_tc_attach(&hook, &attach);
}

int net_bpf_attach(struct net_bpf *n, int ifindex, struct link_stats *at_attach)
{
	int in, eg, err;

	if (ifindex <= 0)
		return -EINVAL;
	in = hook_attach(n, ifindex, NET_DIR_INGRESS);
	if (in < 0)
		return in;
	eg = hook_attach(n, ifindex, NET_DIR_EGRESS);
	if (eg < 0)
		return eg;
	if (at_attach) {
		err = link_stats_get(ifindex, at_attach);
		if (err)
			return err;
	}
	return in == 1 && eg == 1 ? 1 : 0;
}

int net_bpf_detach(struct net_bpf *n, int ifindex)
{
	int ret = 0;

	if (ifindex <= 0)
		return -EINVAL;
	for (int dir = 0; dir < 2; dir++) {
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = hook_point(dir));
		/* Handle and priority only: the kernel deletes exactly that
		 * filter; the qdisc and other filters stay. */
		LIBBPF_OPTS(bpf_tc_opts, opts, .handle = n->handle, .priority = n->priority);
		int err = bpf_tc_detach(&hook, &opts);

		/* -ENOENT: no such filter; -EINVAL: no clsact or chain at all. */
		if (err && err != -ENOENT && err != -EINVAL && !ret)
			ret = err;
	}
	return ret;
}

/* ---- counters ------------------------------------------------------------- */

static int count_read(struct net_bpf *n, const struct net_key *key, uint64_t *bytes,
		      uint64_t *packets)
{
	uint64_t b = 0, p = 0;
	int err;

	err = bpf_map_lookup_elem(n->map_fd[M_STATS], key, n->percpu);
	if (err)
		return err;
	for (int i = 0; i < n->ncpus; i++) {
		b += n->percpu[i].bytes;
		p += n->percpu[i].packets;
	}
	*bytes = b;
	*packets = p;
	return 0;
}

int net_bpf_read(struct net_bpf *n, uint32_t ifindex, uint8_t dir, uint8_t class_id,
		 uint64_t *bytes, uint64_t *packets)
{
	struct net_key key = { .ifindex = ifindex, .dir = dir, .class_id = class_id };

	if (dir > NET_DIR_EGRESS || class_id == NET_CLASS_LOST)
		return -EINVAL;
	return count_read(n, &key, bytes, packets);
}

int net_bpf_lost(struct net_bpf *n, uint8_t dir, uint64_t *bytes, uint64_t *packets)
{
	struct net_key key = { .ifindex = 0, .dir = dir, .class_id = NET_CLASS_LOST };
	int err;

	if (dir > NET_DIR_EGRESS)
		return -EINVAL;
	err = count_read(n, &key, bytes, packets);
	if (err == -ENOENT) { /* could not be inserted: map was full at open */
		*bytes = *packets = 0;
		err = 0;
	}
	return err;
}

/*
 * Where a walk of net_stats starts: a key that cannot exist (dir is 0 or 1)
 * makes the kernel return the first key, as NULL does; valgrind takes a
 * NULL key for a bad pointer.
 */
static const struct net_key walk_start = { .ifindex = 0, .dir = 0xff };

static bool is_lost(const struct net_key *k)
{
	return k->ifindex == 0 && k->class_id == NET_CLASS_LOST;
}

int net_bpf_foreach(struct net_bpf *n, uint32_t ifindex, net_bpf_count_cb cb, void *arg)
{
	struct net_key key, next;
	const void *prev = &walk_start;
	int visited = 0, err;

	while ((err = bpf_map_get_next_key(n->map_fd[M_STATS], prev, &next)) == 0) {
		uint64_t bytes, packets;

		key = next;
		prev = &key;
		if (is_lost(&key) || (ifindex && key.ifindex != ifindex))
			continue;
		err = count_read(n, &key, &bytes, &packets);
		if (err == -ENOENT) /* forgotten meanwhile */
			continue;
		if (err)
			return err;
		visited++;
		err = cb(arg, key.ifindex, key.dir, key.class_id, bytes, packets);
		if (err)
			return err;
	}
	return err == -ENOENT ? visited : err;
}

int net_bpf_forget(struct net_bpf *n, uint32_t ifindex)
{
	struct net_key keys[2 * NET_CLASS_IDS], key, next;
	const void *prev = &walk_start;
	size_t nkeys = 0;
	int deleted = 0, err;

	if (ifindex == 0)
		return -EINVAL;
	/* Collect first: deleting while walking a hash restarts the walk.
	 * A device has at most 2 x 255 keys. */
	while ((err = bpf_map_get_next_key(n->map_fd[M_STATS], prev, &next)) == 0) {
		key = next;
		prev = &key;
		if (key.ifindex == ifindex && nkeys < sizeof(keys) / sizeof(keys[0]))
			keys[nkeys++] = key;
	}
	if (err != -ENOENT)
		return err;
	for (size_t i = 0; i < nkeys; i++) {
		err = bpf_map_delete_elem(n->map_fd[M_STATS], &keys[i]);
		if (err && err != -ENOENT)
			return err;
		deleted += err == 0;
	}
	return deleted;
}

uint64_t net_bpf_epoch(const struct net_bpf *n)
{
	return n->epoch;
}

int net_bpf_prog_stats(struct net_bpf *n, uint8_t dir, uint64_t *run_ns, uint64_t *run_cnt)
{
	if (dir > NET_DIR_EGRESS)
		return -EINVAL;
	return bpf_pin_prog_stats(n->prog_fd[dir], run_ns, run_cnt);
}

bool net_bpf_reused(const struct net_bpf *n)
{
	return n->reused;
}

/* ---- classes -------------------------------------------------------------- */

int net_bpf_class_ids(struct net_bpf *n, struct netclass_ids *out)
{
	struct net_class_name v;
	int err;

	memset(out, 0, sizeof(*out));
	_Static_assert(NETCLASS_NAME_MAX < NET_CLASS_NAME_SIZE, "class names fit the map");
	_Static_assert(NETCLASS_IDS == NET_CLASS_IDS && NETCLASS_ID_LOST == NET_CLASS_LOST &&
		       NETCLASS_ID_DEFAULT == NET_CLASS_DEFAULT, "class ids agree");
	for (__u32 id = 1; id <= NETCLASS_CLASSES_MAX; id++) {
		err = bpf_map_lookup_elem(n->map_fd[M_NAMES], &id, &v);
		if (err)
			return err;
		v.name[NETCLASS_NAME_MAX] = '\0';
		memcpy(out->name[id], v.name, sizeof(out->name[id]));
	}
	snprintf(out->name[NETCLASS_ID_DEFAULT], sizeof(out->name[0]), "default");
	return 0;
}

/* Records the names of @nc; -ESTALE (nothing written) if an id is known
 * under another name. */
static int names_update(struct net_bpf *n, const struct netclass *nc)
{
	struct netclass_ids cur;
	int err;

	err = net_bpf_class_ids(n, &cur);
	if (err)
		return err;
	for (int id = 1; id <= NETCLASS_CLASSES_MAX; id++)
		if (cur.name[id][0] && strcmp(cur.name[id], nc->ids.name[id]) != 0)
			return -ESTALE;
	for (__u32 id = 1; id <= NETCLASS_CLASSES_MAX; id++) {
		struct net_class_name v;

		if (cur.name[id][0] || !nc->ids.name[id][0])
			continue;
		memset(&v, 0, sizeof(v));
		memcpy(v.name, nc->ids.name[id], strnlen(nc->ids.name[id], NETCLASS_NAME_MAX));
		err = bpf_map_update_elem(n->map_fd[M_NAMES], &id, &v, BPF_ANY);
		if (err)
			return err;
	}
	return 0;
}

/* Orders as netclass sorts its prefixes (family, address, length). */
static int prefix_key_cmp(const void *a, const void *b)
{
	const struct netclass_prefix *x = a, *y = b;
	int c;

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	c = memcmp(x->addr, y->addr, sizeof(x->addr));
	if (c)
		return c;
	return x->len < y->len ? -1 : x->len > y->len;
}

static bool nc_has(const struct netclass *nc, uint8_t family, const uint8_t *addr, size_t alen,
		   uint32_t len)
{
	struct netclass_prefix p = { .family = family, .len = (uint8_t)len };

	if (len > alen * 8)
		return false;
	memcpy(p.addr, addr, alen);
	return bsearch(&p, nc->prefixes, nc->n_prefixes, sizeof(p), prefix_key_cmp) != NULL;
}

/*
 * Deletes the entries of trie @fd that @nc does not have. Keys are
 * collected before deleting: the trie's walk continues from a key, which
 * must still exist.
 */
static int trie_prune(int fd, const struct netclass *nc, uint8_t family)
{
	size_t ksize = family == 4 ? sizeof(struct net_lpm4) : sizeof(struct net_lpm6);
	size_t alen = ksize - sizeof(__u32), cap = 0, nstale = 0;
	unsigned char key[sizeof(struct net_lpm6)], next[sizeof(struct net_lpm6)];
	unsigned char *stale = NULL;
	const void *prev = key;
	int err;

	/* A prefix length no trie holds starts the walk at the first key (as
	 * NULL does, which valgrind takes for a bad pointer). */
	memset(key, 0, sizeof(key));
	memset(key, 0xff, sizeof(__u32));

	while ((err = bpf_map_get_next_key(fd, prev, next)) == 0) {
		__u32 plen;

		memcpy(key, next, ksize);
		prev = key;
		memcpy(&plen, key, sizeof(plen));
		if (nc_has(nc, family, key + sizeof(__u32), alen, plen))
			continue;
		if (nstale == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			unsigned char *v = realloc(stale, ncap * ksize);

			if (!v) {
				err = -ENOMEM;
				goto cleanup;
			}
			stale = v;
			cap = ncap;
		}
		memcpy(stale + nstale++ * ksize, key, ksize);
	}
	if (err != -ENOENT)
		goto cleanup;
	err = 0;
	for (size_t i = 0; i < nstale && !err; i++) {
		err = bpf_map_delete_elem(fd, stale + i * ksize);
		if (err == -ENOENT)
			err = 0;
	}
cleanup:
	free(stale);
	return err;
}

int net_bpf_set_classes(struct net_bpf *n, const struct netclass *nc)
{
	int err;

	err = names_update(n, nc);
	if (err)
		return err;
	/* Add and change first: a prefix in both files never goes missing. */
	for (size_t i = 0; i < nc->n_prefixes; i++) {
		const struct netclass_prefix *p = &nc->prefixes[i];
		__u32 cls = p->class_id;

		if (p->family == 4) {
			struct net_lpm4 k = { .prefixlen = p->len };

			memcpy(k.addr, p->addr, sizeof(k.addr));
			err = bpf_map_update_elem(n->map_fd[M_CLASS4], &k, &cls, BPF_ANY);
		} else {
			struct net_lpm6 k = { .prefixlen = p->len };

			memcpy(k.addr, p->addr, sizeof(k.addr));
			err = bpf_map_update_elem(n->map_fd[M_CLASS6], &k, &cls, BPF_ANY);
		}
		if (err)
			return err;
	}
	err = trie_prune(n->map_fd[M_CLASS4], nc, 4);
	if (!err)
		err = trie_prune(n->map_fd[M_CLASS6], nc, 6);
	return err;
}

void net_bpf_close(struct net_bpf *n)
{
	if (!n)
		return;
	fds_close(n);
	free(n->percpu);
	free(n);
}

int net_bpf_unpin(const char *pin_dir)
{
	return bpf_pin_unpin(pin_dir ? pin_dir : NET_BPF_PIN_DIR, pin_names, N_PINS);
}
