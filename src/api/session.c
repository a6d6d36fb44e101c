/* include/lamina.h: sessions. A session holds a copy of the configuration
 * and, from the first call that needs one, a trainer opened for what that
 * call does (train/trainer.h: lmn_trainer_open): data-parallel training,
 * federated simulation, or evaluation alone, which loads only the test set. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "comm/comm.h"
#include "core/memory.h"
#include "train/federated.h"
#include "train/trainer.h"

struct lamina_session {
    lmn_cfg *cfg;                       /* the session's own copy */
    char *out_dir;                      /* NULL: nothing written */
    lmn_comm *comm;                     /* a duplicate of MPI_COMM_WORLD */
    lmn_dataset *train_set, *test_set;  /* the program's, until the trainer takes them */
    lmn_trainer *trainer;               /* NULL until a call needs it */
    lmn_trainer_purpose purpose;        /* what the trainer was opened for */
    bool trained;                       /* lamina_train or lamina_fl ran */
    lamina_epoch_callback on_epoch;
    void *on_epoch_user;
    lamina_status callback_status;      /* what the callback returned to stop */
};

static lamina_status refuse(lmn_status code, const char *message)
{
    return lmn_api_status(lmn_fail(code, "%s", message));
}

/* A copy through the YAML text: the program may free its configuration. */
static lmn_status copy_config(const lmn_cfg *cfg, lmn_cfg **out)
{
    char *text = NULL;
    size_t length = 0;
    LMN_TRY(lmn_cfg_to_yaml(cfg, &text, &length));
    const lmn_status status = lmn_cfg_parse_string(text, lmn_cfg_origin(cfg), out);
    lmn_free(text);
    return status;
}

lamina_status lamina_session_create(const lamina_config *config, const char *out_dir,
                                    lamina_session **out)
{
    *out = NULL;
    if (!config) return refuse(LMN_ERR_ARG, "lamina_session_create: no configuration");
    lamina_session *s = calloc(1, sizeof *s);
    if (!s) return refuse(LMN_ERR_NOMEM, "cannot allocate a session");
    lmn_status status = copy_config(config->cfg, &s->cfg);
    if (status == LMN_OK && out_dir && !(s->out_dir = strdup(out_dir)))
        status = lmn_fail(LMN_ERR_NOMEM, "cannot copy the output directory name");
    if (status == LMN_OK) status = lmn_comm_create(MPI_COMM_WORLD, &s->comm);
    if (status != LMN_OK) {
        lamina_session_free(s);
        return lmn_api_status(status);
    }
    *out = s;
    return LAMINA_OK;
}

lamina_status lamina_session_set_data(lamina_session *s, lamina_dataset *train, lamina_dataset *test)
{
    lmn_dataset *train_set = lmn_api_dataset_take(train), *test_set = lmn_api_dataset_take(test);
    lmn_status status = LMN_OK;
    if (!s || !train_set || !test_set)
        status = lmn_fail(LMN_ERR_ARG, "lamina_session_set_data: needs a session, a training and "
                          "a test set");
    else if (s->trainer || s->train_set)
        status = lmn_fail(LMN_ERR_ARG, "lamina_session_set_data: the session already has its "
                          "data (set it once, before train, evaluate or resume)");
    if (s) status = lmn_comm_agree(s->comm, status);
    if (status != LMN_OK) {
        lmn_dataset_free(train_set);
        lmn_dataset_free(test_set);
        return lmn_api_status(status);
    }
    s->train_set = train_set;
    s->test_set = test_set;
    return LAMINA_OK;
}

void lamina_session_on_epoch(lamina_session *s, lamina_epoch_callback callback, void *user)
{
    s->on_epoch = callback;
    s->on_epoch_user = user;
}

/* The trainer's epoch hook: the program's callback, and its verdict. */
static lmn_status epoch_hook(void *ctx, const lmn_epoch_report *r)
{
    lamina_session *s = ctx;
    if (!s->on_epoch) return LMN_OK;
    const lamina_epoch_metrics metrics = {r->epoch, r->global_step, r->lr, r->train_loss,
                                          r->train_acc, r->test_loss, r->test_acc};
    const lamina_status verdict = s->on_epoch(s->on_epoch_user, &metrics);
    if (verdict == LAMINA_OK) return LMN_OK;
    s->callback_status = verdict;
    return lmn_fail(LMN_ERR_ARG, "the epoch callback stopped training after epoch %d (%s)",
                    r->epoch, lamina_status_name(verdict));
}

static const char *purpose_name(lmn_trainer_purpose purpose)
{
    return purpose == LMN_PURPOSE_TRAIN ? "data-parallel training"
         : purpose == LMN_PURPOSE_FEDERATED ? "federated simulation" : "evaluation";
}

/* Opens the session's trainer for `purpose`, once; a later call for
 * another purpose is refused, since the first one loaded other data. */
static lmn_status need_trainer(lamina_session *s, lmn_trainer_purpose purpose)
{
    if (s->trainer) {
        if (s->purpose == purpose || purpose == LMN_PURPOSE_EVALUATE) return LMN_OK;
        return lmn_fail(LMN_ERR_ARG, "this session was opened for %s, not %s: use a new session",
                        purpose_name(s->purpose), purpose_name(purpose));
    }
    if (purpose == LMN_PURPOSE_FEDERATED && s->train_set)
        return lmn_fail(LMN_ERR_ARG, "lamina_fl partitions a set lamina loads (data.*) among its "
                        "clients; a program's dataset trains with lamina_train");
    /* With the program's data there is nothing to spare by evaluating alone. */
    if (purpose == LMN_PURPOSE_EVALUATE && s->train_set) purpose = LMN_PURPOSE_TRAIN;
    const lmn_trainer_options options = {.purpose = purpose, .out_dir = s->out_dir,
                                         .train_set = s->train_set, .test_set = s->test_set};
    s->train_set = s->test_set = NULL; /* the trainer's now, whatever the outcome */
    LMN_TRY(lmn_trainer_open(s->cfg, s->comm, &options, &s->trainer));
    s->purpose = purpose;
    s->trainer->on_epoch = epoch_hook;
    s->trainer->on_epoch_ctx = s;
    return LMN_OK;
}

static lmn_status begin_training(lamina_session *s, lmn_trainer_purpose purpose)
{
    if (s->trained)
        return lmn_fail(LMN_ERR_ARG, "this session has trained already; to train further, "
                        "lamina_resume a checkpoint in a new session");
    LMN_TRY(need_trainer(s, purpose));
    s->trained = true;
    s->callback_status = LAMINA_OK;
    return LMN_OK;
}

lamina_status lamina_train(lamina_session *s)
{
    if (!s) return refuse(LMN_ERR_ARG, "lamina_train: no session");
    lmn_status status = begin_training(s, LMN_PURPOSE_TRAIN);
    if (status == LMN_OK) status = lmn_trainer_run(s->trainer);
    if (status != LMN_OK && s->callback_status != LAMINA_OK) return s->callback_status;
    return lmn_api_status(status);
}

lamina_status lamina_fl(lamina_session *s)
{
    if (!s) return refuse(LMN_ERR_ARG, "lamina_fl: no session");
    lmn_status status = begin_training(s, LMN_PURPOSE_FEDERATED);
    if (status == LMN_OK) status = lmn_federated_run(s->trainer);
    return lmn_api_status(status);
}

lamina_status lamina_evaluate(lamina_session *s, double *loss, double *accuracy)
{
    if (!s) return refuse(LMN_ERR_ARG, "lamina_evaluate: no session");
    double mean_loss = NAN, hits = NAN;
    lmn_status status = need_trainer(s, LMN_PURPOSE_EVALUATE);
    if (status == LMN_OK) status = lmn_trainer_evaluate(s->trainer, &mean_loss, &hits);
    if (loss) *loss = mean_loss;
    if (accuracy) *accuracy = hits;
    return lmn_api_status(status);
}

lamina_status lamina_checkpoint(lamina_session *s)
{
    if (!s) return refuse(LMN_ERR_ARG, "lamina_checkpoint: no session");
    if (!s->trainer)
        return refuse(LMN_ERR_ARG, "lamina_checkpoint: nothing to save yet (train or resume first)");
    return lmn_api_status(lmn_trainer_checkpoint(s->trainer));
}

lamina_status lamina_resume(lamina_session *s, const char *from)
{
    if (!s || !from) return refuse(LMN_ERR_ARG, "lamina_resume: needs a session and a checkpoint");
    if (s->trained)
        return refuse(LMN_ERR_ARG, "lamina_resume: resume before training, in a new session");
    lmn_status status = need_trainer(s, LMN_PURPOSE_TRAIN);
    if (status == LMN_OK) status = lmn_trainer_resume(s->trainer, from);
    return lmn_api_status(status);
}

void lamina_session_free(lamina_session *s)
{
    if (!s) return;
    lmn_trainer_free(s->trainer);
    lmn_dataset_free(s->train_set);
    lmn_dataset_free(s->test_set);
    lmn_comm_free(s->comm);
    lmn_cfg_free(s->cfg);
    free(s->out_dir);
    free(s);
}
