#include "io/metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/memory.h"
#include "io/text.h"

struct lmn_metrics {
    FILE *file;
    char *path;
    lmn_text record;   /* the line being built, without the closing brace */
    bool in_record;
    size_t field_count;
};

static lmn_status open_mode(const char *path, const char *mode, lmn_metrics **out);

lmn_status lmn_metrics_open(const char *path, lmn_metrics **out)
{
    return open_mode(path, "w", out);
}

lmn_status lmn_metrics_open_append(const char *path, lmn_metrics **out)
{
    return open_mode(path, "a", out);
}

static lmn_status open_mode(const char *path, const char *mode, lmn_metrics **out)
{
    *out = NULL;
    lmn_metrics *m = NULL;
    LMN_TRY(lmn_alloc_bytes((void **)&m, sizeof *m, "metrics writer"));
    lmn_status status = lmn_copy_text(&m->path, path, strlen(path), "metrics path");
    if (status == LMN_OK) {
        m->file = fopen(path, mode);
        if (!m->file)
            status = lmn_fail(LMN_ERR_IO, "cannot create metrics file '%s': %s", path,
                              strerror(errno));
    }
    if (status != LMN_OK) {
        lmn_free(m->path);
        lmn_free(m);
        return status;
    }
    *out = m;
    return LMN_OK;
}

void lmn_metrics_begin(lmn_metrics *m)
{
    m->record.length = 0;
    if (m->record.data) m->record.data[0] = '\0';
    m->in_record = true;
    m->field_count = 0;
}

static lmn_status append_json_string(lmn_text *out, const char *text)
{
    LMN_TRY(lmn_text_append(out, "\"", 1));
    for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
        switch (*c) {
        case '"': LMN_TRY(lmn_text_append(out, "\\\"", 2)); break;
        case '\\': LMN_TRY(lmn_text_append(out, "\\\\", 2)); break;
        case '\n': LMN_TRY(lmn_text_append(out, "\\n", 2)); break;
        case '\r': LMN_TRY(lmn_text_append(out, "\\r", 2)); break;
        case '\t': LMN_TRY(lmn_text_append(out, "\\t", 2)); break;
        default:
            if (*c < 0x20)
                LMN_TRY(lmn_text_appendf(out, "\\u%04x", *c));
            else
                LMN_TRY(lmn_text_append(out, (const char *)c, 1));
        }
    }
    return lmn_text_append(out, "\"", 1);
}

/* Appends the separator and the quoted key; the caller appends the value. */
static lmn_status start_field(lmn_metrics *m, const char *key)
{
    if (!m->in_record)
        return lmn_fail(LMN_ERR_ARG, "metrics field '%s' for '%s' added outside "
                        "lmn_metrics_begin/lmn_metrics_end", key, m->path);
    LMN_TRY(lmn_text_append(&m->record, m->field_count ? "," : "{", 1));
    m->field_count++;
    LMN_TRY(append_json_string(&m->record, key));
    return lmn_text_append(&m->record, ":", 1);
}

lmn_status lmn_metrics_int(lmn_metrics *m, const char *key, int64_t value)
{
    LMN_TRY(start_field(m, key));
    return lmn_text_appendf(&m->record, "%" PRId64, value);
}

lmn_status lmn_metrics_double(lmn_metrics *m, const char *key, double value)
{
    LMN_TRY(start_field(m, key));
    if (!isfinite(value)) return lmn_text_append_string(&m->record, "null");
    char number[LMN_DOUBLE_TEXT_CAPACITY];
    lmn_format_double(value, number);
    return lmn_text_append_string(&m->record, number);
}

lmn_status lmn_metrics_string(lmn_metrics *m, const char *key, const char *value)
{
    LMN_TRY(start_field(m, key));
    return append_json_string(&m->record, value);
}

lmn_status lmn_metrics_string_list(lmn_metrics *m, const char *key, const char *const *values,
                                   int count)
{
    LMN_TRY(start_field(m, key));
    LMN_TRY(lmn_text_append_string(&m->record, "["));
    for (int i = 0; i < count; i++) {
        if (i > 0) LMN_TRY(lmn_text_append_string(&m->record, ","));
        LMN_TRY(append_json_string(&m->record, values[i]));
    }
    return lmn_text_append_string(&m->record, "]");
}

lmn_status lmn_metrics_bool(lmn_metrics *m, const char *key, int value)
{
    LMN_TRY(start_field(m, key));
    return lmn_text_append_string(&m->record, value ? "true" : "false");
}

lmn_status lmn_metrics_end(lmn_metrics *m)
{
    if (!m->in_record)
        return lmn_fail(LMN_ERR_ARG, "lmn_metrics_end for '%s' without lmn_metrics_begin", m->path);
    m->in_record = false;
    LMN_TRY(lmn_text_append_string(&m->record, m->field_count ? "}\n" : "{}\n"));
    if (fwrite(m->record.data, 1, m->record.length, m->file) != m->record.length ||
        fflush(m->file) != 0)
        return lmn_fail(LMN_ERR_IO, "cannot write metrics to '%s': %s", m->path, strerror(errno));
    return LMN_OK;
}

lmn_status lmn_metrics_close(lmn_metrics *m)
{
    if (!m) return LMN_OK;
    lmn_status status = LMN_OK;
    if (fclose(m->file) != 0)
        status = lmn_fail(LMN_ERR_IO, "cannot close metrics file '%s': %s", m->path, strerror(errno));
    lmn_text_free(&m->record);
    lmn_free(m->path);
    lmn_free(m);
    return status;
}
