/*
 * core_int: what the core's files share: core.c (connections,
 * identification, answers from memory), creq.c (a request's life and
 * accounting), core_jobs.c (signatures, time-stamps and ledger reads,
 * done by the signer's workers) and core_metrics.c.  Private to the core.
 */
#ifndef SD_CORE_INT_H
#define SD_CORE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "core.h"
#include "deps.h"
#include "metrics.h"
#include "peer.h"
#include "policy.h"
#include "pstate.h"
#include "signer.h"

/* The connections admitted, by uid (core_admit.c). */
struct core_admission {
	pthread_mutex_t mu;
	struct uid_count *bucket[256];
	atomic_long open;
	/* refused at connect: matching no client or auditor, over the
	 * uid's limit; closed for a head or a body late (408) */
	atomic_long refused_unknown, refused_uid, late_head, late_body;
	struct metrics_family fam; /* in /metrics */
	pthread_mutex_t serving_mu;
	pthread_cond_t serving_cv;
	int serving; /* a front has said it serves */
};

struct core {
	struct daemon_deps d;
	atomic_int pending;          /* requests taken, not yet answered */
	atomic_int stopping;         /* draining: no new work */
	struct metrics_family state; /* in /metrics (core_metrics.c) */
	struct core_admission adm;
};

struct core_conn {
	struct core *c;
	int foreign;  /* a socket not accepted on the service socket */
	int no_copy;  /* a genuine socket the core could not copy (EMFILE) */
	int admitted; /* counted for its uid (core_admit) */
	/* the core's own copy of the socket, once it checked out and its
	 * credentials (peer) were read; else -1: every request gets 401 */
	int fd;
	struct peer peer;
};

/* One request, from core_submit to its answer. */
struct creq {
	struct core *c;
	enum proto_route route;
	struct pstate *ps; /* policy in force when it came */
	const struct policy_principal *client;
	const struct policy_principal *auditor;
	struct peer peer;
	struct timespec start;
	proto_done_fn *done;
	void *arg;
	struct sign_job job;
};

/* A request on cc, counted in c->pending; NULL when out of memory
 * (then answered 500). */
struct creq *creq_new(struct core_conn *cc, enum proto_route route,
    proto_done_fn *done, void *arg);

/* Free q, answered or not, and uncount it. */
void creq_free(struct creq *q);

/* Answer q with body (malloc'd, taken over) and free q. */
void creq_answer(struct creq *q, unsigned int status, const char *ctype,
    void *body, size_t len);

/* Answer q in JSON (json malloc'd, taken over). */
void creq_json(struct creq *q, unsigned int status, char *json);

/* Answer q with the JSON error r (message NULL: sd_err(r)). */
void creq_error(struct creq *q, int r, const char *message);

/* A time-stamp refused: on PROTO_TSA a TimeStampResp rejection with its
 * failure bit and HTTP status; on PROTO_STAMP the JSON error err. */
void creq_refuse_tsa(struct creq *q, unsigned int status, enum tsa_fail fail,
    int err, const char *why);

/* /metrics: the service socket's endpoints and the daemon's state, added
 * by core_new and the state removed by core_free; a request answered
 * with status after us microseconds. */
void core_metrics_start(struct core *c);
void core_metrics_stop(struct core *c);
void core_metrics_request(enum proto_route r, unsigned int status, long us);

/* Admission's state (core_admit.c): made by core_new, freed by
 * core_free; a connection's end (admitted or not). */
void core_admission_init(struct core *c);
void core_admission_free(struct core *c);
void core_admission_end(struct core_conn *cc, enum proto_close_why why);

/* The jobs the workers do, from a request that passed identification:
 * each answers q (now or when the job completes). */
void core_sign(struct creq *q, const struct sign_req *rq);
void core_tsa(struct creq *q, const struct tsa_req *t);
void core_lookup(struct creq *q, const struct proto_lookup *lk);

#endif
