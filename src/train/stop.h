/* Graceful stop on SIGTERM / SIGUSR1 (what Slurm sends before preemption):
 * the handler only raises a flag; the trainer agrees on it across ranks at
 * the end of a step, checkpoints and exits 0. */
#ifndef LMN_TRAIN_STOP_H
#define LMN_TRAIN_STOP_H

#include <stdbool.h>

/* Installs the handlers (idempotent). */
void lmn_stop_signals_install(void);
/* True once a stop signal arrived on this process. */
bool lmn_stop_requested(void);
/* The signal that asked to stop (0 if none). */
int lmn_stop_signal(void);

#endif
