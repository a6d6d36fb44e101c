/* bfloat16 <-> float, the one definition (the 16-bit wire, the bf16
 * activation kernels and the bf16 weight-gradient kernel use it): round
 * to nearest even, as oneDNN rounds; NaN stays a quiet NaN. Inline:
 * the element-wise kernels call it per value. */
#ifndef LMN_CORE_BF16_H
#define LMN_CORE_BF16_H

#include <stdint.h>
#include <string.h>

static inline uint16_t lmn_float_to_bf16(float value)
{
    uint32_t bits;
    memcpy(&bits, &value, sizeof bits);
    if ((bits & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((bits >> 16) | 0x40u);
    return (uint16_t)((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

static inline float lmn_bf16_to_float(uint16_t bf16)
{
    const uint32_t bits = (uint32_t)bf16 << 16;
    float value;
    memcpy(&value, &bits, sizeof value);
    return value;
}

#endif
