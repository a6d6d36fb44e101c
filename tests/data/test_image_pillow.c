/* JPEGs written with libjpeg-turbo (tjCompress2, quality 95) from generated
 * images (RGB 4:2:0, grayscale, CMYK with Adobe's inverted convention,
 * sizes not multiples of 8, one decoded with DCT downscaling) decode like
 * Pillow's decode of the same files, and the evaluation transform (resize
 * of the shorter side + centre crop) is close to Pillow's bilinear resize
 * + crop. Pillow (python3-pil) is test-only: without it the test skips
 * (exit 77).
 *
 * Tolerances, in 8-bit levels:
 *   decode before resize: max |lamina - Pillow| <= 1 (both are
 *     libjpeg-turbo with the same IDCT; CMYK goes through lamina's own
 *     CMYK -> RGB, rounded like Pillow's);
 *   evaluation transform at full decode size: max <= 2 (Pillow rounds to
 *     8 bits between its horizontal and vertical passes, lamina does not);
 *   with DCT downscaling (4x here): max <= 6, mean <= 1.5 (the DCT
 *     reduction is a different low-pass than decoding fully and filtering;
 *     measured: max 2.5, mean 0.45). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>
#include <unistd.h>

#include "data/image_codec.h"
#include "data/image_transform.h"
#include "test.h"

typedef struct jpeg_case {
    const char *name;
    int width, height, format; /* TJPF_RGB, TJPF_GRAY or TJPF_CMYK */
    int channels;              /* decoded as */
    double scale;              /* min_scale for the decode comparison */
    int resize, size;          /* evaluation transform */
} jpeg_case;

static const jpeg_case CASES[] = {
    {"rgb", 67, 45, TJPF_RGB, 3, 1.0, 40, 32},
    {"rgb_as_gray", 67, 45, TJPF_RGB, 1, 1.0, 40, 32},
    {"gray", 33, 50, TJPF_GRAY, 1, 1.0, 36, 30},
    {"gray_as_rgb", 33, 50, TJPF_GRAY, 3, 1.0, 36, 30},
    {"cmyk", 41, 29, TJPF_CMYK, 3, 1.0, 29, 24},
    {"large", 517, 389, TJPF_RGB, 3, 0.25, 80, 64},
};
enum { CASE_COUNT = sizeof CASES / sizeof CASES[0] };

/* Smooth gradients plus a little texture: photo-like, so JPEG keeps it close. */
static unsigned char *make_pixels(const jpeg_case *c)
{
    const int components = tjPixelSize[c->format];
    /* Features scale with the image: the large one is a smooth photo, not
     * a texture at its Nyquist rate that any two low-pass filters treat
     * differently. */
    const double zoom = c->width / 67.0;
    unsigned char *pixels = malloc((size_t)c->width * c->height * components);
    for (int y = 0; y < c->height; y++)
        for (int x = 0; x < c->width; x++)
            for (int k = 0; k < components; k++) {
                const double u = x / zoom, w = y / zoom;
                const double v = 128 + 90 * sin(0.07 * u * (k + 1) + 0.05 * w) +
                                 20 * cos(0.3 * (u + 2 * w) + k);
                pixels[((size_t)y * c->width + x) * components + k] =
                    (unsigned char)fmin(255, fmax(0, v));
            }
    return pixels;
}

static int write_jpeg(const char *dir, const jpeg_case *c)
{
    unsigned char *pixels = make_pixels(c), *jpeg = NULL;
    unsigned long size = 0;
    tjhandle handle = tjInitCompress();
    const int subsampling = c->format == TJPF_GRAY ? TJSAMP_GRAY : c->format == TJPF_CMYK ? TJSAMP_444 : TJSAMP_420;
    int rc = tjCompress2(handle, pixels, c->width, 0, c->height, c->format, &jpeg, &size,
                         subsampling, 95, 0);
    char path[512];
    snprintf(path, sizeof path, "%s/%s.jpg", dir, c->name);
    FILE *f = fopen(path, "wb");
    if (rc == 0 && f) rc = fwrite(jpeg, 1, size, f) == size ? 0 : -1;
    if (f) fclose(f);
    tjFree(jpeg);
    tjDestroy(handle);
    free(pixels);
    return rc == 0 && f ? 0 : -1;
}

static unsigned char *read_bytes(const char *dir, const char *name, const char *suffix, size_t *size)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s.%s", dir, name, suffix);
    uint8_t *data = NULL;
    if (lmn_image_read_file(path, &data, size) != LMN_OK) return NULL;
    return data;
}

static void compare_decode(const char *dir, const jpeg_case *c)
{
    size_t size = 0, reference_size = 0;
    uint8_t *data = read_bytes(dir, c->name, "jpg", &size);
    uint8_t *reference = read_bytes(dir, c->name, "pillow", &reference_size);
    lmn_image image = {0};
    CHECK_OK(lmn_image_decode(c->name, data, size, c->channels, c->scale, &image));
    const size_t count = (size_t)image.width * image.height * image.channels;
    CHECK_MSG(reference && count == reference_size, "%s: %zu decoded bytes vs Pillow's %zu",
              c->name, count, reference_size);
    int worst = 0;
    for (size_t i = 0; reference && count == reference_size && i < count; i++)
        worst = abs(image.pixels[i] - reference[i]) > worst ? abs(image.pixels[i] - reference[i]) : worst;
    CHECK_MSG(worst <= 1, "%s: decode differs from Pillow's by up to %d levels", c->name, worst);
    if (c->scale < 1.0) CHECK(image.width < c->width / 2); /* really downscaled */
    lmn_image_free(&image);
    free(data);
    free(reference);
}

/* The evaluation transform as the image-folder source runs it. */
static void compare_eval(const char *dir, const jpeg_case *c)
{
    size_t size = 0, reference_size = 0;
    uint8_t *data = read_bytes(dir, c->name, "jpg", &size);
    uint8_t *reference = read_bytes(dir, c->name, "pillow_eval", &reference_size);
    const lmn_crop_box box = lmn_center_crop_box(c->width, c->height, c->resize, c->size);
    lmn_image image = {0};
    CHECK_OK(lmn_image_decode(c->name, data, size, c->channels, c->size / fmin(box.width, box.height), &image));
    const size_t count = (size_t)c->size * c->size * c->channels;
    float *out = malloc(sizeof(float) * count);
    CHECK_OK(lmn_image_resample_box(&image, lmn_crop_box_scale(box, image.scale),
                                    c->size, c->size, false, out));
    CHECK_MSG(reference && reference_size == count, "%s: eval sizes differ", c->name);
    double worst = 0.0, total = 0.0;
    for (size_t i = 0; reference && reference_size == count && i < count; i++) {
        /* lamina is planar, Pillow interleaved */
        const size_t pixel = i % ((size_t)c->size * c->size), channel = i / ((size_t)c->size * c->size);
        const double d = fabs(out[i] * 255.0 - reference[pixel * c->channels + channel]);
        worst = fmax(worst, d);
        total += d;
    }
    const bool scaled = image.width < c->width;
    const double mean = total / (double)count;
    printf("%s: eval vs Pillow: max %.2f, mean %.3f levels%s\n", c->name, worst, mean,
           scaled ? " (DCT-scaled decode)" : "");
    CHECK_MSG(scaled ? worst <= 6.0 && mean <= 1.5 : worst <= 2.0, "%s: eval transform differs from "
              "Pillow's by up to %.2f levels (mean %.3f)", c->name, worst, mean);
    lmn_image_free(&image);
    free(out);
    free(data);
    free(reference);
}

int main(void)
{
    char dir[] = "/tmp/lamina-pillow-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    char path[600], command[1400];
    snprintf(path, sizeof path, "%s/cases.txt", dir);
    FILE *cases = fopen(path, "w");
    for (int i = 0; i < CASE_COUNT; i++) {
        CHECK(write_jpeg(dir, &CASES[i]) == 0);
        fprintf(cases, "%s %d %g %d %d\n", CASES[i].name, CASES[i].channels, CASES[i].scale,
                CASES[i].resize, CASES[i].size);
    }
    fclose(cases);
    /* The same file under each decode: the "_as_" cases reuse their source. */
    for (int i = 0; i < CASE_COUNT; i++) {
        const char *as = strstr(CASES[i].name, "_as_");
        if (!as) continue;
        snprintf(command, sizeof command, "cp %s/%.*s.jpg %s/%s.jpg", dir, (int)(as - CASES[i].name),
                 CASES[i].name, dir, CASES[i].name);
        CHECK(system(command) == 0);
    }
    const char *source = getenv("LMN_SOURCE_DIR");
    snprintf(command, sizeof command, "/usr/bin/python3 %s/tests/data/pillow_reference.py %s",
             source ? source : ".", dir);
    const int rc = system(command);
    if (rc != 0 && WEXITSTATUS(rc) == 77) {
        printf("skip: Pillow (python3-pil) is not installed\n");
        return 77;
    }
    CHECK_MSG(rc == 0, "the Pillow reference script failed");
    for (int i = 0; rc == 0 && i < CASE_COUNT; i++) {
        compare_decode(dir, &CASES[i]);
        compare_eval(dir, &CASES[i]);
    }
    snprintf(command, sizeof command, "rm -rf %s", dir);
    if (system(command) != 0) fprintf(stderr, "cannot remove %s\n", dir);
    return lmn_test_summary("test_image_pillow");
}
