/*
 * bench_store — the cost of store_frame_commit() for a full host: R
 * resources x M metrics, one delta and one baseline per (resource, metric),
 * every frame changing every counter (the worst case: unchanged counters
 * cost nothing). Prints the median and tail of N commits after a warm-up,
 * and the split between building the frame and committing it.
 *
 * usage: bench_store [-r RESOURCES] [-m METRICS] [-n COMMITS] [-d DIR] [-s MAP_BYTES]
 * The store goes in DIR (default: a fresh directory under /var/tmp, the
 * same disk as /var/lib/hvmeter here) and is removed afterwards.
 */
#include "store/store.h"
#include "wire/frame.h"
#include "wire/metric.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int cmp_key(const void *a, const void *b)
{
	return strcmp(((const struct baseline *)a)->key, ((const struct baseline *)b)->key);
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_store [-r RESOURCES] [-m METRICS] [-n COMMITS] [-d DIR] [-s MAP_BYTES]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	size_t n_res = 200, n_met = 15, n = 500, warm = 20, n_all, k = 0;
	uint64_t map = 0;
	char dir[256] = "", cmd[300];
	const struct metric_def *defs;
	size_t n_defs;
	struct store_opts so = { .host_id = "bench" };
	struct store *st = NULL;
	struct baseline *b = NULL;
	double *t_commit = NULL, *t_build = NULL;
	uint64_t frame_bytes = 0;
	int opt, err, rc = 1;

	while ((opt = getopt(argc, argv, "r:m:n:d:s:")) != -1) {
		switch (opt) {
		case 'r': n_res = strtoul(optarg, NULL, 10); break;
		case 'm': n_met = strtoul(optarg, NULL, 10); break;
		case 'n': n = strtoul(optarg, NULL, 10); break;
		case 'd': snprintf(dir, sizeof(dir), "%s", optarg); break;
		case 's': map = strtoull(optarg, NULL, 10); break;
		default: usage();
		}
	}
	defs = metric_all(&n_defs);
	if (!n_res || !n_met || n_met > n_defs || !n)
		usage();
	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "/var/tmp/hvbench-store-XXXXXX");
		if (!mkdtemp(dir)) {
			perror("mkdtemp");
			return 1;
		}
	}
	so.max_bytes = map ? map : (uint64_t)n * n_res * n_met * 64 + (64ull << 20);
	if ((err = store_open(&st, dir, &so))) {
		fprintf(stderr, "store_open %s: %s\n", dir, store_strerror(err));
		goto out;
	}
	n_all = n_res * n_met;
	b = calloc(n_all, sizeof(*b));
	t_commit = calloc(n + warm, sizeof(*t_commit));
	t_build = calloc(n + warm, sizeof(*t_build));
	if (!b || !t_commit || !t_build)
		goto out;
	/* baselines in key order, as the sampler keeps them */
	for (size_t r = 0; r < n_res; r++)
		for (size_t m = 0; m < n_met; m++) {
			struct baseline *x = &b[k++];

			snprintf(x->resource, sizeof(x->resource), "%08zx-7d3c-4e1a-9b2f-%012zx", r, r * 7919);
			snprintf(x->metric, sizeof(x->metric), "%s", defs[m].name);
			snprintf(x->key, sizeof(x->key), "%s/%s", x->metric, x->resource);
			x->epoch = 42;
		}
	qsort(b, n_all, sizeof(*b), cmp_key);
	for (size_t i = 0; i < n + warm; i++) {
		struct frame f;
		double t0 = now_ms(), t1;

		frame_init(&f);
		f.start_ns = (int64_t)i * 10000000000;
		f.end_ns = f.start_ns + 10000000000;
		for (size_t j = 0; j < n_all; j++) {
			/* ns-sized CPU deltas, byte counts...: 4-5 byte varints */
			int64_t d = 1000000 + (int64_t)((j * 2654435761u + i * 40503u) % 9000000);

			b[j].value += (uint64_t)d;
			b[j].time_ns = f.end_ns;
			if (frame_delta_add(&f, b[j].resource, b[j].metric, "", d))
				goto out;
		}
		t1 = now_ms();
		err = store_frame_commit(st, &f, b, n_all, NULL, 0, "bench=1\n");
		t_commit[i] = now_ms() - t1;
		t_build[i] = t1 - t0;
		if (err) {
			fprintf(stderr, "commit %zu: %s\n", i, store_strerror(err));
			frame_free(&f);
			goto out;
		}
		if (i == 0) {
			uint8_t *bytes;
			size_t len;

			if (!frame_encode(&f, &bytes, &len)) {
				frame_bytes = len;
				free(bytes);
			}
		}
		frame_free(&f);
	}
	qsort(t_commit + warm, n, sizeof(double), cmp_double);
	qsort(t_build + warm, n, sizeof(double), cmp_double);
	printf("resources=%zu metrics=%zu deltas=%zu baselines=%zu frame_bytes=%" PRIu64
	       " commits=%zu dir=%s\n", n_res, n_met, n_all, n_all, frame_bytes, n, dir);
	printf("commit_ms median=%.3f p90=%.3f p99=%.3f max=%.3f\n", t_commit[warm + n / 2],
	       t_commit[warm + n * 9 / 10], t_commit[warm + n * 99 / 100], t_commit[warm + n - 1]);
	printf("build_ms  median=%.3f (frame_delta_add of every delta, not part of the commit)\n",
	       t_build[warm + n / 2]);
	rc = 0;
out:
	store_close(st);
	free(b);
	free(t_commit);
	free(t_build);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		rc = 1;
	return rc;
}
