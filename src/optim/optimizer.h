/* Optimizers over a flat parameter buffer.
 *
 * The buffer is described by ranges (one per parameter tensor) that say
 * whether weight decay applies. State (momentum, Adam moments) has the
 * same layout as the parameters, so a caller may update any sub-range
 * [begin, end) independently — what a sharded update needs. */
#ifndef LMN_OPTIM_OPTIMIZER_H
#define LMN_OPTIM_OPTIMIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

typedef enum lmn_optimizer_kind {
    LMN_OPT_SGD, LMN_OPT_ADAM, LMN_OPT_ADAMW, LMN_OPT_SLIMQN
} lmn_optimizer_kind;

/* SLIM-QN (ALGORITHMS.md 14; optim/slimqn.h). */
typedef struct lmn_slimqn_config {
    int history;           /* M: pairs kept */
    int interval;          /* L: steps between pairs */
    double param_momentum; /* averaging of the parameters */
    double grad_momentum;  /* averaging of the gradients */
    double damping;        /* d: phi <= 1 - d */
    double clip;           /* k: nu = min(1, sqrt(k / g.d)) */
    double rho_min;        /* a pair is kept only if s.y >= rho_min */
} lmn_slimqn_config;

typedef struct lmn_optimizer_config {
    lmn_optimizer_kind kind;
    double momentum;     /* SGD */
    bool nesterov;       /* SGD */
    double weight_decay; /* L2 for sgd / adam, decoupled for adamw */
    double beta1, beta2, epsilon; /* Adam */
    lmn_slimqn_config slimqn;
} lmn_optimizer_config;

typedef struct lmn_param_range {
    size_t offset, count;
    bool decay; /* weight decay applies to this tensor */
} lmn_param_range;

typedef struct lmn_optimizer {
    lmn_optimizer_config config;
    lmn_param_range *ranges;
    int range_count;
    size_t total;
    float *velocity; /* SGD momentum, or Adam first moment */
    float *second;   /* Adam second moment */
    int64_t steps;   /* completed updates (Adam bias correction) */
    struct lmn_slimqn *qn; /* SLIM-QN's averages and history, or NULL */
} lmn_optimizer;

/* Creates an optimizer for `total` parameters described by ranges (copied).
 * Free with lmn_optimizer_free. */
lmn_status lmn_optimizer_create(const lmn_optimizer_config *config, const lmn_param_range *ranges,
                                int range_count, size_t total, lmn_optimizer **out);
void lmn_optimizer_free(lmn_optimizer *opt);

/* Applies one update with learning rate lr to params[begin, end) from
 * grads (the averaged gradient, same layout). Not for SLIM-QN, whose step
 * needs the whole vector at once (lmn_slimqn_step). */
void lmn_optimizer_update(lmn_optimizer *opt, float *params, const float *grads, double lr,
                          size_t begin, size_t end);
/* Marks the end of an optimizer step (advances Adam's bias correction). */
void lmn_optimizer_finish_step(lmn_optimizer *opt);

/* Bytes of state the optimizer allocates later than lmn_optimizer_create
 * on rank `rank` of `ranks` (SLIM-QN: optim/slimqn.h), for a memory budget
 * to count up front; describe (size bytes, may be NULL) receives what they
 * are, or "" when there are none. */
size_t lmn_optimizer_pending_bytes(const lmn_optimizer *opt, int rank, int ranks, char *describe,
                                   size_t size);

/* The defaults of ALGORITHMS.md 14. */
lmn_slimqn_config lmn_slimqn_defaults(void);

/* Names accepted by configuration ("sgd", "adam", "adamw", "slimqn"). */
const char *const *lmn_optimizer_names(void);

#endif
