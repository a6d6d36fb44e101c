/* The non-curve sections: sync plans as printed by the run, FedLAMA's
 * per-layer aggregation interval over rounds, and the resolved configs side
 * by side with differing keys highlighted. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report/chart.h"
#include "report/sections.h"

void report_write_sync_plans(FILE *out, const report_run *runs, int count)
{
    bool any = false;
    for (int i = 0; i < count; i++) any = any || runs[i].sync_plan;
    if (!any) return;
    fputs("<section id=\"sync-plans\"><h2>Per-layer sync plan</h2>\n", out);
    for (int i = 0; i < count; i++) {
        if (!runs[i].sync_plan) continue;
        fputs("<h3>", out);
        report_write_escaped(out, runs[i].label);
        fputs("</h3>\n<pre class=\"sync-plan\">", out);
        report_write_escaped(out, runs[i].sync_plan);
        fputs("</pre>\n", out);
    }
    fputs("</section>\n", out);
}

/* Whether name is one of the ','-joined names in list. */
static bool listed(const char *list, const char *name)
{
    const size_t n = strlen(name);
    for (const char *at = list; at && *at;) {
        const char *comma = strchr(at, ',');
        const size_t length = comma ? (size_t)(comma - at) : strlen(at);
        if (length == n && strncmp(at, name, n) == 0) return true;
        at = comma ? comma + 1 : NULL;
    }
    return false;
}

/* The layers a run ever relaxed, in order of first relaxation, into names. */
static int relaxed_layers(const report_run *run, char names[][96], int capacity)
{
    int count = 0;
    for (int r = 0; r < run->point_count; r++) {
        const char *at = run->points[r].relaxed_layers;
        while (at && *at && count < capacity) {
            const char *comma = strchr(at, ',');
            const int length = comma ? (int)(comma - at) : (int)strlen(at);
            char name[96];
            snprintf(name, sizeof name, "%.*s", length, at);
            bool seen = false;
            for (int k = 0; k < count && !seen; k++) seen = strcmp(names[k], name) == 0;
            if (!seen) snprintf(names[count++], sizeof names[0], "%s", name);
            at = comma ? comma + 1 : NULL;
        }
    }
    return count;
}

enum { CELL = 6, ROW = 16, NAME_WIDTH = 150 };

/* One heat map row per relaxed layer, one column per round: the interval
 * is phi while the layer is relaxed, 1 otherwise. */
static void write_interval_map(FILE *out, const report_run *run, int index)
{
    char names[256][96];
    const int layers = relaxed_layers(run, names, 256);
    const char *phi = report_run_setting(run, "fl.phi");
    fputs("<h3>", out);
    report_write_escaped(out, run->label);
    fputs("</h3>\n", out);
    if (layers == 0) {
        fputs("<p class=\"note\">No layer was relaxed: every layer aggregated every round.</p>\n", out);
        return;
    }
    /* Cells widen for short runs so that the caption fits under them. */
    const int cell = run->point_count < 600 / CELL ? 600 / (run->point_count ? run->point_count : 1) : CELL;
    const int width = NAME_WIDTH + run->point_count * cell + 10, height = layers * ROW + 34;
    fprintf(out, "<svg id=\"intervals-%d\" class=\"intervals\" viewBox=\"0 0 %d %d\" width=\"%d\" "
            "xmlns=\"http://www.w3.org/2000/svg\">\n", index, width, height, width);
    for (int k = 0; k < layers; k++) {
        fprintf(out, "<text class=\"tick\" x=\"%d\" y=\"%d\" text-anchor=\"end\">", NAME_WIDTH - 6, k * ROW + 12);
        report_write_escaped(out, names[k]);
        fputs("</text>\n", out);
        for (int r = 0; r < run->point_count; r++) {
            const bool relaxed = listed(run->points[r].relaxed_layers, names[k]);
            fprintf(out, "<rect class=\"interval-cell\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
                    "fill=\"%s\"><title>round %g: interval %s</title></rect>",
                    NAME_WIDTH + r * cell, k * ROW, cell, ROW - 2, relaxed ? "#d62728" : "#dbe6f1",
                    run->points[r].step, relaxed ? (phi ? phi : "phi") : "1");
        }
        fputc('\n', out);
    }
    fprintf(out, "<text class=\"label\" x=\"%d\" y=\"%d\">round 1 .. %g; red: interval %s (phi), pale: "
            "interval 1</text>\n</svg>\n", NAME_WIDTH, layers * ROW + 24,
            run->point_count ? run->points[run->point_count - 1].step : 0.0, phi ? phi : "phi");
}

void report_write_intervals(FILE *out, const report_run *runs, int count)
{
    bool any = false;
    for (int i = 0; i < count; i++) {
        const char *aggregator = report_run_setting(&runs[i], "fl.aggregator");
        any = any || (runs[i].federated && aggregator && strcmp(aggregator, "fedlama") == 0);
    }
    if (!any) return;
    fputs("<section id=\"fedlama\"><h2>FedLAMA: per-layer aggregation interval over rounds</h2>\n", out);
    for (int i = 0; i < count; i++) {
        const char *aggregator = report_run_setting(&runs[i], "fl.aggregator");
        if (runs[i].federated && aggregator && strcmp(aggregator, "fedlama") == 0)
            write_interval_map(out, &runs[i], i);
    }
    fputs("</section>\n", out);
}
