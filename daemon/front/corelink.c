/*
 * corelink: see corelink.h.  The front takes the core at its word only
 * for what the core decides; a message from the core that breaks the
 * protocol, or the end of the stream, ends the front (the keeper starts a
 * new one), since the front cannot answer its clients without a core.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "corelink.h"
#include "err.h"
#include "proto.h"
#include "log.h"

#define BUCKETS 1024

struct waiting {
	uint64_t id;
	proto_done_fn *done;
	void *arg;
	struct waiting *next;
};

struct corelink {
	int sock;
	pthread_t reader;
	pthread_mutex_t send_mu, mu;
	uint64_t next_conn, next_req;
	struct waiting *bucket[BUCKETS]; /* requests, by req id */
	struct waiting *admits[BUCKETS]; /* connections, by conn id */
	void (*on_stop)(void *);
	void *arg;
	atomic_int stopped; /* PROTO_STOP came: the core may end the channel */
	uint8_t *in;
};

/* A connection, made known to the core as it is accepted. */
struct corelink_conn {
	struct corelink *c;
	uint64_t id;
	atomic_int admitted; /* the core keeps it: PROTO_CLOSE at its end */
};

static void __attribute__((noreturn)) link_gone(const char *why)
{
	log_error("front: %s: exiting", why);
	_exit(1);
}

/* Send m (with fd, or -1): the core must take it. */
static void
send_msg(struct corelink *c, const struct proto_msg *m, int fd)
{
	uint8_t buf[16 * 1024];
	size_t len;
	int r;

	if (proto_encode(m, buf, sizeof(buf), &len) != 0)
		link_gone("a message the core would refuse");
	pthread_mutex_lock(&c->send_mu);
	r = wire_send(c->sock, buf, len, fd);
	pthread_mutex_unlock(&c->send_mu);
	if (r != 0 && !atomic_load(&c->stopped))
		link_gone("the core does not take messages");
}

/* A request (table c->bucket) or a connection (c->admits) waits for
 * the core's answer from now on, under a new id of its kind, returned. */
static uint64_t
wait_for(
    struct corelink *c, struct waiting **table, proto_done_fn *done, void *arg)
{
	struct waiting *w = malloc(sizeof(*w));

	if (w == NULL)
		link_gone("out of memory");
	pthread_mutex_lock(&c->mu);
	w->id = table == c->admits ? ++c->next_conn : ++c->next_req;
	w->done = done;
	w->arg = arg;
	w->next = table[w->id % BUCKETS];
	table[w->id % BUCKETS] = w;
	pthread_mutex_unlock(&c->mu);
	return w->id;
}

/* What the core answers in table; NULL for an id it never had. */
static struct waiting *
answered(struct corelink *c, struct waiting **table, uint64_t id)
{
	struct waiting **e, *w = NULL;

	pthread_mutex_lock(&c->mu);
	for (e = &table[id % BUCKETS]; *e != NULL; e = &(*e)->next)
		if ((*e)->id == id) {
			w = *e;
			*e = w->next;
			break;
		}
	pthread_mutex_unlock(&c->mu);
	return w;
}

/* PROTO_GO and PROTO_REPLY: the answer to a request that waits;
 * PROTO_ADMIT: to a connection (status 0: go on). */
static void
on_answer(struct corelink *c, const struct proto_msg *m)
{
	struct waiting *w = m->type == PROTO_ADMIT
	    ? answered(c, c->admits, m->conn)
	    : answered(c, c->bucket, m->req);
	struct proto_reply r;

	if (w == NULL)
		link_gone("an answer to no request");
	if (m->type == PROTO_GO || (m->type == PROTO_ADMIT && m->status == 0)) {
		w->done(w->arg, NULL);
		free(w);
		return;
	}
	r.status = m->status;
	r.ctype = proto_ctype_name(m->ctype);
	r.len = m->body_len;
	if ((r.body = malloc(r.len > 0 ? r.len : 1)) != NULL && r.len > 0)
		memcpy(r.body, m->body, r.len);
	w->done(w->arg, &r);
	free(w);
}

/* PROTO_STOP (once: proto_rules) */
static void
on_stop_msg(struct corelink *c, const struct proto_msg *m)
{
	(void)m;
	if (atomic_exchange(&c->stopped, 1) != 0)
		link_gone("a second stop from the core");
	c->on_stop(c->arg);
}

/* What the front does with each message the core sends (proto_rules say
 * which those are). */
static void (*const handlers[PROTO_NTYPES])(
    struct corelink *, const struct proto_msg *) = {
	[PROTO_GO] = on_answer,
	[PROTO_REPLY] = on_answer,
	[PROTO_ADMIT] = on_answer,
	[PROTO_STOP] = on_stop_msg,
};

static void *
reader_main(void *arg)
{
	struct corelink *c = arg;
	struct wire_in in;
	struct proto_msg m;
	const uint8_t *msg;
	size_t len;
	int r, fd;

	wire_in_init(&in, c->sock, c->in, PROTO_TO_FRONT_MAX);
	for (;;) {
		r = wire_in_next(&in, &msg, &len, &fd);
		if (r == SD_ERR_NOT_FOUND && atomic_load(&c->stopped))
			return NULL; /* the end of a stop */
		if (r == SD_ERR_NOT_FOUND)
			link_gone("the core ended the channel");
		if (r != 0 ||
		    proto_decode(msg, len, PROTO_TO_FRONT, fd >= 0, &m) != 0 ||
		    handlers[m.type] == NULL)
			link_gone("a message from the core that the protocol "
				  "does not permit");
		handlers[m.type](c, &m);
	}
	return NULL;
}

struct corelink *
corelink_start(int sock, void (*on_stop)(void *), void *arg)
{
	struct corelink *c = calloc(1, sizeof(*c));

	if (c == NULL || (c->in = malloc(PROTO_TO_FRONT_MAX)) == NULL) {
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

/* The core's word on a connection: admitted (reply NULL) or not. */
struct admission {
	struct corelink_conn *cc;
	corelink_admit_fn *done;
	void *arg;
};

static void
admitted(void *arg, struct proto_reply *reply)
{
	struct admission *ad = arg;

	if (reply == NULL)
		atomic_store(&ad->cc->admitted, 1);
	ad->done(ad->arg, ad->cc, reply);
	free(ad);
}

struct corelink_conn *
corelink_conn_open(
    struct corelink *c, int fd, corelink_admit_fn *done, void *arg)
{
	struct corelink_conn *cc = calloc(1, sizeof(*cc));
	struct admission *ad = malloc(sizeof(*ad));
	struct proto_msg m;

	if (cc == NULL || ad == NULL) {
		free(cc);
		free(ad);
		return NULL;
	}
	cc->c = c;
	ad->cc = cc;
	ad->done = done;
	ad->arg = arg;
	memset(&m, 0, sizeof(m));
	m.type = PROTO_CONN;
	/* the answer may come before send_msg returns: cc is whole */
	m.conn = cc->id = wait_for(c, c->admits, admitted, ad);
	send_msg(c, &m, fd);
	return cc;
}

void
corelink_conn_close(struct corelink_conn *cc, enum proto_close_why why)
{
	struct proto_msg m;

	if (cc == NULL)
		return;
	if (atomic_load(&cc->admitted)) {
		memset(&m, 0, sizeof(m));
		m.type = PROTO_CLOSE;
		m.conn = cc->id;
		m.why = why;
		send_msg(cc->c, &m, -1);
	}
	free(cc);
}

void
corelink_serving(struct corelink *c)
{
	struct proto_msg m;

	memset(&m, 0, sizeof(m));
	m.type = PROTO_SERVING;
	send_msg(c, &m, -1);
}

void
corelink_begin(struct corelink_conn *cc, enum proto_route route,
    proto_done_fn *done, void *arg)
{
	struct proto_msg m;

	memset(&m, 0, sizeof(m));
	m.type = PROTO_BEGIN;
	m.conn = cc->id;
	m.rq.route = route;
	m.req = wait_for(cc->c, cc->c->bucket, done, arg);
	send_msg(cc->c, &m, -1);
}

void
corelink_submit(struct corelink_conn *cc, const struct proto_req *rq,
    proto_done_fn *done, void *arg)
{
	static __thread struct proto_msg m;

	memset(&m, 0, sizeof(m));
	m.type = PROTO_REQ;
	m.conn = cc->id;
	m.rq = *rq;
	m.req = wait_for(cc->c, cc->c->bucket, done, arg);
	send_msg(cc->c, &m, -1);
}
