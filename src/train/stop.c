#define _POSIX_C_SOURCE 200809L
#include "train/stop.h"

#include <signal.h>
#include <string.h>

/* A signal handler can only talk through a global of this type: the one
 * piece of process-wide mutable state in lamina, by necessity. */
static volatile sig_atomic_t stop_signal_number;

static void on_stop_signal(int number) { stop_signal_number = number; }

void lmn_stop_signals_install(void)
{
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGUSR1, &action, NULL);
}

bool lmn_stop_requested(void) { return stop_signal_number != 0; }

int lmn_stop_signal(void) { return (int)stop_signal_number; }
