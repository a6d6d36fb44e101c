/* The API inside an MPI program that started MPI itself: lamina_init uses
 * that MPI, lamina_finalize leaves it running (the program's own
 * collectives still work afterwards), and errors come back as codes with
 * messages that name what is wrong. Built against the installed tree by
 * tests/install/embed.sh; run on 2 ranks. */
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

int main(int argc, char **argv)
{
    int provided = 0;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
    expect(lamina_init(&argc, &argv) == LAMINA_OK, "lamina_init inside MPI");
    expect(lamina_size() >= 1 && lamina_rank() >= 0, "rank and size");
    check_errors();
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
