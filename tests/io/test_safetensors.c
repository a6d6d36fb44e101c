/* safetensors export: the file is parsed back here (length prefix, JSON
 * header entries, padding, data) and, where /usr/bin/python3 runs, by
 * Python's json and struct as an independent reader. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/memory.h"
#include "io/safetensors.h"
#include "kernels/kernels.h"
#include "nn/model.h"
#include "nn/network.h"
#include "test.h"

enum { PATH_MAX_TEST = 512 };

/* conv1 -> bn1 -> relu -> flatten -> fc on 2x5x5 inputs; the first
 * layer's name is a parameter so invalid names can be tried. */
static lmn_status build_network(lmn_backend *backend, const char *conv_name, lmn_network **net)
{
    lmn_model_spec spec = {0};
    lmn_layer_spec conv = lmn_layer_defaults(LMN_LAYER_CONV);
    conv.out = 3;
    snprintf(conv.name, sizeof conv.name, "%s", conv_name);
    lmn_layer_spec bn = lmn_layer_defaults(LMN_LAYER_BATCHNORM);
    snprintf(bn.name, sizeof bn.name, "bn1");
    lmn_layer_spec fc = lmn_layer_defaults(LMN_LAYER_LINEAR);
    fc.out = 4;
    snprintf(fc.name, sizeof fc.name, "fc");
    const lmn_layer_spec layers[] = {conv, bn, lmn_layer_defaults(LMN_LAYER_RELU),
                                     lmn_layer_defaults(LMN_LAYER_FLATTEN), fc};
    lmn_status status = LMN_OK;
    for (size_t i = 0; i < sizeof layers / sizeof *layers && status == LMN_OK; i++)
        status = lmn_model_spec_append(&spec, &layers[i], NULL);
    if (status == LMN_OK) status = lmn_network_create(backend, &spec, 2, 5, 5, net);
    lmn_model_spec_free(&spec);
    if (status != LMN_OK) return status;
    for (size_t i = 0; i < (*net)->param_count; i++) (*net)->params[i] = 0.01f * (float)i - 1.5f;
    for (size_t i = 0; i < (*net)->state_count; i++) (*net)->state[i] = 100.0f + 0.5f * (float)i;
    return LMN_OK;
}

/* Reads the whole file; *size gets its length. Free with free(). */
static unsigned char *read_all(const char *path, size_t *size)
{
    FILE *file = fopen(path, "rb");
    if (!file) return NULL;
    fseek(file, 0, SEEK_END);
    const long length = ftell(file);
    fseek(file, 0, SEEK_SET);
    unsigned char *data = length > 0 ? malloc((size_t)length) : NULL;
    if (data && fread(data, 1, (size_t)length, file) != (size_t)length) {
        free(data);
        data = NULL;
    }
    fclose(file);
    *size = data ? (size_t)length : 0;
    return data;
}

static uint64_t load_le(const unsigned char *bytes, int count)
{
    uint64_t value = 0;
    for (int b = count - 1; b >= 0; b--) value = value << 8 | bytes[b];
    return value;
}

static float load_float_le(const unsigned char *bytes)
{
    const uint32_t bits = (uint32_t)load_le(bytes, 4);
    float value;
    memcpy(&value, &bits, sizeof value);
    return value;
}

static const float *tensor_data(const lmn_network *net, const lmn_tensor_view *view)
{
    const bool statistic = view->role == LMN_ROLE_BN_MEAN || view->role == LMN_ROLE_BN_VAR;
    return (statistic ? net->state : net->params) + view->offset;
}

static void test_layout(const lmn_network *net, const char *path)
{
    size_t size = 0;
    unsigned char *file = read_all(path, &size);
    CHECK(file != NULL && size > 8);
    if (!file || size <= 8) {
        free(file);
        return;
    }
    const uint64_t header_length = load_le(file, 8);
    const size_t data_bytes = (net->param_count + net->state_count) * sizeof(float);
    CHECK(header_length % 8 == 0);
    CHECK_MSG(size == 8 + header_length + data_bytes, "size %zu, header %llu, data %zu", size,
              (unsigned long long)header_length, data_bytes);
    if (size != 8 + header_length + data_bytes) {
        free(file);
        return;
    }
    char *header = calloc(header_length + 1, 1);
    memcpy(header, file + 8, header_length);
    CHECK(header[0] == '{');
    size_t end = strlen(header);
    while (end > 0 && header[end - 1] == ' ') end--;
    CHECK(end > 0 && header[end - 1] == '}' && header_length - end < 8);
    CHECK(strstr(header, "\"__metadata__\":{\"format\":\"pt\"}") != NULL);

    /* Every tensor: its exact entry, and its bytes at the stated offsets. */
    const unsigned char *data = file + 8 + header_length;
    size_t offset = 0;
    for (int t = 0; t < net->tensor_count; t++) {
        const lmn_tensor_view *view = &net->tensors[t];
        char entry[256];
        int used = snprintf(entry, sizeof entry, "\"%s\":{\"dtype\":\"F32\",\"shape\":[", view->name);
        for (int d = 0; d < view->ndim; d++)
            used += snprintf(entry + used, sizeof entry - (size_t)used, "%s%d", d ? "," : "",
                             view->dims[d]);
        snprintf(entry + used, sizeof entry - (size_t)used, "],\"data_offsets\":[%zu,%zu]}", offset,
                 offset + view->count * 4);
        CHECK_MSG(strstr(header, entry) != NULL, "header lacks %s", entry);
        const float *expected = tensor_data(net, view);
        bool same = true;
        for (size_t i = 0; i < view->count; i++)
            same = same && load_float_le(data + offset + 4 * i) == expected[i];
        CHECK_MSG(same, "data of %s differs", view->name);
        offset += view->count * 4;
    }
    CHECK(offset == data_bytes);
    CHECK(strstr(header, "bn1.running_var") != NULL && strstr(header, "num_batches_tracked") == NULL);
    free(header);
    free(file);
}

/* An independent reader: json.loads must accept the header, offsets must
 * tile the data exactly, and fc.bias's values must decode as given. */
static const char PYTHON_READER[] =
    "import json, struct, sys\n"
    "data = open(sys.argv[1], 'rb').read()\n"
    "(n,) = struct.unpack('<Q', data[:8])\n"
    "header = json.loads(data[8:8 + n])\n"
    "assert header.pop('__metadata__') == {'format': 'pt'}\n"
    "body = data[8 + n:]\n"
    "spans = sorted(e['data_offsets'] for e in header.values())\n"
    "assert spans[0][0] == 0 and spans[-1][1] == len(body), spans\n"
    "assert all(a[1] == b[0] for a, b in zip(spans, spans[1:])), spans\n"
    "for name, e in header.items():\n"
    "    count = 1\n"
    "    for d in e['shape']: count *= d\n"
    "    assert e['dtype'] == 'F32' and e['data_offsets'][1] - e['data_offsets'][0] == 4 * count, name\n"
    "b, e = header['fc.bias']['data_offsets']\n"
    "values = struct.unpack('<%df' % ((e - b) // 4), body[b:e])\n"
    "expected = [struct.unpack('<f', struct.pack('<f', float(v)))[0] for v in sys.argv[2:]]\n"
    "assert list(values) == expected, (values, expected)\n"
    "print('python reads the safetensors file')\n";

static void test_python_reads(const lmn_network *net, const char *path)
{
    if (access("/usr/bin/python3", X_OK) != 0) {
        SKIP("python check: no /usr/bin/python3");
        return;
    }
    const lmn_tensor_view *bias = lmn_network_tensor(net, "fc.bias");
    CHECK(bias != NULL && bias->count == 4);
    if (!bias || bias->count != 4) return;
    char values[4][32];
    char *argv[] = {"python3", "-c", (char *)PYTHON_READER, (char *)path,
                    values[0], values[1], values[2], values[3], NULL};
    for (int i = 0; i < 4; i++)
        snprintf(values[i], sizeof values[i], "%.9g", (double)net->params[bias->offset + (size_t)i]);
    const pid_t child = fork();
    if (child == 0) {
        execv("/usr/bin/python3", argv);
        _exit(127);
    }
    int status = -1;
    CHECK(child > 0 && waitpid(child, &status, 0) == child);
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "python rejected %s", path);
}

static void test_refusals(lmn_backend *backend, const lmn_network *good, const char *dir)
{
    char path[PATH_MAX_TEST];
    snprintf(path, sizeof path, "%s/missing/dir/model.safetensors", dir);
    const lmn_status status = lmn_export_safetensors(path, good);
    CHECK_MSG(status == LMN_ERR_IO, "got %s: %s", lmn_status_name(status), lmn_last_error());
    CHECK(strstr(lmn_last_error(), path) != NULL);

    lmn_network *quoted = NULL;
    CHECK_OK(build_network(backend, "conv\"1", &quoted));
    if (!quoted) return;
    snprintf(path, sizeof path, "%s/quoted.safetensors", dir);
    CHECK(lmn_export_safetensors(path, quoted) == LMN_ERR_ARG);
    CHECK(strstr(lmn_last_error(), "conv\"1.weight") != NULL);
    CHECK(access(path, F_OK) != 0);
    lmn_network_free(quoted);
}

int main(void)
{
    char dir[] = "/tmp/lmn-safetensors-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    char path[PATH_MAX_TEST];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    lmn_backend *backend = NULL;
    CHECK_OK(lmn_backend_create("ref", &backend));
    lmn_network *net = NULL;
    if (backend) CHECK_OK(build_network(backend, "conv1", &net));
    if (net) {
        CHECK_OK(lmn_export_safetensors(path, net));
        test_layout(net, path);
        test_python_reads(net, path);
        /* A second export replaces the file in place. */
        net->params[0] = 42.0f;
        CHECK_OK(lmn_export_safetensors(path, net));
        test_layout(net, path);
        test_refusals(backend, net, dir);
        lmn_network_free(net);
    }
    if (backend) lmn_backend_destroy(backend);
    unlink(path);
    rmdir(dir);
    return lmn_test_summary("io_test_safetensors");
}
