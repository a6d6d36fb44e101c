/* The curves: test accuracy and loss against epoch or round, elapsed
 * seconds and cumulative bytes; images/s and exposed communication per
 * epoch. Classification and regression runs never share an axis. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "report/chart.h"
#include "report/sections.h"

_Static_assert(sizeof(report_point) % sizeof(double) == 0, "records are walked in steps of doubles");
enum { POINT_STRIDE = (int)(sizeof(report_point) / sizeof(double)) };

typedef struct x_axis {
    const char *id, *label;
    size_t offset;
    bool log;
} x_axis;

/* The field at offset of each of a run's records, as a series. */
static report_series series_of(const report_run *run, int color, size_t x_offset, size_t y_offset)
{
    const double *base = (const double *)(const void *)run->points;
    return (report_series){run->label, base + x_offset / sizeof(double), base + y_offset / sizeof(double),
                           run->point_count, POINT_STRIDE, color};
}

static const char *step_label(const report_run *runs, int count)
{
    bool rounds = false, epochs = false;
    for (int i = 0; i < count; i++) {
        rounds = rounds || runs[i].federated;
        epochs = epochs || !runs[i].federated;
    }
    return rounds && epochs ? "epoch (training) / round (federated)" : rounds ? "round" : "epoch";
}

/* One chart of field y_offset against x for the runs whose task is `task`
 * (REPORT_TASK_UNKNOWN: every run). */
static void write_chart(FILE *out, const report_run *runs, int count, report_task task, const char *id,
                        const char *title, const char *y_label, const x_axis *x, size_t y_offset)
{
    report_series *series = calloc((size_t)count, sizeof *series);
    if (!series) return;
    int n = 0;
    for (int i = 0; i < count; i++)
        if (task == REPORT_TASK_UNKNOWN || runs[i].task == task || runs[i].task == REPORT_TASK_UNKNOWN)
            series[n++] = series_of(&runs[i], i, x->offset, y_offset);
    char full_id[96], full_title[192];
    snprintf(full_id, sizeof full_id, "%s-%s", id, x->id);
    snprintf(full_title, sizeof full_title, "%s against %s", title, x->label);
    const report_chart chart = {full_id, full_title, x->label, y_label, x->log,
                                x->offset == offsetof(report_point, step), series, n};
    report_chart_write(out, &chart);
    free(series);
}

static bool has_task(const report_run *runs, int count, report_task task)
{
    for (int i = 0; i < count; i++)
        if (runs[i].task == task) return true;
    return false;
}

void report_write_curves(FILE *out, const report_run *runs, int count)
{
    const x_axis axes[] = {
        {"step", step_label(runs, count), offsetof(report_point, step), false},
        {"seconds", "elapsed seconds", offsetof(report_point, elapsed_seconds), false},
        {"bytes", "cumulative communication bytes", offsetof(report_point, cum_comm_bytes), true},
    };
    const bool regression = has_task(runs, count, REPORT_TASK_REGRESSION);
    const bool classification = has_task(runs, count, REPORT_TASK_CLASSIFICATION) || !regression;
    fputs("<section id=\"curves\"><h2>Test accuracy and loss</h2>\n", out);
    if (regression && classification)
        fputs("<p class=\"note\">Classification and regression runs are drawn in separate charts: "
              "their losses are not comparable.</p>\n", out);
    fputs("<div class=\"grid\">\n", out);
    for (size_t a = 0; a < sizeof axes / sizeof axes[0]; a++) {
        if (classification) {
            write_chart(out, runs, count, REPORT_TASK_CLASSIFICATION, "acc", "Test accuracy", "accuracy",
                        &axes[a], offsetof(report_point, test_acc));
            write_chart(out, runs, count, REPORT_TASK_CLASSIFICATION, "loss", "Test loss", "loss", &axes[a],
                        offsetof(report_point, test_loss));
        }
        if (regression)
            write_chart(out, runs, count, REPORT_TASK_REGRESSION, "mse", "Test MSE (regression)", "MSE",
                        &axes[a], offsetof(report_point, test_mse));
    }
    write_chart(out, runs, count, REPORT_TASK_UNKNOWN, "train-loss", "Training loss", "loss", &axes[0],
                offsetof(report_point, train_loss));
    fputs("</div></section>\n", out);
}

void report_write_throughput(FILE *out, const report_run *runs, int count)
{
    bool any = false;
    for (int i = 0; i < count; i++) any = any || !runs[i].federated;
    if (!any) return;
    const x_axis epoch = {"step", "epoch", offsetof(report_point, step), false};
    fputs("<section id=\"throughput\"><h2>Throughput and exposed communication per epoch</h2>\n"
          "<div class=\"grid\">\n", out);
    write_chart(out, runs, count, REPORT_TASK_UNKNOWN, "images", "Images per second", "images/s", &epoch,
                offsetof(report_point, images_per_second));
    write_chart(out, runs, count, REPORT_TASK_UNKNOWN, "exposed", "Exposed communication",
                "seconds per epoch", &epoch, offsetof(report_point, exposed_comm_seconds));
    fputs("</div></section>\n", out);
}
