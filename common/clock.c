/*
 * clock: interval and deadline arithmetic, in one place so that every
 * module normalizes nanoseconds the same way.
 */
#include "clock.h"

long
sd_ms_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t->tv_sec) * 1000L +
	    (now.tv_nsec - t->tv_nsec) / 1000000L;
}

struct timespec
sd_deadline_us(long us)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += us / 1000000L;
	ts.tv_nsec += (us % 1000000L) * 1000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

struct timespec
sd_deadline_ms(long ms)
{
	return sd_deadline_us(ms * 1000L);
}

void
sd_cond_init(pthread_cond_t *c)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(c, &a);
	pthread_condattr_destroy(&a);
}

int64_t
sd_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int
sd_wait_zero(atomic_int *count, long max_ms)
{
	struct timespec ts = { 0, 10 * 1000000L }, start;

	clock_gettime(CLOCK_MONOTONIC, &start);
	while (atomic_load(count) > 0 && sd_ms_since(&start) < max_ms)
		nanosleep(&ts, NULL);
	return atomic_load(count) > 0 ? -1 : 0;
}
