/* SVG line charts. Coordinates are in a fixed 720 x 380 box scaled by the
 * browser; the plot area leaves room for tick labels on the left and below. */
#include "report/chart.h"

#include <float.h>
#include <math.h>
#include <string.h>

enum { CHART_WIDTH = 720, CHART_HEIGHT = 380, LEFT = 78, RIGHT = 16, TOP = 34, BOTTOM = 52 };

typedef struct axis {
    double low, high; /* in plotted units (log10 for a log axis) */
    bool log;
    bool integer; /* epochs and rounds: no tick between two */
} axis;

const char *report_color(int index)
{
    static const char *const palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                          "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"};
    const int n = (int)(sizeof palette / sizeof palette[0]);
    return palette[((index % n) + n) % n];
}

void report_write_escaped(FILE *out, const char *text)
{
    for (const char *c = text ? text : ""; *c; c++) {
        switch (*c) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        default: fputc(*c, out);
        }
    }
}

static bool usable(double value, bool log) { return isfinite(value) && (!log || value > 0.0); }
static double plotted(double value, bool log) { return log ? log10(value) : value; }

static int finite_points(const report_series *s, bool log_x)
{
    int n = 0;
    for (int i = 0; i < s->count; i++)
        n += usable(s->x[i * s->stride], log_x) && isfinite(s->y[i * s->stride]);
    return n;
}

/* The range of all usable points, widened when flat so that ticks exist. */
static void data_range(const report_chart *chart, bool along_x, axis *a)
{
    a->low = DBL_MAX;
    a->high = -DBL_MAX;
    for (int k = 0; k < chart->series_count; k++) {
        const report_series *s = &chart->series[k];
        for (int i = 0; i < s->count; i++) {
            const double x = s->x[i * s->stride], y = s->y[i * s->stride];
            if (!usable(x, chart->log_x) || !isfinite(y)) continue;
            const double v = along_x ? plotted(x, a->log) : y;
            if (v < a->low) a->low = v;
            if (v > a->high) a->high = v;
        }
    }
    if (a->low > a->high) a->low = 0.0, a->high = 1.0;
    if (a->high - a->low < 1e-12 * (fabs(a->high) + 1.0)) {
        const double pad = a->log ? 0.5 : (fabs(a->high) > 0 ? 0.05 * fabs(a->high) : 0.5);
        a->low -= pad;
        a->high += pad;
    }
}

/* 1, 2 or 5 times a power of ten, about range / 5. */
static double nice_step(double range)
{
    const double raw = range / 5.0, power = pow(10.0, floor(log10(raw)));
    const double f = raw / power;
    return (f < 1.5 ? 1.0 : f < 3.5 ? 2.0 : f < 7.5 ? 5.0 : 10.0) * power;
}

static double to_x(const axis *a, double v)
{
    return LEFT + (v - a->low) / (a->high - a->low) * (CHART_WIDTH - LEFT - RIGHT);
}
static double to_y(const axis *a, double v)
{
    return CHART_HEIGHT - BOTTOM - (v - a->low) / (a->high - a->low) * (CHART_HEIGHT - TOP - BOTTOM);
}

static void tick_text(char *out, size_t size, double value, bool log)
{
    if (log) {
        const double bytes = pow(10.0, value);
        static const char *const units[] = {"B", "kB", "MB", "GB", "TB", "PB"};
        int u = 0;
        double shown = bytes;
        while (shown >= 1000.0 && u < 5) shown /= 1000.0, u++;
        snprintf(out, size, "%g %s", shown, units[u]);
    } else {
        snprintf(out, size, "%g", fabs(value) < 1e-12 ? 0.0 : value);
    }
}

static void write_x_tick(FILE *out, const axis *a, double v)
{
    char text[48];
    tick_text(text, sizeof text, v, a->log);
    const double x = to_x(a, v);
    fprintf(out, "<line class=\"grid\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>"
            "<text class=\"tick\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n",
            x, TOP, x, CHART_HEIGHT - BOTTOM, x, CHART_HEIGHT - BOTTOM + 16, text);
}

/* Linear: 1-2-5 steps. Log: every decade, and 2x and 5x too when the axis
 * spans fewer than three decades (otherwise it would hold one or two ticks). */
static void write_x_ticks(FILE *out, const axis *a)
{
    if (!a->log) {
        double step = nice_step(a->high - a->low);
        if (a->integer && step < 1.0) step = 1.0;
        for (double v = ceil(a->low / step - 1e-9) * step; v <= a->high + 1e-9 * step; v += step)
            write_x_tick(out, a, v);
        return;
    }
    const bool minor = a->high - a->low < 3.0;
    for (double decade = floor(a->low); decade <= a->high; decade += 1.0) {
        const double factors[] = {1.0, 2.0, 5.0};
        for (int f = 0; f < (minor ? 3 : 1); f++) {
            const double v = decade + log10(factors[f]);
            if (v >= a->low - 1e-9 && v <= a->high + 1e-9) write_x_tick(out, a, v);
        }
    }
}

static void write_y_ticks(FILE *out, const axis *a)
{
    const double step = nice_step(a->high - a->low);
    for (double v = ceil(a->low / step - 1e-9) * step; v <= a->high + 1e-9 * step; v += step) {
        char text[48];
        tick_text(text, sizeof text, v, false);
        const double y = to_y(a, v);
        fprintf(out, "<line class=\"grid\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>"
                "<text class=\"tick\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
                LEFT, y, CHART_WIDTH - RIGHT, y, LEFT - 6, y + 4, text);
    }
}

static void write_frame(FILE *out, const report_chart *chart, const axis *x, const axis *y)
{
    fprintf(out, "<svg id=\"%s\" class=\"chart\" viewBox=\"0 0 %d %d\" xmlns=\"http://www.w3.org/2000/svg\" "
            "role=\"img\">\n<text class=\"title\" x=\"%d\" y=\"20\">", chart->id, CHART_WIDTH, CHART_HEIGHT, LEFT);
    report_write_escaped(out, chart->title);
    fputs("</text>\n", out);
    write_x_ticks(out, x);
    write_y_ticks(out, y);
    fprintf(out, "<rect class=\"frame\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"/>\n", LEFT, TOP,
            CHART_WIDTH - LEFT - RIGHT, CHART_HEIGHT - TOP - BOTTOM);
    fprintf(out, "<text class=\"label\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">", (LEFT + CHART_WIDTH - RIGHT) / 2,
            CHART_HEIGHT - 12);
    report_write_escaped(out, chart->x_label);
    fprintf(out, "%s</text>\n<text class=\"label\" transform=\"translate(16 %d) rotate(-90)\" "
            "text-anchor=\"middle\">", x->log ? " (log scale)" : "", (TOP + CHART_HEIGHT - BOTTOM) / 2);
    report_write_escaped(out, chart->y_label);
    fputs("</text>\n", out);
}

static void write_series(FILE *out, const report_series *s, const axis *x, const axis *y, int index)
{
    fprintf(out, "<g class=\"series-group\"><title>");
    report_write_escaped(out, s->label);
    fprintf(out, "</title><polyline class=\"series\" data-series=\"%d\" stroke=\"%s\" points=\"", index,
            report_color(s->color));
    for (int i = 0; i < s->count; i++) {
        const double vx = s->x[i * s->stride], vy = s->y[i * s->stride];
        if (usable(vx, x->log) && isfinite(vy))
            fprintf(out, "%.1f,%.1f ", to_x(x, plotted(vx, x->log)), to_y(y, vy));
    }
    fputs("\"/>", out);
    for (int i = 0; i < s->count; i++) {
        const double vx = s->x[i * s->stride], vy = s->y[i * s->stride];
        if (usable(vx, x->log) && isfinite(vy))
            fprintf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.2\" fill=\"%s\"/>", to_x(x, plotted(vx, x->log)),
                    to_y(y, vy), report_color(s->color));
    }
    fputs("</g>\n", out);
}

int report_chart_write(FILE *out, const report_chart *chart)
{
    axis x = {0, 0, chart->log_x, chart->integer_x}, y = {0, 0, false, false};
    data_range(chart, true, &x);
    data_range(chart, false, &y);
    fputs("<figure>\n", out);
    write_frame(out, chart, &x, &y);
    int drawn = 0;
    for (int k = 0; k < chart->series_count; k++)
        if (finite_points(&chart->series[k], chart->log_x) > 0)
            write_series(out, &chart->series[k], &x, &y, drawn++);
    if (drawn == 0)
        fprintf(out, "<text class=\"empty\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">no run has these values</text>\n",
                CHART_WIDTH / 2, CHART_HEIGHT / 2);
    fputs("</svg>\n<figcaption class=\"legend\">", out);
    for (int k = 0; k < chart->series_count; k++) {
        if (finite_points(&chart->series[k], chart->log_x) == 0) continue;
        fprintf(out, "<span class=\"key\"><span class=\"swatch\" style=\"background:%s\"></span>",
                report_color(chart->series[k].color));
        report_write_escaped(out, chart->series[k].label);
        fputs("</span>", out);
    }
    fputs("</figcaption>\n</figure>\n", out);
    return drawn;
}
