/* Sync policies: what is synchronised across ranks, per layer and per step
 * (DESIGN.md "The one idea"). The training loop is the same for every
 * policy; it calls the policy after each backward pass, and the policy's
 * per-layer hooks (nn/network.h) run inside the passes:
 *
 *   allreduce  every layer's gradient after backward, then the update;
 *   overlap    each layer's (or bucket's) gradient reduced on the
 *              communication thread while backward continues; the update
 *              deferred to the next forward, right before the layer runs;
 *   multistep  reduce-scatter, sharded update, allgather of parameters
 *              (overlapping the next forward); fully connected layers may
 *              exchange activations and errors instead of gradients;
 *   lazy       the first parallel.lazy_layers convolutions accumulate gradients
 *              locally and sync every k steps (k adapted at run time);
 *   localsgd   groups train with multistep inside the group and average
 *              parameters across groups every tau steps.
 *
 * Every reduction is an ordered one (comm/reduce.h), so allreduce, overlap
 * and lazy with k = 1 give the same bits. */
#ifndef LMN_TRAIN_SYNC_H
#define LMN_TRAIN_SYNC_H

#include <stdio.h>

#include "comm/comm.h"
#include "nn/network.h"
#include "optim/optimizer.h"
#include "train/parallel_settings.h"

typedef struct lmn_sync lmn_sync;

typedef struct lmn_sync_totals {
    double bytes;           /* sent by this rank, cumulative */
    double seconds;         /* inside collectives (any thread) */
    double exposed_seconds; /* the compute path blocked on communication */
} lmn_sync_totals;

/* Installs the policy's hooks on net. global_batch: the configured batch
 * (multistep's per-layer choice compares bytes at this batch). Validates the settings against the
 * network and rank count (errors name the key). Collective over comm. */
lmn_status lmn_sync_create(const lmn_parallel_settings *settings, lmn_network *net,
                           lmn_optimizer *optimizer, lmn_comm *comm, int global_batch,
                           lmn_sync **out);
void lmn_sync_free(lmn_sync *sync);
/* The communication thread's communicator (overlap), or NULL: the
 * watchdog reads its collective record. */
lmn_comm *lmn_sync_thread_comm(const lmn_sync *sync);

/* After the backward pass of a training step whose learning rate is lr:
 * reduces and updates what this step's policy does now; the rest happens
 * in the next forward pass or at lmn_sync_settle. */
lmn_status lmn_sync_step(lmn_sync *sync, double lr);
/* Finishes every pending reduction and update, so that all ranks hold the
 * same parameters: before evaluation, checkpoints and the end of a run
 * (localsgd averages the models here). */
lmn_status lmn_sync_settle(lmn_sync *sync);

void lmn_sync_totals_get(const lmn_sync *sync, lmn_sync_totals *totals);
/* The policy's adapted quantity for metrics ("lazy_k", "tau"), or NULL. */
const char *lmn_sync_state_name(const lmn_sync *sync, double *value);

/* State that checkpoints carry (lazy accumulators, intervals). */
size_t lmn_sync_state_count(const lmn_sync *sync);
void lmn_sync_state_save(const lmn_sync *sync, double *state);
void lmn_sync_state_restore(lmn_sync *sync, const double *state);

/* Prints the per-layer plan: parameters, what is sent and bytes per step. */
void lmn_sync_describe(const lmn_sync *sync, int global_batch, FILE *out);

/* The policies' per-layer rules, which the simulator (simulate.c) asks
 * too, so that it models the plan a policy makes. */

/* multistep: whether a linear layer (weight [out][in], plus bias[out])
 * exchanges the global batch's activations and errors (fp32) instead of
 * reducing its gradient (wire_bytes a value). fc_exchange as
 * parallel.fc_exchange: 1 always, 0 never, -1 when that moves fewer bytes. */
bool lmn_multistep_exchanges(int fc_exchange, int global_batch, double in, double out, bool bias,
                             int wire_bytes);

/* lazy: whether a layer is a candidate for lazy updates (a convolution
 * with parameters; the first parallel.lazy_layers of them are lazy). */
bool lmn_lazy_candidate(lmn_layer_kind kind, size_t params);

/* lazy: how many layers are lazy on a model with `candidates` of them:
 * the default (given false) shrinks to fit; an explicit count is kept (the
 * caller refuses one beyond the candidates). */
int lmn_lazy_layers_fit(int lazy_layers, bool given, int candidates);

/* localsgd: the group count; parallel.groups 0 means one rank a group. */
int lmn_localsgd_groups(int groups, int ranks);

/* What the plans below read of layer `layer` of a network or a profile:
 * its kind and parameter count. */
typedef void lmn_layer_describe_fn(const void *ctx, int layer, lmn_layer_kind *kind,
                                   size_t *params);

/* overlap: from the top of the network, consecutive layers with
 * parameters fuse into a bucket until it holds bucket_mb MiB of fp32
 * gradient. bucket[layer] gets the layer's bucket in issue order (top
 * first), or -1 without parameters; returns the bucket count. */
int lmn_overlap_buckets(lmn_layer_describe_fn *describe, const void *ctx, int layers,
                        double bucket_mb, int *bucket);

/* lazy: the top-most lazy layer, the lazy_layers-th candidate from the
 * bottom (layers [0, top] hold the lazy parameters: the convolutions and
 * the layers with parameters between them), or -1 for none. */
int lmn_lazy_top_layer(lmn_layer_describe_fn *describe, const void *ctx, int layers,
                       int lazy_layers);

#endif
