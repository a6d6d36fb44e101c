#include "core/rng.h"

#include <math.h>

static void philox_round(uint32_t ctr[4], const uint32_t key[2])
{
    const uint64_t p0 = (uint64_t)0xD2511F53u * ctr[0];
    const uint64_t p1 = (uint64_t)0xCD9E8D57u * ctr[2];
    const uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
    const uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
    const uint32_t next[4] = {hi1 ^ ctr[1] ^ key[0], lo1, hi0 ^ ctr[3] ^ key[1], lo0};
    ctr[0] = next[0];
    ctr[1] = next[1];
    ctr[2] = next[2];
    ctr[3] = next[3];
}

static void philox4x32_10(const uint32_t counter[4], uint64_t key64, uint32_t out[4])
{
    uint32_t key[2] = {(uint32_t)key64, (uint32_t)(key64 >> 32)};
    uint32_t ctr[4] = {counter[0], counter[1], counter[2], counter[3]};
    for (int round = 0; round < 10; round++) {
        philox_round(ctr, key);
        key[0] += 0x9E3779B9u;
        key[1] += 0xBB67AE85u;
    }
    for (int i = 0; i < 4; i++) out[i] = ctr[i];
}

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

uint64_t lmn_rng_stream_id(uint64_t a, uint64_t b)
{
    return splitmix64(splitmix64(a) ^ (b * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull));
}

lmn_rng lmn_rng_make(uint64_t seed, uint64_t stream)
{
    lmn_rng rng = {.key = seed, .stream = stream, .position = 0, .used = 4};
    return rng;
}

static void refill(lmn_rng *rng)
{
    const uint32_t counter[4] = {(uint32_t)rng->position, (uint32_t)(rng->position >> 32),
                                 (uint32_t)rng->stream, (uint32_t)(rng->stream >> 32)};
    philox4x32_10(counter, rng->key, rng->block);
    rng->position++;
    rng->used = 0;
}

void lmn_rng_seek(lmn_rng *rng, uint64_t word)
{
    rng->position = word / 4;
    refill(rng);
    rng->used = (int)(word % 4);
}

uint32_t lmn_rng_u32(lmn_rng *rng)
{
    if (rng->used == 4) refill(rng);
    return rng->block[rng->used++];
}

uint64_t lmn_rng_u64(lmn_rng *rng)
{
    const uint64_t hi = lmn_rng_u32(rng);
    return (hi << 32) | lmn_rng_u32(rng);
}

float lmn_rng_uniform(lmn_rng *rng) { return (float)(lmn_rng_u32(rng) >> 8) * 0x1.0p-24f; }

double lmn_rng_uniform_double(lmn_rng *rng) { return (double)(lmn_rng_u64(rng) >> 11) * 0x1.0p-53; }

double lmn_rng_normal(lmn_rng *rng)
{
    double u1 = lmn_rng_uniform_double(rng);
    const double u2 = lmn_rng_uniform_double(rng);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

uint64_t lmn_rng_below(lmn_rng *rng, uint64_t bound)
{
    /* Rejection keeps the result unbiased for any bound. */
    const uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    uint64_t x;
    do {
        x = lmn_rng_u64(rng);
    } while (x >= limit);
    return x % bound;
}

double lmn_rng_gamma(lmn_rng *rng, double shape)
{
    if (shape < 1.0) {
        /* Boost to shape + 1 and scale back (Marsaglia-Tsang's trick). */
        const double u = lmn_rng_uniform_double(rng);
        return lmn_rng_gamma(rng, shape + 1.0) * pow(u > 1e-300 ? u : 1e-300, 1.0 / shape);
    }
    const double d = shape - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        double x, v;
        do {
            x = lmn_rng_normal(rng);
            v = 1.0 + c * x;
        } while (v <= 0.0);
        v = v * v * v;
        const double u = lmn_rng_uniform_double(rng);
        if (u < 1.0 - 0.0331 * x * x * x * x) return d * v;
        if (log(u) < 0.5 * x * x + d * (1.0 - v + log(v))) return d * v;
    }
}

void lmn_rng_shuffle(lmn_rng *rng, uint32_t *items, size_t count)
{
    for (size_t i = count; i > 1; i--) {
        const size_t j = (size_t)lmn_rng_below(rng, i);
        const uint32_t tmp = items[i - 1];
        items[i - 1] = items[j];
        items[j] = tmp;
    }
}

void lmn_rng_permutation(lmn_rng *rng, uint32_t *items, size_t count)
{
    for (size_t i = 0; i < count; i++) items[i] = (uint32_t)i;
    lmn_rng_shuffle(rng, items, count);
}
