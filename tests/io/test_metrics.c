/* JSON-lines metrics, mkdir -p and atomic file replacement. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/files.h"
#include "io/metrics.h"
#include "test.h"

/* Reads the whole (small) file into buffer; returns its length or -1. */
static long read_file(const char *path, char *buffer, size_t capacity)
{
    FILE *file = fopen(path, "rb");
    if (!file) return -1;
    size_t got = fread(buffer, 1, capacity - 1, file);
    fclose(file);
    buffer[got] = '\0';
    return (long)got;
}

static void test_metrics_lines(const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    /* Stale content must be replaced, not appended to. */
    FILE *stale = fopen(path, "w");
    if (stale) {
        fputs("old line\n", stale);
        fclose(stale);
    }
    lmn_metrics *m = NULL;
    CHECK_OK(lmn_metrics_open(path, &m));
    if (!m) return;
    lmn_metrics_begin(m);
    CHECK_OK(lmn_metrics_int(m, "epoch", 3));
    CHECK_OK(lmn_metrics_double(m, "test_acc", 0.91));
    CHECK_OK(lmn_metrics_end(m));

    /* Each record is flushed at once: readable while the writer is open. */
    char content[4096];
    CHECK(read_file(path, content, sizeof content) > 0);
    CHECK_MSG(strcmp(content, "{\"epoch\":3,\"test_acc\":0.91}\n") == 0, "got '%s'", content);

    lmn_metrics_begin(m);
    CHECK_OK(lmn_metrics_string(m, "note", "say \"hi\"\\\n\ttab\x01 é"));
    CHECK_OK(lmn_metrics_double(m, "loss", NAN));
    CHECK_OK(lmn_metrics_double(m, "inf", -INFINITY));
    CHECK_OK(lmn_metrics_double(m, "third", 1.0 / 3.0));
    CHECK_OK(lmn_metrics_double(m, "big", 1e300));
    CHECK_OK(lmn_metrics_int(m, "neg", -9007199254740993LL));
    CHECK_OK(lmn_metrics_bool(m, "final", 1));
    CHECK_OK(lmn_metrics_end(m));

    lmn_metrics_begin(m);
    CHECK_OK(lmn_metrics_end(m));
    CHECK(lmn_metrics_end(m) == LMN_ERR_ARG); /* no open record */
    CHECK(lmn_metrics_int(m, "late", 1) == LMN_ERR_ARG);
    CHECK_OK(lmn_metrics_close(m));

    CHECK(read_file(path, content, sizeof content) > 0);
    const char *expected =
        "{\"epoch\":3,\"test_acc\":0.91}\n"
        "{\"note\":\"say \\\"hi\\\"\\\\\\n\\ttab\\u0001 é\",\"loss\":null,\"inf\":null,"
        "\"third\":0.3333333333333333,\"big\":1e+300,\"neg\":-9007199254740993,\"final\":true}\n"
        "{}\n";
    CHECK_MSG(strcmp(content, expected) == 0, "got:\n%s", content);
    /* The shortest form still reads back as the same double. */
    const char *third = strstr(content, "\"third\":");
    CHECK(third && strtod(third + 8, NULL) == 1.0 / 3.0);
}

static void test_metrics_open_failure(const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/no/such/dir/m.jsonl", dir);
    lmn_metrics *m = NULL;
    CHECK(lmn_metrics_open(path, &m) == LMN_ERR_IO);
    CHECK(m == NULL);
    CHECK(strstr(lmn_last_error(), "no/such/dir/m.jsonl") != NULL);
}

static void test_make_directory(const char *dir)
{
    char path[512];
    struct stat info;
    snprintf(path, sizeof path, "%s/a/b//c/", dir);
    CHECK_OK(lmn_make_directory(path));
    CHECK(stat(path, &info) == 0 && S_ISDIR(info.st_mode));
    CHECK_OK(lmn_make_directory(path)); /* existing is fine */

    char blocker[512];
    snprintf(blocker, sizeof blocker, "%s/plainfile", dir);
    FILE *file = fopen(blocker, "w");
    if (file) fclose(file);
    snprintf(path, sizeof path, "%s/plainfile/sub", dir);
    CHECK(lmn_make_directory(path) == LMN_ERR_IO);
    CHECK(strstr(lmn_last_error(), "plainfile") != NULL);
}

static int count_entries_with_prefix(const char *dir, const char *prefix)
{
    DIR *handle = opendir(dir);
    if (!handle) return -1;
    int count = 0;
    for (struct dirent *entry; (entry = readdir(handle));)
        count += strncmp(entry->d_name, prefix, strlen(prefix)) == 0;
    closedir(handle);
    return count;
}

static void test_atomic_write(const char *dir)
{
    char path[512], content[256];
    snprintf(path, sizeof path, "%s/state.txt", dir);
    CHECK_OK(lmn_write_file_atomic(path, "first version\n", 14));
    CHECK_OK(lmn_write_file_atomic(path, "second", 6));
    CHECK(read_file(path, content, sizeof content) == 6);
    CHECK(strcmp(content, "second") == 0);
    CHECK(count_entries_with_prefix(dir, "state.txt") == 1); /* no temporary left */

    snprintf(path, sizeof path, "%s/missing_dir/state.txt", dir);
    CHECK(lmn_write_file_atomic(path, "x", 1) == LMN_ERR_IO);
    CHECK(strstr(lmn_last_error(), "missing_dir/state.txt") != NULL);

    /* Renaming onto a directory fails after the temporary was written: it
     * must be cleaned up. */
    snprintf(path, sizeof path, "%s/adir", dir);
    CHECK_OK(lmn_make_directory(path));
    CHECK(lmn_write_file_atomic(path, "x", 1) == LMN_ERR_IO);
    CHECK(count_entries_with_prefix(dir, "adir") == 1);
}

int main(void)
{
    char dir[] = "/tmp/lmn_test_metrics_XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_metrics_lines(dir);
    test_metrics_open_failure(dir);
    test_make_directory(dir);
    test_atomic_write(dir);
    char command[600];
    snprintf(command, sizeof command, "rm -rf '%s'", dir);
    if (system(command) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return lmn_test_summary("io_metrics");
}
