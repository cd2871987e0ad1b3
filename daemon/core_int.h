/*
 * core_int: what core.c (connections, identification, answers from
 * memory) and core_jobs.c (signatures, time-stamps and ledger reads, done
 * by the signer's workers) share.  Private to the core.
 */
#ifndef SD_CORE_INT_H
#define SD_CORE_INT_H

#include <stdatomic.h>
#include <time.h>

#include "core.h"
#include "deps.h"
#include "peer.h"
#include "policy.h"
#include "pstate.h"
#include "signer.h"

struct core {
	struct daemon_deps d;
	atomic_int pending;  /* requests taken, not yet answered */
	atomic_int stopping; /* draining: no new work */
};

struct core_conn {
	struct core *c;
	int foreign; /* a socket not accepted on the service socket */
	int no_copy; /* a genuine socket the core could not copy (EMFILE) */
	/* the core's own copy of the socket, once it checked out and its
	 * credentials (peer) were read; else -1: every request gets 401 */
	int fd;
	struct peer peer;
};

/* One request, from core_submit to its answer. */
struct creq {
	struct core *c;
	enum core_route route;
	struct pstate *ps; /* policy in force when it came */
	const struct policy_principal *client;
	const struct policy_principal *auditor;
	struct peer peer;
	struct timespec start;
	core_done_fn *done;
	void *arg;
	struct sign_job job;
};

/* Answer q with body (malloc'd, taken over) and free q. */
void creq_answer(struct creq *q, unsigned int status, const char *ctype,
    void *body, size_t len);

/* Answer q in JSON (json malloc'd, taken over). */
void creq_json(struct creq *q, unsigned int status, char *json);

/* Answer q with the JSON error r (message NULL: sd_err(r)). */
void creq_error(struct creq *q, int r, const char *message);

/* A time-stamp refused: on CORE_TSA a TimeStampResp rejection with its
 * failure bit and HTTP status; on CORE_STAMP the JSON error err. */
void creq_refuse_tsa(struct creq *q, unsigned int status, enum tsa_fail fail,
    int err, const char *why);

/* The jobs the workers do, from a request that passed identification:
 * each answers q (now or when the job completes). */
void core_sign(struct creq *q, const struct sign_req *rq);
void core_tsa(struct creq *q, const struct tsa_req *t);
void core_lookup(struct creq *q, const struct core_lookup *lk);

#endif
