/*
 * deadline: see deadline.h.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "deadline.h"
#include "err.h"
#include "http.h"

#define TICK_NS (100 * 1000000L)

struct deadlines {
	pthread_mutex_t mu;
	unsigned int head_s, body_s;
	struct dl_conn *list;
	pthread_t thread;
	char late_head[256], late_body[256]; /* the 408s' bodies */
};

static int
past(const struct timespec *now, const struct timespec *due)
{
	return now->tv_sec > due->tv_sec ||
	    (now->tv_sec == due->tv_sec && now->tv_nsec >= due->tv_nsec);
}

/* Answer e 408 and shut its socket down.  Under d->mu. */
static void
expire(struct deadlines *d, struct dl_conn *e)
{
	const char *body = e->phase == DL_HEAD ? d->late_head : d->late_body;

	e->late = e->phase == DL_HEAD ? PROTO_HEAD_LATE : PROTO_BODY_LATE;
	e->phase = DL_NONE;
	http_raw_answer(e->fd, 408, body, strlen(body));
	(void)shutdown(e->fd, SHUT_RDWR);
}

static void *
reaper_main(void *arg)
{
	struct deadlines *d = arg;
	struct timespec tick = { 0, TICK_NS }, now;
	struct dl_conn *e;

	for (;;) {
		nanosleep(&tick, NULL);
		clock_gettime(CLOCK_MONOTONIC, &now);
		pthread_mutex_lock(&d->mu);
		for (e = d->list; e != NULL; e = e->next)
			if (e->phase != DL_NONE && past(&now, &e->due))
				expire(d, e);
		pthread_mutex_unlock(&d->mu);
	}
	return NULL;
}

/* The 408's body for a part that takes s seconds. */
static void
late_body(char *buf, size_t len, const char *part, unsigned int s)
{
	snprintf(buf, len,
	    "{\"error\":{\"code\":\"%s\",\"message\":\"the request %s did "
	    "not come whole within %u s\",\"request_id\":null}}",
	    sd_err_api_code(SD_ERR_REQUEST_TIMEOUT), part, s);
}

struct deadlines *
deadlines_start(unsigned int head_s, unsigned int body_s)
{
	struct deadlines *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return NULL;
	pthread_mutex_init(&d->mu, NULL);
	d->head_s = head_s;
	d->body_s = body_s;
	late_body(d->late_head, sizeof(d->late_head), "head", head_s);
	late_body(d->late_body, sizeof(d->late_body), "body", body_s);
	if (pthread_create(&d->thread, NULL, reaper_main, d) != 0) {
		free(d);
		return NULL;
	}
	return d;
}

/* Under d->mu. */
static void
set_phase(struct deadlines *d, struct dl_conn *e, enum dl_phase p)
{
	e->phase = p;
	if (p == DL_NONE)
		return;
	clock_gettime(CLOCK_MONOTONIC, &e->due);
	e->due.tv_sec += p == DL_HEAD ? d->head_s : d->body_s;
}

void
dl_track(struct deadlines *d, struct dl_conn *e, int fd)
{
	memset(e, 0, sizeof(*e));
	e->fd = fd;
	e->late = PROTO_GONE;
	pthread_mutex_lock(&d->mu);
	set_phase(d, e, DL_HEAD);
	e->next = d->list;
	if (d->list != NULL)
		d->list->prev = e;
	d->list = e;
	pthread_mutex_unlock(&d->mu);
}

void
dl_phase(struct deadlines *d, struct dl_conn *e, enum dl_phase p)
{
	pthread_mutex_lock(&d->mu);
	if (e->late == PROTO_GONE)
		set_phase(d, e, p);
	pthread_mutex_unlock(&d->mu);
}

enum proto_close_why
dl_late(struct deadlines *d, struct dl_conn *e)
{
	enum proto_close_why r;

	pthread_mutex_lock(&d->mu);
	r = e->late;
	pthread_mutex_unlock(&d->mu);
	return r;
}

void
dl_untrack(struct deadlines *d, struct dl_conn *e)
{
	pthread_mutex_lock(&d->mu);
	if (e->prev != NULL)
		e->prev->next = e->next;
	else
		d->list = e->next;
	if (e->next != NULL)
		e->next->prev = e->prev;
	e->prev = e->next = NULL;
	pthread_mutex_unlock(&d->mu);
}
