/* The aggregator table: one entry per fl.aggregator (train/agg_*.c). */
#include "train/federated_internal.h"

const fl_aggregator *lmn_fl_aggregator(lmn_aggregator_kind kind)
{
    static const fl_aggregator *const table[] = {
        [LMN_AGG_FEDAVG] = &lmn_fl_fedavg,   [LMN_AGG_FEDLAMA] = &lmn_fl_fedlama,
        [LMN_AGG_PARTIAL] = &lmn_fl_partial, [LMN_AGG_FEDPROX] = &lmn_fl_fedprox,
        [LMN_AGG_FEDAVGM] = &lmn_fl_fedavgm, [LMN_AGG_FEDADAM] = &lmn_fl_fedadam,
    };
    return (unsigned)kind < sizeof table / sizeof table[0] ? table[kind] : &lmn_fl_fedavg;
}
