/* FedAvg (ALGORITHMS.md section 7): every round the active clients train
 * from the server model and the server takes their weighted average. */
#include <string.h>

#include "train/federated_internal.h"

void lmn_fl_server_average(fl_run *run, size_t begin, size_t end)
{
    memcpy(run->global + begin, run->average + begin, (end - begin) * sizeof(float));
}

const fl_aggregator lmn_fl_fedavg = {
    .kind = LMN_AGG_FEDAVG,
    .round = lmn_fl_train_then_aggregate,
    .server_update = lmn_fl_server_average,
};
