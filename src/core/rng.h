/* Counter-based random numbers (Philox4x32-10).
 *
 * A stream is identified by (seed, stream id): the same identifiers give
 * the same numbers on any rank, in any thread, in any order of creation,
 * which is what keeps results independent of rank count and timing. */
#ifndef LMN_CORE_RNG_H
#define LMN_CORE_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct lmn_rng {
    uint64_t key;      /* the seed */
    uint64_t stream;   /* which stream under the seed */
    uint64_t position; /* next 128-bit block to generate */
    uint32_t block[4];
    int used;          /* words of block already consumed (4 = empty) */
} lmn_rng;

/* Mixes any number of small identifiers (epoch, client, round, ...) into
 * one stream id. */
uint64_t lmn_rng_stream_id(uint64_t a, uint64_t b);

/* A stream keyed by seed and stream id, positioned at its start. */
lmn_rng lmn_rng_make(uint64_t seed, uint64_t stream);

/* Jumps to word offset `word` of the stream (random access). */
void lmn_rng_seek(lmn_rng *rng, uint64_t word);

uint32_t lmn_rng_u32(lmn_rng *rng);
uint64_t lmn_rng_u64(lmn_rng *rng);
/* Uniform in [0, 1) with 24 random bits. */
float lmn_rng_uniform(lmn_rng *rng);
/* Uniform in [0, 1) with 53 random bits. */
double lmn_rng_uniform_double(lmn_rng *rng);
/* Standard normal (Box-Muller). */
double lmn_rng_normal(lmn_rng *rng);
/* Uniform integer in [0, bound), unbiased; bound > 0. */
uint64_t lmn_rng_below(lmn_rng *rng, uint64_t bound);
/* Gamma(shape, 1) for shape > 0 (Marsaglia-Tsang). */
double lmn_rng_gamma(lmn_rng *rng, double shape);
/* Fisher-Yates shuffle of an index array. */
void lmn_rng_shuffle(lmn_rng *rng, uint32_t *items, size_t count);
/* items[i] = i, then shuffled. */
void lmn_rng_permutation(lmn_rng *rng, uint32_t *items, size_t count);

#endif
