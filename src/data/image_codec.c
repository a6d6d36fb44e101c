#include "data/image_codec.h"

#include <errno.h>
#include <fcntl.h>
#include <png.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <turbojpeg.h>
#include <unistd.h>

#include "core/memory.h"

/* Larger images are refused rather than risking an allocation of many GB
 * from a forged header. */
static const int64_t MAX_PIXELS = (int64_t)1 << 28;
static const char SKIP_HINT[] = "(set data.skip_bad_files: true to skip such files)";

lmn_image_format lmn_image_sniff(const uint8_t *data, size_t size)
{
    static const uint8_t png_signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (size >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff) return LMN_IMAGE_JPEG;
    if (size >= 8 && memcmp(data, png_signature, 8) == 0) return LMN_IMAGE_PNG;
    return LMN_IMAGE_UNKNOWN;
}

void lmn_image_free(lmn_image *image)
{
    if (!image) return;
    free(image->pixels);
    *image = (lmn_image){0};
}

static lmn_status read_all(int fd, const char *path, uint8_t *data, size_t size)
{
    size_t done = 0;
    while (done < size) {
        const ssize_t got = read(fd, data + done, size - done);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0)
            return lmn_fail(LMN_ERR_IO, "cannot read image file '%s': %s", path, strerror(errno));
        if (got == 0)
            return lmn_fail(LMN_ERR_IO, "image file '%s' shrank while being read (%zu of %zu "
                            "bytes)", path, done, size);
        done += (size_t)got;
    }
    return LMN_OK;
}

lmn_status lmn_image_read_file(const char *path, uint8_t **data, size_t *size)
{
    *data = NULL;
    *size = 0;
    /* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer. */
    const int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return lmn_fail(LMN_ERR_IO, "cannot read image file '%s': %s %s", path, strerror(errno),
                        SKIP_HINT);
    struct stat info;
    lmn_status status = LMN_OK;
    if (fstat(fd, &info) != 0)
        status = lmn_fail(LMN_ERR_IO, "cannot read image file '%s': %s", path, strerror(errno));
    else if (!S_ISREG(info.st_mode))
        status = lmn_fail(LMN_ERR_IO, "image file '%s' is not a regular file %s", path, SKIP_HINT);
    else if (info.st_size == 0)
        status = lmn_fail(LMN_ERR_FORMAT, "image file '%s' is empty (0 bytes) %s", path, SKIP_HINT);
    if (status == LMN_OK) {
        *size = (size_t)info.st_size;
        *data = malloc(*size);
        status = *data ? read_all(fd, path, *data, *size)
                       : lmn_fail(LMN_ERR_NOMEM, "cannot allocate %zu bytes to read '%s'", *size,
                                  path);
    }
    close(fd);
    if (status != LMN_OK) {
        free(*data);
        *data = NULL;
        *size = 0;
    }
    return status;
}

static lmn_status fail_unknown(const char *path, const uint8_t *data, size_t size)
{
    char first[3 * 8 + 1] = "";
    for (size_t i = 0; i < size && i < 8; i++)
        snprintf(first + 3 * i, sizeof first - 3 * i, "%02x ", data[i]);
    return lmn_fail(LMN_ERR_FORMAT, "image file '%s' is neither JPEG nor PNG (it starts with "
                    "bytes %s) %s", path, first, SKIP_HINT);
}

static lmn_status check_pixels(const char *path, int width, int height)
{
    if (width < 1 || height < 1 || (int64_t)width * height > MAX_PIXELS)
        return lmn_fail(LMN_ERR_FORMAT, "image file '%s' claims %d x %d pixels: need 1 to 2^28 "
                        "pixels %s", path, width, height, SKIP_HINT);
    return LMN_OK;
}

/* ---- colour conversions shared by both formats ---- */

static uint8_t luma(const uint8_t *rgb)
{
    return (uint8_t)((19595u * rgb[0] + 38470u * rgb[1] + 7471u * rgb[2] + 0x8000u) >> 16);
}

/* Converts `count` pixels of from_channels (1 or 3) into to_channels. */
static void convert_channels(const uint8_t *in, int from_channels, uint8_t *out, int to_channels,
                             size_t count)
{
    for (size_t i = 0; i < count; i++) {
        const uint8_t *p = in + i * (size_t)from_channels;
        uint8_t *q = out + i * (size_t)to_channels;
        if (to_channels == 1) q[0] = from_channels == 1 ? p[0] : luma(p);
        else for (int c = 0; c < 3; c++) q[c] = from_channels == 1 ? p[0] : p[c];
    }
}

static uint8_t ink_to_light(uint8_t ink, uint8_t black)
{
    const unsigned light = (255u - ink) * (255u - black);
    return (uint8_t)((light + 127u) / 255u);
}

static void cmyk_to_channels(const uint8_t *cmyk, bool inverted, uint8_t *out, int channels,
                             size_t count)
{
    for (size_t i = 0; i < count; i++) {
        uint8_t ink[4];
        for (int c = 0; c < 4; c++) ink[c] = inverted ? (uint8_t)(255 - cmyk[4 * i + c]) : cmyk[4 * i + c];
        const uint8_t rgb[3] = {ink_to_light(ink[0], ink[3]), ink_to_light(ink[1], ink[3]),
                                ink_to_light(ink[2], ink[3])};
        convert_channels(rgb, 3, out + i * (size_t)channels, channels, 1);
    }
}

static lmn_status allocate_image(const char *path, int width, int height, int channels,
                                 lmn_image *out)
{
    out->pixels = malloc((size_t)width * (size_t)height * (size_t)channels);
    if (!out->pixels)
        return lmn_fail(LMN_ERR_NOMEM, "cannot allocate %d x %d x %d pixels to decode '%s'", width,
                        height, channels, path);
    out->width = width;
    out->height = height;
    out->channels = channels;
    out->scale = 1.0;
    return LMN_OK;
}

/* ---- JPEG ---- */

/* Whether the markers before the first scan include Adobe's APP14, whose
 * presence means CMYK values are stored inverted. */
static bool has_adobe_marker(const uint8_t *data, size_t size)
{
    size_t at = 2;
    while (at + 4 <= size && data[at] == 0xff) {
        const uint8_t marker = data[at + 1];
        if (marker == 0xff) { at++; continue; } /* fill byte */
        if (marker == 0xda || marker == 0xd9) return false;
        const size_t length = ((size_t)data[at + 2] << 8) | data[at + 3];
        if (marker == 0xee && length >= 7 && at + 9 <= size && memcmp(data + at + 4, "Adobe", 5) == 0)
            return true;
        at += 2 + length;
    }
    return false;
}

static lmn_status jpeg_failure(tjhandle handle, const char *path)
{
    const char *message = tjGetErrorStr2(handle);
    if (strstr(message, "Premature end"))
        return lmn_fail(LMN_ERR_FORMAT, "image file '%s' is truncated (the JPEG data ends early) "
                        "%s", path, SKIP_HINT);
    return lmn_fail(LMN_ERR_FORMAT, "image file '%s' is not a valid JPEG (corrupt data: %s) %s",
                    path, message, SKIP_HINT);
}

typedef struct jpeg_header {
    int width, height, subsampling, colorspace;
} jpeg_header;

static lmn_status read_jpeg_header(tjhandle handle, const char *path, const uint8_t *data,
                                   size_t size, jpeg_header *h)
{
    if (tjDecompressHeader3(handle, data, (unsigned long)size, &h->width, &h->height,
                            &h->subsampling, &h->colorspace) != 0)
        return jpeg_failure(handle, path);
    /* libjpeg pads a stream that ends inside the header with a fake end
     * marker and reports success with no size. */
    if (h->width < 1 || h->height < 1)
        return lmn_fail(LMN_ERR_FORMAT, "image file '%s' is truncated (the JPEG data ends inside "
                        "the header) %s", path, SKIP_HINT);
    return check_pixels(path, h->width, h->height);
}

/* The smallest of libjpeg-turbo's factors (<= 1) that is >= min_scale. */
static tjscalingfactor choose_scaling(double min_scale)
{
    int count = 0;
    const tjscalingfactor *factors = tjGetScalingFactors(&count);
    tjscalingfactor best = {1, 1};
    for (int i = 0; factors && i < count; i++) {
        const double value = (double)factors[i].num / factors[i].denom;
        if (value <= 1.0 && value >= min_scale && value < (double)best.num / best.denom)
            best = factors[i];
    }
    return best;
}

/* Whether a libjpeg warning means the pixels are garbage: damaged entropy
 * data ("Corrupt JPEG data: bad Huffman code", ...) or a premature end.
 * Stray bytes between markers are harmless (common in camera files and
 * ImageNet) and accepted, as are warnings about metadata. */
static bool warning_spoils_pixels(const char *message)
{
    if (strstr(message, "Premature end")) return true;
    return strstr(message, "Corrupt JPEG data") && !strstr(message, "extraneous bytes");
}

/* Decodes into `format` pixels of scaled size: a truncated or damaged
 * file is an error, never a gray-filled image. */
static lmn_status decompress(tjhandle handle, const char *path, const uint8_t *data, size_t size,
                             int width, int height, int format, uint8_t *pixels)
{
    if (tjDecompress2(handle, data, (unsigned long)size, pixels, width, 0, height, format, 0) == 0)
        return LMN_OK;
    if (tjGetErrorCode(handle) == TJERR_WARNING && !warning_spoils_pixels(tjGetErrorStr2(handle)))
        return LMN_OK;
    return jpeg_failure(handle, path);
}

static lmn_status decode_jpeg_with(tjhandle handle, const char *path, const uint8_t *data,
                                   size_t size, int channels, double min_scale, lmn_image *out)
{
    jpeg_header h;
    LMN_TRY(read_jpeg_header(handle, path, data, size, &h));
    const tjscalingfactor factor = choose_scaling(min_scale);
    const int width = TJSCALED(h.width, factor), height = TJSCALED(h.height, factor);
    LMN_TRY(allocate_image(path, width, height, channels, out));
    out->scale = (double)factor.num / factor.denom;
    const bool cmyk = h.colorspace == TJCS_CMYK || h.colorspace == TJCS_YCCK;
    if (!cmyk)
        return decompress(handle, path, data, size, width, height,
                          channels == 1 ? TJPF_GRAY : TJPF_RGB, out->pixels);
    const size_t count = (size_t)width * (size_t)height;
    uint8_t *raw = malloc(count * 4);
    if (!raw) return lmn_fail(LMN_ERR_NOMEM, "cannot allocate CMYK pixels to decode '%s'", path);
    const lmn_status status = decompress(handle, path, data, size, width, height, TJPF_CMYK, raw);
    if (status == LMN_OK)
        cmyk_to_channels(raw, has_adobe_marker(data, size), out->pixels, channels, count);
    free(raw);
    return status;
}

static lmn_status with_decompressor(const char *path, tjhandle *handle)
{
    *handle = tjInitDecompress();
    if (!*handle)
        return lmn_fail(LMN_ERR_NOMEM, "cannot start a JPEG decoder for '%s': %s", path,
                        tjGetErrorStr2(NULL));
    return LMN_OK;
}

/* ---- PNG ---- */

typedef struct png_input {
    const char *path;
    const uint8_t *data;
    size_t size, offset;
    char message[256];
} png_input;

static void on_png_error(png_structp png, png_const_charp message)
{
    png_input *input = png_get_error_ptr(png);
    snprintf(input->message, sizeof input->message, "%s", message);
    png_longjmp(png, 1);
}

static void on_png_warning(png_structp png, png_const_charp message) { (void)png, (void)message; }

static void read_png_bytes(png_structp png, png_bytep out, size_t count)
{
    png_input *input = png_get_io_ptr(png);
    if (count > input->size - input->offset) png_error(png, "truncated");
    memcpy(out, input->data + input->offset, count);
    input->offset += count;
}

/* Everything the PNG decoder allocates, owned by the caller of the
 * function that calls setjmp, so nothing it holds is indeterminate after
 * a longjmp. */
typedef struct png_session {
    png_structp png;
    png_infop info;
    png_input input;
    uint8_t *decoded; /* 1 or 3 channels as libpng delivers them */
    png_bytep *rows;
    int width, height, channels;
} png_session;

/* Asks libpng for 8-bit gray or RGB, whatever the file stores. */
static void request_8bit_gray_or_rgb(png_structp png, png_infop info)
{
    const int color = png_get_color_type(png, info);
    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY && png_get_bit_depth(png, info) < 8)
        png_set_expand_gray_1_2_4_to_8(png);
    if (png_get_bit_depth(png, info) == 16) png_set_strip_16(png);
    if (color & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
}

/* Runs under setjmp: libpng reports errors by longjmp to it. */
static void read_png_rows(png_session *s)
{
    png_set_read_fn(s->png, &s->input, read_png_bytes);
    png_read_info(s->png, s->info);
    s->width = (int)png_get_image_width(s->png, s->info);
    s->height = (int)png_get_image_height(s->png, s->info);
    if (check_pixels(s->input.path, s->width, s->height) != LMN_OK)
        png_error(s->png, "too many pixels");
    request_8bit_gray_or_rgb(s->png, s->info);
    s->channels = png_get_channels(s->png, s->info);
    const size_t row_bytes = png_get_rowbytes(s->png, s->info);
    if (row_bytes != (size_t)s->width * (size_t)s->channels || (s->channels != 1 && s->channels != 3))
        png_error(s->png, "unexpected layout after conversion");
    s->decoded = malloc(row_bytes * (size_t)s->height);
    s->rows = malloc(sizeof *s->rows * (size_t)s->height);
    if (!s->decoded || !s->rows) png_error(s->png, "out of memory");
    for (int y = 0; y < s->height; y++) s->rows[y] = s->decoded + row_bytes * (size_t)y;
    png_read_image(s->png, s->rows);
    png_read_end(s->png, NULL);
}

static bool run_png(png_session *s)
{
    if (setjmp(png_jmpbuf(s->png))) return false;
    read_png_rows(s);
    return true;
}

static lmn_status png_failure(const png_session *s)
{
    const char *path = s->input.path;
    if (strcmp(s->input.message, "truncated") == 0)
        return lmn_fail(LMN_ERR_FORMAT, "image file '%s' is truncated (the PNG data ends early) "
                        "%s", path, SKIP_HINT);
    if (strcmp(s->input.message, "too many pixels") == 0)
        return check_pixels(path, s->width, s->height);
    return lmn_fail(LMN_ERR_FORMAT, "image file '%s' is not a valid PNG (corrupt data: %s) %s",
                    path, s->input.message, SKIP_HINT);
}

static lmn_status decode_png(const char *path, const uint8_t *data, size_t size, int channels,
                             lmn_image *out)
{
    png_session s = {.input = {.path = path, .data = data, .size = size}};
    s.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &s.input, on_png_error, on_png_warning);
    s.info = s.png ? png_create_info_struct(s.png) : NULL;
    lmn_status status = s.info ? LMN_OK
                               : lmn_fail(LMN_ERR_NOMEM, "cannot start a PNG decoder for '%s'", path);
    if (status == LMN_OK && !run_png(&s)) status = png_failure(&s);
    if (status == LMN_OK) status = allocate_image(path, s.width, s.height, channels, out);
    if (status == LMN_OK)
        convert_channels(s.decoded, s.channels, out->pixels, channels,
                         (size_t)s.width * (size_t)s.height);
    png_destroy_read_struct(s.png ? &s.png : NULL, s.info ? &s.info : NULL, NULL);
    free(s.decoded);
    free(s.rows);
    return status;
}

/* The PNG header's size: IHDR is always the first chunk. */
static lmn_status probe_png(const char *path, const uint8_t *data, size_t size, int *width,
                            int *height)
{
    if (size < 24 || memcmp(data + 12, "IHDR", 4) != 0)
        return lmn_fail(LMN_ERR_FORMAT, "image file '%s' is not a valid PNG (no IHDR header) %s",
                        path, SKIP_HINT);
    const uint8_t *p = data + 16;
    const uint32_t w = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    const uint32_t h = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];
    *width = w > (uint32_t)INT32_MAX ? 0 : (int)w;
    *height = h > (uint32_t)INT32_MAX ? 0 : (int)h;
    return check_pixels(path, *width, *height);
}

lmn_status lmn_image_probe(const char *path, const uint8_t *data, size_t size, int *width,
                           int *height)
{
    const lmn_image_format format = lmn_image_sniff(data, size);
    if (format == LMN_IMAGE_PNG) return probe_png(path, data, size, width, height);
    if (format != LMN_IMAGE_JPEG) return fail_unknown(path, data, size);
    tjhandle handle;
    LMN_TRY(with_decompressor(path, &handle));
    jpeg_header h = {0};
    const lmn_status status = read_jpeg_header(handle, path, data, size, &h);
    tjDestroy(handle);
    *width = h.width;
    *height = h.height;
    return status;
}

lmn_status lmn_image_decode(const char *path, const uint8_t *data, size_t size, int channels,
                            double min_scale, lmn_image *out)
{
    *out = (lmn_image){0};
    if (channels != 1 && channels != 3)
        return lmn_fail(LMN_ERR_ARG, "decode '%s' into %d channels: use 1 or 3", path, channels);
    const lmn_image_format format = lmn_image_sniff(data, size);
    lmn_status status;
    if (format == LMN_IMAGE_PNG) {
        status = decode_png(path, data, size, channels, out);
    } else if (format == LMN_IMAGE_JPEG) {
        tjhandle handle;
        LMN_TRY(with_decompressor(path, &handle));
        status = decode_jpeg_with(handle, path, data, size, channels, min_scale, out);
        tjDestroy(handle);
    } else {
        status = fail_unknown(path, data, size);
    }
    if (status != LMN_OK) lmn_image_free(out);
    return status;
}
