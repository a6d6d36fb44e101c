/* The interval rule of layer-wise lazy update (ALGORITHMS.md 3), shared by
 * lazy's k and (as lamina's rule) adaptive local SGD's tau.
 *
 * g is the latest step's contribution and G the sum over the interval k:
 *   angle     = ||g||^2 <= g . G      (the interval kept a direction)
 *   magnitude = k ||g||^2 <= ||G||^2  (and made progress)
 * Both true: k + 1 (capped at max_k). Both false: max(1, k - 1).
 * Otherwise k is unchanged. */
#ifndef LMN_TRAIN_ADAPT_INTERVAL_H
#define LMN_TRAIN_ADAPT_INTERVAL_H

static inline int lmn_adapt_interval(int k, double g_dot_g, double g_dot_sum, double sum_dot_sum,
                                     int max_k)
{
    const int angle = g_dot_g <= g_dot_sum, magnitude = (double)k * g_dot_g <= sum_dot_sum;
    if (angle && magnitude) return k + 1 < max_k ? k + 1 : max_k;
    if (!angle && !magnitude) return k > 1 ? k - 1 : 1;
    return k;
}

#endif
