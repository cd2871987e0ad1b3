/*
 * acceptor: the front's own accept loop on the service socket, so that
 * nothing of a client is read before the core has said who may stay.  It
 * accepts nothing until acceptor_open (the front opens it once its
 * seccomp filter is in place), then hands each new connection's socket to
 * the core (corelink_conn_open) and goes on accepting meanwhile; the
 * core's answer, on the channel's reading thread, either admits it (the
 * socket goes to the HTTP server: the admit callback) or refuses it (the
 * core's answer, 401 or 503, is written and the socket closed at once).
 * At most max_conns connections are admitted or waiting for the core at
 * a time: past that, new ones wait in the kernel's listen queue, and the
 * log says so at most once per 10 s.
 */
#ifndef SD_ACCEPTOR_H
#define SD_ACCEPTOR_H

#include "corelink.h"

struct acceptor;

/* The HTTP server takes an admitted connection: its socket fd and its
 * link lc, both its own from now on; it calls acceptor_closed once the
 * connection ends. */
typedef void acceptor_admit_fn(void *arg, int fd, struct corelink_conn *lc);

/* A thread that will accept on listen_fd (non-blocking), once opened.
 * NULL when out of memory or threads. */
struct acceptor *acceptor_start(int listen_fd, unsigned int max_conns,
    struct corelink *core, acceptor_admit_fn *admit, void *arg)
    __attribute__((warn_unused_result));

/* Start accepting (after the filter). */
void acceptor_open(struct acceptor *a);

/* An admitted connection ended: room for one more. */
void acceptor_closed(struct acceptor *a);

/* Accept no more (a stop): the thread ends and the listening socket is
 * closed; connections already admitted go on.  NULL accepted. */
void acceptor_stop(struct acceptor *a);

#endif
