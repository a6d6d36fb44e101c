#include "io/text.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/memory.h"

lmn_status lmn_grow_array(void **array, size_t *capacity, size_t needed, size_t item_size,
                          const char *what)
{
    if (needed <= *capacity) return LMN_OK;
    size_t grown = *capacity ? *capacity : 4;
    while (grown < needed) {
        if (grown > SIZE_MAX / 2 / item_size)
            return lmn_fail(LMN_ERR_NOMEM, "%s would need too many elements (%zu)", what, needed);
        grown *= 2;
    }
    /* calloc, not the 64-byte aligned allocator: these arrays hold config
     * nodes and text, and glibc's aligned allocations slowed down
     * superlinearly over the 10^6 small blocks of a very large config. */
    void *bigger = calloc(grown, item_size);
    if (!bigger) return lmn_fail(LMN_ERR_NOMEM, "cannot allocate %zu bytes for %s", grown * item_size, what);
    if (*array) memcpy(bigger, *array, *capacity * item_size);
    free(*array);
    *array = bigger;
    *capacity = grown;
    return LMN_OK;
}

lmn_status lmn_copy_text(char **out, const char *text, size_t length, const char *what)
{
    *out = NULL;
    /* Plain malloc: glibc's aligned_alloc searches its free lists in a way
     * that grew superlinearly with the millions of short strings of a
     * config with 10^5 layers (keys, values, paths). */
    char *copy = malloc(length + 1);
    if (!copy) return lmn_fail(LMN_ERR_NOMEM, "cannot allocate %zu bytes for %s", length + 1, what);
    memcpy(copy, text, length);
    copy[length] = '\0';
    *out = copy;
    return LMN_OK;
}

lmn_status lmn_text_append(lmn_text *text, const char *bytes, size_t length)
{
    LMN_TRY(lmn_grow_array((void **)&text->data, &text->capacity, text->length + length + 1, 1,
                           "text buffer"));
    memcpy(text->data + text->length, bytes, length);
    text->length += length;
    text->data[text->length] = '\0';
    return LMN_OK;
}

lmn_status lmn_text_append_string(lmn_text *text, const char *string)
{
    return lmn_text_append(text, string, strlen(string));
}

lmn_status lmn_text_appendf(lmn_text *text, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    int needed = vsnprintf(NULL, 0, fmt, args);
    va_end(args);
    if (needed < 0) return lmn_fail(LMN_ERR_INTERNAL, "cannot format text '%s'", fmt);
    LMN_TRY(lmn_grow_array((void **)&text->data, &text->capacity,
                           text->length + (size_t)needed + 1, 1, "text buffer"));
    va_start(args, fmt);
    vsnprintf(text->data + text->length, (size_t)needed + 1, fmt, args);
    va_end(args);
    text->length += (size_t)needed;
    return LMN_OK;
}

void lmn_text_free(lmn_text *text)
{
    lmn_free(text->data);
    *text = (lmn_text){0};
}

void lmn_format_double(double value, char out[LMN_DOUBLE_TEXT_CAPACITY])
{
    for (int digits = 1; digits <= 17; digits++) {
        snprintf(out, LMN_DOUBLE_TEXT_CAPACITY, "%.*g", digits, value);
        if (strtod(out, NULL) == value) return;
    }
}
