/* Federated client partitions, client sample streams and active-client
 * sampling, on hand-made labels and the real Fashion-MNIST labels. */
#include <string.h>

#include "data/dataset.h"
#include "data/partition.h"
#include "data_testing.h"
#include "test.h"

enum { SMALL = 103, SMALL_CLASSES = 4, MAX_CLASSES = 16 };

static void small_labels(int32_t *labels)
{
    /* Unbalanced classes in an interleaved order. */
    for (int i = 0; i < SMALL; i++) labels[i] = (i * 7 + i / 5) % SMALL_CLASSES;
}

/* Every sample 0..count-1 exactly once, offsets consistent, ascending
 * within each client. */
static int covers_once(const lmn_partition *p, int64_t count)
{
    if (p->total != count || p->offsets[0] != 0 || p->offsets[p->clients] != count) return 0;
    unsigned char *seen = calloc((size_t)count, 1);
    int ok = 1;
    for (int k = 0; k < p->clients; k++) {
        if (p->offsets[k + 1] < p->offsets[k]) ok = 0;
        for (int64_t j = p->offsets[k]; ok && j < p->offsets[k + 1]; j++) {
            const uint32_t i = p->indices[j];
            if (i >= count || seen[i] || (j > p->offsets[k] && p->indices[j - 1] >= i)) ok = 0;
            else seen[i] = 1;
        }
    }
    free(seen);
    return ok;
}

static int same_partition(const lmn_partition *a, const lmn_partition *b)
{
    return a->clients == b->clients && a->total == b->total &&
           memcmp(a->offsets, b->offsets, (size_t)(a->clients + 1) * sizeof(int64_t)) == 0 &&
           memcmp(a->indices, b->indices, (size_t)a->total * sizeof(uint32_t)) == 0;
}

static lmn_partition_spec spec_of(lmn_partition_kind kind, int clients, double alpha,
                                   int64_t min_size, int shards)
{
    return (lmn_partition_spec){.kind = kind, .clients = clients, .alpha = alpha,
                                .min_size = min_size, .shards_per_client = shards,
                                .sizes = LMN_CLIENT_SIZES_EQUAL};
}

static lmn_partition *make_spec(const int32_t *labels, int64_t count, int classes,
                                const lmn_partition_spec *spec, uint64_t seed)
{
    lmn_partition *p = NULL;
    CHECK_OK(lmn_partition_make(labels, count, classes, spec, seed, &p));
    return p;
}

static lmn_partition *make(const int32_t *labels, int64_t count, int classes,
                           lmn_partition_kind kind, int clients, double alpha, int64_t min_size,
                           int shards, uint64_t seed)
{
    const lmn_partition_spec spec = spec_of(kind, clients, alpha, min_size, shards);
    return make_spec(labels, count, classes, &spec, seed);
}

static void test_small_kinds(void)
{
    int32_t labels[SMALL];
    small_labels(labels);
    const lmn_partition_kind kinds[4] = {LMN_PARTITION_IID, LMN_PARTITION_DIRICHLET,
                                         LMN_PARTITION_SHARDS, LMN_PARTITION_DIRICHLET_PER_CLASS};
    for (int t = 0; t < 4; t++) {
        lmn_partition *a = make(labels, SMALL, SMALL_CLASSES, kinds[t], 7, 0.5, 3, 2, 11);
        lmn_partition *b = make(labels, SMALL, SMALL_CLASSES, kinds[t], 7, 0.5, 3, 2, 11);
        lmn_partition *c = make(labels, SMALL, SMALL_CLASSES, kinds[t], 7, 0.5, 3, 2, 12);
        if (!a || !b || !c) continue;
        CHECK_MSG(covers_once(a, SMALL) && covers_once(c, SMALL), "kind %d", t);
        CHECK_MSG(same_partition(a, b), "kind %d not reproducible", t);
        CHECK_MSG(!same_partition(a, c), "kind %d ignores the seed", t);
        for (int k = 0; k < 7; k++) CHECK(lmn_partition_size(a, k) >= 3);
        int64_t histogram[SMALL_CLASSES], total = 0;
        for (int k = 0; k < 7; k++) {
            lmn_partition_histogram(a, labels, SMALL_CLASSES, k, histogram);
            for (int cl = 0; cl < SMALL_CLASSES; cl++) total += histogram[cl];
        }
        CHECK(total == SMALL);
        lmn_partition_free(a);
        lmn_partition_free(b);
        lmn_partition_free(c);
    }
    /* iid: near-equal chunks; shards: near-equal deals of 2 shards. */
    lmn_partition *iid = make(labels, SMALL, SMALL_CLASSES, LMN_PARTITION_IID, 10, 0, 0, 0, 3);
    lmn_partition *shards = make(labels, SMALL, SMALL_CLASSES, LMN_PARTITION_SHARDS, 10, 0, 0, 2, 3);
    for (int k = 0; iid && shards && k < 10; k++) {
        CHECK(lmn_partition_size(iid, k) == 10 || lmn_partition_size(iid, k) == 11);
        CHECK(lmn_partition_size(shards, k) >= 10 && lmn_partition_size(shards, k) <= 12);
        CHECK(iid->draws == 1 && shards->draws == 1);
    }
    lmn_partition_free(iid);
    lmn_partition_free(shards);
    /* One client owns everything, in index order. */
    for (int kind = LMN_PARTITION_DIRICHLET; kind <= LMN_PARTITION_DIRICHLET_PER_CLASS; kind += 2) {
        lmn_partition *one = make(labels, SMALL, SMALL_CLASSES, kind, 1, 0.1, 0, 0, 5);
        for (int i = 0; one && i < SMALL; i++) CHECK(one->indices[i] == (uint32_t)i);
        lmn_partition_free(one);
    }
}

/* With classes sorted into equal blocks, one shard per client gives each
 * client exactly one class, and the summary says so. */
static void test_shards_exact_and_describe(void)
{
    int32_t labels[40];
    for (int i = 0; i < 40; i++) labels[i] = (i % 4);
    lmn_partition *p = make(labels, 40, 4, LMN_PARTITION_SHARDS, 4, 0, 0, 1, 9);
    if (!p) return;
    int64_t histogram[4];
    int seen_class[4] = {0};
    for (int k = 0; k < 4; k++) {
        lmn_partition_histogram(p, labels, 4, k, histogram);
        int classes = 0, which = -1;
        for (int c = 0; c < 4; c++)
            if (histogram[c]) classes++, which = c;
        CHECK(classes == 1 && histogram[which] == 10);
        if (which >= 0) seen_class[which]++;
    }
    for (int c = 0; c < 4; c++) CHECK(seen_class[c] == 1);
    FILE *file = tmpfile();
    CHECK_OK(lmn_partition_describe(p, labels, 4, -1, file));
    rewind(file);
    char text[2048] = {0};
    const size_t length = fread(text, 1, sizeof text - 1, file);
    fclose(file);
    int lines = 0;
    for (size_t i = 0; i < length; i++) lines += text[i] == '\n';
    CHECK_MSG(lines == 8, "%d lines:\n%s", lines, text);
    CHECK_MSG(strstr(text, "4 clients, 40 samples") != NULL, "%s", text);
    CHECK_MSG(strstr(text, "samples per client min / 10% / median / 90% / max: 10 / 10 / 10.0 / "
                           "10 / 10 (mean 10.00)") != NULL, "%s", text);
    CHECK_MSG(strstr(text, "client's samples min / 10% / median / 90% / max: 1 / 1 / 1.0 / 1 / "
                           "1 (mean 1.00)") != NULL, "%s", text);
    CHECK(fabs(lmn_partition_main_classes(p, labels, 4) - 1.0) < 1e-12);
    lmn_partition_free(p);
}

static void expect_config_error(const int32_t *labels, int64_t count, lmn_partition_kind kind,
                                int clients, double alpha, int64_t min_size, int shards,
                                const char *key)
{
    lmn_partition *p = (lmn_partition *)&p; /* must be reset to NULL */
    const lmn_partition_spec spec = spec_of(kind, clients, alpha, min_size, shards);
    const lmn_status status = lmn_partition_make(labels, count, SMALL_CLASSES, &spec, 1, &p);
    CHECK_MSG(status == LMN_ERR_CONFIG && p == NULL, "expected a config error naming %s", key);
    CHECK_MSG(strstr(lmn_last_error(), key) != NULL, "message '%s' lacks %s", lmn_last_error(),
              key);
}

static void test_errors(void)
{
    int32_t labels[SMALL];
    small_labels(labels);
    expect_config_error(labels, SMALL, LMN_PARTITION_IID, 0, 0, 0, 0, "fl.clients");
    expect_config_error(labels, SMALL, LMN_PARTITION_IID, SMALL + 1, 0, 0, 0, "fl.clients");
    expect_config_error(labels, SMALL, LMN_PARTITION_DIRICHLET, 4, 0.0, 1, 0, "fl.alpha");
    expect_config_error(labels, SMALL, LMN_PARTITION_DIRICHLET, 4, -1.0, 1, 0, "fl.alpha");
    expect_config_error(labels, SMALL, LMN_PARTITION_DIRICHLET_PER_CLASS, 10, 1.0, 11, 0,
                        "fl.min_partition_size");
    expect_config_error(labels, SMALL, LMN_PARTITION_SHARDS, 10, 0, 0, 0, "fl.shards_per_client");
    expect_config_error(labels, SMALL, LMN_PARTITION_SHARDS, 10, 0, 0, 11, "fl.shards_per_client");
    /* Possible in principle (10 x 10 <= 103) but Dir(0.01) essentially never
     * splits that evenly. */
    expect_config_error(labels, SMALL, LMN_PARTITION_DIRICHLET_PER_CLASS, 10, 0.01, 10, 0,
                        "fl.min_partition_size");
    CHECK(strstr(lmn_last_error(), "1000 draws") && strstr(lmn_last_error(), "fl.alpha") &&
          strstr(lmn_last_error(), "fl.partition: dirichlet"));
    lmn_partition_spec sigma = spec_of(LMN_PARTITION_DIRICHLET, 10, 1.0, 0, 0);
    sigma.sizes = LMN_CLIENT_SIZES_LOGNORMAL;
    sigma.size_sigma = -1.0;
    lmn_partition *p = (lmn_partition *)&p;
    CHECK(lmn_partition_make(labels, SMALL, SMALL_CLASSES, &sigma, 1, &p) == LMN_ERR_CONFIG);
    CHECK(p == NULL && strstr(lmn_last_error(), "fl.client_size_sigma") != NULL);
    labels[17] = SMALL_CLASSES;
    const lmn_partition_spec iid = spec_of(LMN_PARTITION_IID, 2, 0, 0, 0);
    CHECK(lmn_partition_make(labels, SMALL, SMALL_CLASSES, &iid, 1, &p) == LMN_ERR_ARG);
    CHECK(p == NULL && strstr(lmn_last_error(), "sample 17") != NULL);
}

static int is_permutation_of(const uint32_t *values, const uint32_t *set, int64_t n)
{
    uint32_t *a = malloc((size_t)n * sizeof *a), *b = malloc((size_t)n * sizeof *b);
    memcpy(a, values, (size_t)n * sizeof *a);
    memcpy(b, set, (size_t)n * sizeof *b);
    /* set is ascending; sort a by insertion (n is small here). */
    for (int64_t i = 1; i < n; i++)
        for (int64_t j = i; j > 0 && a[j - 1] > a[j]; j--) {
            const uint32_t t = a[j];
            a[j] = a[j - 1];
            a[j - 1] = t;
        }
    const int ok = memcmp(a, b, (size_t)n * sizeof *a) == 0;
    free(a);
    free(b);
    return ok;
}

static void test_client_batches(void)
{
    int32_t labels[SMALL];
    small_labels(labels);
    lmn_partition *p = make(labels, SMALL, SMALL_CLASSES, LMN_PARTITION_IID, 3, 0, 0, 0, 21);
    if (!p) return;
    const int client = 1;
    const int64_t n = lmn_partition_size(p, client);
    const uint32_t *own = p->indices + p->offsets[client];
    uint32_t pass0[64], pass1[64], again[64], other_seed[64], span[64], pieces[64];
    CHECK(n == 34);
    lmn_client_batch(p, client, 5, 0, (int)n, pass0);
    lmn_client_batch(p, client, 5, n, (int)n, pass1);
    lmn_client_batch(p, client, 5, 0, (int)n, again);
    lmn_client_batch(p, client, 6, 0, (int)n, other_seed);
    CHECK(is_permutation_of(pass0, own, n) && is_permutation_of(pass1, own, n));
    CHECK(memcmp(pass0, again, (size_t)n * sizeof *pass0) == 0);
    CHECK(memcmp(pass0, pass1, (size_t)n * sizeof *pass0) != 0);
    CHECK(memcmp(pass0, other_seed, (size_t)n * sizeof *pass0) != 0);
    CHECK(memcmp(pass0, own, (size_t)n * sizeof *pass0) != 0); /* shuffled */
    /* A batch across the pass boundary = end of pass 0 + start of pass 1,
     * and equals the same positions fetched one at a time. */
    lmn_client_batch(p, client, 5, n - 5, 12, span);
    CHECK(memcmp(span, pass0 + n - 5, 5 * sizeof *span) == 0);
    CHECK(memcmp(span + 5, pass1, 7 * sizeof *span) == 0);
    for (int i = 0; i < 12; i++) lmn_client_batch(p, client, 5, n - 5 + i, 1, pieces + i);
    CHECK(memcmp(span, pieces, 12 * sizeof *span) == 0);
    /* A batch longer than a pass covers two whole passes. */
    lmn_client_batch(p, client, 5, 0, (int)(2 * n - 4), span);
    CHECK(memcmp(span, pass0, (size_t)n * sizeof *span) == 0);
    CHECK(memcmp(span + n, pass1, (size_t)(n - 4) * sizeof *span) == 0);
    /* Far passes are still permutations of the client's samples. */
    lmn_client_batch(p, client, 5, 1000 * n, (int)n, pass1);
    CHECK(is_permutation_of(pass1, own, n));
    lmn_partition_free(p);
}

/* Over many passes every sample of a tiny client lands in every slot about
 * equally often: the pass permutations are well mixed even for n = 5. */
static void test_client_stream_uniformity(void)
{
    int32_t labels[25] = {0};
    lmn_partition *p = make(labels, 25, 1, LMN_PARTITION_IID, 5, 0, 0, 0, 2);
    if (!p) return;
    enum { PASSES = 4000 };
    static uint32_t stream[PASSES * 5];
    int slot_counts[5][5] = {{0}};
    lmn_client_batch(p, 3, 77, 0, PASSES * 5, stream);
    const uint32_t *own = p->indices + p->offsets[3];
    for (int q = 0; q < PASSES; q++)
        for (int slot = 0; slot < 5; slot++)
            for (int s = 0; s < 5; s++) slot_counts[slot][s] += stream[q * 5 + slot] == own[s];
    for (int slot = 0; slot < 5; slot++)
        for (int s = 0; s < 5; s++)
            CHECK_MSG(slot_counts[slot][s] > 650 && slot_counts[slot][s] < 950,
                      "slot %d sample %d: %d of %d", slot, s, slot_counts[slot][s], PASSES);
    lmn_partition_free(p);
}

static void test_sample_clients(void)
{
    enum { CLIENTS = 128, ACTIVE = 32, DRAWS = 2000 };
    int picks[CLIENTS] = {0}, chosen[ACTIVE], again[ACTIVE], next[ACTIVE];
    int all_sorted = 1, differ = 0;
    for (int d = 0; d < DRAWS; d++) {
        lmn_sample_clients(CLIENTS, ACTIVE, 8, (uint64_t)d, chosen);
        for (int i = 0; i < ACTIVE; i++) {
            if (chosen[i] < 0 || chosen[i] >= CLIENTS || (i && chosen[i - 1] >= chosen[i]))
                all_sorted = 0;
            else
                picks[chosen[i]]++;
        }
    }
    CHECK(all_sorted);
    for (int k = 0; k < CLIENTS; k++) /* expected 500, sd about 19 */
        CHECK_MSG(picks[k] > 400 && picks[k] < 600, "client %d picked %d times", k, picks[k]);
    lmn_sample_clients(CLIENTS, ACTIVE, 8, 3, chosen);
    lmn_sample_clients(CLIENTS, ACTIVE, 8, 3, again);
    lmn_sample_clients(CLIENTS, ACTIVE, 8, 4, next);
    CHECK(memcmp(chosen, again, sizeof chosen) == 0);
    for (int i = 0; i < ACTIVE; i++) differ |= chosen[i] != next[i];
    CHECK(differ);
    int everyone[7];
    lmn_sample_clients(7, 7, 1, 0, everyone);
    for (int i = 0; i < 7; i++) CHECK(everyone[i] == i);
}

/* Share of a client's samples held by its two largest classes. */
static double top_two_share(const int64_t *histogram, int classes)
{
    int64_t first = 0, second = 0, total = 0;
    for (int c = 0; c < classes; c++) {
        total += histogram[c];
        if (histogram[c] > first) {
            second = first;
            first = histogram[c];
        } else if (histogram[c] > second) {
            second = histogram[c];
        }
    }
    return total ? (double)(first + second) / (double)total : 0.0;
}

static void test_fashion_mnist(void)
{
    lmn_dataset *ds = NULL;
    CHECK_OK(lmn_dataset_load_named("fashion-mnist", test_data_dir(), true, &ds));
    if (!ds) return;
    const int classes = ds->num_classes;
    CHECK(classes == 10);
    int64_t histogram[MAX_CLASSES];

    /* The reference setting: 128 clients, Dir(0.1), minimum 10 needs redraws. */
    lmn_partition *skewed = make(ds->labels, ds->count, classes, LMN_PARTITION_DIRICHLET_PER_CLASS, 128,
                                 0.1, 10, 0, 1);
    int dominated = 0;
    if (skewed) {
        CHECK(covers_once(skewed, ds->count));
        CHECK_MSG(skewed->draws > 1, "draws = %d", skewed->draws);
        for (int k = 0; k < 128; k++) {
            CHECK(lmn_partition_size(skewed, k) >= 10);
            lmn_partition_histogram(skewed, ds->labels, classes, k, histogram);
            dominated += top_two_share(histogram, classes) >= 0.8;
        }
    }
    /* Most clients hold >= 80% of their samples in 2 classes (iid: ~20%). */
    CHECK_MSG(dominated >= 86, "%d of 128 clients dominated by 2 classes", dominated);
    lmn_partition_free(skewed);

    /* Dir(0.1) over 10 clients: skewed too, on average 2 classes hold most. */
    lmn_partition *skewed10 = make(ds->labels, ds->count, classes, LMN_PARTITION_DIRICHLET_PER_CLASS, 10,
                                   0.1, 10, 0, 2);
    double mean_top_two = 0.0;
    for (int k = 0; skewed10 && k < 10; k++) {
        lmn_partition_histogram(skewed10, ds->labels, classes, k, histogram);
        mean_top_two += top_two_share(histogram, classes) / 10;
    }
    CHECK_MSG(mean_top_two > 0.65, "mean top-2 class share %.3f", mean_top_two);
    lmn_partition_free(skewed10);

    /* Dir(1000) over 10 clients: every client close to the balanced 10%. */
    lmn_partition *flat = make(ds->labels, ds->count, classes, LMN_PARTITION_DIRICHLET_PER_CLASS, 10,
                               1000.0, 10, 0, 3);
    for (int k = 0; flat && k < 10; k++) {
        lmn_partition_histogram(flat, ds->labels, classes, k, histogram);
        const double size = (double)lmn_partition_size(flat, k);
        for (int c = 0; c < classes; c++)
            CHECK_MSG(fabs((double)histogram[c] / size - 0.1) < 0.02, "client %d class %d: %lld of %.0f",
                      k, c, (long long)histogram[c], size);
    }
    CHECK(flat && flat->draws == 1 && covers_once(flat, ds->count));
    lmn_partition_free(flat);

    /* 100 clients x 2 shards: each client holds at most 2 labels. */
    lmn_partition *shards = make(ds->labels, ds->count, classes, LMN_PARTITION_SHARDS, 100, 0, 0,
                                 2, 4);
    int two_labels = 0;
    for (int k = 0; shards && k < 100; k++) {
        lmn_partition_histogram(shards, ds->labels, classes, k, histogram);
        int labels_held = 0;
        for (int c = 0; c < classes; c++) labels_held += histogram[c] > 0;
        CHECK(labels_held <= 2);
        two_labels += labels_held == 2;
        CHECK(lmn_partition_size(shards, k) == 600);
    }
    CHECK(two_labels > 50); /* dealt at random, rarely both shards of one class */
    CHECK(shards && covers_once(shards, ds->count));
    lmn_partition_free(shards);

    /* 33 clients x 3 shards of uneven sizes straddle class boundaries. */
    lmn_partition *uneven = make(ds->labels, ds->count, classes, LMN_PARTITION_SHARDS, 33, 0, 0,
                                 3, 5);
    for (int k = 0; uneven && k < 33; k++) {
        lmn_partition_histogram(uneven, ds->labels, classes, k, histogram);
        int labels_held = 0;
        for (int c = 0; c < classes; c++) labels_held += histogram[c] > 0;
        CHECK(labels_held <= 6); /* each of the 3 shards spans at most 2 labels */
    }
    CHECK(uneven && covers_once(uneven, ds->count));
    lmn_partition_free(uneven);

    /* iid over 7 clients: near-equal sizes, near-balanced classes. */
    lmn_partition *iid = make(ds->labels, ds->count, classes, LMN_PARTITION_IID, 7, 0, 0, 0, 6);
    for (int k = 0; iid && k < 7; k++) {
        CHECK(lmn_partition_size(iid, k) == 8571 || lmn_partition_size(iid, k) == 8572);
        lmn_partition_histogram(iid, ds->labels, classes, k, histogram);
        for (int c = 0; c < classes; c++)
            CHECK(fabs((double)histogram[c] / (double)lmn_partition_size(iid, k) - 0.1) < 0.02);
    }
    CHECK(iid && covers_once(iid, ds->count));
    lmn_partition_free(iid);
    lmn_dataset_free(ds);
}

/* Every client non-empty at any K, every sample once, sizes equal, and
 * label skew that falls with alpha, alpha 100 close to IID. */
static void test_label_mixes_any_count(const lmn_dataset *ds)
{
    const int counts[4] = {10, 128, 1000, 10000};
    const double alphas[4] = {0.05, 0.1, 1.0, 100.0};
    for (int i = 0; i < 4; i++) {
        const int clients = counts[i];
        double skew[4] = {0};
        for (int a = 0; a < 4; a++) {
            lmn_partition *p = make(ds->labels, ds->count, ds->num_classes,
                                    LMN_PARTITION_DIRICHLET, clients, alphas[a], 0, 0, 7);
            if (!p) continue;
            CHECK_MSG(covers_once(p, ds->count), "K %d alpha %g", clients, alphas[a]);
            int64_t smallest = INT64_MAX, largest = 0;
            for (int k = 0; k < clients; k++) {
                const int64_t n = lmn_partition_size(p, k);
                smallest = n < smallest ? n : smallest;
                largest = n > largest ? n : largest;
            }
            CHECK_MSG(smallest >= 1 && largest - smallest <= 1, "K %d alpha %g: sizes %lld..%lld",
                      clients, alphas[a], (long long)smallest, (long long)largest);
            skew[a] = lmn_partition_main_classes(p, ds->labels, ds->num_classes);
            lmn_partition_free(p);
        }
        lmn_partition *iid = make(ds->labels, ds->count, ds->num_classes, LMN_PARTITION_IID,
                                  clients, 0, 0, 0, 7);
        const double iid_skew = iid ? lmn_partition_main_classes(iid, ds->labels, ds->num_classes) : 0;
        lmn_partition_free(iid);
        printf("K %5d: main classes per client at alpha 0.05 / 0.1 / 1 / 100: %.2f / %.2f / "
               "%.2f / %.2f (iid %.2f)\n", clients, skew[0], skew[1], skew[2], skew[3], iid_skew);
        CHECK_MSG(skew[0] <= skew[1] + 0.05 && skew[1] < skew[2] && skew[2] < skew[3],
                  "K %d: skew does not fall with alpha", clients);
        CHECK_MSG(fabs(skew[3] - iid_skew) <= 0.05 * iid_skew, "K %d: alpha 100 gives %.2f main "
                  "classes, iid %.2f", clients, skew[3], iid_skew);
    }
}

/* Lognormal sizes: every client non-empty, sizes spread, all samples used;
 * the same seed gives the same partition, another seed another. */
static void test_lognormal_sizes(const lmn_dataset *ds)
{
    lmn_partition_spec spec = spec_of(LMN_PARTITION_DIRICHLET, 1000, 0.1, 0, 0);
    spec.sizes = LMN_CLIENT_SIZES_LOGNORMAL;
    spec.size_sigma = 1.0;
    lmn_partition *a = make_spec(ds->labels, ds->count, ds->num_classes, &spec, 3);
    lmn_partition *b = make_spec(ds->labels, ds->count, ds->num_classes, &spec, 3);
    lmn_partition *c = make_spec(ds->labels, ds->count, ds->num_classes, &spec, 4);
    if (a && b && c) {
        CHECK(covers_once(a, ds->count) && same_partition(a, b) && !same_partition(a, c));
        int64_t smallest = INT64_MAX, largest = 0;
        for (int k = 0; k < 1000; k++) {
            smallest = lmn_partition_size(a, k) < smallest ? lmn_partition_size(a, k) : smallest;
            largest = lmn_partition_size(a, k) > largest ? lmn_partition_size(a, k) : largest;
        }
        /* sigma 1 over 1000 clients: the extremes lie ~3 sigma apart. */
        CHECK_MSG(smallest >= 1 && largest > 10 * smallest, "sizes %lld..%lld",
                  (long long)smallest, (long long)largest);
    }
    lmn_partition_free(a);
    lmn_partition_free(b);
    lmn_partition_free(c);
}

/* Ten thousand clients summarised in a few lines. */
static void test_describe_large(const lmn_dataset *ds)
{
    lmn_partition *p = make(ds->labels, ds->count, ds->num_classes, LMN_PARTITION_DIRICHLET,
                            10000, 0.1, 0, 0, 1);
    if (!p) return;
    FILE *file = tmpfile();
    CHECK_OK(lmn_partition_describe(p, ds->labels, ds->num_classes, 10, file));
    rewind(file);
    char text[8192] = {0};
    const size_t length = fread(text, 1, sizeof text - 1, file);
    fclose(file);
    int lines = 0;
    for (size_t i = 0; i < length; i++) lines += text[i] == '\n';
    CHECK_MSG(lines == 15, "%d lines:\n%s", lines, text);
    CHECK_MSG(strstr(text, "10000 clients, 60000 samples") && strstr(text, "9990 more clients"),
              "%s", text);
    lmn_partition_free(p);
}

static void test_label_mixes(void)
{
    lmn_dataset *ds = NULL;
    CHECK_OK(lmn_dataset_load_named("fashion-mnist", test_data_dir(), true, &ds));
    if (!ds) return;
    test_label_mixes_any_count(ds);
    test_lognormal_sizes(ds);
    test_describe_large(ds);
    lmn_dataset_free(ds);
}

int main(void)
{
    test_small_kinds();
    test_shards_exact_and_describe();
    test_errors();
    test_client_batches();
    test_client_stream_uniformity();
    test_sample_clients();
    test_fashion_mnist();
    test_label_mixes();
    return lmn_test_summary("partition");
}
