/* The report's reader of metrics lines against the writer (io/metrics):
 * what lmn_metrics writes reads back bit for bit, and every truncation of
 * a line is refused rather than half read. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/metrics.h"
#include "report/json_line.h"
#include "test.h"

typedef struct seen {
    int fields;
    double third, big, neg;
    bool loss_null;
    char note[128], layers[128];
} seen;

static void collect(void *context, const char *key, const report_value *value)
{
    seen *s = context;
    s->fields++;
    if (strcmp(key, "third") == 0) s->third = value->number;
    if (strcmp(key, "big") == 0) s->big = value->number;
    if (strcmp(key, "neg") == 0) s->neg = value->number;
    if (strcmp(key, "loss") == 0) s->loss_null = value->kind == REPORT_VALUE_NULL;
    if (strcmp(key, "note") == 0) snprintf(s->note, sizeof s->note, "%s", value->text);
    if (strcmp(key, "relaxed_layers") == 0 && value->kind == REPORT_VALUE_LIST)
        snprintf(s->layers, sizeof s->layers, "%s", value->text);
}

/* One record written by lmn_metrics, as its line (without the newline). */
static void written_line(char *line, size_t capacity)
{
    char path[] = "/tmp/lmn_test_json_line_XXXXXX";
    const int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0) return;
    close(fd);
    lmn_metrics *m = NULL;
    CHECK_OK(lmn_metrics_open(path, &m));
    const char *layers[] = {"conv1.weight", "fc \"odd\" name"};
    lmn_metrics_begin(m);
    CHECK_OK(lmn_metrics_int(m, "round", 7));
    CHECK_OK(lmn_metrics_double(m, "third", 1.0 / 3.0));
    CHECK_OK(lmn_metrics_double(m, "big", 1e300));
    CHECK_OK(lmn_metrics_double(m, "neg", -2.5e-310));
    CHECK_OK(lmn_metrics_double(m, "loss", NAN));
    CHECK_OK(lmn_metrics_string(m, "note", "say \"hi\"\\\ttab"));
    CHECK_OK(lmn_metrics_string_list(m, "relaxed_layers", layers, 2));
    CHECK_OK(lmn_metrics_bool(m, "final", 1));
    CHECK_OK(lmn_metrics_end(m));
    CHECK_OK(lmn_metrics_close(m));
    FILE *file = fopen(path, "r");
    CHECK(file && fgets(line, (int)capacity, file));
    if (file) fclose(file);
    line[strcspn(line, "\n")] = '\0';
    unlink(path);
}

static void test_round_trip(const char *line)
{
    seen s = {0};
    char problem[160] = "";
    CHECK_MSG(report_parse_json_line(line, collect, &s, problem, sizeof problem), "%s: %s", line, problem);
    CHECK(s.fields == 8);
    CHECK(s.third == 1.0 / 3.0);
    CHECK(s.big == 1e300);
    CHECK(s.neg == -2.5e-310);
    CHECK(s.loss_null);
    CHECK_MSG(strcmp(s.note, "say \"hi\"\\\ttab") == 0, "note '%s'", s.note);
    CHECK_MSG(strcmp(s.layers, "conv1.weight,fc \"odd\" name") == 0, "layers '%s'", s.layers);
}

static void ignore(void *context, const char *key, const report_value *value) {}

/* A job killed mid-write leaves any prefix of a line: none may pass. */
static void test_every_truncation_refused(const char *line)
{
    const size_t length = strlen(line);
    char prefix[1024], problem[160];
    int refused = 0;
    for (size_t n = 0; n < length; n++) {
        memcpy(prefix, line, n);
        prefix[n] = '\0';
        const bool read = report_parse_json_line(prefix, ignore, NULL, problem, sizeof problem);
        CHECK_MSG(!read, "prefix of %zu bytes accepted: '%s'", n, prefix);
        refused += !read;
    }
    CHECK(refused == (int)length);
}

static void test_malformed(void)
{
    const char *bad[] = {"", "[1,2]", "{\"a\":1} trailing", "{\"a\":{\"b\":1}}", "{\"a\" 1}",
                         "{\"a\":1,,}", "{\"a\":\"\\q\"}", "{a:1}", "{\"a\":nul}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char problem[160] = "";
        CHECK_MSG(!report_parse_json_line(bad[i], ignore, NULL, problem, sizeof problem), "accepted '%s'", bad[i]);
        CHECK_MSG(strstr(problem, "column") != NULL, "'%s': problem '%s' names no column", bad[i], problem);
    }
}

int main(void)
{
    char line[1024] = "";
    written_line(line, sizeof line);
    test_round_trip(line);
    test_every_truncation_refused(line);
    test_malformed();
    return lmn_test_summary("report_json_line");
}
