#include "optim/exact_dot.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "comm/exact_sum.h"

enum { LIMB_BITS = 32, LOWEST_BIT = -352 };
#define LIMB_MASK 0xffffffffULL

static void carry(lmn_exact_sum *sum)
{
    int64_t *w = sum->word;
    for (int i = 0; i + 1 < LMN_EXACT_LIMBS; i++) {
        const int64_t low = (int64_t)((uint64_t)w[i] & LIMB_MASK);
        w[i + 1] += (w[i] - low) / ((int64_t)1 << LIMB_BITS);
        w[i] = low;
    }
}

/* Products are first added by exponent: the signed significands of
 * products with the same binary exponent sum exactly in an int64 bucket,
 * in LANES interleaved tables so that neighbouring products do not wait
 * on each other's addition; the buckets are then moved into the limbs. A
 * nonzero product of floats is a normal double (>= 2^-298, < 2^256) whose
 * significand is the product of two 24-bit integers: its low ZERO_BITS of
 * 53 are zero, so 48-bit values fill a bucket and 2^15 of them fit in one.
 * Zero products add nothing; non-finite ones are counted apart. */
enum { LANES = 4, PER_BUCKET = 1 << 15, BLOCK = LANES * PER_BUCKET, ZERO_BITS = 5 };
/* exponent fields of nonzero float products: 2^-298 .. < 2^256 */
enum { SMALLEST_PRODUCT = 1023 - 298, LARGEST_PRODUCT = 1023 + 255 };
/* bucket 0: zero products; 1..: SMALLEST_PRODUCT..LARGEST_PRODUCT; last: inf / NaN */
enum { BUCKETS = LARGEST_PRODUCT - SMALLEST_PRODUCT + 3, NOT_FINITE = BUCKETS - 1 };
/* products are decoded in chunks (vectorised), then added to the buckets;
 * threads share a dot product in pieces of GRAIN */
enum { CHUNK = 512, GRAIN = 1 << 15 };

typedef struct buckets {
    int64_t lane[LANES][BUCKETS];
} buckets;

/* w += v * 2^(exponent - 1075 + ZERO_BITS), |v| < 2^63 */
static void add_scaled(int64_t *w, int64_t v, unsigned exponent)
{
    const int position = (int)exponent - 1075 + ZERO_BITS - LOWEST_BIT;
    const int limb = position / LIMB_BITS, shift = position % LIMB_BITS;
    const uint64_t magnitude = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    const uint64_t low = (magnitude & LIMB_MASK) << shift, high = (magnitude >> 32) << shift;
    const int64_t sign = v < 0 ? -1 : 1;
    w[limb] += sign * (int64_t)(low & LIMB_MASK);
    w[limb + 1] += sign * (int64_t)((low >> 32) + (high & LIMB_MASK));
    w[limb + 2] += sign * (int64_t)(high >> 32);
}

/* Moves the buckets into the limbs and leaves them zero. */
static void flush(lmn_exact_sum *sum, buckets *b)
{
    for (int k = 1; k < NOT_FINITE; k++)
        for (int l = 0; l < LANES; l++) {
            if (!b->lane[l][k]) continue;
            add_scaled(sum->word, b->lane[l][k], (unsigned)(k - 1 + SMALLEST_PRODUCT));
            b->lane[l][k] = 0;
        }
    for (int l = 0; l < LANES; l++) {
        sum->word[LMN_EXACT_LIMBS] += b->lane[l][NOT_FINITE];
        b->lane[l][0] = b->lane[l][NOT_FINITE] = 0;
    }
    carry(sum);
}

/* bucket[i] and value[i] of the products x[i] y[i], i < count <= CHUNK;
 * a non-finite product adds 1 to its bucket (a count). */
static void decode(const float *x, const float *y, size_t count, uint16_t *bucket, int64_t *value)
{
#pragma omp simd
    for (size_t i = 0; i < count; i++) {
        const double product = (double)x[i] * (double)y[i];
        uint64_t bits;
        memcpy(&bits, &product, sizeof bits);
        const int64_t e = (int64_t)((bits >> 52) & 0x7ffu);
        const int64_t magnitude = (int64_t)(((bits & ((1ULL << 52) - 1)) | (1ULL << 52)) >> ZERO_BITS);
        const int64_t negative = -(int64_t)(bits >> 63);
        const int64_t finite = e != 0x7ff, nonzero = e != 0;
        bucket[i] = (uint16_t)(finite ? nonzero * (e - SMALLEST_PRODUCT + 1) : NOT_FINITE);
        value[i] = finite ? nonzero * ((magnitude ^ negative) - negative) : 1;
    }
}

/* Adds the products to the buckets; each lane takes ceil(count / LANES)
 * of them (the caller flushes before a lane would pass PER_BUCKET). */
static void add_products(buckets *b, const float *x, const float *y, size_t count)
{
    uint16_t bucket[CHUNK];
    int64_t value[CHUNK];
    for (size_t start = 0; start < count; start += CHUNK) {
        const size_t n = count - start < CHUNK ? count - start : CHUNK;
        decode(x + start, y + start, n, bucket, value);
        size_t i = 0;
        for (; i + LANES <= n; i += LANES)
            for (int l = 0; l < LANES; l++) b->lane[l][bucket[i + l]] += value[i + l];
        for (; i < n; i++) b->lane[i % LANES][bucket[i]] += value[i];
    }
}

struct lmn_exact_accumulator {
    lmn_exact_sum sum;
    size_t load; /* products per lane since the last flush */
    buckets table;
};

lmn_exact_accumulator *lmn_exact_accumulator_create(void)
{
    return calloc(1, sizeof(lmn_exact_accumulator));
}

void lmn_exact_accumulate(lmn_exact_accumulator *acc, const float *a, const float *b, size_t count)
{
    if (!acc) return;
    for (size_t start = 0; start < count; start += BLOCK) {
        const size_t n = count - start < BLOCK ? count - start : BLOCK;
        const size_t per_lane = (n + LANES - 1) / LANES;
        if (acc->load + per_lane > PER_BUCKET) {
            flush(&acc->sum, &acc->table);
            acc->load = 0;
        }
        add_products(&acc->table, a + start, b + start, n);
        acc->load += per_lane;
    }
}

void lmn_exact_accumulator_finish(lmn_exact_accumulator *acc, lmn_exact_sum *sum)
{
#pragma omp critical(lmn_exact_dot)
    {
        if (acc) flush(&acc->sum, &acc->table);
        if (acc)
            for (int k = 0; k < LMN_EXACT_WORDS; k++) sum->word[k] += acc->sum.word[k];
        else
            sum->word[LMN_EXACT_LIMBS]++; /* without memory for the table: unusable */
        carry(sum);
    }
    free(acc);
}

void lmn_exact_dot_add(lmn_exact_sum *sum, const float *a, const float *b, size_t count)
{
    /* Integer sums: the threads' partial sums may be merged in any order. */
#pragma omp parallel
    {
        lmn_exact_accumulator *acc = lmn_exact_accumulator_create();
#pragma omp for schedule(static) nowait
        for (size_t start = 0; start < count; start += GRAIN)
            lmn_exact_accumulate(acc, a + start, b + start, count - start < GRAIN ? count - start : GRAIN);
        lmn_exact_accumulator_finish(acc, sum);
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
