/* Synthetic datasets: shape, determinism, and that they can be learned. */
#include <string.h>

#include "data/dataset.h"
#include "test.h"

enum { COUNT = 700, CLASSES = 7, C = 3, H = 8, W = 5, SIZE = C * H * W };

static float images_a[COUNT * SIZE], images_b[COUNT * SIZE];
static int32_t labels_a[COUNT], labels_b[COUNT];
static uint32_t all[COUNT];

static lmn_status gather_all(uint64_t seed, float *images, int32_t *labels)
{
    lmn_dataset *ds;
    LMN_TRY(lmn_dataset_synthetic(COUNT, C, H, W, CLASSES, seed, &ds));
    const lmn_status status = lmn_dataset_gather(ds, all, COUNT, 0, 0, images, labels);
    lmn_dataset_free(ds);
    return status;
}

/* Nearest class mean, with means estimated on the first half and
 * accuracy measured on the second. */
static double nearest_mean_accuracy(void)
{
    static double means[CLASSES][SIZE];
    int per_class[CLASSES] = {0};
    memset(means, 0, sizeof means);
    for (int i = 0; i < COUNT / 2; i++) {
        per_class[labels_a[i]]++;
        for (int j = 0; j < SIZE; j++) means[labels_a[i]][j] += images_a[i * SIZE + j];
    }
    for (int k = 0; k < CLASSES; k++)
        for (int j = 0; j < SIZE; j++) means[k][j] /= per_class[k];
    int correct = 0;
    for (int i = COUNT / 2; i < COUNT; i++) {
        int best = 0;
        double best_distance = INFINITY;
        for (int k = 0; k < CLASSES; k++) {
            double distance = 0;
            for (int j = 0; j < SIZE; j++) {
                const double d = images_a[i * SIZE + j] - means[k][j];
                distance += d * d;
            }
            if (distance < best_distance) best_distance = distance, best = k;
        }
        correct += best == labels_a[i];
    }
    return (double)correct / (COUNT - COUNT / 2);
}

int main(void)
{
    for (int i = 0; i < COUNT; i++) all[i] = (uint32_t)i;
    lmn_dataset *ds = NULL;
    CHECK_OK(lmn_dataset_synthetic(COUNT, C, H, W, CLASSES, 5, &ds));
    if (ds) {
        CHECK(ds->count == COUNT && ds->channels == C && ds->height == H && ds->width == W);
        CHECK(ds->num_classes == CLASSES && ds->pixels == NULL && !ds->augment);
        CHECK(lmn_dataset_sample_size(ds) == SIZE);
        int balanced = 1;
        for (int i = 0; i < COUNT; i++) balanced &= ds->labels[i] == i % CLASSES;
        CHECK(balanced);
    }
    lmn_dataset_free(ds);
    ds = NULL;

    /* Same seed, same data; another seed, other data. */
    CHECK_OK(gather_all(5, images_a, labels_a));
    CHECK_OK(gather_all(5, images_b, labels_b));
    CHECK(memcmp(images_a, images_b, sizeof images_a) == 0);
    CHECK(memcmp(labels_a, labels_b, sizeof labels_a) == 0);
    CHECK_OK(gather_all(6, images_b, labels_b));
    CHECK(memcmp(images_a, images_b, sizeof images_a) != 0);

    /* Samples of one class differ (there is noise) by about sqrt(2) per value. */
    double squared = 0;
    for (int j = 0; j < SIZE; j++) {
        const double d = images_a[j] - images_a[CLASSES * SIZE + j];
        squared += d * d;
    }
    CHECK_CLOSE(sqrt(squared / SIZE), sqrt(2.0), 0.25);

    /* Learnable: a nearest-class-mean classifier is nearly perfect. */
    const double accuracy = nearest_mean_accuracy();
    CHECK_MSG(accuracy > 0.95, "nearest-mean accuracy %.3f", accuracy);

    ds = (lmn_dataset *)&all; /* a stale pointer the failing call must clear */
    CHECK(lmn_dataset_synthetic(0, C, H, W, CLASSES, 5, &ds) == LMN_ERR_ARG);
    CHECK(lmn_dataset_synthetic(10, 0, H, W, CLASSES, 5, &ds) == LMN_ERR_ARG);
    CHECK(lmn_dataset_synthetic(10, LMN_MAX_CHANNELS + 1, H, W, CLASSES, 5, &ds) == LMN_ERR_ARG);
    CHECK(lmn_dataset_synthetic(10, C, H, W, 0, 5, &ds) == LMN_ERR_ARG);
    CHECK(ds == NULL);
    return lmn_test_summary("data_test_synthetic");
}
