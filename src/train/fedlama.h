/* FedLAMA's layer-wise interval rule (ALGORITHMS.md section 8). */
#ifndef LMN_TRAIN_FEDLAMA_H
#define LMN_TRAIN_FEDLAMA_H

#include <stdbool.h>
#include <stddef.h>

typedef struct lmn_lama_tensor {
    double d;    /* D / (m tau' dim): discrepancy per step and element */
    double dt;   /* D / (m tau') */
    size_t dim;  /* elements */
    bool kernel; /* a conv / linear weight: the only tensors ever relaxed */
} lmn_lama_tensor;

/* Walks the kernel tensors by d ascending, accumulating
 *   delta = sum(d dim) / sum_all(dt)   and   lambda = sum(dim) / sum_kernels(dim),
 * marking each visited tensor relaxed and stopping at (and including) the
 * first with delta > 1 - lambda. Returns how many were relaxed; relaxed[i]
 * is set for those and cleared for all others. Ties keep tensor order. */
int lmn_fedlama_relax(const lmn_lama_tensor *tensors, int count, bool *relaxed);

#endif
