/* The sync policies' per-layer plans (train/sync.h), which the policies
 * and the simulator both follow: overlap's buckets, lazy's layers,
 * localsgd's groups, on hand-made layer lists with hand-worked answers. */
#include "test.h"
#include "train/sync.h"

typedef struct layer {
    lmn_layer_kind kind;
    size_t params;
} layer;

static void describe(const void *ctx, int index, lmn_layer_kind *kind, size_t *params)
{
    const layer *layers = ctx;
    *kind = layers[index].kind;
    *params = layers[index].params;
}

/* 1 MiB holds 262144 fp32 values. From the top: 50 + 200000 stays below,
 * + 300000 reaches it and closes bucket 0; the parameter-free layer 1 is
 * in none; layer 0 opens bucket 1, left open at the bottom. */
static void test_overlap_buckets(void)
{
    const layer layers[] = {{LMN_LAYER_CONV, 100}, {LMN_LAYER_RELU, 0},
                            {LMN_LAYER_CONV, 300000}, {LMN_LAYER_LINEAR, 200000},
                            {LMN_LAYER_LINEAR, 50}};
    int bucket[5];
    CHECK(lmn_overlap_buckets(describe, layers, 5, 1.0, bucket) == 2);
    const int fused[5] = {1, -1, 0, 0, 0};
    for (int i = 0; i < 5; i++) CHECK_MSG(bucket[i] == fused[i], "layer %d: bucket %d", i, bucket[i]);
    /* bucket_mb 0: a bucket a layer with parameters, top first. */
    CHECK(lmn_overlap_buckets(describe, layers, 5, 0.0, bucket) == 4);
    const int single[5] = {3, -1, 2, 1, 0};
    for (int i = 0; i < 5; i++) CHECK_MSG(bucket[i] == single[i], "layer %d: bucket %d", i, bucket[i]);
    /* Exactly 1 MiB closes the bucket (>=). */
    const layer exact[] = {{LMN_LAYER_CONV, 262144}, {LMN_LAYER_CONV, 262144}};
    CHECK(lmn_overlap_buckets(describe, exact, 2, 1.0, bucket) == 2);
    CHECK(bucket[0] == 1 && bucket[1] == 0);
}

static void test_lazy_layers(void)
{
    const layer layers[] = {{LMN_LAYER_CONV, 10}, {LMN_LAYER_LINEAR, 4}, {LMN_LAYER_CONV, 0},
                            {LMN_LAYER_CONV, 10}, {LMN_LAYER_LINEAR, 20}};
    /* Candidates: convolutions with parameters, layers 0 and 3. */
    CHECK(lmn_lazy_top_layer(describe, layers, 5, 0) == -1);
    CHECK(lmn_lazy_top_layer(describe, layers, 5, 1) == 0);
    CHECK(lmn_lazy_top_layer(describe, layers, 5, 2) == 3);
    CHECK(lmn_lazy_top_layer(describe, layers, 5, 8) == 3);
    /* The default shrinks to the candidates; an explicit count is kept. */
    CHECK(lmn_lazy_layers_fit(8, false, 2) == 2);
    CHECK(lmn_lazy_layers_fit(1, false, 2) == 1);
    CHECK(lmn_lazy_layers_fit(8, true, 2) == 8);
}

static void test_localsgd_groups(void)
{
    CHECK(lmn_localsgd_groups(0, 4) == 4);
    CHECK(lmn_localsgd_groups(2, 4) == 2);
}

int main(void)
{
    test_overlap_buckets();
    test_lazy_layers();
    test_localsgd_groups();
    return lmn_test_summary("test_sync_plans");
}
