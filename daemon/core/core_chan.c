/*
 * core_chan: see core_chan.h.  The reading thread owns the table of the
 * front's connections; requests carry a reference to the channel, so
 * that an answer that comes after the front went away finds the channel
 * still there, ended, and is dropped.  Answers are queued, and a thread
 * of the channel's own sends them: the threads that answer (the signer's
 * workers, the ledger writer) never wait on a front that reads slowly.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "core_chan.h"
#include "core_int.h"
#include "err.h"
#include "proto.h"
#include "log.h"
#include "queue.h"
#include "reply.h"

#define BUCKETS 256
#define SEND_TIMEOUT_S 5 /* a front that does not read is cut off */
/* Bytes of answers waiting for the front: over OUT_SOFT, a large answer
 * is replaced by a 503 (try again); over OUT_HARD the front is not
 * reading at all, and its channel ends. */
#define OUT_SOFT ((size_t)32 << 20)
#define OUT_HARD ((size_t)64 << 20)
#define OUT_LARGE ((size_t)64 << 10)
/* Messages: a front has one request in flight per connection, each with
 * one message waiting at most; this bounds what a front that asks and
 * never reads can make the core queue (with the bytes, counted as
 * allocated: a short message takes about 1 KiB). */
#define OUT_MAX_MSGS ((size_t)64 << 10)

struct chan_conn {
	uint64_t id;
	struct core_conn *cc;
	struct chan_conn *next;
};

/* An encoded message waiting to be sent. */
struct out_msg {
	struct sd_qnode node;
	size_t len;
	uint8_t buf[];
};

struct core_chan {
	struct core *c;
	int sock;
	unsigned int max_conns, nconns;
	struct chan_conn *bucket[BUCKETS];
	pthread_t reader, sender;
	struct sd_queue out; /* of struct out_msg, bounded in bytes */
	atomic_int refs; /* the reading thread, each open request, the owner */
	atomic_int ended;
	uint8_t in[PROTO_TO_CORE_MAX];
};

/* A request of the front, until its answer is queued. */
struct chan_req {
	struct core_chan *ch;
	uint64_t req;
};

static void
unref(struct core_chan *ch)
{
	if (atomic_fetch_sub(&ch->refs, 1) != 1)
		return;
	close(ch->sock);
	sd_queue_destroy(&ch->out);
	free(ch);
}

/* End the channel: the front reads the end of the stream and exits. */
static void
end(struct core_chan *ch)
{
	if (atomic_exchange(&ch->ended, 1) != 0)
		return;
	(void)shutdown(ch->sock, SHUT_RDWR);
	sd_queue_stop(&ch->out); /* the sender drops what is left */
}

/*
 * Queue m (as proto_encode makes it) for the sender, unless it would take
 * the queue over limit bytes.  0; SD_ERR_BUSY over OUT_SOFT (nothing
 * queued: answer something shorter); or an error that ends the channel
 * (over OUT_HARD: the front does not read).
 */
static int
queue_msg(struct core_chan *ch, const struct proto_msg *m, size_t limit)
{
	size_t cap = m->body_len + 1024;
	struct out_msg *o = malloc(sizeof(*o) + cap);
	int r = SD_ERR_NOMEM;

	if (o != NULL && (r = proto_encode(m, o->buf, cap, &o->len)) == 0)
		r = sd_queue_push_bytes(
		    &ch->out, &o->node, sizeof(*o) + cap, limit);
	if (r == 0)
		return 0;
	free(o);
	if (r == SD_ERR_SHUTDOWN || (r == SD_ERR_BUSY && limit < OUT_HARD))
		return r; /* dropped with the channel; or answer shorter */
	log_error("front: cannot answer it (%s): channel ended",
	    r == SD_ERR_BUSY ? "it does not read its answers" : sd_err(r));
	end(ch);
	return r;
}

/* The sender: the queue, in order, until the channel ends; then what is
 * left is dropped. */
static void *
sender_main(void *arg)
{
	struct core_chan *ch = arg;
	struct sd_qnode *n;
	struct out_msg *o;
	int stopped = 0, r;

	/* one at a time: the bound counts all but the one being sent */
	while (sd_queue_pop(&ch->out, &n, 1, -1, &stopped) == 1) {
		o = SD_CONTAINER_OF(n, struct out_msg, node);
		r = atomic_load(&ch->ended)
		    ? 0
		    : wire_send(ch->sock, o->buf, o->len, -1);
		free(o);
		if (r != 0 && !atomic_load(&ch->ended)) {
			log_error("front: cannot send to it (%s): channel "
				  "ended",
			    r == SD_ERR_SYSTEM ? strerror(errno) : sd_err(r));
			end(ch);
		}
	}
	return NULL;
}

/* proto_done_fn: a go-on or a reply, queued for the front; then the
 * request ends. */
static void
chan_done(void *arg, struct proto_reply *reply)
{
	struct chan_req *p = arg;
	struct proto_msg m;
	char *small = NULL;
	int cut = 1;

	memset(&m, 0, sizeof(m));
	m.req = p->req;
	m.type = reply != NULL ? PROTO_REPLY : PROTO_GO;
	if (reply != NULL) {
		m.status = reply->status;
		m.ctype = (enum proto_ctype)proto_ctype_of(reply->ctype);
		m.body = reply->body;
		m.body_len = reply->body != NULL ? reply->len : 0;
	}
	if (m.body_len > PROTO_BODY_MAX) { /* a ledger page of big seals */
		m.status =
		    (unsigned int)sd_err_http_status(SD_ERR_ANSWER_TOO_LARGE);
		small = reply_error(SD_ERR_ANSWER_TOO_LARGE,
		    "the answer is too large: ask for fewer entries", NULL);
	} else if (queue_msg(p->ch, &m,
		       m.body_len >= OUT_LARGE ? OUT_SOFT : OUT_HARD) ==
	    SD_ERR_BUSY) {
		m.status = 503; /* a large answer, and the front behind */
		small = reply_error(SD_ERR_BUSY, NULL, NULL);
	} else {
		cut = 0; /* queued, or dropped with the channel */
	}
	if (cut) {
		m.ctype = PROTO_CT_JSON;
		m.body = (const uint8_t *)small;
		m.body_len = small != NULL ? strlen(small) : 0;
		(void)queue_msg(p->ch, &m, OUT_HARD);
	}
	free(small);
	if (reply != NULL)
		free(reply->body);
	unref(p->ch);
	free(p);
}

static struct chan_conn **
slot(struct core_chan *ch, uint64_t id)
{
	struct chan_conn **e = &ch->bucket[id % BUCKETS];

	while (*e != NULL && (*e)->id != id)
		e = &(*e)->next;
	return e;
}

/* PROTO_ADMIT for conn id: admitted (reply NULL) or refused.  0, or an
 * error that ended the channel. */
static int
send_admit(struct core_chan *ch, uint64_t id, const struct proto_reply *reply)
{
	struct proto_msg m;

	memset(&m, 0, sizeof(m));
	m.type = PROTO_ADMIT;
	m.conn = id;
	if (reply != NULL) {
		m.status = reply->status;
		m.ctype = PROTO_CT_JSON;
		m.body = reply->body;
		m.body_len = reply->body != NULL ? reply->len : 0;
	}
	return queue_msg(ch, &m, OUT_HARD);
}

/* PROTO_CONN: a new connection, its socket checked before anything, and
 * its caller admitted or refused at once (core_admit). */
static const char *
conn_open(struct core_chan *ch, uint64_t id, int fd)
{
	struct proto_reply reply = { 0, NULL, NULL, 0 };
	struct chan_conn *e;
	int r;

	if (fd < 0)
		return "a connection without its socket";
	if (*slot(ch, id) != NULL)
		return "a connection id used twice";
	if (ch->nconns >= ch->max_conns)
		return "more connections than it may have";
	if ((e = calloc(1, sizeof(*e))) == NULL ||
	    (e->cc = core_conn_open(ch->c, fd)) == NULL) {
		free(e);
		return "out of memory";
	}
	if (e->cc->foreign) { /* core_conn_open checked it */
		core_conn_close(e->cc, PROTO_GONE);
		free(e);
		return "a socket not accepted on the service socket";
	}
	if (core_admit(e->cc, &reply) != 0) { /* refused: kept nowhere */
		core_conn_close(e->cc, PROTO_GONE);
		free(e);
		r = send_admit(ch, id, &reply);
		free(reply.body);
		return r != 0 && r != SD_ERR_SHUTDOWN ? "cannot answer it"
						      : NULL;
	}
	e->id = id;
	*slot(ch, id) = e;
	ch->nconns++;
	r = send_admit(ch, id, NULL);
	return r != 0 && r != SD_ERR_SHUTDOWN ? "cannot answer it" : NULL;
}

static void
conn_close(struct core_chan *ch, struct chan_conn **s, enum proto_close_why why)
{
	struct chan_conn *e = *s;

	*s = e->next;
	core_conn_close(e->cc, why);
	free(e);
	ch->nconns--;
}

/* PROTO_CONN: the socket is checked before anything. */
static const char *
on_conn(struct core_chan *ch, const struct proto_msg *m, int fd)
{
	const char *why = conn_open(ch, m->conn, fd);

	close(fd);
	return why;
}

static const char *
on_close(struct core_chan *ch, const struct proto_msg *m, int fd)
{
	struct chan_conn **s = slot(ch, m->conn);

	(void)fd;
	if (*s == NULL)
		return "an unknown connection id";
	conn_close(ch, s, m->why);
	return NULL;
}

/* PROTO_SERVING (once: proto_rules) */
static const char *
on_serving(struct core_chan *ch, const struct proto_msg *m, int fd)
{
	(void)m;
	(void)fd;
	core_front_serving(ch->c);
	return NULL;
}

/* PROTO_BEGIN and PROTO_REQ: a call of core.h, answered by chan_done. */
static const char *
on_call(struct core_chan *ch, const struct proto_msg *m, int fd)
{
	struct chan_conn **s = slot(ch, m->conn);
	struct chan_req *p;

	(void)fd;
	if (*s == NULL)
		return "an unknown connection id";
	if ((p = malloc(sizeof(*p))) == NULL)
		return "out of memory";
	p->ch = ch;
	p->req = m->req;
	atomic_fetch_add(&ch->refs, 1);
	if (m->type == PROTO_BEGIN)
		core_begin((*s)->cc, m->rq.route, chan_done, p);
	else
		core_submit((*s)->cc, &m->rq, chan_done, p);
	return NULL;
}

/* What the core does with each message a front sends (proto_rules say
 * which those are, and which one comes with a socket): NULL, or the rule
 * the front broke. */
static const char *(*const handlers[PROTO_NTYPES])(
    struct core_chan *, const struct proto_msg *, int) = {
	[PROTO_CONN] = on_conn,
	[PROTO_CLOSE] = on_close,
	[PROTO_SERVING] = on_serving,
	[PROTO_BEGIN] = on_call,
	[PROTO_REQ] = on_call,
};

static void *
reader_main(void *arg)
{
	struct core_chan *ch = arg;
	struct wire_in in;
	struct proto_msg m;
	const uint8_t *msg;
	const char *why = NULL;
	size_t len, i;
	int r, fd;

	wire_in_init(&in, ch->sock, ch->in, sizeof(ch->in));
	while (why == NULL && !atomic_load(&ch->ended)) {
		r = wire_in_next(&in, &msg, &len, &fd);
		if (r == SD_ERR_NOT_FOUND || atomic_load(&ch->ended)) {
			if (r == 0 && fd >= 0)
				close(fd);
			break;
		}
		if (r != 0)
			why = r == SD_ERR_SYSTEM ? strerror(errno)
						 : "an unreadable message";
		else if (proto_decode(msg, len, PROTO_TO_CORE, fd >= 0, &m) !=
			0 ||
		    handlers[m.type] == NULL) {
			if (fd >= 0)
				close(fd);
			why = "a message the protocol does not permit";
		} else {
			why = handlers[m.type](ch, &m, fd);
		}
	}
	wire_in_done(&in);
	if (why != NULL)
		log_error("front: %s: channel ended", why);
	end(ch);
	for (i = 0; i < BUCKETS; i++)
		while (ch->bucket[i] != NULL)
			conn_close(ch, &ch->bucket[i], PROTO_GONE);
	unref(ch);
	return NULL;
}

struct core_chan *
core_chan_start(struct core *c, int sock, unsigned int max_conns)
{
	struct timeval tv = { SEND_TIMEOUT_S, 0 };
	struct core_chan *ch = calloc(1, sizeof(*ch));

	if (ch == NULL) {
		close(sock);
		return NULL;
	}
	ch->c = c;
	ch->sock = sock;
	ch->max_conns = max_conns;
	sd_queue_init(&ch->out, OUT_MAX_MSGS);
	atomic_store(&ch->refs, 2); /* the reader and the owner */
	(void)setsockopt(sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (pthread_create(&ch->sender, NULL, sender_main, ch) != 0) {
		ch->refs = 1;
		unref(ch);
		return NULL;
	}
	if (pthread_create(&ch->reader, NULL, reader_main, ch) != 0) {
		end(ch);
		pthread_join(ch->sender, NULL);
		ch->refs = 1;
		unref(ch);
		return NULL;
	}
	return ch;
}

void
core_chan_stop(struct core_chan *ch)
{
	struct proto_msg m;

	if (ch == NULL)
		return;
	memset(&m, 0, sizeof(m));
	m.type = PROTO_STOP;
	(void)queue_msg(ch, &m, OUT_HARD);
}

int
core_chan_ended(struct core_chan *ch)
{
	return atomic_load(&ch->ended);
}

void
core_chan_free(struct core_chan *ch)
{
	if (ch == NULL)
		return;
	end(ch);
	pthread_join(ch->reader, NULL);
	pthread_join(ch->sender, NULL);
	unref(ch);
}
