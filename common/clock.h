/*
 * clock: the few time helpers seald needs.  Intervals and deadlines are on
 * CLOCK_MONOTONIC, so a step of the wall clock neither stalls nor hurries
 * a timeout; condition variables that wait on such deadlines must be made
 * with sd_cond_init.
 */
#ifndef SD_CLOCK_H
#define SD_CLOCK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

/* Milliseconds elapsed since t (a CLOCK_MONOTONIC reading). */
long sd_ms_since(const struct timespec *t);

/* A deadline ms milliseconds from now, for pthread_cond_timedwait on a
 * condition variable made with sd_cond_init. */
struct timespec sd_deadline_ms(long ms);

/* The same, us microseconds from now. */
struct timespec sd_deadline_us(long us);

/* The wall clock (CLOCK_REALTIME) in microseconds since the epoch: the
 * time ledger entries record. */
int64_t sd_now_us(void);

/* Initialize a condition variable that times out on CLOCK_MONOTONIC. */
void sd_cond_init(pthread_cond_t *c);

/* Poll (every 10 ms) until *count is 0, at most max_ms: 0, or -1 when
 * it is not.  For a shutdown waiting on the requests in flight. */
int sd_wait_zero(atomic_int *count, long max_ms);

#endif
