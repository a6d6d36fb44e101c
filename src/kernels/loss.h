/* Losses over dense [N][K] outputs. Each returns the SUM over the batch of
 * the per-sample loss and writes d(sum)/d(output) * grad_scale into dout
 * (grad_scale is typically 1 / global_batch, so the gradients of all ranks
 * sum to the gradient of the mean loss). dout may be NULL (evaluation). */
#ifndef LMN_KERNELS_LOSS_H
#define LMN_KERNELS_LOSS_H

#include <stdint.h>

/* Softmax cross-entropy with integer labels in [0, K). Numerically stable
 * (log-sum-exp). `correct` (may be NULL) receives the number of samples
 * whose arg-max equals the label. */
double lmn_softmax_xent(const float *logits, const int32_t *labels, int n, int k,
                        float grad_scale, float *dout, int64_t *correct);
/* Mean squared error per sample: sum_k (y - t)^2 / K. */
double lmn_mse_loss(const float *y, const float *target, int n, int k, float grad_scale,
                    float *dout);
/* Mean absolute error per sample: sum_k |y - t| / K (subgradient 0 at 0). */
double lmn_mae_loss(const float *y, const float *target, int n, int k, float grad_scale,
                    float *dout);

#endif
