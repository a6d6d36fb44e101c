/* File-system helpers: directory creation and crash-safe file replacement. */
#ifndef LMN_IO_FILES_H
#define LMN_IO_FILES_H

#include <stddef.h>

#include "core/status.h"

/* Creates path and any missing parents (like `mkdir -p`); an existing
 * directory is fine. Fails with LMN_ERR_IO naming the component that could
 * not be created. */
lmn_status lmn_make_directory(const char *path);

/* Replaces path with exactly `bytes` bytes of data: writes a temporary file
 * next to it, fsyncs it and renames it over path, so readers see the old
 * or the new content, never a half-written file. The temporary file is
 * removed on failure. The file gets mode 0644. */
lmn_status lmn_write_file_atomic(const char *path, const void *data, size_t bytes);

#endif
