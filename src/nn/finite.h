/* Non-finite (NaN, infinity) checks of model tensors: a run must never
 * train on, save or load a model it cannot vouch for. */
#ifndef LMN_NN_FINITE_H
#define LMN_NN_FINITE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/status.h"
#include "nn/network.h"

/* Whether all count values are finite. Branch-free over the bits, so it
 * vectorises: cheap enough to run on every step's gradients. */
bool lmn_floats_finite(const float *x, size_t count);

/* LMN_OK when the parameters and running statistics are finite; else
 * LMN_ERR_NUMERIC naming the first tensor, element and value, prefixed by
 * `what` (e.g. "refusing to write checkpoint 'x'"). */
lmn_status lmn_network_check_finite(const lmn_network *net, const char *what);

/* The same for the gradients (net->grads, laid out as params). */
lmn_status lmn_network_check_grads_finite(const lmn_network *net, const char *what);

#endif
