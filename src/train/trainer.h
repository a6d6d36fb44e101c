/* The training loop: data-parallel SGD over the ranks of a communicator.
 *
 * Each step, every rank takes its share of the global batch (data/sampler.h),
 * computes the gradient of (its loss sum / global batch), and the ranks sum
 * their gradients with one allreduce over the flat gradient buffer, so every
 * rank applies the same averaged update. One rank is just P = 1. */
#ifndef LMN_TRAIN_TRAINER_H
#define LMN_TRAIN_TRAINER_H

#include <stdio.h>

#include "comm/comm.h"
#include "data/dataset.h"
#include "data/prefetch.h"
#include "data/sampler.h"
#include "io/config.h"
#include "io/checkpoint.h"
#include "io/metrics.h"
#include "kernels/kernels.h"
#include "nn/network.h"
#include "optim/optimizer.h"
#include "train/progress.h"
#include "train/run_directory.h"
#include "train/settings.h"

/* What an epoch ended with, for a caller's hook (lmn_trainer.on_epoch):
 * test_loss and test_acc are -1 when train.eval is off, test_acc NAN for
 * regression. */
typedef struct lmn_epoch_report {
    int epoch;               /* 1-based */
    int64_t global_step;
    double lr, train_loss, train_acc, test_loss, test_acc;
} lmn_epoch_report;

/* Called on every rank after each epoch's metrics; a non-OK status ends
 * the run with that status (every rank must return the same). */
typedef lmn_status (*lmn_epoch_hook)(void *ctx, const lmn_epoch_report *report);

typedef struct lmn_trainer {
    lmn_train_settings settings;
    lmn_task_scores task_scores; /* what the task learns from the data and evaluations */
    bool federated;          /* `lamina fl`: settings from fl.* */
    bool evaluation_only;    /* eval, export, simulate: no training set, no sync policy */
    lmn_epoch_hook on_epoch; /* NULL: none */
    void *on_epoch_ctx;
    lmn_fl_settings fl;
    lmn_comm *comm;          /* borrowed */
    const char *model_name;  /* owned by the config tree */
    int threads;
    lmn_backend *backend;
    lmn_dataset *train_set, *test_set;
    lmn_network *net;
    lmn_optimizer *optimizer;
    struct lmn_sync *sync;   /* data parallel: the sync policy (NULL in fl) */
    lmn_epoch_control epoch_control; /* batch size and lr factor per epoch */
    int batch_size;          /* the current epoch's global batch */
    double lr_factor;        /* the current epoch's learning-rate multiplier */
    uint32_t *order;         /* the epoch's visiting order */
    float *inputs, *dlogits;
    float *targets;          /* regression: a batch's targets (NULL otherwise) */
    int32_t *labels;
    int batch_capacity;      /* samples the buffers hold */
    int64_t global_step;
    int epoch;               /* the epoch being trained */
    lmn_epoch_plan plan;     /* the epoch's steps and batches */
    struct lmn_prefetcher *prefetcher; /* asynchronous reads, or NULL */
    lmn_batch_reader reader;  /* produces a step's batch (maybe throttled) */
    void *reader_ctx;
    struct lmn_slow_reader_ctx slow_reader;
    double data_wait_seconds; /* this epoch: time steps waited for their batch */
    lmn_metrics *metrics;    /* rank 0 only; NULL without an output directory */
    char *out_dir;           /* owned copy, or NULL */
    char *config_yaml;       /* the resolved configuration, stored in checkpoints */
    lmn_checkpoint_progress resumed; /* where training (re)starts */
    bool stopped;            /* a stop signal ended the run early */
    lmn_run_claim claim;     /* how the run may use out_dir (set before running) */
    bool checkpoint_loaded;  /* lmn_trainer_resume restored a checkpoint */
    bool already_finished;   /* the resumed run had reached its end: nothing to do */
    lmn_progress progress;
    FILE *log;               /* rank 0's progress stream; NULL = quiet */
    struct lmn_watchdog *watchdog; /* while running (comm/watchdog.h); NULL = none */
} lmn_trainer;

/* What a trainer is opened for: which data it loads and what it builds. */
typedef enum lmn_trainer_purpose {
    LMN_PURPOSE_TRAIN,     /* lamina train: both sets, optimizer, sync policy */
    LMN_PURPOSE_FEDERATED, /* lamina fl: settings from fl.*, both sets, optimizer */
    LMN_PURPOSE_EVALUATE,  /* eval, export: the test set and the network only */
    LMN_PURPOSE_PROFILE,   /* simulate: the test set (for shapes), network and optimizer */
} lmn_trainer_purpose;

typedef struct lmn_trainer_options {
    lmn_trainer_purpose purpose;
    const char *out_dir;     /* NULL: no run files, no checkpoints */
    FILE *log;               /* rank 0's progress; NULL: quiet */
    /* Sets the caller made (a library user's own data): both or neither.
     * The trainer owns them from the call on, also when it fails; data.*
     * is then not used to load anything. */
    lmn_dataset *train_set, *test_set;
} lmn_trainer_options;

/* The one way a trainer is made: config -> settings, backend, the data the
 * purpose needs (an evaluating trainer never opens the training set), the
 * network and, to train, the optimizer and sync policy. Collective. */
lmn_status lmn_trainer_open(lmn_cfg *cfg, lmn_comm *comm, const lmn_trainer_options *options,
                            lmn_trainer **out);

/* Reads the settings and model from cfg (which must outlive the trainer),
 * loads the data, builds the network (initialized on rank 0 and broadcast)
 * and the optimizer. Writes nothing: with out_dir, the run's files
 * (config.yaml, sync_plan.txt, metrics.jsonl) are written when it starts,
 * after the directory claim (trainer->claim) was checked. log: where rank 0
 * reports progress (NULL: nowhere). Collective over comm. */
lmn_status lmn_trainer_create(lmn_cfg *cfg, lmn_comm *comm, const char *out_dir, FILE *log,
                              lmn_trainer **out);
/* The same for a federated simulation (lamina fl): reads fl.* instead of
 * train.*; the network, data and optimizer serve the simulated clients. */
lmn_status lmn_trainer_create_federated(lmn_cfg *cfg, lmn_comm *comm, const char *out_dir,
                                        FILE *log, lmn_trainer **out);
/* Continues from a checkpoint: `from` is a checkpoint file, a directory
 * (its newest complete checkpoint) or "auto" (the newest in the output
 * directory, or a fresh start when there is none). Restores parameters,
 * statistics, optimizer state and the position in training. Collective. */
lmn_status lmn_trainer_resume(lmn_trainer *trainer, const char *from);
/* The checkpoint `from` names (as for lmn_trainer_resume), agreed on by
 * every rank, into path; claims the output directory as a continuation.
 * *fresh (logged): "auto" found no checkpoint. Collective. */
lmn_status lmn_trainer_resume_path(lmn_trainer *trainer, const char *from, char *path, size_t size,
                                   bool *fresh);
/* Checks the claim on out_dir (train/run_directory.h), then writes
 * config.yaml and sync_plan.txt and opens out_dir/metrics.jsonl on rank 0
 * (fresh, or appending after a resume); a no-op without an output
 * directory. Collective. */
lmn_status lmn_trainer_open_metrics(lmn_trainer *trainer);
/* Writes a checkpoint of the current state into the output directory
 * (rank 0 writes; all ranks hold the same model). Collective. */
lmn_status lmn_trainer_checkpoint(lmn_trainer *trainer);

/* Trains for the configured epochs (or max_steps); refused (LMN_ERR_ARG)
 * on a federated or evaluating trainer. A stop signal
 * (SIGTERM / SIGUSR1, see train/stop.h) ends the run after the current step
 * with a checkpoint and trainer->stopped set. Collective. */
lmn_status lmn_trainer_run(lmn_trainer *trainer);
/* Evaluates the current model on the test set: mean loss and accuracy,
 * identical on every rank. Collective. */
lmn_status lmn_trainer_evaluate(lmn_trainer *trainer, double *loss, double *accuracy);
/* The same, with per-class hit and sample counts (arrays of num_outputs;
 * either may be NULL). */
lmn_status lmn_trainer_evaluate_classes(lmn_trainer *trainer, double *loss, double *accuracy,
                                        int64_t *class_correct, int64_t *class_total);
void lmn_trainer_free(lmn_trainer *trainer);

#endif
