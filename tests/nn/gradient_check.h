/* Finite-difference checks of a network's parameter gradients, shared by
 * the nn gradient tests. The caller supplies the mean loss of its problem
 * (a function of the network's current parameters). */
#ifndef LMN_TESTS_NN_GRADIENT_CHECK_H
#define LMN_TESTS_NN_GRADIENT_CHECK_H

#include <math.h>
#include <stdio.h>

#include "nn/network.h"

static const double FD_REL_TOL = 2e-2;

typedef double (*gc_mean_loss)(const void *problem);

/* Outcome of comparing one parameter's analytic gradient with finite
 * differences: agrees, disagrees, or skipped because the loss has a kink
 * (ReLU, leaky ReLU or max-pool switch) within eps of the current value. */
typedef enum { ENTRY_AGREES, ENTRY_DISAGREES, ENTRY_KINK } entry_outcome;

static entry_outcome compare_at(gc_mean_loss loss, const void *problem, float *value, double eps,
                                double analytic, double scale, double *central)
{
    const float saved = *value;
    const double base = loss(problem);
    *value = (float)(saved + eps);
    const double up = loss(problem);
    *value = (float)(saved - eps);
    const double down = loss(problem);
    *value = saved;
    /* The steps actually taken, after rounding to float. */
    const double step_up = (double)(float)(saved + eps) - saved;
    const double step_down = saved - (double)(float)(saved - eps);
    const double forward_slope = (up - base) / step_up, backward_slope = (base - down) / step_down;
    *central = (up - down) / (step_up + step_down);
    /* float round-off of the loss, amplified by 1 / eps */
    const double noise = 1e-3 * scale + 2e-7 / eps;
    /* One-sided slopes of a smooth loss agree to O(eps * curvature); a
     * kink right next to the value makes them jump. */
    if (fabs(forward_slope - backward_slope) > 0.2 * fabs(*central) + 2.0 * noise) return ENTRY_KINK;
    return fabs(analytic - *central) <= FD_REL_TOL * fmax(fabs(analytic), fabs(*central)) + noise
               ? ENTRY_AGREES
               : ENTRY_DISAGREES;
}

/* A parameter feeding many ReLUs (a bias) may cross a few small kinks
 * within eps without the one-sided slopes showing it; their effect
 * shrinks with eps while a wrong gradient does not, so a mismatch is
 * retried with a smaller step before it counts. */
static entry_outcome check_entry(gc_mean_loss loss, const void *problem, lmn_network *net,
                                 const lmn_tensor_view *view, size_t k, double analytic,
                                 double scale)
{
    static const double steps[] = {1e-3, 2.5e-4};
    float *value = net->params + view->offset + k;
    entry_outcome outcome = ENTRY_KINK;
    double central = 0.0;
    for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
        outcome = compare_at(loss, problem, value, steps[s], analytic, scale, &central);
        if (outcome == ENTRY_AGREES) return outcome;
    }
    if (outcome == ENTRY_DISAGREES)
        fprintf(stderr, "  %s[%zu]: backprop %.7g vs finite difference %.7g\n", view->name, k,
                analytic, central);
    return outcome;
}

/* Largest |gradient| of a tensor: the scale against which small entries
 * are judged (float round-off of the loss limits their accuracy). */
static double tensor_scale(const lmn_network *net, const lmn_tensor_view *view)
{
    double largest = 0.0;
    for (size_t k = 0; k < view->count; k++)
        largest = fmax(largest, fabs((double)net->grads[view->offset + k]));
    return largest;
}

#endif
