#include "train/data_input.h"

#include <string.h>
#include <sys/resource.h>

#include "data/chunk_order.h"
#include "io/hdf5_dataset.h"
#include "io/hdf5_rows.h"

static const double MB = 1024.0 * 1024.0;

enum { DEFAULT_CHUNK_ROWS = 256, MIN_CHUNKS_PER_BUFFER = 2 };

static int local_batch(const lmn_trainer *t)
{
    const int largest = t->federated ? t->settings.batch_size
                                     : lmn_epoch_control_max_batch_size(&t->epoch_control);
    return (largest + t->comm->size - 1) / t->comm->size;
}

/* What the trainer itself holds for data whatever the source: prefetch
 * slots, its batch buffer, the gather staging, the epoch order (and its
 * transient twin while a chunk order is built). Mirrors prepare_reader
 * and allocate_buffers in trainer.c. */
static double committed_mb(const lmn_trainer *t, const lmn_hdf5_rows_info *info)
{
    const lmn_data_settings *d = &t->settings.data;
    const int local = local_batch(t);
    const int batch = local > t->settings.eval_batch_size ? local : t->settings.eval_batch_size;
    const double sample = (double)info->row_bytes * (info->float_rows ? 1.0 : 4.0); /* as floats */
    const int depth = d->prefetch_samples / local > 1 ? d->prefetch_samples / local : 1;
    const double slots = d->prefetch_samples > 0 ? (double)(depth + 1) * local : 0.0;
    const double orders = (d->order == LMN_ORDER_CHUNKS ? 8.0 : 4.0) * (double)info->count;
    return ((slots + batch) * (sample + 4.0) + (double)batch * (double)info->row_bytes + orders) / MB;
}

static lmn_status check_in_memory(const lmn_trainer *t, const char *path,
                                  const lmn_hdf5_rows_info *info)
{
    const double limit = t->settings.data.max_memory_mb;
    const double needed = (double)info->count * (double)(info->row_bytes + info->extra_row_bytes + 4) / MB;
    if (limit <= 0 || needed <= limit) return LMN_OK;
    return lmn_fail(LMN_ERR_CONFIG, "key 'data.max_memory': '%s' needs %.1f MB per rank in memory "
                    "(data.in_memory: true) but data.max_memory is %g MB; set data.in_memory: "
                    "false to read it out of core, or raise data.max_memory", path, needed, limit);
}

/* chunks order: resolve data.chunk_rows and data.chunks_per_buffer. */
static void resolve_chunks(lmn_trainer *t, const lmn_hdf5_rows_info *info)
{
    lmn_data_settings *d = &t->settings.data;
    if (d->chunk_rows <= 0)
        d->chunk_rows = info && info->file_chunk_rows > 0 ? info->file_chunk_rows : DEFAULT_CHUNK_ROWS;
    if (d->chunks_per_buffer <= 0) {
        const int rows = d->prefetch_samples > local_batch(t) ? d->prefetch_samples : local_batch(t);
        const int chunks = (rows + d->chunk_rows - 1) / d->chunk_rows;
        d->chunks_per_buffer = chunks > MIN_CHUNKS_PER_BUFFER ? chunks : MIN_CHUNKS_PER_BUFFER;
    }
}

static lmn_status open_out_of_core(lmn_trainer *t, const char *path, bool train,
                                   const lmn_hdf5_rows_info *info, lmn_dataset **out)
{
    const lmn_data_settings *d = &t->settings.data;
    const bool chunks = train && d->order == LMN_ORDER_CHUNKS;
    const lmn_hdf5_rows_options options = {
        .path = path, .images_name = d->images, .labels_name = d->targets ? NULL : d->labels,
        .targets_name = d->targets,
        .cache_rows = chunks ? d->chunk_rows : train ? local_batch(t) : t->settings.eval_batch_size,
        .chunk_rows = chunks ? d->chunk_rows : 0,
        .resident_chunks = chunks ? 2 * d->chunks_per_buffer : 0,
        .rank = t->comm->rank, .ranks = t->comm->size,
        .max_memory_mb = d->max_memory_mb, .committed_mb = train ? committed_mb(t, info) : 0.0};
    return lmn_hdf5_rows_open(&options, out);
}

static lmn_status load_in_memory(lmn_trainer *t, const char *path, lmn_dataset **out)
{
    const lmn_data_settings *d = &t->settings.data;
    if (d->targets)
        return lmn_dataset_load_hdf5_regression(path, d->images, d->targets, t->comm->comm, out);
    return lmn_dataset_load_hdf5(path, d->images, d->labels, t->comm->comm, out);
}

/* Whether this run holds the data in memory; refuses out of core where
 * the whole set is needed. */
static lmn_status choose_in_memory(const lmn_trainer *t, bool *in_memory)
{
    const lmn_data_settings *d = &t->settings.data;
    const bool needs_memory = t->federated || d->derive_super_resolution;
    *in_memory = d->in_memory == 1 || (d->in_memory < 0 && needs_memory);
    if (!*in_memory && needs_memory)
        return lmn_fail(LMN_ERR_CONFIG, "key 'data.in_memory': %s needs the whole data set in "
                        "memory on every rank; remove data.in_memory: false",
                        t->federated ? "federated simulation (client partitions by label)"
                                     : "data.derive");
    return LMN_OK;
}

static lmn_status load_one(lmn_trainer *t, const char *path, bool train, bool in_memory,
                           lmn_dataset **out)
{
    const lmn_data_settings *d = &t->settings.data;
    lmn_hdf5_rows_info info;
    LMN_TRY(lmn_hdf5_rows_probe(path, d->images, d->targets ? NULL : d->labels, d->targets, &info));
    if (train && d->order == LMN_ORDER_CHUNKS) resolve_chunks(t, &info);
    if (in_memory) {
        LMN_TRY(check_in_memory(t, path, &info));
        return LMN_OK;
    }
    return open_out_of_core(t, path, train, &info, out);
}

lmn_status lmn_trainer_load_hdf5(lmn_trainer *t)
{
    const lmn_data_settings *d = &t->settings.data;
    bool in_memory = false;
    lmn_status status = choose_in_memory(t, &in_memory);
    /* An evaluating trainer (eval, export) never opens the training file. */
    const bool train = !t->evaluation_only;
    if (status == LMN_OK && train) status = load_one(t, d->path, true, in_memory, &t->train_set);
    if (status == LMN_OK) status = load_one(t, d->test_path, false, in_memory, &t->test_set);
    LMN_TRY(lmn_comm_agree(t->comm, status));
    if (!in_memory) return LMN_OK;
    /* Collective loads: every rank got here with the same verdict. */
    if (train) LMN_TRY(load_in_memory(t, d->path, &t->train_set));
    return load_in_memory(t, d->test_path, &t->test_set);
}

lmn_status lmn_trainer_epoch_order(lmn_trainer *t, int epoch, const lmn_epoch_plan *plan)
{
    const lmn_train_settings *s = &t->settings;
    if (s->data.order != LMN_ORDER_CHUNKS) {
        lmn_epoch_order(t->train_set->count, s->seed, (uint64_t)epoch, s->shuffle, t->order);
        return LMN_OK;
    }
    if (s->data.chunk_rows <= 0) resolve_chunks(t, NULL);
    const lmn_chunk_layout layout = {t->train_set->count, s->data.chunk_rows,
                                     s->data.chunks_per_buffer, t->comm->size};
    return lmn_chunk_epoch_order(&layout, plan, s->seed, (uint64_t)epoch, s->shuffle, t->order);
}

lmn_status lmn_peak_rss_mb(lmn_comm *comm, double *out)
{
    struct rusage usage;
    *out = getrusage(RUSAGE_SELF, &usage) == 0 ? (double)usage.ru_maxrss / 1024.0 : 0.0;
    if (MPI_Allreduce(MPI_IN_PLACE, out, 1, MPI_DOUBLE, MPI_MAX, comm->comm) != MPI_SUCCESS)
        return lmn_fail(LMN_ERR_MPI, "MPI_Allreduce of the peak resident set size failed");
    return LMN_OK;
}
