/*
 * hvmeter status / verify — what the agent uses and whether the ledger holds.
 * status_print() is shared with `hvmeter top`, which redraws it.
 */
#include "daemon/cli.h"
#include "daemon/config.h"
#include "store/store.h"
#include "wire/frame.h"
#include "wire/timefmt.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
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

static void frame_line(struct store *st, const char *label, uint64_t seq, FILE *out)
{
	char t0[RFC3339_LEN], t1[RFC3339_LEN];
	struct frame f;

	frame_init(&f);
	if (store_frame_read(st, seq, &f) == 0) {
		rfc3339_format(f.start_ns, t0, sizeof(t0));
		rfc3339_format(f.end_ns, t1, sizeof(t1));
		fprintf(out, "%-14s seq %" PRIu64 " [%s, %s) %zu deltas, %zu announcements", label, f.seq,
			t0, t1, f.n_delta, f.n_res);
		if (f.flags & FRAME_MERGED)
			fprintf(out, ", merged from %u frames", f.merged);
		fputc('\n', out);
	}
	frame_free(&f);
}

/* One "vm=" line of the agent's status text (sampler.c writes them). */
struct vm_line {
	char uuid[40], state[16], name[128];
	double cpu, rd, wr, tx, rx;
	unsigned taps_on, taps;
};

static bool vm_line_parse(const char *line, size_t n, struct vm_line *v)
{
	char buf[512];
	int name_at = -1, run = 0;

	if (n >= sizeof(buf) || strncmp(line, "vm=", 3))
		return false;
	memcpy(buf, line, n);
	buf[n] = '\0';
	if (sscanf(buf, "vm=%39s cpu=%lf rd=%lf wr=%lf tx=%lf rx=%lf taps=%u/%u run=%d name=%n",
		   v->uuid, &v->cpu, &v->rd, &v->wr, &v->tx, &v->rx, &v->taps_on, &v->taps, &run,
		   &name_at) != 9 || name_at < 0)
		return false;
	snprintf(v->state, sizeof(v->state), "%s", run ? "running" : "stopped");
	snprintf(v->name, sizeof(v->name), "%s", buf + name_at);
	return true;
}

static int by_cpu_desc(const void *a, const void *b)
{
	const struct vm_line *x = a, *y = b;

	return (x->cpu < y->cpu) - (x->cpu > y->cpu);
}

static const char *rate(double bps, char *buf, size_t len)
{
	char h[32];

	snprintf(buf, len, "%s/s", human((uint64_t)(bps + 0.5), h, sizeof(h)));
	return buf;
}

/* The VMs of the last frame as a table; the busiest first when @by_cpu. */
static void vm_table(const char *status, bool by_cpu, FILE *out)
{
	struct vm_line *v = NULL;
	size_t n = 0, cap = 0;
	const char *line = status, *span = strstr(status, "vms_frame_s="),
		   *more = strstr(status, "vms_not_shown=");

	while (*line) {
		size_t len = strcspn(line, "\n");

		if (n == cap) {
			struct vm_line *nv = realloc(v, (cap = cap ? 2 * cap : 16) * sizeof(*v));

			if (!nv)
				break;
			v = nv;
		}
		if (vm_line_parse(line, len, &v[n]))
			n++;
		line += len + (line[len] == '\n');
	}
	if (by_cpu && n)
		qsort(v, n, sizeof(*v), by_cpu_desc);
	fprintf(out, "vms:           %zu in the last frame (%.1f s), rates over it\n", n,
		span ? strtod(span + 12, NULL) : 0.0);
	if (n)
		fprintf(out, "  %-24s %6s %12s %12s %12s %12s %5s %-8s %s\n", "NAME", "CPU%", "DISK RD",
			"DISK WR", "NET TX", "NET RX", "TAPS", "STATE", "UUID");
	for (size_t i = 0; i < n; i++) {
		char a[32], b[32], c[32], d[32], taps[16];

		snprintf(taps, sizeof(taps), "%u/%u", v[i].taps_on, v[i].taps);
		fprintf(out, "  %-24.24s %6.1f %12s %12s %12s %12s %5s %-8s %s\n", v[i].name, v[i].cpu,
			rate(v[i].rd, a, sizeof(a)), rate(v[i].wr, b, sizeof(b)),
			rate(v[i].tx, c, sizeof(c)), rate(v[i].rx, d, sizeof(d)), taps, v[i].state,
			v[i].uuid);
	}
	if (more)
		fprintf(out, "  ... and %lu more (the status text is full)\n", strtoul(more + 14, NULL, 10));
	free(v);
}

int status_print(struct store *st, const char *dir, bool vms_by_cpu, FILE *out)
{
	struct store_meta *m = malloc(sizeof(*m));
	struct store_ring r;
	char hex[2 * HV_HASH_LEN + 1], a[32], b[32], c[32];
	const char *line;
	int err;

	if (!m)
		return -ENOMEM;
	if ((err = store_meta_read(st, m)) || (err = store_ring_read(st, &r)))
		goto out;
	frame_hash_hex(m->chain_head, hex);
	fprintf(out, "host:          %s\n", m->host_id);
	fprintf(out, "store:         %s\n", dir);
	fprintf(out, "ring:          %s used of %s (%.1f %%), file %s\n",
		human(r.used_bytes, a, sizeof(a)), human(r.map_bytes, b, sizeof(b)),
		r.map_bytes ? 100.0 * (double)r.used_bytes / (double)r.map_bytes : 0.0,
		human(r.file_bytes, c, sizeof(c)));
	/* the filesystem may hold less than the map: then it is the ring's bound */
	if (r.capacity_bytes < r.map_bytes && r.fs_avail_bytes < 64 * r.page_size)
		fprintf(out, "filesystem:    %s free: FULL; the ring keeps to its file (%s) until space "
			"returns\n", human(r.fs_avail_bytes, a, sizeof(a)),
			human(r.file_bytes, b, sizeof(b)));
	else if (r.capacity_bytes < r.map_bytes)
		fprintf(out, "filesystem:    %s free: the ring can reach %s, less than its map\n",
			human(r.fs_avail_bytes, a, sizeof(a)), human(r.capacity_bytes, b, sizeof(b)));
	else
		fprintf(out, "filesystem:    %s free\n", human(r.fs_avail_bytes, a, sizeof(a)));
	if (r.n_frames)
		fprintf(out, "frames:        %" PRIu64 " kept (seq %" PRIu64 "..%" PRIu64 "), %" PRIu64
			" merged\n", r.n_frames, r.oldest_seq, m->next_seq - 1, m->merged_frames);
	else
		fprintf(out, "frames:        none yet\n");
	if (r.n_frames) {
		frame_line(st, "oldest frame:", r.oldest_seq, out);
		/* the newest frame: "last frame" is what scripts look for */
		frame_line(st, "last frame:", r.newest_seq, out);
	}
	fprintf(out, "chain head:    %s\n", hex);
	fprintf(out, "acknowledged:  up to seq %" PRIu64 " (%" PRIu64 " not yet, in %" PRIu64 " frames)",
		m->ack_seq, m->next_seq - 1 - m->ack_seq, r.n_unacked);
	if (m->sent_seq > m->ack_seq)
		fprintf(out, ", sent up to seq %" PRIu64, m->sent_seq);
	fputc('\n', out);
	duration_format(m->retention_s, a, sizeof(a)); /* as the config file spells it */
	fprintf(out, "merged:        %" PRIu64 " original frames merged into others, %" PRIu64
		" compactions\n", m->merged_frames, m->compactions);
	fprintf(out, "pruned:        %" PRIu64 " acknowledged frames after the retention%s%s%s, %" PRIu64
		" before it (ring full)\n", m->pruned_frames, m->retention_s ? " (" : "",
		m->retention_s ? a : "", m->retention_s ? ")" : "", m->pruned_early);
	/* the agent's own words about its sources, one "key=value" per line; the
	 * per-VM lines become a table below */
	line = m->status;
	fprintf(out, "sources:\n");
	while (*line) {
		size_t n = strcspn(line, "\n");

		if (strncmp(line, "vm=", 3) && strncmp(line, "vms_frame_s=", 12) &&
		    strncmp(line, "vms_not_shown=", 14))
			fprintf(out, "  %.*s\n", (int)n, line);
		line += n + (line[n] == '\n');
	}
	if (strstr(m->status, "vms_frame_s="))
		vm_table(m->status, vms_by_cpu, out);
	if (ferror(out))
		err = -EIO;
out:
	free(m);
	return err;
}

int cli_status(int argc, char **argv)
{
	const char *dir = store_arg(argc, argv, "status");
	struct store *st = NULL;
	int err;

	if (!dir)
		return 2;
	if (open_ro(dir, "status", &st))
		return 1;
	err = status_print(st, dir, false, stdout);
	if (err)
		fprintf(stderr, "hvmeter status: %s\n", store_strerror(err));
	store_close(st);
	return err ? 1 : 0;
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
