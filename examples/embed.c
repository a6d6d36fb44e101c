/* Embedding lamina: train LeNet on data this program makes itself, through
 * the public API only (include/lamina.h).
 *
 * The task is separable by construction, but not at a glance: a 16 x 16
 * image of class k (of 4) is uniform noise in [-0.5, 0.5) with a 6 x 6
 * square in quadrant k raised by 0.3. Every sample is a pure
 * function of its index, so every rank sees the same data without sharing
 * it. The program trains, evaluates, checks that the model learned
 * (accuracy >= 0.9), and with an output directory also checkpoints and
 * resumes the checkpoint in a second session, which must score the same.
 *
 * Build and run against an installed lamina:
 *   cc -std=c11 embed.c $(pkg-config --cflags --libs lamina) -o embed
 *   mpirun -n 2 ./embed [OUT_DIR]
 * (with a prefix outside the loader's path, LD_LIBRARY_PATH=PREFIX/lib). */
#include <lamina.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SIDE = 16, SQUARE = 6, CLASSES = 4 };

typedef struct squares {
    int64_t count;
    uint32_t seed; /* training and test sets differ in their noise */
} squares;

/* A value in [0, 1) from (seed, index, pixel): integer hashing, no state. */
static float noise(uint32_t seed, uint32_t index, uint32_t pixel)
{
    uint32_t h = seed * 0x9e3779b9u ^ index * 0x85ebca6bu ^ pixel * 0xc2b2ae35u;
    h ^= h >> 16;
    h *= 0x7feb352du;
    h ^= h >> 15;
    h *= 0x846ca68bu;
    h ^= h >> 16;
    return (float)(h >> 8) / 16777216.0f;
}

static int64_t squares_count(void *user) { return ((squares *)user)->count; }

static void squares_shape(void *user, int *channels, int *height, int *width, int *classes)
{
    (void)user; /* every set of squares has the same shape */
    *channels = 1;
    *height = *width = SIDE;
    *classes = CLASSES;
}

static void draw(const squares *set, uint32_t index, float *image)
{
    const int label = (int)(index % CLASSES);
    const int top = (label / 2) * SIDE / 2 + 1, left = (label % 2) * SIDE / 2 + 1;
    for (int y = 0; y < SIDE; y++)
        for (int x = 0; x < SIDE; x++) {
            const int inside = y >= top && y < top + SQUARE && x >= left && x < left + SQUARE;
            image[y * SIDE + x] = noise(set->seed, index, (uint32_t)(y * SIDE + x)) +
                                  (inside ? 0.3f : 0.0f) - 0.5f;
        }
}

static lamina_status squares_fill(void *user, const uint32_t *indices, int n, float *inputs,
                                  int32_t *labels)
{
    const squares *set = user;
    for (int i = 0; i < n; i++) {
        if (inputs) draw(set, indices[i], inputs + (size_t)i * SIDE * SIDE);
        if (labels) labels[i] = (int32_t)(indices[i] % CLASSES);
    }
    return LAMINA_OK;
}

static const lamina_dataset_callbacks squares_callbacks = {squares_count, squares_shape,
                                                           squares_fill, NULL};

static lamina_status print_epoch(void *user, const lamina_epoch_metrics *m)
{
    int *epochs = user;
    (*epochs)++;
    if (lamina_rank() == 0)
        printf("embed: epoch %d  step %lld  train_loss %.4f  train_acc %.4f  test_acc %.4f\n",
               m->epoch, (long long)m->step, m->train_loss, m->train_accuracy, m->test_accuracy);
    return LAMINA_OK;
}

static const char *const config_text =
    "model: lenet\n"
    "seed: 5\n"
    "threads: 1\n"
    "train: {epochs: 1, batch_size: 32}\n"
    "optimizer: {name: sgd, lr: 0.02, momentum: 0.9}\n";

static squares train_data = {1024, 1}, test_data = {256, 2};

/* A session on this program's data (the datasets become the session's). */
static lamina_status open_session(const lamina_config *cfg, const char *out_dir,
                                  lamina_session **session)
{
    lamina_dataset *train = NULL, *test = NULL;
    lamina_status status = lamina_session_create(cfg, out_dir, session);
    if (status == LAMINA_OK)
        status = lamina_dataset_create(&squares_callbacks, &train_data, "squares-train", &train);
    if (status == LAMINA_OK)
        status = lamina_dataset_create(&squares_callbacks, &test_data, "squares-test", &test);
    if (status == LAMINA_OK) return lamina_session_set_data(*session, train, test);
    lamina_dataset_free(train);
    return status;
}

static lamina_status train_and_check(const lamina_config *cfg, const char *out_dir,
                                     double *loss, double *accuracy)
{
    lamina_session *session = NULL;
    int epochs = 0;
    lamina_status status = open_session(cfg, out_dir, &session);
    if (status == LAMINA_OK) lamina_session_on_epoch(session, print_epoch, &epochs);
    if (status == LAMINA_OK) status = lamina_train(session);
    if (status == LAMINA_OK) status = lamina_evaluate(session, loss, accuracy);
    if (status == LAMINA_OK && out_dir) status = lamina_checkpoint(session);
    lamina_session_free(session);
    if (status == LAMINA_OK && epochs != 3) {
        fprintf(stderr, "embed: the epoch callback ran %d times for 3 epochs\n", epochs);
        return LAMINA_ERR_INTERNAL;
    }
    if (status == LAMINA_OK && lamina_rank() == 0)
        printf("embed: test_loss %.4f  test_accuracy %.4f\n", *loss, *accuracy);
    return status;
}

/* A new session resumes the checkpoint and must score the same bits. */
static lamina_status resume_and_check(const lamina_config *cfg, const char *out_dir,
                                      double trained_loss, double trained_accuracy)
{
    lamina_session *session = NULL;
    double loss = 0.0, accuracy = -1.0;
    lamina_status status = open_session(cfg, out_dir, &session);
    if (status == LAMINA_OK) status = lamina_resume(session, "auto");
    if (status == LAMINA_OK) status = lamina_evaluate(session, &loss, &accuracy);
    lamina_session_free(session);
    if (status == LAMINA_OK && (accuracy != trained_accuracy || loss != trained_loss)) {
        fprintf(stderr, "embed: the resumed model scores loss %.17g accuracy %.6f, the trained one "
                "%.17g and %.6f\n", loss, accuracy, trained_loss, trained_accuracy);
        return LAMINA_ERR_INTERNAL;
    }
    if (status == LAMINA_OK && lamina_rank() == 0)
        printf("embed: resumed from %s: test_loss %.4f  test_accuracy %.4f (the same bits)\n",
               out_dir, loss, accuracy);
    return status;
}

int main(int argc, char **argv)
{
    const char *out_dir = argc > 1 ? argv[1] : NULL;
    lamina_config *cfg = NULL;
    double loss = 0.0, accuracy = 0.0;
    lamina_status status = lamina_init(&argc, &argv);
    if (status == LAMINA_OK) status = lamina_config_from_string(config_text, &cfg);
    /* Key by key, as a program would adjust a configuration it read. */
    if (status == LAMINA_OK) status = lamina_config_set(cfg, "train.epochs", "3");
    if (status == LAMINA_OK) status = train_and_check(cfg, out_dir, &loss, &accuracy);
    if (status == LAMINA_OK && out_dir) status = resume_and_check(cfg, out_dir, loss, accuracy);
    if (status != LAMINA_OK && status != LAMINA_ERR_INTERNAL)
        fprintf(stderr, "embed: error (%s): %s\n", lamina_status_name(status), lamina_last_error());
    lamina_config_free(cfg);
    const int learned = status == LAMINA_OK && accuracy >= 0.9;
    if (status == LAMINA_OK && !learned)
        fprintf(stderr, "embed: test accuracy %.4f < 0.9: the model did not learn\n", accuracy);
    lamina_finalize();
    return learned ? 0 : 1;
}
