#include "io/files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/memory.h"
#include "io/text.h"

/* Creates one directory; an existing directory (made by us or a concurrent
 * rank) counts as success. */
static lmn_status make_one_directory(const char *component, const char *whole)
{
    if (mkdir(component, 0777) == 0) return LMN_OK;
    int error = errno;
    struct stat info;
    if (error == EEXIST && stat(component, &info) == 0 && S_ISDIR(info.st_mode)) return LMN_OK;
    if (error == EEXIST)
        return lmn_fail(LMN_ERR_IO, "cannot create directory '%s': '%s' exists and is not a directory",
                        whole, component);
    return lmn_fail(LMN_ERR_IO, "cannot create directory '%s': mkdir '%s': %s", whole, component,
                    strerror(error));
}

lmn_status lmn_make_directory(const char *path)
{
    if (!path || !path[0]) return lmn_fail(LMN_ERR_ARG, "cannot create a directory with an empty name");
    char *prefix = NULL;
    LMN_TRY(lmn_copy_text(&prefix, path, strlen(path), "directory path"));
    lmn_status status = LMN_OK;
    /* Cut the path at each '/' in turn (skipping the root and repeated
     * slashes) and create each prefix. */
    for (char *slash = strchr(prefix + 1, '/'); slash && status == LMN_OK;
         slash = strchr(slash + 1, '/')) {
        if (slash[-1] == '/') continue;
        *slash = '\0';
        status = make_one_directory(prefix, path);
        *slash = '/';
    }
    if (status == LMN_OK) status = make_one_directory(prefix, path);
    lmn_free(prefix);
    return status;
}

static lmn_status write_all(int fd, const void *data, size_t bytes, const char *path)
{
    const char *cursor = data;
    while (bytes > 0) {
        ssize_t written = write(fd, cursor, bytes);
        if (written < 0 && errno == EINTR) continue;
        if (written < 0)
            return lmn_fail(LMN_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
        cursor += written;
        bytes -= (size_t)written;
    }
    return LMN_OK;
}

/* Makes the rename itself durable; failure here is not worth reporting
 * because the new content is already in place. */
static void sync_parent_directory(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *directory = NULL;
    if (lmn_copy_text(&directory, slash ? path : ".", slash ? (size_t)(slash - path) + 1 : 1,
                      "directory name") != LMN_OK)
        return;
    int fd = open(directory, O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    lmn_free(directory);
}

lmn_status lmn_write_file_atomic(const char *path, const void *data, size_t bytes)
{
    lmn_text temporary = {0};
    LMN_TRY(lmn_text_appendf(&temporary, "%s.tmp.XXXXXX", path));
    int fd = mkstemp(temporary.data);
    if (fd < 0) {
        lmn_status status = lmn_fail(LMN_ERR_IO, "cannot create a temporary file for '%s': %s",
                                     path, strerror(errno));
        lmn_text_free(&temporary);
        return status;
    }
    lmn_status status = write_all(fd, data, bytes, path);
    if (status == LMN_OK && fchmod(fd, 0644) != 0)
        status = lmn_fail(LMN_ERR_IO, "cannot set permissions of '%s': %s", path, strerror(errno));
    if (status == LMN_OK && fsync(fd) != 0)
        status = lmn_fail(LMN_ERR_IO, "cannot flush '%s' to disk: %s", path, strerror(errno));
    if (close(fd) != 0 && status == LMN_OK)
        status = lmn_fail(LMN_ERR_IO, "cannot close '%s': %s", path, strerror(errno));
    if (status == LMN_OK && rename(temporary.data, path) != 0)
        status = lmn_fail(LMN_ERR_IO, "cannot replace '%s': %s", path, strerror(errno));
    if (status != LMN_OK)
        unlink(temporary.data);
    else
        sync_parent_directory(path);
    lmn_text_free(&temporary);
    return status;
}
