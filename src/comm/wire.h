/* The number format gradients travel in. fp16 and bf16 halve the bytes;
 * sums are always formed in fp32 (comm/reduce.h), so only the values on
 * the wire are rounded, once each way. */
#ifndef LMN_COMM_WIRE_H
#define LMN_COMM_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/bf16.h"

typedef enum lmn_wire { LMN_WIRE_FP32, LMN_WIRE_FP16, LMN_WIRE_BF16 } lmn_wire;

/* "fp32", "fp16", "bf16". */
const char *lmn_wire_name(lmn_wire wire);
bool lmn_wire_from_name(const char *name, lmn_wire *wire);
/* Bytes one value occupies on the wire. */
size_t lmn_wire_bytes(lmn_wire wire);

/* IEEE half precision, round to nearest even. Values beyond fp16's range
 * become +-infinity (the overflow the pre-divide factor exists to
 * prevent); NaN stays NaN. bfloat16: core/bf16.h. */
uint16_t lmn_float_to_half(float value);
float lmn_half_to_float(uint16_t half);

/* dst[i] = encode(src[i] * scale) for 16-bit wires. */
void lmn_wire_encode(lmn_wire wire, const float *src, uint16_t *dst, size_t count, float scale);
/* dst[i] = decode(src[i]) * scale. */
void lmn_wire_decode(lmn_wire wire, const uint16_t *src, float *dst, size_t count, float scale);

#endif
