/* The parallel.* keys: which sync policy a data-parallel run uses and how
 * (see `lamina train --help` and README "Communication-efficient training"). */
#ifndef LMN_TRAIN_PARALLEL_SETTINGS_H
#define LMN_TRAIN_PARALLEL_SETTINGS_H

#include <stdbool.h>

#include "comm/wire.h"
#include "io/config.h"

typedef enum lmn_strategy {
    LMN_STRATEGY_ALLREDUCE,
    LMN_STRATEGY_OVERLAP,
    LMN_STRATEGY_MULTISTEP,
    LMN_STRATEGY_LAZY,
    LMN_STRATEGY_LOCALSGD,
    LMN_STRATEGY_COUNT
} lmn_strategy;

typedef struct lmn_parallel_settings {
    lmn_strategy strategy;
    double bucket_mb;   /* overlap: fuse layers into buckets of this size; 0 = per layer */
    int lazy_layers;    /* lazy: parameterised layers on the input side that sync lazily */
    bool lazy_layers_given; /* else a model with fewer layers keeps its top one synchronous */
    int lazy_max_k;     /* lazy: cap on the interval k */
    int groups;         /* localsgd: model replicas; 0 = one per rank */
    int tau;            /* localsgd: steps between averages; 0 = adaptive */
    int tau_start, tau_max; /* localsgd adaptive: first and largest interval */
    lmn_wire wire;      /* gradient number format on the wire */
    double predivide;   /* 16-bit wires: gradients are divided by it before sending; 0 = ranks */
    int fc_exchange;    /* multistep: -1 choose by bytes, 0 never, 1 always exchange activations */
} lmn_parallel_settings;

const char *lmn_strategy_name(lmn_strategy strategy);
/* Reads parallel.* (defaults inserted into cfg). Errors name the key. */
lmn_status lmn_parallel_settings_read(lmn_cfg *cfg, lmn_parallel_settings *settings);

#endif
