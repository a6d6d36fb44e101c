/* Layout-independent element-wise kernels. `count` is the number of floats
 * in the buffers (lmn_act_desc.floats); padding entries are zero and stay
 * zero. All are OpenMP-parallel over count. */
#ifndef LMN_KERNELS_ELEMENTWISE_H
#define LMN_KERNELS_ELEMENTWISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/kernels.h"

/* y = max(0, x); y may alias x. */
void lmn_relu_forward(const float *x, float *y, size_t count);
/* dx = dy where y > 0, else 0; dx may alias dy. */
void lmn_relu_backward(const float *y, const float *dy, float *dx, size_t count);
/* y = a + b; y may alias a or b. */
void lmn_add_forward(const float *a, const float *b, float *y, size_t count);
/* y = max(0, a + b): an add and the relu after it in one pass, bit for bit
 * the two kernels in turn; y may alias a or b. */
void lmn_add_relu_forward(const float *a, const float *b, float *y, size_t count);
/* y = x where x > 0, else slope * x; y may alias x. */
void lmn_leaky_relu_forward(const float *x, float *y, size_t count, float slope);
/* dx = dy where x > 0, else slope * dy. Uses the forward INPUT x (unlike
 * lmn_relu_backward); dx may alias dy. */
void lmn_leaky_relu_backward(const float *x, const float *dy, float *dx, size_t count,
                             float slope);
/* y = factor * x (residual scaling); y may alias x. */
void lmn_scale_forward(const float *x, float *y, size_t count, float factor);
/* dx = factor * dy; dx may alias dy. */
void lmn_scale_backward(const float *dy, float *dx, size_t count, float factor);
/* y += x */
void lmn_accumulate(float *y, const float *x, size_t count);
/* Inverted dropout: keep each element with probability 1 - rate and scale
 * it by 1 / (1 - rate). The mask (one byte per element, 1 = kept) is drawn
 * from the counter-based stream (seed, stream), so it is reproducible.
 * rate in [0, 1). */
void lmn_dropout_forward(const float *x, float *y, uint8_t *mask, size_t count, float rate,
                         uint64_t seed, uint64_t stream);
void lmn_dropout_backward(const float *dy, const uint8_t *mask, float *dx, size_t count,
                          float rate);

/* The kernels above for activation buffers of either element type
 * (lmn_act_desc.elem; kernels/elementwise_bf16.c): `floats` is the desc's
 * floats, so a BF16 buffer holds 2 * floats values. BF16 results are the
 * fp32 results of the widened values rounded to nearest even. */
void lmn_act_relu_forward(lmn_elem_type elem, const float *x, float *y, size_t floats);
void lmn_act_relu_backward(lmn_elem_type elem, const float *y, const float *dy, float *dx,
                           size_t floats);
void lmn_act_add_forward(lmn_elem_type elem, const float *a, const float *b, float *y,
                         size_t floats);
void lmn_act_add_relu_forward(lmn_elem_type elem, const float *a, const float *b, float *y,
                              size_t floats);
void lmn_act_accumulate(lmn_elem_type elem, float *y, const float *x, size_t floats);
void lmn_act_leaky_relu_forward(lmn_elem_type elem, const float *x, float *y, size_t floats,
                                float slope);
void lmn_act_leaky_relu_backward(lmn_elem_type elem, const float *x, const float *dy, float *dx,
                                 size_t floats, float slope);
/* y = factor * x: the scale layer's forward, and (dy in, dx out) its backward. */
void lmn_act_scale(lmn_elem_type elem, const float *x, float *y, size_t floats, float factor);

#endif
