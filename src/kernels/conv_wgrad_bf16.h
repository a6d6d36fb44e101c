/* Weight gradient of a 2-D convolution from bf16 activations, with AVX512-BF16
 * dot products (vdpbf16ps) and f32 accumulation.
 *
 * Why our own: oneDNN 2.6's bf16 backward-weights kernel gains only
 * 1.15-1.4x over its f32 one on the cores this was tuned on, and on stride-2
 * layers it is 2x slower than f32, while its forward and backward-data
 * kernels gain 1.9x. Weight gradients were the largest part of a bf16
 * ResNet-20 step (bench/results/wgrad_bf16.md).
 *
 * The dot product pairs two images of the batch: for every pixel the
 * kernel multiplies (x[n], x[n+1]) by (dy[n], dy[n+1]), so pairs never
 * straddle a row, a stride or the padding, and one packing of x and one of
 * dy serve every kernel offset. Products of bf16 values are exact in f32;
 * the sums are f32, in a fixed order for a given thread count.
 *
 * Layouts: x and dy in oneDNN's nChw16c (aBcd16b) bf16, channels multiples
 * of 16; dw dense OIHW f32, db f32 (both overwritten). */
#ifndef LMN_KERNELS_CONV_WGRAD_BF16_H
#define LMN_KERNELS_CONV_WGRAD_BF16_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct lmn_wgrad_bf16_shape {
    int n, c, h, w;     /* x */
    int oc, oh, ow;     /* dy */
    int kh, kw;         /* kernel */
    int sh, sw, ph, pw; /* stride and (top/left) padding */
} lmn_wgrad_bf16_shape;

/* True when the kernel handles the shape: channels multiples of 16, output
 * extents those of the window. The CPU must also have AVX512-BF16 (the
 * caller's check: lmn_dnnl_native_bf16). */
bool lmn_wgrad_bf16_fits(const lmn_wgrad_bf16_shape *s);
/* Scratch bytes lmn_wgrad_bf16 needs with `threads` OpenMP threads. */
size_t lmn_wgrad_bf16_workspace_bytes(const lmn_wgrad_bf16_shape *s, int threads);
/* dw (and db unless NULL) of x and dy; runs on `threads` threads (the
 * workspace must be sized for them, 64-byte aligned). */
void lmn_wgrad_bf16(const lmn_wgrad_bf16_shape *s, const uint16_t *x, const uint16_t *dy,
                    float *dw, float *db, void *workspace, int threads);

#endif
