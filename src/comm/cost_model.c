#include "comm/cost_model.h"

#include <math.h>
#include <string.h>

lmn_link lmn_link_from_gbits(double gbits_per_second, double latency_us)
{
    return (lmn_link){gbits_per_second * 1e9 / 8.0, latency_us * 1e-6};
}

double lmn_cost_bytes_allreduce(double bytes, int ranks)
{
    return ranks > 1 ? 2.0 * (ranks - 1) / ranks * bytes : 0.0;
}

double lmn_cost_bytes_reduce_scatter(double bytes, int ranks)
{
    return ranks > 1 ? (double)(ranks - 1) / ranks * bytes : 0.0;
}

double lmn_cost_bytes_allgather(double bytes, int ranks)
{
    return lmn_cost_bytes_reduce_scatter(bytes, ranks);
}

double lmn_cost_bytes_broadcast(double bytes, int ranks)
{
    return ranks > 1 ? bytes : 0.0;
}

double lmn_cost_bytes(lmn_collective kind, double bytes, int ranks)
{
    switch (kind) {
    case LMN_COLLECTIVE_ALLREDUCE: return lmn_cost_bytes_allreduce(bytes, ranks);
    case LMN_COLLECTIVE_REDUCE_SCATTER: return lmn_cost_bytes_reduce_scatter(bytes, ranks);
    case LMN_COLLECTIVE_ALLGATHER: return lmn_cost_bytes_allgather(bytes, ranks);
    case LMN_COLLECTIVE_BROADCAST: return lmn_cost_bytes_broadcast(bytes, ranks);
    case LMN_COLLECTIVE_COUNT: break;
    }
    return 0.0;
}

/* ceil(log2 p) for p >= 1. */
static int ceil_log2(int p)
{
    int steps = 0;
    while ((1L << steps) < p) steps++;
    return steps;
}

static bool power_of_two(int p) { return (p & (p - 1)) == 0; }

static double ring_seconds(lmn_collective kind, double a, double b, double s, int p)
{
    const double part = (double)(p - 1) / p * s * b;
    switch (kind) {
    case LMN_COLLECTIVE_ALLREDUCE: return 2.0 * (p - 1) * a + 2.0 * part;
    case LMN_COLLECTIVE_REDUCE_SCATTER:
    case LMN_COLLECTIVE_ALLGATHER: return (p - 1) * a + part;
    case LMN_COLLECTIVE_BROADCAST: return (ceil_log2(p) + p - 1) * a + 2.0 * part;
    case LMN_COLLECTIVE_COUNT: break;
    }
    return INFINITY;
}

static double halving_doubling_seconds(lmn_collective kind, double a, double b, double s, int p)
{
    const int steps = ceil_log2(p);
    switch (kind) {
    case LMN_COLLECTIVE_ALLREDUCE: {
        /* Rabenseifner on the largest power of two; the rest fold in and out. */
        const int inner = power_of_two(p) ? p : 1 << (steps - 1);
        const double fold = inner == p ? 0.0 : 2.0 * (a + s * b);
        return 2.0 * ceil_log2(inner) * a + 2.0 * (inner - 1) / inner * s * b + fold;
    }
    case LMN_COLLECTIVE_REDUCE_SCATTER:
        return power_of_two(p) ? steps * a + (double)(p - 1) / p * s * b : INFINITY;
    case LMN_COLLECTIVE_ALLGATHER: return steps * a + (double)(p - 1) / p * s * b;
    case LMN_COLLECTIVE_BROADCAST: return ring_seconds(kind, a, b, s, p);
    case LMN_COLLECTIVE_COUNT: break;
    }
    return INFINITY;
}

static double tree_seconds(lmn_collective kind, double a, double b, double s, int p)
{
    const int steps = ceil_log2(p);
    const double whole = steps * (a + s * b);
    const double scatter = steps * a + (double)(p - 1) / p * s * b;
    switch (kind) {
    case LMN_COLLECTIVE_ALLREDUCE: return whole + (power_of_two(p) ? 0.0 : a + s * b);
    case LMN_COLLECTIVE_REDUCE_SCATTER:
    case LMN_COLLECTIVE_ALLGATHER: return whole + scatter;
    case LMN_COLLECTIVE_BROADCAST: return whole;
    case LMN_COLLECTIVE_COUNT: break;
    }
    return INFINITY;
}

double lmn_cost_seconds_with(lmn_link link, lmn_collective kind,
                             lmn_collective_algorithm algorithm, double bytes, int ranks)
{
    if (ranks <= 1 || bytes <= 0.0) return 0.0;
    const double a = link.latency_seconds, b = 1.0 / link.bytes_per_second;
    switch (algorithm) {
    case LMN_ALGORITHM_RING: return ring_seconds(kind, a, b, bytes, ranks);
    case LMN_ALGORITHM_HALVING_DOUBLING: return halving_doubling_seconds(kind, a, b, bytes, ranks);
    case LMN_ALGORITHM_TREE: return tree_seconds(kind, a, b, bytes, ranks);
    case LMN_ALGORITHM_BEST:
    case LMN_ALGORITHM_COUNT: break;
    }
    return fmin(ring_seconds(kind, a, b, bytes, ranks),
                fmin(halving_doubling_seconds(kind, a, b, bytes, ranks),
                     tree_seconds(kind, a, b, bytes, ranks)));
}

double lmn_cost_seconds(lmn_link link, lmn_collective kind, double bytes, int ranks)
{
    return lmn_cost_seconds_with(link, kind, LMN_ALGORITHM_BEST, bytes, ranks);
}

const char *lmn_collective_name(lmn_collective kind)
{
    static const char *const names[LMN_COLLECTIVE_COUNT] = {"allreduce", "reduce-scatter",
                                                            "allgather", "broadcast"};
    return kind >= 0 && kind < LMN_COLLECTIVE_COUNT ? names[kind] : "?";
}

static const char *const algorithm_names[LMN_ALGORITHM_COUNT] = {"best", "ring",
                                                                 "halving-doubling", "tree"};

const char *lmn_collective_algorithm_name(lmn_collective_algorithm algorithm)
{
    return algorithm >= 0 && algorithm < LMN_ALGORITHM_COUNT ? algorithm_names[algorithm] : "?";
}

bool lmn_collective_algorithm_from_name(const char *name, lmn_collective_algorithm *out)
{
    for (int i = 0; i < LMN_ALGORITHM_COUNT; i++) {
        if (strcmp(name, algorithm_names[i]) == 0) {
            *out = (lmn_collective_algorithm)i;
            return true;
        }
    }
    return false;
}
