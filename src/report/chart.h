/* Line charts as inline SVG: axes with readable ticks, a linear or
 * logarithmic x axis, one polyline (class "series") per drawn series and a
 * legend. Internal to src/report. */
#ifndef LMN_REPORT_CHART_H
#define LMN_REPORT_CHART_H

#include <stdbool.h>
#include <stdio.h>

typedef struct report_series {
    const char *label;
    const double *x; /* x[i * stride], y[i * stride]: fields of an array of records */
    const double *y;
    int count;
    int stride; /* in doubles */
    int color;  /* index into the palette: the same run keeps its colour everywhere */
} report_series;

typedef struct report_chart {
    const char *id; /* the svg element's id (the browser test reads it) */
    const char *title, *x_label, *y_label;
    bool log_x;
    bool integer_x; /* x holds counts (epochs, rounds) */
    const report_series *series;
    int series_count;
} report_chart;

/* Writes the chart; a series without two finite points is drawn as dots,
 * one with none is left out and the chart says so. Returns the number of
 * series drawn. */
int report_chart_write(FILE *out, const report_chart *chart);

/* The palette colour for an index (cycled). */
const char *report_color(int index);

/* Writes text with &, <, > and " escaped. */
void report_write_escaped(FILE *out, const char *text);

#endif
