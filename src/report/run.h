/* One run directory as the report sees it: its metrics records (one per
 * epoch or round), its resolved configuration and its sync plan. Internal
 * to src/report. */
#ifndef LMN_REPORT_RUN_H
#define LMN_REPORT_RUN_H

#include <stdbool.h>
#include <stdio.h>

#include "core/status.h"
#include "io/config.h"

/* One metrics record; NAN where the record lacks the field (or has null). */
typedef struct report_point {
    double step; /* epoch or round */
    double elapsed_seconds;
    double cum_comm_bytes; /* cum_comm_bytes, else the running sum of comm_bytes */
    double test_acc, test_loss, test_mse, train_loss;
    double images_per_second, exposed_comm_seconds;
    char *relaxed_layers; /* FedLAMA: names joined by ',' (NULL if absent) */
} report_point;

typedef enum report_task { REPORT_TASK_UNKNOWN, REPORT_TASK_CLASSIFICATION, REPORT_TASK_REGRESSION } report_task;

typedef struct report_run {
    char *dir;
    char name[128];   /* the directory's last component */
    char label[512];  /* legend text: method and key settings */
    bool federated;   /* records by round */
    report_task task;
    report_point *points;
    int point_count;
    lmn_cfg *config;  /* NULL when config.yaml is missing or unreadable */
    char *sync_plan;  /* sync_plan.txt, NULL if absent */
} report_run;

/* Reads dir into run. Problems that leave something to draw (a truncated
 * line, a missing config) are reported on messages and the run is kept;
 * returns false only when nothing of the run can be drawn. */
bool report_run_load(const char *dir, report_run *run, FILE *messages);
void report_run_free(report_run *run);

/* The scalar text at a dotted config path, or NULL. */
const char *report_run_setting(const report_run *run, const char *path);

#endif
