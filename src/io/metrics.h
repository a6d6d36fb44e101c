/* JSON-lines metrics: one JSON object per line, written as each record is
 * finished and flushed at once, so a crashed or still-running job leaves a
 * readable file.
 *
 *     lmn_metrics *m;
 *     LMN_TRY(lmn_metrics_open("run/metrics.jsonl", &m));
 *     lmn_metrics_begin(m);
 *     lmn_metrics_int(m, "epoch", 3);
 *     lmn_metrics_double(m, "test_acc", 0.91);
 *     LMN_TRY(lmn_metrics_end(m));          // {"epoch":3,"test_acc":0.91}
 *     LMN_TRY(lmn_metrics_close(m));
 *
 * Doubles are written in their shortest round-trip form; NaN and infinities
 * (not representable in JSON) as null. Strings and keys are JSON-escaped
 * (bytes >= 0x80 pass through, so UTF-8 text stays UTF-8). */
#ifndef LMN_IO_METRICS_H
#define LMN_IO_METRICS_H

#include <stdint.h>

#include "core/status.h"

typedef struct lmn_metrics lmn_metrics;

/* Creates (or truncates) path. The caller owns *out and releases it with
 * lmn_metrics_close. */
lmn_status lmn_metrics_open(const char *path, lmn_metrics **out);
/* Opens for appending (a resumed run continues its file). */
lmn_status lmn_metrics_open_append(const char *path, lmn_metrics **out);

/* Starts a new record, discarding any unfinished one. */
void lmn_metrics_begin(lmn_metrics *m);

/* Add one field to the current record; LMN_ERR_ARG outside begin/end. */
lmn_status lmn_metrics_int(lmn_metrics *m, const char *key, int64_t value);
lmn_status lmn_metrics_double(lmn_metrics *m, const char *key, double value);
lmn_status lmn_metrics_string(lmn_metrics *m, const char *key, const char *value);
/* A JSON array of strings: "key":["a","b"]. */
lmn_status lmn_metrics_string_list(lmn_metrics *m, const char *key, const char *const *values,
                                   int count);
lmn_status lmn_metrics_bool(lmn_metrics *m, const char *key, int value);

/* Writes the record as one line and flushes it. */
lmn_status lmn_metrics_end(lmn_metrics *m);

/* Closes the file and frees m (NULL is fine); reports a failed final flush. */
lmn_status lmn_metrics_close(lmn_metrics *m);

#endif
