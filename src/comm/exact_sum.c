#include "comm/exact_sum.h"

#include <math.h>

#include "core/timer.h"

bool lmn_fixed_accumulate(int64_t *acc, const float *x, size_t count, double weight, int bits)
{
    const double scale = ldexp(weight, bits), limit = 0x1.0p62;
    bool finite = true;
#pragma omp parallel for simd reduction(&& : finite) schedule(static)
    for (size_t i = 0; i < count; i++) {
        const double term = nearbyint((double)x[i] * scale);
        finite = finite && fabs(term) < limit;
        acc[i] += fabs(term) < limit ? (int64_t)term : 0;
    }
    return finite;
}

void lmn_fixed_to_float(const int64_t *acc, float *out, size_t count, int bits)
{
    const double scale = ldexp(1.0, -bits);
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < count; i++) out[i] = (float)((double)acc[i] * scale);
}

int64_t lmn_fixed_from_double(double value, int bits)
{
    const double term = nearbyint(ldexp(value, bits));
    return fabs(term) < 0x1.0p62 ? (int64_t)term : (term > 0 ? INT64_MAX / 2 : INT64_MIN / 2);
}

double lmn_fixed_to_double(int64_t value, int bits) { return ldexp((double)value, -bits); }

lmn_status lmn_comm_allreduce_int64(lmn_comm *comm, int64_t *values, size_t count)
{
    if (comm->size == 1 || count == 0) return LMN_OK;
    enum { CHUNK = 1 << 28 };
    const double start = lmn_now();
    lmn_comm_enter(comm, "allreduce of exact sums", count);
    for (size_t done = 0; done < count; done += CHUNK) {
        const int n = (int)(count - done < CHUNK ? count - done : CHUNK);
        const int code = MPI_Allreduce(MPI_IN_PLACE, values + done, n, MPI_INT64_T, MPI_SUM, comm->comm);
        if (code != MPI_SUCCESS) {
            lmn_comm_leave(comm);
            return lmn_fail(LMN_ERR_MPI, "MPI_Allreduce of exact sums failed");
        }
    }
    lmn_comm_leave(comm);
    comm->seconds += lmn_now() - start;
    comm->bytes_sent += 2.0 * (comm->size - 1) / comm->size * (double)count * sizeof(int64_t);
    return LMN_OK;
}
