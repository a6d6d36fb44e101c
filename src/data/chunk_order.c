#include "data/chunk_order.h"

#include "core/memory.h"
#include "core/rng.h"

/* Separate the chunk-order streams from the others under the same seed. */
static const uint64_t CHUNK_ORDER_TAG = 0x63686b6full;  /* "chko" */
static const uint64_t BUFFER_ORDER_TAG = 0x62756673ull; /* "bufs" */

int64_t lmn_chunk_count(const lmn_chunk_layout *layout)
{
    return (layout->count + layout->chunk_rows - 1) / layout->chunk_rows;
}

/* Rank r's stream of rows into stream; returns its length. chunks is
 * scratch for ceil(chunks / ranks) entries. */
static int64_t build_stream(const lmn_chunk_layout *layout, int rank, uint64_t seed,
                            uint64_t epoch, bool shuffle, uint32_t *chunks, uint32_t *stream)
{
    const int64_t total_chunks = lmn_chunk_count(layout);
    int64_t owned = 0;
    for (int64_t c = rank; c < total_chunks; c += layout->ranks) chunks[owned++] = (uint32_t)c;
    const uint64_t rank_stream = lmn_rng_stream_id(lmn_rng_stream_id(CHUNK_ORDER_TAG, epoch),
                                                   (uint64_t)rank);
    lmn_rng rng = lmn_rng_make(seed, rank_stream);
    if (shuffle) lmn_rng_shuffle(&rng, chunks, (size_t)owned);
    int64_t length = 0;
    for (int64_t first = 0, buffer = 0; first < owned; first += layout->chunks_per_buffer, buffer++) {
        const int64_t buffer_start = length;
        for (int64_t k = first; k < owned && k < first + layout->chunks_per_buffer; k++) {
            const int64_t row = (int64_t)chunks[k] * layout->chunk_rows;
            const int64_t end = row + layout->chunk_rows < layout->count ? row + layout->chunk_rows
                                                                         : layout->count;
            for (int64_t i = row; i < end; i++) stream[length++] = (uint32_t)i;
        }
        lmn_rng within = lmn_rng_make(
            seed, lmn_rng_stream_id(lmn_rng_stream_id(BUFFER_ORDER_TAG, rank_stream), (uint64_t)buffer));
        if (shuffle) lmn_rng_shuffle(&within, stream + buffer_start, (size_t)(length - buffer_start));
    }
    return length;
}

/* Streams of all ranks back to back; begin[r] .. end[r] is rank r's rest. */
typedef struct streams {
    uint32_t *rows;
    int64_t *begin, *end;
    int ranks;
} streams;

/* The next row for `rank`: its own stream's front, else the last row of
 * the fullest stream. */
static uint32_t take_row(streams *s, int rank)
{
    if (s->begin[rank] < s->end[rank]) return s->rows[s->begin[rank]++];
    int lender = 0;
    for (int q = 1; q < s->ranks; q++)
        if (s->end[q] - s->begin[q] > s->end[lender] - s->begin[lender]) lender = q;
    return s->rows[--s->end[lender]];
}

static void deal_steps(streams *s, const lmn_epoch_plan *plan, uint32_t *order)
{
    int64_t written = 0;
    for (int64_t step = 0; step < plan->steps; step++) {
        int64_t first;
        const int batch = lmn_epoch_plan_batch(plan, step, &first);
        for (int r = 0; r < s->ranks; r++) {
            int offset, count;
            lmn_rank_share(batch, r, s->ranks, &offset, &count);
            for (int k = 0; k < count; k++) order[first + offset + k] = take_row(s, r);
        }
        written = first + batch;
    }
    for (int r = 0; r < s->ranks; r++)
        while (s->begin[r] < s->end[r]) order[written++] = s->rows[s->begin[r]++];
}

lmn_status lmn_chunk_epoch_order(const lmn_chunk_layout *layout, const lmn_epoch_plan *plan,
                                 uint64_t seed, uint64_t epoch, bool shuffle, uint32_t *order)
{
    if (layout->count < 1 || layout->count > (int64_t)UINT32_MAX || layout->chunk_rows < 1 ||
        layout->chunks_per_buffer < 1 || layout->ranks < 1 || plan->count != layout->count)
        return lmn_fail(LMN_ERR_ARG, "chunk order: %lld rows in chunks of %d, %d chunks per "
                        "buffer, %d ranks, a plan of %lld rows: need positive values and the "
                        "plan's row count", (long long)layout->count, layout->chunk_rows,
                        layout->chunks_per_buffer, layout->ranks, (long long)plan->count);
    const int64_t per_rank = (lmn_chunk_count(layout) + layout->ranks - 1) / layout->ranks;
    streams s = {.ranks = layout->ranks};
    uint32_t *chunks = NULL;
    lmn_status status = lmn_alloc_bytes((void **)&s.rows, (size_t)layout->count * sizeof *s.rows,
                                        "chunk-order streams");
    if (status == LMN_OK)
        status = lmn_alloc_bytes((void **)&s.begin, 2 * (size_t)layout->ranks * sizeof *s.begin,
                                 "chunk-order cursors");
    if (status == LMN_OK)
        status = lmn_alloc_bytes((void **)&chunks, (size_t)per_rank * sizeof *chunks, "chunk list");
    if (status == LMN_OK) {
        s.end = s.begin + layout->ranks;
        int64_t at = 0;
        for (int r = 0; r < layout->ranks; r++) {
            s.begin[r] = at;
            at += build_stream(layout, r, seed, epoch, shuffle, chunks, s.rows + at);
            s.end[r] = at;
        }
        deal_steps(&s, plan, order);
    }
    lmn_free(chunks);
    lmn_free(s.begin);
    lmn_free(s.rows);
    return status;
}
