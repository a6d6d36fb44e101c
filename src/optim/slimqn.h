/* SLIM-QN (ALGORITHMS.md 14): L-BFGS curvature pairs from momentum
 * averages of the parameters and gradients, damped, with the step clipped
 * and passed through SGD momentum.
 *
 * Distributed: each rank holds the averages and the history of its own
 * slices of the parameter vector (spans, in the layout of the parameter
 * buffer; the sync policy gives them, the slices multistep updates), so a
 * rank's memory is (2 M + 7) n / P floats. Every dot product is a partial
 * exact sum (optim/exact_dot.h) reduced in one allreduce per stage of the
 * recursion, which makes the pairs and the step the same bits whatever
 * the rank count. A step updates the parameters and the momentum only
 * inside this rank's spans; the caller gathers the rest. */
#ifndef LMN_OPTIM_SLIMQN_H
#define LMN_OPTIM_SLIMQN_H

#include "comm/comm.h"
#include "io/metrics.h"
#include "optim/optimizer.h"

typedef struct lmn_slimqn lmn_slimqn;

typedef struct lmn_slimqn_span {
    size_t begin, end; /* [begin, end) of the parameter buffer */
} lmn_slimqn_span;

/* What metrics report. */
typedef struct lmn_slimqn_report {
    int pairs;         /* held now */
    double damping;    /* phi of the last pair offered (1: none yet) */
    double clip;       /* nu of the last step (1: not clipped) */
    int64_t rejected;  /* pairs refused (s.y < rho_min) so far */
    double seconds;    /* inside lmn_slimqn_step, cumulative */
} lmn_slimqn_report;

lmn_status lmn_slimqn_create(const lmn_slimqn_config *config, lmn_slimqn **out);
void lmn_slimqn_free(lmn_slimqn *qn);

/* The rule for the memory SLIM-QN allocates after lmn_slimqn_create, in
 * bytes on rank `rank` of `ranks`: its slice of the averages, scratch and
 * history ((2 history + 7) floats per parameter it owns, at most
 * ceil(total / ranks) + one per range), allocated at the first step, and
 * on rank 0 the state gathered for a checkpoint ((2 history + 5) x total
 * floats). describe (size bytes, may be NULL) receives what they are. */
size_t lmn_slimqn_state_bytes(const lmn_slimqn_config *config, size_t total, int ranges, int rank,
                              int ranks, char *describe, size_t size);

/* Sets this rank's spans (ascending, disjoint; every rank's together cover
 * the buffer once) and allocates the state for them. Once per run: a
 * restored checkpoint's state is cut to these spans here. */
lmn_status lmn_slimqn_set_spans(lmn_optimizer *opt, const lmn_slimqn_span *spans, int count);
bool lmn_slimqn_has_spans(const lmn_slimqn *qn);

/* One step with learning rate lr from the averaged gradient: averages, a
 * pair every `interval` steps, the direction, momentum and the update of
 * params and opt->velocity inside this rank's spans. Collective over comm
 * (NULL: one process). Does not call lmn_optimizer_finish_step. */
lmn_status lmn_slimqn_step(lmn_optimizer *opt, float *params, const float *grads, double lr,
                           lmn_comm *comm);

/* The two building blocks of a step, on this rank's packed slice (the
 * values of its spans in order, lmn_slimqn_owned of them); tests pin them.
 * offer_pair damps y in place and keeps the pair if s.y >= rho_min;
 * direction writes d = H g (the two-loop recursion; g itself while no
 * pair is held) and the clip factor nu = min(1, sqrt(clip / raw.d)), raw
 * being the gradient without weight decay (g itself when there is none). */
lmn_status lmn_slimqn_offer_pair(lmn_slimqn *qn, const float *s, float *y, lmn_comm *comm,
                                 bool *kept);
lmn_status lmn_slimqn_direction(lmn_slimqn *qn, const float *g, const float *raw, float *d,
                                lmn_comm *comm, double *nu);
size_t lmn_slimqn_owned(const lmn_slimqn *qn);
/* Pair k (0 = oldest) of this rank's slice. */
void lmn_slimqn_pair(const lmn_slimqn *qn, int k, const float **s, const float **y);

void lmn_slimqn_report_get(const lmn_slimqn *qn, lmn_slimqn_report *report);
/* Adds slimqn_pairs, slimqn_damping, slimqn_clip, slimqn_rejected and
 * optimizer_share (this rank's time in lmn_slimqn_step since the last
 * call over train_seconds) to the metrics record being written. */
lmn_status lmn_slimqn_write_metrics(lmn_slimqn *qn, lmn_metrics *metrics,
                                    double train_seconds);

/* Checkpoints. The state in the layout of the whole buffer: scalars
 * (lmn_slimqn_scalar_count: LMN_SLIMQN_SCALARS then s.y of each pair) and
 * vectors (4 + 2 pairs once a step was taken, else none; each of
 * opt->total values: pbar, gbar, their values at the last pair, then s and
 * y of each pair from the oldest). lmn_slimqn_gather is collective and
 * keeps the state on rank 0 (NULL comm: one process) until
 * lmn_slimqn_saved reads it for the writer and lmn_slimqn_drop_saved. */
enum { LMN_SLIMQN_SCALARS = 8 };
size_t lmn_slimqn_scalar_count(const lmn_slimqn *qn);
lmn_status lmn_slimqn_gather(lmn_optimizer *opt, lmn_comm *comm);
/* LMN_ERR_ARG when nothing was gathered. */
lmn_status lmn_slimqn_saved(const lmn_slimqn *qn, const double **scalars, const float **vectors,
                            int *vector_count);
void lmn_slimqn_drop_saved(lmn_slimqn *qn);
/* How many vectors the scalars promise, or LMN_ERR_FORMAT naming what does
 * not fit this optimizer (history, parameter count, pairs). */
lmn_status lmn_slimqn_check_state(const lmn_optimizer *opt, const double *scalars, size_t count,
                                  int *vector_count);
/* Takes the state back (kept until lmn_slimqn_set_spans cuts it to this
 * rank's slice). Takes ownership of vectors (lmn_alloc_floats or NULL);
 * the scalars must have passed lmn_slimqn_check_state. */
void lmn_slimqn_restore(lmn_optimizer *opt, const double *scalars, float *vectors);

#endif
