/* Claiming an output directory for a run, so that a new run never mixes
 * its files with, or destroys, those of another one by accident. */
#ifndef LMN_TRAIN_RUN_DIRECTORY_H
#define LMN_TRAIN_RUN_DIRECTORY_H

#include <stdbool.h>
#include <stddef.h>

#include "core/status.h"

typedef enum lmn_run_claim {
    LMN_CLAIM_FRESH,     /* a new run: the directory must not hold another run */
    LMN_CLAIM_CONTINUE,  /* --resume: the directory may hold this run */
    LMN_CLAIM_OVERWRITE, /* --overwrite: the old run's files are replaced */
} lmn_run_claim;

/* Whether dir holds files of a run (config.yaml, metrics.jsonl or a
 * checkpoint); a missing directory holds none. */
bool lmn_run_directory_in_use(const char *dir);

/* Read-only check, to run before anything is written: refuses (LMN_ERR_ARG,
 * naming the directory and the way out) a FRESH claim on a directory that
 * holds a run, and a CONTINUE claim that starts from scratch (no
 * checkpoint) in a directory whose config.yaml differs from config_yaml. */
lmn_status lmn_run_directory_check(const char *dir, lmn_run_claim claim, bool starts_fresh,
                                   const char *config_yaml);

/* Creates dir; for OVERWRITE, removes the old run's checkpoints so that a
 * later --resume auto cannot pick them up. Call only after the new run
 * validated its configuration and data. */
lmn_status lmn_run_directory_prepare(const char *dir, lmn_run_claim claim);

/* Where --resume FROM points: "auto" = the newest valid checkpoint in dir
 * (*fresh set when there is none: the run starts from scratch), a
 * directory = its newest valid checkpoint, else a checkpoint file. */
lmn_status lmn_run_directory_resume_source(const char *dir, const char *from, char *path,
                                           size_t size, bool *fresh);

/* Refuses (read-only, before anything is written) to resume the checkpoint
 * at path, named `from` on the command line, into dir when dir holds another
 * run and the checkpoint is not one of dir's own: the directory would mix
 * that run's checkpoints with this run's config and metrics. OVERWRITE
 * replaces the other run and passes. */
lmn_status lmn_run_directory_check_resume(const char *dir, lmn_run_claim claim, const char *from,
                                          const char *path);

/* Keeps the lines of dir/metrics.jsonl whose first member `key` (an
 * integer: "epoch", "round") is at most last, dropping those an
 * interrupted run wrote after its checkpoint. The file is replaced only
 * once all of it was read: a read or memory failure leaves it as it was. */
lmn_status lmn_run_directory_rewind_metrics(const char *dir, const char *key, long long last);

#endif
