/* Per-batch-size execution plan of a network (internal to nn).
 *
 * Backend ops are built for a fixed batch size, so a network keeps one
 * plan for each batch size it has seen (the full local batch, a short
 * last batch, the evaluation batch). A plan owns the ops, activations,
 * gradients and scratch buffers of every layer. */
#ifndef LMN_NN_PLAN_H
#define LMN_NN_PLAN_H

#include <stdint.h>

#include "nn/network.h"

typedef struct lmn_plan_node {
    lmn_op *op;
    lmn_act_desc in_desc;  /* what the layer reads (after any conversion) */
    lmn_act_desc out_desc; /* what the layer writes */
    float *y, *dy;
    float *converted;      /* input (add: skip input) in in_desc's layout when the producer's differs */
    /* A kind without LMN_LAYER_READS_BF16 reading a bf16 activation reads
     * this dense fp32 copy of it (in_desc); its dx is converted back. */
    float *input_copy;
    void *workspace;       /* max-pool positions */
    float *batch_mean, *batch_var;
    uint8_t *mask;         /* dropout */
    bool has_grad;         /* dy holds a gradient in the current backward */
    /* An add read only by the relu right after it writes relu(a + b) into
     * that relu's y in one pass (its own y stays unwritten; the add's
     * backward never reads it); the relu's forward then does nothing. */
    bool add_writes_relu, written_by_add;
} lmn_plan_node;

struct lmn_plan {
    int batch;
    lmn_act_desc input_desc;
    const float *last_input; /* input of the latest training forward (caller-owned) */
    lmn_plan_node *nodes;
    float *output;   /* dense copy of the last layer when its layout is not dense */
    float *scratch;  /* gradient staging, large enough for any activation */
    float *scratch2;
    size_t scratch_floats;
};

/* A dense desc (NCHW, or NCDHW when desc->d > 0) of desc's logical shape. */
lmn_act_desc lmn_plan_dense_like(const lmn_act_desc *desc);
/* Whether desc is dense (no layout, or the backend's layout equals NCHW). */
bool lmn_plan_is_dense(const lmn_backend *be, const lmn_act_desc *desc);

/* The desc of what layer `input` writes (LMN_INPUT: the plan's input). */
const lmn_act_desc *lmn_plan_producer_desc(const lmn_plan *plan, int input);

/* The plan for this batch size, created on first use. */
lmn_status lmn_plan_for_batch(lmn_network *net, int batch, lmn_plan **out);
void lmn_plan_free(lmn_network *net, lmn_plan *plan);

#endif
