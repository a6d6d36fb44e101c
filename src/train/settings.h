/* The settings of a training run, read from the configuration tree.
 * Every key, its default and its meaning is listed by `lamina train --help`
 * (cli/help.c); keep the two in step. */
#ifndef LMN_TRAIN_SETTINGS_H
#define LMN_TRAIN_SETTINGS_H

#include <stdbool.h>
#include <stdint.h>

#include "data/grf.h"
#include "data/partition.h"
#include "data/super_resolution.h"
#include "io/config.h"
#include "io/image_folder.h"
#include "kernels/kernels.h"
#include "optim/optimizer.h"
#include "optim/schedule.h"
#include "train/task.h"
#include "train/epoch_control.h"
#include "train/parallel_settings.h"

/* data.order: the exact seeded permutation, or the paper's chunk scheme
 * (data/chunk_order.h). */
enum { LMN_ORDER_GLOBAL = 0, LMN_ORDER_CHUNKS = 1 };

typedef struct lmn_data_settings {
    const char *name;   /* fashion-mnist, mnist, cifar10, cifar100, hdf5, synthetic, grf-cubes */
    const char *path;   /* directory of the files; hdf5: the training file */
    const char *test_path;            /* hdf5: the test file */
    const char *images, *labels;      /* hdf5: dataset names */
    const char *targets;              /* hdf5 regression: dataset name of the targets */
    bool derive_super_resolution;     /* data.derive: super_resolution */
    int sr_factor;                    /* super-resolution scale */
    lmn_sr_input sr_input;            /* low-resolution or bicubic-upsampled inputs */
    lmn_grf_config grf;               /* grf-cubes */
    int prefetch_samples;             /* asynchronous read-ahead; 0 = synchronous */
    double read_delay_ms;             /* benchmarks: emulate a slow file system per batch */
    int in_memory;      /* hdf5: -1 unset (out of core; in memory for fl and data.derive), 0, 1 */
    double max_memory_mb;             /* data memory limit per rank; 0 = none */
    int order;                        /* LMN_ORDER_GLOBAL or LMN_ORDER_CHUNKS */
    int chunk_rows;                   /* chunks order: 0 = the file's chunk rows, else 256 */
    int chunks_per_buffer;            /* chunks order: 0 = from prefetch_samples */
    int augment;        /* -1: the dataset's default, 0: off, 1: on */
    lmn_image_folder_options image_folder; /* images: size, resize, channels, mean/std, skip */
    int io_threads;     /* decode threads on the I/O thread when prefetching */
    int shape[3];       /* synthetic: channels, height, width */
    int classes;        /* synthetic */
    int64_t train_size, test_size; /* synthetic, grf-cubes */
} lmn_data_settings;

typedef struct lmn_train_settings {
    uint64_t seed;
    int threads;         /* 0: cores on the node / ranks on the node */
    const char *backend; /* dnnl or ref */
    lmn_precision precision; /* train.precision: fp32, or bf16 kernels on fp32 masters */
    lmn_task task;       /* classification or regression, loss, metrics */
    lmn_data_settings data;
    int epochs;
    int batch_size;      /* global, summed over ranks */
    int64_t max_steps;   /* 0: no limit */
    bool drop_last;
    bool shuffle;
    bool eval;
    int eval_batch_size; /* per rank */
    double max_memory_gb; /* step buffers per rank; 0 = no check, < 0 = node memory / its ranks */
    bool profile;        /* time every layer; report at the end */
    int checkpoint_every;       /* epochs between checkpoints; 0 = none */
    int64_t checkpoint_every_steps; /* steps between checkpoints; 0 = none */
    int keep_checkpoints;       /* newest checkpoints kept in the output directory */
    lmn_optimizer_config optimizer;
    bool decay_bias_and_bn;
    lmn_lr_schedule schedule;
    lmn_batch_schedule batch_schedule; /* train: batch size per epoch */
    lmn_two_phase_settings two_phase;  /* train: optimizer.schedule two_phase */
    lmn_parallel_settings parallel;    /* train: parallel.*, the sync policy */
    double timeout_seconds; /* parallel.timeout_seconds: < 0 auto, 0 off (comm/watchdog.h) */
} lmn_train_settings;

typedef enum lmn_aggregator_kind {
    LMN_AGG_FEDAVG,
    LMN_AGG_FEDLAMA,
    LMN_AGG_PARTIAL,
    LMN_AGG_FEDPROX,
    LMN_AGG_FEDAVGM,
    LMN_AGG_FEDADAM
} lmn_aggregator_kind;

/* The fl.* keys of `lamina fl` (see `lamina fl --help`). */
typedef struct lmn_fl_settings {
    int clients;
    double active_ratio;
    int rounds;
    int local_steps;   /* tau': local steps per round, or 0 with local_epochs */
    int local_epochs;  /* passes over the client's data per round, or 0 */
    int batch_size;    /* local batch */
    lmn_partition_spec partition; /* fl.partition and the keys of its kinds */
    lmn_aggregator_kind aggregator;
    bool weight_by_samples; /* else the plain mean over active clients */
    int phi;                /* FedLAMA interval factor; 1 otherwise */
    int resample_every;     /* rounds between client re-sampling */
    int relax_after;        /* FedLAMA: no relaxation before this round */
    double mu;              /* FedProx proximal weight */
    bool split_elements;    /* partial: element slices instead of layer-aligned parts */
    double server_lr, server_momentum, server_beta1, server_beta2, server_epsilon;
    bool keep_client_optimizer;
    int eval_every;
    int checkpoint_every; /* rounds between checkpoints; 0 = only the last round and on a stop */
} lmn_fl_settings;

/* "fedavg", "fedlama", ... */
const char *lmn_aggregator_name(lmn_aggregator_kind kind);

/* Reads the common keys and fl.*; the optimizer is the clients' local one
 * and its schedule counts rounds. */
lmn_status lmn_fl_settings_read(lmn_cfg *cfg, lmn_train_settings *s, lmn_fl_settings *fl);

/* Reads every key the trainer uses (the model is read later, once the data
 * shape is known). Defaults are inserted into cfg so that writing it gives
 * the resolved configuration. */
lmn_status lmn_train_settings_read(lmn_cfg *cfg, lmn_train_settings *settings);

#endif
