/* lamina: the public C API.
 *
 * Train a model described by a lamina configuration (the YAML of
 * `lamina train`, see `lamina train --help`) from a C program, on data
 * lamina loads by name or on data the program supplies through callbacks,
 * data-parallel over the ranks of MPI_COMM_WORLD or as a federated
 * simulation (`lamina fl`).
 *
 *   lamina_init(&argc, &argv);
 *   lamina_config *cfg; lamina_config_from_string("model: lenet\n...", &cfg);
 *   lamina_session *s;  lamina_session_create(cfg, NULL, &s);
 *   lamina_session_set_data(s, train, test);      (optional: own data)
 *   lamina_train(s);
 *   lamina_evaluate(s, &loss, &accuracy);
 *   lamina_session_free(s); lamina_config_free(cfg); lamina_finalize();
 *
 * Build: cc prog.c $(pkg-config --cflags --libs lamina); run under mpirun
 * (or as one process without it).
 *
 * Errors. Every call that can fail returns a lamina_status; LAMINA_OK is
 * 0. On failure lamina_last_error() holds a message naming the key, file,
 * rank or value at fault. The message is per thread (like errno) and stays
 * until the next failing call on that thread.
 *
 * MPI. Calls marked "collective" must be made by every rank of
 * MPI_COMM_WORLD, in the same order, with the same arguments (a callback's
 * results excepted, see below); they return the same status on every rank.
 * A failure on one rank fails the call on all of them, so no rank waits
 * forever. lamina uses its own duplicate of MPI_COMM_WORLD: its messages
 * never mix with the program's.
 *
 * Threads. lamina runs its own OpenMP threads (the `threads` key) and, for
 * some parallel strategies, a communication thread; the program calls the
 * API from one thread per process, the one that called lamina_init. lamina
 * installs no signal handlers: a program that wants SIGTERM to end
 * training with a checkpoint installs its own and returns a non-OK status
 * from its epoch callback.
 *
 * Ownership. A pointer passed in is borrowed for the call unless the call
 * says it takes it; an object made by lamina_X_create / _from_* is freed by
 * the matching _free, which accepts NULL. */
#ifndef LAMINA_H
#define LAMINA_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define LAMINA_API __attribute__((visibility("default")))
#else
#define LAMINA_API
#endif

typedef enum lamina_status {
    LAMINA_OK = 0,
    LAMINA_ERR_ARG,      /* a bad argument, or a call out of order */
    LAMINA_ERR_IO,       /* a file missing, unreadable or unwritable */
    LAMINA_ERR_FORMAT,   /* a file's content is malformed */
    LAMINA_ERR_CONFIG,   /* a configuration key unknown, of the wrong type, out of range */
    LAMINA_ERR_SHAPE,    /* shapes that cannot work together (model vs data) */
    LAMINA_ERR_NOMEM,    /* out of memory */
    LAMINA_ERR_BACKEND,  /* a compute library (oneDNN, BLAS) refused */
    LAMINA_ERR_MPI,      /* an MPI call failed, or the ranks disagree */
    LAMINA_ERR_NUMERIC,  /* training diverged (NaN or infinity) */
    LAMINA_ERR_INTERNAL, /* a bug in lamina */
    LAMINA_ERR_STOPPED   /* an epoch callback asked to stop (its own status is kept) */
} lamina_status;

/* ---- Library ---------------------------------------------------------- */

/* Starts lamina in this process. Initializes MPI (MPI_Init_thread with
 * MPI_THREAD_MULTIPLE) unless the program already did, in which case
 * lamina uses the MPI the program started and never finalizes it. argc and
 * argv are passed to MPI_Init_thread and may be NULL. A program that
 * starts MPI itself should ask for MPI_THREAD_MULTIPLE: the strategies
 * with a communication thread (parallel.strategy: overlap, multistep)
 * refuse a lower level by name at lamina_train. Collective. */
LAMINA_API lamina_status lamina_init(int *argc, char ***argv);

/* Ends lamina: finalizes MPI if and only if lamina_init initialized it.
 * Every session must have been freed. Collective. */
LAMINA_API void lamina_finalize(void);

/* This process's rank in MPI_COMM_WORLD and the number of ranks (after
 * lamina_init). Not collective. */
LAMINA_API int lamina_rank(void);
LAMINA_API int lamina_size(void);

/* The calling thread's last error message ("" if none). The text belongs
 * to lamina and lives until the next failing call on this thread. */
LAMINA_API const char *lamina_last_error(void);

/* A short name for a status ("config error"); static text. */
LAMINA_API const char *lamina_status_name(lamina_status status);

/* The library's version, e.g. "0.1.0"; static text. */
LAMINA_API const char *lamina_version(void);

/* ---- Configuration ---------------------------------------------------- */

/* A lamina configuration: the keys of `lamina train --help`. Not
 * collective (each rank holds its own; give every rank the same). */
typedef struct lamina_config lamina_config;

/* Reads a YAML file (as `lamina train FILE`). */
LAMINA_API lamina_status lamina_config_from_file(const char *path, lamina_config **out);
/* Parses YAML text; the text is copied. */
LAMINA_API lamina_status lamina_config_from_string(const char *yaml, lamina_config **out);
/* Sets one key, like `--set KEY=VALUE`: key is a dotted path
 * ("optimizer.lr", "model[2].out"), value is parsed as YAML ("0.1",
 * "lenet", "[6, 16]", "{name: sgd}"). Missing maps on the way are made. */
LAMINA_API lamina_status lamina_config_set(lamina_config *cfg, const char *key, const char *value);
/* The configuration as YAML text; *out is malloc'ed, the caller free()s it. */
LAMINA_API lamina_status lamina_config_to_yaml(const lamina_config *cfg, char **out);
LAMINA_API void lamina_config_free(lamina_config *cfg);

/* ---- Data the program supplies ---------------------------------------- */

/* A classification set whose samples the program produces on demand. */
typedef struct lamina_dataset lamina_dataset;

typedef struct lamina_dataset_callbacks {
    /* The number of samples (at most 2^32 - 1). */
    int64_t (*count)(void *user);
    /* One sample's shape: channels, height, width (channels 1..16); and
     * the number of classes (labels lie in [0, classes)). */
    void (*shape)(void *user, int *channels, int *height, int *width, int *classes);
    /* Writes samples indices[0..n) (any order, repeats allowed) as
     * n x channels x height x width floats into inputs and their labels
     * into labels; either pointer may be NULL (not wanted). lamina uses
     * the values as they are (no normalization). Called from a lamina
     * thread, one call at a time per dataset; it must give the same sample
     * for the same index every time and on every rank. Non-OK fails the
     * training step on every rank. */
    lamina_status (*fill)(void *user, const uint32_t *indices, int n, float *inputs,
                          int32_t *labels);
    /* Called once when lamina drops the dataset (may be NULL). */
    void (*release)(void *user);
} lamina_dataset_callbacks;

/* Makes a dataset around the callbacks (copied) and user (borrowed until
 * release). name (may be NULL: "user") names it in messages. Calls count
 * and shape once. Not collective. */
LAMINA_API lamina_status lamina_dataset_create(const lamina_dataset_callbacks *callbacks,
                                               void *user, const char *name,
                                               lamina_dataset **out);
/* Frees a dataset no session took (calls release). */
LAMINA_API void lamina_dataset_free(lamina_dataset *dataset);

/* ---- Sessions ----------------------------------------------------------- */

/* A session: one configuration's backend, data, network and optimizer,
 * made when a call first needs them (evaluation alone never loads the
 * training set). */
typedef struct lamina_session lamina_session;

/* Metrics at the end of an epoch of lamina_train. test_loss and
 * test_accuracy are -1 when the configuration turns evaluation off
 * (train.eval: false). */
typedef struct lamina_epoch_metrics {
    int epoch;             /* 1-based */
    int64_t step;          /* optimizer steps so far */
    double learning_rate;
    double train_loss, train_accuracy;
    double test_loss, test_accuracy;
} lamina_epoch_metrics;

/* Called on every rank after each epoch of lamina_train (not yet for the
 * rounds of lamina_fl, whose metrics go to out_dir/metrics.jsonl) with
 * the same metrics. Return
 * LAMINA_OK to go on; anything else ends training and lamina_train
 * returns it (return the same on every rank). */
typedef lamina_status (*lamina_epoch_callback)(void *user, const lamina_epoch_metrics *metrics);

/* Makes a session of cfg (copied: cfg may be freed afterwards). out_dir
 * (may be NULL) receives the run's files, metrics.jsonl and checkpoints,
 * as `lamina train --out`; with NULL nothing is written and
 * lamina_checkpoint is refused. Collective. */
LAMINA_API lamina_status lamina_session_create(const lamina_config *cfg, const char *out_dir,
                                               lamina_session **out);

/* Trains and evaluates on the program's data instead of data.*: the
 * session takes both datasets (also when the call fails; do not free them).
 * Their shapes must agree. Before the first train / evaluate / resume.
 * Data-parallel training only (lamina_fl partitions a set lamina loads).
 * Collective. */
LAMINA_API lamina_status lamina_session_set_data(lamina_session *session, lamina_dataset *train,
                                                 lamina_dataset *test);

/* Sets (or with NULL clears) the per-epoch callback. Not collective. */
LAMINA_API void lamina_session_on_epoch(lamina_session *session, lamina_epoch_callback callback,
                                        void *user);

/* Trains data-parallel for train.epochs (or train.max_steps), from where
 * lamina_resume left off; once per session. Collective. */
LAMINA_API lamina_status lamina_train(lamina_session *session);

/* Runs the federated simulation of the configuration's fl.* keys (as
 * `lamina fl`) on the data of data.*; the session's network then holds
 * the server model; once per session. Collective. */
LAMINA_API lamina_status lamina_fl(lamina_session *session);

/* Evaluates the current model on the test set: the mean loss and the
 * accuracy (NAN for regression), identical bits on every rank whatever
 * their number. Either pointer may be NULL. On a session that has not
 * trained, the model is the initialized one, or a resumed checkpoint's;
 * evaluating first on data.* loads the test set only, and such a session
 * cannot train afterwards (use a new one). Collective. */
LAMINA_API lamina_status lamina_evaluate(lamina_session *session, double *loss, double *accuracy);

/* Writes a checkpoint of the current state into out_dir
 * (ckpt-<step>.h5, as `lamina train`). Collective. */
LAMINA_API lamina_status lamina_checkpoint(lamina_session *session);

/* Continues from a checkpoint: a file, a directory (its newest complete
 * checkpoint) or "auto" (the newest in out_dir; a fresh start when there is
 * none). Before lamina_train. Collective. */
LAMINA_API lamina_status lamina_resume(lamina_session *session, const char *from);

/* Frees the session, its network and data (the datasets it took).
 * Collective (it frees MPI communicators). */
LAMINA_API void lamina_session_free(lamina_session *session);

#ifdef __cplusplus
}
#endif

#endif
