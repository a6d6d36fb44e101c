/* The step simulator on hand-made profiles with hand-computed timelines.
 *
 * Link: 1 MB/s, no latency, ring collectives, 2 ranks, so an allreduce of
 * S bytes takes S us and a reduce-scatter or allgather S/2 us. Layer times
 * are given at local batch 4 and the global batch is 8: no scaling. With
 * fp32 on the wire a layer of 250000 parameters (1 MB) reduces in 1 s. */
#include <math.h>
#include <string.h>

#include "test.h"
#include "train/simulate.h"

enum { ONE_SECOND = 250000 }; /* parameters an allreduce moves in 1 s */

static lmn_layer_profile make_layer(const char *name, lmn_layer_kind kind, double forward,
                                    double backward, size_t params, double in, double out)
{
    lmn_layer_profile layer = {.kind = kind, .forward_seconds = forward,
                               .backward_seconds = backward, .param_count = params,
                               .input_floats = in, .output_floats = out};
    snprintf(layer.name, sizeof layer.name, "%s", name);
    return layer;
}

static lmn_step_profile make_profile(lmn_layer_profile *layers, int count)
{
    return (lmn_step_profile){.layers = layers, .count = count, .measured_batch = 4};
}

static lmn_sim_options slow_link(void)
{
    lmn_sim_options o = lmn_sim_options_default();
    o.link = (lmn_link){.bytes_per_second = 1e6, .latency_seconds = 0.0};
    o.algorithm = LMN_ALGORITHM_RING;
    o.global_batch = 8;
    return o;
}

static lmn_sim_result run(const lmn_step_profile *p, lmn_sim_strategy strategy, int ranks,
                          const lmn_sim_options *o, lmn_sim_path *paths)
{
    lmn_sim_result r;
    CHECK_OK(lmn_simulate(p, strategy, ranks, o, &r, paths));
    return r;
}

/* Three layers, forward 1 s and backward 2 s each; reductions of c0, c1, c2
 * seconds. */
static lmn_step_profile three_layers(lmn_layer_profile layers[3], double c0, double c1, double c2)
{
    layers[0] = make_layer("conv1", LMN_LAYER_CONV, 1, 2, (size_t)(c0 * ONE_SECOND), 100, 100);
    layers[1] = make_layer("conv2", LMN_LAYER_CONV, 1, 2, (size_t)(c1 * ONE_SECOND), 100, 100);
    layers[2] = make_layer("fc", LMN_LAYER_LINEAR, 1, 2, (size_t)(c2 * ONE_SECOND), 100, 10);
    return make_profile(layers, 3);
}

static void test_allreduce_exposes_everything(void)
{
    lmn_layer_profile layers[3];
    const lmn_step_profile p = three_layers(layers, 0.001, 1, 1);
    const lmn_sim_options o = slow_link();
    const lmn_sim_result r = run(&p, LMN_SIM_ALLREDUCE, 2, &o, NULL);
    CHECK_CLOSE(r.compute_seconds, 9.0, 1e-12);
    CHECK_CLOSE(r.comm_seconds, 2.001, 1e-12);
    CHECK_CLOSE(r.exposed_seconds, 2.001, 1e-12);
    CHECK_CLOSE(r.step_seconds, 11.001, 1e-12);
    CHECK_CLOSE(r.bytes_per_rank, 2.0 * 0.5 * 4.0 * 500250, 1e-12);
    CHECK(r.local_batch == 4);
    /* Speedup against one rank computing the whole batch of 8 (18 s). */
    CHECK_CLOSE(r.speedup, 18.0 / 11.001, 1e-12);
    CHECK_CLOSE(r.efficiency, 9.0 / 11.001, 1e-12);
    const lmn_sim_result one = run(&p, LMN_SIM_ALLREDUCE, 1, &o, NULL);
    CHECK_CLOSE(one.step_seconds, 18.0, 1e-12);
    CHECK_CLOSE(one.speedup, 1.0, 1e-12);
    CHECK(one.bytes_per_rank == 0.0 && one.exposed_seconds == 0.0);
}

static void test_overlap_timeline(void)
{
    const lmn_sim_options o = slow_link();
    lmn_layer_profile layers[3];
    /* Fits: backward ends fc at 2 (reduced 2..3), conv2 at 4 (4..5), conv1
     * at 6 (6..6.001); the next forward waits only for conv1's 1 ms. */
    lmn_step_profile p = three_layers(layers, 0.001, 1, 1);
    lmn_sim_result r = run(&p, LMN_SIM_OVERLAP, 2, &o, NULL);
    CHECK_CLOSE(r.compute_seconds, 9.0, 1e-12);
    CHECK_CLOSE(r.step_seconds, 9.001, 1e-9);
    CHECK_CLOSE(r.exposed_seconds, 0.001, 1e-9);
    CHECK_CLOSE(r.comm_seconds, 2.001, 1e-9);
    CHECK(r.buckets == 3);
    /* Does not fit: fc reduces 2..7, conv2 7..8, conv1 8..8.001; forward
     * starts at 8.001 instead of 6: the tail, 2.001 s, is exposed. */
    p = three_layers(layers, 0.001, 1, 5);
    r = run(&p, LMN_SIM_OVERLAP, 2, &o, NULL);
    CHECK_CLOSE(r.step_seconds, 11.001, 1e-9);
    CHECK_CLOSE(r.exposed_seconds, 2.001, 1e-9);
    /* FIFO: a long fc reduction (2..10) delays conv1's (11..11.001). */
    p = three_layers(layers, 0.001, 1, 8);
    r = run(&p, LMN_SIM_OVERLAP, 2, &o, NULL);
    CHECK_CLOSE(r.exposed_seconds, 5.001, 1e-9);
    /* One bucket of everything: one reduction after backward, like allreduce. */
    lmn_sim_options fused = o;
    fused.bucket_mb = 1000.0;
    r = run(&p, LMN_SIM_OVERLAP, 2, &fused, NULL);
    CHECK(r.buckets == 1);
    CHECK_CLOSE(r.step_seconds, run(&p, LMN_SIM_ALLREDUCE, 2, &o, NULL).step_seconds, 1e-12);
    /* Buckets close once they hold bucket_mb MiB of fp32 gradient: at 4 MiB
     * fc (8 MB) alone, then conv2 + conv1 (1 MB + 1 kB). */
    fused.bucket_mb = 4.0;
    CHECK(run(&p, LMN_SIM_OVERLAP, 2, &fused, NULL).buckets == 2);
}

static void test_multistep_timeline(void)
{
    const lmn_sim_options o = slow_link();
    /* Two conv layers whose reduce-scatter and allgather take 1 s each:
     * backward conv2 0..2 (RS 2..3), conv1 2..4 (RS 4..5); the update runs
     * from the bottom: conv1's allgather runs 5..6, conv2's 6..7; forward
     * conv1 waits for its gather: 6..7, conv2 for its own: 7..8. */
    lmn_layer_profile layers[2] = {
        make_layer("conv1", LMN_LAYER_CONV, 1, 2, 2 * ONE_SECOND, 100, 100),
        make_layer("conv2", LMN_LAYER_CONV, 1, 2, 2 * ONE_SECOND, 100, 100)};
    const lmn_step_profile p = make_profile(layers, 2);
    lmn_sim_path paths[2];
    const lmn_sim_result r = run(&p, LMN_SIM_MULTISTEP, 2, &o, paths);
    CHECK(paths[0] == LMN_SIM_PATH_GRADIENT && paths[1] == LMN_SIM_PATH_GRADIENT);
    CHECK_CLOSE(r.step_seconds, 8.0, 1e-12);
    CHECK_CLOSE(r.exposed_seconds, 2.0, 1e-12);
    CHECK_CLOSE(r.comm_seconds, 4.0, 1e-12);
    /* Same bytes as one allreduce of everything. */
    CHECK_CLOSE(r.bytes_per_rank, run(&p, LMN_SIM_ALLREDUCE, 2, &o, NULL).bytes_per_rank, 1e-12);
    /* localsgd with one group sends the same bytes, all blocking after
     * backward: reduce-scatter 6..8, allgather 8..10. */
    lmn_sim_options one_group = o;
    one_group.groups = 1;
    const lmn_sim_result local = run(&p, LMN_SIM_LOCALSGD, 2, &one_group, NULL);
    CHECK_CLOSE(local.bytes_per_rank, r.bytes_per_rank, 1e-12);
    CHECK_CLOSE(local.step_seconds, 10.0, 1e-12);
    CHECK_CLOSE(local.exposed_seconds, 4.0, 1e-12);
}

static void test_multistep_choice(void)
{
    lmn_sim_options o = slow_link();
    /* A 1000 x 1000 linear layer (+ bias): at global batch 8 its inputs and
     * errors (8 x 2000 fp32) are far fewer bytes than its gradient. */
    lmn_layer_profile layers[2] = {
        make_layer("conv", LMN_LAYER_CONV, 1, 2, 1000, 3000, 1000),
        make_layer("fc", LMN_LAYER_LINEAR, 1, 2, 1001000, 1000, 1000)};
    const lmn_step_profile p = make_profile(layers, 2);
    lmn_sim_path paths[2];
    lmn_sim_result r = run(&p, LMN_SIM_MULTISTEP, 2, &o, paths);
    CHECK(paths[0] == LMN_SIM_PATH_GRADIENT);
    CHECK(paths[1] == LMN_SIM_PATH_ACTIVATIONS);
    /* conv RS + AG 2000 + 2000; fc: inputs 16000 + errors 16000 + weight
     * rows 2000000 + bias 2000 */
    CHECK_CLOSE(r.bytes_per_rank, 4000.0 + 16000.0 + 16000.0 + 2000000.0 + 2000.0, 1e-12);
    /* At global batch 4096 the activations outweigh the gradient. */
    o.global_batch = 4096;
    r = run(&p, LMN_SIM_MULTISTEP, 2, &o, paths);
    CHECK(paths[1] == LMN_SIM_PATH_GRADIENT);
    CHECK_CLOSE(r.bytes_per_rank, 2.0 * 0.5 * 4.0 * 1002000, 1e-12);
    /* fc_exchange: always / never override the byte count. */
    o.fc_exchange = 1;
    run(&p, LMN_SIM_MULTISTEP, 2, &o, paths);
    CHECK(paths[0] == LMN_SIM_PATH_GRADIENT && paths[1] == LMN_SIM_PATH_ACTIVATIONS);
    o.global_batch = 8;
    o.fc_exchange = 0;
    run(&p, LMN_SIM_MULTISTEP, 2, &o, paths);
    CHECK(paths[1] == LMN_SIM_PATH_GRADIENT);
    /* Other strategies always send gradients. */
    o.fc_exchange = -1;
    run(&p, LMN_SIM_ALLREDUCE, 2, &o, paths);
    CHECK(paths[1] == LMN_SIM_PATH_GRADIENT);
}

static void test_activation_path_timeline(void)
{
    /* One 1000 x 1000 linear layer with bias, forward 1 s, backward 2 s.
     * After backward (0..3 from the step's start) the inputs and the errors
     * are allgathered (16 ms each, 3..3.032); the rows' gradient over the
     * global batch takes half the backward (3.032..4.032); the weight rows
     * (2 s) and the bias (2 ms) are allgathered; forward waits until 6.034. */
    const lmn_sim_options o = slow_link();
    lmn_layer_profile layer = make_layer("fc", LMN_LAYER_LINEAR, 1, 2, 1001000, 1000, 1000);
    const lmn_step_profile p = make_profile(&layer, 1);
    lmn_sim_path path;
    lmn_sim_result r = run(&p, LMN_SIM_MULTISTEP, 2, &o, &path);
    CHECK(path == LMN_SIM_PATH_ACTIVATIONS);
    CHECK_CLOSE(r.step_seconds, 6.034, 1e-9);
    CHECK_CLOSE(r.compute_seconds, 4.0, 1e-9);
    CHECK_CLOSE(r.exposed_seconds, 2.034, 1e-9);
    CHECK_CLOSE(r.comm_seconds, 2.034, 1e-9);
    /* The gradient path: reduce-scatter 3..5.002, allgather 5.002..7.004. */
    lmn_sim_options gradient = o;
    gradient.fc_exchange = 0;
    r = run(&p, LMN_SIM_MULTISTEP, 2, &gradient, &path);
    CHECK(path == LMN_SIM_PATH_GRADIENT);
    CHECK_CLOSE(r.step_seconds, 7.004, 1e-9);
    /* Latency: each allgather of pieces also exchanges the piece sizes. */
    lmn_sim_options slow = o;
    slow.link.latency_seconds = 0.001;
    r = run(&p, LMN_SIM_MULTISTEP, 2, &slow, &path);
    CHECK_CLOSE(r.step_seconds, 6.034 + 8 * 0.001, 1e-9); /* 4 pieces x (sizes + data) */
}

static void test_wire_halves_gradients(void)
{
    lmn_layer_profile layers[3];
    const lmn_step_profile p = three_layers(layers, 0.5, 1, 3);
    lmn_sim_options fp32 = slow_link(), fp16 = slow_link();
    fp16.wire_bytes = 2;
    fp32.lazy_layers = fp16.lazy_layers = 1;
    fp32.fc_exchange = fp16.fc_exchange = 0;
    fp32.groups = fp16.groups = 2;
    const double w = 4.0 * (layers[0].param_count + layers[1].param_count + layers[2].param_count);
    for (int ranks = 2; ranks <= 8; ranks *= 2) {
        for (int s = 0; s < LMN_SIM_STRATEGY_COUNT; s++) {
            const lmn_sim_result full = run(&p, (lmn_sim_strategy)s, ranks, &fp32, NULL);
            const lmn_sim_result half = run(&p, (lmn_sim_strategy)s, ranks, &fp16, NULL);
            /* Gradients halve; parameters (multistep, localsgd) stay fp32. */
            double expected = 0.5 * full.bytes_per_rank;
            if (s == LMN_SIM_MULTISTEP)
                expected = lmn_cost_bytes_reduce_scatter(w / 2, ranks) + lmn_cost_bytes_allgather(w, ranks);
            if (s == LMN_SIM_LOCALSGD)
                expected = lmn_cost_bytes_reduce_scatter(w / 2, ranks / 2) +
                           lmn_cost_bytes_allgather(w, ranks / 2) +
                           lmn_cost_bytes_allreduce(w / (ranks / 2), 2) / 8;
            CHECK_MSG(fabs(half.bytes_per_rank - expected) <= 1e-9 * expected,
                      "%s at %d ranks: %g, expected %g", lmn_sim_strategy_name(s), ranks,
                      half.bytes_per_rank, expected);
            if (s == LMN_SIM_LOCALSGD && ranks == 2) continue; /* one rank per group: fp32 only */
            CHECK(half.bytes_per_rank < full.bytes_per_rank);
            CHECK(half.comm_seconds < full.comm_seconds);
        }
    }
}

static void test_lazy(void)
{
    lmn_layer_profile layers[3];
    const lmn_step_profile p = three_layers(layers, 0.5, 1, 3);
    lmn_sim_options o = slow_link();
    const lmn_sim_result plain = run(&p, LMN_SIM_ALLREDUCE, 4, &o, NULL);
    /* No lazy layers: exactly allreduce. */
    o.lazy_k = 4;
    o.lazy_layers = 0;
    lmn_sim_result r = run(&p, LMN_SIM_LAZY, 4, &o, NULL);
    CHECK(r.step_seconds == plain.step_seconds && r.bytes_per_rank == plain.bytes_per_rank);
    CHECK(r.compute_seconds == plain.compute_seconds);
    /* conv1 lazy, k = 1: every step conv2 + fc, then conv1's accumulator
     * and its latest gradient (the k rule's input) in a second allreduce. */
    const double w0 = 4.0 * layers[0].param_count;
    const double rest = 4.0 * (layers[1].param_count + layers[2].param_count);
    o.lazy_k = 1;
    o.lazy_layers = 1;
    r = run(&p, LMN_SIM_LAZY, 4, &o, NULL);
    CHECK_CLOSE(r.bytes_per_rank, lmn_cost_bytes_allreduce(rest, 4) + lmn_cost_bytes_allreduce(2 * w0, 4), 1e-12);
    /* 4 ranks: local batch 2, half the measured compute (4.5 s); ring
     * allreduces of S bytes over 4 ranks take 1.5 S us. */
    CHECK_CLOSE(r.step_seconds, 4.5 + 1.5 * (rest + 2 * w0) / 1e6, 1e-9);
    /* k = 2: half the steps add conv1's 2 w0 - the bytes of plain allreduce. */
    o.lazy_k = 2;
    r = run(&p, LMN_SIM_LAZY, 4, &o, NULL);
    CHECK_CLOSE(r.bytes_per_rank, 0.5 * (lmn_cost_bytes_allreduce(rest, 4) +
                                         lmn_cost_bytes_allreduce(rest, 4) +
                                         lmn_cost_bytes_allreduce(2 * w0, 4)), 1e-12);
    CHECK_CLOSE(r.bytes_per_rank, plain.bytes_per_rank, 1e-12);
    o.lazy_k = 4;
    CHECK(run(&p, LMN_SIM_LAZY, 4, &o, NULL).step_seconds < plain.step_seconds);
    o.lazy_layers = 4;
    lmn_sim_result unused;
    CHECK(lmn_simulate(&p, LMN_SIM_LAZY, 4, &o, &unused, NULL) == LMN_ERR_ARG);
}

static void test_localsgd(void)
{
    lmn_layer_profile layers[3];
    const lmn_step_profile p = three_layers(layers, 0.5, 1, 3);
    lmn_sim_options o = slow_link();
    const double w = 4.0 * (layers[0].param_count + layers[1].param_count + layers[2].param_count);
    /* One group: the bytes of multistep without activation exchange. */
    o.groups = 1;
    o.tau = 3;
    o.fc_exchange = 0;
    CHECK_CLOSE(run(&p, LMN_SIM_LOCALSGD, 4, &o, NULL).bytes_per_rank,
                run(&p, LMN_SIM_MULTISTEP, 4, &o, NULL).bytes_per_rank, 1e-12);
    /* One rank per group (groups 0), tau = 1: every step an allreduce of
     * the whole model, the bytes of allreduce. */
    o.groups = 0;
    o.tau = 1;
    lmn_sim_result r = run(&p, LMN_SIM_LOCALSGD, 4, &o, NULL);
    CHECK(r.groups == 4);
    CHECK_CLOSE(r.bytes_per_rank, run(&p, LMN_SIM_ALLREDUCE, 4, &o, NULL).bytes_per_rank, 1e-12);
    /* 2 groups of 2, tau 4: reduce-scatter + allgather in the group every
     * step, and every 4th step an allreduce of a half slice over 2 groups. */
    o.groups = 2;
    o.tau = 4;
    r = run(&p, LMN_SIM_LOCALSGD, 4, &o, NULL);
    CHECK_CLOSE(r.bytes_per_rank,
                lmn_cost_bytes_allreduce(w, 2) + 0.25 * lmn_cost_bytes_allreduce(w / 2, 2), 1e-9);
    /* all blocking: step = compute + the communication, averaged */
    CHECK_CLOSE(r.step_seconds, r.compute_seconds + r.comm_seconds, 1e-9);
    lmn_sim_result unused;
    o.groups = 3;
    CHECK(lmn_simulate(&p, LMN_SIM_LOCALSGD, 4, &o, &unused, NULL) == LMN_ERR_ARG);
}

static void test_scaling(void)
{
    CHECK_CLOSE(lmn_sim_scaled_seconds(10.0, 2.0, 32, 8), 4.0, 1e-12);
    CHECK_CLOSE(lmn_sim_scaled_seconds(10.0, 0.0, 32, 64), 20.0, 1e-12);
    lmn_layer_profile layers[3];
    lmn_step_profile p = three_layers(layers, 0.5, 1, 3);
    layers[0].forward_fixed_seconds = 0.5;
    p.update_seconds = 0.9; /* split by parameters: 0.1, 0.2, 0.6 */
    lmn_sim_options o = slow_link();
    /* 8 ranks, global batch 8: local batch 1, a quarter of the measured 4;
     * conv1's forward keeps its fixed 0.5 s (0.5 + 0.5 / 4), its backward
     * 2 / 4, conv2 and fc 1 / 4 + 2 / 4 each, plus the update. */
    const lmn_sim_result r = run(&p, LMN_SIM_ALLREDUCE, 8, &o, NULL);
    CHECK(r.local_batch == 1);
    CHECK_CLOSE(r.compute_seconds, 0.625 + 0.5 + 2 * 0.75 + 0.9, 1e-12);
    /* Multistep updates only a 1/8 slice per rank ... */
    o.fc_exchange = 0;
    CHECK_CLOSE(run(&p, LMN_SIM_MULTISTEP, 8, &o, NULL).compute_seconds,
                0.625 + 0.5 + 2 * 0.75 + 0.9 / 8, 1e-12);
    /* ... and an exchanging layer computes its rows' gradient again (half
     * its backward: 0.5 * 2 / 4). */
    o.fc_exchange = 1;
    CHECK_CLOSE(run(&p, LMN_SIM_MULTISTEP, 8, &o, NULL).compute_seconds,
                0.625 + 0.5 + 2 * 0.75 + 0.25 + 0.9 / 8, 1e-12);
    o.fc_exchange = -1;
    /* ceil(8 / 3) = 3; 16 ranks on a batch of 8: one sample each (some idle). */
    CHECK(run(&p, LMN_SIM_ALLREDUCE, 3, &o, NULL).local_batch == 3);
    CHECK(run(&p, LMN_SIM_ALLREDUCE, 16, &o, NULL).local_batch == 1);
    /* One rank, batch 8 = twice the measured: conv1 forward 0.5 + 0.5 * 2. */
    CHECK_CLOSE(lmn_sim_single_rank_seconds(&p, 8), 1.5 + 4 + 2 * 6 + 0.9, 1e-12);
    lmn_sim_result unused;
    CHECK(lmn_simulate(&p, LMN_SIM_ALLREDUCE, 0, &o, &unused, NULL) == LMN_ERR_ARG);
    o.global_batch = 0;
    CHECK(lmn_simulate(&p, LMN_SIM_ALLREDUCE, 2, &o, &unused, NULL) == LMN_ERR_ARG);
}

static void test_names(void)
{
    for (int s = 0; s < LMN_SIM_STRATEGY_COUNT; s++) {
        lmn_sim_strategy back = LMN_SIM_STRATEGY_COUNT;
        CHECK(lmn_sim_strategy_from_name(lmn_sim_strategy_name((lmn_sim_strategy)s), &back));
        CHECK(back == (lmn_sim_strategy)s);
    }
    lmn_sim_strategy unused;
    CHECK(!lmn_sim_strategy_from_name("gossip", &unused));
}

int main(void)
{
    test_allreduce_exposes_everything();
    test_overlap_timeline();
    test_multistep_timeline();
    test_multistep_choice();
    test_activation_path_timeline();
    test_wire_halves_gradients();
    test_lazy();
    test_localsgd();
    test_scaling();
    test_names();
    return lmn_test_summary("test_simulate");
}
