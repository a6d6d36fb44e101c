/* Reading a run directory for the report. */
#include "report/run.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "report/json_line.h"

typedef struct point_reader {
    report_point point;
    double comm_bytes;     /* this record's, NAN if absent */
    bool has_round, has_epoch, has_test_acc, has_test_mse;
} point_reader;

static void point_clear(report_point *p)
{
    *p = (report_point){NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NULL};
}

static void read_field(void *context, const char *key, const report_value *value)
{
    point_reader *r = context;
    const double number = value->kind == REPORT_VALUE_NUMBER ? value->number : NAN;
    static const struct { const char *key; size_t offset; } numbers[] = {
        {"elapsed_seconds", offsetof(report_point, elapsed_seconds)},
        {"cum_comm_bytes", offsetof(report_point, cum_comm_bytes)},
        {"test_acc", offsetof(report_point, test_acc)},
        {"test_loss", offsetof(report_point, test_loss)},
        {"test_mse", offsetof(report_point, test_mse)},
        {"train_loss", offsetof(report_point, train_loss)},
        {"images_per_second", offsetof(report_point, images_per_second)},
        {"exposed_comm_seconds", offsetof(report_point, exposed_comm_seconds)},
    };
    for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; i++)
        if (strcmp(key, numbers[i].key) == 0) *(double *)((char *)&r->point + numbers[i].offset) = number;
    if (strcmp(key, "round") == 0 || strcmp(key, "epoch") == 0) r->point.step = number;
    r->has_round |= strcmp(key, "round") == 0;
    r->has_epoch |= strcmp(key, "epoch") == 0;
    r->has_test_acc |= strcmp(key, "test_acc") == 0;
    r->has_test_mse |= strcmp(key, "test_mse") == 0;
    if (strcmp(key, "comm_bytes") == 0) r->comm_bytes = number;
    if (strcmp(key, "relaxed_layers") == 0 && value->kind == REPORT_VALUE_LIST) {
        free(r->point.relaxed_layers);
        r->point.relaxed_layers = strdup(value->text);
    }
}

static bool append_point(report_run *run, const report_point *point, int *capacity)
{
    if (run->point_count == *capacity) {
        const int grown = *capacity ? 2 * *capacity : 64;
        report_point *points = realloc(run->points, (size_t)grown * sizeof *points);
        if (!points) return false;
        run->points = points;
        *capacity = grown;
    }
    run->points[run->point_count++] = *point;
    return true;
}

/* One record; a line that is not one is reported and skipped. */
static void read_record(report_run *run, const char *path, int line_number, const char *line,
                        int *capacity, FILE *messages)
{
    point_reader r = {0};
    point_clear(&r.point);
    r.comm_bytes = NAN;
    char problem[160];
    if (!report_parse_json_line(line, read_field, &r, problem, sizeof problem)) {
        fprintf(messages, "lamina: report: %s:%d: %s; line skipped\n", path, line_number, problem);
        free(r.point.relaxed_layers);
        return;
    }
    if (!r.has_round && !r.has_epoch) {
        fprintf(messages, "lamina: report: %s:%d: a record without 'epoch' or 'round'; line skipped\n",
                path, line_number);
        free(r.point.relaxed_layers);
        return;
    }
    run->federated = r.has_round;
    if (run->task == REPORT_TASK_UNKNOWN && (r.has_test_acc || r.has_test_mse))
        run->task = r.has_test_mse ? REPORT_TASK_REGRESSION : REPORT_TASK_CLASSIFICATION;
    if (isnan(r.point.cum_comm_bytes) && !isnan(r.comm_bytes)) {
        const double before = run->point_count ? run->points[run->point_count - 1].cum_comm_bytes : 0.0;
        r.point.cum_comm_bytes = (isnan(before) ? 0.0 : before) + r.comm_bytes;
    }
    if (!append_point(run, &r.point, capacity)) free(r.point.relaxed_layers);
}

static bool read_metrics(report_run *run, FILE *messages)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/metrics.jsonl", run->dir);
    FILE *file = fopen(path, "r");
    if (!file) {
        fprintf(messages, "lamina: report: %s: %s; the run has nothing to draw\n", path, strerror(errno));
        return false;
    }
    char *line = NULL;
    size_t size = 0;
    int capacity = 0;
    for (int number = 1; getline(&line, &size, file) >= 0; number++) {
        if (strspn(line, " \t\r\n") == strlen(line)) continue;
        read_record(run, path, number, line, &capacity, messages);
    }
    free(line);
    fclose(file);
    if (run->point_count == 0)
        fprintf(messages, "lamina: report: %s: no complete record; the run has nothing to draw\n", path);
    return run->point_count > 0;
}

static char *read_text_file(const char *path)
{
    FILE *file = fopen(path, "r");
    if (!file) return NULL;
    char *text = NULL;
    size_t length = 0;
    FILE *memory = open_memstream(&text, &length);
    char buffer[4096];
    size_t got;
    while (memory && (got = fread(buffer, 1, sizeof buffer, file)) > 0) fwrite(buffer, 1, got, memory);
    if (memory) fclose(memory);
    fclose(file);
    return text;
}

static void read_config(report_run *run, FILE *messages)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/config.yaml", run->dir);
    struct stat info;
    if (stat(path, &info) != 0) {
        fprintf(messages, "lamina: report: %s: missing; the run's settings are not shown\n", path);
        return;
    }
    if (lmn_cfg_load_file(path, &run->config) != LMN_OK) {
        fprintf(messages, "lamina: report: %s; the run's settings are not shown\n", lmn_last_error());
        run->config = NULL;
    }
}

const char *report_run_setting(const report_run *run, const char *path)
{
    if (!run->config) return NULL;
    /* lmn_cfg_find marks nodes used, which a report does not care about. */
    const lmn_cfg_node *node = lmn_cfg_find(run->config, NULL, path);
    return node && lmn_cfg_kind(node) == LMN_CFG_SCALAR ? lmn_cfg_scalar_text(node) : NULL;
}

static void append_setting(char *label, size_t size, const report_run *run, const char *path,
                           const char *shown_as)
{
    const char *value = report_run_setting(run, path);
    if (!value || !*value) return;
    const size_t used = strlen(label);
    snprintf(label + used, size - used, "%s%s %s", used ? ", " : "", shown_as, value);
}

/* The legend text: the method first, then what usually differs. */
static void make_label(report_run *run)
{
    char settings[400] = "";
    const char *method = NULL;
    if (run->federated) {
        method = report_run_setting(run, "fl.aggregator");
        append_setting(settings, sizeof settings, run, "fl.clients", "clients");
        append_setting(settings, sizeof settings, run, "fl.active_ratio", "active");
        append_setting(settings, sizeof settings, run, "fl.partition", "");
        append_setting(settings, sizeof settings, run, "fl.local_steps", "local steps");
        if (method && strcmp(method, "fedlama") == 0)
            append_setting(settings, sizeof settings, run, "fl.phi", "phi");
    } else {
        method = report_run_setting(run, "parallel.strategy");
        append_setting(settings, sizeof settings, run, "parallel.wire", "wire");
        append_setting(settings, sizeof settings, run, "train.batch_size", "batch");
    }
    append_setting(settings, sizeof settings, run, "optimizer.lr", "lr");
    /* A label longer than the legend's room is cut; that is all it needs. */
    if (snprintf(run->label, sizeof run->label, "%s: %s%s%s%s", run->name,
                 method ? method : (run->federated ? "federated" : "training"),
                 *settings ? " (" : "", settings, *settings ? ")" : "") >= (int)sizeof run->label)
        run->label[sizeof run->label - 1] = '\0';
}

static void read_task(report_run *run)
{
    const char *task = report_run_setting(run, "task");
    if (task && strcmp(task, "regression") == 0) run->task = REPORT_TASK_REGRESSION;
    if (task && strcmp(task, "classification") == 0) run->task = REPORT_TASK_CLASSIFICATION;
}

bool report_run_load(const char *dir, report_run *run, FILE *messages)
{
    memset(run, 0, sizeof *run);
    run->dir = strdup(dir);
    if (!run->dir) return false;
    size_t length = strlen(dir);
    while (length > 1 && dir[length - 1] == '/') length--;
    size_t start = length;
    while (start > 0 && dir[start - 1] != '/') start--;
    snprintf(run->name, sizeof run->name, "%.*s", (int)(length - start), dir + start);
    struct stat info;
    if (stat(dir, &info) != 0 || !S_ISDIR(info.st_mode)) {
        fprintf(messages, "lamina: report: %s: not a run directory (%s)\n", dir,
                errno ? strerror(errno) : "not a directory");
        return false;
    }
    const bool drawable = read_metrics(run, messages);
    read_config(run, messages);
    read_task(run);
    char path[4200];
    snprintf(path, sizeof path, "%s/sync_plan.txt", dir);
    run->sync_plan = read_text_file(path);
    make_label(run);
    return drawable;
}

void report_run_free(report_run *run)
{
    for (int i = 0; i < run->point_count; i++) free(run->points[i].relaxed_layers);
    free(run->points);
    free(run->dir);
    free(run->sync_plan);
    lmn_cfg_free(run->config);
    memset(run, 0, sizeof *run);
}
