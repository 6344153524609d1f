/* cli.h — the subcommands of the host CLI `hvmeter`, one file each. */
#ifndef HV_DAEMON_CLI_H
#define HV_DAEMON_CLI_H

/* Each returns the process exit code: 0 ok, 1 failure, 2 usage error. */
int cli_dump(int argc, char **argv);
int cli_status(int argc, char **argv);
int cli_verify(int argc, char **argv);
int cli_sensors(int argc, char **argv);

#endif
