#include "data/resample.h"

#include <math.h>

void lmn_box_downsample(const float *in, int channels, int height, int width, int factor,
                        float *out)
{
    const int out_h = height / factor, out_w = width / factor;
    const float scale = 1.0f / (float)(factor * factor);
    for (int c = 0; c < channels; c++) {
        const float *plane = in + (long)c * height * width;
        float *out_plane = out + (long)c * out_h * out_w;
        for (int y = 0; y < out_h; y++)
            for (int x = 0; x < out_w; x++) {
                float sum = 0.0f;
                for (int dy = 0; dy < factor; dy++)
                    for (int dx = 0; dx < factor; dx++)
                        sum += plane[(long)(y * factor + dy) * width + x * factor + dx];
                out_plane[(long)y * out_w + x] = sum * scale;
            }
    }
}

/* Keys' cubic convolution kernel with a = -0.5. */
static float cubic(float x)
{
    const float a = -0.5f;
    x = fabsf(x);
    if (x <= 1.0f) return ((a + 2.0f) * x - (a + 3.0f)) * x * x + 1.0f;
    if (x < 2.0f) return ((a * x - 5.0f * a) * x + 8.0f * a) * x - 4.0f * a;
    return 0.0f;
}

/* The four input positions (clamped to the image) and weights that output
 * coordinate `o` of an axis scaled by factor draws from. */
static void cubic_taps(int o, int factor, int size, int index[4], float weight[4])
{
    const float source = ((float)o + 0.5f) / (float)factor - 0.5f;
    const int base = (int)floorf(source);
    const float t = source - (float)base;
    for (int k = 0; k < 4; k++) {
        int at = base - 1 + k;
        index[k] = at < 0 ? 0 : (at >= size ? size - 1 : at);
        weight[k] = cubic(t - (float)(k - 1));
    }
}

void lmn_bicubic_upsample(const float *in, int channels, int height, int width, int factor,
                          float low, float high, float *out)
{
    const int out_h = height * factor, out_w = width * factor;
    for (int c = 0; c < channels; c++) {
        const float *plane = in + (long)c * height * width;
        float *out_plane = out + (long)c * out_h * out_w;
        for (int y = 0; y < out_h; y++) {
            int rows[4], cols[4];
            float wy[4], wx[4];
            cubic_taps(y, factor, height, rows, wy);
            for (int x = 0; x < out_w; x++) {
                cubic_taps(x, factor, width, cols, wx);
                float value = 0.0f;
                for (int i = 0; i < 4; i++) {
                    const float *row = plane + (long)rows[i] * width;
                    float line = 0.0f;
                    for (int j = 0; j < 4; j++) line += wx[j] * row[cols[j]];
                    value += wy[i] * line;
                }
                if (low < high) value = value < low ? low : (value > high ? high : value);
                out_plane[(long)y * out_w + x] = value;
            }
        }
    }
}

void lmn_nearest_upsample(const float *in, int channels, int height, int width, int factor,
                          float *out)
{
    const int out_h = height * factor, out_w = width * factor;
    for (int c = 0; c < channels; c++)
        for (int y = 0; y < out_h; y++)
            for (int x = 0; x < out_w; x++)
                out[((long)c * out_h + y) * out_w + x] =
                    in[((long)c * height + y / factor) * width + x / factor];
}

double lmn_psnr_db(double mse, double peak)
{
    const double floor = peak * peak * 1e-10;
    return 10.0 * log10(peak * peak / (mse > floor ? mse : floor));
}

double lmn_mean_squared_error(const float *a, const float *b, long count)
{
    double sum = 0.0;
    for (long i = 0; i < count; i++) {
        const double d = (double)a[i] - (double)b[i];
        sum += d * d;
    }
    return count > 0 ? sum / (double)count : 0.0;
}
