/* safetensors export round trip: the input chooses the network's shape and
 * layer names (any bytes, so names that need refusing come up) and its
 * parameter bits (NaN and infinities included). An export that succeeds
 * must read back: 8-byte length, a space-padded JSON header naming every
 * tensor with its shape and data offsets, and the exact float32 bits. */
#include "fuzz_common.h"

#include <sys/stat.h>

#include "io/safetensors.h"
#include "fuzz_model.h"

static lmn_backend *backend;
static char out_path[96];

static void fail(const char *what, const char *header)
{
    fprintf(stderr, "safetensors round trip: %s\n--- header ---\n%s\n", what, header ? header : "");
    abort();
}

/* Takes a name of up to 8 bytes from the input; NULL for "unnamed". */
static const char *take_name(const uint8_t **data, size_t *size, char *out)
{
    if (*size < 1) return NULL;
    const size_t length = (*data)[0] % 9;
    (*data)++, (*size)--;
    if (length == 0 || *size < length) return NULL;
    memcpy(out, *data, length);
    out[length] = '\0';
    *data += length, *size -= length;
    return out;
}

static uint8_t *read_all(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *size = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *bytes = malloc(*size + 1);
    if (fread(bytes, 1, *size, f) != *size) abort();
    fclose(f);
    return bytes;
}

static void check(const lmn_network *net, const uint8_t *file, size_t file_size)
{
    if (file_size < 8) fail("shorter than the length field", NULL);
    uint64_t n = 0;
    for (int b = 0; b < 8; b++) n |= (uint64_t)file[b] << (8 * b);
    if (n % 8 || n > file_size - 8) fail("header length not a multiple of 8 or past the end", NULL);
    char *header = malloc(n + 1);
    memcpy(header, file + 8, n);
    header[n] = '\0';
    if (strlen(header) != n) fail("NUL in the header", header);
    size_t total = 0;
    for (int t = 0; t < net->tensor_count; t++) {
        const lmn_tensor_view *view = &net->tensors[t];
        char entry[512];
        int at = snprintf(entry, sizeof entry, "\"%s\":{\"dtype\":\"F32\",\"shape\":[", view->name);
        for (int d = 0; d < view->ndim; d++)
            at += snprintf(entry + at, sizeof entry - (size_t)at, "%s%d", d ? "," : "", view->dims[d]);
        snprintf(entry + at, sizeof entry - (size_t)at, "],\"data_offsets\":[%zu,%zu]}", total,
                 total + view->count * 4);
        if (!strstr(header, entry)) fail(entry, header);
        const float *values = lmn_network_tensor_data(net, view);
        if (8 + n + total + view->count * 4 > file_size) fail("data past the end", header);
        if (memcmp(file + 8 + n + total, values, view->count * 4) != 0) fail("data differ", header);
        total += view->count * 4;
    }
    if (8 + n + total != file_size) fail("bytes after the last tensor", header);
    free(header);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4 || size > 4096) return 0;
    if (!backend) {
        /* Named by the process, so run.sh can remove what a killed run left. */
        char dir[64];
        snprintf(dir, sizeof dir, "/dev/shm/lamina-fuzz-%d-st", (int)getpid());
        if (mkdir(dir, 0700) != 0 || lmn_backend_create("ref", &backend) != LMN_OK) abort();
        snprintf(out_path, sizeof out_path, "%s/model.safetensors", dir);
    }
    fuzz_model_options o = {.conv_out = 1 + data[0] % 4, .kernel = 1 + 2 * (data[1] % 3),
                            .linear_out = 1 + data[2] % 5, .conv_bias = data[3] & 1,
                            .batchnorm = data[3] & 2};
    data += 4, size -= 4;
    char names[3][16];
    o.conv_name = take_name(&data, &size, names[0]);
    o.bn_name = take_name(&data, &size, names[1]);
    o.fc_name = take_name(&data, &size, names[2]);
    lmn_network *net = NULL;
    if (fuzz_build_model(backend, &o, &net) != LMN_OK) return 0;
    /* The remaining bytes are parameter bits, repeated to fill. */
    if (size) {
        uint8_t *params = (uint8_t *)net->params, *state = (uint8_t *)net->state;
        for (size_t i = 0; i < net->param_count * 4; i++) params[i] = data[i % size];
        for (size_t i = 0; i < net->state_count * 4; i++) state[i] = data[(i + 7) % size];
    }
    if (lmn_export_safetensors(out_path, net) == LMN_OK) {
        size_t file_size = 0;
        uint8_t *file = read_all(out_path, &file_size);
        if (!file) fail("exported file missing", NULL);
        check(net, file, file_size);
        free(file);
        unlink(out_path);
    }
    lmn_network_free(net);
    return 0;
}
