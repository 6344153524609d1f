/*
 * report_out.h — `hvrater report` output: CSV, JSON and a table for people.
 *
 * CSV and JSON carry every record with quantities and prices in full
 * (decimal strings, no digit lost) and CloudKitty's v2 field names:
 *   CSV   begin,end,closed,type,project,resource,qty,unit,price,metadata
 *         (metadata as key=value;key=value, like the usage CSV)
 *   JSON  an array of {"begin", "end", "closed", "type", "unit", "qty",
 *         "price", "groupby": {"project", "resource"}, "metadata": {...}}
 * The table groups records by project and VM (names when the agent
 * announced them), rounds quantities and prices to REPORT_TABLE_DIGITS
 * significant digits, marks open periods with '*', then totals per project
 * and service, per project, and overall.
 *
 * Each writer returns 0 or -EIO / -ENOMEM; it prints nothing else.
 */
#ifndef HV_RATER_REPORT_OUT_H
#define HV_RATER_REPORT_OUT_H

#include <stdio.h>

#include "rater/report.h"

#define REPORT_TABLE_DIGITS 6

int report_write_csv(FILE *f, const struct report *r);
int report_write_json(FILE *f, const struct report *r);

/* @from_s/@to_s: the range asked for, for the heading; @include_open: --open given. */
int report_write_table(FILE *f, const struct report *r, int64_t from_s, int64_t to_s,
		       bool include_open);

/* "2026-11-25T10:00:00Z". Returns 0 or -EINVAL. */
int report_time_format(int64_t t_s, char *buf, size_t len);

#endif
