/* Shared between the sync policy implementations (train/sync_*.c). */
#ifndef LMN_TRAIN_SYNC_INTERNAL_H
#define LMN_TRAIN_SYNC_INTERNAL_H

#include <stdint.h>
#include <stdio.h>

#include "comm/comm_thread.h"
#include "comm/reduce.h"
#include "train/sync.h"

typedef struct lmn_layer_traffic {
    char what[48];         /* "gradient allreduce", "lazy, every k steps", ... */
    double bytes_per_step; /* this rank, average */
} lmn_layer_traffic;

typedef struct lmn_sync_policy {
    lmn_status (*init)(lmn_sync *sync);
    lmn_status (*before_forward)(lmn_sync *sync, int layer);   /* may be NULL */
    lmn_status (*after_backward)(lmn_sync *sync, int layer);   /* may be NULL */
    lmn_status (*step)(lmn_sync *sync, double lr);
    lmn_status (*settle)(lmn_sync *sync);                      /* may be NULL */
    void (*release)(lmn_sync *sync);                           /* may be NULL */
    size_t (*state_count)(const lmn_sync *sync);               /* may be NULL */
    void (*state_save)(const lmn_sync *sync, double *state);
    void (*state_restore)(lmn_sync *sync, const double *state);
    lmn_layer_traffic (*traffic)(const lmn_sync *sync, int layer, int global_batch);
} lmn_sync_policy;

struct lmn_sync {
    lmn_parallel_settings settings;
    lmn_network *net;
    lmn_optimizer *optimizer;
    lmn_comm *comm;          /* borrowed: the training communicator */
    int global_batch;        /* as configured */
    lmn_reducer reducer;     /* compute thread, on comm */
    /* The communication thread and its own communicator (policies that
     * overlap create them with lmn_sync_start_thread). */
    lmn_comm_thread *thread;
    lmn_comm *thread_comm;
    lmn_reducer thread_reducer;
    lmn_comm *extra_comms[2]; /* a policy's own communicators, counted in the totals */
    int layers;
    size_t *begin, *end;     /* per layer: its range of the parameter buffer */
    double exposed_seconds;
    const char *state_name;  /* adapted quantity for metrics, or NULL */
    double state_value;
    const lmn_sync_policy *policy;
    void *impl;              /* the policy's own state */
};

extern const lmn_sync_policy lmn_sync_allreduce_policy, lmn_sync_overlap_policy,
    lmn_sync_multistep_policy, lmn_sync_lazy_policy, lmn_sync_localsgd_policy;

lmn_status lmn_sync_start_thread(lmn_sync *sync);
/* SLIM-QN (train/sync_slimqn.c): one step on this rank's slices from the
 * whole averaged gradient, then the parameters allgathered; settle
 * gathers the momentum (allreduce and overlap). */
lmn_status lmn_sync_slimqn_update(lmn_sync *sync, double lr);
lmn_status lmn_sync_slimqn_settle(lmn_sync *sync);
/* Waits for a ticket of the communication thread; the wait is exposed time. */
lmn_status lmn_sync_wait(lmn_sync *sync, uint64_t ticket);
/* A blocking collective on the compute thread: charge its time as exposed. */
void lmn_sync_charge_exposed(lmn_sync *sync, double start);
/* Bytes a rank sends in an ordered allreduce of count values on the wire. */
double lmn_sync_allreduce_bytes(const lmn_sync *sync, double count, int ranks);
/* Layer has parameters. */
static inline size_t lmn_sync_layer_size(const lmn_sync *s, int layer)
{
    return s->end[layer] - s->begin[layer];
}

/* An lmn_layer_describe_fn over a lmn_sync (ctx) for the per-layer plans. */
void lmn_sync_describe_layer(const void *ctx, int layer, lmn_layer_kind *kind, size_t *params);

#endif
