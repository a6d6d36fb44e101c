#include "optim/exact_dot.h"

#include <math.h>
#include <string.h>

#include "comm/exact_sum.h"

enum { LIMB_BITS = 32, LOWEST_BIT = -352 };
#define LIMB_MASK 0xffffffffULL
/* Each term adds < 2^34 to a limb: carrying after every piece of 2^14
 * terms keeps the int64 words far from overflow. */
enum { PIECE = 1 << 14 };

static void carry(lmn_exact_sum *sum)
{
    int64_t *w = sum->word;
    for (int i = 0; i + 1 < LMN_EXACT_LIMBS; i++) {
        const int64_t low = (int64_t)((uint64_t)w[i] & LIMB_MASK);
        w[i + 1] += (w[i] - low) / ((int64_t)1 << LIMB_BITS);
        w[i] = low;
    }
}

/* A nonzero product of floats is a normal double (>= 2^-298, < 2^256). */
static inline void add_exact_double(int64_t *w, double term)
{
    uint64_t bits;
    memcpy(&bits, &term, sizeof bits);
    const unsigned exponent = (unsigned)(bits >> 52) & 0x7ffu;
    if (exponent == 0) return; /* zero */
    if (exponent == 0x7ffu) {
        w[LMN_EXACT_LIMBS]++;
        return;
    }
    const uint64_t mantissa = (bits & ((1ULL << 52) - 1)) | (1ULL << 52);
    const int position = (int)exponent - 1075 - LOWEST_BIT;
    const int limb = position / LIMB_BITS, shift = position % LIMB_BITS;
    const uint64_t low = (mantissa & LIMB_MASK) << shift, high = (mantissa >> 32) << shift;
    const int64_t sign = (bits >> 63) ? -1 : 1;
    w[limb] += sign * (int64_t)(low & LIMB_MASK);
    w[limb + 1] += sign * (int64_t)((low >> 32) + (high & LIMB_MASK));
    w[limb + 2] += sign * (int64_t)(high >> 32);
}

static void add_block(lmn_exact_sum *sum, const float *a, const float *b, size_t count)
{
    for (size_t i = 0; i < count; i++) add_exact_double(sum->word, (double)a[i] * (double)b[i]);
    carry(sum);
}

void lmn_exact_dot_add(lmn_exact_sum *sum, const float *a, const float *b, size_t count)
{
    /* Integer sums: the threads' partial sums may be merged in any order. */
#pragma omp parallel
    {
        lmn_exact_sum local = {{0}};
#pragma omp for schedule(static) nowait
        for (size_t start = 0; start < count; start += PIECE)
            add_block(&local, a + start, b + start, count - start < PIECE ? count - start : PIECE);
#pragma omp critical(lmn_exact_dot)
        {
            for (int k = 0; k < LMN_EXACT_WORDS; k++) sum->word[k] += local.word[k];
            carry(sum);
        }
    }
}

double lmn_exact_sum_value(lmn_exact_sum *sum)
{
    carry(sum);
    if (sum->word[LMN_EXACT_LIMBS] != 0) return NAN;
    double value = 0.0;
    for (int i = LMN_EXACT_LIMBS - 1; i >= 0; i--)
        value += ldexp((double)sum->word[i], LOWEST_BIT + LIMB_BITS * i);
    return value;
}

lmn_status lmn_exact_sums_reduce(lmn_exact_sum *sums, int count, lmn_comm *comm, double *out)
{
    for (int k = 0; k < count; k++) carry(&sums[k]);
    if (comm && comm->size > 1)
        LMN_TRY(lmn_comm_allreduce_int64(comm, sums[0].word, (size_t)count * LMN_EXACT_WORDS));
    for (int k = 0; k < count; k++) out[k] = lmn_exact_sum_value(&sums[k]);
    return LMN_OK;
}
