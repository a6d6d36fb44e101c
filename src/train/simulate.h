/* A model of one data-parallel training step at N ranks under each sync
 * policy (ALGORITHMS.md 1-4 and 11, as train/sync_*.c implement them),
 * from a per-layer profile measured on one rank and the alpha-beta link
 * model of comm/cost_model.h.
 *
 * Strong scaling: the global batch B stays fixed, so a rank's local batch
 * is ceil(B / N) (ranks past B idle). A layer's time at local batch b is
 *   fixed + (measured - fixed) * b / measured_batch,
 * i.e. the per-sample part scales linearly and `fixed` (kernel set-up,
 * threading, small-GEMM inefficiency; measured from a second, small batch)
 * does not. The optimizer update does not depend on the batch and is split
 * over layers by parameter count.
 *
 * The step is simulated event by event: one compute thread running the
 * layers in order, and ONE communication thread serving a FIFO queue; a
 * collective starts when it is queued and the queue ahead of it is done.
 * A blocking collective is one the compute thread queues and waits for.
 * Each policy's schedule, as the code in train/sync_*.c runs it:
 *   allreduce  forward, backward, one blocking allreduce of every gradient,
 *              update.
 *   overlap    backward queues an allreduce per layer (or per bucket of
 *              consecutive layers, bucket_mb) as soon as its gradient is
 *              complete; the next forward waits for layer l's reduction,
 *              updates layer l, then runs it.
 *   multistep  gradient path: backward queues a reduce-scatter per layer.
 *              Activation path (linear layers, fc_exchange): backward queues
 *              allgathers of the layer's input and output error over the
 *              global batch (each preceded by an allgather of the piece
 *              sizes). After backward, from the top layer down, the compute
 *              thread waits for the layer's first phase, updates its 1/N
 *              slice (activation path: first computes its rows' gradient over
 *              the global batch, taken as half the layer's backward) and
 *              queues the allgather of the updated parameters; the next
 *              forward waits for layer l's allgather.
 *   lazy       a blocking allreduce of the layers that are not lazy every
 *              step; every lazy_k-th step a second blocking allreduce of the
 *              lazy layers' accumulated gradients plus the top-most lazy
 *              layer's latest gradient (the k rule's input), then their
 *              update. k is fixed here; lamina adapts it (1 up to
 *              parallel.lazy_max_k) from the gradients, which a timing model
 *              cannot know.
 *   localsgd   groups of p = N / G ranks, all blocking after backward: a
 *              reduce-scatter of the whole gradient in the group, the update
 *              of the 1/p slice, every tau-th step an allreduce of that slice
 *              over the G groups, and an allgather of the parameters in the
 *              group. No overlap, no activation exchange.
 * Gradients travel at wire_bytes per value (fp16 / bf16 halve them);
 * parameters and activations always travel as fp32 (comm/reduce.h).
 * Not modelled: the small per-step reduction of loss and stop flag, data
 * loading, the communication thread taking cycles from the compute threads,
 * network contention and the arithmetic of the reductions. */
#ifndef LMN_TRAIN_SIMULATE_H
#define LMN_TRAIN_SIMULATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "comm/cost_model.h"
#include "core/status.h"
#include "nn/model.h"
#include "nn/network.h"
#include "optim/optimizer.h"

typedef struct lmn_layer_profile {
    char name[LMN_LAYER_NAME_MAX];
    lmn_layer_kind kind;          /* linear layers may exchange activations */
    double forward_seconds;       /* one step at the measured local batch */
    double backward_seconds;
    double forward_fixed_seconds; /* the part that does not shrink with the batch */
    double backward_fixed_seconds;
    size_t param_count;
    double input_floats;          /* per sample: the layer's input ... */
    double output_floats;         /* ... and output activations */
} lmn_layer_profile;

typedef struct lmn_step_profile {
    lmn_layer_profile *layers; /* owned */
    int count;
    int measured_batch;        /* local batch the times were measured at */
    int small_batch;           /* the second batch the fixed parts come from; 0: none */
    double update_seconds;     /* optimizer update of every parameter, one step */
} lmn_step_profile;

typedef enum lmn_sim_strategy {
    LMN_SIM_ALLREDUCE,
    LMN_SIM_OVERLAP,
    LMN_SIM_MULTISTEP,
    LMN_SIM_LAZY,
    LMN_SIM_LOCALSGD,
    LMN_SIM_STRATEGY_COUNT
} lmn_sim_strategy;

const char *lmn_sim_strategy_name(lmn_sim_strategy strategy);
bool lmn_sim_strategy_from_name(const char *name, lmn_sim_strategy *out);

typedef struct lmn_sim_options {
    lmn_link link;
    lmn_collective_algorithm algorithm; /* lamina's ordered reductions are alltoallv +
                                         * allgatherv: ring costs (the default) */
    int global_batch;  /* B, the same at every rank count */
    int wire_bytes;    /* bytes per gradient value: 4 (fp32) or 2 (fp16, bf16) */
    double bucket_mb;  /* overlap: a bucket closes once it holds this many MiB of fp32
                        * gradient; 0 = one per layer */
    int fc_exchange;   /* multistep: -1 exchange activations where that moves fewer
                        * bytes, 0 never, 1 always (parallel.fc_exchange) */
    int lazy_layers;   /* lazy: layers with parameters, from the input side */
    int lazy_k;        /* lazy: steps between their reductions */
    int groups;        /* localsgd: G, dividing the rank count; 0 = one rank per group */
    int tau;           /* localsgd: steps between averages across groups */
} lmn_sim_options;

/* link 10 Gbit/s + 5 us, ring, batch 64, fp32, per-layer reduction,
 * exchange by bytes, lazy 8 layers every 4 steps, local SGD with one rank
 * per group averaging every 8 steps. */
lmn_sim_options lmn_sim_options_default(void);

/* How a layer's parameters are synchronised. */
typedef enum lmn_sim_path {
    LMN_SIM_PATH_NONE,        /* no parameters */
    LMN_SIM_PATH_GRADIENT,    /* its gradient (or parameter slices) */
    LMN_SIM_PATH_ACTIVATIONS  /* multistep: activations + errors, then weight rows */
} lmn_sim_path;

typedef struct lmn_sim_result {
    int ranks;
    int local_batch;          /* ceil(B / N): the busiest rank's */
    double step_seconds;      /* one step, averaged over the policy's period */
    double compute_seconds;   /* of which the compute thread computed */
    double exposed_seconds;   /* step - compute: waiting for communication */
    double comm_seconds;      /* time collectives ran (hidden or not) */
    double bytes_per_rank;    /* sent by one rank per step */
    double speedup;           /* single-rank step at batch B / step_seconds */
    double efficiency;        /* speedup / N */
    int buckets;              /* overlap: reductions per step */
    int groups;               /* localsgd: G */
} lmn_sim_result;

/* Simulates `strategy` at `ranks` ranks. paths (may be NULL) receives
 * profile->count entries: each layer's path. LMN_ERR_ARG for options out of
 * range (a zero batch, groups that do not divide ranks, lazy_layers larger
 * than the layers with parameters), naming the option. */
lmn_status lmn_simulate(const lmn_step_profile *profile, lmn_sim_strategy strategy, int ranks,
                        const lmn_sim_options *options, lmn_sim_result *result,
                        lmn_sim_path *paths);

/* A layer's time at local batch `batch` (the scaling rule above). */
double lmn_sim_scaled_seconds(double measured, double fixed, int measured_batch, int batch);

/* The step of one rank holding the whole global batch: no communication. */
double lmn_sim_single_rank_seconds(const lmn_step_profile *profile, int global_batch);

/* Fills the layers of *out from net (names, kinds, parameter counts,
 * activation sizes) with zero times. Free with lmn_step_profile_free. */
lmn_status lmn_step_profile_from_network(const lmn_network *net, lmn_step_profile *out);

/* Measures net: `warmup` untimed then `steps` timed training steps
 * (train/step.h's step: forward, softmax cross-entropy on random labels,
 * backward) on random inputs at local batch `batch`, interleaved with
 * steps at a small batch (batch / 8, at least 1) that give each layer's
 * fixed part, and `steps`
 * optimizer updates (learning rate 0: parameters do not change). Every
 * time is the median over the steps. Enables net's profile. */
lmn_status lmn_step_profile_measure(lmn_network *net, lmn_optimizer *optimizer, int batch,
                                    int steps, int warmup, uint64_t seed,
                                    lmn_step_profile *out);

/* How many layers have parameters (what lazy_layers counts). */
int lmn_step_profile_param_layers(const lmn_step_profile *profile);
/* Convolution layers with parameters (lazy update's candidates). */
int lmn_step_profile_conv_layers(const lmn_step_profile *profile);

void lmn_step_profile_free(lmn_step_profile *profile);

#endif
