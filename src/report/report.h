/* `lamina report`: one self-contained HTML page (inline SVG and CSS, no
 * script, nothing fetched) comparing run directories: test accuracy and
 * loss against epoch or round, elapsed seconds and cumulative communication
 * bytes; images/s and exposed communication per epoch; the sync plans;
 * FedLAMA's per-layer intervals; the resolved configs side by side. */
#ifndef LMN_REPORT_REPORT_H
#define LMN_REPORT_REPORT_H

#include <stdio.h>

#include "core/status.h"

/* Writes the report to out_path (a temporary file, then renamed). Runs
 * with problems are reported on messages and drawn as far as they can be;
 * LMN_ERR_ARG when no run has anything to draw (nothing is written then). */
lmn_status lmn_report_write(const char *const *run_dirs, int run_count, const char *out_path,
                            const char *title, FILE *messages);

#endif
