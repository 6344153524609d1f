/* cli_report.h — `hvrater report`: rated usage from the store (rater/report.h). */
#ifndef HV_RATER_CLI_REPORT_H
#define HV_RATER_CLI_REPORT_H

/* Runs the command; returns the exit status (0, 1 failure, 2 bad usage). */
int rater_cmd_report(int argc, char **argv);

#endif
