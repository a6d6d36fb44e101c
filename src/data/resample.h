/* Image resampling for super-resolution pairs, and PSNR.
 *
 * Pixel centres are aligned the usual way (PyTorch's align_corners=False,
 * PIL, MATLAB imresize): output pixel y of an image scaled by f looks at
 * input coordinate (y + 0.5) / f - 0.5. Images are planar, C x H x W. */
#ifndef LMN_DATA_RESAMPLE_H
#define LMN_DATA_RESAMPLE_H

/* Box downsampling by an integer factor: each output pixel is the mean of
 * its factor x factor input block. height and width must be multiples of
 * factor; out holds C x (H / factor) x (W / factor) floats. */
void lmn_box_downsample(const float *in, int channels, int height, int width, int factor,
                        float *out);

/* Bicubic upsampling by an integer factor with Keys' kernel, a = -0.5 (the
 * kernel of PIL and MATLAB; PyTorch uses -0.75), edge pixels repeated past
 * the border. Values are clamped to [low, high] when low < high (images
 * stored as bytes cannot overshoot); pass low = high to keep them as they
 * are. out holds C x (H * factor) x (W * factor) floats. */
void lmn_bicubic_upsample(const float *in, int channels, int height, int width, int factor,
                          float low, float high, float *out);

/* Nearest-neighbour upsampling (each pixel repeated factor x factor times). */
void lmn_nearest_upsample(const float *in, int channels, int height, int width, int factor,
                          float *out);

/* Peak signal-to-noise ratio in dB of a mean squared error against images
 * whose values span `peak`: 10 log10(peak^2 / mse). An error below
 * peak^2 * 1e-10 counts as that floor, so a perfect image scores 100 dB
 * instead of infinity and averages stay finite. */
double lmn_psnr_db(double mse, double peak);

/* Mean of (a_i - b_i)^2 over count values, summed in order (deterministic). */
double lmn_mean_squared_error(const float *a, const float *b, long count);

#endif
