/* Reading a model description from the configuration tree.
 *
 *   model: lenet                  # a zoo name (lenet, resnet20, resnet18,
 *                                 #   resnet50, vgg16, edsr, vdsr, cosmoflow),
 *                                 #   default options
 *   model: {name: edsr, blocks: 16, upscale: 3}   # a zoo name with options
 *   model:                        # or a list of layers
 *     - {type: conv, out: 32, kernel: 5, pad: 2, activation: relu}
 *     - {type: maxpool, kernel: 2, stride: 2}
 *     - {type: flatten}
 *     - {type: linear, out: 10, init: glorot}
 *
 * Zoo options (only the named model's keys are accepted):
 *   edsr:      features 64, blocks 8, res_scale 0.1, upscale 2 (2 | 3 | 4)
 *   vdsr:      depth 20, features 64
 *   cosmoflow: filters 32, conv_blocks 0 (= halve until the side is <= 4),
 *              dropout 0 (none)
 *
 * Layer types and their keys come from the layer registry (nn/layers/:
 * one file per kind, listed in nn/layers/kinds.h); `lamina train --help`
 * prints them with their defaults. Every layer takes type, name and input
 * (an earlier layer's name or 'input'). */
#ifndef LMN_IO_MODEL_CONFIG_H
#define LMN_IO_MODEL_CONFIG_H

#include <stdio.h>

#include "io/config.h"
#include "nn/model.h"

/* Builds the spec under key "model" for inputs of the given shape
 * (input.d = 0 for images) and num_outputs outputs (classes, or the
 * regression target size). *name receives the zoo name or "custom". */
lmn_status lmn_model_from_config_shape(lmn_cfg *cfg, lmn_layer_shape input, int num_outputs,
                                       lmn_model_spec *spec, const char **name);
/* lmn_model_from_config_shape for channels x height x width images. */
lmn_status lmn_model_from_config(lmn_cfg *cfg, int channels, int height, int width,
                                 int num_classes, lmn_model_spec *spec, const char **name);

/* Writes spec as a `model:` list of layers, every key of every layer given
 * (the layer registry's keys), which lmn_model_from_config reads back to
 * the same layers. */
lmn_status lmn_model_spec_write_config(const lmn_model_spec *spec, FILE *out);

#endif
