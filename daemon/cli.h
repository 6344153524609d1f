/* cli.h — the subcommands of the host CLI `hvmeter`, one file each. */
#ifndef HV_DAEMON_CLI_H
#define HV_DAEMON_CLI_H

#include <stdbool.h>
#include <stdio.h>

/* Each returns the process exit code: 0 ok, 1 failure, 2 usage error. */
int cli_dump(int argc, char **argv);
int cli_status(int argc, char **argv);
int cli_verify(int argc, char **argv);
int cli_sensors(int argc, char **argv);
int cli_top(int argc, char **argv);

/*
 * What `hvmeter status` prints for the open store @st (@dir names it), the
 * VMs' table sorted by CPU when @vms_by_cpu (`hvmeter top`). Returns 0 or
 * -errno (store_strerror() says what).
 */
struct store;
int status_print(struct store *st, const char *dir, bool vms_by_cpu, FILE *out);

#endif
