/*
 * clock: the few time helpers seald needs, on CLOCK_MONOTONIC for
 * intervals and CLOCK_REALTIME for condition-variable deadlines.
 */
#ifndef SD_CLOCK_H
#define SD_CLOCK_H

#include <time.h>

/* Milliseconds elapsed since t (a CLOCK_MONOTONIC reading). */
long sd_ms_since(const struct timespec *t);

/* A CLOCK_REALTIME deadline ms milliseconds from now, for
 * pthread_cond_timedwait. */
struct timespec sd_deadline_ms(long ms);

#endif
