/* Decoding JPEG (libjpeg-turbo, TurboJPEG API) and PNG (libpng) files into
 * 8-bit images, for image-folder datasets and `lamina data convert images`.
 *
 * The format is told by the file's first bytes, never by its name, so a PNG
 * named .jpg (ImageNet has one) decodes as what it is.
 *
 * Colour handling, chosen to agree with Pillow's Image.convert("RGB") /
 * convert("L") (what torchvision's ImageFolder does):
 *   - grayscale -> RGB replicates the gray value;
 *   - RGB -> gray is ITU-R 601 luma, (19595 R + 38470 G + 7471 B + 2^15) >> 16;
 *     a colour JPEG decoded to one channel takes its Y plane directly;
 *   - CMYK / YCCK JPEGs: R = (255 - C)(255 - K) / 255 (rounded), likewise G
 *     from M and B from Y, where C, M, Y, K are ink amounts; a file with an
 *     Adobe APP14 marker stores inverted values (Photoshop's convention),
 *     which are turned back into ink amounts first;
 *   - PNG: palettes expanded, 1/2/4-bit gray expanded to 8 bits, alpha and
 *     tRNS transparency dropped (not composited), 16-bit samples reduced
 *     to their high byte (v >> 8).
 *
 * Ownership: lmn_image_decode allocates out->pixels (lmn_free, or
 * lmn_image_free). Every function is safe to call from several threads. */
#ifndef LMN_DATA_IMAGE_CODEC_H
#define LMN_DATA_IMAGE_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

/* Interleaved 8-bit pixels, height rows of width x channels bytes. */
typedef struct lmn_image {
    int width, height, channels;
    uint8_t *pixels;
    double scale; /* the decode's reduction: pixel x covers source [x / scale, (x + 1) / scale) */
} lmn_image;

typedef enum lmn_image_format { LMN_IMAGE_UNKNOWN, LMN_IMAGE_JPEG, LMN_IMAGE_PNG } lmn_image_format;

/* The format told by the first bytes of data. */
lmn_image_format lmn_image_sniff(const uint8_t *data, size_t size);

/* Reads a whole regular file into *data (lmn_free). Errors, naming path:
 * LMN_ERR_IO for a file that cannot be opened or read (errno's text:
 * missing, permission denied, a dangling link), that is not a regular file
 * (a FIFO or directory is never opened for blocking reads), or that is
 * empty. */
lmn_status lmn_image_read_file(const char *path, uint8_t **data, size_t *size);

/* The full-size width and height from the file's header, without
 * decoding. Errors as lmn_image_decode's, for the header only. */
lmn_status lmn_image_probe(const char *path, const uint8_t *data, size_t size, int *width,
                           int *height);

/* Decodes data (the bytes of file `path`, named in messages) into
 * `channels` (1 or 3) interleaved channels. A JPEG is scaled down while
 * decoding (libjpeg-turbo's DCT scaling, factors n/8) by the smallest
 * available factor that is >= min_scale (1 = full size); PNGs are always
 * full size. Errors, each naming the file:
 *   LMN_ERR_FORMAT  neither JPEG nor PNG (the first bytes are shown);
 *                   corrupt data (the codec's message); truncated data;
 *                   an image of more than 2^28 pixels;
 *   LMN_ERR_NOMEM   no memory for the pixels. */
lmn_status lmn_image_decode(const char *path, const uint8_t *data, size_t size, int channels,
                            double min_scale, lmn_image *out);

/* Frees out->pixels and clears *image; NULL is allowed. */
void lmn_image_free(lmn_image *image);

#endif
