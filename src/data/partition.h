/* Federated-learning client partitions, client sample streams and active
 * client sampling (ALGORITHMS.md section 7).
 *
 * Everything is a function of the seed and the inputs, drawn from
 * counter-based streams (core/rng.h), so every rank computes the same
 * partition, the same client batches and the same active clients without
 * communicating, whatever the rank count or thread count.
 *
 * Partitions (K clients, n_c samples of class c, N samples, p_c = n_c / N):
 *   iid:       a seeded permutation of all samples cut into K contiguous
 *              chunks whose sizes differ by at most 1 (the first
 *              count % K chunks one larger).
 *   dirichlet: label skew at any K <= N, every client non-empty. Client
 *              sizes first: `equal` (balanced, differing by at most 1) or
 *              `lognormal` (weights exp(sigma * z_k), z_k standard normal;
 *              each client gets 1 sample plus its share of the other N - K
 *              by largest remainders), summing to N. Then each client, in
 *              a seeded order, draws its label mix q ~ Dir(alpha * C * p)
 *              (C classes: the mean mix is the global one, and each class's
 *              concentration is alpha when classes are balanced, as in the
 *              per-class split, so alpha skews about as much under both;
 *              alpha -> 0 gives one class per client, large alpha IID)
 *              and takes its samples one at a time: a
 *              class drawn from q, then the next unused sample of that
 *              class (each class's samples in a seeded order). Exhausted
 *              classes: q is renormalized over the classes that still
 *              have samples; when q gives those no mass at all (tiny
 *              alpha), the draw falls back to the classes' remaining
 *              counts. Every sample is used exactly once.
 *   dirichlet_per_class: the classic per-class split: per class c, its
 *              samples shuffled and cut by proportions p ~ Dir(alpha) over
 *              the clients at floor(cumsum(p) * n_c) (the last cut at n_c);
 *              chunk k goes to client k. If some client gets fewer than
 *              min_size samples the whole draw is repeated with fresh
 *              streams, at most 1000 draws. At large K most clients get
 *              nothing from this split, so it fails there: use dirichlet.
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

/* Keep in this order: lmn_partition_kind_names maps onto it by index. */
typedef enum lmn_partition_kind {
    LMN_PARTITION_IID,
    LMN_PARTITION_DIRICHLET,
    LMN_PARTITION_SHARDS,
    LMN_PARTITION_DIRICHLET_PER_CLASS
} lmn_partition_kind;

/* "iid", "dirichlet", "shards", "dirichlet_per_class", NULL: the values of
 * fl.partition, by kind. */
extern const char *const lmn_partition_kind_names[];

/* Client sizes of the dirichlet partition; lmn_client_sizes_names maps
 * onto it by index ("equal", "lognormal", NULL). */
typedef enum lmn_client_sizes { LMN_CLIENT_SIZES_EQUAL, LMN_CLIENT_SIZES_LOGNORMAL } lmn_client_sizes;
extern const char *const lmn_client_sizes_names[];

/* What to partition into: the fl.* keys of a partition. */
typedef struct lmn_partition_spec {
    lmn_partition_kind kind;
    int clients;
    double alpha;             /* dirichlet, dirichlet_per_class: concentration > 0 */
    int64_t min_size;         /* dirichlet_per_class: redraw until every client has this many */
    int shards_per_client;    /* shards */
    lmn_client_sizes sizes;   /* dirichlet */
    double size_sigma;        /* dirichlet with lognormal sizes: sigma >= 0 */
} lmn_partition_spec;

/* Dirichlet draws tried before lmn_partition_make gives up. */
enum { LMN_PARTITION_MAX_DRAWS = 1000 };

typedef struct lmn_partition {
    int clients;
    int64_t total;      /* samples assigned, = the dataset's count */
    int64_t *offsets;   /* clients + 1 entries */
    uint32_t *indices;  /* client k owns indices[offsets[k] .. offsets[k+1]), ascending */
    int draws;          /* Dirichlet draws made (1 for iid and shards) */
} lmn_partition;

/* Partitions samples 0..count-1 (labels[i] in [0, num_classes)) as spec
 * says. min_size (>= 0) is enforced by dirichlet_per_class redraws; iid,
 * shards and dirichlet give every client at least one sample by
 * construction. The caller frees *out with lmn_partition_free().
 * Errors: LMN_ERR_ARG for missing labels, count outside 1..UINT32_MAX,
 * num_classes < 1 or a label outside [0, num_classes) (the message names
 * the sample); LMN_ERR_CONFIG, naming the fl.* key, for clients < 1 or more
 * clients than samples (fl.clients), alpha not a finite number > 0
 * (fl.alpha), min_size < 0 or min_size * clients > count
 * (fl.min_partition_size), shards_per_client < 1 or more shards than
 * samples (fl.shards_per_client), a negative or non-finite sigma
 * (fl.client_size_sigma), and no dirichlet_per_class draw meeting min_size
 * within LMN_PARTITION_MAX_DRAWS draws; LMN_ERR_NOMEM. */
lmn_status lmn_partition_make(const int32_t *labels, int64_t count, int num_classes,
                              const lmn_partition_spec *spec, uint64_t seed, lmn_partition **out);

/* Frees the partition and its arrays; NULL is allowed. */
void lmn_partition_free(lmn_partition *partition);

/* Samples owned by client (0 <= client < partition->clients). */
int64_t lmn_partition_size(const lmn_partition *partition, int client);

/* counts_out[c] (num_classes entries, caller-owned) = client's samples with
 * label c. Labels must be those the partition was made from (or at least
 * lie in [0, num_classes)). */
void lmn_partition_histogram(const lmn_partition *partition, const int32_t *labels,
                             int num_classes, int client, int64_t *counts_out);

/* Writes a summary of the partition: quantiles (min, 10%, median, 90%,
 * max) of the client sizes and of the number of classes holding >= 5% of a
 * client's samples, their means, then a table of the first `rows` clients
 * (client, samples, the count of each class; all clients when rows < 0 or
 * rows >= clients).
 * Errors: LMN_ERR_NOMEM; LMN_ERR_IO when writing fails. */
lmn_status lmn_partition_describe(const lmn_partition *partition, const int32_t *labels,
                                  int num_classes, int rows, FILE *out);

/* The mean number of classes holding >= 5% of a client's samples: the
 * label-skew figure of the summary (num_classes for a perfectly mixed
 * partition, 1 for one class per client). */
double lmn_partition_main_classes(const lmn_partition *partition, const int32_t *labels,
                                  int num_classes);

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
