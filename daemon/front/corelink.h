/*
 * corelink: the front process's way to its core, over their socketpair
 * (proto.h).  Each call sends its message and returns; a thread reads
 * the core's answers and calls each request's done.  These are the
 * front's stand-ins for the calls of core/core.h that the core's end of
 * the channel makes on the front's behalf.
 */
#ifndef SD_CORELINK_H
#define SD_CORELINK_H

#include "proto.h"

struct corelink;
struct corelink_conn;

/* The core at the other end of sock: a thread reads its answers, and
 * calls on_stop(arg) when the core says to stop taking work.  The front
 * exits when the core ends the channel.  NULL when out of memory. */
struct corelink *corelink_start(int sock, void (*on_stop)(void *), void *arg)
    __attribute__((warn_unused_result));

/* The core's word on a connection (PROTO_ADMIT): reply NULL when its
 * caller may keep it, else the refusal to write before closing it (the
 * reply's body is the callee's; lc is to be closed either way). */
typedef void corelink_admit_fn(
    void *arg, struct corelink_conn *lc, struct proto_reply *reply);

/*
 * A client connection whose socket is fd (still the caller's), just
 * accepted: made known to the core now (PROTO_CONN, with the socket), which
 * says whether its caller may keep it through done, called once on the
 * reading thread, possibly before this returns.  NULL when out of memory
 * (nothing sent).
 */
struct corelink_conn *corelink_conn_open(struct corelink *l, int fd,
    corelink_admit_fn *done, void *arg) __attribute__((warn_unused_result));

/* The connection is gone, for why (PROTO_CLOSE when the core admitted
 * it).  NULL accepted. */
void corelink_conn_close(struct corelink_conn *lc, enum proto_close_why why);

/* The front is under its filter and accepts clients (PROTO_SERVING). */
void corelink_serving(struct corelink *l);

/* PROTO_BEGIN: may the caller on lc send a body on route?  done(arg,
 * NULL) to go on, or done(arg, reply) with the core's answer. */
void corelink_begin(struct corelink_conn *lc, enum proto_route route,
    proto_done_fn *done, void *arg);

/* PROTO_REQ: rq answered through done(arg, reply), exactly once. */
void corelink_submit(struct corelink_conn *lc, const struct proto_req *rq,
    proto_done_fn *done, void *arg);

#endif
