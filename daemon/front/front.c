/*
 * front: libmicrohttpd on a Unix socket, one polling thread (epoll).
 * Handlers never block: each request is routed, its body read within
 * the limit and decoded, and then handed to the core with its connection
 * suspended; the core's reply resumes it.  A request the front cannot
 * decode goes to the core too, refused, so that the core decides what a
 * caller it does not know may learn.  Bad input gets an error and only
 * that connection suffers.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <openssl/crypto.h>

#include "acceptor.h"
#include "clock.h"
#include "deadline.h"
#include "err.h"
#include "front.h"
#include "http.h"
#include "log.h"
#include "name.h"
#include "req_json.h"

#define LEDGER_PREFIX "/v1/ledger/"

/* where a request is: not handed to the core yet, handed to it, handed
 * with the connection suspended, answered */
enum { F_IDLE, F_SUBMITTED, F_SUSPENDED, F_DONE };

struct front {
	struct front_limits lim;
	struct corelink *core;
	struct MHD_Daemon *mhd;
	struct acceptor *acc;
	struct deadlines *dl;
	/* an admitted connection's link, by its socket, from the core's word
	 * until libmicrohttpd starts the connection */
	_Atomic(struct corelink_conn *) *handed;
	size_t nhanded;
	atomic_int pending;  /* handed to the core, reply not queued yet */
	atomic_int stopping; /* draining: no new work */
};

/* A client connection, as the front keeps it. */
struct fconn {
	struct corelink_conn *cc;
	struct dl_conn dl;
	/* The core let this connection's caller send a body once: its
	 * credentials are the connection's, so later bodies are read
	 * without asking again (the core still decides each request), until
	 * the core answers one 401 (a reload removed the client). */
	atomic_int body_ok;
};

struct freq {
	struct front *f;
	struct MHD_Connection *conn;
	struct fconn *fc;
	int responded;
	/* suspended in the first call (for corelink_begin): MHD makes that
	 * call again on resuming, which is not the final call */
	int again;
	atomic_int counted; /* in f->pending */
	int close; /* its framing was unclear: close after the answer */
	struct http_body body;
	atomic_int state;
	struct proto_reply reply; /* once F_DONE */
	struct proto_req rq;
};

static const struct {
	const char *path;
	const char *method;
	enum proto_route route;
} routes[] = {
	{ "/healthz", "GET", PROTO_HEALTHZ },
	{ "/readyz", "GET", PROTO_READYZ }, { "/v1/sign", "POST", PROTO_SIGN },
	{ "/v1/keys", "GET", PROTO_KEYS }, { "/v1/tsa", "POST", PROTO_TSA },
	{ "/v1/timestamp", "POST", PROTO_STAMP },
	{ "/metrics", "GET", PROTO_METRICS },
	{ LEDGER_PREFIX, "GET", PROTO_LEDGER }, /* a prefix */
};

static int
has_body(enum proto_route r)
{
	return r == PROTO_SIGN || r == PROTO_TSA || r == PROTO_STAMP;
}

/* A hand-over to the core, counted until its answer is dealt with. */
static void
count(struct freq *q)
{
	atomic_store(&q->counted, 1);
	atomic_fetch_add(&q->f->pending, 1);
}

static void
uncount(struct freq *q)
{
	if (atomic_exchange(&q->counted, 0) == 1)
		atomic_fetch_sub(&q->f->pending, 1);
}

/* Queue the core's reply. */
static enum MHD_Result
respond(struct freq *q)
{
	struct front *f = q->f;
	const char *allow = q->reply.status != 405 ? NULL
	    : has_body(q->rq.route)                ? "POST"
						   : "GET";
	enum MHD_Result r;

	q->responded = 1;
	r = http_respond(q->conn, q->reply.status, q->reply.body, q->reply.len,
	    q->reply.ctype, allow, q->close || atomic_load(&f->stopping));
	q->reply.body = NULL;
	uncount(q);
	return r;
}

/* The core's answer: now, inside corelink_submit, or later. */
static void
reply_done(void *arg, struct proto_reply *reply)
{
	struct freq *q = arg;

	q->reply = *reply;
	if (reply->status == 401) /* ask again before the next body */
		atomic_store(&q->fc->body_ok, 0);
	/* q and q->fc are the MHD thread's once the state says done */
	if (atomic_exchange(&q->state, F_DONE) == F_SUSPENDED)
		MHD_resume_connection(q->conn);
}

/* The core's word before the body: go on reading (NULL), or an answer. */
static void
begin_done(void *arg, struct proto_reply *reply)
{
	struct freq *q = arg;

	if (reply != NULL) {
		reply_done(arg, reply);
		return;
	}
	uncount(q);
	dl_phase(q->f->dl, &q->fc->dl, DL_BODY);
	atomic_store(&q->fc->body_ok, 1); /* before the state: see above */
	if (atomic_exchange(&q->state, F_IDLE) == F_SUSPENDED)
		MHD_resume_connection(q->conn);
}

/* After a call to the core: an answer that came at once is queued at
 * once, a go-on goes on; else the connection waits suspended, whichever
 * of the two threads gets there first resuming it. */
static enum MHD_Result
await_core(struct freq *q, int first)
{
	int expect = F_SUBMITTED;

	switch (atomic_load(&q->state)) {
	case F_DONE:
		return respond(q);
	case F_IDLE:
		return MHD_YES;
	default:
		break;
	}
	/* MHD makes a first call that suspends again */
	q->again = first;
	MHD_suspend_connection(q->conn);
	if (!atomic_compare_exchange_strong(&q->state, &expect, F_SUSPENDED))
		MHD_resume_connection(q->conn); /* answered meanwhile */
	return MHD_YES;
}

/* Hand the request to the core. */
static enum MHD_Result
submit(struct freq *q)
{
	dl_phase(q->f->dl, &q->fc->dl, DL_NONE);
	count(q);
	atomic_store(&q->state, F_SUBMITTED);
	corelink_submit(q->fc->cc, &q->rq, reply_done, q);
	return await_core(q, 0);
}

/* A request the front could not take: the core answers it. */
static enum MHD_Result
refuse(struct freq *q, int err, const char *why)
{
	q->rq.refused = err;
	snprintf(q->rq.why, sizeof(q->rq.why), "%s", why != NULL ? why : "");
	return submit(q);
}

/* A ledger page's query: each argument known, given once, with a value. */
struct page_query {
	const char *after, *limit;
	int bad;
};

static enum MHD_Result
page_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct page_query *pq = cls;
	const char **slot = strcmp(key, "after") == 0 ? &pq->after
	    : strcmp(key, "limit") == 0               ? &pq->limit
						      : NULL;

	(void)kind;
	if (slot == NULL || *slot != NULL || value == NULL)
		pq->bad = 1;
	else
		*slot = value;
	return MHD_YES;
}

/* s as a number written the one way: digits, no leading zero ("0"
 * itself aside); -1 otherwise. */
static int64_t
number(const char *s)
{
	size_t n = strlen(s);

	return n > 1 && s[0] == '0' ? -1 : sd_decimal(s, n);
}

/*
 * "/v1/ledger/INSTANCE/SEQ" (one entry, no query), "/v1/ledger/INSTANCE/head"
 * (the signed head, no query) or "/v1/ledger/INSTANCE"
 * with ?after=SEQ&limit=N (a page) into lk.  One spelling each: URLs are
 * not percent-decoded (start), numbers have no leading zero, a query has
 * no unknown or repeated argument.  0, or SD_ERR_BAD_REQUEST with a
 * message.
 */
static int
parse_lookup(
    struct freq *q, const char *url, struct proto_lookup *lk, const char **msg)
{
	const char *p = url + strlen(LEDGER_PREFIX), *slash;
	struct page_query pq = { NULL, NULL, 0 };
	int nargs;
	size_t n;
	int64_t v;

	memset(lk, 0, sizeof(*lk));
	slash = strchr(p, '/');
	n = slash != NULL ? (size_t)(slash - p) : strlen(p);
	*msg = "instance: 1 to 63 letters, digits, '.', '_' or '-'";
	if (!sd_name_valid(p, n))
		return SD_ERR_BAD_REQUEST;
	memcpy(lk->instance, p, n);
	nargs = MHD_get_connection_values(
	    q->conn, MHD_GET_ARGUMENT_KIND, page_arg, &pq);
	if (slash != NULL && strcmp(slash + 1, "head") == 0) {
		*msg = "the signed head takes no query";
		lk->seq = PROTO_SEQ_HEAD;
		return nargs != 0 ? SD_ERR_BAD_REQUEST : 0;
	}
	if (slash != NULL) {
		*msg = "seq: a positive decimal number or \"head\", without a "
		       "query";
		lk->seq = number(slash + 1);
		return lk->seq < 1 || nargs != 0 ? SD_ERR_BAD_REQUEST : 0;
	}
	*msg = "a page's query: after=SEQ and limit=N, each at most once";
	if (pq.bad)
		return SD_ERR_BAD_REQUEST;
	*msg = "after: a decimal seq (0 for the start)";
	if (pq.after != NULL && (lk->after = number(pq.after)) < 0)
		return SD_ERR_BAD_REQUEST;
	lk->limit = SD_LEDGER_PAGE_DEFAULT;
	if (pq.limit != NULL) {
		*msg = "limit: 1 to " SD_XSTR(SD_LEDGER_PAGE_MAX);
		v = number(pq.limit);
		if (v < 1 || v > SD_LEDGER_PAGE_MAX)
			return SD_ERR_BAD_REQUEST;
		lk->limit = (uint32_t)v;
	}
	return 0;
}

/* POST /v1/timestamp: the JSON face of a TimeStampReq, made one. */
static enum MHD_Result
decode_stamp(struct freq *q, const char *body)
{
	struct req_json_stamp sr;
	enum tsa_fail fail;
	uint8_t *der = NULL;
	size_t len = 0;
	char msg[PROTO_WHY_MAX];
	int r;

	if ((r = req_json_stamp(body, q->body.len, &sr, msg, sizeof(msg))) != 0)
		return refuse(q, r, msg);
	if (tsa_req_build(sign_digest_nid(sr.digest_alg), sr.digest,
		sr.digest_len, sr.policy[0] != '\0' ? sr.policy : NULL,
		sr.nonce, sr.cert_req, &der, &len) != 0)
		return refuse(q, SD_ERR_BAD_REQUEST,
		    "field \"policy\" must be a dotted OID");
	r = tsa_req_decode(der, len, &q->rq.u.tsa, &fail, msg, sizeof(msg));
	OPENSSL_free(der);
	return r != 0 ? refuse(q, SD_ERR_BAD_REQUEST, msg) : submit(q);
}

/* The whole request is in: decode it for the core. */
static enum MHD_Result
decode(struct freq *q, const char *url)
{
	const char *body = q->body.p != NULL ? q->body.p : "", *lmsg;
	enum tsa_fail fail;
	char msg[PROTO_WHY_MAX];
	int r;

	switch (q->rq.route) {
	case PROTO_SIGN:
		if ((r = req_json_sign(body, q->body.len, &q->rq.u.sign, msg,
			 sizeof(msg))) != 0)
			return refuse(q, r, msg);
		break;
	case PROTO_TSA:
		if (tsa_req_decode((const uint8_t *)body, q->body.len,
			&q->rq.u.tsa, &fail, msg, sizeof(msg)) != 0) {
			q->rq.tsa_reject = 1;
			q->rq.tsa_fail = (int)fail;
			return refuse(q, SD_ERR_BAD_REQUEST, msg);
		}
		break;
	case PROTO_STAMP:
		return decode_stamp(q, body);
	case PROTO_LEDGER:
		if ((r = parse_lookup(q, url, &q->rq.u.lookup, &lmsg)) != 0)
			return refuse(q, r, lmsg);
		break;
	default:
		break; /* nothing to decode */
	}
	return submit(q);
}

/* A request whose framing is unclear: 400, and its connection closed,
 * since where it ends (and the next begins) is not known. */
static enum MHD_Result
refuse_framing(struct freq *q, const char *why)
{
	q->close = 1;
	return refuse(q, SD_ERR_BAD_REQUEST, why);
}

/* The media type a route's body must have; NULL when it has no body. */
static const char *
media_of(enum proto_route r)
{
	switch (r) {
	case PROTO_SIGN:
	case PROTO_STAMP:
		return "application/json";
	case PROTO_TSA:
		return "application/timestamp-query";
	default:
		return NULL;
	}
}

/* First call for a request: route, check the declared length. */
static enum MHD_Result
begin(struct freq *q, const char *url, const char *method)
{
	const char *why;
	char msg[64];
	size_t i;
	int path_known = 0;
	long long n;

	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (strcmp(url, routes[i].path) != 0 &&
		    (routes[i].route != PROTO_LEDGER ||
			strncmp(url, LEDGER_PREFIX, strlen(LEDGER_PREFIX)) !=
			    0))
			continue;
		path_known = 1;
		q->rq.route = routes[i].route;
		if (strcmp(method, routes[i].method) == 0)
			break;
	}
	if (atomic_load(&q->f->stopping))
		return refuse(q, SD_ERR_SHUTDOWN, NULL);
	if (!path_known) {
		q->rq.route = PROTO_NONE;
		return refuse(q, SD_ERR_NOT_FOUND, "no such endpoint");
	}
	if (i == sizeof(routes) / sizeof(routes[0]))
		return refuse(q, SD_ERR_METHOD, NULL);
	if (q->rq.route != PROTO_LEDGER &&
	    MHD_get_connection_values(
		q->conn, MHD_GET_ARGUMENT_KIND, NULL, NULL) != 0)
		return refuse(
		    q, SD_ERR_BAD_REQUEST, "this endpoint takes no query");
	if ((why = http_framing_error(q->conn, &n)) != NULL)
		return refuse_framing(q, why);
	/* A GET is handed on at the next call, once MHD has the whole
	 * request: an answer queued now would close the connection.  It has
	 * no body: one would be read and kept for nothing. */
	if (!has_body(q->rq.route)) {
		if (n != 0)
			return refuse_framing(q, "a GET request has no body");
		return MHD_YES;
	}
	if (!http_media_is(MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND,
			       MHD_HTTP_HEADER_CONTENT_TYPE),
		media_of(q->rq.route))) {
		snprintf(msg, sizeof(msg), "Content-Type must be %s",
		    media_of(q->rq.route));
		q->close = 1; /* its body is not read */
		return refuse(q, SD_ERR_MEDIA_TYPE, msg);
	}
	if (n > SD_HTTP_DISCARD_MAX) {
		q->close = 1;
		return refuse(q, SD_ERR_TOO_LARGE, "body too large");
	}
	/* Over the limit but small enough to drain: read and drop it, so
	 * that the client reads the 413 rather than a reset.  A chunked one
	 * is read to its end, within the body's deadline. */
	if (n > (long long)q->f->lim.max_body)
		q->body.too_large = 1;
	q->body.chunked = n < 0;
	/* and the body is read only for a caller the core knows: asked on
	 * the connection's first request with one */
	if (atomic_load(&q->fc->body_ok)) {
		dl_phase(q->f->dl, &q->fc->dl, DL_BODY);
		return MHD_YES;
	}
	count(q);
	atomic_store(&q->state, F_SUBMITTED);
	corelink_begin(q->fc->cc, q->rq.route, begin_done, q);
	return await_core(q, 1);
}

static enum MHD_Result
take_body(struct freq *q, const char *data, size_t *size)
{
	switch (http_body_take(&q->body, q->f->lim.max_body, data, size)) {
	case 0:
		return MHD_YES;
	case 1:
		return refuse(q, SD_ERR_TOO_LARGE, "body too large");
	default:
		return MHD_NO;
	}
}

/* The front's side of the connection (NULL: out of memory). */
static struct fconn *
conn_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci;

	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci != NULL ? ci->socket_context : NULL;
}

static enum MHD_Result
handler(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_size, void **con_cls)
{
	struct freq *q = *con_cls;

	(void)version;
	if (q == NULL) {
		if ((q = calloc(1, sizeof(*q))) == NULL)
			return MHD_NO;
		q->f = cls;
		q->conn = conn;
		*con_cls = q;
		if ((q->fc = conn_of(conn)) == NULL ||
		    dl_late(q->f->dl, &q->fc->dl) != PROTO_GONE)
			return MHD_NO;
		dl_phase(q->f->dl, &q->fc->dl, DL_NONE); /* the head is in */
		return begin(q, url, method);
	}
	if (dl_late(q->f->dl, &q->fc->dl) != PROTO_GONE)
		return MHD_NO; /* answered 408 */
	if (q->responded || atomic_load(&q->state) != F_IDLE) {
		/* answered: the rest of a body is dropped */
		*upload_size = 0;
		if (!q->responded && atomic_load(&q->state) == F_DONE)
			return respond(q);
		return MHD_YES; /* or a spurious call while suspended */
	}
	if (*upload_size > 0)
		return take_body(q, upload, upload_size);
	if (q->again) {
		q->again = 0; /* the first call, made again */
		return MHD_YES;
	}
	if (q->body.too_large)
		return refuse(q, SD_ERR_TOO_LARGE, "body too large");
	return decode(q, url);
}

static void
completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct freq *q = *con_cls;

	struct front *f = cls;
	struct fconn *fc;

	(void)toe;
	if ((fc = conn_of(conn)) != NULL) /* the next request's head */
		dl_phase(f->dl, &fc->dl, DL_HEAD);
	if (q == NULL)
		return;
	uncount(q);          /* a client gone before its answer was queued */
	free(q->reply.body); /* a reply never queued */
	free(q->body.p);
	free(q);
	*con_cls = NULL;
}

/* An admitted connection starts (in libmicrohttpd's thread): its link,
 * handed over by admitted(); its head is due from now.  And ends. */
static void
connection_notify(void *cls, struct MHD_Connection *conn, void **socket_ctx,
    enum MHD_ConnectionNotificationCode toe)
{
	struct front *f = cls;
	const union MHD_ConnectionInfo *ci;
	struct fconn *fc = *socket_ctx;
	struct corelink_conn *cc = NULL;

	if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		if (fc != NULL) {
			dl_untrack(f->dl, &fc->dl);
			corelink_conn_close(fc->cc, dl_late(f->dl, &fc->dl));
			acceptor_closed(f->acc);
		}
		free(fc);
		*socket_ctx = NULL;
		return;
	}
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci != NULL && (size_t)ci->connect_fd < f->nhanded)
		cc = atomic_exchange(&f->handed[ci->connect_fd], NULL);
	if (cc == NULL || (fc = calloc(1, sizeof(*fc))) == NULL) {
		/* (not ours, or out of memory: its handler closes it) */
		corelink_conn_close(cc, PROTO_GONE);
		if (cc != NULL)
			acceptor_closed(f->acc);
		*socket_ctx = NULL;
		return;
	}
	fc->cc = cc;
	dl_track(f->dl, &fc->dl, ci->connect_fd);
	*socket_ctx = fc;
}

/* acceptor_admit_fn: the core admitted the connection on fd (on the
 * channel's reading thread).  libmicrohttpd takes the socket over; its
 * own thread starts the connection (connection_notify). */
static void
admitted(void *arg, int fd, struct corelink_conn *cc)
{
	struct front *f = arg;
	struct sockaddr sa = { .sa_family = AF_UNIX };
	struct corelink_conn *stale;

	if ((size_t)fd >= f->nhanded) { /* (the limit makes it impossible) */
		close(fd);
		corelink_conn_close(cc, PROTO_GONE);
		acceptor_closed(f->acc);
		return;
	}
	/* a link left here: its connection was closed before it started */
	if ((stale = atomic_exchange(&f->handed[fd], cc)) != NULL) {
		corelink_conn_close(stale, PROTO_GONE);
		acceptor_closed(f->acc);
	}
	if (MHD_add_connection(f->mhd, fd, &sa, sizeof(sa)) != MHD_YES &&
	    (stale = atomic_exchange(&f->handed[fd], NULL)) != NULL) {
		corelink_conn_close(stale, PROTO_GONE); /* fd: closed by MHD */
		acceptor_closed(f->acc);
	}
}

/* The table of links handed over, one slot a possible socket. */
static int
make_handed(struct front *f)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
		return -1;
	f->nhanded = (size_t)rl.rlim_cur;
	f->handed = calloc(f->nhanded, sizeof(*f->handed));
	return f->handed != NULL ? 0 : -1;
}

struct front *
front_start(const struct front_limits *lim, struct corelink *core, int fd,
    char *errbuf, size_t errlen)
{
	struct front *f;

	if ((f = calloc(1, sizeof(*f))) == NULL || make_handed(f) != 0) {
		snprintf(errbuf, errlen, "out of memory");
		close(fd);
		free(f);
		return NULL;
	}
	f->lim = *lim;
	f->core = core;
	/* no listening socket: the acceptor hands over each connection the
	 * core admits (MHD_USE_ITC wakes the server for it) */
	f->mhd = MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD |
		MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG |
		MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC,
	    0, NULL, NULL, handler, f,
	    /* the logger first, so that MHD logs nothing past it */
	    MHD_OPTION_EXTERNAL_LOGGER, http_log, f,
	    /* RFC 9112 as written (a Host header, no space in a URL) */
	    MHD_OPTION_STRICT_FOR_CLIENT, (int)1, MHD_OPTION_UNESCAPE_CALLBACK,
	    http_no_unescape, NULL,
	    /* the acceptor keeps to max_connections: MHD never refuses one */
	    MHD_OPTION_CONNECTION_LIMIT, lim->max_connections + 16,
	    MHD_OPTION_CONNECTION_TIMEOUT, lim->timeout,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, lim->max_header * 2,
	    MHD_OPTION_NOTIFY_COMPLETED, completed, f,
	    MHD_OPTION_NOTIFY_CONNECTION, connection_notify, f, MHD_OPTION_END);
	if (f->mhd == NULL ||
	    (f->dl = deadlines_start(lim->head_s, lim->body_s)) == NULL ||
	    (f->acc = acceptor_start(
		 fd, lim->max_connections, core, admitted, f)) == NULL) {
		snprintf(errbuf, errlen, "cannot start the HTTP server");
		return NULL; /* (the front exits) */
	}
	return f;
}

void
front_open(struct front *f)
{
	acceptor_open(f->acc);
	corelink_serving(f->core);
}

int
front_drain(struct front *f)
{
	struct timespec ts = { 0, 10 * 1000000L };

	if (f == NULL)
		return 0;
	if (atomic_exchange(&f->stopping, 1) == 0)
		acceptor_stop(f->acc); /* closes the listening socket */
	if (sd_wait_zero(&f->pending, SD_STOP_WAIT_MS) != 0) {
		log_error("%d request(s) still running after %d ms",
		    atomic_load(&f->pending), SD_STOP_WAIT_MS);
		return SD_ERR_TIMEOUT;
	}
	nanosleep(&ts, NULL); /* let the last replies reach their sockets */
	return 0;
}
