/* The oneDNN backend against the ref backend on whole networks built from
 * the science-workload layer kinds: volumes through conv3d / pool3d /
 * leaky ReLU / scale / add / linear, images through pixel shuffle and
 * nearest upsampling, and small EDSR / VDSR / CosmoFlow from the zoo. With
 * the same parameters, the same batch gives the same outputs (vectors or
 * images), the same gradients of every tensor and the same evaluation
 * output, over several batch sizes (one plan each). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/memory.h"
#include "core/rng.h"
#include "kernels/kernels.h"
#include "kernels/loss.h"
#include "nn/model.h"
#include "nn/network.h"
#include "nn/plan.h"
#include "nn/science_models.h"
#include "test.h"

static const double TOLERANCE = 1e-4;
/* For gradients upstream of a ReLU / leaky unit that switched differently
 * on the two backends (a pre-activation within round-off of zero). */
static const double KINK_TOLERANCE = 5e-2;

typedef struct twin {
    const char *model;
    lmn_network *ref, *dnnl;
    lmn_layer_shape input;
} twin;

static bool twin_create(twin *t, const char *model, const lmn_model_spec *spec, lmn_backend *ref,
                        lmn_backend *dnnl, lmn_layer_shape input)
{
    *t = (twin){.model = model, .input = input};
    CHECK_OK(lmn_network_create_shape(ref, spec, input, &t->ref));
    CHECK_OK(lmn_network_create_shape(dnnl, spec, input, &t->dnnl));
    if (!t->ref || !t->dnnl) return false;
    CHECK(t->ref->param_count == t->dnnl->param_count);
    if (t->ref->param_count != t->dnnl->param_count) return false;
    lmn_network_init_params(t->ref, 5);
    lmn_network_init_params(t->dnnl, 6); /* overwritten below: the copy is all that matters */
    lmn_rng rng = lmn_rng_make(5, lmn_rng_stream_id(17, 4));
    for (int i = 0; i < t->ref->tensor_count; i++) {
        const lmn_tensor_view *view = &t->ref->tensors[i];
        if (view->role == LMN_ROLE_BIAS)
            for (size_t k = 0; k < view->count; k++)
                t->ref->params[view->offset + k] += 0.1f * (2.0f * lmn_rng_uniform(&rng) - 1.0f);
    }
    memcpy(t->dnnl->params, t->ref->params, t->ref->param_count * sizeof(float));
    return true;
}

static void twin_free(twin *t)
{
    lmn_network_free(t->ref);
    lmn_network_free(t->dnnl);
}

static void compare(const twin *t, int batch, const char *what, const float *got,
                    const float *want, size_t count, bool past_kink)
{
    const double diff = lmn_test_max_rel_diff(got, want, count);
    CHECK_MSG(diff <= (past_kink ? KINK_TOLERANCE : TOLERANCE),
              "%s batch %d: %s differ by %.3g (relative)", t->model, batch, what, diff);
}

/* A dense copy of layer i's output in the latest training forward. */
static float *dense_output(lmn_network *net, int i, size_t *count)
{
    const lmn_act_desc *desc = &net->last_forward->nodes[i].out_desc;
    const lmn_act_desc dense = lmn_plan_dense_like(desc);
    *count = lmn_act_elements(desc);
    float *copy = NULL;
    CHECK_OK(lmn_alloc_floats(&copy, dense.floats, "output copy"));
    CHECK_OK(net->backend->reorder(net->backend, desc, net->last_forward->nodes[i].y, &dense, copy));
    return copy;
}

/* The last ReLU-like layer whose units switched differently (-1: none). */
static int last_kink_layer(const twin *t)
{
    for (int i = t->ref->spec.count - 1; i >= 0; i--) {
        const lmn_layer_spec *layer = &t->ref->spec.layers[i];
        if (!layer->relu && layer->kind != LMN_LAYER_RELU && layer->kind != LMN_LAYER_LEAKY_RELU)
            continue;
        size_t count = 0;
        float *want = dense_output(t->ref, i, &count), *got = dense_output(t->dnnl, i, &count);
        size_t flips = 0;
        for (size_t k = 0; k < count; k++) flips += (want[k] > 0.0f) != (got[k] > 0.0f);
        lmn_free(want);
        lmn_free(got);
        if (flips) {
            printf("%s: %zu unit(s) of '%s' switched differently (a kink)\n", t->model, flips,
                   layer->name);
            return i;
        }
    }
    return -1;
}

static void compare_step(const twin *t, int batch, uint64_t seed)
{
    const size_t input_count = (size_t)batch * lmn_shape_values(t->input);
    const size_t output_count = (size_t)batch * (size_t)t->ref->num_outputs;
    float *x = NULL, *target = NULL, *dout = NULL, *want = NULL;
    CHECK_OK(lmn_alloc_floats(&x, input_count, "input"));
    CHECK_OK(lmn_alloc_floats(&target, output_count, "target"));
    CHECK_OK(lmn_alloc_floats(&dout, output_count, "dout"));
    CHECK_OK(lmn_alloc_floats(&want, output_count, "ref output"));
    lmn_rng rng = lmn_rng_make(seed, lmn_rng_stream_id(1, (uint64_t)batch));
    for (size_t i = 0; i < input_count; i++) x[i] = 2.0f * lmn_rng_uniform(&rng) - 1.0f;
    for (size_t i = 0; i < output_count; i++) target[i] = 2.0f * lmn_rng_uniform(&rng) - 1.0f;

    const float *y = NULL;
    CHECK_OK(lmn_network_forward(t->ref, batch, x, true, 1, &y));
    if (!y) goto done;
    memcpy(want, y, output_count * sizeof(float));
    lmn_mse_loss(want, target, batch, t->ref->num_outputs, 1.0f / (float)batch, dout);
    CHECK_OK(lmn_network_backward(t->ref, dout));

    y = NULL;
    CHECK_OK(lmn_network_forward(t->dnnl, batch, x, true, 1, &y));
    if (!y) goto done;
    compare(t, batch, "training outputs", y, want, output_count, false);
    const int kink = last_kink_layer(t);
    CHECK_OK(lmn_network_backward(t->dnnl, dout));
    for (int i = 0; i < t->ref->tensor_count; i++) {
        const lmn_tensor_view *view = &t->ref->tensors[i];
        char what[96];
        snprintf(what, sizeof what, "gradients of %s", view->name);
        compare(t, batch, what, t->dnnl->grads + view->offset, t->ref->grads + view->offset,
                view->count, view->layer <= kink);
    }

    CHECK_OK(lmn_network_forward(t->ref, batch, x, false, 0, &y));
    memcpy(want, y, output_count * sizeof(float));
    y = NULL;
    CHECK_OK(lmn_network_forward(t->dnnl, batch, x, false, 0, &y));
    if (y) compare(t, batch, "evaluation outputs", y, want, output_count, false);
done:
    lmn_free(x);
    lmn_free(target);
    lmn_free(dout);
    lmn_free(want);
}

static void check_model(const char *model, void (*build)(lmn_model_spec *), lmn_backend *ref,
                        lmn_backend *dnnl, lmn_layer_shape input)
{
    lmn_model_spec spec = {0};
    build(&spec);
    /* Dropout masks are drawn per stored float, so they follow each
     * backend's memory layout: only rate 0 compares across backends. */
    for (int i = 0; i < spec.count; i++)
        if (spec.layers[i].kind == LMN_LAYER_DROPOUT) spec.layers[i].rate = 0.0f;
    twin t;
    if (twin_create(&t, model, &spec, ref, dnnl, input)) {
        compare_step(&t, 3, 70);
        compare_step(&t, 2, 71);
        compare_step(&t, 3, 72); /* back to the first plan */
    }
    twin_free(&t);
    lmn_model_spec_free(&spec);
}

int main(void)
{
    lmn_backend *ref = NULL, *dnnl = NULL;
    CHECK_OK(lmn_backend_create("ref", &ref));
    CHECK_OK(lmn_backend_create("dnnl", &dnnl));
    if (!ref || !dnnl) return lmn_test_summary("nn_test_science_dnnl");

    const lmn_layer_shape volume = {.c = 2, .d = 5, .h = 7, .w = 6};
    const lmn_layer_shape image = {.c = 2, .h = 5, .w = 6};
    check_model("volume basic", build_volume_basic, ref, dnnl, volume);
    check_model("volume rich", build_volume_rich, ref, dnnl, volume);
    check_model("image upsampling", build_image_upsampling, ref, dnnl, image);
    check_model("vdsr small", build_small_vdsr, ref, dnnl, image);
    check_model("edsr small x3", build_small_edsr, ref, dnnl, image);
    check_model("cosmoflow small", build_small_cosmoflow, ref, dnnl,
                (lmn_layer_shape){.c = 4, .d = 12, .h = 16, .w = 16});

    lmn_backend_destroy(dnnl);
    lmn_backend_destroy(ref);
    return lmn_test_summary("nn_test_science_dnnl");
}
