/* Status codes and error messages.
 *
 * Every function that can fail returns an lmn_status. The failing function
 * records a human-readable message with lmn_fail(); callers may prefix
 * context with lmn_fail_context(). The message lives in a thread-local
 * buffer (like errno) so that status codes stay plain integers. */
#ifndef LMN_CORE_STATUS_H
#define LMN_CORE_STATUS_H

typedef enum lmn_status {
    LMN_OK = 0,
    LMN_ERR_ARG,      /* invalid argument from a caller */
    LMN_ERR_IO,       /* file missing, unreadable, unwritable */
    LMN_ERR_FORMAT,   /* file content malformed (magic, truncation, dtype) */
    LMN_ERR_CONFIG,   /* configuration key unknown, wrong type, bad value */
    LMN_ERR_SHAPE,    /* shapes that cannot work together */
    LMN_ERR_NOMEM,    /* allocation failed */
    LMN_ERR_BACKEND,  /* a compute library (oneDNN, BLAS) refused */
    LMN_ERR_MPI,      /* an MPI call failed or ranks disagree */
    LMN_ERR_NUMERIC,  /* NaN/Inf where a finite number was required */
    LMN_ERR_INTERNAL  /* a bug in lamina */
} lmn_status;

/* Records a printf-style message for the calling thread and returns code. */
lmn_status lmn_fail(lmn_status code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prefixes the current message with "context: " and returns code. */
lmn_status lmn_fail_context(lmn_status code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The calling thread's last message ("" if none). */
const char *lmn_last_error(void);

/* Clears the calling thread's message. */
void lmn_clear_error(void);

/* Short name of a status code, e.g. "config error". */
const char *lmn_status_name(lmn_status code);

/* Propagates a failing status to the caller. */
#define LMN_TRY(expr)                                                    \
    do {                                                                 \
        lmn_status lmn_try_status_ = (expr);                             \
        if (lmn_try_status_ != LMN_OK) return lmn_try_status_;           \
    } while (0)

#endif
