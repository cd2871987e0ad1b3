/*
 * core: what seald decides and does about a request on the service
 * socket, apart from how the request came.  The front (front.h: HTTP,
 * JSON and DER, every byte a client sends) hands the core each client
 * connection's socket once, and then each request decoded into a
 * fixed-layout struct core_req; the core answers with a status, a content
 * type and a body.  It identifies the caller from the socket's kernel
 * credentials itself, applies the policy and the rate limit, signs and
 * records, and trusts no decision of the front: a request the front could
 * not decode still comes to the core, which answers a caller it does not
 * know with 401 before anything else.
 *
 * This is the boundary DESIGN.md draws between the two processes: today
 * the front calls these functions directly; split, the same calls travel
 * as fcmsg.h messages.  Nothing here may assume a shared address space
 * beyond the calls themselves.
 */
#ifndef SD_CORE_H
#define SD_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "sign_req.h"
#include "tsa.h"

struct core;
struct core_conn;
struct daemon_deps;

/* The service socket's endpoints. */
enum core_route {
	CORE_NONE,    /* no such path */
	CORE_HEALTHZ, /* GET /healthz: any caller */
	CORE_READYZ,  /* GET /readyz: any caller */
	CORE_SIGN,    /* POST /v1/sign */
	CORE_KEYS,    /* GET /v1/keys */
	CORE_LEDGER,  /* GET /v1/ledger/INSTANCE[/SEQ] */
	CORE_TSA,     /* POST /v1/tsa: RFC 3161 in DER */
	CORE_STAMP,   /* POST /v1/timestamp: the same in JSON */
	CORE_METRICS, /* GET /metrics */
	CORE_NROUTES
};

#define CORE_WHY_MAX 200

/* GET /v1/ledger: one entry (seq > 0) or a page (seq 0). */
struct core_lookup {
	char instance[SD_NAME_MAX];
	int64_t seq;
	int64_t after;
	uint32_t limit; /* 1..SD_LEDGER_PAGE_MAX */
};

struct core_req {
	enum core_route route;
	/*
	 * Nonzero: the front refused the request with this SD_ERR_ code
	 * (why: the message for the client), and nothing below is decoded,
	 * but for sign.request_id, which the front fills when it could read
	 * it.  SD_ERR_METHOD keeps the route.
	 */
	int refused;
	char why[CORE_WHY_MAX];
	/* CORE_TSA refused for its DER: answered with a TimeStampResp that
	 * rejects it with the PKIFailureInfo bit tsa_fail (enum tsa_fail),
	 * where other refusals get a JSON error */
	int tsa_reject;
	int tsa_fail;
	union {
		struct sign_req sign;      /* CORE_SIGN */
		struct tsa_req tsa;        /* CORE_TSA, CORE_STAMP */
		struct core_lookup lookup; /* CORE_LEDGER */
	} u;
};

/* the content types of the core's replies */
#define CORE_CT_JSON "application/json"
#define CORE_CT_TSR "application/timestamp-reply"
/* and METRICS_CTYPE (metrics.h) */

struct core_reply {
	unsigned int status; /* HTTP */
	const char *ctype;   /* Content-Type: one of the above */
	/* malloc'd, taken over by whoever receives the reply; NULL when
	 * out of memory (the front then closes the connection) */
	void *body;
	size_t len;
};

/*
 * Called once per core_submit with its reply: before core_submit returns
 * (an answer from memory) or later from another thread (a signature, a
 * ledger read).  It must not block.
 */
typedef void core_done_fn(void *arg, struct core_reply *reply);

/* The core of the service socket, over the parts in deps (not owned).
 * NULL when out of memory. */
struct core *core_new(const struct daemon_deps *deps)
    __attribute__((warn_unused_result));

/*
 * A client connection: fd is its socket, which the core checks (a stream
 * socket accepted on seald's service socket) and reads the caller's
 * credentials from.  It keeps a copy of the fd (the caller keeps its
 * own), so that at each request it sees whether the caller is still
 * there: a request on a connection whose caller hung up gets 401, even
 * when whoever passed the socket still holds it.  A socket it cannot
 * vouch for makes a connection whose every request gets 401.  NULL when
 * out of memory.
 */
struct core_conn *core_conn_open(struct core *c, int fd)
    __attribute__((warn_unused_result));

/* The connection is gone; call once its last reply came.  NULL
 * accepted. */
void core_conn_close(struct core_conn *cc);

/*
 * Before a request's body is read: whether the caller on cc may send one
 * on route.  done(arg, NULL), exactly once, to go on; or done(arg, reply)
 * with the answer (401 to a caller seald does not know, 503 when
 * stopping), and the request ends there.  So that no stranger makes
 * seald read a body.
 */
void core_begin(
    struct core_conn *cc, enum core_route route, core_done_fn *done, void *arg);

/* Answer rq (copied: the caller may reuse it at once) on cc through
 * done(arg, reply), exactly once. */
void core_submit(struct core_conn *cc, const struct core_req *rq,
    core_done_fn *done, void *arg);

/*
 * Stop taking work (every request submitted from now on gets 503
 * "unavailable") and wait, at most SD_STOP_WAIT_MS, for the replies of
 * requests already taken.  0 when none is left, so that the signer and
 * the ledger may stop; SD_ERR_TIMEOUT when some still wait (a hung HSM).
 * NULL accepted.
 */
int core_drain(struct core *c);

/* Free the core: after core_drain returned 0.  NULL accepted. */
void core_free(struct core *c);

#endif
