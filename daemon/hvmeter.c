/* hvmeter — the host CLI: inspect and audit the local ledger. */
#include "daemon/cli.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
	fprintf(out,
		"usage: hvmeter COMMAND [OPTIONS]\n"
		"  status --store DIR                 sources and their health, ring, uplink, last\n"
		"                                     frame, per-VM rates of the last frame\n"
		"  top    --store DIR [-d SECONDS] [-n ITERATIONS]\n"
		"                                     status redrawn every SECONDS (2), busiest VM\n"
		"                                     first; q or Ctrl-C quits\n"
		"  dump   --store DIR [--from T] [--to T] [--resource ID] [--project ID]\n"
		"         [--metric NAME] [--format csv|json|jsonl]\n"
		"                                     print the stored deltas\n"
		"  dump   --store DIR --format lmdb   the raw databases, as mdb_dump -a (mdb_load)\n"
		"  verify --store DIR                 recompute the hash chain\n"
		"  sensors [-c hvmeterd.conf] [--format table|csv]\n"
		"                                     the BMC's readings and the sensor map matched\n"
		"  -V, --version                      print the version\n"
		"Times T are RFC 3339 (2026-11-25T10:00:00Z), a date, or @UNIX_SECONDS.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version")) {
		printf("hvmeter %s\n", HV_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "dump"))
		return cli_dump(argc - 1, argv + 1);
	if (!strcmp(argv[1], "status"))
		return cli_status(argc - 1, argv + 1);
	if (!strcmp(argv[1], "top"))
		return cli_top(argc - 1, argv + 1);
	if (!strcmp(argv[1], "verify"))
		return cli_verify(argc - 1, argv + 1);
	if (!strcmp(argv[1], "sensors"))
		return cli_sensors(argc - 1, argv + 1);
	fprintf(stderr, "hvmeter: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
