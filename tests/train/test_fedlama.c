/* FedLAMA's interval rule on hand-made discrepancies (ALGORITHMS.md 8). */
#include "test.h"
#include "train/fedlama.h"

static int relaxed_count(const bool *relaxed, int n)
{
    int count = 0;
    for (int i = 0; i < n; i++) count += relaxed[i];
    return count;
}

int main(void)
{
    bool relaxed[6];
    /* LeNet-like: a huge fc weight that barely drifts, biases that drift a
     * lot. Kernel dims 800, 51200, 1605632, 5120; biases 32 and 64. */
    const lmn_lama_tensor lenet[6] = {
        {.d = 4e-6, .dt = 4e-6 * 800, .dim = 800, .kernel = true},
        {.d = 1e-6, .dt = 1e-6 * 51200, .dim = 51200, .kernel = true},
        {.d = 1e-9, .dt = 1e-9 * 1605632, .dim = 1605632, .kernel = true},
        {.d = 2e-6, .dt = 2e-6 * 5120, .dim = 5120, .kernel = true},
        {.d = 1e-3, .dt = 1e-3 * 32, .dim = 32, .kernel = false},
        {.d = 1e-3, .dt = 1e-3 * 64, .dim = 64, .kernel = false},
    };
    /* Walk: fc (d 1e-9) first: delta = 1.6e-3 / total(0.148) ~ 0.011,
     * lambda = 1605632 / 1662752 = 0.9657 -> 1 - lambda = 0.034: 0.011 is
     * not above it, continue; conv2 (d 1e-6): delta = (1.6e-3 + 0.0512) /
     * 0.148 = 0.357 > 1 - 0.9965: stop, conv2 included. */
    CHECK(lmn_fedlama_relax(lenet, 6, relaxed) == 2);
    CHECK(relaxed[2] && relaxed[1]);
    CHECK(!relaxed[0] && !relaxed[3]);
    CHECK(!relaxed[4] && !relaxed[5]); /* biases never relaxed */

    /* A single kernel: the walk visits it and stops (lambda reaches 1). */
    const lmn_lama_tensor single[2] = {{.d = 5.0, .dt = 5.0, .dim = 1, .kernel = true},
                                       {.d = 1.0, .dt = 1.0, .dim = 1, .kernel = false}};
    CHECK(lmn_fedlama_relax(single, 2, relaxed) == 1 && relaxed[0] && !relaxed[1]);

    /* Zero discrepancy everywhere: delta stays 0; the walk ends only when
     * lambda reaches 1, so every kernel is relaxed. */
    const lmn_lama_tensor calm[3] = {{.dim = 10, .kernel = true}, {.dim = 20, .kernel = true},
                                     {.dim = 5, .kernel = false}};
    CHECK(lmn_fedlama_relax(calm, 3, relaxed) == 2 && relaxed[0] && relaxed[1] && !relaxed[2]);

    /* The smallest-d kernel dominates the discrepancy mass: it is taken
     * and the walk stops at once. */
    const lmn_lama_tensor heavy[3] = {{.d = 0.1, .dt = 100.0, .dim = 1000, .kernel = true},
                                      {.d = 0.5, .dt = 1.0, .dim = 2, .kernel = true},
                                      {.d = 0.9, .dt = 1.0, .dim = 1, .kernel = false}};
    CHECK(lmn_fedlama_relax(heavy, 3, relaxed) == 1 && relaxed[0] && !relaxed[1]);

    /* No kernels at all: nothing relaxed. */
    const lmn_lama_tensor biases[2] = {{.d = 1.0, .dt = 1.0, .dim = 3}, {.d = 2.0, .dt = 2.0, .dim = 3}};
    CHECK(lmn_fedlama_relax(biases, 2, relaxed) == 0 && relaxed_count(relaxed, 2) == 0);
    return lmn_test_summary("fedlama rule");
}
