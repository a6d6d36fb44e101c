/* The sections of the report page, each written from the loaded runs.
 * Internal to src/report. */
#ifndef LMN_REPORT_SECTIONS_H
#define LMN_REPORT_SECTIONS_H

#include <stdio.h>

#include "report/run.h"

void report_write_curves(FILE *out, const report_run *runs, int count);
void report_write_throughput(FILE *out, const report_run *runs, int count);
void report_write_sync_plans(FILE *out, const report_run *runs, int count);
void report_write_intervals(FILE *out, const report_run *runs, int count);
void report_write_configs(FILE *out, const report_run *runs, int count);

#endif
