/* The API inside an MPI program that started MPI itself: lamina_init uses
 * that MPI, lamina_finalize leaves it running (the program's own
 * collectives still work afterwards), errors come back as codes with
 * messages that name what is wrong, lamina_fl runs the federated
 * simulation, and an epoch callback can stop training. Built against the
 * installed tree by tests/install/embed.sh; run on 2 ranks. */
#include <lamina.h>
#include <mpi.h>
#include <stdio.h>
#include <string.h>

static int failures;

static void expect(int ok, const char *what)
{
    if (!ok) {
        failures++;
        fprintf(stderr, "inside_mpi: FAIL: %s (last error: %s)\n", what, lamina_last_error());
    }
}

/* Refusals: each a code and a message naming the key or the call. */
static void check_errors(void)
{
    lamina_config *cfg = NULL;
    expect(lamina_config_from_string("model: lenet\n", &cfg) == LAMINA_OK, "parse a config");
    expect(lamina_config_set(cfg, "optimizer.lr", "-1") == LAMINA_OK, "set optimizer.lr");
    lamina_session *session = NULL;
    expect(lamina_session_create(cfg, NULL, &session) == LAMINA_OK, "create a session");
    const lamina_status status = lamina_train(session);
    expect(status == LAMINA_ERR_CONFIG, "a negative learning rate is a config error");
    expect(strstr(lamina_last_error(), "optimizer.lr") != NULL, "the message names optimizer.lr");
    expect(lamina_checkpoint(session) != LAMINA_OK, "checkpoint without an output directory");
    lamina_session_free(session);
    lamina_config_free(cfg);
    lamina_config *bad = NULL;
    expect(lamina_config_from_string("model: [unclosed\n", &bad) != LAMINA_OK && !bad,
           "malformed YAML is refused");
}

static const char synthetic_model[] =
    "seed: 4\nthreads: 1\n"
    "data: {name: synthetic, shape: [1, 8, 8], classes: 4, train_size: 128, test_size: 64}\n"
    "model:\n"
    "  - {type: conv, out: 4, kernel: 3, pad: 1, activation: relu}\n"
    "  - {type: flatten}\n"
    "  - {type: linear, out: 4, init: glorot}\n";

static lamina_session *open_session(const char *extra)
{
    char text[1024];
    snprintf(text, sizeof text, "%s%s", synthetic_model, extra);
    lamina_config *cfg = NULL;
    lamina_session *session = NULL;
    expect(lamina_config_from_string(text, &cfg) == LAMINA_OK, "parse the synthetic config");
    if (cfg) expect(lamina_session_create(cfg, NULL, &session) == LAMINA_OK, "create a session");
    lamina_config_free(cfg); /* the session holds its own copy */
    return session;
}

/* The federated simulation through the API; such a session cannot then
 * train data-parallel. */
static void check_fl(void)
{
    lamina_session *session = open_session(
        "fl: {clients: 4, active_ratio: 1.0, local_steps: 4, batch_size: 8, rounds: 2}\n");
    double loss = -1, accuracy = -1;
    expect(lamina_fl(session) == LAMINA_OK, "lamina_fl");
    expect(lamina_evaluate(session, &loss, &accuracy) == LAMINA_OK, "evaluate the server model");
    expect(loss > 0 && accuracy > 0.25, "the server model learned something (above chance)");
    expect(lamina_train(session) == LAMINA_ERR_ARG, "a session that ran fl refuses lamina_train");
    lamina_session_free(session);
}

static int callback_calls;

static lamina_status stop_after_first(void *user, const lamina_epoch_metrics *m)
{
    (void)user;
    callback_calls++;
    return m->epoch >= 1 ? LAMINA_ERR_STOPPED : LAMINA_OK;
}

/* An epoch callback that says stop ends lamina_train with its status. */
static void check_callback_stops(void)
{
    lamina_session *session = open_session("train: {epochs: 3, batch_size: 16}\n");
    lamina_session_on_epoch(session, stop_after_first, NULL);
    expect(lamina_train(session) == LAMINA_ERR_STOPPED, "lamina_train returns the callback's status");
    expect(callback_calls == 1, "the callback ran once (stopped after epoch 1)");
    lamina_session_free(session);
}

int main(int argc, char **argv)
{
    int provided = 0;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
    expect(lamina_init(&argc, &argv) == LAMINA_OK, "lamina_init inside MPI");
    expect(lamina_size() >= 1 && lamina_rank() >= 0, "rank and size");
    check_errors();
    check_fl();
    check_callback_stops();
    lamina_finalize();
    int finalized = 1, one = 1, sum = 0;
    MPI_Finalized(&finalized);
    expect(!finalized, "lamina_finalize left the program's MPI running");
    expect(MPI_Allreduce(&one, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD) == MPI_SUCCESS &&
               sum == lamina_size(), "the program's collectives after lamina_finalize");
    const int rank = lamina_rank();
    MPI_Finalize();
    if (failures == 0) printf("inside_mpi: all passed on rank %d\n", rank);
    return failures ? 1 : 0;
}
