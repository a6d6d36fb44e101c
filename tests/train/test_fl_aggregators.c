/* The aggregator table (train/agg.c): one entry per fl.aggregator, each
 * with a round and, where the round averages client models, a server
 * update; FedAvg, FedAvgM and FedAdam server updates on hand-computed
 * values over two rounds. */
#include <math.h>
#include <string.h>

#include "test.h"
#include "train/federated_internal.h"

enum { N = 3 };

/* A run with just what the server updates read. */
typedef struct server {
    lmn_fl_settings fl;
    float global[N], average[N], m[N], v[N];
    fl_run run;
} server;

static void make_server(server *s)
{
    memset(s, 0, sizeof *s);
    s->fl = (lmn_fl_settings){.server_lr = 0.5, .server_momentum = 0.9, .server_beta1 = 0.9,
                              .server_beta2 = 0.99, .server_epsilon = 1e-3};
    const float start[N] = {1.0f, -2.0f, 0.25f};
    memcpy(s->global, start, sizeof start);
    s->run = (fl_run){.fl = &s->fl, .global = s->global, .average = s->average,
                      .server_m = s->m, .server_v = s->v};
}

/* Round 1 averages to global - 0.5, round 2 to global - 0.25. */
static void two_rounds(server *s, const fl_aggregator *agg)
{
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < N; i++) s->average[i] = s->global[i] - (round == 0 ? 0.5f : 0.25f);
        agg->server_update(&s->run, 0, N);
    }
}

static void check_table(void)
{
    const lmn_aggregator_kind kinds[] = {LMN_AGG_FEDAVG, LMN_AGG_FEDLAMA, LMN_AGG_PARTIAL,
                                         LMN_AGG_FEDPROX, LMN_AGG_FEDAVGM, LMN_AGG_FEDADAM};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        const fl_aggregator *agg = lmn_fl_aggregator(kinds[i]);
        CHECK_MSG(agg->kind == kinds[i], "entry of %s has kind %d", lmn_aggregator_name(kinds[i]),
                  (int)agg->kind);
        CHECK(agg->round != NULL);
        /* Rounds that average whole client models hand the average to the server update. */
        CHECK(agg->round != lmn_fl_train_then_aggregate || agg->server_update != NULL);
    }
    CHECK(lmn_fl_aggregator(LMN_AGG_FEDAVGM)->server_moments == 1);
    CHECK(lmn_fl_aggregator(LMN_AGG_FEDADAM)->server_moments == 2);
    CHECK(lmn_fl_aggregator(LMN_AGG_FEDLAMA)->layer_intervals);
    CHECK(lmn_fl_aggregator(LMN_AGG_PARTIAL)->client_models);
    CHECK(lmn_fl_aggregator(LMN_AGG_FEDPROX)->adjust_gradient != NULL);
}

int main(void)
{
    check_table();
    server s;
    /* FedAvg: the server model is the average. */
    make_server(&s);
    two_rounds(&s, &lmn_fl_fedavg);
    CHECK_CLOSE(s.global[0], 0.25, 1e-7);
    /* FedAvgM: m = 0.5 then 0.9 * 0.5 + 0.25 = 0.7; w = 1 - 0.5 * 0.5 - 0.5 * 0.7 = 0.4. */
    make_server(&s);
    two_rounds(&s, &lmn_fl_fedavgm);
    CHECK_CLOSE(s.m[1], 0.7, 1e-6);
    CHECK_CLOSE(s.global[0], 0.4, 1e-6);
    CHECK_CLOSE(s.global[1], -2.6, 1e-6);
    /* FedAdam: m1 = 0.05, v1 = 0.0025, step 0.5 * 0.05 / (0.05 + 1e-3);
     * m2 = 0.9 m1 + 0.1 * 0.25, v2 = 0.99 v1 + 0.01 * 0.0625. */
    make_server(&s);
    two_rounds(&s, &lmn_fl_fedadam);
    const double m1 = 0.05, v1 = 0.0025, m2 = 0.9 * m1 + 0.025, v2 = 0.99 * v1 + 0.000625;
    const double expected = 1.0 - 0.5 * m1 / (sqrt(v1) + 1e-3) - 0.5 * m2 / (sqrt(v2) + 1e-3);
    CHECK_CLOSE(s.v[2], v2, 1e-6);
    CHECK_CLOSE(s.global[0], expected, 1e-5);
    return lmn_test_summary("fl aggregators");
}
