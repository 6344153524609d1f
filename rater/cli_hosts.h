/*
 * cli_hosts.h — read-only views of the rater's store for operators and
 * tests. Each opens the store read-only (it may run beside `hvrater serve`)
 * and returns the process exit code: 0 ok, 1 failure, 2 bad usage.
 *
 *   hvrater hosts  (-c FILE | --store DIR) [--format table|csv]
 *       every host: last seen, last sequence, chain head, lag
 *   hvrater totals (-c FILE | --store DIR) [--host ID] [--from T] [--to T] [--periods]
 *       CSV of stored usage per host, resource, metric and labels
 */
#ifndef HV_RATER_CLI_HOSTS_H
#define HV_RATER_CLI_HOSTS_H

int rater_cmd_hosts(int argc, char **argv);
int rater_cmd_totals(int argc, char **argv);

#endif
