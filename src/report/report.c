/* The report page: loads the runs, writes the sections into a temporary
 * file next to the output and renames it into place. */
#include "report/report.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report/chart.h"
#include "report/sections.h"

static const char report_style[] =
    "body{font-family:DejaVu Sans,Helvetica,Arial,sans-serif;margin:24px;color:#222;background:#fff}"
    "h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #ccc;padding-bottom:4px;margin-top:28px}"
    "h3{font-size:14px}.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:18px}"
    "figure{margin:0}svg.chart{width:100%;height:auto;background:#fff}"
    "svg .title{font-size:15px;font-weight:bold}svg .tick{font-size:11px;fill:#444}"
    "svg .label{font-size:12px;fill:#222}svg .grid{stroke:#e3e3e3;stroke-width:1}"
    "svg .frame{fill:none;stroke:#888}svg .series{fill:none;stroke-width:2}"
    "svg .empty{font-size:14px;fill:#999}.legend{font-size:12px;margin:4px 0 0 60px}"
    ".key{display:inline-block;margin-right:14px}.swatch{display:inline-block;width:14px;height:4px;"
    "margin-right:5px;vertical-align:middle}pre.sync-plan{font-size:12px;background:#f6f6f6;padding:8px;"
    "overflow-x:auto}table.configs{border-collapse:collapse;font-size:12px}"
    "table.configs td,table.configs th{border:1px solid #ddd;padding:2px 8px;text-align:left;"
    "font-family:DejaVu Sans Mono,monospace}tr.differs{background:#fff3b0}td.absent{color:#999}"
    ".note{color:#555;font-size:13px}.problems{color:#a00000;font-size:13px}";

/* Everything the loaders said about the runs, shown on the page too. */
static void write_problems(FILE *out, const char *problems)
{
    if (!problems || !*problems) return;
    fputs("<section id=\"problems\"><h2>Problems with the input</h2><pre class=\"problems\">", out);
    report_write_escaped(out, problems);
    fputs("</pre></section>\n", out);
}

static void write_page(FILE *out, const report_run *runs, int count, const char *title,
                       const char *problems)
{
    /* The policy makes the page's promise checkable: a browser refuses, and
     * logs, any script or fetch that ever slips into it. */
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
          "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
          "style-src 'unsafe-inline'\">\n<title>", out);
    report_write_escaped(out, title);
    fprintf(out, "</title>\n<style>%s</style></head><body>\n<h1>", report_style);
    report_write_escaped(out, title);
    fputs("</h1>\n<ul class=\"runs\">\n", out);
    for (int i = 0; i < count; i++) {
        fprintf(out, "<li><span class=\"swatch\" style=\"background:%s\"></span>", report_color(i));
        report_write_escaped(out, runs[i].label);
        fputs(" &mdash; <code>", out);
        report_write_escaped(out, runs[i].dir);
        fprintf(out, "</code>, %d record%s</li>\n", runs[i].point_count, runs[i].point_count == 1 ? "" : "s");
    }
    fputs("</ul>\n", out);
    write_problems(out, problems);
    report_write_curves(out, runs, count);
    report_write_throughput(out, runs, count);
    report_write_intervals(out, runs, count);
    report_write_sync_plans(out, runs, count);
    report_write_configs(out, runs, count);
    fputs("</body></html>\n", out);
}

/* Names the runs of each task when both kinds are present: their losses
 * differ in kind, so they never share a chart. */
static void report_mixed_kinds(const report_run *runs, int count, FILE *problems)
{
    int regression = 0;
    for (int i = 0; i < count; i++) regression += runs[i].task == REPORT_TASK_REGRESSION;
    if (regression == 0 || regression == count) return;
    fputs("lamina: report: runs of different kinds, drawn in separate charts: classification (", problems);
    for (int pass = 0; pass < 2; pass++) {
        const char *separator = "";
        for (int i = 0; i < count; i++) {
            if ((runs[i].task == REPORT_TASK_REGRESSION) != (pass == 1)) continue;
            fprintf(problems, "%s%s", separator, runs[i].name);
            separator = ", ";
        }
        fputs(pass == 0 ? ") and regression (" : ")\n", problems);
    }
}

/* Loads every run; those with nothing to draw are dropped (and said so). */
static int load_runs(const char *const *dirs, int count, report_run *runs, FILE *problems)
{
    int loaded = 0;
    for (int i = 0; i < count; i++) {
        if (report_run_load(dirs[i], &runs[loaded], problems)) loaded++;
        else report_run_free(&runs[loaded]);
    }
    report_mixed_kinds(runs, loaded, problems);
    return loaded;
}

static lmn_status write_file(const char *out_path, const report_run *runs, int count, const char *title,
                             const char *problems)
{
    char temporary[4200];
    snprintf(temporary, sizeof temporary, "%s.tmp.%ld", out_path, (long)getpid());
    FILE *out = fopen(temporary, "w");
    if (!out) return lmn_fail(LMN_ERR_IO, "%s: cannot write the report: %s", out_path, strerror(errno));
    write_page(out, runs, count, title, problems);
    const bool written = !ferror(out);
    if (fclose(out) != 0 || !written) {
        unlink(temporary);
        return lmn_fail(LMN_ERR_IO, "%s: writing the report failed: %s", out_path, strerror(errno));
    }
    if (rename(temporary, out_path) != 0) {
        const int error = errno;
        unlink(temporary);
        return lmn_fail(LMN_ERR_IO, "%s: cannot put the report in place: %s", out_path, strerror(error));
    }
    return LMN_OK;
}

lmn_status lmn_report_write(const char *const *run_dirs, int run_count, const char *out_path,
                            const char *title, FILE *messages)
{
    report_run *runs = calloc((size_t)run_count, sizeof *runs);
    if (!runs) return lmn_fail(LMN_ERR_NOMEM, "cannot hold %d runs", run_count);
    char *problems = NULL;
    size_t problems_length = 0;
    FILE *problem_stream = open_memstream(&problems, &problems_length);
    const int count = load_runs(run_dirs, run_count, runs, problem_stream ? problem_stream : messages);
    if (problem_stream) fclose(problem_stream);
    if (problems && messages) fputs(problems, messages);
    lmn_status status = LMN_OK;
    if (count == 0)
        status = lmn_fail(LMN_ERR_ARG, "none of the %d run director%s has metrics to draw; no report written",
                          run_count, run_count == 1 ? "y" : "ies");
    else
        status = write_file(out_path, runs, count, title ? title : "lamina report", problems);
    for (int i = 0; i < count; i++) report_run_free(&runs[i]);
    free(runs);
    free(problems);
    return status;
}
