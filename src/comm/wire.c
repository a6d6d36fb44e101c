#include "comm/wire.h"

#include <string.h>

static const char *const wire_names[] = {"fp32", "fp16", "bf16"};

const char *lmn_wire_name(lmn_wire wire) { return wire_names[wire]; }

bool lmn_wire_from_name(const char *name, lmn_wire *wire)
{
    for (int i = 0; i < 3; i++)
        if (strcmp(name, wire_names[i]) == 0) {
            *wire = (lmn_wire)i;
            return true;
        }
    return false;
}

size_t lmn_wire_bytes(lmn_wire wire) { return wire == LMN_WIRE_FP32 ? 4 : 2; }

static uint32_t float_bits(float value)
{
    uint32_t bits;
    memcpy(&bits, &value, sizeof bits);
    return bits;
}

static float bits_float(uint32_t bits)
{
    float value;
    memcpy(&value, &bits, sizeof value);
    return value;
}

uint16_t lmn_float_to_half(float value)
{
    const uint32_t bits = float_bits(value);
    const uint16_t sign = (uint16_t)((bits >> 16) & 0x8000u);
    const uint32_t magnitude = bits & 0x7fffffffu;
    if (magnitude >= 0x7f800000u) /* inf or NaN */
        return sign | (magnitude > 0x7f800000u ? 0x7e00u : 0x7c00u);
    if (magnitude >= 0x477ff000u) return sign | 0x7c00u; /* rounds past 65504 */
    if (magnitude < 0x38800000u) {
        /* Subnormal half (or zero): scale so the integer part is the result;
         * adding 0.5 (as 2^-1 in the magic constant) rounds to nearest even. */
        const float shifted = bits_float(magnitude) + 0.5f;
        return sign | (uint16_t)(float_bits(shifted) - 0x3f000000u);
    }
    const uint32_t odd = (magnitude >> 13) & 1u;
    const uint32_t rounded = magnitude + 0xfffu + odd - 0x38000000u;
    return sign | (uint16_t)(rounded >> 13);
}

float lmn_half_to_float(uint16_t half)
{
    const uint32_t sign = (uint32_t)(half & 0x8000u) << 16;
    const uint32_t exponent = (half >> 10) & 0x1fu, mantissa = half & 0x3ffu;
    if (exponent == 0x1f) return bits_float(sign | 0x7f800000u | (mantissa << 13));
    if (exponent == 0) {
        const float value = (float)mantissa * 0x1p-24f;
        return sign ? -value : value;
    }
    return bits_float(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

/* Where the CPU converts halves itself (F16C: round to nearest even,
 * overflow to infinity, like lmn_float_to_half), eight values at a time;
 * the scalar functions finish the tail. Returns how many were done. */
#ifdef __F16C__
#include <immintrin.h>

static size_t encode_half_vector(const float *src, uint16_t *dst, size_t count, float scale)
{
    const __m256 factor = _mm256_set1_ps(scale);
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        const __m256 values = _mm256_mul_ps(_mm256_loadu_ps(src + i), factor);
        _mm_storeu_si128((__m128i *)(dst + i), _mm256_cvtps_ph(values, _MM_FROUND_TO_NEAREST_INT));
    }
    return i;
}

static size_t decode_half_vector(const uint16_t *src, float *dst, size_t count, float scale)
{
    const __m256 factor = _mm256_set1_ps(scale);
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        const __m256 values = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i)));
        _mm256_storeu_ps(dst + i, _mm256_mul_ps(values, factor));
    }
    return i;
}
#else
static size_t encode_half_vector(const float *src, uint16_t *dst, size_t count, float scale)
{
    (void)src, (void)dst, (void)count, (void)scale;
    return 0;
}

static size_t decode_half_vector(const uint16_t *src, float *dst, size_t count, float scale)
{
    (void)src, (void)dst, (void)count, (void)scale;
    return 0;
}
#endif

void lmn_wire_encode(lmn_wire wire, const float *src, uint16_t *dst, size_t count, float scale)
{
    if (wire == LMN_WIRE_FP16) {
        for (size_t i = encode_half_vector(src, dst, count, scale); i < count; i++)
            dst[i] = lmn_float_to_half(src[i] * scale);
        return;
    }
    for (size_t i = 0; i < count; i++) dst[i] = lmn_float_to_bf16(src[i] * scale);
}

void lmn_wire_decode(lmn_wire wire, const uint16_t *src, float *dst, size_t count, float scale)
{
    if (wire == LMN_WIRE_FP16) {
        for (size_t i = decode_half_vector(src, dst, count, scale); i < count; i++)
            dst[i] = lmn_half_to_float(src[i]) * scale;
        return;
    }
    for (size_t i = 0; i < count; i++) dst[i] = lmn_bf16_to_float(src[i]) * scale;
}
