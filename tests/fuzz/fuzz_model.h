/* The small network the checkpoint and safetensors harnesses load into
 * and export from: conv -> batchnorm -> relu -> flatten -> linear on 1x6x6
 * inputs, so every tensor role (weight, bias, running statistics) is there.
 * The seed generator writes checkpoints of this same network. */
#ifndef LMN_FUZZ_MODEL_H
#define LMN_FUZZ_MODEL_H
#include <stdio.h>

#include "kernels/kernels.h"
#include "nn/model.h"
#include "nn/network.h"
#include "optim/optimizer.h"

typedef struct fuzz_model_options {
    int conv_out, kernel, linear_out;
    bool conv_bias, batchnorm;
    const char *conv_name, *bn_name, *fc_name; /* NULL: unnamed */
} fuzz_model_options;

static const fuzz_model_options FUZZ_MODEL_DEFAULT = {
    .conv_out = 2, .kernel = 3, .linear_out = 3, .conv_bias = true, .batchnorm = true,
    .conv_name = "conv1", .bn_name = "bn1", .fc_name = "fc"};

static inline lmn_status fuzz_build_model(lmn_backend *backend, const fuzz_model_options *o,
                                          lmn_network **net)
{
    lmn_model_spec spec = {0};
    lmn_layer_spec conv = lmn_layer_defaults(LMN_LAYER_CONV);
    conv.out = o->conv_out;
    conv.kernel_h = conv.kernel_w = o->kernel;
    conv.pad = o->kernel / 2;
    conv.bias = o->conv_bias;
    if (o->conv_name) snprintf(conv.name, sizeof conv.name, "%s", o->conv_name);
    lmn_layer_spec bn = lmn_layer_defaults(LMN_LAYER_BATCHNORM);
    if (o->bn_name) snprintf(bn.name, sizeof bn.name, "%s", o->bn_name);
    lmn_layer_spec relu = lmn_layer_defaults(LMN_LAYER_RELU);
    lmn_layer_spec flatten = lmn_layer_defaults(LMN_LAYER_FLATTEN);
    lmn_layer_spec fc = lmn_layer_defaults(LMN_LAYER_LINEAR);
    fc.out = o->linear_out;
    if (o->fc_name) snprintf(fc.name, sizeof fc.name, "%s", o->fc_name);
    lmn_status status = lmn_model_spec_append(&spec, &conv, NULL);
    if (status == LMN_OK && o->batchnorm) status = lmn_model_spec_append(&spec, &bn, NULL);
    if (status == LMN_OK) status = lmn_model_spec_append(&spec, &relu, NULL);
    if (status == LMN_OK) status = lmn_model_spec_append(&spec, &flatten, NULL);
    if (status == LMN_OK) status = lmn_model_spec_append(&spec, &fc, NULL);
    if (status == LMN_OK) status = lmn_network_create(backend, &spec, 1, 6, 6, net);
    if (status == LMN_OK) lmn_network_init_params(*net, 1);
    lmn_model_spec_free(&spec);
    return status;
}

static inline lmn_status fuzz_build_optimizer(const lmn_network *net, lmn_optimizer_kind kind,
                                              lmn_optimizer **opt)
{
    lmn_param_range whole = {0, net->param_count, true};
    lmn_optimizer_config config = {.kind = kind, .momentum = 0.9, .beta1 = 0.9, .beta2 = 0.999,
                                   .epsilon = 1e-8};
    return lmn_optimizer_create(&config, &whole, 1, net->param_count, opt);
}
#endif
