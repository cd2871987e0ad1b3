/*
 * keeper: the process that starts seald's front and starts it again when
 * it dies.  seald forks it before it loads anything secret (no PIN, no
 * HSM session, no database connection in its memory), with the service
 * socket; started as root, the keeper becomes the front's user
 * (run_as.front_user) at once.  For each front it makes a socketpair,
 * executes seald-front (a fresh address space) with the service socket
 * and one end, and hands the other end to the core, which serves the
 * front over it (core_chan.h).  The HSM login and the ledger stay with
 * the core through a front's death.
 */
#ifndef SD_KEEPER_H
#define SD_KEEPER_H

#include <stddef.h>

#include "cfg.h"
#include "core.h"
#include "front.h"

struct keeper;

/* Fork the keeper with the bound service socket fd (closed here: the
 * keeper holds it).  It starts the first front at keeper_serve.  NULL
 * with a reason in errbuf. */
struct keeper *keeper_fork(const struct cfg *cfg, int fd,
    const struct front_limits *lim, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));

/* Serve each front the keeper starts with core, from now on: the first
 * one is started now.  0, or SD_ERR_SYSTEM. */
int keeper_serve(struct keeper *k, struct core *core)
    __attribute__((warn_unused_result));

/* Stop: the keeper starts no other front, and the front in service
 * takes no new work (it answers what it took).  NULL accepted. */
void keeper_stop(struct keeper *k);

/* 1 when the keeper went away on its own (seald then stops, and must
 * say it failed).  NULL accepted. */
int keeper_lost(const struct keeper *k);

/* After core_drain: wait (at most SD_STOP_WAIT_MS) for the front to
 * answer what it took and exit, end its channel, and wait for the
 * keeper.  NULL accepted. */
void keeper_free(struct keeper *k);

#endif
