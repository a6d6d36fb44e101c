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
static const uint64_t SIZES_STREAM_TAG = 0x7073697a6573ull;     /* "psizes" */
static const uint64_t FILL_ORDER_TAG = 0x7066696c6c6full;       /* "pfillo" */
static const uint64_t MIX_STREAM_TAG = 0x706d69786573ull;       /* "pmixes" */
static const uint64_t MIX_SHUFFLE_TAG = 0x706d73687566ull;      /* "pmshuf" */

const char *const lmn_partition_kind_names[] = {"iid", "dirichlet", "shards",
                                                "dirichlet_per_class", NULL};
const char *const lmn_client_sizes_names[] = {"equal", "lognormal", NULL};

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

static lmn_status check_settings(int64_t count, const lmn_partition_spec *spec)
{
    const int clients = spec->clients;
    const bool dirichlet = spec->kind == LMN_PARTITION_DIRICHLET ||
                           spec->kind == LMN_PARTITION_DIRICHLET_PER_CLASS;
    if (clients < 1)
        return lmn_fail(LMN_ERR_CONFIG, "key 'fl.clients': need at least 1 client, got %d",
                        clients);
    if (clients > count)
        return lmn_fail(LMN_ERR_CONFIG, "key 'fl.clients': %d clients but only %lld training "
                        "samples; every client needs a sample: lower fl.clients",
                        clients, (long long)count);
    if (spec->min_size < 0)
        return lmn_fail(LMN_ERR_CONFIG, "key 'fl.min_partition_size': must be >= 0, got %lld",
                        (long long)spec->min_size);
    if (spec->kind == LMN_PARTITION_DIRICHLET_PER_CLASS && spec->min_size > count / clients)
        return lmn_fail(LMN_ERR_CONFIG, "key 'fl.min_partition_size': %d clients of at least "
                        "%lld samples each need more than the %lld training samples: lower "
                        "fl.min_partition_size or fl.clients, or use fl.partition: dirichlet "
                        "(non-empty clients at any count)",
                        clients, (long long)spec->min_size, (long long)count);
    if (dirichlet && !(spec->alpha > 0.0 && isfinite(spec->alpha)))
        return lmn_fail(LMN_ERR_CONFIG, "key 'fl.alpha': the Dirichlet concentration must be a "
                        "finite number > 0, got %g", spec->alpha);
    if (spec->kind == LMN_PARTITION_DIRICHLET &&
        !(spec->size_sigma >= 0.0 && spec->size_sigma <= 10.0))
        return lmn_fail(LMN_ERR_CONFIG, "key 'fl.client_size_sigma': must be in [0, 10], got %g",
                        spec->size_sigma);
    if (spec->kind == LMN_PARTITION_SHARDS && spec->shards_per_client < 1)
        return lmn_fail(LMN_ERR_CONFIG, "key 'fl.shards_per_client': must be at least 1, got %d",
                        spec->shards_per_client);
    if (spec->kind == LMN_PARTITION_SHARDS && (int64_t)clients * spec->shards_per_client > count)
        return lmn_fail(LMN_ERR_CONFIG, "key 'fl.shards_per_client': %d clients x %d shards is "
                        "more shards than the %lld training samples: lower fl.shards_per_client "
                        "or fl.clients", clients, spec->shards_per_client, (long long)count);
    if ((unsigned)spec->kind > LMN_PARTITION_DIRICHLET_PER_CLASS)
        return lmn_fail(LMN_ERR_ARG, "partition kind %d is unknown", (int)spec->kind);
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
        status = lmn_fail(LMN_ERR_CONFIG, "no per-class Dir(%g) partition over %d clients with "
                          "minimum size %lld was found in %d draws (the per-class split leaves "
                          "clients empty when there are many): use fl.partition: dirichlet, "
                          "which gives every client samples at any count, or lower "
                          "fl.min_partition_size, or raise fl.alpha",
                          alpha, clients, (long long)min_size, LMN_PARTITION_MAX_DRAWS);
    }
    lmn_free(gammas);
    lmn_free(cuts);
    lmn_free(sizes);
    return status;
}

/* ---- dirichlet: per-client label mixes ------------------------------ */

typedef struct remainder_share {
    double value;
    int client;
} remainder_share;

/* Largest value first; ties by client index, so the order is total. */
static int compare_remainders(const void *a, const void *b)
{
    const remainder_share *x = a, *y = b;
    if (x->value != y->value) return x->value < y->value ? 1 : -1;
    return (x->client > y->client) - (x->client < y->client);
}

/* Client sizes summing to count, each at least 1 (see partition.h). */
static lmn_status draw_client_sizes(int64_t count, const lmn_partition_spec *spec, uint64_t seed,
                                    int64_t *sizes)
{
    const int clients = spec->clients;
    for (int k = 0; k < clients; k++)
        sizes[k] = balanced_start(count, clients, k + 1) - balanced_start(count, clients, k);
    if (spec->sizes == LMN_CLIENT_SIZES_EQUAL) return LMN_OK;
    remainder_share *shares = NULL;
    LMN_TRY(lmn_alloc_bytes((void **)&shares, (size_t)clients * sizeof *shares, "client sizes"));
    lmn_rng rng = lmn_rng_make(seed, lmn_rng_stream_id(SIZES_STREAM_TAG, 0));
    double total = 0.0;
    for (int k = 0; k < clients; k++) {
        shares[k] = (remainder_share){exp(spec->size_sigma * lmn_rng_normal(&rng)), k};
        total += shares[k].value;
    }
    const double spare = (double)(count - clients);
    int64_t given = 0;
    for (int k = 0; k < clients; k++) {
        const double share = spare * shares[k].value / total;
        sizes[k] = 1 + (int64_t)floor(share);
        shares[k].value = share - floor(share);
        given += sizes[k];
    }
    /* Largest remainders take the samples the floors left over. */
    qsort(shares, (size_t)clients, sizeof *shares, compare_remainders);
    for (int64_t j = 0; given < count; j++, given++) sizes[shares[j % clients].client]++;
    lmn_free(shares);
    return LMN_OK;
}

/* log of a Gamma(shape) variate, finite even where the variate itself
 * underflows (shape far below 1, as alpha * p_c is for small alpha). */
static double log_gamma_variate(lmn_rng *rng, double shape)
{
    if (shape >= 1.0) return log(lmn_rng_gamma(rng, shape));
    const double u = lmn_rng_uniform_double(rng);
    return log(lmn_rng_gamma(rng, shape + 1.0)) + log(u > 1e-300 ? u : 1e-300) / shape;
}

/* q ~ Dir(alpha * C * share): each class's concentration is alpha for
 * balanced classes, as in the per-class split, so a given alpha skews about
 * as much under either scheme. Normalized in log space, so the largest
 * component is never lost to underflow. */
static void draw_label_mix(lmn_rng *rng, const double *share, int classes, double alpha,
                           double *mix)
{
    double top = -INFINITY, sum = 0.0;
    for (int c = 0; c < classes; c++) {
        mix[c] = share[c] > 0.0 ? log_gamma_variate(rng, alpha * classes * share[c]) : -INFINITY;
        top = mix[c] > top ? mix[c] : top;
    }
    for (int c = 0; c < classes; c++) sum += mix[c] = isinf(mix[c]) ? 0.0 : exp(mix[c] - top);
    for (int c = 0; c < classes; c++) mix[c] /= sum;
}

/* Cumulative weights of the classes with samples left: the mix, or the
 * remaining counts when the mix gives those classes no mass. Returns the
 * total. */
static double class_weights(const double *mix, const int64_t *left, int classes,
                            double *cumulative)
{
    double total = 0.0;
    for (int c = 0; c < classes; c++) cumulative[c] = total += left[c] > 0 ? mix[c] : 0.0;
    if (total > 0.0) return total;
    for (int c = 0; c < classes; c++) cumulative[c] = total += (double)left[c];
    return total;
}

/* The first class whose cumulative weight exceeds point (< total). */
static int pick_class(const double *cumulative, int classes, double point)
{
    int low = 0, high = classes - 1;
    while (low < high) {
        const int middle = (low + high) / 2;
        if (cumulative[middle] > point) high = middle;
        else low = middle + 1;
    }
    return low;
}

typedef struct mix_state {
    const class_order *order;
    int64_t *left;        /* per class: samples not yet taken */
    double *share, *mix, *cumulative;
} mix_state;

/* Client k takes `size` samples by its own label mix. */
static void fill_client(mix_state *st, int client, int64_t size, double alpha, uint64_t seed,
                        int32_t *owner)
{
    const int classes = st->order->num_classes;
    lmn_rng rng = lmn_rng_make(seed, lmn_rng_stream_id(MIX_STREAM_TAG, (uint64_t)client));
    draw_label_mix(&rng, st->share, classes, alpha, st->mix);
    double total = class_weights(st->mix, st->left, classes, st->cumulative);
    for (int64_t j = 0; j < size; j++) {
        const int c = pick_class(st->cumulative, classes, lmn_rng_uniform_double(&rng) * total);
        const int64_t class_size = st->order->class_start[c + 1] - st->order->class_start[c];
        owner[st->order->by_class[st->order->class_start[c] + class_size - st->left[c]]] = client;
        if (--st->left[c] == 0) total = class_weights(st->mix, st->left, classes, st->cumulative);
    }
}

static lmn_status alloc_mix_state(const class_order *order, int64_t count, mix_state *st)
{
    const size_t classes = (size_t)order->num_classes;
    *st = (mix_state){.order = order};
    LMN_TRY(lmn_alloc_bytes((void **)&st->left, classes * sizeof(int64_t), "class counts"));
    LMN_TRY(lmn_alloc_bytes((void **)&st->share, classes * sizeof(double), "class shares"));
    LMN_TRY(lmn_alloc_bytes((void **)&st->mix, classes * sizeof(double), "label mix"));
    LMN_TRY(lmn_alloc_bytes((void **)&st->cumulative, classes * sizeof(double), "label mix"));
    for (size_t c = 0; c < classes; c++) {
        st->left[c] = order->class_start[c + 1] - order->class_start[c];
        st->share[c] = (double)st->left[c] / (double)count;
    }
    return LMN_OK;
}

static void free_mix_state(mix_state *st)
{
    lmn_free(st->left);
    lmn_free(st->share);
    lmn_free(st->mix);
    lmn_free(st->cumulative);
}

/* Sizes first, then every client (in a seeded order, so no client index is
 * always the one left with the leftovers) fills itself by its mix. */
static lmn_status assign_label_mixes(const class_order *order, int64_t count,
                                     const lmn_partition_spec *spec, uint64_t seed,
                                     int32_t *owner)
{
    const int clients = spec->clients;
    int64_t *sizes = NULL;
    uint32_t *fill_order = NULL;
    mix_state st;
    lmn_status status = alloc_mix_state(order, count, &st);
    if (status == LMN_OK)
        status = lmn_alloc_bytes((void **)&sizes, (size_t)clients * sizeof(int64_t), "client sizes");
    if (status == LMN_OK)
        status = lmn_alloc_bytes((void **)&fill_order, (size_t)clients * sizeof(uint32_t),
                                 "client fill order");
    if (status == LMN_OK) status = draw_client_sizes(count, spec, seed, sizes);
    if (status == LMN_OK) {
        for (int c = 0; c < order->num_classes; c++) {
            lmn_rng rng = lmn_rng_make(seed, lmn_rng_stream_id(MIX_SHUFFLE_TAG, (uint64_t)c));
            lmn_rng_shuffle(&rng, order->by_class + order->class_start[c],
                            (size_t)(order->class_start[c + 1] - order->class_start[c]));
        }
        lmn_rng rng = lmn_rng_make(seed, lmn_rng_stream_id(FILL_ORDER_TAG, 0));
        lmn_rng_permutation(&rng, fill_order, (size_t)clients);
        for (int i = 0; i < clients; i++)
            fill_client(&st, (int)fill_order[i], sizes[fill_order[i]], spec->alpha, seed, owner);
    }
    free_mix_state(&st);
    lmn_free(sizes);
    lmn_free(fill_order);
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
                                const lmn_partition_spec *spec, uint64_t seed, int32_t *owner,
                                int *draws)
{
    *draws = 1;
    if (spec->kind == LMN_PARTITION_IID) return assign_iid(count, spec->clients, seed, owner);
    class_order order;
    LMN_TRY(class_order_make(labels, count, num_classes, &order));
    lmn_status status;
    if (spec->kind == LMN_PARTITION_SHARDS)
        status = assign_shards(&order, count, spec->clients, spec->shards_per_client, seed, owner);
    else if (spec->kind == LMN_PARTITION_DIRICHLET)
        status = assign_label_mixes(&order, count, spec, seed, owner);
    else
        status = assign_dirichlet(&order, spec->clients, spec->alpha, spec->min_size, seed,
                                  owner, draws);
    class_order_free(&order);
    return status;
}

lmn_status lmn_partition_make(const int32_t *labels, int64_t count, int num_classes,
                              const lmn_partition_spec *spec, uint64_t seed, lmn_partition **out)
{
    *out = NULL;
    LMN_TRY(check_inputs(labels, count, num_classes));
    LMN_TRY(check_settings(count, spec));
    lmn_partition *partition = NULL;
    int32_t *owner = NULL;
    LMN_TRY(lmn_alloc_bytes((void **)&partition, sizeof *partition, "partition"));
    lmn_status status = lmn_alloc_bytes((void **)&owner, (size_t)count * sizeof(int32_t),
                                        "partition owners");
    if (status == LMN_OK)
        status = assign_owners(labels, count, num_classes, spec, seed, owner, &partition->draws);
    if (status == LMN_OK) status = partition_from_owners(owner, count, spec->clients, partition);
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

/* Per client: its size and its number of main classes. */
static lmn_status client_figures(const lmn_partition *partition, const int32_t *labels,
                                 int num_classes, int64_t *sizes, int64_t *main_counts)
{
    int64_t *counts = NULL;
    LMN_TRY(lmn_alloc_bytes((void **)&counts, (size_t)num_classes * sizeof(int64_t),
                            "partition histogram"));
    for (int k = 0; k < partition->clients; k++) {
        sizes[k] = lmn_partition_size(partition, k);
        lmn_partition_histogram(partition, labels, num_classes, k, counts);
        main_counts[k] = main_classes(counts, num_classes, sizes[k]);
    }
    lmn_free(counts);
    return LMN_OK;
}

/* "min / 10% / median / 90% / max (mean)" of values (sorted in place). */
static void print_quantiles(FILE *out, const char *what, int64_t *values, int count)
{
    double mean = 0.0;
    for (int i = 0; i < count; i++) mean += (double)values[i] / count;
    qsort(values, (size_t)count, sizeof *values, compare_int64);
    const double median = 0.5 * (double)(values[(count - 1) / 2] + values[count / 2]);
    fprintf(out, "%s min / 10%% / median / 90%% / max: %lld / %lld / %.1f / %lld / %lld "
            "(mean %.2f)\n", what, (long long)values[0], (long long)values[(count - 1) / 10],
            median, (long long)values[(count - 1) - (count - 1) / 10],
            (long long)values[count - 1], mean);
}

static void print_rows(const lmn_partition *partition, const int32_t *labels, int num_classes,
                       int rows, int64_t *counts, FILE *out)
{
    fprintf(out, "client  samples");
    for (int c = 0; c < num_classes; c++) fprintf(out, " %6d", c);
    fputc('\n', out);
    for (int k = 0; k < rows; k++) {
        lmn_partition_histogram(partition, labels, num_classes, k, counts);
        fprintf(out, "%6d %8lld", k, (long long)lmn_partition_size(partition, k));
        for (int c = 0; c < num_classes; c++) fprintf(out, " %6lld", (long long)counts[c]);
        fputc('\n', out);
    }
    if (rows < partition->clients)
        fprintf(out, "... %d more clients\n", partition->clients - rows);
}

lmn_status lmn_partition_describe(const lmn_partition *partition, const int32_t *labels,
                                  int num_classes, int rows, FILE *out)
{
    const int clients = partition->clients;
    int64_t *sizes = NULL, *main_counts = NULL, *counts = NULL;
    lmn_status status = lmn_alloc_bytes((void **)&sizes, (size_t)clients * sizeof(int64_t),
                                        "partition sizes");
    if (status == LMN_OK)
        status = lmn_alloc_bytes((void **)&counts, (size_t)num_classes * sizeof(int64_t),
                                 "partition histogram");
    if (status == LMN_OK)
        status = lmn_alloc_bytes((void **)&main_counts, (size_t)clients * sizeof(int64_t),
                                 "partition classes");
    if (status == LMN_OK)
        status = client_figures(partition, labels, num_classes, sizes, main_counts);
    if (status == LMN_OK) {
        fprintf(out, "%d clients, %lld samples\n", clients, (long long)partition->total);
        print_quantiles(out, "samples per client", sizes, clients);
        print_quantiles(out, "classes holding >= 5% of a client's samples", main_counts, clients);
        print_rows(partition, labels, num_classes, rows < 0 || rows > clients ? clients : rows,
                   counts, out);
        if (fflush(out) != 0 || ferror(out))
            status = lmn_fail(LMN_ERR_IO, "writing the partition summary failed");
    }
    lmn_free(sizes);
    lmn_free(main_counts);
    lmn_free(counts);
    return status;
}

double lmn_partition_main_classes(const lmn_partition *partition, const int32_t *labels,
                                  int num_classes)
{
    int64_t *counts = malloc((size_t)num_classes * sizeof *counts);
    if (!counts) return NAN;
    int64_t total = 0;
    for (int k = 0; k < partition->clients; k++) {
        lmn_partition_histogram(partition, labels, num_classes, k, counts);
        total += main_classes(counts, num_classes, lmn_partition_size(partition, k));
    }
    free(counts);
    return (double)total / partition->clients;
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
