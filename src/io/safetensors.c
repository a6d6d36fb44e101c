#include "io/safetensors.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "core/memory.h"
#include "io/files.h"
#include "io/text.h"

enum { LENGTH_BYTES = 8, HEADER_ALIGNMENT = 8, FLOAT_BYTES = 4 };



/* Names go into the JSON header verbatim, so refuse the few characters
 * that would need escaping rather than write a header nobody can parse. */
static lmn_status check_name(const char *name)
{
    for (const unsigned char *c = (const unsigned char *)name; *c; c++)
        if (*c < 0x20 || *c == '"' || *c == '\\')
            return lmn_fail(LMN_ERR_ARG, "cannot export tensor '%s' to safetensors: its name holds "
                            "a quote, backslash or control character; rename its layer", name);
    return LMN_OK;
}

/* The JSON header, space-padded so the data starts 8-byte aligned. */
static lmn_status build_header(const lmn_network *net, lmn_text *header)
{
    size_t offset = 0;
    LMN_TRY(lmn_text_append_string(header, "{"));
    for (int t = 0; t < net->tensor_count; t++) {
        const lmn_tensor_view *view = &net->tensors[t];
        LMN_TRY(check_name(view->name));
        LMN_TRY(lmn_text_appendf(header, "\"%s\":{\"dtype\":\"F32\",\"shape\":[", view->name));
        for (int d = 0; d < view->ndim; d++)
            LMN_TRY(lmn_text_appendf(header, "%s%d", d ? "," : "", view->dims[d]));
        const size_t bytes = view->count * FLOAT_BYTES;
        LMN_TRY(lmn_text_appendf(header, "],\"data_offsets\":[%zu,%zu]},", offset, offset + bytes));
        offset += bytes;
    }
    LMN_TRY(lmn_text_append_string(header, "\"__metadata__\":{\"format\":\"pt\"}}"));
    while (header->length % HEADER_ALIGNMENT) LMN_TRY(lmn_text_append(header, " ", 1));
    return LMN_OK;
}

static unsigned char *store_le(unsigned char *out, uint64_t value, int bytes)
{
    for (int b = 0; b < bytes; b++) out[b] = (unsigned char)(value >> (8 * b));
    return out + bytes;
}

static unsigned char *store_floats_le(unsigned char *out, const float *values, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        uint32_t bits;
        memcpy(&bits, &values[i], sizeof bits);
        out = store_le(out, bits, FLOAT_BYTES);
    }
    return out;
}

lmn_status lmn_export_safetensors(const char *path, const lmn_network *net)
{
    if (!path || !path[0] || !net)
        return lmn_fail(LMN_ERR_ARG, "safetensors export needs a path and a network");
    lmn_text header = {0};
    lmn_status status = build_header(net, &header);
    const size_t data_bytes = (net->param_count + net->state_count) * FLOAT_BYTES;
    const size_t total = LENGTH_BYTES + header.length + data_bytes;
    unsigned char *file = NULL;
    if (status == LMN_OK) status = lmn_alloc_bytes((void **)&file, total, "safetensors file");
    if (status == LMN_OK) {
        unsigned char *cursor = store_le(file, header.length, LENGTH_BYTES);
        memcpy(cursor, header.data, header.length);
        cursor += header.length;
        for (int t = 0; t < net->tensor_count; t++)
            cursor = store_floats_le(cursor, lmn_network_tensor_data(net, &net->tensors[t]), net->tensors[t].count);
        status = lmn_write_file_atomic(path, file, (size_t)(cursor - file));
    }
    lmn_free(file);
    lmn_text_free(&header);
    if (status != LMN_OK) lmn_fail_context(status, "cannot export '%s'", path);
    return status;
}
