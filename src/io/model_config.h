/* Reading a model description from the configuration tree.
 *
 *   model: lenet                  # a zoo name (lenet, resnet20, vgg16)
 *   model:                        # or a list of layers
 *     - {type: conv, out: 32, kernel: 5, pad: 2, activation: relu}
 *     - {type: maxpool, kernel: 2, stride: 2}
 *     - {type: flatten}
 *     - {type: linear, out: 10, init: glorot}
 *
 * Layer keys: type, name, input, skip (layer names), out, kernel (n or
 * [h, w]), stride, pad, bias, activation (none | relu), rate, epsilon,
 * momentum, init (he | glorot). */
#ifndef LMN_IO_MODEL_CONFIG_H
#define LMN_IO_MODEL_CONFIG_H

#include "io/config.h"
#include "nn/model.h"

/* Builds the spec under key "model" for inputs of channels x height x width
 * and num_classes outputs. *name receives the zoo name or "custom". */
lmn_status lmn_model_from_config(lmn_cfg *cfg, int channels, int height, int width,
                                 int num_classes, lmn_model_spec *spec, const char **name);

#endif
