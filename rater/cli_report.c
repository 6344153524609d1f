/* hvrater report — rated usage from the rater's store (rater/report.h). */
#include "rater/cli_report.h"
#include "rater/metrics_map.h"
#include "rater/rater_config.h"
#include "rater/report.h"
#include "rater/report_out.h"
#include "rater/rstore.h"
#include "rater/rules.h"
#include "wire/timefmt.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EXIT_USAGE 2

enum report_format { RF_TABLE, RF_CSV, RF_JSON };

static void usage_report(FILE *f)
{
	fputs("Usage: hvrater report -c FILE [--from T] [--to T] [--project ID]\n"
	      "                      [--format table|csv|json] [--rules FILE] [--metrics FILE]\n"
	      "                      [--open] [--now T] [--store DIR] [-v]\n"
	      "Rated usage from the rater's store: one record per period, project, resource\n"
	      "and service, its quantity converted by the metrics file and priced by the\n"
	      "hashmap rules (rater/METRICS.md, rater/RATING-RULES.md).\n"
	      "\n"
	      "  -c, --config FILE   hvrater.conf: the store, the period's close_wait and, in\n"
	      "                      [rating], the rules and metrics files\n"
	      "  -F, --from T        periods that begin at or after T (default: the first)\n"
	      "  -T, --to T          ... and before T (default: now)\n"
	      "                      T: RFC 3339 (2026-11-25T10:00:00Z), a date, or epoch\n"
	      "                      seconds (1795600800 or @1795600800)\n"
	      "  -p, --project ID    only this project's records\n"
	      "  -f, --format FMT    table (default): per project and VM, then totals;\n"
	      "                      csv: begin,end,closed,type,project,resource,qty,unit,price,\n"
	      "                      metadata; json: an array of CloudKitty-style records\n"
	      "  -r, --rules FILE    hashmap rules (default: [rating] rules)\n"
	      "  -m, --metrics FILE  metrics file (default: [rating] metrics)\n"
	      "  -o, --open          also periods not closed yet (marked: closed=false, '*')\n"
	      "  -n, --now T         decide what is closed as if the time were T\n"
	      "  -s, --store DIR     the store directory (default: [rater] store)\n"
	      "  -v, --verbose       report records priced with a non-numeric threshold field\n"
	      "  -h, --help          show this help\n"
	      "\n"
	      "A period is closed once every host has sent frames up to its end, or has been\n"
	      "silent for close_wait (default 2 periods). Exit status: 0 success, 1 bad\n"
	      "configuration, rules, metrics or store, 2 bad usage.\n",
	      f);
}

/* RFC 3339, a date, @SECONDS or plain epoch seconds, to seconds (rounded up: a bound). */
static int time_arg(const char *s, int64_t *out_s)
{
	int64_t ns;
	char *end;
	long long v;

	if (isdigit((unsigned char)*s) && strchr(s, '-') == NULL) {
		errno = 0;
		v = strtoll(s, &end, 10);
		if (errno || *end)
			return -EINVAL;
		*out_s = v;
		return 0;
	}
	if (rfc3339_parse(s, &ns))
		return -EINVAL;
	*out_s = ns / 1000000000 + (ns % 1000000000 > 0);
	return 0;
}

static void debug_log(void *arg, const char *msg)
{
	(void)arg;
	fprintf(stderr, "hvrater report: %s\n", msg);
}

int rater_cmd_report(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' }, { "from", required_argument, NULL, 'F' },
		{ "to", required_argument, NULL, 'T' },     { "project", required_argument, NULL, 'p' },
		{ "format", required_argument, NULL, 'f' }, { "rules", required_argument, NULL, 'r' },
		{ "metrics", required_argument, NULL, 'm' }, { "open", no_argument, NULL, 'o' },
		{ "now", required_argument, NULL, 'n' },    { "store", required_argument, NULL, 's' },
		{ "verbose", no_argument, NULL, 'v' },      { "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *config = NULL, *rules_path = NULL, *metrics_path = NULL, *store = NULL;
	struct report_opts o = { .from_s = INT64_MIN, .to_s = INT64_MAX };
	struct rstore_opts ro = { .read_only = true };
	struct rating_log log = { .debug = debug_log };
	enum report_format format = RF_TABLE;
	struct metrics_map *map = NULL;
	struct rules *rules = NULL;
	struct report *rep = NULL;
	struct rstore *rs = NULL;
	struct rater_config cfg;
	char msg[RATER_ERR_MAX + 512];
	bool verbose = false, now_given = false, to_given = false;
	int opt, err, status = EXIT_FAILURE;
	struct timespec ts;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "c:F:T:p:f:r:m:on:s:vh", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': config = optarg; break;
		case 'F':
		case 'T':
		case 'n': {
			int64_t t;

			if (time_arg(optarg, &t)) {
				fprintf(stderr, "hvrater report: not a time: '%s' (RFC 3339, a date or epoch "
					"seconds)\n", optarg);
				return EXIT_USAGE;
			}
			if (opt == 'F') {
				o.from_s = t;
			} else if (opt == 'T') {
				o.to_s = t;
				to_given = true;
			} else {
				o.now_ns = t * 1000000000;
				now_given = true;
			}
			break;
		}
		case 'p': o.project = optarg; break;
		case 'f':
			if (strcmp(optarg, "table") == 0) {
				format = RF_TABLE;
			} else if (strcmp(optarg, "csv") == 0) {
				format = RF_CSV;
			} else if (strcmp(optarg, "json") == 0) {
				format = RF_JSON;
			} else {
				fprintf(stderr, "hvrater report: unknown format '%s' (table, csv or json)\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		case 'r': rules_path = optarg; break;
		case 'm': metrics_path = optarg; break;
		case 'o': o.include_open = true; break;
		case 's': store = optarg; break;
		case 'v': verbose = true; break;
		case 'h': usage_report(stdout); return EXIT_SUCCESS;
		default: usage_report(stderr); return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "hvrater report: unexpected argument '%s'\n", argv[optind]);
		usage_report(stderr);
		return EXIT_USAGE;
	}
	if (!config) {
		fprintf(stderr, "hvrater report: -c FILE is required (the rater's configuration)\n");
		usage_report(stderr);
		return EXIT_USAGE;
	}
	if (rater_config_load(&cfg, config, msg)) {
		fprintf(stderr, "hvrater report: %s\n", msg);
		return EXIT_FAILURE;
	}
	if (!now_given) {
		clock_gettime(CLOCK_REALTIME, &ts);
		o.now_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	}
	if (!to_given)
		o.to_s = o.now_ns / 1000000000 + 1; /* periods beginning up to now */
	if (!rules_path)
		rules_path = cfg.rules[0] ? cfg.rules : NULL;
	if (!metrics_path)
		metrics_path = cfg.metrics[0] ? cfg.metrics : NULL;
	if (!rules_path || !metrics_path) {
		fprintf(stderr, "hvrater report: no %s file: give %s or set [rating] %s in %s\n",
			!metrics_path ? "metrics" : "rules", !metrics_path ? "--metrics" : "--rules",
			!metrics_path ? "metrics" : "rules", config);
		return EXIT_FAILURE;
	}
	if ((err = metrics_map_load_file(metrics_path, &map, msg, sizeof(msg)))) {
		fprintf(stderr, "hvrater report: %s: %s\n", metrics_path, msg);
		goto cleanup;
	}
	if ((err = rules_load_file(rules_path, &rules, msg, sizeof(msg)))) {
		fprintf(stderr, "hvrater report: %s: %s\n", rules_path, msg);
		goto cleanup;
	}
	if (!store)
		store = cfg.store;
	if ((err = rstore_open(&rs, store, &ro))) {
		fprintf(stderr, "hvrater report: cannot open store %s: %s\n", store,
			err == -ENOENT ? "no rater store there (nothing received yet?)" : rstore_strerror(err));
		goto cleanup;
	}
	/* "N periods" are the store's periods: the one usage was summed in */
	o.close_wait_s = cfg.close_wait_periods ? (int64_t)cfg.close_wait * rstore_period(rs)
						: (int64_t)cfg.close_wait;
	err = report_build(rs, map, rules, &o, verbose ? &log : NULL, &rep, msg, sizeof(msg));
	if (err) {
		fprintf(stderr, "hvrater report: %s\n", msg);
		goto cleanup;
	}
	/* everything is rated before anything is printed: an error leaves no partial output */
	if (format == RF_CSV)
		err = report_write_csv(stdout, rep);
	else if (format == RF_JSON)
		err = report_write_json(stdout, rep);
	else
		err = report_write_table(stdout, rep, o.from_s, to_given ? o.to_s : INT64_MAX,
					 o.include_open);
	if ((fflush(stdout) == EOF || ferror(stdout)) && !err)
		err = -EIO;
	if (err) {
		fprintf(stderr, "hvrater report: writing the output: %s\n", strerror(-err));
		goto cleanup;
	}
	status = EXIT_SUCCESS;
cleanup:
	report_free(rep);
	rstore_close(rs);
	rules_free(rules);
	metrics_map_free(map);
	return status;
}
