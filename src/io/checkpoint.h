/* Training checkpoints: one HDF5 file holding everything needed to resume
 * a run bit for bit (model, optimizer state, loop position, sync-policy
 * state) plus the resolved configuration that produced it.
 *
 * File layout (format_version 1), readable and writable with h5py. Every
 * item is required unless marked optional; a file written by another tool
 * from this list alone loads (tests/cli/h5py_writes_checkpoint.sh):
 *
 *   /                       attrs: format = "lamina-checkpoint" (str),
 *                                  format_version = 1 (integer)
 *   /config                 scalar variable-length UTF-8 string: the
 *                           resolved YAML (h5py: f["config"].asstr()[()]);
 *                           `lamina eval` builds the model from it, resuming
 *                           uses the run's own configuration
 *   /model/<tensor>         float32, exactly one per learnable tensor and per
 *                           running statistic, named as in a PyTorch
 *                           state_dict: <layer>.weight, <layer>.bias,
 *                           <layer>.running_mean, <layer>.running_var, where
 *                           <layer> is the layer's `name` in the model list
 *                           or, unnamed, its type and index ("conv0",
 *                           "batchnorm1"); PyTorch shapes (conv OI[D]HW,
 *                           linear [out, in], batch norm [C])
 *   /optimizer              attrs: kind = "sgd" | "adam" | "adamw" (str),
 *                                  steps (integer, completed updates);
 *                           required to resume (evaluation ignores it);
 *                           absent when saved without an optimizer
 *   /optimizer/velocity/<tensor>   float32, SGD momentum (zeros without
 *                                  momentum) or Adam first moment, one per
 *                                  LEARNABLE tensor, same shape as
 *                                  /model/<tensor>
 *   /optimizer/second/<tensor>     float32, Adam second moment (adam and
 *                                  adamw only)
 *   /optimizer/slimqn/scalars      float64 [8 + history] (slimqn only):
 *                                  history, steps, pairs, h0, last damping,
 *                                  last clip, pairs rejected, parameter
 *                                  count, then s.y of each pair, oldest first
 *   /optimizer/slimqn/vectors      float32 [4 + 2 pairs][parameter count]
 *                                  (slimqn, once it took a step): averaged
 *                                  parameters and gradients, their values at
 *                                  the last pair, then s and y of each pair,
 *                                  in the layout of the parameter buffer
 *   /progress               attrs (integer): epoch (epochs completed),
 *                           step_in_epoch (steps done in the epoch in progress),
 *                           global_step; optional `ranks` (the rank count
 *                           that wrote it; absent = unknown, which only
 *                           silences the warning about resuming on another
 *                           rank count);
 *                           attrs (float64): epoch_loss, epoch_correct,
 *                           epoch_samples (the running sums of the
 *                           interrupted epoch: summed loss, hits, samples;
 *                           0 when step_in_epoch is 0), elapsed_seconds;
 *                           optional epoch_comm_bytes (the interrupted
 *                           epoch's comm_bytes so far, so that its metrics
 *                           line counts the whole epoch; absent = 0)
 *   /policy_state           float64 [7 + p], written for data-parallel runs:
 *                           the epoch controller's 7 values
 *                             [0] global batch of the current epoch
 *                             [1] lowest epoch training loss so far (any
 *                                 value while [2] is 0)
 *                             [2] epoch losses seen so far
 *                             [3] adaptive batch: flat epochs since growth
 *                             [4] two-phase: phase 1 or 2 (0: not enabled)
 *                             [5] two-phase: consecutive flat epochs
 *                             [6] two-phase: lr decay factor so far, (0, 1]
 *                           then the sync policy's p values: lazy: k (1),
 *                           localsgd: tau (1), allreduce / overlap /
 *                           multistep: none (p = 0). Optional when p = 0 and
 *                           the run has neither train.batch_schedule:
 *                           adaptive nor optimizer.schedule: two_phase: the
 *                           batch and lr factor are then functions of the
 *                           epoch and the other values are read by those
 *                           two alone, so a fresh controller resumes
 *                           exactly. Otherwise required, with 7 + p values.
 *                           `lamina fl` checkpoints hold instead the
 *                           federated state (listed in train/fl_checkpoint.c),
 *                           count rounds in /progress and have no /optimizer.
 *
 * Files in a run directory are named ckpt-<global step, 12 digits>.h5
 * (lmn_checkpoint_name), so the newest sorts last. */
#ifndef LMN_IO_CHECKPOINT_H
#define LMN_IO_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "nn/network.h"
#include "optim/optimizer.h"

enum { LMN_CHECKPOINT_FORMAT_VERSION = 1 };

/* Where the training loop stands. */
typedef struct lmn_checkpoint_progress {
    int64_t epoch;         /* epochs completed */
    int64_t step_in_epoch; /* steps done in the current epoch */
    int64_t global_step;
    int64_t ranks;         /* the rank count that wrote it (resuming elsewhere is not bitwise) */
    double epoch_loss, epoch_correct, epoch_samples; /* running totals of the current epoch */
    double elapsed_seconds;
    double epoch_comm_bytes; /* comm_bytes of the current epoch so far (rank 0's) */
} lmn_checkpoint_progress;

/* Writes a checkpoint to path. The file is built in memory (so a save
 * briefly needs about twice the checkpoint's size in RAM) and written
 * through lmn_write_file_atomic: a temporary file path.tmp.XXXXXX next to
 * it, fsync, rename. path holds either its old content or the complete
 * new file; on failure the temporary file is removed. Uses serial HDF5:
 * call it on one rank. opt may be NULL (a model-only checkpoint, no
 * /optimizer group); progress and config_yaml are required; policy_state
 * holds policy_state_count values (may be NULL when the count is 0).
 * Tensor names must not contain '/' (HDF5's group separator). */
lmn_status lmn_checkpoint_save(const char *path, const lmn_network *net, const lmn_optimizer *opt,
                               const lmn_checkpoint_progress *progress, const char *config_yaml,
                               const double *policy_state, int policy_state_count);

/* Restores a checkpoint into an already built network (and optimizer).
 * Everything is read and validated before net / opt / progress /
 * policy_state are written, so on failure they are untouched:
 *   LMN_ERR_IO      the file cannot be opened;
 *   LMN_ERR_FORMAT  not an HDF5 file or truncated, wrong format or version,
 *                   a tensor missing, extra or of another shape (the message
 *                   names it and both shapes), a dataset of the wrong dtype,
 *                   no optimizer state although opt was given;
 *   LMN_ERR_CONFIG  the optimizer kind differs from opt's.
 * opt NULL loads the model only (evaluation); progress may be NULL;
 * policy_state NULL skips the policy state, otherwise the file must hold
 * exactly policy_state_count values (the caller decides, with
 * lmn_checkpoint_policy_state_count, whether a missing one is fine). */
lmn_status lmn_checkpoint_load(const char *path, lmn_network *net, lmn_optimizer *opt,
                               lmn_checkpoint_progress *progress, double *policy_state,
                               int policy_state_count);

/* *count = the number of /policy_state values in the checkpoint at path
 * (0 when it has none). */
lmn_status lmn_checkpoint_policy_state_count(const char *path, int *count);

/* Reads the /config string of a checkpoint. The caller frees *yaml_out
 * with free(). */
lmn_status lmn_checkpoint_read_config(const char *path, char **yaml_out);

/* Keeps the `keep` (>= 0) newest ckpt-*.h5 files of dir (by the step in
 * the name) and deletes the older ones. Also deletes temporary files
 * (ckpt-<step>.h5.tmp.*) that crashed saves left behind: those of steps
 * older than the newest complete checkpoint (saves run in step order, one
 * writer per directory). */
lmn_status lmn_checkpoint_prune(const char *dir, int keep);

/* Writes to path_out the newest ckpt-*.h5 in dir that opens as a valid
 * checkpoint; newer files that do not (a crash mid-copy, a truncated
 * file) are skipped with a warning on stderr. LMN_ERR_IO naming dir when
 * there is none; LMN_ERR_ARG if path_out is too small. */
lmn_status lmn_checkpoint_find_latest(const char *dir, char *path_out, size_t size);

/* out = "<dir>/ckpt-<global_step as 12 digits>.h5" (truncated to size). */
void lmn_checkpoint_name(char *out, size_t size, const char *dir, int64_t global_step);

#endif
