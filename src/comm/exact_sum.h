/* Order-independent sums through fixed-point integers.
 *
 * Floating-point addition is not associative, so a sum over clients or
 * ranks depends on who adds what first. Converting every term to a 64-bit
 * integer of fixed resolution and adding integers gives the same bits
 * whatever the order, the rank count or the MPI algorithm: that is how
 * federated aggregation stays identical on 2 and 4 ranks. */
#ifndef LMN_COMM_EXACT_SUM_H
#define LMN_COMM_EXACT_SUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "comm/comm.h"

/* Resolution of model sums: 2^-44 (float values down to ~1e-6 keep all
 * their bits), range +-2^19 per accumulated value. */
enum { LMN_FIXED_MODEL_BITS = 44, LMN_FIXED_METRIC_BITS = 24 };

/* acc[i] += round(weight * x[i] * 2^bits). Returns false if a term is not
 * finite or out of range (the accumulator is then unusable). */
bool lmn_fixed_accumulate(int64_t *acc, const float *x, size_t count, double weight, int bits);
/* out[i] = acc[i] / 2^bits */
void lmn_fixed_to_float(const int64_t *acc, float *out, size_t count, int bits);
int64_t lmn_fixed_from_double(double value, int bits);
double lmn_fixed_to_double(int64_t value, int bits);

/* In-place exact sum of int64 values over all ranks (counted as traffic). */
lmn_status lmn_comm_allreduce_int64(lmn_comm *comm, int64_t *values, size_t count);

#endif
