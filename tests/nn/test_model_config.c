/* Model descriptions from configuration text: zoo models with options
 * (model: {name: ..., key: value}), where another model's key is an
 * unknown key; and layer lists using the science-workload kinds with
 * their keys and defaults. */
#include <string.h>

#include "io/config.h"
#include "io/model_config.h"
#include "kernels/kernels.h"
#include "nn/model.h"
#include "nn/network.h"
#include "test.h"

static lmn_cfg *parse(const char *text)
{
    lmn_cfg *cfg = NULL;
    CHECK_OK(lmn_cfg_parse_string(text, "test.yaml", &cfg));
    return cfg;
}

static const lmn_layer_spec *layer_named(const lmn_model_spec *spec, const char *name)
{
    const int index = lmn_model_spec_find(spec, name);
    CHECK_MSG(index >= 0, "no layer '%s'", name);
    return index >= 0 ? &spec->layers[index] : NULL;
}

static void check_zoo_options(lmn_backend *be)
{
    lmn_cfg *cfg = parse("model: {name: edsr, features: 8, blocks: 2, upscale: 3, res_scale: 0.2}\n");
    if (!cfg) return;
    lmn_model_spec spec;
    const char *name = NULL;
    const lmn_layer_shape image = {.c = 1, .h = 8, .w = 8};
    CHECK_OK(lmn_model_from_config_shape(cfg, image, 0, &spec, &name));
    CHECK(name && strcmp(name, "edsr") == 0);
    CHECK(lmn_model_spec_find(&spec, "body.1.add") >= 0);
    CHECK(lmn_model_spec_find(&spec, "body.2.add") < 0);
    const lmn_layer_spec *scale = layer_named(&spec, "body.0.scale");
    if (scale) CHECK_CLOSE(scale->scale, 0.2, 1e-7);
    lmn_network *net = NULL;
    CHECK_OK(lmn_network_create_shape(be, &spec, image, &net));
    if (net) CHECK(net->num_outputs == 24 * 24);
    CHECK_OK(lmn_cfg_check_unused(cfg));
    lmn_network_free(net);
    lmn_model_spec_free(&spec);
    lmn_cfg_free(cfg);

    /* blocks is an edsr key, not a vdsr one. */
    cfg = parse("model: {name: vdsr, depth: 4, blocks: 2}\n");
    if (!cfg) return;
    CHECK_OK(lmn_model_from_config_shape(cfg, image, 0, &spec, &name));
    CHECK(spec.count == 5);
    CHECK(lmn_cfg_check_unused(cfg) == LMN_ERR_CONFIG);
    CHECK_MSG(strstr(lmn_last_error(), "model.blocks") != NULL, "%s", lmn_last_error());
    lmn_model_spec_free(&spec);
    lmn_cfg_free(cfg);

    /* A scalar zoo name takes the defaults; cosmoflow reads the volume. */
    cfg = parse("model: cosmoflow\n");
    if (!cfg) return;
    const lmn_layer_shape volume = {.c = 4, .d = 32, .h = 32, .w = 32};
    CHECK_OK(lmn_model_from_config_shape(cfg, volume, 4, &spec, &name));
    CHECK(lmn_model_spec_find(&spec, "conv3") >= 0 && lmn_model_spec_find(&spec, "conv4") < 0);
    lmn_model_spec_free(&spec);
    lmn_cfg_free(cfg);

    cfg = parse("model: {name: cosmoflow, filters: 8, conv_blocks: 2, dropout: 0.25}\n");
    if (!cfg) return;
    CHECK_OK(lmn_model_from_config_shape(cfg, volume, 4, &spec, &name));
    const lmn_layer_spec *conv2 = layer_named(&spec, "conv2");
    if (conv2) CHECK(conv2->out == 16);
    CHECK(lmn_model_spec_find(&spec, "conv3") < 0);
    const lmn_layer_spec *dropout = layer_named(&spec, "fc1.dropout");
    if (dropout) CHECK_CLOSE(dropout->rate, 0.25, 1e-7);
    CHECK_OK(lmn_cfg_check_unused(cfg));
    lmn_model_spec_free(&spec);
    lmn_cfg_free(cfg);

    cfg = parse("model: {name: edsr, upscale: 5}\n");
    if (!cfg) return;
    CHECK(lmn_model_from_config_shape(cfg, image, 0, &spec, &name) == LMN_ERR_CONFIG);
    CHECK_MSG(strstr(lmn_last_error(), "model.upscale") != NULL, "%s", lmn_last_error());
    lmn_model_spec_free(&spec);
    lmn_cfg_free(cfg);
}

static void check_layer_keys(lmn_backend *be)
{
    lmn_cfg *cfg = parse("model:\n"
                         "  - {type: conv3d, name: c1, out: 4, kernel: [1, 3, 3], pad: 1, "
                         "activation: relu}\n"
                         "  - {type: leaky_relu, name: act}\n"
                         "  - {type: scale, name: s, factor: 0.5}\n"
                         "  - {type: maxpool3d, name: p, kernel: 2}\n"
                         "  - {type: avgpool3d, name: a, kernel: [1, 2, 2], stride: 1}\n"
                         "  - {type: linear, out: 3}\n");
    if (!cfg) return;
    lmn_model_spec spec;
    const char *name = NULL;
    const lmn_layer_shape volume = {.c = 2, .d = 3, .h = 6, .w = 6};
    CHECK_OK(lmn_model_from_config_shape(cfg, volume, 3, &spec, &name));
    CHECK(name && strcmp(name, "custom") == 0);
    const lmn_layer_spec *c1 = layer_named(&spec, "c1"), *act = layer_named(&spec, "act");
    const lmn_layer_spec *s = layer_named(&spec, "s"), *p = layer_named(&spec, "p");
    const lmn_layer_spec *a = layer_named(&spec, "a");
    if (c1) CHECK(c1->kernel_d == 1 && c1->kernel_h == 3 && c1->kernel_w == 3 && c1->relu);
    if (act) CHECK_CLOSE(act->slope, 0.01, 1e-7); /* PyTorch's default */
    if (s) CHECK_CLOSE(s->scale, 0.5, 1e-7);
    if (p) CHECK(p->kernel_d == 2 && p->kernel_h == 2 && p->kernel_w == 2 && p->stride == 2);
    if (a) CHECK(a->kernel_d == 1 && a->kernel_h == 2 && a->stride == 1);
    lmn_network *net = NULL;
    CHECK_OK(lmn_network_create_shape(be, &spec, volume, &net));
    /* conv3d: the pad applies to depth too, so depth 3 + 2 - 1 + 1 = 5 and
     * 6x6 is kept; the pool halves that to 2x3x3. */
    if (net) {
        const int pool = lmn_model_spec_find(&spec, "p");
        CHECK(net->shapes[pool].c == 4 && net->shapes[pool].d == 2 && net->shapes[pool].h == 3);
        CHECK(net->num_outputs == 3);
    }
    CHECK_OK(lmn_cfg_check_unused(cfg));
    lmn_network_free(net);
    lmn_model_spec_free(&spec);
    lmn_cfg_free(cfg);

    cfg = parse("model:\n"
                "  - {type: conv, out: 8, pad: 1}\n"
                "  - {type: upsample, name: up, mode: pixel_shuffle}\n"
                "  - {type: upsample, name: near, factor: 3}\n"
                "  - {type: leaky_relu, name: leak, slope: 0.2}\n");
    if (!cfg) return;
    const lmn_layer_shape image = {.c = 1, .h = 4, .w = 5};
    CHECK_OK(lmn_model_from_config_shape(cfg, image, 0, &spec, &name));
    const lmn_layer_spec *up = layer_named(&spec, "up"), *near = layer_named(&spec, "near");
    const lmn_layer_spec *leak = layer_named(&spec, "leak");
    if (up) CHECK(up->mode == LMN_UPSAMPLE_MODE_PIXEL_SHUFFLE && up->factor == 2);
    if (near) CHECK(near->mode == LMN_UPSAMPLE_MODE_NEAREST && near->factor == 3);
    if (leak) CHECK_CLOSE(leak->slope, 0.2, 1e-7);
    CHECK_OK(lmn_network_create_shape(be, &spec, image, &net));
    if (net) CHECK(net->num_outputs == 2 * 24 * 30);
    lmn_network_free(net);
    lmn_model_spec_free(&spec);
    lmn_cfg_free(cfg);

    /* A scale layer needs its factor; a bad mode lists the choices. */
    cfg = parse("model:\n  - {type: scale}\n");
    if (!cfg) return;
    CHECK(lmn_model_from_config_shape(cfg, image, 0, &spec, &name) == LMN_ERR_CONFIG);
    CHECK_MSG(strstr(lmn_last_error(), "factor") != NULL, "%s", lmn_last_error());
    lmn_model_spec_free(&spec);
    lmn_cfg_free(cfg);
    cfg = parse("model:\n  - {type: upsample, mode: bicubic}\n");
    if (!cfg) return;
    CHECK(lmn_model_from_config_shape(cfg, image, 0, &spec, &name) == LMN_ERR_CONFIG);
    CHECK_MSG(strstr(lmn_last_error(), "pixel_shuffle") != NULL, "%s", lmn_last_error());
    lmn_model_spec_free(&spec);
    lmn_cfg_free(cfg);
    cfg = parse("model:\n  - {type: conv3d, out: 2, kernel: [3, 3]}\n");
    if (!cfg) return;
    CHECK(lmn_model_from_config_shape(cfg, volume, 0, &spec, &name) == LMN_ERR_CONFIG);
    CHECK_MSG(strstr(lmn_last_error(), "[depth, height, width]") != NULL, "%s", lmn_last_error());
    lmn_model_spec_free(&spec);
    lmn_cfg_free(cfg);
}

int main(void)
{
    lmn_backend *be = NULL;
    CHECK_OK(lmn_backend_create("ref", &be));
    if (!be) return lmn_test_summary("nn_test_model_config");
    check_zoo_options(be);
    check_layer_keys(be);
    lmn_backend_destroy(be);
    return lmn_test_summary("nn_test_model_config");
}
