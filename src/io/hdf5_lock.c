#include "io/hdf5_lock.h"

#include <pthread.h>

static pthread_once_t lock_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t hdf5_mutex;

/* Recursive: a checkpoint load may call helpers that lock again. */
static void make_lock(void)
{
    pthread_mutexattr_t attributes;
    pthread_mutexattr_init(&attributes);
    pthread_mutexattr_settype(&attributes, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&hdf5_mutex, &attributes);
    pthread_mutexattr_destroy(&attributes);
}

void lmn_hdf5_lock(void)
{
    pthread_once(&lock_once, make_lock);
    pthread_mutex_lock(&hdf5_mutex);
}

void lmn_hdf5_unlock(void)
{
    pthread_mutex_unlock(&hdf5_mutex);
}
