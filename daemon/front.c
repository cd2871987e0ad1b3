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
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <openssl/crypto.h>

#include "clock.h"
#include "err.h"
#include "front.h"
#include "http.h"
#include "log.h"
#include "name.h"

#define LEDGER_PREFIX "/v1/ledger/"

/* where a request is: not handed to the core yet, handed to it, handed
 * with the connection suspended, answered */
enum { F_IDLE, F_SUBMITTED, F_SUSPENDED, F_DONE };

struct front {
	struct front_limits lim;
	struct core *core;
	struct MHD_Daemon *mhd;
	int fd;
	atomic_int pending;  /* handed to the core, reply not queued yet */
	atomic_int stopping; /* draining: no new work */
};

/* A client connection, as the front keeps it. */
struct fconn {
	struct core_conn *cc;
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
	/* suspended in the first call (for core_begin): MHD makes that
	 * call again on resuming, which is not the final call */
	int again;
	atomic_int counted; /* in f->pending */
	struct http_body body;
	atomic_int state;
	struct core_reply reply; /* once F_DONE */
	struct core_req rq;
};

static const struct {
	const char *path;
	const char *method;
	enum core_route route;
} routes[] = {
	{ "/healthz", "GET", CORE_HEALTHZ }, { "/readyz", "GET", CORE_READYZ },
	{ "/v1/sign", "POST", CORE_SIGN }, { "/v1/keys", "GET", CORE_KEYS },
	{ "/v1/tsa", "POST", CORE_TSA },
	{ "/v1/timestamp", "POST", CORE_STAMP },
	{ "/metrics", "GET", CORE_METRICS },
	{ LEDGER_PREFIX, "GET", CORE_LEDGER }, /* a prefix */
};

static int
has_body(enum core_route r)
{
	return r == CORE_SIGN || r == CORE_TSA || r == CORE_STAMP;
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
	    q->reply.ctype, allow, atomic_load(&f->stopping));
	q->reply.body = NULL;
	uncount(q);
	return r;
}

/* The core's answer: now, inside core_submit, or later from a worker. */
static void
reply_done(void *arg, struct core_reply *reply)
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
begin_done(void *arg, struct core_reply *reply)
{
	struct freq *q = arg;

	if (reply != NULL) {
		reply_done(arg, reply);
		return;
	}
	uncount(q);
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
	count(q);
	atomic_store(&q->state, F_SUBMITTED);
	core_submit(q->fc->cc, &q->rq, reply_done, q);
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

/* Decimal 0..INT64_MAX, digits only; -1 otherwise. */
static int64_t
parse_seq(const char *s, size_t n)
{
	int64_t v = 0;
	size_t i;

	if (n == 0 || n > 18)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/*
 * "/v1/ledger/INSTANCE/SEQ" (one entry) or "/v1/ledger/INSTANCE" with
 * ?after=SEQ&limit=N (a page) into lk.  0, or SD_ERR_BAD_REQUEST with a
 * message.
 */
static int
parse_lookup(
    struct freq *q, const char *url, struct core_lookup *lk, const char **msg)
{
	const char *p = url + strlen(LEDGER_PREFIX), *slash, *a, *l;
	size_t n;
	int64_t v;

	memset(lk, 0, sizeof(*lk));
	slash = strchr(p, '/');
	n = slash != NULL ? (size_t)(slash - p) : strlen(p);
	*msg = "instance: 1 to 63 letters, digits, '.', '_' or '-'";
	if (!sd_name_valid(p, n))
		return SD_ERR_BAD_REQUEST;
	memcpy(lk->instance, p, n);
	if (slash != NULL) {
		*msg = "seq: a positive decimal number";
		if ((lk->seq = parse_seq(slash + 1, strlen(slash + 1))) < 1)
			return SD_ERR_BAD_REQUEST;
		return 0;
	}
	a = MHD_lookup_connection_value(
	    q->conn, MHD_GET_ARGUMENT_KIND, "after");
	l = MHD_lookup_connection_value(
	    q->conn, MHD_GET_ARGUMENT_KIND, "limit");
	*msg = "after: a decimal seq (0 for the start)";
	if (a != NULL && (lk->after = parse_seq(a, strlen(a))) < 0)
		return SD_ERR_BAD_REQUEST;
	lk->limit = SD_LEDGER_PAGE_DEFAULT;
	if (l != NULL) {
		*msg = "limit: 1 to " SD_XSTR(SD_LEDGER_PAGE_MAX);
		v = parse_seq(l, strlen(l));
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
	struct stamp_req sr;
	enum tsa_fail fail;
	uint8_t *der = NULL;
	size_t len = 0;
	char msg[CORE_WHY_MAX];
	int r;

	if ((r = sign_req_stamp_decode(
		 body, q->body.len, &sr, msg, sizeof(msg))) != 0)
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
	char msg[CORE_WHY_MAX];
	int r;

	switch (q->rq.route) {
	case CORE_SIGN:
		if ((r = sign_req_decode(body, q->body.len, &q->rq.u.sign, msg,
			 sizeof(msg))) != 0)
			return refuse(q, r, msg);
		break;
	case CORE_TSA:
		if (tsa_req_decode((const uint8_t *)body, q->body.len,
			&q->rq.u.tsa, &fail, msg, sizeof(msg)) != 0) {
			q->rq.tsa_reject = 1;
			q->rq.tsa_fail = (int)fail;
			return refuse(q, SD_ERR_BAD_REQUEST, msg);
		}
		break;
	case CORE_STAMP:
		return decode_stamp(q, body);
	case CORE_LEDGER:
		if ((r = parse_lookup(q, url, &q->rq.u.lookup, &lmsg)) != 0)
			return refuse(q, r, lmsg);
		break;
	default:
		break; /* nothing to decode */
	}
	return submit(q);
}

/* "application/timestamp-query", maybe with parameters. */
static int
is_tsa_query(const char *ct)
{
	static const char want[] = "application/timestamp-query";
	size_t n = sizeof(want) - 1;

	return ct != NULL && strncasecmp(ct, want, n) == 0 &&
	    (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* First call for a request: route, check the declared length. */
static enum MHD_Result
begin(struct freq *q, const char *url, const char *method)
{
	const char *cl;
	size_t i;
	int path_known = 0;
	char *end;
	unsigned long long n;

	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (strcmp(url, routes[i].path) != 0 &&
		    (routes[i].route != CORE_LEDGER ||
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
		q->rq.route = CORE_NONE;
		return refuse(q, SD_ERR_NOT_FOUND, "no such endpoint");
	}
	if (i == sizeof(routes) / sizeof(routes[0]))
		return refuse(q, SD_ERR_METHOD, NULL);
	/* A GET is handed on at the next call, once MHD has the whole
	 * request: an answer queued now would close the connection.  It has
	 * no body: one would be read and kept for nothing. */
	if (!has_body(q->rq.route)) {
		cl = MHD_lookup_connection_value(
		    q->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if ((cl != NULL && strcmp(cl, "0") != 0) ||
		    MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND,
			MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL)
			return refuse(
			    q, SD_ERR_BAD_REQUEST, "a GET request has no body");
		return MHD_YES;
	}
	if (q->rq.route == CORE_TSA &&
	    !is_tsa_query(MHD_lookup_connection_value(
		q->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE)))
		return refuse(q, SD_ERR_BAD_REQUEST,
		    "Content-Type must be application/timestamp-query");
	cl = MHD_lookup_connection_value(
	    q->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl != NULL) {
		errno = 0;
		n = strtoull(cl, &end, 10);
		if (errno != 0 || end == cl || *end != '\0' ||
		    n > SD_HTTP_DISCARD_MAX)
			return refuse(q, SD_ERR_TOO_LARGE, "body too large");
		/* Over the limit but small enough to drain: read and drop
		 * it, so that the client reads the 413 rather than a reset. */
		if (n > q->f->lim.max_body)
			q->body.too_large = 1;
	}
	/* and the body is read only for a caller the core knows: asked on
	 * the connection's first request with one */
	if (atomic_load(&q->fc->body_ok))
		return MHD_YES;
	count(q);
	atomic_store(&q->state, F_SUBMITTED);
	core_begin(q->fc->cc, q->rq.route, begin_done, q);
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
		if ((q->fc = conn_of(conn)) == NULL || q->fc->cc == NULL)
			return MHD_NO;
		return begin(q, url, method);
	}
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

	(void)cls;
	(void)conn;
	(void)toe;
	if (q == NULL)
		return;
	uncount(q);          /* a client gone before its answer was queued */
	free(q->reply.body); /* a reply never queued */
	free(q->body.p);
	free(q);
	*con_cls = NULL;
}

/* Each connection's socket goes to the core as it opens. */
static void
connection_notify(void *cls, struct MHD_Connection *conn, void **socket_ctx,
    enum MHD_ConnectionNotificationCode toe)
{
	struct front *f = cls;
	const union MHD_ConnectionInfo *ci;
	struct fconn *fc = *socket_ctx;

	if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		if (fc != NULL)
			core_conn_close(fc->cc);
		free(fc);
		*socket_ctx = NULL;
		return;
	}
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci != NULL && (fc = calloc(1, sizeof(*fc))) != NULL)
		fc->cc = core_conn_open(f->core, ci->connect_fd);
	*socket_ctx = fc;
}

struct front *
front_start(const struct front_limits *lim, struct core *core, int fd,
    char *errbuf, size_t errlen)
{
	struct front *f;

	if ((f = calloc(1, sizeof(*f))) == NULL) {
		snprintf(errbuf, errlen, "out of memory");
		close(fd);
		return NULL;
	}
	f->lim = *lim;
	f->core = core;
	f->fd = fd;
	f->mhd = MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD |
		MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG,
	    0, NULL, NULL, handler, f,
	    /* the logger first, so that MHD logs nothing past it */
	    MHD_OPTION_EXTERNAL_LOGGER, http_log, f, MHD_OPTION_LISTEN_SOCKET,
	    fd, MHD_OPTION_CONNECTION_LIMIT, lim->max_connections,
	    MHD_OPTION_CONNECTION_TIMEOUT, lim->timeout,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, lim->max_header * 2,
	    MHD_OPTION_NOTIFY_COMPLETED, completed, f,
	    MHD_OPTION_NOTIFY_CONNECTION, connection_notify, f, MHD_OPTION_END);
	if (f->mhd == NULL) {
		snprintf(errbuf, errlen, "cannot start the HTTP server");
		close(fd);
		free(f);
		return NULL;
	}
	return f;
}

int
front_drain(struct front *f)
{
	struct timespec ts = { 0, 10 * 1000000L };
	MHD_socket fd;

	if (f == NULL)
		return 0;
	atomic_store(&f->stopping, 1);
	if (f->fd >= 0) {
		fd = MHD_quiesce_daemon(f->mhd);
		if (fd != MHD_INVALID_SOCKET)
			close(fd);
		f->fd = -1;
	}
	if (sd_wait_zero(&f->pending, SD_STOP_WAIT_MS) != 0) {
		log_error("%d request(s) still running after %d ms",
		    atomic_load(&f->pending), SD_STOP_WAIT_MS);
		return SD_ERR_TIMEOUT;
	}
	nanosleep(&ts, NULL); /* let the last replies reach their sockets */
	return 0;
}
