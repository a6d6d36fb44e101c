/* Ordered reductions: every sum is formed element by element in rank
 * order, in fp32, by the rank that owns the element's slice.
 *
 * A reduction is an all-to-all of slices (rank r receives every rank's
 * copy of slice r), a local sum in rank order, and - for an allreduce - an
 * allgather of the summed slices. It moves the bytes of a bandwidth-optimal
 * ring allreduce, and because each element's sum has a fixed order, the
 * result does not depend on how a buffer is cut into messages: reducing
 * layer by layer, in buckets, or all at once gives the same bits. That is
 * what lets every sync policy be compared bit for bit with plain
 * allreduce, and it makes runs reproducible whatever MPI's algorithm.
 *
 * Wire formats (comm/wire.h) apply to gradients: values are divided by the
 * pre-divide factor, rounded to 16 bits, summed in fp32, rounded once more
 * for the allgather and multiplied back. Every rank, the owner included,
 * keeps the rounded value, so all ranks hold the same bits. Parameter
 * allgathers are always fp32 (rounding weights to 16 bits every step
 * would erase small updates). */
#ifndef LMN_COMM_REDUCE_H
#define LMN_COMM_REDUCE_H

#include <stdbool.h>
#include <stddef.h>

#include "comm/comm.h"
#include "comm/wire.h"

typedef struct lmn_reducer {
    lmn_comm *comm; /* borrowed; its counters are charged */
    lmn_wire wire;
    float predivide; /* >= 1; 1 = none */
    /* Wait by polling with short sleeps instead of MPI's busy wait: a
     * communication thread must not take a core from the compute threads. */
    bool polite;
    void *send, *receive;
    size_t capacity; /* bytes of each scratch buffer */
    int *counts, *displacements;
} lmn_reducer;

/* predivide <= 0 selects the default: the rank count. */
lmn_status lmn_reducer_init(lmn_reducer *reducer, lmn_comm *comm, lmn_wire wire, float predivide);
void lmn_reducer_free(lmn_reducer *reducer);

/* Slice `index` of `parts` near-equal contiguous slices of count values
 * (the first count % parts slices have one value more). */
void lmn_slice(size_t count, int parts, int index, size_t *first, size_t *length);

/* After return, this rank's slice of values[0, count) holds the sum over
 * the ranks; the rest of values is unspecified. */
lmn_status lmn_reduce_scatter(lmn_reducer *reducer, float *values, size_t count);
/* Every rank's slice of values[0, count) reaches every rank (fp32). */
lmn_status lmn_allgather_slices(lmn_reducer *reducer, float *values, size_t count);
/* values[0, count) = the sum over the ranks, identical bits everywhere. */
lmn_status lmn_allreduce(lmn_reducer *reducer, float *values, size_t count);
/* Concatenates every rank's `mine` (mine_count values; counts may differ
 * per rank) into all[], in rank order (fp32). all_count receives the total. */
lmn_status lmn_allgather_pieces(lmn_reducer *reducer, const float *mine, size_t mine_count,
                                float *all, size_t *all_count);

#endif
