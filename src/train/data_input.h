/* The trainer's HDF5 input and epoch order (ALGORITHMS.md section 10).
 *
 * data.name: hdf5 is read out of core by default: each rank opens the file
 * itself and reads the rows of its batches on the I/O thread
 * (io/hdf5_rows.h); data.in_memory: true loads it whole on every rank
 * (federated runs and data.derive need that, so there it is the default).
 * data.max_memory bounds what the data may take per rank: the whole set in
 * memory, or the out-of-core buffers (prefetch slots, the trainer's batch,
 * resident chunks, staging, chunk cache) plus the epoch order (4 bytes per
 * sample, the only array that grows with the data set).
 *
 * data.order picks the epoch order: `global` (lmn_epoch_order, the same
 * bits in memory and out of core) or `chunks` (data/chunk_order.h, chunks
 * of data.chunk_rows rows, default the file's HDF5 chunk rows, else 256;
 * data.chunks_per_buffer per buffer, default enough for
 * max(data.prefetch_samples, local batch) rows and at least 2). */
#ifndef LMN_TRAIN_DATA_INPUT_H
#define LMN_TRAIN_DATA_INPUT_H

#include "comm/comm.h"
#include "train/trainer.h"

/* Opens or loads the training and test HDF5 files per the data settings;
 * collective (every rank agrees on the outcome). */
lmn_status lmn_trainer_load_hdf5(lmn_trainer *t);

/* Writes epoch `epoch`'s visiting order into t->order for plan. */
lmn_status lmn_trainer_epoch_order(lmn_trainer *t, int epoch, const lmn_epoch_plan *plan);

/* The largest peak resident set (getrusage ru_maxrss) over the ranks, in
 * MiB; collective. */
lmn_status lmn_peak_rss_mb(lmn_comm *comm, double *out);

#endif
