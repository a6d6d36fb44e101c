/* See conv_wgrad_bf16.h. The packed tensors hold bf16 pairs (image 2p,
 * image 2p+1) as 32-bit words:
 *   x:  [pair][padded row][padded column][channel]  (zero padding included)
 *   dy: [pair][16-channel block][row][column][16 channels]
 * so one dy load (16 output channels of one pixel) meets a broadcast x
 * word (one input channel at the window offset) in each vdpbf16ps. A
 * register block holds 3 kernel columns x 8 input channels (24 sums of 16
 * output channels). Each thread packs and sums its own pairs, one pair
 * at a time (the packed pair stays in the core's cache), then the
 * threads' sums are added in thread order. */
#include "kernels/conv_wgrad_bf16.h"

#include <immintrin.h>
#include <omp.h>
#include <string.h>

#include "core/bf16.h"

#define BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

enum { LANES = 16, IC_BLOCK = 8, KW_BLOCK = 3, WORDS_PER_LINE = 16 };

typedef struct wgrad_sizes {
    int pairs, hp, wp, ocb, ic_chunks, kw_blocks;
    /* one thread's share of the workspace: one pair packed, and its sums */
    size_t x_words, dy_words, acc_floats;
} wgrad_sizes;

static int max_int(int a, int b) { return a > b ? a : b; }
static size_t round_to_line(size_t words)
{
    return (words + WORDS_PER_LINE - 1) / WORDS_PER_LINE * WORDS_PER_LINE;
}

/* The padded x covers every row and column a window reads. */
static wgrad_sizes sizes_of(const lmn_wgrad_bf16_shape *s)
{
    wgrad_sizes z;
    z.pairs = (s->n + 1) / 2;
    z.hp = max_int(s->ph + s->h, (s->oh - 1) * s->sh + s->kh);
    z.wp = max_int(s->pw + s->w, (s->ow - 1) * s->sw + s->kw);
    z.ocb = s->oc / LANES;
    z.ic_chunks = s->c / IC_BLOCK;
    z.kw_blocks = (s->kw + KW_BLOCK - 1) / KW_BLOCK;
    z.x_words = round_to_line((size_t)z.hp * z.wp * s->c);
    z.dy_words = round_to_line((size_t)s->oc * s->oh * s->ow);
    z.acc_floats = (size_t)z.ocb * s->kh * z.kw_blocks * z.ic_chunks * KW_BLOCK * IC_BLOCK * LANES;
    return z;
}

bool lmn_wgrad_bf16_fits(const lmn_wgrad_bf16_shape *s)
{
    if (s->n < 1 || s->c < LANES || s->oc < LANES || s->c % LANES || s->oc % LANES) return false;
    if (s->h < 1 || s->w < 1 || s->kh < 1 || s->kw < 1 || s->sh < 1 || s->sw < 1) return false;
    if (s->ph < 0 || s->pw < 0 || s->h + 2 * s->ph < s->kh || s->w + 2 * s->pw < s->kw)
        return false;
    return s->oh == (s->h + 2 * s->ph - s->kh) / s->sh + 1 &&
           s->ow == (s->w + 2 * s->pw - s->kw) / s->sw + 1;
}

size_t lmn_wgrad_bf16_workspace_bytes(const lmn_wgrad_bf16_shape *s, int threads)
{
    const wgrad_sizes z = sizes_of(s);
    return (z.x_words + z.dy_words + z.acc_floats) * (size_t)max_int(threads, 1) * 4;
}

/* 16 bf16 of image a and of image b (zeros when b is NULL) as 16 pairs. */
BF16_TARGET static void interleave16(const uint16_t *a, const uint16_t *b, uint32_t *out)
{
    const __m256i va = _mm256_loadu_si256((const __m256i *)a);
    const __m256i vb = b ? _mm256_loadu_si256((const __m256i *)b) : _mm256_setzero_si256();
    /* unpack works within 128-bit halves: lo = pairs 0-3 | 8-11, hi = 4-7 | 12-15 */
    const __m256i lo = _mm256_unpacklo_epi16(va, vb), hi = _mm256_unpackhi_epi16(va, vb);
    _mm256_storeu_si256((__m256i *)out, _mm256_permute2x128_si256(lo, hi, 0x20));
    _mm256_storeu_si256((__m256i *)(out + 8), _mm256_permute2x128_si256(lo, hi, 0x31));
}

/* One pair of images of x, zero padding included, into xp. */
BF16_TARGET static void pack_x(const lmn_wgrad_bf16_shape *s, const wgrad_sizes *z,
                               const uint16_t *x, int pair, uint32_t *xp)
{
    const size_t image = (size_t)s->c * s->h * s->w, row_words = (size_t)z->wp * s->c;
    const size_t left = (size_t)s->pw * s->c, used = (size_t)s->w * s->c;
    const uint16_t *a = x + (size_t)(2 * pair) * image;
    const uint16_t *b = 2 * pair + 1 < s->n ? a + image : NULL;
    for (int r = 0; r < z->hp; r++) {
        uint32_t *row = xp + (size_t)r * row_words;
        const int h = r - s->ph;
        if (h < 0 || h >= s->h) {
            memset(row, 0, row_words * 4);
            continue;
        }
        memset(row, 0, left * 4);
        memset(row + left + used, 0, (row_words - left - used) * 4);
        for (int cb = 0; cb < s->c / LANES; cb++) {
            const size_t in = ((size_t)cb * s->h + h) * s->w * LANES;
            uint32_t *out = row + left + (size_t)cb * LANES;
            for (int w = 0; w < s->w; w++)
                interleave16(a + in + (size_t)w * LANES, b ? b + in + (size_t)w * LANES : NULL,
                             out + (size_t)w * s->c);
        }
    }
}

/* One pair of images of dy into dyp. */
BF16_TARGET static void pack_dy(const lmn_wgrad_bf16_shape *s, const uint16_t *dy, int pair,
                                uint32_t *dyp)
{
    const size_t image = (size_t)s->oc * s->oh * s->ow;
    const uint16_t *a = dy + (size_t)(2 * pair) * image;
    const uint16_t *b = 2 * pair + 1 < s->n ? a + image : NULL;
    for (size_t i = 0; i < image; i += LANES) interleave16(a + i, b ? b + i : NULL, dyp + i);
}

/* Where the packed rows of one (pair, output block, kernel row, column
 * block, input chunk) start, and how to step through them. */
typedef struct wgrad_rows {
    const uint32_t *dy, *x;
    int oh, ow;
    size_t x_row_step, x_col_step, x_kw_step; /* in words */
} wgrad_rows;

/* acc[kwb][IC_BLOCK][16] += the window sums over every output pixel. */
BF16_TARGET static inline __attribute__((always_inline)) void dot_rows(const wgrad_rows *r,
                                                                       float *acc, const int kwb)
{
    __m512 sum[KW_BLOCK][IC_BLOCK];
#pragma GCC unroll 3
    for (int k = 0; k < kwb; k++)
#pragma GCC unroll 8
        for (int i = 0; i < IC_BLOCK; i++) sum[k][i] = _mm512_loadu_ps(acc + (k * IC_BLOCK + i) * LANES);
    for (int oh = 0; oh < r->oh; oh++) {
        const uint32_t *dy_row = r->dy + (size_t)oh * r->ow * LANES;
        const int32_t *x_row = (const int32_t *)r->x + (size_t)oh * r->x_row_step;
        for (int ow = 0; ow < r->ow; ow++) {
            const __m512bh g = (__m512bh)_mm512_loadu_si512(dy_row + (size_t)ow * LANES);
            const int32_t *px = x_row + (size_t)ow * r->x_col_step;
#pragma GCC unroll 3
            for (int k = 0; k < kwb; k++)
#pragma GCC unroll 8
                for (int i = 0; i < IC_BLOCK; i++)
                    sum[k][i] = _mm512_dpbf16_ps(sum[k][i], g,
                                                 (__m512bh)_mm512_set1_epi32(px[k * r->x_kw_step + i]));
        }
    }
#pragma GCC unroll 3
    for (int k = 0; k < kwb; k++)
#pragma GCC unroll 8
        for (int i = 0; i < IC_BLOCK; i++) _mm512_storeu_ps(acc + (k * IC_BLOCK + i) * LANES, sum[k][i]);
}

BF16_TARGET static void dot_rows_block(const wgrad_rows *r, float *acc, int kwb)
{
    switch (kwb) {
    case 1: dot_rows(r, acc, 1); break;
    case 2: dot_rows(r, acc, 2); break;
    default: dot_rows(r, acc, KW_BLOCK); break;
    }
}

static size_t acc_offset(const lmn_wgrad_bf16_shape *s, const wgrad_sizes *z, int ob, int kh,
                         int kb, int chunk)
{
    return ((((size_t)ob * s->kh + kh) * z->kw_blocks + kb) * z->ic_chunks + chunk) * KW_BLOCK *
           IC_BLOCK * LANES;
}

/* acc += the sums of one packed pair. */
static void accumulate_pair(const lmn_wgrad_bf16_shape *s, const wgrad_sizes *z,
                            const uint32_t *xp, const uint32_t *dyp, float *acc)
{
    const size_t plane = (size_t)s->oh * s->ow * LANES;
    for (int ob = 0; ob < z->ocb; ob++)
        for (int kh = 0; kh < s->kh; kh++)
            for (int kb = 0; kb < z->kw_blocks; kb++)
                for (int chunk = 0; chunk < z->ic_chunks; chunk++) {
                    const size_t x_at = ((size_t)kh * z->wp + kb * KW_BLOCK) * s->c;
                    const wgrad_rows rows = {
                        .dy = dyp + (size_t)ob * plane,
                        .x = xp + x_at + (size_t)chunk * IC_BLOCK,
                        .oh = s->oh,
                        .ow = s->ow,
                        .x_row_step = (size_t)s->sh * z->wp * s->c,
                        .x_col_step = (size_t)s->sw * s->c,
                        .x_kw_step = (size_t)s->c,
                    };
                    const int kwb = s->kw - kb * KW_BLOCK < KW_BLOCK ? s->kw - kb * KW_BLOCK : KW_BLOCK;
                    dot_rows_block(&rows, acc + acc_offset(s, z, ob, kh, kb, chunk), kwb);
                }
}

/* dw[oc][ic][y][x] = the threads' sums, added in thread order, one
 * register block (3 kernel columns x 8 inputs x 16 outputs) at a time. */
static void reduce_to_oihw(const lmn_wgrad_bf16_shape *s, const wgrad_sizes *z, const float *acc,
                           size_t stride, int team, float *dw)
{
    enum { BLOCK = KW_BLOCK * IC_BLOCK * LANES };
#pragma omp for collapse(4) schedule(static)
    for (int ob = 0; ob < z->ocb; ob++) {
        for (int y = 0; y < s->kh; y++) {
            for (int kb = 0; kb < z->kw_blocks; kb++) {
                for (int chunk = 0; chunk < z->ic_chunks; chunk++) {
                    const float *first = acc + acc_offset(s, z, ob, y, kb, chunk);
                    float total[BLOCK];
                    memcpy(total, first, sizeof total);
                    for (int t = 1; t < team; t++)
                        for (int e = 0; e < BLOCK; e++) total[e] += first[(size_t)t * stride + e];
                    const int columns = s->kw - kb * KW_BLOCK < KW_BLOCK ? s->kw - kb * KW_BLOCK : KW_BLOCK;
                    for (int k = 0; k < columns; k++)
                        for (int i = 0; i < IC_BLOCK; i++)
                            for (int o = 0; o < LANES; o++) {
                                const size_t oc = (size_t)ob * LANES + o, ic = (size_t)chunk * IC_BLOCK + i;
                                dw[((oc * s->c + ic) * s->kh + y) * s->kw + kb * KW_BLOCK + k] =
                                    total[(k * IC_BLOCK + i) * LANES + o];
                            }
                }
            }
        }
    }
}

/* db[oc]: the sum of dy over images and pixels, images in order. */
static void bias_gradient(const lmn_wgrad_bf16_shape *s, const uint16_t *dy, float *db,
                          int threads)
{
    const int blocks = s->oc / LANES;
    const size_t plane = (size_t)s->oh * s->ow * LANES;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int ob = 0; ob < blocks; ob++) {
        float sum[LANES] = {0};
        for (int n = 0; n < s->n; n++) {
            const uint16_t *g = dy + ((size_t)n * blocks + ob) * plane;
            for (size_t i = 0; i < plane; i += LANES)
                for (int o = 0; o < LANES; o++) sum[o] += lmn_bf16_to_float(g[i + o]);
        }
        memcpy(db + (size_t)ob * LANES, sum, sizeof sum);
    }
}

void lmn_wgrad_bf16(const lmn_wgrad_bf16_shape *s, const uint16_t *x, const uint16_t *dy,
                    float *dw, float *db, void *workspace, int threads)
{
    const wgrad_sizes z = sizes_of(s);
    const size_t share = z.x_words + z.dy_words + z.acc_floats;
    uint32_t *words = workspace;
#pragma omp parallel num_threads(max_int(threads, 1))
    {
        const int t = omp_get_thread_num(), team = omp_get_num_threads();
        uint32_t *xp = words + (size_t)t * share, *dyp = xp + z.x_words;
        float *mine = (float *)(dyp + z.dy_words);
        memset(mine, 0, z.acc_floats * sizeof *mine);
        const int first = (int)((long)z.pairs * t / team), last = (int)((long)z.pairs * (t + 1) / team);
        for (int pair = first; pair < last; pair++) {
            pack_x(s, &z, x, pair, xp);
            pack_dy(s, dy, pair, dyp);
            accumulate_pair(s, &z, xp, dyp, mine);
        }
#pragma omp barrier
        reduce_to_oihw(s, &z, (const float *)(words + z.x_words + z.dy_words), share, team, dw);
    }
    if (db) bias_gradient(s, dy, db, threads);
}
