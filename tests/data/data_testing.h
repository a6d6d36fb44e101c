/* Helpers for the data tests: a scratch directory and file writers. */
#ifndef LMN_TESTS_DATA_TESTING_H
#define LMN_TESTS_DATA_TESTING_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { TEST_PATH_MAX = 512 };

/* Creates a fresh directory under /tmp; writes its path into dir. */
static inline int test_make_temp_dir(char *dir)
{
    snprintf(dir, TEST_PATH_MAX, "/tmp/lmn_data_test_XXXXXX");
    return mkdtemp(dir) != NULL;
}

/* Removes the files in dir (no subfolders) and dir itself. */
static inline void test_remove_temp_dir(const char *dir)
{
    DIR *listing = opendir(dir);
    if (!listing) return;
    struct dirent *entry;
    char path[TEST_PATH_MAX * 2];
    while ((entry = readdir(listing)) != NULL) {
        if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0) continue;
        snprintf(path, sizeof path, "%s/%s", dir, entry->d_name);
        unlink(path);
    }
    closedir(listing);
    rmdir(dir);
}

static inline void test_join(char *path, const char *dir, const char *name)
{
    const int length = snprintf(path, TEST_PATH_MAX, "%s/%s", dir, name);
    if (length < 0 || length >= TEST_PATH_MAX) {
        fprintf(stderr, "test path %s/%s is too long\n", dir, name);
        exit(1);
    }
}

static inline int test_write_file(const char *path, const void *bytes, size_t count)
{
    FILE *file = fopen(path, "wb");
    if (!file) return 0;
    const size_t written = fwrite(bytes, 1, count, file);
    return fclose(file) == 0 && written == count;
}

/* The directory with the Fashion-MNIST idx.gz files. */
static inline const char *test_data_dir(void)
{
    const char *dir = getenv("LMN_DATA_DIR");
    return dir && dir[0] ? dir : "/usr/share/datasets/fashion-mnist";
}

#endif
