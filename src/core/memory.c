#include "core/memory.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { ALIGNMENT = 64 };

lmn_status lmn_alloc_bytes(void **out, size_t bytes, const char *what)
{
    *out = NULL;
    const size_t rounded = (bytes + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
    void *ptr = aligned_alloc(ALIGNMENT, rounded ? rounded : ALIGNMENT);
    if (!ptr)
        return lmn_fail(LMN_ERR_NOMEM, "cannot allocate %zu bytes for %s", bytes, what);
    memset(ptr, 0, rounded ? rounded : ALIGNMENT);
    *out = ptr;
    return LMN_OK;
}

lmn_status lmn_alloc_floats(float **out, size_t count, const char *what)
{
    if (count > SIZE_MAX / sizeof(float))
        return lmn_fail(LMN_ERR_NOMEM, "buffer of %zu floats for %s is too large", count, what);
    return lmn_alloc_bytes((void **)out, count * sizeof(float), what);
}

void lmn_free(void *ptr) { free(ptr); }
