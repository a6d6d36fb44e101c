/* Small text utilities shared by the io part: growable arrays and strings
 * built on core/memory.h, and the shortest round-trip form of a double.
 * Internal to src/io. */
#ifndef LMN_IO_TEXT_H
#define LMN_IO_TEXT_H

#include <stddef.h>

#include "core/status.h"

/* Grows *array (elements of item_size bytes, *capacity of them) so that it
 * holds at least `needed`; contents are kept, new space is zeroed. */
lmn_status lmn_grow_array(void **array, size_t *capacity, size_t needed, size_t item_size,
                          const char *what);

/* A NUL-terminated copy of the first `length` bytes of text; free with lmn_free. */
lmn_status lmn_copy_text(char **out, const char *text, size_t length, const char *what);

/* A growable, always NUL-terminated string. Zero-initialise; free with
 * lmn_text_free. */
typedef struct lmn_text {
    char *data;
    size_t length;
    size_t capacity;
} lmn_text;

lmn_status lmn_text_append(lmn_text *text, const char *bytes, size_t length);
lmn_status lmn_text_append_string(lmn_text *text, const char *string);
lmn_status lmn_text_appendf(lmn_text *text, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void lmn_text_free(lmn_text *text);

enum { LMN_DOUBLE_TEXT_CAPACITY = 32 };

/* Writes the shortest "%.Ng" form of value that reads back as exactly the
 * same double (0.1 -> "0.1", not "0.10000000000000001"). */
void lmn_format_double(double value, char out[LMN_DOUBLE_TEXT_CAPACITY]);

#endif
