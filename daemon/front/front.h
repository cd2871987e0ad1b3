/*
 * front: the HTTP/1.1 server on the service Unix socket (libmicrohttpd),
 * the only code of the service socket that reads a client's bytes.  It
 * enforces the header, body and time limits, routes, decodes JSON and
 * DER into a struct proto_req and hands it to the core (corelink.h) with the
 * connection suspended, so that no thread waits on the HSM or the
 * ledger; the core's reply goes back to the client as it is.  Each
 * client connection's socket goes to the core as it is accepted, for the
 * core to read the caller's credentials itself and say whether it may
 * stay (acceptor.h); a request must come whole in time (deadline.h).
 */
#ifndef SD_FRONT_H
#define SD_FRONT_H

#include <stddef.h>

#include "corelink.h"

struct front;

/* seald-front's exit status when it cannot load its filter */
#define FRONT_EX_SANDBOX 3

/* The limits a front enforces (from seald.yaml's service section). */
struct front_limits {
	size_t max_body;
	size_t max_header;
	unsigned int timeout;         /* seconds of silence */
	unsigned int max_connections; /* at once */
	unsigned int head_s, body_s;  /* a request's head, body: whole in */
};

/* Make the server for the bound service socket fd (taken over: closed on
 * failure), handing requests to core, with its threads; it accepts no
 * connection until front_open.  NULL with a reason in errbuf. */
struct front *front_start(const struct front_limits *lim, struct corelink *core,
    int fd, char *errbuf, size_t errlen) __attribute__((warn_unused_result));

/* Accept clients from now on (once the front is under its filter), and
 * tell the core the front serves. */
void front_open(struct front *f);

/*
 * Stop taking work: no new connections (the socket is closed; its path is
 * the caller's to remove), and any
 * request that arrives on an open connection gets 503 "unavailable" and
 * the connection is closed.  Then wait (at most SD_STOP_WAIT_MS) until
 * every request handed to the core has its reply queued.  0 when none is
 * left; SD_ERR_TIMEOUT when some still wait (a hung HSM).  NULL accepted.
 */
int front_drain(struct front *f);

#endif
