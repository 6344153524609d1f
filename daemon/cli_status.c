/* hvmeter status / verify — what the agent uses and whether the ledger holds. */
#include "daemon/cli.h"
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

int cli_status(int argc, char **argv)
{
	const char *dir = store_arg(argc, argv, "status");
	struct store *st = NULL;
	struct store_meta m;
	struct frame f;
	char hex[2 * HV_HASH_LEN + 1], t0[RFC3339_LEN], t1[RFC3339_LEN];
	const char *line;
	int err, rc = 1;

	if (!dir)
		return 2;
	if (open_ro(dir, "status", &st))
		return 1;
	frame_init(&f);
	if ((err = store_meta_read(st, &m))) {
		fprintf(stderr, "hvmeter status: %s\n", store_strerror(err));
		goto out;
	}
	frame_hash_hex(m.chain_head, hex);
	printf("host:          %s\n", m.host_id);
	printf("store:         %s\n", dir);
	if (m.n_frames)
		printf("frames:        %" PRIu64 " kept (seq %" PRIu64 "..%" PRIu64 "), %" PRIu64
		       " merged\n", m.n_frames, m.oldest_seq, m.next_seq - 1, m.merged_frames);
	else
		printf("frames:        none yet\n");
	printf("chain head:    %s\n", hex);
	printf("acknowledged:  up to seq %" PRIu64 " (%" PRIu64 " not yet)\n", m.ack_seq,
	       m.next_seq - 1 - m.ack_seq);
	if (m.n_frames && store_frame_read(st, m.next_seq - 1, &f) == 0) {
		rfc3339_format(f.start_ns, t0, sizeof(t0));
		rfc3339_format(f.end_ns, t1, sizeof(t1));
		printf("last frame:    seq %" PRIu64 " [%s, %s) %zu deltas, %zu announcements\n", f.seq,
		       t0, t1, f.n_delta, f.n_res);
	}
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
	frame_free(&f);
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
