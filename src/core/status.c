#include "core/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum { MESSAGE_CAPACITY = 2048 };

static _Thread_local char last_message[MESSAGE_CAPACITY];

lmn_status lmn_fail(lmn_status code, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    vsnprintf(last_message, sizeof last_message, fmt, args);
    va_end(args);
    return code;
}

lmn_status lmn_fail_context(lmn_status code, const char *fmt, ...)
{
    char previous[MESSAGE_CAPACITY];
    memcpy(previous, last_message, sizeof previous);
    va_list args;
    va_start(args, fmt);
    int used = vsnprintf(last_message, sizeof last_message, fmt, args);
    va_end(args);
    if (used >= 0 && (size_t)used < sizeof last_message && previous[0]) {
        /* A message longer than the buffer is cut; the start matters most. */
        const size_t room = sizeof last_message - (size_t)used;
        const size_t length = strnlen(previous, room);
        if (room > 3) {
            memcpy(last_message + used, ": ", 2);
            const size_t copied = length < room - 3 ? length : room - 3;
            memcpy(last_message + used + 2, previous, copied);
            last_message[(size_t)used + 2 + copied] = '\0';
        }
    }
    return code;
}

const char *lmn_last_error(void) { return last_message; }

void lmn_clear_error(void) { last_message[0] = '\0'; }

const char *lmn_status_name(lmn_status code)
{
    switch (code) {
    case LMN_OK: return "ok";
    case LMN_ERR_ARG: return "invalid argument";
    case LMN_ERR_IO: return "i/o error";
    case LMN_ERR_FORMAT: return "format error";
    case LMN_ERR_CONFIG: return "config error";
    case LMN_ERR_SHAPE: return "shape error";
    case LMN_ERR_NOMEM: return "out of memory";
    case LMN_ERR_BACKEND: return "backend error";
    case LMN_ERR_MPI: return "mpi error";
    case LMN_ERR_NUMERIC: return "numeric error";
    case LMN_ERR_INTERNAL: return "internal error";
    }
    return "unknown error";
}
