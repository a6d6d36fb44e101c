#include "train/fedlama.h"

#include <stdlib.h>

int lmn_fedlama_relax(const lmn_lama_tensor *tensors, int count, bool *relaxed)
{
    double total_dt = 0.0, kernel_dims = 0.0;
    int kernels = 0;
    int *order = malloc(sizeof *order * (size_t)(count > 0 ? count : 1));
    for (int i = 0; i < count; i++) {
        relaxed[i] = false;
        total_dt += tensors[i].dt;
        if (!tensors[i].kernel) continue;
        kernel_dims += (double)tensors[i].dim;
        if (order) order[kernels++] = i;
    }
    if (!order) return 0;
    /* Insertion sort by d: a handful of tensors, and stable for ties. */
    for (int a = 1; a < kernels; a++) {
        const int item = order[a];
        int b = a;
        for (; b > 0 && tensors[order[b - 1]].d > tensors[item].d; b--) order[b] = order[b - 1];
        order[b] = item;
    }
    double delta_sum = 0.0, dims = 0.0;
    int chosen = 0;
    for (int k = 0; k < kernels; k++) {
        const lmn_lama_tensor *t = &tensors[order[k]];
        delta_sum += t->d * (double)t->dim;
        dims += (double)t->dim;
        relaxed[order[k]] = true;
        chosen++;
        const double delta = total_dt > 0.0 ? delta_sum / total_dt : 0.0;
        if (delta > 1.0 - dims / kernel_dims) break;
    }
    free(order);
    return chosen;
}
