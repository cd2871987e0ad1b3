/*
 * deps: the parts main() builds and the servers of the two sockets use.
 * The service socket's front and core (front.h, core.h) and the admin
 * socket (admin.h) each take what they need from it.
 */
#ifndef SD_DEPS_H
#define SD_DEPS_H

#include "cfg.h"
#include "hsm.h"
#include "ledger.h"
#include "pstate.h"
#include "ratelimit.h"
#include "signer.h"

struct daemon_deps {
	const struct cfg *cfg;
	struct pstate_slot *policy; /* the policy and keys in force */
	struct ratelimit *rl;
	struct hsm *hsm;
	struct ledger *ledger;
	struct signer *signer;
	/* the sockets, bound (listen_bind) before privileges were dropped;
	 * front_start and admin_start take them over (-1: none) */
	int service_fd;
	int admin_fd;
	unsigned int max_connections; /* what the open-file limit allows */
};

#endif
