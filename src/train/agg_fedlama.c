/* FedLAMA (ALGORITHMS.md section 8): FedAvg whose tensors of small
 * discrepancy are aggregated every phi rounds instead of every round. The
 * round loop schedules tensors by run->interval; this file measures each
 * tensor's discrepancy when it is averaged and, every phi rounds after
 * fl.relax_after, sets the intervals by lmn_fedlama_relax (fedlama.c). */
#include "comm/exact_sum.h"
#include "train/fedlama.h"
#include "train/federated_internal.h"

/* D_l = mean_i ||u - x_i||^2 from the sums: mean ||x_i||^2 -
 * 2 u . mean(x_i) + ||u||^2, in double from the exact fixed-point sums. */
static void record_discrepancy(fl_run *run, int k)
{
    const lmn_tensor_view *v = view(run, k);
    const int64_t *plain = run->plain_sums ? run->plain_sums : run->sums;
    double norms = 0.0, cross = 0.0, square = 0.0;
    for (int j = 0; j < run->active_count; j++)
        norms += run->square_norms[(size_t)j * run->tensor_count + k];
    for (size_t i = v->offset; i < v->offset + v->count; i++) {
        const double u = lmn_fixed_to_double(run->sums[i], LMN_FIXED_MODEL_BITS);
        cross += u * lmn_fixed_to_double(plain[i], LMN_FIXED_MODEL_BITS);
        square += u * u;
    }
    double discrepancy = norms / run->active_count - 2.0 * cross + square;
    if (discrepancy < 0.0) discrepancy = 0.0; /* rounding when clients agree */
    const double steps = run->fl->local_steps > 0 ? run->fl->local_steps : 1.0;
    run->d[k] = discrepancy / (run->interval[k] * steps * (double)v->count);
    run->dt[k] = discrepancy / (run->interval[k] * steps);
}

static void adjust_intervals(fl_run *run, int round)
{
    const lmn_fl_settings *fl = run->fl;
    if ((round + 1) % fl->phi != 0 || round <= fl->relax_after) return;
    lmn_lama_tensor tensors[256];
    bool relaxed[256];
    const int count = run->tensor_count < 256 ? run->tensor_count : 256;
    for (int k = 0; k < count; k++)
        tensors[k] = (lmn_lama_tensor){run->d[k], run->dt[k], view(run, k)->count,
                                       view(run, k)->role == LMN_ROLE_WEIGHT};
    lmn_fedlama_relax(tensors, count, relaxed);
    for (int k = 0; k < run->tensor_count; k++) run->interval[k] = k < count && relaxed[k] ? fl->phi : 1;
}

const fl_aggregator lmn_fl_fedlama = {
    .kind = LMN_AGG_FEDLAMA,
    .layer_intervals = true,
    .round = lmn_fl_train_then_aggregate,
    .server_update = lmn_fl_server_average,
    .after_average = record_discrepancy,
    .end_round = adjust_intervals,
};
