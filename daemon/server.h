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
#include "keys.h"
#include "ledger.h"
#include "signer.h"

struct server;

struct server_deps {
	const struct cfg *cfg;
	const struct sd_keys *keys;
	struct hsm *hsm;
	struct ledger *ledger;
	struct signer *signer;
};

/* Bind the socket (mode, group of the config), start serving.  Returns
 * NULL with a reason in errbuf. */
struct server *server_start(const struct server_deps *deps, char *errbuf,
    size_t errlen) __attribute__((warn_unused_result));

/* Stop accepting connections and remove the socket; requests already
 * running go on.  Call before stopping the signer. */
void server_quiesce(struct server *s);

/* Wait (bounded) for replies in flight, then stop.  NULL accepted. */
void server_stop(struct server *s);

#endif
