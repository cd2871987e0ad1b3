/*
 * core: what seald decides and does about a request on the service
 * socket, apart from how the request came.  The front (front/: HTTP, JSON
 * and DER, every byte a client sends) hands the core each client
 * connection's socket once, and then each request decoded into a
 * fixed-layout struct proto_req; the core answers with a struct
 * proto_reply.  It identifies the caller from the socket's kernel
 * credentials itself, applies the policy and the rate limit, signs and
 * records, and trusts no decision of the front: a request the front could
 * not decode still comes to the core, which answers a caller it does not
 * know with 401 before anything else.
 *
 * These calls are what the front's messages (proto.h) carry, one message
 * each, made by the core's end of the channel (core_chan.h).
 */
#ifndef SD_CORE_H
#define SD_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

struct core;
struct core_conn;
struct daemon_deps;

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

/*
 * As a connection is accepted, before any byte of it is read: may its
 * caller keep it?  0; or -1 with the answer in *reply (body malloc'd,
 * taken over), after which the connection is closed (core_conn_close):
 * 401 to a caller that matches no client or auditor of the policy in
 * force, 503 too_many_connections to a uid that holds
 * limits.max_connections_per_uid connections already.  Each refusal is
 * counted in /metrics, and said in the log at most once per 10 s a
 * reason.
 */
int core_admit(struct core_conn *cc, struct proto_reply *reply)
    __attribute__((warn_unused_result));

/* The connection is gone, for why (a late head or body is counted and
 * said); call once its last reply came.  NULL accepted. */
void core_conn_close(struct core_conn *cc, enum proto_close_why why);

/* A front is under its filter and accepts clients: seald is ready once
 * the first one is.  core_wait_serving: 1 once one is, waiting at most ms
 * for it; 0 when none yet. */
void core_front_serving(struct core *c);
int core_wait_serving(struct core *c, long ms);

/*
 * Before a request's body is read: whether the caller on cc may send one
 * on route.  done(arg, NULL), exactly once, to go on; or done(arg, reply)
 * with the answer (401 to a caller seald does not know, 503 when
 * stopping), and the request ends there.  So that no stranger makes
 * seald read a body.
 */
void core_begin(struct core_conn *cc, enum proto_route route,
    proto_done_fn *done, void *arg);

/* Answer rq (copied: the caller may reuse it at once) on cc through
 * done(arg, reply), exactly once. */
void core_submit(struct core_conn *cc, const struct proto_req *rq,
    proto_done_fn *done, void *arg);

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
