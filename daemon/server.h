/*
 * server: the HTTP/1.1 front on the service Unix socket (libmicrohttpd).
 * It reads the caller's credentials before any byte, enforces header,
 * body and time limits, decodes requests and hands sign jobs to the
 * signer with the connection suspended, so that no thread waits on the
 * HSM or the ledger.
 */
#ifndef SD_SERVER_H
#define SD_SERVER_H

#include "cfg.h"
#include "hsm.h"
#include "ledger.h"
#include "pstate.h"
#include "ratelimit.h"
#include "signer.h"

struct server;

struct server_deps {
	const struct cfg *cfg;
	struct pstate_slot *policy; /* the policy and keys in force */
	struct ratelimit *rl;
	struct hsm *hsm;
	struct ledger *ledger;
	struct signer *signer;
	/* the sockets, bound (http_bind) before privileges were dropped;
	 * server_start and admin_start take them over (-1: none) */
	int service_fd;
	int admin_fd;
	unsigned int max_connections; /* what the open-file limit allows */
};

/* Serve the bound service socket deps->service_fd (closed and removed on
 * failure).  Returns NULL with a reason in errbuf. */
struct server *server_start(const struct server_deps *deps, char *errbuf,
    size_t errlen) __attribute__((warn_unused_result));

/*
 * Stop taking work: no new connections (the socket is removed), and any
 * request that arrives on an open connection gets 503 "unavailable" and
 * the connection is closed.  Then wait (at most SD_STOP_WAIT_MS) for the
 * replies of requests already running.  Returns 0 when none is left, so
 * that the signer and the ledger may be stopped; SD_ERR_TIMEOUT when some
 * still wait (a hung HSM).  NULL accepted.
 */
int server_drain(struct server *s);

/* Stop the HTTP server and free it: no handler runs after this.  Call
 * after server_drain returned 0.  NULL accepted. */
void server_stop(struct server *s);

#endif
