/* dnnl reorder / same_layout: dense <-> blocked round trips are exact,
 * padding is written as zeros, a reorder within one layout is a copy,
 * shapes must match, and more (from, to) pairs than the reorder cache
 * holds still convert correctly. The same for 3-D (NCDHW <-> nCdhw16c)
 * activations, which never match a 2-D desc; and the ref backend's
 * reorder of dense 3-D activations. */
#include <string.h>

#include "test_dnnl_common.h"

static size_t count_nonzero(const float *x, size_t count)
{
    size_t nonzero = 0;
    for (size_t i = 0; i < count; i++) nonzero += x[i] != 0.0f;
    return nonzero;
}

static void test_round_trip(lmn_backend *dnnl, int n, int c, int h, int w, uint64_t seed)
{
    lmn_op *producer = NULL;
    const lmn_act_desc dense = lmn_act_dense(n, c, h, w);
    const lmn_act_desc blocked = lmn_dt_blocked_desc(dnnl, n, c, h, w, &producer);
    float *x = lmn_kt_random(dense.floats, seed);
    /* junk in the destination: the reorder must overwrite padding too */
    float *in_blocked = lmn_kt_random(blocked.floats, seed + 1);
    for (size_t i = 0; i < blocked.floats; i++) in_blocked[i] += 5.0f;
    CHECK_OK(dnnl->reorder(dnnl, &dense, x, &blocked, in_blocked));
    CHECK(count_nonzero(in_blocked, blocked.floats) == count_nonzero(x, dense.floats));
    if (blocked.layout && c % 16 != 0) CHECK(blocked.floats > dense.floats);

    float *back = lmn_kt_zeros(dense.floats);
    CHECK_OK(dnnl->reorder(dnnl, &blocked, in_blocked, &dense, back));
    CHECK(memcmp(back, x, dense.floats * sizeof(float)) == 0);

    /* within one layout: a plain copy */
    float *copy = lmn_kt_zeros(blocked.floats);
    CHECK_OK(dnnl->reorder(dnnl, &blocked, in_blocked, &blocked, copy));
    CHECK(memcmp(copy, in_blocked, blocked.floats * sizeof(float)) == 0);

    /* a blocked layout really differs from dense (otherwise nothing was tested) */
    if (blocked.layout && c > 1 && h * w > 1)
        CHECK(memcmp(in_blocked, x, dense.floats * sizeof(float)) != 0);

    lmn_free(x);
    lmn_free(in_blocked);
    lmn_free(back);
    lmn_free(copy);
    if (producer) dnnl->op_destroy(producer);
}

static void test_same_layout(lmn_backend *dnnl)
{
    lmn_op *producer = NULL, *other = NULL;
    const lmn_act_desc dense = lmn_act_dense(2, 5, 6, 6);
    const lmn_act_desc blocked = lmn_dt_blocked_desc(dnnl, 2, 5, 6, 6, &producer);
    const lmn_act_desc blocked_again = lmn_dt_blocked_desc(dnnl, 2, 5, 6, 6, &other);
    CHECK(dnnl->same_layout(&dense, &dense));
    CHECK(dnnl->same_layout(&blocked, &blocked));
    CHECK(dnnl->same_layout(&blocked, &blocked_again)); /* equal descs, different ops */
    CHECK(blocked.layout == NULL || !dnnl->same_layout(&blocked, &dense));
    CHECK(blocked.layout == NULL || !dnnl->same_layout(&dense, &blocked));
    const lmn_act_desc other_shape = lmn_act_dense(2, 5, 6, 7);
    CHECK(!dnnl->same_layout(&dense, &other_shape));
    if (producer) dnnl->op_destroy(producer);
    if (other) dnnl->op_destroy(other);
}

static void test_shape_mismatch(lmn_backend *dnnl)
{
    const lmn_act_desc a = lmn_act_dense(2, 3, 4, 4), b = lmn_act_dense(2, 3, 4, 5);
    float *x = lmn_kt_zeros(b.floats), *y = lmn_kt_zeros(b.floats);
    CHECK(dnnl->reorder(dnnl, &a, x, &b, y) == LMN_ERR_SHAPE);
    lmn_free(x);
    lmn_free(y);
}

/* 3-D: a blocked layout from a conv3d, round trip through dense NCDHW. */
static void test_round_trip_3d(lmn_backend *dnnl, int n, int c, int d, int h, int w,
                               uint64_t seed)
{
    lmn_op *producer = NULL;
    const lmn_act_desc dense = lmn_act_dense3d(n, c, d, h, w);
    const lmn_act_desc blocked = lmn_dt_blocked_desc3d(dnnl, n, c, d, h, w, &producer);
    CHECK(blocked.d == d && dense.floats == (size_t)n * c * d * h * w);
    float *x = lmn_kt_random(dense.floats, seed);
    float *in_blocked = lmn_kt_random(blocked.floats, seed + 1);
    for (size_t i = 0; i < blocked.floats; i++) in_blocked[i] += 5.0f;
    CHECK_OK(dnnl->reorder(dnnl, &dense, x, &blocked, in_blocked));
    CHECK(count_nonzero(in_blocked, blocked.floats) == count_nonzero(x, dense.floats));
    if (blocked.layout && c % 16 != 0) CHECK(blocked.floats > dense.floats);
    if (blocked.layout && c > 1) CHECK(memcmp(in_blocked, x, dense.floats * sizeof(float)) != 0);
    float *back = lmn_kt_zeros(dense.floats);
    CHECK_OK(dnnl->reorder(dnnl, &blocked, in_blocked, &dense, back));
    CHECK(memcmp(back, x, dense.floats * sizeof(float)) == 0);

    CHECK(dnnl->same_layout(&blocked, &blocked));
    CHECK(dnnl->same_layout(&dense, &dense));
    CHECK(blocked.layout == NULL || !dnnl->same_layout(&blocked, &dense));
    /* the same element count as a 2-D desc is still another shape */
    const lmn_act_desc flat = lmn_act_dense(n, c, d * h, w);
    CHECK(!dnnl->same_layout(&dense, &flat));
    CHECK(dnnl->reorder(dnnl, &dense, x, &flat, back) == LMN_ERR_SHAPE);
    CHECK(dnnl->reorder(dnnl, &blocked, in_blocked, &flat, back) == LMN_ERR_SHAPE);
    lmn_free(x);
    lmn_free(in_blocked);
    lmn_free(back);
    if (producer) dnnl->op_destroy(producer);
}

static void test_ref_reorder_3d(void)
{
    lmn_backend *ref = lmn_kt_backend("ref");
    const lmn_act_desc dense = lmn_act_dense3d(2, 3, 4, 5, 6);
    const lmn_act_desc flat = lmn_act_dense(2, 3, 20, 6);
    float *x = lmn_kt_random(dense.floats, 77), *y = lmn_kt_zeros(dense.floats);
    CHECK_OK(ref->reorder(ref, &dense, x, &dense, y));
    CHECK(memcmp(x, y, dense.floats * sizeof(float)) == 0);
    CHECK(ref->reorder(ref, &dense, x, &flat, y) == LMN_ERR_SHAPE);
    CHECK(ref->same_layout(&dense, &dense));
    lmn_free(x);
    lmn_free(y);
    lmn_backend_destroy(ref);
}

int main(void)
{
    lmn_backend *dnnl = lmn_kt_backend("dnnl");
    /* 12 distinct shapes: more (from, to) pairs than the reorder cache holds */
    const int shapes[][4] = {{3, 5, 11, 11}, {2, 16, 4, 4}, {1, 17, 3, 5}, {2, 32, 1, 1},
                             {4, 3, 7, 2},   {2, 20, 5, 5}, {1, 1, 6, 6},  {3, 8, 3, 3},
                             {2, 33, 2, 3},  {5, 2, 4, 1},  {1, 64, 2, 2}, {2, 7, 9, 4}};
    for (int round = 0; round < 2; round++)
        for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
            test_round_trip(dnnl, shapes[i][0], shapes[i][1], shapes[i][2], shapes[i][3],
                            5000 + 10 * i + round);
    test_same_layout(dnnl);
    test_shape_mismatch(dnnl);
    const int shapes_3d[][5] = {{2, 5, 3, 4, 5}, {1, 16, 2, 3, 3}, {2, 20, 3, 1, 4},
                                {3, 1, 4, 4, 2}, {1, 33, 2, 2, 3}};
    for (size_t i = 0; i < sizeof shapes_3d / sizeof *shapes_3d; i++)
        test_round_trip_3d(dnnl, shapes_3d[i][0], shapes_3d[i][1], shapes_3d[i][2],
                           shapes_3d[i][3], shapes_3d[i][4], 6000 + 10 * i);
    test_ref_reorder_3d();
    lmn_backend_destroy(dnnl);
    return lmn_test_summary("test_dnnl_reorder");
}
