/* The logic behind `lamina data convert` and `lamina data concat`: building
 * HDF5 training files (layout in src/io/hdf5_dataset.h).
 *
 * Files are written under a temporary name next to out_path and renamed
 * over it only when complete, so a reader never sees a half-written file;
 * the temporary file is removed on failure. gzip_level 0 writes
 * uncompressed data, 1..9 applies HDF5's deflate filter at that level. */
#ifndef LMN_IO_DATA_TOOLS_H
#define LMN_IO_DATA_TOOLS_H

#include <mpi.h>
#include <stdbool.h>

#include "core/status.h"

/* Loads the known dataset `name` (fashion-mnist, mnist, cifar10, cifar100;
 * see lmn_dataset_load_named) from dir, the training split if train, and
 * writes out_path with:
 *   images  uint8 N x C x H x W, chunked by whole samples (about 256 KiB a
 *           chunk), deflated when gzip_level > 0;
 *   labels  int32 N;
 *   root attributes mean, std (float32[C], the published constants),
 *   num_classes (int32) and name (string).
 * Serial: call it on one rank (rank 0) only.
 * Errors: LMN_ERR_ARG for a bad gzip level or name; the loader's errors;
 * LMN_ERR_IO when out_path cannot be written. */
lmn_status lmn_data_convert(const char *name, const char *dir, bool train, const char *out_path,
                            int gzip_level);

/* Joins input_count HDF5 files into out_path: every dataset directly under
 * the root of inputs[0] (of rank >= 1, fixed-size dtype) must exist in all
 * inputs with the same dtype and the same dimensions after the first; the
 * output holds each dataset's rows of all inputs appended in the given
 * order. Root and dataset attributes of inputs[0] are copied.
 * Collective over comm (every rank passes the same arguments): rank 0 reads
 * the headers and broadcasts the row counts (hence the output offsets);
 * input i is read by rank i % P alone, which writes its rows into the
 * output's hyperslabs with collective parallel-HDF5 writes. If parallel
 * HDF5 cannot write deflated datasets, the ranks instead send their rows to
 * rank 0, which writes them serially.
 * Errors (the same on every rank): LMN_ERR_ARG for no inputs or a bad gzip
 * level; LMN_ERR_IO for an input that cannot be read or an output that
 * cannot be written; LMN_ERR_FORMAT for an input that is not HDF5, lacks a
 * dataset or disagrees in dtype or shape (the message names the file and
 * dataset); LMN_ERR_MPI when communication fails. */
lmn_status lmn_data_concat(const char *const *inputs, int input_count, const char *out_path,
                           int gzip_level, MPI_Comm comm);

#endif
