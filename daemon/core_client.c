/*
 * core_client: core.h in the front process, over the socketpair to the
 * core (fcmsg.h).  The calls send their message and return; a thread
 * reads the core's answers and calls each request's done.  The front
 * takes the core at its word only for what the core decides; a message
 * from the core that breaks the protocol, or the end of the stream,
 * ends the front (the keeper starts a new one), since the front cannot
 * answer its clients without a core.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core_client.h"
#include "err.h"
#include "fcmsg.h"
#include "log.h"

#define BUCKETS 1024
#define IN_MAX (WIRE_MSG_MAX) /* a reply: a ledger page at most */

struct waiting {
	uint64_t id;
	core_done_fn *done;
	void *arg;
	struct waiting *next;
};

struct core {
	int sock;
	pthread_t reader;
	pthread_mutex_t send_mu, mu;
	uint64_t next_conn, next_req;
	struct waiting *bucket[BUCKETS];
	void (*on_stop)(void *);
	void *arg;
	atomic_int stopped; /* FC_STOP came: the core may end the channel */
	uint8_t *in;
};

/* A connection is made known to the core with its first request (a
 * client that connects and says nothing costs the core nothing); fd
 * stays the front's meanwhile. */
struct core_conn {
	struct core *c;
	uint64_t id;
	int fd;    /* until sent */
	int known; /* FC_CONN sent */
};

static void __attribute__((noreturn)) core_gone(const char *why)
{
	log_error("front: %s: exiting", why);
	_exit(1);
}

/* Send m (with fd, or -1): the core must take it. */
static void
send_msg(struct core *c, const struct fc_msg *m, int fd)
{
	uint8_t buf[16 * 1024];
	size_t len;
	int r;

	if (fc_encode(m, buf, sizeof(buf), &len) != 0)
		core_gone("a message the core would refuse");
	pthread_mutex_lock(&c->send_mu);
	r = wire_send(c->sock, buf, len, fd);
	pthread_mutex_unlock(&c->send_mu);
	if (r != 0 && !atomic_load(&c->stopped))
		core_gone("the core does not take messages");
}

/* A request waits for its answer from now on. */
static uint64_t
wait_for(struct core *c, core_done_fn *done, void *arg)
{
	struct waiting *w = malloc(sizeof(*w));

	if (w == NULL)
		core_gone("out of memory");
	pthread_mutex_lock(&c->mu);
	w->id = ++c->next_req;
	w->done = done;
	w->arg = arg;
	w->next = c->bucket[w->id % BUCKETS];
	c->bucket[w->id % BUCKETS] = w;
	pthread_mutex_unlock(&c->mu);
	return w->id;
}

/* The request the core answers; NULL for an id it never had. */
static struct waiting *
answered(struct core *c, uint64_t id)
{
	struct waiting **e, *w = NULL;

	pthread_mutex_lock(&c->mu);
	for (e = &c->bucket[id % BUCKETS]; *e != NULL; e = &(*e)->next)
		if ((*e)->id == id) {
			w = *e;
			*e = w->next;
			break;
		}
	pthread_mutex_unlock(&c->mu);
	return w;
}

static void
reply(struct core *c, const struct fc_msg *m)
{
	struct waiting *w = answered(c, m->req);
	struct core_reply r;

	if (w == NULL)
		core_gone("an answer to no request");
	if (m->type == FC_GO) {
		w->done(w->arg, NULL);
		free(w);
		return;
	}
	r.status = m->status;
	r.ctype = fc_ctype_name(m->ctype);
	r.len = m->body_len;
	if ((r.body = malloc(r.len > 0 ? r.len : 1)) != NULL && r.len > 0)
		memcpy(r.body, m->body, r.len);
	w->done(w->arg, &r);
	free(w);
}

static void *
reader_main(void *arg)
{
	struct core *c = arg;
	struct wire_in in;
	struct fc_msg m;
	const uint8_t *msg;
	size_t len;
	int r, fd;

	wire_in_init(&in, c->sock, c->in, IN_MAX);
	for (;;) {
		r = wire_in_next(&in, &msg, &len, &fd);
		if (r == SD_ERR_NOT_FOUND && atomic_load(&c->stopped))
			return NULL; /* the end of a stop */
		if (r == SD_ERR_NOT_FOUND)
			core_gone("the core ended the channel");
		if (r != 0 || fd >= 0 || fc_decode(msg, len, &m) != 0)
			core_gone("a malformed message from the core");
		switch (m.type) {
		case FC_GO:
		case FC_REPLY:
			reply(c, &m);
			break;
		case FC_STOP:
			atomic_store(&c->stopped, 1);
			c->on_stop(c->arg);
			break;
		default:
			core_gone("a message the core does not send");
		}
	}
	return NULL;
}

struct core *
core_client_start(int sock, void (*on_stop)(void *), void *arg)
{
	struct core *c = calloc(1, sizeof(*c));

	if (c == NULL || (c->in = malloc(IN_MAX)) == NULL) {
		free(c);
		return NULL;
	}
	c->sock = sock;
	c->on_stop = on_stop;
	c->arg = arg;
	pthread_mutex_init(&c->send_mu, NULL);
	pthread_mutex_init(&c->mu, NULL);
	if (pthread_create(&c->reader, NULL, reader_main, c) != 0) {
		free(c->in);
		free(c);
		return NULL;
	}
	return c;
}

struct core_conn *
core_conn_open(struct core *c, int fd)
{
	struct core_conn *cc = calloc(1, sizeof(*cc));

	if (cc == NULL)
		return NULL;
	cc->c = c;
	cc->fd = fd;
	return cc;
}

/* Before the first request on cc: FC_CONN with its socket (only the MHD
 * thread calls this, as it calls core_begin and core_submit). */
static void
make_known(struct core_conn *cc)
{
	struct fc_msg m;

	if (cc->known)
		return;
	pthread_mutex_lock(&cc->c->mu);
	cc->id = ++cc->c->next_conn;
	pthread_mutex_unlock(&cc->c->mu);
	memset(&m, 0, sizeof(m));
	m.type = FC_CONN;
	m.conn = cc->id;
	send_msg(cc->c, &m, cc->fd);
	cc->known = 1;
}

void
core_conn_close(struct core_conn *cc)
{
	struct fc_msg m;

	if (cc == NULL)
		return;
	if (cc->known) {
		memset(&m, 0, sizeof(m));
		m.type = FC_CLOSE;
		m.conn = cc->id;
		send_msg(cc->c, &m, -1);
	}
	free(cc);
}

void
core_begin(
    struct core_conn *cc, enum core_route route, core_done_fn *done, void *arg)
{
	struct fc_msg m;

	make_known(cc);
	memset(&m, 0, sizeof(m));
	m.type = FC_BEGIN;
	m.conn = cc->id;
	m.rq.route = route;
	m.req = wait_for(cc->c, done, arg);
	send_msg(cc->c, &m, -1);
}

void
core_submit(struct core_conn *cc, const struct core_req *rq, core_done_fn *done,
    void *arg)
{
	static __thread struct fc_msg m;

	make_known(cc);
	memset(&m, 0, sizeof(m));
	m.type = FC_REQ;
	m.conn = cc->id;
	m.rq = *rq;
	m.req = wait_for(cc->c, done, arg);
	send_msg(cc->c, &m, -1);
}
