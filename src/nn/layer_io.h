/* What a sync policy may read of a layer's last training pass: the dense
 * input and output gradient of a fully connected layer, for exchanging
 * activations and errors instead of weight gradients (ALGORITHMS.md 2). */
#ifndef LMN_NN_LAYER_IO_H
#define LMN_NN_LAYER_IO_H

#include "nn/network.h"

/* For a linear layer, valid from its after_backward hook until the next
 * forward: x = its dense input [batch][in], dy = the gradient of its
 * output [batch][out] with any fused ReLU mask applied. */
lmn_status lmn_network_linear_io(const lmn_network *net, int layer, const float **x,
                                 const float **dy, int *batch);

#endif
