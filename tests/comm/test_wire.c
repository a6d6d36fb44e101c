/* fp16 / bf16 conversions: exact values, rounding to nearest even,
 * overflow, subnormals, NaN. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "comm/wire.h"
#include "test.h"
#include "train/adapt_interval.h"

static float from_bits(uint32_t bits)
{
    float value;
    memcpy(&value, &bits, sizeof value);
    return value;
}

static void check_half(void)
{
    CHECK(lmn_float_to_half(1.0f) == 0x3c00);
    CHECK(lmn_float_to_half(-2.0f) == 0xc000);
    CHECK(lmn_float_to_half(65504.0f) == 0x7bff);
    CHECK(lmn_float_to_half(65519.0f) == 0x7bff);  /* rounds down to the largest */
    CHECK(lmn_float_to_half(65520.0f) == 0x7c00);  /* rounds up to infinity */
    CHECK(lmn_float_to_half(1e9f) == 0x7c00);
    CHECK(lmn_float_to_half(-INFINITY) == 0xfc00);
    CHECK((lmn_float_to_half(NAN) & 0x7c00) == 0x7c00 && (lmn_float_to_half(NAN) & 0x3ff) != 0);
    CHECK(lmn_float_to_half(0x1p-24f) == 0x0001);  /* smallest subnormal */
    CHECK(lmn_float_to_half(0x1p-25f) == 0x0000);  /* tie to even: 0 */
    CHECK(lmn_float_to_half(0x1.8p-24f) == 0x0002); /* tie to even: 2 */
    CHECK(lmn_float_to_half(0x1p-14f) == 0x0400);  /* smallest normal */
    /* 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties go to the even 1. */
    CHECK(lmn_float_to_half(1.0f + 0x1p-11f) == 0x3c00);
    CHECK(lmn_float_to_half(1.0f + 3 * 0x1p-11f) == 0x3c02);
    /* Every half value survives a round trip. */
    int exact = 1;
    for (uint32_t h = 0; h < 0x10000; h++) {
        if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff)) continue; /* NaN */
        exact &= lmn_float_to_half(lmn_half_to_float((uint16_t)h)) == h;
    }
    CHECK(exact);
    CHECK(lmn_half_to_float(0x0001) == 0x1p-24f);
    CHECK(lmn_half_to_float(0x7bff) == 65504.0f);
}

static void check_bf16(void)
{
    CHECK(lmn_float_to_bf16(1.0f) == 0x3f80);
    CHECK(lmn_bf16_to_float(0x3f80) == 1.0f);
    CHECK(lmn_float_to_bf16(from_bits(0x3f808000u)) == 0x3f80); /* tie to even */
    CHECK(lmn_float_to_bf16(from_bits(0x3f818000u)) == 0x3f82);
    CHECK(lmn_float_to_bf16(from_bits(0x3f808001u)) == 0x3f81);
    CHECK(lmn_float_to_bf16(3e38f) != 0x7f80);                 /* bf16 has fp32's range */
    CHECK(isnan(lmn_bf16_to_float(lmn_float_to_bf16(NAN))));
    float values[4] = {0.1f, -3.5f, 1e-30f, 12345.678f}, back[4];
    uint16_t wire[4];
    lmn_wire_encode(LMN_WIRE_BF16, values, wire, 4, 0.5f);
    lmn_wire_decode(LMN_WIRE_BF16, wire, back, 4, 2.0f);
    for (int i = 0; i < 4; i++) CHECK(fabsf(back[i] - values[i]) <= fabsf(values[i]) * 0x1p-8f);
}

/* The array conversions (vectorised where the CPU converts halves) give
 * the bits of the scalar ones, for every kind of value. */
static void check_arrays_match_scalars(void)
{
    enum { COUNT = 1003 };
    float values[COUNT], back[COUNT];
    uint16_t wire[COUNT];
    for (int i = 0; i < COUNT; i++) {
        const float magnitude = ldexpf(1.0f + (float)(i % 97) / 97.0f, (i % 60) - 30);
        values[i] = (i % 2 ? -1.0f : 1.0f) * magnitude;
    }
    values[5] = 0x1p-25f, values[6] = 65519.0f, values[7] = 70000.0f, values[8] = 0.0f;
    lmn_wire_encode(LMN_WIRE_FP16, values, wire, COUNT, 0.5f);
    int same = 1;
    for (int i = 0; i < COUNT; i++) same &= wire[i] == lmn_float_to_half(values[i] * 0.5f);
    CHECK(same);
    lmn_wire_decode(LMN_WIRE_FP16, wire, back, COUNT, 2.0f);
    same = 1;
    for (int i = 0; i < COUNT; i++) same &= back[i] == lmn_half_to_float(wire[i]) * 2.0f;
    CHECK(same);
}

static void check_names(void)
{
    lmn_wire wire;
    CHECK(lmn_wire_from_name("fp16", &wire) && wire == LMN_WIRE_FP16);
    CHECK(!lmn_wire_from_name("fp8", &wire));
    CHECK(lmn_wire_bytes(LMN_WIRE_BF16) == 2 && lmn_wire_bytes(LMN_WIRE_FP32) == 4);
}

/* The interval rule of lazy update (and adaptive local SGD). */
static void check_interval_rule(void)
{
    /* g = (1, 0); G = the sum of k = 3 steps. */
    CHECK(lmn_adapt_interval(3, 1.0, 3.0, 9.0, 32) == 4);  /* aligned and large: +1 */
    CHECK(lmn_adapt_interval(3, 1.0, -1.0, 1.0, 32) == 2); /* opposed and small: -1 */
    CHECK(lmn_adapt_interval(3, 1.0, 2.0, 2.0, 32) == 3);  /* aligned but small: unchanged */
    CHECK(lmn_adapt_interval(3, 1.0, 0.5, 9.0, 32) == 3);  /* large but turned: unchanged */
    CHECK(lmn_adapt_interval(1, 1.0, -1.0, 0.5, 32) == 1); /* floor at 1 */
    CHECK(lmn_adapt_interval(32, 1.0, 40.0, 2000.0, 32) == 32); /* cap */
    CHECK(lmn_adapt_interval(1, 1.0, 1.0, 1.0, 32) == 2);  /* k = 1: G = g passes both */
}

int main(void)
{
    check_half();
    check_bf16();
    check_arrays_match_scalars();
    check_names();
    check_interval_rule();
    return lmn_test_summary("wire formats and interval rule");
}
