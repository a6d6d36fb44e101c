/* Image-folder throughput driver for bench/images.sh.
 *   bench_images generate ROOT COUNT WIDTH HEIGHT
 *       COUNT photo-like JPEGs (libjpeg-turbo, quality 95, 4:2:0) of about
 *       WIDTH x HEIGHT (sizes jittered +-20%) in ROOT/train/c0..c9, and a
 *       tenth as many in ROOT/val/;
 *   bench_images decode ROOT SIZE THREADS SECONDS
 *       decode + random-resized-crop + flip + normalize of ROOT/train into
 *       SIZE x SIZE batches of 64 on THREADS OpenMP threads, for at least
 *       SECONDS; prints {"images": N, "seconds": T, "images_per_second": R}. */
#include <math.h>
#include <mpi.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <turbojpeg.h>

#include "core/rng.h"
#include "core/timer.h"
#include "io/image_folder.h"

static int write_one(const char *path, int width, int height, lmn_rng *rng)
{
    unsigned char *pixels = malloc((size_t)width * height * 3), *jpeg = NULL;
    const double fx = 0.01 + 0.05 * lmn_rng_uniform(rng), fy = 0.01 + 0.05 * lmn_rng_uniform(rng);
    for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++)
            for (int c = 0; c < 3; c++) {
                const double v = 128 + 80 * sin(fx * x * (c + 1) + fy * y) + 30 * lmn_rng_uniform(rng);
                pixels[((size_t)y * width + x) * 3 + c] = (unsigned char)fmin(255, fmax(0, v));
            }
    unsigned long size = 0;
    tjhandle handle = tjInitCompress();
    int rc = tjCompress2(handle, pixels, width, 0, height, TJPF_RGB, &jpeg, &size, TJSAMP_420, 95, 0);
    FILE *f = rc == 0 ? fopen(path, "wb") : NULL;
    rc = f && fwrite(jpeg, 1, size, f) == size ? 0 : 1;
    if (f) fclose(f);
    tjFree(jpeg);
    tjDestroy(handle);
    free(pixels);
    return rc;
}

static int generate(const char *root, long count, int width, int height)
{
    char path[4096];
    for (int split = 0; split < 2; split++) {
        const char *name = split ? "val" : "train";
        const long n = split ? (count / 10 > 10 ? count / 10 : 10) : count; /* every class in val */
        snprintf(path, sizeof path, "%s/%s", root, name);
        mkdir(root, 0755);
        mkdir(path, 0755);
        for (int k = 0; k < 10; k++) {
            snprintf(path, sizeof path, "%s/%s/c%d", root, name, k);
            mkdir(path, 0755);
        }
        int failed = 0;
#pragma omp parallel for schedule(dynamic, 8) reduction(+ : failed)
        for (long i = 0; i < n; i++) {
            lmn_rng rng = lmn_rng_make(7, (uint64_t)(split * count + i));
            const int w = (int)(width * (0.8 + 0.4 * lmn_rng_uniform(&rng)));
            const int h = (int)(height * (0.8 + 0.4 * lmn_rng_uniform(&rng)));
            char file[4096];
            snprintf(file, sizeof file, "%s/%s/c%ld/%06ld.jpg", root, name, i % 10, i);
            failed += write_one(file, w, h, &rng);
        }
        if (failed) return 1;
    }
    return 0;
}

static int decode(const char *root, int size, int threads, double seconds)
{
    lmn_image_folder_options options = lmn_image_folder_defaults(size, 3);
    lmn_dataset *ds = NULL;
    if (lmn_dataset_load_image_folder(root, true, &options, MPI_COMM_WORLD, &ds) != LMN_OK) {
        fprintf(stderr, "%s\n", lmn_last_error());
        return 1;
    }
    enum { BATCH = 64 };
    float *images = malloc(sizeof(float) * BATCH * 3 * (size_t)size * size);
    int32_t labels[BATCH];
    uint32_t indices[BATCH];
    omp_set_num_threads(threads);
    long done = 0;
    const double start = lmn_now();
    for (uint64_t epoch = 0; lmn_now() - start < seconds; epoch++)
        for (int64_t first = 0; first + BATCH <= ds->count && lmn_now() - start < seconds; first += BATCH) {
            for (int i = 0; i < BATCH; i++) indices[i] = (uint32_t)(first + i);
            if (lmn_dataset_gather(ds, indices, BATCH, 1, epoch, images, labels) != LMN_OK) {
                fprintf(stderr, "%s\n", lmn_last_error());
                return 1;
            }
            done += BATCH;
        }
    const double elapsed = lmn_now() - start;
    printf("{\"images\": %ld, \"seconds\": %.3f, \"images_per_second\": %.1f}\n", done, elapsed,
           done / elapsed);
    free(images);
    lmn_dataset_free(ds);
    return 0;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rc = 2;
    if (argc == 6 && !strcmp(argv[1], "generate"))
        rc = generate(argv[2], atol(argv[3]), atoi(argv[4]), atoi(argv[5]));
    else if (argc == 6 && !strcmp(argv[1], "decode"))
        rc = decode(argv[2], atoi(argv[3]), atoi(argv[4]), atof(argv[5]));
    else
        fprintf(stderr, "usage: bench_images generate ROOT COUNT WIDTH HEIGHT | decode ROOT SIZE THREADS SECONDS\n");
    MPI_Finalize();
    return rc;
}
