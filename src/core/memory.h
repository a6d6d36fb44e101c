/* Aligned, zeroed allocation for numeric buffers (64-byte alignment suits
 * AVX-512 loads and oneDNN's preferences). Free with lmn_free. */
#ifndef LMN_CORE_MEMORY_H
#define LMN_CORE_MEMORY_H

#include <stddef.h>

#include "core/status.h"

/* Allocates count floats, zeroed; fails with a message naming `what`. */
lmn_status lmn_alloc_floats(float **out, size_t count, const char *what);
/* Allocates bytes, zeroed, 64-byte aligned. */
lmn_status lmn_alloc_bytes(void **out, size_t bytes, const char *what);
void lmn_free(void *ptr);

#endif
