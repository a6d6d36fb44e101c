/* The communication cost model: how many bytes a rank sends in each
 * collective, and how long the collective takes on a link (alpha-beta).
 *
 * Bytes: what ONE rank sends under the bandwidth-optimal algorithm of the
 * collective, S being the size of the whole vector (for reduce-scatter the
 * input on each rank, for allgather the gathered output):
 *   allreduce        2 (P-1)/P S   (reduce-scatter + allgather)
 *   reduce-scatter     (P-1)/P S
 *   allgather          (P-1)/P S
 *   broadcast          S, by the root (a pipelined chain; 0 for the others)
 * MPI may move more (a tree allreduce sends log2(P) S); the counts make
 * methods comparable and are what comm.c adds to comm->bytes_sent.
 *
 * Time: alpha-beta (Hockney). A message of m bytes costs
 * latency + m / bandwidth; every rank can send and receive at once at full
 * bandwidth (full-duplex links, non-blocking switch, no contention); the
 * reduction arithmetic is free. Three algorithm families (Thakur,
 * Rabenseifner and Gropp 2005, which MPICH and Open MPI's tuned component
 * follow), with a = latency, b = seconds per byte, L = ceil(log2 P):
 *   ring              allreduce 2(P-1) a + 2(P-1)/P S b
 *                     reduce-scatter, allgather (P-1) a + (P-1)/P S b
 *                     broadcast (scatter + ring allgather) (L + P-1) a + 2(P-1)/P S b
 *   halving-doubling  reduce-scatter (recursive halving, P a power of two)
 *                     L a + (P-1)/P S b; allgather (recursive doubling, Bruck
 *                     for other P) L a + (P-1)/P S b; allreduce (Rabenseifner)
 *                     2 L' a + 2(P'-1)/P' S b with P' the largest power of two
 *                     <= P, L' = log2 P', plus 2 (a + S b) to fold the other
 *                     P - P' ranks in and out; broadcast: as ring
 *   tree              latency-bound: the whole vector every step. allreduce
 *                     (recursive doubling) L a + L S b (+1 step if P is not
 *                     a power of two); broadcast (binomial) L (a + S b);
 *                     reduce-scatter = binomial reduce + scatter; allgather =
 *                     gather + binomial broadcast
 * LMN_ALGORITHM_BEST takes the fastest applicable one, as a tuned MPI
 * choosing by message size would: tree for small messages, halving-doubling
 * for large ones at power-of-two P, ring for large ones at other P.
 * lamina's ordered reductions (comm/reduce.h) are an alltoallv (pairwise
 * exchange) plus an allgatherv: their cost is the ring's, which is what
 * train/simulate.h assumes by default. */
#ifndef LMN_COMM_COST_MODEL_H
#define LMN_COMM_COST_MODEL_H

#include <stdbool.h>

typedef enum lmn_collective {
    LMN_COLLECTIVE_ALLREDUCE,
    LMN_COLLECTIVE_REDUCE_SCATTER,
    LMN_COLLECTIVE_ALLGATHER,
    LMN_COLLECTIVE_BROADCAST,
    LMN_COLLECTIVE_COUNT
} lmn_collective;

typedef enum lmn_collective_algorithm {
    LMN_ALGORITHM_BEST,             /* the fastest of the three below */
    LMN_ALGORITHM_RING,
    LMN_ALGORITHM_HALVING_DOUBLING,
    LMN_ALGORITHM_TREE,
    LMN_ALGORITHM_COUNT
} lmn_collective_algorithm;

/* A link between any two ranks. */
typedef struct lmn_link {
    double bytes_per_second;
    double latency_seconds;
} lmn_link;

/* A link of gbits_per_second gigabits (10^9 bits) per second and latency_us
 * microseconds, the units of `tc` and of network data sheets. */
lmn_link lmn_link_from_gbits(double gbits_per_second, double latency_us);

/* Bytes one rank sends (see above); 0 when ranks <= 1. */
double lmn_cost_bytes_allreduce(double bytes, int ranks);
double lmn_cost_bytes_reduce_scatter(double bytes, int ranks);
double lmn_cost_bytes_allgather(double bytes, int ranks);
double lmn_cost_bytes_broadcast(double bytes, int ranks); /* by the root */
double lmn_cost_bytes(lmn_collective kind, double bytes, int ranks);

/* Seconds one collective of `bytes` (S above) takes over `ranks` ranks with
 * the given algorithm; 0 when ranks <= 1 or bytes <= 0. An algorithm that
 * does not apply (halving-doubling reduce-scatter at P not a power of two)
 * costs INFINITY. */
double lmn_cost_seconds_with(lmn_link link, lmn_collective kind,
                             lmn_collective_algorithm algorithm, double bytes, int ranks);
/* The same with LMN_ALGORITHM_BEST. */
double lmn_cost_seconds(lmn_link link, lmn_collective kind, double bytes, int ranks);

/* "allreduce", ...; "best", "ring", "halving-doubling", "tree". */
const char *lmn_collective_name(lmn_collective kind);
const char *lmn_collective_algorithm_name(lmn_collective_algorithm algorithm);
/* Looks up an algorithm by name; false if unknown. */
bool lmn_collective_algorithm_from_name(const char *name, lmn_collective_algorithm *out);

#endif
