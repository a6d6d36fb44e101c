/* Federated-learning client partitions, client sample streams and active
 * client sampling (ALGORITHMS.md section 7).
 *
 * Everything is a function of the seed and the inputs, drawn from
 * counter-based streams (core/rng.h), so every rank computes the same
 * partition, the same client batches and the same active clients without
 * communicating, whatever the rank count or thread count.
 *
 * Partitions (K clients, n_c samples of class c):
 *   iid:       a seeded permutation of all samples cut into K contiguous
 *              chunks whose sizes differ by at most 1 (the first
 *              count % K chunks one larger).
 *   dirichlet: per class c, its samples shuffled and cut by proportions
 *              p ~ Dir(alpha) over the clients at floor(cumsum(p) * n_c)
 *              (the last cut at n_c); chunk k goes to client k. If some
 *              client gets fewer than min_size samples the whole draw is
 *              repeated with fresh streams, at most 1000 draws.
 *   shards:    samples sorted by (label, index), cut into
 *              K * shards_per_client contiguous shards whose sizes differ
 *              by at most 1, dealt to the clients by a seeded permutation
 *              of the shards (shards_per_client each).
 * Within a client the sample indices are kept in ascending order, so a
 * partition is canonical: the same assignment always has the same arrays.
 *
 * Client streams: client k's endless sample stream is a sequence of passes
 * over its n_k samples; pass q is a pseudorandom permutation keyed by
 * (seed, k, q), and stream position p is element p % n_k of pass p / n_k.
 * The permutation is a keyed Feistel network with cycle walking, so any
 * position is computed in O(1) expected time without storing the pass:
 * the stream is stateless, and the caller keeps one position per client. */
#ifndef LMN_DATA_PARTITION_H
#define LMN_DATA_PARTITION_H

#include <stdint.h>
#include <stdio.h>

#include "core/status.h"

/* Keep in this order: the fl.partition names map onto it by index. */
typedef enum lmn_partition_kind {
    LMN_PARTITION_IID,
    LMN_PARTITION_DIRICHLET,
    LMN_PARTITION_SHARDS
} lmn_partition_kind;

/* Dirichlet draws tried before lmn_partition_make gives up. */
enum { LMN_PARTITION_MAX_DRAWS = 1000 };

typedef struct lmn_partition {
    int clients;
    int64_t total;      /* samples assigned, = the dataset's count */
    int64_t *offsets;   /* clients + 1 entries */
    uint32_t *indices;  /* client k owns indices[offsets[k] .. offsets[k+1]), ascending */
    int draws;          /* Dirichlet draws made (1 for iid and shards) */
} lmn_partition;

/* Partitions samples 0..count-1 (labels[i] in [0, num_classes)) over
 * `clients` clients. alpha is used by dirichlet only, shards_per_client by
 * shards only; min_size (>= 0) is enforced by Dirichlet redraws, and iid
 * and shards are balanced by construction. The caller frees *out with
 * lmn_partition_free().
 * Errors: LMN_ERR_ARG for missing labels, count outside 1..UINT32_MAX,
 * num_classes < 1 or a label outside [0, num_classes) (the message names
 * the sample); LMN_ERR_CONFIG, naming the fl.* key, for clients < 1 or more
 * clients than samples (fl.clients), alpha not a finite number > 0
 * (fl.alpha), min_size < 0 or min_size * clients > count
 * (fl.min_partition_size), shards_per_client < 1 or more shards than
 * samples (fl.shards_per_client), and no Dirichlet draw meeting min_size
 * within LMN_PARTITION_MAX_DRAWS draws; LMN_ERR_NOMEM. */
lmn_status lmn_partition_make(const int32_t *labels, int64_t count, int num_classes,
                              lmn_partition_kind kind, int clients, double alpha,
                              int64_t min_size, int shards_per_client, uint64_t seed,
                              lmn_partition **out);

/* Frees the partition and its arrays; NULL is allowed. */
void lmn_partition_free(lmn_partition *partition);

/* Samples owned by client (0 <= client < partition->clients). */
int64_t lmn_partition_size(const lmn_partition *partition, int client);

/* counts_out[c] (num_classes entries, caller-owned) = client's samples with
 * label c. Labels must be those the partition was made from (or at least
 * lie in [0, num_classes)). */
void lmn_partition_histogram(const lmn_partition *partition, const int32_t *labels,
                             int num_classes, int client, int64_t *counts_out);

/* Writes a table, one row per client: client, samples, then the count of
 * each class; then a summary line: min / median / max client size and the
 * mean number of classes holding >= 5% of a client's samples.
 * Errors: LMN_ERR_NOMEM; LMN_ERR_IO when writing fails. */
lmn_status lmn_partition_describe(const lmn_partition *partition, const int32_t *labels,
                                  int num_classes, FILE *out);

/* Client's stream positions [position, position + batch) into indices_out
 * (batch entries, caller-owned): dataset sample indices, spanning pass
 * boundaries as needed. Requires 0 <= client < clients, a client with at
 * least one sample, position >= 0 and batch >= 0. The first n_k positions
 * are a permutation of the client's samples, and so is every later pass. */
void lmn_client_batch(const lmn_partition *partition, int client, uint64_t seed,
                      int64_t position, int batch, uint32_t *indices_out);

/* Picks `active` distinct clients of 0..clients-1 (0 <= active <= clients)
 * uniformly without replacement from the stream (seed, draw), and writes
 * them to out_sorted (active entries, caller-owned) in ascending order. */
void lmn_sample_clients(int clients, int active, uint64_t seed, uint64_t draw, int *out_sorted);

#endif
