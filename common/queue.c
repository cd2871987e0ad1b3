/*
 * queue: one mutex and two condition variables around a singly linked
 * list.  Consumers of the work condition are woken one per push; the
 * stop condition is separate so that a timer thread waiting for stop can
 * never swallow a wake-up meant for a worker.
 */
#include <errno.h>
#include <stdint.h>

#include "clock.h"
#include "err.h"
#include "queue.h"

void
sd_queue_init(struct sd_queue *q, size_t max)
{
	pthread_mutex_init(&q->lock, NULL);
	sd_cond_init(&q->cond);
	sd_cond_init(&q->stop_cond);
	q->head = q->tail = NULL;
	q->len = 0;
	q->max = max;
	q->bytes = 0;
	q->stopping = 0;
}

void
sd_queue_destroy(struct sd_queue *q)
{
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->cond);
	pthread_cond_destroy(&q->stop_cond);
}

int
sd_queue_push_bytes(
    struct sd_queue *q, struct sd_qnode *n, size_t bytes, size_t max_bytes)
{
	int r = 0;

	n->next = NULL;
	n->bytes = bytes;
	pthread_mutex_lock(&q->lock);
	if (q->stopping)
		r = SD_ERR_SHUTDOWN;
	else if (q->len >= q->max || bytes > max_bytes ||
	    q->bytes > max_bytes - bytes)
		r = SD_ERR_BUSY;
	if (r == 0) {
		if (q->tail != NULL)
			q->tail->next = n;
		else
			q->head = n;
		q->tail = n;
		q->len++;
		q->bytes += bytes;
		pthread_cond_signal(&q->cond);
	}
	pthread_mutex_unlock(&q->lock);
	return r;
}

int
sd_queue_push(struct sd_queue *q, struct sd_qnode *n)
{
	return sd_queue_push_bytes(q, n, 0, SIZE_MAX);
}

static struct sd_qnode *
take_head(struct sd_queue *q)
{
	struct sd_qnode *n = q->head;

	q->head = n->next;
	if (q->head == NULL)
		q->tail = NULL;
	q->len--;
	q->bytes -= n->bytes;
	n->next = NULL;
	return n;
}

/* Take into out[0..cap) until want nodes were taken, the queue is
 * stopping, or the deadline passed (until NULL: none); what is there at
 * the deadline is taken too.  *stopped: stopping, and nothing taken. */
static size_t
take_until(struct sd_queue *q, struct sd_qnode **out, size_t cap, size_t want,
    const struct timespec *until, int *stopped)
{
	size_t n = 0;
	int r = 0;

	if (want > cap)
		want = cap;
	pthread_mutex_lock(&q->lock);
	for (;;) {
		while (n < cap && q->head != NULL)
			out[n++] = take_head(q);
		if (n >= want || q->stopping || r == ETIMEDOUT)
			break;
		r = until == NULL
		    ? pthread_cond_wait(&q->cond, &q->lock)
		    : pthread_cond_timedwait(&q->cond, &q->lock, until);
	}
	*stopped = n == 0 && q->stopping;
	pthread_mutex_unlock(&q->lock);
	return n;
}

size_t
sd_queue_pop(struct sd_queue *q, struct sd_qnode **out, size_t cap,
    long wait_ms, int *stopped)
{
	struct timespec until;

	if (wait_ms < 0)
		return take_until(q, out, cap, 1, NULL, stopped);
	until = sd_deadline_ms(wait_ms);
	return take_until(q, out, cap, 1, &until, stopped);
}

size_t
sd_queue_pop_until(struct sd_queue *q, struct sd_qnode **out, size_t cap,
    size_t want, const struct timespec *until)
{
	int stopped;

	return take_until(q, out, cap, want, until, &stopped);
}

struct sd_qnode *
sd_queue_take_old(
    struct sd_queue *q, int (*old)(const struct sd_qnode *, void *), void *arg)
{
	struct sd_qnode *list = NULL, **end = &list;

	pthread_mutex_lock(&q->lock);
	while (q->head != NULL && old(q->head, arg)) {
		*end = take_head(q);
		end = &(*end)->next;
	}
	pthread_mutex_unlock(&q->lock);
	return list;
}

void
sd_queue_stop(struct sd_queue *q)
{
	pthread_mutex_lock(&q->lock);
	q->stopping = 1;
	pthread_cond_broadcast(&q->cond);
	pthread_cond_broadcast(&q->stop_cond);
	pthread_mutex_unlock(&q->lock);
}

int
sd_queue_wait_stop(struct sd_queue *q, long ms)
{
	struct timespec until = sd_deadline_ms(ms);
	int stopped;

	pthread_mutex_lock(&q->lock);
	if (!q->stopping)
		(void)pthread_cond_timedwait(&q->stop_cond, &q->lock, &until);
	stopped = q->stopping;
	pthread_mutex_unlock(&q->lock);
	return stopped;
}
