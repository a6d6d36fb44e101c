/* Dot products whose value does not depend on how the vectors are cut.
 *
 * The product of two floats is exact in double (24 + 24 significant bits
 * fit in 53), and a sum of exact doubles is exact in a wide fixed-point
 * integer: limbs of 32 bits covering 2^-352 .. 2^352 in int64 words,
 * carried to a canonical form before they are read. Partial sums over any
 * slices, on any number of ranks, added in any order, give the same
 * canonical integer and hence the same double, bit for bit. That is what
 * lets SLIM-QN keep each rank's slice of its history and still take the
 * same step on 1, 2 or 4 ranks. */
#ifndef LMN_OPTIM_EXACT_DOT_H
#define LMN_OPTIM_EXACT_DOT_H

#include <stddef.h>
#include <stdint.h>

#include "comm/comm.h"
#include "core/status.h"

/* limbs, then one counter of non-finite terms */
enum { LMN_EXACT_LIMBS = 23, LMN_EXACT_WORDS = LMN_EXACT_LIMBS + 1 };

typedef struct lmn_exact_sum {
    int64_t word[LMN_EXACT_WORDS];
} lmn_exact_sum;

/* sum += a . b (exactly; call with a zeroed sum to start). */
void lmn_exact_dot_add(lmn_exact_sum *sum, const float *a, const float *b, size_t count);
/* For a caller that runs its own (parallel) loop, e.g. to take a dot
 * product in the same pass as the update that produced one operand: each
 * thread adds its pieces to its own accumulator, then merges it into sum
 * (thread-safe). NULL when out of memory; finish then marks sum unusable. */
typedef struct lmn_exact_accumulator lmn_exact_accumulator;
lmn_exact_accumulator *lmn_exact_accumulator_create(void);
void lmn_exact_accumulate(lmn_exact_accumulator *acc, const float *a, const float *b, size_t count);
/* Adds acc to sum and frees it. */
void lmn_exact_accumulator_finish(lmn_exact_accumulator *acc, lmn_exact_sum *sum);
/* The sum rounded to double, NaN if a term was not finite. */
double lmn_exact_sum_value(lmn_exact_sum *sum);
/* Adds up count sums over the ranks of comm (NULL: one process) in one
 * allreduce and writes their values to out. */
lmn_status lmn_exact_sums_reduce(lmn_exact_sum *sums, int count, lmn_comm *comm, double *out);

#endif
