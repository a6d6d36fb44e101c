/* What the federated round loop, its checkpoints and its aggregators
 * share: the state of one `lamina fl` run. Not part of the library's
 * interface. */
#ifndef LMN_TRAIN_FEDERATED_INTERNAL_H
#define LMN_TRAIN_FEDERATED_INTERNAL_H

#include "train/trainer.h"

/* A run of consecutive learnable tensors aggregated together. */
typedef struct tensor_run {
    size_t begin, end; /* in the flat parameter buffer */
} tensor_run;

typedef struct fl_run {
    lmn_trainer *t;
    const lmn_fl_settings *fl;
    lmn_partition *partition;
    int tensor_count;        /* learnable tensors (views 0..tensor_count-1) */
    int active_count;        /* M */
    int *active;             /* sorted ids of this round's clients */
    double *weights;         /* aggregation weight of each active slot */
    int64_t *positions;      /* per client: samples its stream has served */
    float *global;           /* the server model */
    float *global_state;     /* server batch-norm statistics */
    float *average;          /* this round's aggregate, as floats */
    int64_t *sums;           /* fixed-point weighted sums of client models */
    int64_t *plain_sums;     /* FedLAMA with sample weights: unweighted sums */
    int64_t *state_sums;
    float *server_m, *server_v; /* fedavgm velocity; fedadam moments */
    int *interval;           /* FedLAMA m_l per tensor */
    double *d, *dt;          /* FedLAMA discrepancies per tensor */
    bool *aggregate;         /* tensor aggregated this round */
    double *square_norms;    /* [M][tensors]: ||x||^2 of each client's tensors */
    double *client_losses;   /* [M] */
    float **store;           /* per client: its relaxed tensors, or NULL */
    size_t store_floats;     /* floats of one client's store */
    float **velocity;        /* per client: persisted optimizer state, or NULL */
    float **models;          /* partial: per active slot, the client's model */
    float **model_velocity;  /* partial: per active slot, its optimizer state */
    double cum_bytes;
    double round_bytes;
    int rounds_done;         /* rounds completed (resumed from a checkpoint) */
    double elapsed_before;   /* seconds the run had taken before it resumed */
} fl_run;

/* Client c lives on rank c mod P. */
static inline bool owns(const fl_run *run, int client)
{
    return client % run->t->comm->size == run->t->comm->rank;
}

static inline const lmn_tensor_view *view(const fl_run *run, int k)
{
    return &run->t->net->tensors[k];
}

/* Floats of a client's persisted optimizer state (fl.keep_client_optimizer). */
size_t lmn_fl_velocity_floats(const fl_run *run);

/* Floats of a client's store: its copies of the relaxed tensors. */
size_t lmn_fl_store_floats(const fl_run *run);

/* Writes ckpt-<rounds_done>.h5 into the output directory from rank 0:
 * the server model (/model), and in /policy_state everything else a
 * bit-for-bit continuation needs (fl_checkpoint.c lists it). Per-client
 * state is gathered from the ranks that own it. Collective. */
lmn_status lmn_fl_checkpoint(fl_run *run, double elapsed_seconds);

/* Restores a checkpoint written by lmn_fl_checkpoint into an allocated
 * run: every rank reads the file and keeps the clients it owns. Sets
 * run->rounds_done. Collective. */
lmn_status lmn_fl_restore(fl_run *run, const char *path);

#endif
