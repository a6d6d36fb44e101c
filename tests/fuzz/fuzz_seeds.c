/* Writes the small binary seed corpora of the harnesses into DIR/<target>/
 * (the YAML seeds are the files configs/NAME.yaml, copied by tests/fuzz/run.sh), so no
 * binary seed is committed: fuzz_seeds DIR. */
#include "fuzz_common.h"

#include <errno.h>
#include <sys/stat.h>

#include <hdf5.h>
#include <png.h>
#include <turbojpeg.h>
#include <zlib.h>

#include "io/checkpoint.h"
#include "fuzz_model.h"

static const char *root;

static void put(const char *target, const char *name, const void *data, size_t size)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", root, target);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) abort();
    snprintf(path, sizeof path, "%s/%s/%s", root, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0) abort();
}

static uint8_t *slurp(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) abort();
    fseek(f, 0, SEEK_END);
    *size = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *bytes = malloc(*size ? *size : 1);
    if (fread(bytes, 1, *size, f) != *size) abort();
    fclose(f);
    return bytes;
}

static size_t be32(uint8_t *out, uint32_t v)
{
    out[0] = (uint8_t)(v >> 24), out[1] = (uint8_t)(v >> 16), out[2] = (uint8_t)(v >> 8),
    out[3] = (uint8_t)v;
    return 4;
}

/* gzip of bytes into out (returns its length). */
static size_t gzip(const uint8_t *in, size_t size, uint8_t *out, size_t capacity)
{
    z_stream z = {0};
    if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) abort();
    z.next_in = (Bytef *)in, z.avail_in = (uInt)size;
    z.next_out = out, z.avail_out = (uInt)capacity;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) abort();
    deflateEnd(&z);
    return z.total_out;
}

static void idx_seeds(void)
{
    /* 3 images of 4 x 5, labels 0, 9, 3. */
    uint8_t images[16 + 60], labels[8 + 3];
    size_t n = be32(images, 2051);
    n += be32(images + n, 3), n += be32(images + n, 4), n += be32(images + n, 5);
    for (int i = 0; i < 60; i++) images[n + (size_t)i] = (uint8_t)(i * 37);
    be32(labels, 2049), be32(labels + 4, 3);
    labels[8] = 0, labels[9] = 9, labels[10] = 3;
    uint8_t seed[4 + 256 + 256];
    for (int compressed = 0; compressed < 2; compressed++) {
        size_t a = sizeof images, b = sizeof labels;
        uint8_t *p = seed + 4;
        if (compressed) {
            a = gzip(images, sizeof images, p, 256);
            b = gzip(labels, sizeof labels, p + a, 256);
        } else {
            memcpy(p, images, a);
            memcpy(p + a, labels, b);
        }
        seed[0] = (uint8_t)a, seed[1] = (uint8_t)(a >> 8), seed[2] = seed[3] = 0;
        put("idx", compressed ? "gzip" : "plain", seed, 4 + a + b);
    }
}

static void cifar_seeds(void)
{
    enum { PIXELS = 3072 };
    static uint8_t seed[1 + 2 * (2 + PIXELS)];
    for (int kind = 0; kind < 2; kind++) {
        const size_t record = (size_t)(1 + kind) + PIXELS;
        seed[0] = (uint8_t)kind; /* one file */
        for (int r = 0; r < 2; r++) {
            uint8_t *p = seed + 1 + (size_t)r * record;
            for (size_t i = 0; i < record; i++) p[i] = (uint8_t)(i * 13 + (size_t)r);
            p[0] = (uint8_t)(3 + r);
            if (kind) p[1] = (uint8_t)(42 + r);
        }
        put("cifar", kind ? "cifar100" : "cifar10", seed, 1 + 2 * record);
    }
}

static void png_seed(const char *name, int color_type, int channels, int bit_depth)
{
    char path[512];
    snprintf(path, sizeof path, "%s/png.tmp", root);
    FILE *f = fopen(path, "wb");
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (!f || !png || !info || setjmp(png_jmpbuf(png))) abort();
    png_init_io(png, f);
    enum { W = 5, H = 3 };
    png_set_IHDR(png, info, W, H, bit_depth, color_type, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (color_type == PNG_COLOR_TYPE_PALETTE) {
        png_color palette[4] = {{0, 0, 0}, {255, 0, 0}, {0, 255, 0}, {10, 20, 30}};
        png_set_PLTE(png, info, palette, 4);
    }
    png_write_info(png, info);
    uint8_t row[W * 4 * 2];
    for (int y = 0; y < H; y++) {
        for (size_t i = 0; i < sizeof row; i++) row[i] = (uint8_t)(i * 29 + (size_t)y * 7);
        if (color_type == PNG_COLOR_TYPE_PALETTE)
            for (size_t i = 0; i < sizeof row; i++) row[i] &= 3;
        png_write_row(png, row);
    }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    fclose(f);
    (void)channels;
    size_t size;
    uint8_t *bytes = slurp(path, &size);
    put("image", name, bytes, size);
    free(bytes);
    unlink(path);
}

static void jpeg_seed(const char *name, int pixel_format, int subsamp, int channels)
{
    enum { W = 17, H = 9 };
    uint8_t pixels[W * H * 3];
    for (int i = 0; i < W * H * channels; i++) pixels[i] = (uint8_t)(i * 11);
    tjhandle handle = tjInitCompress();
    unsigned char *jpeg = NULL;
    unsigned long size = 0;
    if (!handle || tjCompress2(handle, pixels, W, 0, H, pixel_format, &jpeg, &size, subsamp, 75,
                               0) != 0)
        abort();
    put("image", name, jpeg, size);
    tjFree(jpeg);
    tjDestroy(handle);
}

static void write_dataset(hid_t file, const char *name, hid_t type, int rank, const hsize_t *dims,
                          const void *data, bool chunked)
{
    hid_t space = H5Screate_simple(rank, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (chunked) {
        hsize_t chunk[5];
        for (int d = 0; d < rank; d++) chunk[d] = dims[d];
        chunk[0] = 2;
        H5Pset_chunk(dcpl, rank, chunk);
        H5Pset_deflate(dcpl, 4);
    }
    hid_t set = H5Dcreate2(file, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (set < 0 || H5Dwrite(set, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) abort();
    H5Dclose(set), H5Pclose(dcpl), H5Sclose(space);
}

static void attr_doubles(hid_t file, const char *name, const double *values, hsize_t count)
{
    hid_t space = H5Screate_simple(1, &count, NULL);
    hid_t attr = H5Acreate2(file, name, H5T_NATIVE_DOUBLE, space, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(attr, H5T_NATIVE_DOUBLE, values);
    H5Aclose(attr), H5Sclose(space);
}

static void hdf5_seed(const char *name, bool float_images, bool chunked, bool targets)
{
    char path[512];
    snprintf(path, sizeof path, "%s/h5.tmp", root);
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (file < 0) abort();
    const hsize_t dims[4] = {4, 1, 3, 3};
    uint8_t bytes[36];
    float floats[36];
    for (int i = 0; i < 36; i++) bytes[i] = (uint8_t)(i * 7), floats[i] = (float)i / 36.0f;
    write_dataset(file, "images", float_images ? H5T_NATIVE_FLOAT : H5T_NATIVE_UINT8, 4, dims,
                  float_images ? (const void *)floats : bytes, chunked);
    const int32_t labels[4] = {0, 1, 2, 1};
    write_dataset(file, "labels", H5T_NATIVE_INT32, 1, dims, labels, false);
    if (targets) {
        const hsize_t tdims[2] = {4, 2};
        write_dataset(file, "targets", H5T_NATIVE_FLOAT, 2, tdims, floats, false);
    }
    const double mean = 0.5, std = 0.25;
    attr_doubles(file, "mean", &mean, 1);
    attr_doubles(file, "std", &std, 1);
    hid_t scalar = H5Screate(H5S_SCALAR);
    hid_t attr = H5Acreate2(file, "num_classes", H5T_NATIVE_INT64, scalar, H5P_DEFAULT, H5P_DEFAULT);
    const int64_t classes = 3;
    H5Awrite(attr, H5T_NATIVE_INT64, &classes);
    H5Aclose(attr), H5Sclose(scalar);
    H5Fclose(file);
    size_t size;
    uint8_t *image = slurp(path, &size);
    put("hdf5_dataset", name, image, size);
    free(image);
    unlink(path);
}

static void checkpoint_seed(const char *name, lmn_optimizer_kind kind, int policy_count)
{
    lmn_backend *backend;
    lmn_network *net;
    lmn_optimizer *opt;
    if (lmn_backend_create("ref", &backend) != LMN_OK ||
        fuzz_build_model(backend, &FUZZ_MODEL_DEFAULT, &net) != LMN_OK ||
        fuzz_build_optimizer(net, kind, &opt) != LMN_OK)
        abort();
    const lmn_checkpoint_progress progress = {.epoch = 1, .step_in_epoch = 2, .global_step = 9,
                                              .ranks = 1, .epoch_loss = 1.5};
    const double policy[8] = {64, 0.5, 1, 0, 0, 0, 1, 4};
    char path[512];
    snprintf(path, sizeof path, "%s/ckpt.tmp", root);
    if (lmn_checkpoint_save(path, net, opt, &progress, "model: lenet\n", policy, policy_count) !=
        LMN_OK)
        abort();
    size_t size;
    uint8_t *image = slurp(path, &size);
    put("checkpoint", name, image, size);
    free(image);
    unlink(path);
    lmn_optimizer_free(opt);
    lmn_network_free(net);
    lmn_backend_destroy(backend);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_seeds DIR\n");
        return 2;
    }
    root = argv[1];
    if (mkdir(root, 0755) != 0 && errno != EEXIST) {
        perror(root);
        return 1;
    }
    fuzz_init_mpi();
    idx_seeds();
    cifar_seeds();
    png_seed("rgb.png", PNG_COLOR_TYPE_RGB, 3, 8);
    png_seed("gray.png", PNG_COLOR_TYPE_GRAY, 1, 8);
    png_seed("rgba16.png", PNG_COLOR_TYPE_RGB_ALPHA, 4, 16);
    png_seed("palette.png", PNG_COLOR_TYPE_PALETTE, 1, 2);
    jpeg_seed("rgb420.jpg", TJPF_RGB, TJSAMP_420, 3);
    jpeg_seed("rgb444.jpg", TJPF_RGB, TJSAMP_444, 3);
    jpeg_seed("gray.jpg", TJPF_GRAY, TJSAMP_GRAY, 1);
    hdf5_seed("uint8.h5", false, false, false);
    hdf5_seed("float_chunked.h5", true, true, true);
    checkpoint_seed("adam.h5", LMN_OPT_ADAM, 8);
    checkpoint_seed("sgd.h5", LMN_OPT_SGD, 7);
    const uint8_t st[][24] = {{1, 2, 1, 0x03, 5, 'c', 'o', 'n', 'v', '1', 3, 'b', 'n', '1', 2, 'f',
                               'c', 0x3f, 0x80, 0, 0, 0x7f, 0xc0, 1},
                              {3, 0, 4, 0x00, 0, 0, 0, 0, 0xff, 0xff, 0x80, 0x7f}};
    put("safetensors", "named", st[0], sizeof st[0]);
    put("safetensors", "unnamed", st[1], 12);
    return 0;
}
