/* What the federated round loop, its checkpoints and its aggregators
 * share: the state of one `lamina fl` run. Not part of the library's
 * interface. */
#ifndef LMN_TRAIN_FEDERATED_INTERNAL_H
#define LMN_TRAIN_FEDERATED_INTERNAL_H

#include "train/trainer.h"

typedef struct fl_run fl_run;

/* A federated method, one entry of the aggregator table (train/agg.c; one
 * file train/agg_<name>.c each), as the sync policies are for
 * data-parallel training. The round loop (federated.c) owns sampling,
 * checkpoints, stop signals and metrics; an aggregator says how a round
 * trains and averages and what the server does with the average. */
typedef struct fl_aggregator {
    lmn_aggregator_kind kind;
    int server_moments;   /* server optimizer vectors kept between rounds: 0, 1 or 2 */
    bool layer_intervals; /* FedLAMA: per-tensor intervals and discrepancies */
    bool client_models;   /* keeps every active client's model through the round */
    /* The round's local training and aggregation into run->global. */
    lmn_status (*round)(fl_run *run, int round, double lr);
    /* Added to a client's gradient after backward (may be NULL). */
    void (*adjust_gradient)(fl_run *run);
    /* The server model over [begin, end) from the round's average. */
    void (*server_update)(fl_run *run, size_t begin, size_t end);
    /* After tensor k was averaged, before the server update (may be NULL). */
    void (*after_average)(fl_run *run, int k);
    /* After the round's metrics (may be NULL). */
    void (*end_round)(fl_run *run, int round);
} fl_aggregator;

extern const fl_aggregator lmn_fl_fedavg, lmn_fl_fedlama, lmn_fl_partial, lmn_fl_fedprox,
    lmn_fl_fedavgm, lmn_fl_fedadam;

/* The table entry of an aggregator kind. */
const fl_aggregator *lmn_fl_aggregator(lmn_aggregator_kind kind);

/* A run of consecutive learnable tensors aggregated together. */
typedef struct tensor_run {
    size_t begin, end; /* in the flat parameter buffer */
} tensor_run;

struct fl_run {
    lmn_trainer *t;
    const lmn_fl_settings *fl;
    const fl_aggregator *agg;
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
};

/* Client c lives on rank c mod P. */
static inline bool owns(const fl_run *run, int client)
{
    return client % run->t->comm->size == run->t->comm->rank;
}

static inline const lmn_tensor_view *view(const fl_run *run, int k)
{
    return &run->t->net->tensors[k];
}

/* federated.c's pieces of a round, for the aggregators. */

/* Every active client trains its local steps, then one aggregation of the
 * scheduled tensors (FedAvg's round, and that of most methods). */
lmn_status lmn_fl_train_then_aggregate(fl_run *run, int round, double lr);
/* One local step of `client` on its next batch (the trainer's step:
 * gather, forward, loss, backward, then the aggregator's gradient hook and
 * the optimizer); returns its mean loss. */
lmn_status lmn_fl_local_step(fl_run *run, int client, int round, int step, double lr, double *loss);
/* The client optimizer from state (NULL: zeros), and back into *slot. */
void lmn_fl_load_optimizer(fl_run *run, const float *state);
lmn_status lmn_fl_save_optimizer(fl_run *run, float **slot);
/* The server model is the round's average (FedAvg's server update). */
void lmn_fl_server_average(fl_run *run, size_t begin, size_t end);

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
