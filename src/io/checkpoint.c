#include "io/checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hdf5.h>

#include "core/memory.h"
#include "io/files.h"
#include "io/hdf5_dataset.h"
#include "io/hdf5_lock.h"
#include "io/text.h"
#include "nn/finite.h"
#include "optim/slimqn.h"

static const char FORMAT_NAME[] = "lamina-checkpoint";
static const char NOT_HDF5[] = "%s: not a readable HDF5 file (truncated or not a checkpoint)";
static const char DIFFERENT_MODEL[] = "checkpoint of a different model";

enum { REASON_MAX = 256, DESCRIPTION_MAX = 96, VALUE_NAME_MAX = LMN_TENSOR_NAME_MAX + 128 };

/* Users should see lamina's messages, not HDF5's stack dumps; the reason
 * HDF5 gives is folded into our message by hdf5_fail instead. */
static void silence_hdf5(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

static herr_t keep_innermost_error(unsigned n, const H5E_error2_t *error, void *reason)
{
    if (n == 0 && error->desc) snprintf(reason, REASON_MAX, "%s", error->desc);
    return 0;
}

/* Fails with HDF5's innermost reason ("unable to open file: ... Permission
 * denied"). Must run right after the failing call: the next HDF5 call
 * clears the error stack. */
static lmn_status hdf5_fail(lmn_status code, const char *what, const char *name)
{
    char reason[REASON_MAX] = "";
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, keep_innermost_error, reason);
    return lmn_fail(code, "%s '%s': %s", what, name, reason[0] ? reason : "HDF5 error");
}


static void view_dims(const lmn_tensor_view *view, hsize_t dims[LMN_TENSOR_MAX_DIMS])
{
    for (int d = 0; d < view->ndim; d++) dims[d] = (hsize_t)view->dims[d];
}

static void format_shape(char out[DESCRIPTION_MAX], int ndim, const hsize_t *dims)
{
    int used = snprintf(out, DESCRIPTION_MAX, "[");
    for (int d = 0; d < ndim && used < DESCRIPTION_MAX; d++)
        used += snprintf(out + used, DESCRIPTION_MAX - (size_t)used, "%s%llu", d ? ", " : "",
                         (unsigned long long)dims[d]);
    if (used < DESCRIPTION_MAX) snprintf(out + used, DESCRIPTION_MAX - (size_t)used, "]");
}

static void describe_type(hid_t type, char out[DESCRIPTION_MAX])
{
    const size_t bits = H5Tget_size(type) * 8;
    switch (H5Tget_class(type)) {
    case H5T_FLOAT: snprintf(out, DESCRIPTION_MAX, "float%zu", bits); break;
    case H5T_INTEGER:
        snprintf(out, DESCRIPTION_MAX, "%sint%zu", H5Tget_sign(type) == H5T_SGN_NONE ? "u" : "",
                 bits);
        break;
    case H5T_STRING: snprintf(out, DESCRIPTION_MAX, "string"); break;
    case H5T_COMPOUND: snprintf(out, DESCRIPTION_MAX, "compound"); break;
    default: snprintf(out, DESCRIPTION_MAX, "HDF5 type class %d", (int)H5Tget_class(type)); break;
    }
}

/* A variable-length UTF-8 string: what h5py reads back as str. */
static hid_t create_string_type(void)
{
    hid_t type = H5Tcopy(H5T_C_S1);
    if (type < 0) return type;
    if (H5Tset_size(type, H5T_VARIABLE) < 0 || H5Tset_cset(type, H5T_CSET_UTF8) < 0) {
        H5Tclose(type);
        return -1;
    }
    return type;
}

/* An attribute or a dataset: HDF5 has parallel calls for the two. */
typedef struct h5_value {
    hid_t id;
    bool attribute;
    char name[VALUE_NAME_MAX]; /* for messages: "/model/conv1.weight", "/progress@epoch" */
} h5_value;

static hid_t value_type(h5_value v) { return v.attribute ? H5Aget_type(v.id) : H5Dget_type(v.id); }
static hid_t value_space(h5_value v) { return v.attribute ? H5Aget_space(v.id) : H5Dget_space(v.id); }

/* Bytes one element of an attribute of file type `type` occupies on disk: a
 * variable-length string is a global-heap reference (length, heap address,
 * index). */
static size_t stored_element_size(hid_t attribute, hid_t type)
{
    if (H5Tis_variable_str(type) <= 0) return H5Tget_size(type);
    size_t address_bytes = 8, length_bytes = 8;
    const hid_t file = H5Iget_file_id(attribute);
    const hid_t create = file >= 0 ? H5Fget_create_plist(file) : -1;
    if (create >= 0) H5Pget_sizes(create, &address_bytes, &length_bytes);
    if (create >= 0) H5Pclose(create);
    if (file >= 0) H5Fclose(file);
    return 4 + address_bytes + 4;
}

/* HDF5 1.10 copies an attribute's elements without checking that its
 * stored data holds them (a corrupt file makes H5Aread read past a heap
 * buffer, found by fuzzing): the sizes are checked here first. */
static bool attribute_complete(hid_t attribute)
{
    const hid_t type = H5Aget_type(attribute), space = H5Aget_space(attribute);
    const hssize_t points = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
    const size_t element = type >= 0 ? stored_element_size(attribute, type) : 0;
    if (type >= 0) H5Tclose(type);
    if (space >= 0) H5Sclose(space);
    return points >= 0 && element > 0 &&
           H5Aget_storage_size(attribute) >= (hsize_t)points * element;
}

static herr_t value_read(h5_value v, hid_t memory_type, void *out)
{
    if (v.attribute) return attribute_complete(v.id) ? H5Aread(v.id, memory_type, out) : -1;
    return H5Dread(v.id, memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out);
}

static herr_t value_write(h5_value v, hid_t memory_type, const void *data)
{
    return v.attribute ? H5Awrite(v.id, memory_type, data)
                       : H5Dwrite(v.id, memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
}

static void value_close(h5_value v)
{
    if (v.id < 0) return;
    if (v.attribute)
        H5Aclose(v.id);
    else
        H5Dclose(v.id);
}

/* ---- writing ----------------------------------------------------------- */

/* Creates attribute or dataset `name` on loc and writes data to it. */
static lmn_status write_value(hid_t loc, const char *name, bool attribute, hid_t file_type,
                              hid_t memory_type, int ndim, const hsize_t *dims, const void *data)
{
    hid_t space = ndim == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(ndim, dims, NULL);
    if (space < 0) return hdf5_fail(LMN_ERR_IO, "cannot describe the shape of", name);
    h5_value value = {.attribute = attribute};
    value.id = attribute ? H5Acreate2(loc, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT)
                         : H5Dcreate2(loc, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT,
                                      H5P_DEFAULT);
    lmn_status status = LMN_OK;
    if (value.id < 0)
        status = hdf5_fail(LMN_ERR_IO, "cannot create", name);
    else if (value_write(value, memory_type, data) < 0)
        status = hdf5_fail(LMN_ERR_IO, "cannot write", name);
    value_close(value);
    H5Sclose(space);
    return status;
}

static lmn_status write_string(hid_t loc, const char *name, bool attribute, const char *text)
{
    hid_t type = create_string_type();
    if (type < 0) return hdf5_fail(LMN_ERR_INTERNAL, "cannot make a string type for", name);
    lmn_status status = write_value(loc, name, attribute, type, type, 0, NULL, &text);
    H5Tclose(type);
    return status;
}

static lmn_status write_int64_attribute(hid_t loc, const char *name, int64_t value)
{
    return write_value(loc, name, true, H5T_STD_I64LE, H5T_NATIVE_INT64, 0, NULL, &value);
}

static lmn_status write_double_attribute(hid_t loc, const char *name, double value)
{
    return write_value(loc, name, true, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 0, NULL, &value);
}

static lmn_status write_tensor(hid_t group, const lmn_tensor_view *view, const float *data)
{
    hsize_t dims[LMN_TENSOR_MAX_DIMS];
    view_dims(view, dims);
    return write_value(group, view->name, false, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, view->ndim, dims,
                       data);
}

static lmn_status create_group(hid_t loc, const char *name, hid_t *group)
{
    *group = H5Gcreate2(loc, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    return *group < 0 ? hdf5_fail(LMN_ERR_IO, "cannot create group", name) : LMN_OK;
}


static lmn_status write_model(hid_t file, const lmn_network *net)
{
    hid_t group;
    LMN_TRY(create_group(file, "model", &group));
    lmn_status status = LMN_OK;
    for (int t = 0; t < net->tensor_count && status == LMN_OK; t++)
        status = write_tensor(group, &net->tensors[t], lmn_network_tensor_data(net, &net->tensors[t]));
    H5Gclose(group);
    return status;
}

/* One optimizer moment (same layout as params) as one dataset per learnable tensor. */
static lmn_status write_moment(hid_t optimizer, const char *name, const lmn_network *net,
                               const float *moment)
{
    hid_t group;
    LMN_TRY(create_group(optimizer, name, &group));
    lmn_status status = LMN_OK;
    for (int t = 0; t < net->tensor_count && status == LMN_OK; t++)
        if (!lmn_tensor_is_statistic(&net->tensors[t]))
            status = write_tensor(group, &net->tensors[t], moment + net->tensors[t].offset);
    H5Gclose(group);
    return status;
}

/* /optimizer/slimqn: its scalars and, once it took a step, its vectors in
 * the parameters' layout (optim/slimqn.h). */
static lmn_status write_slimqn(hid_t optimizer, const lmn_optimizer *opt)
{
    const double *scalars = NULL;
    const float *vectors = NULL;
    int vector_count = 0;
    LMN_TRY(lmn_slimqn_saved(opt->qn, &scalars, &vectors, &vector_count));
    hid_t group;
    LMN_TRY(create_group(optimizer, "slimqn", &group));
    const hsize_t count = lmn_slimqn_scalar_count(opt->qn);
    const hsize_t dims[2] = {(hsize_t)vector_count, opt->total};
    lmn_status status = write_value(group, "scalars", false, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1,
                                    &count, scalars);
    if (status == LMN_OK && vector_count > 0)
        status = write_value(group, "vectors", false, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, dims,
                             vectors);
    H5Gclose(group);
    return status;
}

static lmn_status write_optimizer(hid_t file, const lmn_network *net, const lmn_optimizer *opt)
{
    hid_t group;
    LMN_TRY(create_group(file, "optimizer", &group));
    lmn_status status = write_string(group, "kind", true, lmn_optimizer_names()[opt->config.kind]);
    if (status == LMN_OK) status = write_int64_attribute(group, "steps", opt->steps);
    if (status == LMN_OK) status = write_moment(group, "velocity", net, opt->velocity);
    if (status == LMN_OK && opt->second) status = write_moment(group, "second", net, opt->second);
    if (status == LMN_OK && opt->qn) status = write_slimqn(group, opt);
    H5Gclose(group);
    return status;
}

/* The /progress attributes, named, pointing into one progress record. */
enum { PROGRESS_INTEGERS = 4, PROGRESS_REALS = 5 };
typedef struct progress_fields {
    struct {
        const char *name;
        int64_t *value;
    } integers[PROGRESS_INTEGERS];
    struct {
        const char *name;
        double *value;
    } reals[PROGRESS_REALS];
} progress_fields;

static progress_fields fields_of(lmn_checkpoint_progress *p)
{
    return (progress_fields){
        .integers = {{"epoch", &p->epoch}, {"step_in_epoch", &p->step_in_epoch},
                     {"global_step", &p->global_step}, {"ranks", &p->ranks}},
        .reals = {{"epoch_loss", &p->epoch_loss}, {"epoch_correct", &p->epoch_correct},
                  {"epoch_samples", &p->epoch_samples}, {"elapsed_seconds", &p->elapsed_seconds},
                  {"epoch_comm_bytes", &p->epoch_comm_bytes}},
    };
}

static lmn_status write_progress(hid_t file, const lmn_checkpoint_progress *progress)
{
    lmn_checkpoint_progress copy = *progress;
    const progress_fields fields = fields_of(&copy);
    hid_t group;
    LMN_TRY(create_group(file, "progress", &group));
    lmn_status status = LMN_OK;
    for (int i = 0; i < PROGRESS_INTEGERS && status == LMN_OK; i++)
        status = write_int64_attribute(group, fields.integers[i].name, *fields.integers[i].value);
    for (int i = 0; i < PROGRESS_REALS && status == LMN_OK; i++)
        status = write_double_attribute(group, fields.reals[i].name, *fields.reals[i].value);
    H5Gclose(group);
    return status;
}

static lmn_status write_contents(hid_t file, const lmn_network *net, const lmn_optimizer *opt,
                                 const lmn_checkpoint_progress *progress, const char *config_yaml,
                                 const double *policy_state, int policy_state_count)
{
    LMN_TRY(write_string(file, "format", true, FORMAT_NAME));
    LMN_TRY(write_int64_attribute(file, "format_version", LMN_CHECKPOINT_FORMAT_VERSION));
    LMN_TRY(write_string(file, "config", false, config_yaml));
    LMN_TRY(write_model(file, net));
    if (opt) LMN_TRY(write_optimizer(file, net, opt));
    LMN_TRY(write_progress(file, progress));
    if (policy_state_count > 0) {
        const hsize_t count = (hsize_t)policy_state_count;
        LMN_TRY(write_value(file, "policy_state", false, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1,
                            &count, policy_state));
    }
    return LMN_OK;
}

/* Builds the whole file in memory (HDF5's core driver, no backing store)
 * and hands back its bytes. HDF5 never writes to disk here: when its own
 * writes fail (a full disk), it leaves the file half-closed and crashes at
 * exit, so the disk write is left to lmn_write_file_atomic. */
static lmn_status build_file_image(const char *path, const lmn_network *net,
                                   const lmn_optimizer *opt, const lmn_checkpoint_progress *progress,
                                   const char *config_yaml, const double *policy_state,
                                   int policy_state_count, void **image, size_t *size)
{
    *image = NULL;
    *size = 0;
    /* The core driver grows its buffer by this much at a time: about the
     * whole file, so that a large model is not copied over and over. */
    enum { METADATA_BYTES = 1 << 16 };
    const size_t moments = opt ? (opt->second ? 2 : 1) : 0;
    const size_t growth = METADATA_BYTES + strlen(config_yaml) +
                          sizeof(double) * (size_t)policy_state_count +
                          sizeof(float) * (net->state_count + net->param_count * (1 + moments));
    hid_t file_access = H5Pcreate(H5P_FILE_ACCESS);
    if (file_access < 0 || H5Pset_fapl_core(file_access, growth, false) < 0) {
        if (file_access >= 0) H5Pclose(file_access);
        return hdf5_fail(LMN_ERR_INTERNAL, "cannot set up an in-memory HDF5 file for", path);
    }
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, file_access);
    H5Pclose(file_access);
    if (file < 0) return hdf5_fail(LMN_ERR_IO, "cannot create an in-memory HDF5 file for", path);
    lmn_status status = write_contents(file, net, opt, progress, config_yaml, policy_state,
                                       policy_state_count);
    /* The image is what has been flushed: push the metadata cache first. */
    if (status == LMN_OK && H5Fflush(file, H5F_SCOPE_LOCAL) < 0)
        status = hdf5_fail(LMN_ERR_INTERNAL, "cannot flush the in-memory image of", path);
    const ssize_t bytes = status == LMN_OK ? H5Fget_file_image(file, NULL, 0) : 0;
    if (bytes < 0) status = hdf5_fail(LMN_ERR_INTERNAL, "cannot take the image of", path);
    if (status == LMN_OK) status = lmn_alloc_bytes(image, (size_t)bytes, "checkpoint file image");
    if (status == LMN_OK && H5Fget_file_image(file, *image, (size_t)bytes) != bytes)
        status = hdf5_fail(LMN_ERR_INTERNAL, "cannot take the image of", path);
    H5Fclose(file);
    if (status != LMN_OK) {
        lmn_free(*image);
        *image = NULL;
        return status;
    }
    *size = (size_t)bytes;
    return LMN_OK;
}

static lmn_status check_save_arguments(const char *path, const lmn_network *net,
                                       const lmn_optimizer *opt,
                                       const lmn_checkpoint_progress *progress,
                                       const char *config_yaml, const double *policy_state,
                                       int policy_state_count)
{
    if (!path || !path[0] || !net || !progress || !config_yaml)
        return lmn_fail(LMN_ERR_ARG, "checkpoint save needs a path, a network, progress and a config");
    if (policy_state_count < 0 || (policy_state_count > 0 && !policy_state))
        return lmn_fail(LMN_ERR_ARG, "checkpoint save: %d policy-state values but no buffer",
                        policy_state_count);
    if (opt && opt->total != net->param_count)
        return lmn_fail(LMN_ERR_ARG, "checkpoint save: the optimizer covers %zu values but the "
                        "network has %zu parameters", opt->total, net->param_count);
    for (int t = 0; t < net->tensor_count; t++)
        if (strchr(net->tensors[t].name, '/'))
            return lmn_fail(LMN_ERR_ARG, "cannot save tensor '%s' to a checkpoint: HDF5 reads '/' "
                            "as a group separator; rename its layer", net->tensors[t].name);
    return LMN_OK;
}

lmn_status lmn_checkpoint_save(const char *path, const lmn_network *net, const lmn_optimizer *opt,
                               const lmn_checkpoint_progress *progress, const char *config_yaml,
                               const double *policy_state, int policy_state_count)
{
    LMN_TRY(check_save_arguments(path, net, opt, progress, config_yaml, policy_state,
                                 policy_state_count));
    silence_hdf5();
    void *image = NULL;
    size_t size = 0;
    /* The out-of-core reader may be inside HDF5 on the I/O thread. */
    lmn_hdf5_lock();
    lmn_status status = build_file_image(path, net, opt, progress, config_yaml, policy_state,
                                         policy_state_count, &image, &size);
    lmn_hdf5_unlock();
    if (status == LMN_OK) status = lmn_write_file_atomic(path, image, size);
    lmn_free(image);
    if (status != LMN_OK) lmn_fail_context(status, "cannot save checkpoint '%s'", path);
    return status;
}

/* ---- reading ----------------------------------------------------------- */

/* Opens path read-only; see open_valid_checkpoint for the format check. */
static lmn_status open_checkpoint(const char *path, hid_t *file)
{
    *file = -1;
    silence_hdf5();
    if (access(path, R_OK) != 0)
        return lmn_fail(LMN_ERR_IO, "cannot open checkpoint '%s': %s", path, strerror(errno));
    if (H5Fis_hdf5(path) <= 0) return lmn_fail(LMN_ERR_FORMAT, NOT_HDF5, path);
    *file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (*file < 0) return lmn_fail(LMN_ERR_FORMAT, NOT_HDF5, path);
    return LMN_OK;
}

static lmn_status open_attribute(hid_t loc, const char *object, const char *name, const char *path,
                                 h5_value *value)
{
    value->attribute = true;
    snprintf(value->name, sizeof value->name, "%s@%s", object, name);
    value->id = H5Aexists(loc, name) > 0 ? H5Aopen(loc, name, H5P_DEFAULT) : -1;
    if (value->id < 0)
        return lmn_fail(LMN_ERR_FORMAT, "%s: '%s' has no attribute '%s' (not a lamina checkpoint?)",
                        path, object, name);
    return LMN_OK;
}

/* Opens dataset `name` of loc; full_name is its path in the file. */
static lmn_status open_dataset(hid_t loc, const char *name, const char *full_name, const char *path,
                               h5_value *value)
{
    value->attribute = false;
    snprintf(value->name, sizeof value->name, "%s", full_name);
    value->id = H5Lexists(loc, name, H5P_DEFAULT) > 0 ? H5Dopen2(loc, name, H5P_DEFAULT) : -1;
    if (value->id < 0) return lmn_fail(LMN_ERR_FORMAT, "%s: no dataset '%s'", path, full_name);
    const lmn_status status = lmn_hdf5_check_chunks(path, full_name, value->id);
    if (status != LMN_OK) {
        H5Dclose(value->id);
        value->id = -1;
    }
    return status;
}

static lmn_status open_group(hid_t file, const char *name, const char *path, hid_t *group)
{
    *group = H5Lexists(file, name, H5P_DEFAULT) > 0 ? H5Gopen2(file, name, H5P_DEFAULT) : -1;
    if (*group < 0) return lmn_fail(LMN_ERR_FORMAT, "%s: no group '%s'", path, name);
    return LMN_OK;
}

/* Checks that value holds `value_class` values of `bytes` bytes each (0: any
 * size) in the given shape (ndim -1: any shape of `count` elements). */
static lmn_status check_value_layout(h5_value value, H5T_class_t value_class, size_t bytes, int ndim,
                                     const hsize_t *dims, hssize_t count, const char *path)
{
    hid_t type = value_type(value);
    if (type < 0) return lmn_fail(LMN_ERR_FORMAT, "%s: cannot read the type of '%s'", path, value.name);
    const bool type_ok =
        H5Tget_class(type) == value_class && (bytes == 0 || H5Tget_size(type) == bytes);
    char found[DESCRIPTION_MAX];
    describe_type(type, found);
    H5Tclose(type);
    if (!type_ok) {
        char expected[DESCRIPTION_MAX];
        if (value_class == H5T_FLOAT && bytes)
            snprintf(expected, sizeof expected, "float%zu", bytes * 8);
        else
            snprintf(expected, sizeof expected, "%s",
                     value_class == H5T_FLOAT     ? "a float"
                     : value_class == H5T_INTEGER ? "an integer"
                                                  : "a string");
        return lmn_fail(LMN_ERR_FORMAT, "%s: '%s' has dtype %s, expected %s", path, value.name,
                        found, expected);
    }
    hid_t space = value_space(value);
    if (space < 0)
        return lmn_fail(LMN_ERR_FORMAT, "%s: cannot read the shape of '%s'", path, value.name);
    hsize_t found_dims[H5S_MAX_RANK];
    const int found_ndim = H5Sget_simple_extent_dims(space, found_dims, NULL);
    const hssize_t found_count = H5Sget_simple_extent_npoints(space);
    H5Sclose(space);
    bool same = ndim < 0 ? found_count == count : found_ndim == ndim;
    for (int d = 0; d < ndim && same; d++) same = found_dims[d] == dims[d];
    if (same) return LMN_OK;
    char found_shape[DESCRIPTION_MAX];
    format_shape(found_shape, found_ndim < 0 ? 0 : found_ndim, found_dims);
    if (ndim < 0)
        return lmn_fail(LMN_ERR_FORMAT, "%s: '%s' has shape %s, expected %lld values", path,
                        value.name, found_shape, (long long)count);
    char expected_shape[DESCRIPTION_MAX];
    format_shape(expected_shape, ndim, dims);
    return lmn_fail(LMN_ERR_FORMAT, "%s: %s: tensor '%s' has shape %s in the checkpoint but %s "
                    "in this model", path, DIFFERENT_MODEL, value.name, found_shape, expected_shape);
}

static lmn_status read_value(h5_value value, hid_t memory_type, void *out, const char *path)
{
    if (value_read(value, memory_type, out) < 0)
        return lmn_fail(LMN_ERR_FORMAT, "%s: cannot read '%s' (file truncated or corrupt)", path,
                        value.name);
    return LMN_OK;
}

/* Reads a single string, variable- or fixed-length, into a malloc'd copy. */
static lmn_status read_string(h5_value value, const char *path, char **out)
{
    *out = NULL;
    LMN_TRY(check_value_layout(value, H5T_STRING, 0, -1, NULL, 1, path));
    hid_t type = value_type(value);
    if (type < 0) return lmn_fail(LMN_ERR_FORMAT, "%s: cannot read the type of '%s'", path, value.name);
    lmn_status status = LMN_OK;
    if (H5Tis_variable_str(type) > 0) {
        char *text = NULL;
        status = read_value(value, type, &text, path);
        if (status == LMN_OK) {
            *out = strdup(text ? text : "");
            H5free_memory(text);
        }
    } else {
        const size_t size = H5Tget_size(type);
        *out = calloc(size + 1, 1);
        if (*out) status = read_value(value, type, *out, path);
    }
    H5Tclose(type);
    if (status == LMN_OK && !*out) status = lmn_fail(LMN_ERR_NOMEM, "cannot copy '%s'", value.name);
    if (status != LMN_OK) {
        free(*out);
        *out = NULL;
    }
    return status;
}

static lmn_status read_string_attribute(hid_t loc, const char *object, const char *name,
                                        const char *path, char **out)
{
    h5_value value;
    LMN_TRY(open_attribute(loc, object, name, path, &value));
    lmn_status status = read_string(value, path, out);
    value_close(value);
    return status;
}

/* Reads a scalar attribute of the given class as memory_type. */
static lmn_status read_scalar_attribute(hid_t loc, const char *object, const char *name,
                                        H5T_class_t value_class, hid_t memory_type, void *out,
                                        const char *path)
{
    h5_value value;
    LMN_TRY(open_attribute(loc, object, name, path, &value));
    lmn_status status = check_value_layout(value, value_class, 0, -1, NULL, 1, path);
    if (status == LMN_OK) status = read_value(value, memory_type, out, path);
    value_close(value);
    return status;
}

static lmn_status check_format(hid_t file, const char *path)
{
    char *format = NULL;
    LMN_TRY(read_string_attribute(file, "/", "format", path, &format));
    const bool ours = strcmp(format, FORMAT_NAME) == 0;
    lmn_status status = ours ? LMN_OK
                             : lmn_fail(LMN_ERR_FORMAT, "%s: format is '%s', not '%s'", path,
                                        format, FORMAT_NAME);
    free(format);
    LMN_TRY(status);
    int64_t version = 0;
    LMN_TRY(read_scalar_attribute(file, "/", "format_version", H5T_INTEGER, H5T_NATIVE_INT64,
                                  &version, path));
    if (version != LMN_CHECKPOINT_FORMAT_VERSION)
        return lmn_fail(LMN_ERR_FORMAT, "%s: checkpoint format version %lld, but this lamina reads "
                        "version %d", path, (long long)version, LMN_CHECKPOINT_FORMAT_VERSION);
    return LMN_OK;
}

static lmn_status open_valid_checkpoint(const char *path, hid_t *file)
{
    LMN_TRY(open_checkpoint(path, file));
    lmn_status status = check_format(*file, path);
    if (status != LMN_OK) {
        H5Fclose(*file);
        *file = -1;
    }
    return status;
}

/* Every dataset in group must be one of the network's tensors (learnable
 * ones only unless with_state). */
static lmn_status check_no_extra_tensors(hid_t group, const char *group_name,
                                         const lmn_network *net, bool with_state, const char *path)
{
    H5G_info_t info;
    if (H5Gget_info(group, &info) < 0)
        return lmn_fail(LMN_ERR_FORMAT, "%s: cannot list group '%s'", path, group_name);
    for (hsize_t i = 0; i < info.nlinks; i++) {
        char name[LMN_TENSOR_NAME_MAX + 8];
        const ssize_t length = H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, name,
                                                  sizeof name, H5P_DEFAULT);
        if (length < 0)
            return lmn_fail(LMN_ERR_FORMAT, "%s: cannot list group '%s'", path, group_name);
        const lmn_tensor_view *view =
            (size_t)length < sizeof name ? lmn_network_tensor(net, name) : NULL;
        if (!view || (!with_state && lmn_tensor_is_statistic(view)))
            return lmn_fail(LMN_ERR_FORMAT,
                            "%s: %s: it holds '%s/%s', which this model does not have", path,
                            DIFFERENT_MODEL, group_name, name);
    }
    return LMN_OK;
}

static lmn_status read_tensor(hid_t group, const char *group_name, const lmn_tensor_view *view,
                              float *out, const char *path)
{
    hsize_t dims[LMN_TENSOR_MAX_DIMS];
    view_dims(view, dims);
    if (H5Lexists(group, view->name, H5P_DEFAULT) <= 0) {
        char shape[DESCRIPTION_MAX];
        format_shape(shape, view->ndim, dims);
        return lmn_fail(LMN_ERR_FORMAT, "%s: %s: it has no '%s/%s' (shape %s in this model)", path,
                        DIFFERENT_MODEL, group_name, view->name, shape);
    }
    h5_value value;
    char full_name[VALUE_NAME_MAX];
    snprintf(full_name, sizeof full_name, "%s/%s", group_name, view->name);
    LMN_TRY(open_dataset(group, view->name, full_name, path, &value));
    lmn_status status = check_value_layout(value, H5T_FLOAT, sizeof(float), view->ndim, dims, 0, path);
    if (status == LMN_OK) status = read_value(value, H5T_NATIVE_FLOAT, out, path);
    value_close(value);
    return status;
}

/* Reads group_name's tensors into learnable (and state) at the views'
 * offsets. */
static lmn_status read_tensors(hid_t file, const char *group_name, const lmn_network *net,
                               bool with_state, float *learnable, float *state, const char *path)
{
    hid_t group;
    LMN_TRY(open_group(file, group_name, path, &group));
    lmn_status status = LMN_OK;
    for (int t = 0; t < net->tensor_count && status == LMN_OK; t++) {
        const lmn_tensor_view *view = &net->tensors[t];
        const bool statistic = lmn_tensor_is_statistic(view);
        if (statistic && !with_state) continue;
        status = read_tensor(group, group_name, view, (statistic ? state : learnable) + view->offset,
                             path);
    }
    if (status == LMN_OK) status = check_no_extra_tensors(group, group_name, net, with_state, path);
    H5Gclose(group);
    return status;
}

/* Everything read from a file, held until all of it has been validated. */
typedef struct checkpoint_contents {
    float *params, *state, *velocity, *second;
    int64_t steps;
    lmn_checkpoint_progress progress;
    double *policy_state;
    double *slimqn_scalars; /* SLIM-QN only */
    float *slimqn_vectors;
} checkpoint_contents;

static lmn_status copy_floats(float **out, const float *source, size_t count, const char *what)
{
    LMN_TRY(lmn_alloc_floats(out, count ? count : 1, what));
    if (count) memcpy(*out, source, count * sizeof **out);
    return LMN_OK;
}

/* Starts from the current values so that anything a view does not cover
 * keeps its value. */
static lmn_status allocate_contents(checkpoint_contents *c, const lmn_network *net,
                                    const lmn_optimizer *opt, int policy_state_count)
{
    LMN_TRY(copy_floats(&c->params, net->params, net->param_count, "checkpoint parameters"));
    LMN_TRY(copy_floats(&c->state, net->state, net->state_count, "checkpoint running statistics"));
    if (opt)
        LMN_TRY(copy_floats(&c->velocity, opt->velocity, opt->total, "checkpoint optimizer state"));
    if (opt && opt->second)
        LMN_TRY(copy_floats(&c->second, opt->second, opt->total, "checkpoint optimizer state"));
    return lmn_alloc_bytes((void **)&c->policy_state,
                           sizeof(double) * (size_t)(policy_state_count > 0 ? policy_state_count : 1),
                           "checkpoint policy state");
}

/* memcpy, but a network without running statistics has a NULL buffer. */
static void restore_floats(float *to, const float *from, size_t count)
{
    if (count) memcpy(to, from, count * sizeof *to);
}

static void free_contents(checkpoint_contents *c)
{
    lmn_free(c->params);
    lmn_free(c->state);
    lmn_free(c->velocity);
    lmn_free(c->second);
    lmn_free(c->policy_state);
    lmn_free(c->slimqn_scalars);
    lmn_free(c->slimqn_vectors);
}

static lmn_status read_slimqn_dataset(hid_t file, const char *name, hid_t memory_type,
                                      H5T_class_t value_class, size_t bytes, hssize_t count,
                                      void *out, const char *path)
{
    h5_value value;
    LMN_TRY(open_dataset(file, name, name, path, &value));
    lmn_status status = check_value_layout(value, value_class, bytes, -1, NULL, count, path);
    if (status == LMN_OK) status = read_value(value, memory_type, out, path);
    value_close(value);
    return status;
}

/* /optimizer/slimqn (optim/slimqn.h), checked against this optimizer. */
static lmn_status read_slimqn(hid_t file, const lmn_optimizer *opt, checkpoint_contents *c,
                              const char *path)
{
    const size_t count = lmn_slimqn_scalar_count(opt->qn);
    LMN_TRY(lmn_alloc_bytes((void **)&c->slimqn_scalars, sizeof(double) * count, "SLIM-QN state"));
    LMN_TRY(read_slimqn_dataset(file, "/optimizer/slimqn/scalars", H5T_NATIVE_DOUBLE, H5T_FLOAT,
                                sizeof(double), (hssize_t)count, c->slimqn_scalars, path));
    int vectors = 0;
    const lmn_status status = lmn_slimqn_check_state(opt, c->slimqn_scalars, count, &vectors);
    if (status != LMN_OK) return lmn_fail_context(status, "%s: /optimizer/slimqn", path);
    if (vectors == 0) return LMN_OK;
    const size_t values = (size_t)vectors * opt->total;
    LMN_TRY(lmn_alloc_floats(&c->slimqn_vectors, values, "SLIM-QN state"));
    LMN_TRY(read_slimqn_dataset(file, "/optimizer/slimqn/vectors", H5T_NATIVE_FLOAT, H5T_FLOAT,
                                sizeof(float), (hssize_t)values, c->slimqn_vectors, path));
    return lmn_floats_finite(c->slimqn_vectors, values)
               ? LMN_OK
               : lmn_fail(LMN_ERR_NUMERIC, "checkpoint '%s': /optimizer/slimqn/vectors holds "
                          "non-finite values", path);
}

static lmn_status read_optimizer(hid_t file, const lmn_network *net, const lmn_optimizer *opt,
                                 checkpoint_contents *c, const char *path)
{
    if (H5Lexists(file, "optimizer", H5P_DEFAULT) <= 0)
        return lmn_fail(LMN_ERR_FORMAT, "%s holds no optimizer state (it was saved for evaluation); "
                        "it can be evaluated but not resumed", path);
    hid_t group;
    LMN_TRY(open_group(file, "/optimizer", path, &group));
    char *kind = NULL;
    lmn_status status = read_string_attribute(group, "/optimizer", "kind", path, &kind);
    const char *expected = lmn_optimizer_names()[opt->config.kind];
    if (status == LMN_OK && strcmp(kind, expected) != 0)
        status = lmn_fail(LMN_ERR_CONFIG, "%s holds '%s' optimizer state but the configuration asks "
                          "for optimizer '%s'; resume with '%s' or start a new run", path, kind,
                          expected, kind);
    if (status == LMN_OK)
        status = read_scalar_attribute(group, "/optimizer", "steps", H5T_INTEGER, H5T_NATIVE_INT64,
                                       &c->steps, path);
    free(kind);
    H5Gclose(group);
    LMN_TRY(status);
    LMN_TRY(read_tensors(file, "/optimizer/velocity", net, false, c->velocity, NULL, path));
    if (opt->second)
        LMN_TRY(read_tensors(file, "/optimizer/second", net, false, c->second, NULL, path));
    if (opt->qn) LMN_TRY(read_slimqn(file, opt, c, path));
    return LMN_OK;
}

static lmn_status read_progress(hid_t file, lmn_checkpoint_progress *progress, const char *path)
{
    const progress_fields fields = fields_of(progress);
    hid_t group;
    LMN_TRY(open_group(file, "/progress", path, &group));
    lmn_status status = LMN_OK;
    /* ranks only informs a warning: a file without it (written by other
     * tools from the documented layout) reads as "unknown", 0. */
    progress->ranks = 0;
    for (int i = 0; i < PROGRESS_INTEGERS && status == LMN_OK; i++) {
        if (fields.integers[i].value == &progress->ranks && H5Aexists(group, "ranks") <= 0) continue;
        status = read_scalar_attribute(group, "/progress", fields.integers[i].name, H5T_INTEGER,
                                       H5T_NATIVE_INT64, fields.integers[i].value, path);
    }
    /* Checkpoints from before epoch_comm_bytes existed resume with 0. */
    progress->epoch_comm_bytes = 0.0;
    for (int i = 0; i < PROGRESS_REALS && status == LMN_OK; i++) {
        if (fields.reals[i].value == &progress->epoch_comm_bytes &&
            H5Aexists(group, "epoch_comm_bytes") <= 0)
            continue;
        status = read_scalar_attribute(group, "/progress", fields.reals[i].name, H5T_FLOAT,
                                       H5T_NATIVE_DOUBLE, fields.reals[i].value, path);
    }
    H5Gclose(group);
    return status;
}

static lmn_status read_policy_state(hid_t file, double *out, int count, const char *path)
{
    if (H5Lexists(file, "policy_state", H5P_DEFAULT) <= 0) {
        if (count == 0) return LMN_OK;
        return lmn_fail(LMN_ERR_FORMAT, "%s has no /policy_state dataset, but %d values are "
                        "needed (the epoch controller's state, then the sync policy's; see "
                        "src/io/checkpoint.h)", path, count);
    }
    h5_value value;
    LMN_TRY(open_dataset(file, "policy_state", "/policy_state", path, &value));
    lmn_status status = check_value_layout(value, H5T_FLOAT, sizeof(double), -1, NULL, count, path);
    if (status == LMN_OK && count > 0) status = read_value(value, H5T_NATIVE_DOUBLE, out, path);
    value_close(value);
    return status;
}

static lmn_status read_contents(hid_t file, const lmn_network *net, const lmn_optimizer *opt,
                                bool want_policy_state, int policy_state_count,
                                checkpoint_contents *c, const char *path)
{
    LMN_TRY(check_format(file, path));
    LMN_TRY(read_tensors(file, "/model", net, true, c->params, c->state, path));
    if (opt) LMN_TRY(read_optimizer(file, net, opt, c, path));
    LMN_TRY(read_progress(file, &c->progress, path));
    if (want_policy_state) LMN_TRY(read_policy_state(file, c->policy_state, policy_state_count, path));
    return LMN_OK;
}

/* A checkpoint with NaN or infinity (a diverged run, a damaged or edited
 * file) would train or evaluate on garbage: refuse it by name. */
static lmn_status refuse_non_finite(const char *path, const lmn_network *net,
                                    const lmn_optimizer *opt)
{
    char what[4200];
    snprintf(what, sizeof what, "checkpoint '%s' holds a model that is not finite", path);
    LMN_TRY(lmn_network_check_finite(net, what));
    if (opt && (!lmn_floats_finite(opt->velocity, opt->total) ||
                (opt->second && !lmn_floats_finite(opt->second, opt->total))))
        return lmn_fail(LMN_ERR_NUMERIC, "checkpoint '%s': the optimizer state (/optimizer) holds "
                        "non-finite values", path);
    return LMN_OK;
}

lmn_status lmn_checkpoint_load(const char *path, lmn_network *net, lmn_optimizer *opt,
                               lmn_checkpoint_progress *progress, double *policy_state,
                               int policy_state_count)
{
    if (!path || !net)
        return lmn_fail(LMN_ERR_ARG, "checkpoint load needs a path and a network");
    if (policy_state_count < 0)
        return lmn_fail(LMN_ERR_ARG, "checkpoint load: %d policy-state values", policy_state_count);
    if (opt && opt->total != net->param_count)
        return lmn_fail(LMN_ERR_ARG, "checkpoint load: the optimizer covers %zu values but the "
                        "network has %zu parameters", opt->total, net->param_count);
    checkpoint_contents contents = {0};
    lmn_status status = allocate_contents(&contents, net, opt, policy_state_count);
    hid_t file = -1;
    lmn_hdf5_lock();
    if (status == LMN_OK) status = open_checkpoint(path, &file);
    if (status == LMN_OK)
        status = read_contents(file, net, opt, policy_state != NULL, policy_state_count, &contents,
                               path);
    if (file >= 0) H5Fclose(file);
    lmn_hdf5_unlock();
    if (status == LMN_OK) {
        restore_floats(net->params, contents.params, net->param_count);
        restore_floats(net->state, contents.state, net->state_count);
        if (opt) {
            restore_floats(opt->velocity, contents.velocity, opt->total);
            if (opt->second) restore_floats(opt->second, contents.second, opt->total);
            opt->steps = contents.steps;
            if (opt->qn) lmn_slimqn_restore(opt, contents.slimqn_scalars, contents.slimqn_vectors);
            contents.slimqn_vectors = NULL; /* the optimizer's now */
        }
        if (progress) *progress = contents.progress;
        if (policy_state && policy_state_count > 0)
            memcpy(policy_state, contents.policy_state,
                   sizeof *policy_state * (size_t)policy_state_count);
        status = refuse_non_finite(path, net, opt);
    }
    free_contents(&contents);
    return status;
}

lmn_status lmn_checkpoint_policy_state_count(const char *path, int *count)
{
    *count = 0;
    hid_t file;
    LMN_TRY(open_valid_checkpoint(path, &file));
    lmn_status status = LMN_OK;
    if (H5Lexists(file, "policy_state", H5P_DEFAULT) > 0) {
        h5_value value;
        status = open_dataset(file, "policy_state", "/policy_state", path, &value);
        if (status == LMN_OK) {
            hid_t space = H5Dget_space(value.id);
            const hssize_t points = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
            if (space >= 0) H5Sclose(space);
            if (points < 0 || points > INT32_MAX)
                status = lmn_fail(LMN_ERR_FORMAT, "%s: cannot read the size of /policy_state", path);
            else
                *count = (int)points;
            value_close(value);
        }
    }
    H5Fclose(file);
    return status;
}

lmn_status lmn_checkpoint_read_config(const char *path, char **yaml_out)
{
    *yaml_out = NULL;
    hid_t file;
    LMN_TRY(open_valid_checkpoint(path, &file));
    h5_value value;
    lmn_status status = open_dataset(file, "config", "/config", path, &value);
    if (status == LMN_OK) {
        status = read_string(value, path, yaml_out);
        value_close(value);
    }
    H5Fclose(file);
    return status;
}

/* ---- run directories --------------------------------------------------- */

enum { STEP_DIGITS = 12, MAX_STEP_DIGITS = 18 };

typedef struct checkpoint_entry {
    int64_t step;
    bool temporary; /* an unfinished save: ckpt-<step>.h5.tmp.<suffix> */
    char name[256]; /* as listed in the directory */
} checkpoint_entry;

/* Parses STEP_DIGITS..MAX_STEP_DIGITS digits at *cursor. */
static bool parse_step(const char **cursor, int64_t *step)
{
    int count = 0;
    *step = 0;
    for (; **cursor >= '0' && **cursor <= '9'; (*cursor)++, count++) {
        if (count == MAX_STEP_DIGITS) return false;
        *step = *step * 10 + (**cursor - '0');
    }
    return count >= STEP_DIGITS;
}

/* Recognises ckpt-<step>.h5 and the temporary files of saves to it. */
static bool parse_entry_name(const char *name, checkpoint_entry *entry)
{
    if (strncmp(name, "ckpt-", 5) != 0 || strlen(name) >= sizeof entry->name) return false;
    const char *cursor = name + 5;
    if (!parse_step(&cursor, &entry->step) || strncmp(cursor, ".h5", 3) != 0) return false;
    cursor += 3;
    entry->temporary = *cursor != '\0';
    if (entry->temporary && (strncmp(cursor, ".tmp.", 5) != 0 || !cursor[5])) return false;
    snprintf(entry->name, sizeof entry->name, "%s", name);
    return true;
}

static int compare_entries(const void *a, const void *b)
{
    const checkpoint_entry *x = a, *y = b;
    if (x->step != y->step) return x->step < y->step ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Lists dir's checkpoint and temporary files, oldest step first. The
 * caller frees *entries with lmn_free. */
static lmn_status list_entries(const char *dir, checkpoint_entry **entries, size_t *count)
{
    *entries = NULL;
    *count = 0;
    DIR *listing = opendir(dir);
    if (!listing)
        return lmn_fail(LMN_ERR_IO, "cannot list checkpoint directory '%s': %s", dir, strerror(errno));
    size_t capacity = 0;
    lmn_status status = LMN_OK;
    for (struct dirent *item = readdir(listing); item && status == LMN_OK; item = readdir(listing)) {
        checkpoint_entry entry;
        if (!parse_entry_name(item->d_name, &entry)) continue;
        status = lmn_grow_array((void **)entries, &capacity, *count + 1, sizeof entry,
                                "checkpoint list");
        if (status == LMN_OK) (*entries)[(*count)++] = entry;
    }
    closedir(listing);
    if (status != LMN_OK) {
        lmn_free(*entries);
        *entries = NULL;
        *count = 0;
        return status;
    }
    if (*count) qsort(*entries, *count, sizeof **entries, compare_entries);
    return LMN_OK;
}

static lmn_status remove_entry(const char *dir, const checkpoint_entry *entry)
{
    lmn_text path = {0};
    LMN_TRY(lmn_text_appendf(&path, "%s/%s", dir, entry->name));
    lmn_status status = LMN_OK;
    if (unlink(path.data) != 0 && errno != ENOENT)
        status = lmn_fail(LMN_ERR_IO, "cannot delete old checkpoint '%s': %s", path.data,
                          strerror(errno));
    lmn_text_free(&path);
    return status;
}

lmn_status lmn_checkpoint_prune(const char *dir, int keep)
{
    if (keep < 0) return lmn_fail(LMN_ERR_ARG, "checkpoints to keep must be >= 0, not %d", keep);
    checkpoint_entry *entries;
    size_t count;
    LMN_TRY(list_entries(dir, &entries, &count));
    size_t complete = 0;
    int64_t newest_step = -1;
    for (size_t i = 0; i < count; i++)
        if (!entries[i].temporary) {
            complete++;
            newest_step = entries[i].step;
        }
    /* Entries are oldest first, so the first complete ones go. Saves run
     * in step order, so a temporary file older than a complete checkpoint
     * is what a crashed save left behind. */
    size_t to_delete = complete > (size_t)keep ? complete - (size_t)keep : 0;
    lmn_status status = LMN_OK;
    for (size_t i = 0; i < count && status == LMN_OK; i++) {
        const checkpoint_entry *entry = &entries[i];
        if (!entry->temporary && to_delete > 0) {
            to_delete--;
            status = remove_entry(dir, entry);
        } else if (entry->temporary && entry->step < newest_step) {
            status = remove_entry(dir, entry);
        }
    }
    lmn_free(entries);
    return status;
}

lmn_status lmn_checkpoint_find_latest(const char *dir, char *path_out, size_t size)
{
    checkpoint_entry *entries;
    size_t count;
    LMN_TRY(list_entries(dir, &entries, &count));
    lmn_status status = LMN_OK;
    bool found = false;
    lmn_text path = {0};
    for (size_t i = count; i-- > 0 && !found && status == LMN_OK;) {
        if (entries[i].temporary) continue;
        path.length = 0;
        status = lmn_text_appendf(&path, "%s/%s", dir, entries[i].name);
        hid_t file;
        if (status == LMN_OK && open_valid_checkpoint(path.data, &file) == LMN_OK) {
            H5Fclose(file);
            found = true;
        } else if (status == LMN_OK) {
            fprintf(stderr, "lamina: warning: skipping checkpoint '%s': %s\n", path.data,
                    lmn_last_error());
        }
    }
    lmn_free(entries);
    if (status == LMN_OK && !found)
        status = lmn_fail(LMN_ERR_IO, "no complete checkpoint (ckpt-<step>.h5) in directory '%s'", dir);
    if (status == LMN_OK && (size_t)snprintf(path_out, size, "%s", path.data) >= size)
        status = lmn_fail(LMN_ERR_ARG, "checkpoint path '%s' does not fit in %zu bytes", path.data,
                          size);
    lmn_text_free(&path);
    return status;
}

void lmn_checkpoint_name(char *out, size_t size, const char *dir, int64_t global_step)
{
    snprintf(out, size, "%s/ckpt-%0*lld.h5", dir, STEP_DIGITS, (long long)global_step);
}
