/* `lamina data convert images ROOT OUT.h5 --size S`: an image folder packed
 * into the HDF5 layout of io/hdf5_dataset.h. */
#ifndef LMN_IO_IMAGE_CONVERT_H
#define LMN_IO_IMAGE_CONVERT_H

#include <mpi.h>
#include <stdbool.h>

#include "core/status.h"

/* Writes ROOT/train (or ROOT/val when !train) through the evaluation
 * transform (shorter side to round(S * 256 / 224), centre S x S crop; see
 * io/image_folder.h) into out_path:
 *   images  uint8 N x channels x S x S, in the folder's class-major order;
 *   labels  int32 N (the sorted class folders' indices);
 *   root attributes mean, std (ImageNet's), num_classes, name "images".
 * Collective over comm: rank r decodes the r-th contiguous share of the
 * files (with OpenMP threads) and writes it with collective parallel-HDF5
 * writes, in rounds of at most 1024 images per rank; the file is written
 * under a temporary name and renamed when complete (removed on failure).
 * gzip_level 1..9 deflates chunks of the images (HDF5's parallel
 * compression). Errors (the same on every rank): the folder's errors (a bad
 * file stops the conversion, named), LMN_ERR_IO when out_path cannot be
 * written, LMN_ERR_ARG for a bad size, channel count or gzip level. */
lmn_status lmn_data_convert_images(const char *root, bool train, int size, int channels,
                                   const char *out_path, int gzip_level, MPI_Comm comm);

#endif
