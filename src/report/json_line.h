/* One line of metrics.jsonl, read back: a flat JSON object whose values are
 * numbers, null, true/false, strings or arrays of strings and numbers
 * (what io/metrics.h writes). Internal to src/report. */
#ifndef LMN_REPORT_JSON_LINE_H
#define LMN_REPORT_JSON_LINE_H

#include <stdbool.h>

typedef enum report_value_kind {
    REPORT_VALUE_NUMBER, /* also true (1) and false (0) */
    REPORT_VALUE_NULL,
    REPORT_VALUE_STRING,
    REPORT_VALUE_LIST /* text holds the items joined by ',' */
} report_value_kind;

typedef struct report_value {
    report_value_kind kind;
    double number;
    const char *text; /* valid only during the callback */
} report_value;

typedef void (*report_field_fn)(void *context, const char *key, const report_value *value);

/* Calls fn for each field of the object in line. Returns false, with a
 * description of the first problem and its column in problem, when the line
 * is not one complete object (a truncated last line, for instance). */
bool report_parse_json_line(const char *line, report_field_fn fn, void *context, char *problem,
                            int problem_size);

#endif
