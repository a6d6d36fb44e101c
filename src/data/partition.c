#include "data/partition.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

#include "core/memory.h"
#include "core/rng.h"

/* Stream tags keep each use of the seed apart from every other use. */
static const uint64_t IID_STREAM_TAG = 0x706969646964ull;       /* "piidid" */
static const uint64_t DIRICHLET_STREAM_TAG = 0x706469726368ull; /* "pdirch" */
static const uint64_t DIRICHLET_SHUFFLE_TAG = 0x706473687566ull; /* "pdshuf" */
static const uint64_t SHARDS_STREAM_TAG = 0x707368617264ull;    /* "pshard" */
static const uint64_t CLIENT_STREAM_TAG = 0x637374726561ull;    /* "cstrea" */
static const uint64_t ACTIVE_STREAM_TAG = 0x616374697665ull;    /* "active" */

/* Feistel rounds of the pass permutation: enough that even tiny clients
 * (a 4-element domain) see well-mixed orders. */
enum { FEISTEL_ROUNDS = 8 };

/* A class holding at least this share of a client's samples counts as one
 * of the client's main classes in the describe summary (1/20 = 5%). */
enum { MAIN_CLASS_INVERSE_SHARE = 20 };

/* Start of part k when total items are cut into `parts` contiguous parts
 * whose sizes differ by at most 1, the first total % parts one larger. */
static int64_t balanced_start(int64_t total, int64_t parts, int64_t k)
{
    const int64_t base = total / parts, extra = total % parts;
    return k * base + (k < extra ? k : extra);
}

static lmn_status check_inputs(const int32_t *labels, int64_t count, int num_classes)
{
    if (!labels || count < 1 || count > (int64_t)UINT32_MAX)
        return lmn_fail(LMN_ERR_ARG, "partition of %lld samples: need labels for 1..%u samples",
                        (long long)count, UINT32_MAX);
    if (num_classes < 1)
        return lmn_fail(LMN_ERR_ARG, "partition with %d classes: need at least 1 class",
                        num_classes);
    for (int64_t i = 0; i < count; i++)
        if (labels[i] < 0 || labels[i] >= num_classes)
            return lmn_fail(LMN_ERR_ARG, "partition: label %d of sample %lld is outside [0, %d)",
                            labels[i], (long long)i, num_classes);
    return LMN_OK;
}

static lmn_status check_settings(int64_t count, lmn_partition_kind kind, int clients,
                                 double alpha, int64_t min_size, int shards_per_client)
{
    if (clients < 1)
        return lmn_fail(LMN_ERR_CONFIG, "key 'fl.clients': need at least 1 client, got %d",
                        clients);
    if (clients > count)
        return lmn_fail(LMN_ERR_CONFIG, "key 'fl.clients': %d clients but only %lld training "
                        "samples; every client needs a sample: lower fl.clients",
                        clients, (long long)count);
    if (min_size < 0)
        return lmn_fail(LMN_ERR_CONFIG, "key 'fl.min_partition_size': must be >= 0, got %lld",
                        (long long)min_size);
    if (min_size > count / clients)
        return lmn_fail(LMN_ERR_CONFIG, "key 'fl.min_partition_size': %d clients of at least "
                        "%lld samples each need more than the %lld training samples: lower "
                        "fl.min_partition_size or fl.clients",
                        clients, (long long)min_size, (long long)count);
    if (kind == LMN_PARTITION_DIRICHLET && !(alpha > 0.0 && isfinite(alpha)))
        return lmn_fail(LMN_ERR_CONFIG, "key 'fl.alpha': the Dirichlet concentration must be a "
                        "finite number > 0, got %g", alpha);
    if (kind == LMN_PARTITION_SHARDS && shards_per_client < 1)
        return lmn_fail(LMN_ERR_CONFIG, "key 'fl.shards_per_client': must be at least 1, got %d",
                        shards_per_client);
    if (kind == LMN_PARTITION_SHARDS && (int64_t)clients * shards_per_client > count)
        return lmn_fail(LMN_ERR_CONFIG, "key 'fl.shards_per_client': %d clients x %d shards is "
                        "more shards than the %lld training samples: lower fl.shards_per_client "
                        "or fl.clients", clients, shards_per_client, (long long)count);
    if (kind != LMN_PARTITION_IID && kind != LMN_PARTITION_DIRICHLET &&
        kind != LMN_PARTITION_SHARDS)
        return lmn_fail(LMN_ERR_ARG, "partition kind %d is unknown", (int)kind);
    return LMN_OK;
}

/* Samples grouped by class, ascending index within a class (a stable
 * counting sort): class c's samples are by_class[class_start[c] ..
 * class_start[c+1]). */
typedef struct class_order {
    int num_classes;
    int64_t *class_start; /* num_classes + 1 */
    uint32_t *by_class;   /* count */
} class_order;

static void class_order_free(class_order *order)
{
    lmn_free(order->class_start);
    lmn_free(order->by_class);
}

static lmn_status class_order_make(const int32_t *labels, int64_t count, int num_classes,
                                   class_order *order)
{
    *order = (class_order){.num_classes = num_classes};
    lmn_status status = lmn_alloc_bytes((void **)&order->class_start,
                                        (size_t)(num_classes + 1) * sizeof(int64_t),
                                        "partition class offsets");
    if (status == LMN_OK)
        status = lmn_alloc_bytes((void **)&order->by_class, (size_t)count * sizeof(uint32_t),
                                 "partition class order");
    if (status != LMN_OK) {
        class_order_free(order);
        return status;
    }
    for (int64_t i = 0; i < count; i++) order->class_start[labels[i] + 1]++;
    for (int c = 0; c < num_classes; c++) order->class_start[c + 1] += order->class_start[c];
    /* Fill through class_start as cursors, then shift it back by one class. */
    for (int64_t i = 0; i < count; i++) order->by_class[order->class_start[labels[i]]++] = (uint32_t)i;
    for (int c = num_classes; c > 0; c--) order->class_start[c] = order->class_start[c - 1];
    order->class_start[0] = 0;
    return LMN_OK;
}

static lmn_status assign_iid(int64_t count, int clients, uint64_t seed, int32_t *owner)
{
    uint32_t *order = NULL;
    LMN_TRY(lmn_alloc_bytes((void **)&order, (size_t)count * sizeof(uint32_t), "iid partition"));
    lmn_rng rng = lmn_rng_make(seed, lmn_rng_stream_id(IID_STREAM_TAG, 0));
    lmn_rng_permutation(&rng, order, (size_t)count);
    for (int k = 0; k < clients; k++)
        for (int64_t j = balanced_start(count, clients, k); j < balanced_start(count, clients, k + 1); j++)
            owner[order[j]] = k;
    lmn_free(order);
    return LMN_OK;
}

static lmn_status assign_shards(const class_order *order, int64_t count, int clients,
                                int shards_per_client, uint64_t seed, int32_t *owner)
{
    const int64_t shards = (int64_t)clients * shards_per_client;
    uint32_t *deal = NULL;
    LMN_TRY(lmn_alloc_bytes((void **)&deal, (size_t)shards * sizeof(uint32_t), "shard deal"));
    lmn_rng rng = lmn_rng_make(seed, lmn_rng_stream_id(SHARDS_STREAM_TAG, 0));
    lmn_rng_permutation(&rng, deal, (size_t)shards);
    for (int64_t m = 0; m < shards; m++) {
        const int client = (int)(m / shards_per_client);
        const int64_t first = balanced_start(count, shards, deal[m]);
        const int64_t end = balanced_start(count, shards, (int64_t)deal[m] + 1);
        for (int64_t j = first; j < end; j++) owner[order->by_class[j]] = client;
    }
    lmn_free(deal);
    return LMN_OK;
}

/* One Dirichlet draw: for every class, proportions p ~ Dir(alpha) over the
 * clients turned into chunk ends cuts[c * clients + k] (client k's chunk of
 * class c ends there), and the resulting client sizes. Returns false when
 * a class's Gamma draws all underflowed to 0 (possible for tiny alpha), so
 * that the draw has no proportions and must be redrawn. */
static bool draw_dirichlet_cuts(const class_order *order, int clients, double alpha,
                                uint64_t seed, int draw, double *gammas, int64_t *cuts,
                                int64_t *sizes)
{
    lmn_rng rng = lmn_rng_make(seed, lmn_rng_stream_id(DIRICHLET_STREAM_TAG, (uint64_t)draw));
    for (int k = 0; k < clients; k++) sizes[k] = 0;
    for (int c = 0; c < order->num_classes; c++) {
        double sum = 0.0;
        for (int k = 0; k < clients; k++) sum += gammas[k] = lmn_rng_gamma(&rng, alpha);
        if (!(sum > 0.0)) return false;
        const int64_t class_size = order->class_start[c + 1] - order->class_start[c];
        int64_t *class_cuts = cuts + (int64_t)c * clients;
        double cumulative = 0.0;
        int64_t previous = 0;
        for (int k = 0; k < clients; k++) {
            cumulative += gammas[k] / sum;
            int64_t cut = (int64_t)floor(cumulative * (double)class_size);
            cut = cut > class_size || k == clients - 1 ? class_size : cut;
            class_cuts[k] = cut < previous ? previous : cut;
            sizes[k] += class_cuts[k] - previous;
            previous = class_cuts[k];
        }
    }
    return true;
}

/* Shuffles each class with the accepted draw's streams and hands its
 * chunks to the clients. */
static void deal_dirichlet_chunks(const class_order *order, int clients, uint64_t seed, int draw,
                                  const int64_t *cuts, int32_t *owner)
{
    const uint64_t draw_stream = lmn_rng_stream_id(DIRICHLET_SHUFFLE_TAG, (uint64_t)draw);
    for (int c = 0; c < order->num_classes; c++) {
        uint32_t *samples = order->by_class + order->class_start[c];
        lmn_rng rng = lmn_rng_make(seed, lmn_rng_stream_id(draw_stream, (uint64_t)c));
        lmn_rng_shuffle(&rng, samples, (size_t)(order->class_start[c + 1] - order->class_start[c]));
        int64_t first = 0;
        for (int k = 0; k < clients; k++) {
            const int64_t end = cuts[(int64_t)c * clients + k];
            for (int64_t j = first; j < end; j++) owner[samples[j]] = k;
            first = end;
        }
    }
}

static int64_t smallest(const int64_t *values, int count)
{
    int64_t least = values[0];
    for (int i = 1; i < count; i++) least = values[i] < least ? values[i] : least;
    return least;
}

/* Draws until every client has min_size samples. The proportions are
 * checked before anything is shuffled (each draw has its own streams), so
 * a rejected draw costs only its Gamma variates. */
static lmn_status assign_dirichlet(const class_order *order, int clients, double alpha,
                                   int64_t min_size, uint64_t seed, int32_t *owner,
                                   int *draws_out)
{
    double *gammas = NULL;
    int64_t *cuts = NULL, *sizes = NULL;
    lmn_status status = lmn_alloc_bytes((void **)&gammas, (size_t)clients * sizeof(double),
                                        "Dirichlet proportions");
    if (status == LMN_OK)
        status = lmn_alloc_bytes((void **)&cuts,
                                 (size_t)clients * (size_t)order->num_classes * sizeof(int64_t),
                                 "Dirichlet cuts");
    if (status == LMN_OK)
        status = lmn_alloc_bytes((void **)&sizes, (size_t)clients * sizeof(int64_t),
                                 "Dirichlet client sizes");
    int accepted = 0;
    for (int draw = 1; status == LMN_OK && !accepted && draw <= LMN_PARTITION_MAX_DRAWS; draw++)
        if (draw_dirichlet_cuts(order, clients, alpha, seed, draw, gammas, cuts, sizes) &&
            smallest(sizes, clients) >= min_size)
            accepted = draw;
    if (status == LMN_OK && accepted) {
        deal_dirichlet_chunks(order, clients, seed, accepted, cuts, owner);
        *draws_out = accepted;
    } else if (status == LMN_OK) {
        status = lmn_fail(LMN_ERR_CONFIG, "no Dir(%g) partition over %d clients with minimum "
                          "size %lld was found in %d draws: lower fl.min_partition_size or "
                          "raise fl.alpha", alpha, clients, (long long)min_size,
                          LMN_PARTITION_MAX_DRAWS);
    }
    lmn_free(gammas);
    lmn_free(cuts);
    lmn_free(sizes);
    return status;
}

/* Builds the per-client index lists from owner[i] (client of sample i),
 * ascending within each client. */
static lmn_status partition_from_owners(const int32_t *owner, int64_t count, int clients,
                                        lmn_partition *partition)
{
    partition->clients = clients;
    partition->total = count;
    LMN_TRY(lmn_alloc_bytes((void **)&partition->offsets, (size_t)(clients + 1) * sizeof(int64_t),
                            "partition offsets"));
    LMN_TRY(lmn_alloc_bytes((void **)&partition->indices, (size_t)count * sizeof(uint32_t),
                            "partition indices"));
    int64_t *offsets = partition->offsets;
    for (int64_t i = 0; i < count; i++) offsets[owner[i] + 1]++;
    for (int k = 0; k < clients; k++) offsets[k + 1] += offsets[k];
    /* Fill through offsets as cursors, then shift them back by one client. */
    for (int64_t i = 0; i < count; i++) partition->indices[offsets[owner[i]]++] = (uint32_t)i;
    for (int k = clients; k > 0; k--) offsets[k] = offsets[k - 1];
    offsets[0] = 0;
    return LMN_OK;
}

static lmn_status assign_owners(const int32_t *labels, int64_t count, int num_classes,
                                lmn_partition_kind kind, int clients, double alpha,
                                int64_t min_size, int shards_per_client, uint64_t seed,
                                int32_t *owner, int *draws)
{
    *draws = 1;
    if (kind == LMN_PARTITION_IID) return assign_iid(count, clients, seed, owner);
    class_order order;
    LMN_TRY(class_order_make(labels, count, num_classes, &order));
    const lmn_status status =
        kind == LMN_PARTITION_SHARDS
            ? assign_shards(&order, count, clients, shards_per_client, seed, owner)
            : assign_dirichlet(&order, clients, alpha, min_size, seed, owner, draws);
    class_order_free(&order);
    return status;
}

lmn_status lmn_partition_make(const int32_t *labels, int64_t count, int num_classes,
                              lmn_partition_kind kind, int clients, double alpha,
                              int64_t min_size, int shards_per_client, uint64_t seed,
                              lmn_partition **out)
{
    *out = NULL;
    LMN_TRY(check_inputs(labels, count, num_classes));
    LMN_TRY(check_settings(count, kind, clients, alpha, min_size, shards_per_client));
    lmn_partition *partition = NULL;
    int32_t *owner = NULL;
    LMN_TRY(lmn_alloc_bytes((void **)&partition, sizeof *partition, "partition"));
    lmn_status status = lmn_alloc_bytes((void **)&owner, (size_t)count * sizeof(int32_t),
                                        "partition owners");
    if (status == LMN_OK)
        status = assign_owners(labels, count, num_classes, kind, clients, alpha, min_size,
                               shards_per_client, seed, owner, &partition->draws);
    if (status == LMN_OK) status = partition_from_owners(owner, count, clients, partition);
    lmn_free(owner);
    if (status != LMN_OK) {
        lmn_partition_free(partition);
        return status;
    }
    *out = partition;
    return LMN_OK;
}

void lmn_partition_free(lmn_partition *partition)
{
    if (!partition) return;
    lmn_free(partition->offsets);
    lmn_free(partition->indices);
    lmn_free(partition);
}

int64_t lmn_partition_size(const lmn_partition *partition, int client)
{
    return partition->offsets[client + 1] - partition->offsets[client];
}

void lmn_partition_histogram(const lmn_partition *partition, const int32_t *labels,
                             int num_classes, int client, int64_t *counts_out)
{
    for (int c = 0; c < num_classes; c++) counts_out[c] = 0;
    for (int64_t j = partition->offsets[client]; j < partition->offsets[client + 1]; j++)
        counts_out[labels[partition->indices[j]]]++;
}

static int main_classes(const int64_t *counts, int num_classes, int64_t size)
{
    int held = 0;
    for (int c = 0; c < num_classes; c++)
        held += counts[c] > 0 && counts[c] * MAIN_CLASS_INVERSE_SHARE >= size;
    return held;
}

static int compare_int64(const void *a, const void *b)
{
    const int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void describe_rows(const lmn_partition *partition, const int32_t *labels,
                          int num_classes, int64_t *counts, int64_t *sizes,
                          double *mean_main_classes, FILE *out)
{
    fprintf(out, "client  samples");
    for (int c = 0; c < num_classes; c++) fprintf(out, " %6d", c);
    fputc('\n', out);
    int64_t main_total = 0;
    for (int k = 0; k < partition->clients; k++) {
        sizes[k] = lmn_partition_size(partition, k);
        lmn_partition_histogram(partition, labels, num_classes, k, counts);
        main_total += main_classes(counts, num_classes, sizes[k]);
        fprintf(out, "%6d %8lld", k, (long long)sizes[k]);
        for (int c = 0; c < num_classes; c++) fprintf(out, " %6lld", (long long)counts[c]);
        fputc('\n', out);
    }
    *mean_main_classes = (double)main_total / partition->clients;
}

lmn_status lmn_partition_describe(const lmn_partition *partition, const int32_t *labels,
                                  int num_classes, FILE *out)
{
    int64_t *counts = NULL, *sizes = NULL;
    lmn_status status = lmn_alloc_bytes((void **)&counts, (size_t)num_classes * sizeof(int64_t),
                                        "partition histogram");
    if (status == LMN_OK)
        status = lmn_alloc_bytes((void **)&sizes, (size_t)partition->clients * sizeof(int64_t),
                                 "partition sizes");
    if (status == LMN_OK) {
        double mean_main = 0.0;
        describe_rows(partition, labels, num_classes, counts, sizes, &mean_main, out);
        const int clients = partition->clients;
        qsort(sizes, (size_t)clients, sizeof *sizes, compare_int64);
        const double median = 0.5 * (double)(sizes[(clients - 1) / 2] + sizes[clients / 2]);
        fprintf(out, "%d clients, samples min / median / max: %lld / %.1f / %lld; classes "
                "holding >= 5%% of a client's samples: %.2f on average\n",
                clients, (long long)sizes[0], median, (long long)sizes[clients - 1], mean_main);
        if (fflush(out) != 0 || ferror(out))
            status = lmn_fail(LMN_ERR_IO, "writing the partition table failed");
    }
    lmn_free(counts);
    lmn_free(sizes);
    return status;
}

/* Pass permutation over [0, n): a balanced Feistel network on 2 * half_bits
 * bits (a bijection of [0, 4^half_bits)) whose round functions come from
 * the pass's Philox stream, restricted to [0, n) by cycle walking (apply it
 * again until the value lands in range; the walk stays on the start's
 * cycle, so it ends, after fewer than 4 steps on average as 4^half_bits < 4n). */
typedef struct pass_permutation {
    lmn_rng rng;
    uint64_t n;
    int half_bits;
} pass_permutation;

static pass_permutation pass_permutation_make(uint64_t seed, int client, uint64_t pass, uint64_t n)
{
    pass_permutation perm = {
        .rng = lmn_rng_make(seed, lmn_rng_stream_id(
                                      lmn_rng_stream_id(CLIENT_STREAM_TAG, (uint64_t)client), pass)),
        .n = n,
        .half_bits = 1};
    while ((UINT64_C(1) << (2 * perm.half_bits)) < n) perm.half_bits++;
    return perm;
}

static uint64_t feistel(const pass_permutation *perm, uint64_t value)
{
    const uint32_t mask = (uint32_t)((UINT64_C(1) << perm->half_bits) - 1);
    uint32_t left = (uint32_t)(value >> perm->half_bits), right = (uint32_t)value & mask;
    for (uint64_t round = 0; round < FEISTEL_ROUNDS; round++) {
        lmn_rng rng = perm->rng;
        lmn_rng_seek(&rng, (round << 32) | right);
        const uint32_t mixed = left ^ (lmn_rng_u32(&rng) & mask);
        left = right;
        right = mixed;
    }
    return ((uint64_t)left << perm->half_bits) | right;
}

static uint64_t pass_permutation_apply(const pass_permutation *perm, uint64_t offset)
{
    uint64_t value = offset;
    do {
        value = feistel(perm, value);
    } while (value >= perm->n);
    return value;
}

void lmn_client_batch(const lmn_partition *partition, int client, uint64_t seed,
                      int64_t position, int batch, uint32_t *indices_out)
{
    const uint32_t *samples = partition->indices + partition->offsets[client];
    const uint64_t n = (uint64_t)lmn_partition_size(partition, client);
    uint64_t pass = (uint64_t)position / n, offset = (uint64_t)position % n;
    pass_permutation perm = pass_permutation_make(seed, client, pass, n);
    for (int i = 0; i < batch; i++) {
        indices_out[i] = samples[pass_permutation_apply(&perm, offset)];
        if (++offset == n) {
            offset = 0;
            perm = pass_permutation_make(seed, client, ++pass, n);
        }
    }
}

void lmn_sample_clients(int clients, int active, uint64_t seed, uint64_t draw, int *out_sorted)
{
    /* Selection sampling (Knuth's Algorithm S): client i is taken with
     * probability (still needed) / (still available), which makes every
     * subset of size `active` equally likely and yields them in order. */
    lmn_rng rng = lmn_rng_make(seed, lmn_rng_stream_id(ACTIVE_STREAM_TAG, draw));
    int chosen = 0;
    for (int i = 0; i < clients && chosen < active; i++)
        if (lmn_rng_below(&rng, (uint64_t)(clients - i)) < (uint64_t)(active - chosen))
            out_sorted[chosen++] = i;
}
