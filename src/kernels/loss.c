/* Losses over dense [N][K] outputs: the returned value is the sum over the
 * batch, dout the gradient of that sum times grad_scale. The loops are
 * serial on purpose: the work is tiny next to the layers, and a fixed
 * summation order keeps the loss bit-identical for any thread count. */
#include "kernels/loss.h"

#include <math.h>
#include <stdbool.h>
#include <stddef.h>

/* Loss of one row (and its gradient when drow is not NULL). */
static double xent_row(const float *z, int32_t label, int k, float grad_scale, float *drow,
                       int *argmax)
{
    int best = 0;
    for (int j = 1; j < k; j++)
        if (z[j] > z[best]) best = j;
    /* Shifting by the maximum keeps exp() from overflowing. */
    const double shift = z[best];
    double sum_exp = 0.0;
    for (int j = 0; j < k; j++) sum_exp += exp((double)z[j] - shift);
    const double log_sum = shift + log(sum_exp);
    if (drow) {
        for (int j = 0; j < k; j++) {
            const double prob = exp((double)z[j] - log_sum);
            drow[j] = (float)((prob - (j == label ? 1.0 : 0.0)) * grad_scale);
        }
    }
    *argmax = best;
    return log_sum - z[label];
}

double lmn_softmax_xent(const float *logits, const int32_t *labels, int n, int k,
                        float grad_scale, float *dout, int64_t *correct)
{
    double total = 0.0;
    int64_t hits = 0;
    for (int row = 0; row < n; row++) {
        if (labels[row] < 0 || labels[row] >= k) {
            /* Out-of-range label: a NaN loss the caller's finiteness check
             * reports, instead of reading outside the row. */
            total = NAN;
            if (dout)
                for (int j = 0; j < k; j++) dout[(size_t)row * k + j] = 0.0f;
            continue;
        }
        int argmax = 0;
        total += xent_row(logits + (size_t)row * k, labels[row], k, grad_scale,
                          dout ? dout + (size_t)row * k : NULL, &argmax);
        hits += argmax == labels[row];
    }
    if (correct) *correct = hits;
    return total;
}

/* Mean over the K outputs of a per-element penalty: squared (MSE) or
 * absolute (MAE, subgradient 0 at 0). */
static double regression_loss(const float *y, const float *target, int n, int k, float grad_scale,
                              float *dout, bool absolute)
{
    double total = 0.0;
    for (int row = 0; row < n; row++) {
        double sum = 0.0;
        for (int j = 0; j < k; j++) {
            const size_t at = (size_t)row * k + j;
            const double diff = (double)y[at] - target[at];
            const double sign = diff > 0.0 ? 1.0 : (diff < 0.0 ? -1.0 : 0.0);
            sum += absolute ? fabs(diff) : diff * diff;
            if (dout) dout[at] = (float)((absolute ? sign : 2.0 * diff) / k * grad_scale);
        }
        total += sum / k;
    }
    return total;
}

double lmn_mse_loss(const float *y, const float *target, int n, int k, float grad_scale,
                    float *dout)
{
    return regression_loss(y, target, n, k, grad_scale, dout, false);
}

double lmn_mae_loss(const float *y, const float *target, int n, int k, float grad_scale,
                    float *dout)
{
    return regression_loss(y, target, n, k, grad_scale, dout, true);
}
