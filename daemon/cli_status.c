/* hvmeter status / verify — what the agent uses and whether the ledger holds. */
#include "daemon/cli.h"
#include "daemon/config.h"
#include "store/store.h"
#include "wire/frame.h"
#include "wire/timefmt.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char *store_arg(int argc, char **argv, const char *cmd)
{
	static const struct option opts[] = { { "store", required_argument, NULL, 's' }, { 0 } };
	const char *dir = NULL;
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt != 's')
			return NULL;
		dir = optarg;
	}
	if (!dir || optind != argc)
		fprintf(stderr, "usage: hvmeter %s --store DIR\n", cmd);
	return optind == argc ? dir : NULL;
}

static int open_ro(const char *dir, const char *cmd, struct store **st)
{
	struct store_opts so = { .read_only = true };
	int err = store_open(st, dir, &so);

	if (err)
		fprintf(stderr, "hvmeter %s: cannot open store %s: %s\n", cmd, dir, store_strerror(err));
	return err;
}

/* 1536 -> "1.5 KiB": sizes for people; the exact bytes are in dump --format lmdb */
static const char *human(uint64_t b, char *buf, size_t len)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)b;
	size_t u = 0;

	while (v >= 1024 && u + 1 < sizeof(unit) / sizeof(unit[0])) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%" PRIu64 " B", b);
	else
		snprintf(buf, len, "%.1f %s", v, unit[u]);
	return buf;
}

static void frame_line(struct store *st, const char *label, uint64_t seq)
{
	char t0[RFC3339_LEN], t1[RFC3339_LEN];
	struct frame f;

	frame_init(&f);
	if (store_frame_read(st, seq, &f) == 0) {
		rfc3339_format(f.start_ns, t0, sizeof(t0));
		rfc3339_format(f.end_ns, t1, sizeof(t1));
		printf("%-14s seq %" PRIu64 " [%s, %s) %zu deltas, %zu announcements", label, f.seq, t0, t1,
		       f.n_delta, f.n_res);
		if (f.flags & FRAME_MERGED)
			printf(", merged from %u frames", f.merged);
		putchar('\n');
	}
	frame_free(&f);
}

int cli_status(int argc, char **argv)
{
	const char *dir = store_arg(argc, argv, "status");
	struct store *st = NULL;
	struct store_meta m;
	struct store_ring r;
	char hex[2 * HV_HASH_LEN + 1], a[32], b[32], c[32];
	const char *line;
	int err, rc = 1;

	if (!dir)
		return 2;
	if (open_ro(dir, "status", &st))
		return 1;
	if ((err = store_meta_read(st, &m)) || (err = store_ring_read(st, &r))) {
		fprintf(stderr, "hvmeter status: %s\n", store_strerror(err));
		goto out;
	}
	frame_hash_hex(m.chain_head, hex);
	printf("host:          %s\n", m.host_id);
	printf("store:         %s\n", dir);
	printf("ring:          %s used of %s (%.1f %%), file %s\n", human(r.used_bytes, a, sizeof(a)),
	       human(r.map_bytes, b, sizeof(b)),
	       r.map_bytes ? 100.0 * (double)r.used_bytes / (double)r.map_bytes : 0.0,
	       human(r.file_bytes, c, sizeof(c)));
	/* the filesystem may hold less than the map: then it is the ring's bound */
	if (r.capacity_bytes < r.map_bytes && r.fs_avail_bytes < 64 * r.page_size)
		printf("filesystem:    %s free: FULL; the ring keeps to its file (%s) until space "
		       "returns\n", human(r.fs_avail_bytes, a, sizeof(a)),
		       human(r.file_bytes, b, sizeof(b)));
	else if (r.capacity_bytes < r.map_bytes)
		printf("filesystem:    %s free: the ring can reach %s, less than its map\n",
		       human(r.fs_avail_bytes, a, sizeof(a)), human(r.capacity_bytes, b, sizeof(b)));
	else
		printf("filesystem:    %s free\n", human(r.fs_avail_bytes, a, sizeof(a)));
	if (r.n_frames)
		printf("frames:        %" PRIu64 " kept (seq %" PRIu64 "..%" PRIu64 "), %" PRIu64
		       " merged\n", r.n_frames, r.oldest_seq, m.next_seq - 1, m.merged_frames);
	else
		printf("frames:        none yet\n");
	if (r.n_frames) {
		frame_line(st, "oldest frame:", r.oldest_seq);
		/* the newest frame: "last frame" is what scripts look for */
		frame_line(st, "last frame:", r.newest_seq);
	}
	printf("chain head:    %s\n", hex);
	printf("acknowledged:  up to seq %" PRIu64 " (%" PRIu64 " not yet, in %" PRIu64 " frames)",
	       m.ack_seq, m.next_seq - 1 - m.ack_seq, r.n_unacked);
	if (m.sent_seq > m.ack_seq)
		printf(", sent up to seq %" PRIu64, m.sent_seq);
	putchar('\n');
	duration_format(m.retention_s, a, sizeof(a)); /* as the config file spells it */
	printf("merged:        %" PRIu64 " original frames merged into others, %" PRIu64
	       " compactions\n", m.merged_frames, m.compactions);
	printf("pruned:        %" PRIu64 " acknowledged frames after the retention%s%s%s, %" PRIu64
	       " before it (ring full)\n", m.pruned_frames, m.retention_s ? " (" : "",
	       m.retention_s ? a : "", m.retention_s ? ")" : "", m.pruned_early);
	/* the agent's own words about its sources, one "key=value" per line */
	line = m.status;
	printf("sources:\n");
	while (*line) {
		size_t n = strcspn(line, "\n");

		printf("  %.*s\n", (int)n, line);
		line += n + (line[n] == '\n');
	}
	rc = 0;
out:
	store_close(st);
	return rc;
}

int cli_verify(int argc, char **argv)
{
	const char *dir = store_arg(argc, argv, "verify");
	struct store *st = NULL;
	uint64_t bad = 0, n = 0;
	struct store_meta m;
	char hex[2 * HV_HASH_LEN + 1];
	int err;

	if (!dir)
		return 2;
	if (open_ro(dir, "verify", &st))
		return 1;
	err = store_verify(st, &bad, &n);
	if (err == -EBADMSG && bad) {
		printf("FAILED: frame seq %" PRIu64 " does not match the chain (%" PRIu64
		       " frames before it verified)\n", bad, n);
		store_close(st);
		return 1;
	}
	if (err || (err = store_meta_read(st, &m))) {
		fprintf(stderr, "hvmeter verify: %s\n", store_strerror(err));
		store_close(st);
		return 1;
	}
	frame_hash_hex(m.chain_head, hex);
	printf("OK: %" PRIu64 " frames verified, chain head %s\n", n, hex);
	store_close(st);
	return 0;
}
