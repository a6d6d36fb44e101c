#ifndef LMN_CORE_TIMER_H
#define LMN_CORE_TIMER_H

/* Monotonic wall-clock seconds. */
double lmn_now(void);

#endif
