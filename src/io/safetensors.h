/* Export of a network's weights in the safetensors format, which PyTorch
 * (safetensors.torch.load_file), JAX and Hugging Face tools read directly.
 *
 * File: an 8-byte little-endian header length N; N bytes of JSON, padded
 * with spaces to a multiple of 8,
 *   {"conv1.weight":{"dtype":"F32","shape":[4,1,3,3],"data_offsets":[0,144]},
 *    ..., "__metadata__":{"format":"pt"}}
 * then the little-endian float32 data of every tensor, back to back in
 * header order (offsets are relative to the end of the header).
 * Tensors are the network's learnable tensors and batch-norm running
 * statistics, in its tensor order, named as in a PyTorch state_dict
 * ("conv1.weight", "bn1.running_mean");
 * PyTorch's "num_batches_tracked" counters are not written (load with
 * strict=False, or they keep their defaults). */
#ifndef LMN_IO_SAFETENSORS_H
#define LMN_IO_SAFETENSORS_H

#include "core/status.h"
#include "nn/network.h"

/* Writes net's tensors to path atomically (temporary file, fsync, rename).
 * Tensor names must not contain '"', '\' or control characters. */
lmn_status lmn_export_safetensors(const char *path, const lmn_network *net);

#endif
