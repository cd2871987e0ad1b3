/*
 * acceptor: see acceptor.h.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "acceptor.h"
#include "http.h"
#include "log.h"
#include "sd_limits.h"

#define POLL_MS 200     /* how often a stop is looked for */
#define BATCH 64        /* accepts in a row before looking around */
#define DRAIN_MAX 65536 /* bytes of a refused client's request read away */
#define LINGER_MAX 256  /* refused connections lingering at once */
#define LINGER_MS 250   /* how long one lingers at most */
#define LINGER_POLL_MS 50

/* A refused connection, answered and shut for writing, read away until
 * its client closes it or LINGER_MS pass. */
struct lingering {
	int fd;
	struct timespec due;
};

struct acceptor {
	int fd;
	unsigned int max;
	struct corelink *core;
	acceptor_admit_fn *admit;
	void *arg;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int open, stopping;
	unsigned int held; /* admitted, or waiting for the core */
	pthread_t lthread;
	struct lingering lg[LINGER_MAX]; /* under mu */
	unsigned int nlg;
};

/* One accepted socket, until the core's word. */
struct pending {
	struct acceptor *a;
	int fd;
};

static struct log_gate gate_full = LOG_GATE_INIT;

static void release(struct acceptor *a);

/* Read what fd holds (DRAIN_MAX at most): 1 when its client is gone. */
static int
drain(int fd)
{
	char buf[4096];
	size_t got = 0;
	ssize_t n;

	while (got < DRAIN_MAX &&
	    (n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		got += (size_t)n;
	return got < DRAIN_MAX && n <= 0 &&
	    (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK));
}

/*
 * A refused connection: the core's answer, and the end.  The socket is
 * shut for writing (the client reads the answer, then the end) and left
 * to linger a little, read away, so that a client that writes its request
 * only now does not fail to send it before reading the answer (EPIPE);
 * closed at once when LINGER_MAX linger already.
 */
static void
refuse(struct acceptor *a, int fd, const struct proto_reply *reply)
{
	http_raw_answer(
	    fd, reply->status, (const char *)reply->body, reply->len);
	(void)shutdown(fd, SHUT_WR);
	if (drain(fd)) {
		close(fd);
		release(a);
		return;
	}
	pthread_mutex_lock(&a->mu);
	/* a lingering one keeps its place among max_connections (its file
	 * is open): at most a quarter of them linger */
	if (a->nlg < LINGER_MAX && a->nlg < a->max / 4 && !a->stopping) {
		a->lg[a->nlg].fd = fd;
		clock_gettime(CLOCK_MONOTONIC, &a->lg[a->nlg].due);
		a->lg[a->nlg].due.tv_nsec += LINGER_MS * 1000000L;
		if (a->lg[a->nlg].due.tv_nsec >= 1000000000L) {
			a->lg[a->nlg].due.tv_sec++;
			a->lg[a->nlg].due.tv_nsec -= 1000000000L;
		}
		a->nlg++;
		fd = -1;
	}
	pthread_mutex_unlock(&a->mu);
	if (fd >= 0) {
		close(fd);
		release(a);
	}
}

/* The lingering connections: each closed when its client closes it or
 * its time is up. */
static void *
linger_main(void *arg)
{
	struct acceptor *a = arg;
	struct timespec t = { 0, LINGER_POLL_MS * 1000000L }, now;
	struct pollfd pf[LINGER_MAX];
	unsigned char gone[LINGER_MAX];
	unsigned int n, i, j;
	int stop;

	for (;;) {
		pthread_mutex_lock(&a->mu);
		for (n = 0; n < a->nlg; n++) {
			pf[n].fd = a->lg[n].fd;
			pf[n].events = POLLIN;
			pf[n].revents = 0;
		}
		pthread_mutex_unlock(&a->mu);
		if (n == 0 || poll(pf, n, LINGER_POLL_MS) < 0) {
			nanosleep(&t, NULL);
			n = 0;
		}
		/* only this thread closes them: the first n stay where they
		 * are (new ones are appended) */
		for (i = 0; i < n; i++)
			gone[i] =
			    (pf[i].revents & (POLLIN | POLLHUP | POLLERR)) &&
			    drain(pf[i].fd);
		clock_gettime(CLOCK_MONOTONIC, &now);
		pthread_mutex_lock(&a->mu);
		stop = a->stopping;
		for (i = j = 0; i < a->nlg; i++) {
			if (stop || (i < n && gone[i]) ||
			    now.tv_sec > a->lg[i].due.tv_sec ||
			    (now.tv_sec == a->lg[i].due.tv_sec &&
				now.tv_nsec >= a->lg[i].due.tv_nsec)) {
				close(a->lg[i].fd);
				a->held--; /* release(), under mu already */
				pthread_cond_signal(&a->cv);
			} else
				a->lg[j++] = a->lg[i];
		}
		a->nlg = j;
		pthread_mutex_unlock(&a->mu);
		if (stop)
			return NULL;
	}
}

static void
release(struct acceptor *a)
{
	pthread_mutex_lock(&a->mu);
	a->held--;
	pthread_cond_signal(&a->cv);
	pthread_mutex_unlock(&a->mu);
}

/* corelink_admit_fn: on the channel's reading thread. */
static void
decided(void *arg, struct corelink_conn *lc, struct proto_reply *reply)
{
	struct pending *p = arg;
	struct acceptor *a = p->a;

	if (reply == NULL) {
		a->admit(a->arg, p->fd, lc); /* held until acceptor_closed */
	} else {
		refuse(a, p->fd, reply); /* releases its place when closed */
		free(reply->body);
		corelink_conn_close(lc, PROTO_GONE);
	}
	free(p);
}

/* Wait until the acceptor is open and has room: 1, or 0 to stop. */
static int
room(struct acceptor *a)
{
	unsigned long missed;
	int said = 0, go;

	pthread_mutex_lock(&a->mu);
	while (!a->stopping && (!a->open || a->held >= a->max)) {
		if (a->open && !said &&
		    log_gate_pass(&gate_full, SD_LOG_LIMIT_EVERY_MS, &missed))
			log_warn("front: %u connections, max_connections: "
				 "new ones wait in the listen queue (%lu "
				 "times since this was last said)",
			    a->max, missed);
		said = 1;
		pthread_cond_wait(&a->cv, &a->mu);
	}
	go = !a->stopping;
	pthread_mutex_unlock(&a->mu);
	return go;
}

/* Accept what the listen queue holds (BATCH at most); -1 on an error
 * other than an empty queue or a client gone. */
static int
accept_some(struct acceptor *a)
{
	struct pending *p;
	int i, fd;

	for (i = 0; i < BATCH && room(a); i++) {
		fd = accept4(a->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ||
				errno == ECONNABORTED || errno == EINTR
			    ? 0
			    : -1;
		pthread_mutex_lock(&a->mu);
		a->held++;
		pthread_mutex_unlock(&a->mu);
		if ((p = malloc(sizeof(*p))) != NULL) {
			p->a = a;
			p->fd = fd;
		}
		if (p == NULL ||
		    corelink_conn_open(a->core, fd, decided, p) == NULL) {
			free(p);
			close(fd);
			release(a);
		}
	}
	return 0;
}

static void *
acceptor_main(void *arg)
{
	struct acceptor *a = arg;
	struct pollfd pf = { a->fd, POLLIN, 0 };
	struct timespec pause = { 0, 100 * 1000000L };

	while (room(a)) {
		if (poll(&pf, 1, POLL_MS) <= 0)
			continue;
		if (accept_some(a) != 0) { /* EMFILE, ENOMEM: wait a little */
			log_warn("front: accept: %s", strerror(errno));
			nanosleep(&pause, NULL);
		}
	}
	return NULL;
}

struct acceptor *
acceptor_start(int listen_fd, unsigned int max_conns, struct corelink *core,
    acceptor_admit_fn *admit, void *arg)
{
	struct acceptor *a = calloc(1, sizeof(*a));

	if (a == NULL)
		return NULL;
	a->fd = listen_fd;
	a->max = max_conns;
	a->core = core;
	a->admit = admit;
	a->arg = arg;
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->cv, NULL);
	if (pthread_create(&a->thread, NULL, acceptor_main, a) != 0) {
		free(a);
		return NULL;
	}
	if (pthread_create(&a->lthread, NULL, linger_main, a) != 0) {
		pthread_mutex_lock(&a->mu);
		a->stopping = 1;
		pthread_cond_broadcast(&a->cv);
		pthread_mutex_unlock(&a->mu);
		pthread_join(a->thread, NULL);
		free(a);
		return NULL;
	}
	return a;
}

void
acceptor_open(struct acceptor *a)
{
	pthread_mutex_lock(&a->mu);
	a->open = 1;
	pthread_cond_broadcast(&a->cv);
	pthread_mutex_unlock(&a->mu);
}

void
acceptor_closed(struct acceptor *a)
{
	release(a);
}

void
acceptor_stop(struct acceptor *a)
{
	if (a == NULL)
		return;
	pthread_mutex_lock(&a->mu);
	a->stopping = 1;
	pthread_cond_broadcast(&a->cv);
	pthread_mutex_unlock(&a->mu);
	pthread_join(a->thread, NULL);
	pthread_join(a->lthread, NULL);
	close(a->fd);
}
