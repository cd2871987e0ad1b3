/*
 * core: connections, who the caller is, and the answers from memory
 * (health, readiness, keys, metrics).  A request's life and its
 * accounting are creq.c's; the jobs that sign or read the ledger are
 * core_jobs.c's.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "core_int.h"
#include "err.h"
#include "log.h"
#include "metrics.h"
#include "reply.h"
#include "secret.h"

struct core *
core_new(const struct daemon_deps *deps)
{
	struct core *c = calloc(1, sizeof(*c));

	if (c != NULL) {
		c->d = *deps;
		core_metrics_start(c);
		core_admission_init(c);
	}
	return c;
}

struct core_conn *
core_conn_open(struct core *c, int fd)
{
	struct core_conn *cc = calloc(1, sizeof(*cc));

	if (cc == NULL)
		return NULL;
	cc->c = c;
	cc->fd = -1;
	if (!peer_accepted_on(fd, c->d.cfg->service.path)) {
		cc->foreign = 1;
		log_error("a connection not accepted on %s: refused",
		    c->d.cfg->service.path);
	} else if (peer_from_fd(fd, &cc->peer) == 0) {
		if ((cc->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3)) < 0) {
			cc->no_copy = 1; /* answered 503: try again */
			log_error("cannot keep a client's socket: %s",
			    strerror(errno));
		}
	}
	return cc;
}

void
core_conn_close(struct core_conn *cc, enum proto_close_why why)
{
	if (cc == NULL)
		return;
	core_admission_end(cc, why);
	if (cc->fd >= 0)
		close(cc->fd);
	free(cc);
}

/* GET /v1/keys shows a caller only the keys its policy lets it use. */
static int
key_visible(const struct sd_key *k, void *arg)
{
	const struct creq *q = arg;

	return policy_client_may_use(q->ps->policy, q->client, k->pk);
}

/* Who the caller is under the policy in force: a client, or (for the
 * ledger and the metrics, nothing else) an auditor.  0, or -1 when
 * neither and the route is not public. */
static int
identify(struct creq *q, const struct proto_req *rq)
{
	struct policy_caller caller;
	int public = (q->route == PROTO_HEALTHZ || q->route == PROTO_READYZ) &&
	    rq->refused != SD_ERR_METHOD;

	q->ps = pstate_get(q->c->d.policy);
	caller.uid = q->peer.uid;
	caller.gid = q->peer.gid;
	caller.groups = q->peer.groups;
	caller.ngroups = q->peer.ngroups;
	q->client = policy_match_client(q->ps->policy, &caller);
	if (q->route == PROTO_LEDGER || q->route == PROTO_METRICS)
		q->auditor = policy_match_auditor(q->ps->policy, &caller);
	if (q->client != NULL || q->auditor != NULL || public)
		return 0;
	log_info("refused uid %u gid %u pid %d: not a known client",
	    (unsigned int)q->peer.uid, (unsigned int)q->peer.gid,
	    (int)q->peer.pid);
	return -1;
}

/* A request the front could not decode, from a caller seald knows. */
static void
refused(struct creq *q, const struct proto_req *rq)
{
	const char *why = rq->why[0] != '\0' ? rq->why : NULL;

	if (q->client != NULL && rq->refused == SD_ERR_BAD_REQUEST)
		log_info("client %s: bad request: %s", q->client->name,
		    why != NULL ? why : sd_err(rq->refused));
	if (q->route == PROTO_TSA && rq->tsa_reject)
		creq_refuse_tsa(q, 200, (enum tsa_fail)rq->tsa_fail,
		    rq->refused, why != NULL ? why : sd_err(rq->refused));
	else
		creq_error(q, rq->refused, why);
}

static void
answer(struct creq *q, const struct proto_req *rq)
{
	struct core *c = q->c;
	char *text;
	int hsm, led;

	switch (q->route) {
	case PROTO_HEALTHZ:
		creq_json(q, 200, reply_status(1, 1, 1));
		return;
	case PROTO_READYZ:
		hsm = hsm_ready(c->d.hsm);
		led = ledger_ready(c->d.ledger);
		creq_json(q, hsm && led ? 200 : 503,
		    reply_status(hsm && led, hsm, led));
		return;
	case PROTO_KEYS:
		creq_json(q, 200, reply_keys(q->ps->keys, key_visible, q));
		return;
	case PROTO_METRICS:
		text = metrics_render();
		creq_answer(q, 200, METRICS_CTYPE, text,
		    text != NULL ? strlen(text) : 0);
		return;
	case PROTO_LEDGER:
		core_lookup(q, &rq->u.lookup);
		return;
	case PROTO_SIGN:
		core_sign(q, &rq->u.sign);
		return;
	case PROTO_TSA:
	case PROTO_STAMP:
		core_tsa(q, &rq->u.tsa);
		return;
	default:
		creq_error(q, SD_ERR_NOT_FOUND, "no such endpoint");
		return;
	}
}

/* A request in the name of a caller that left: the front kept its
 * socket (a client that hangs up before its request is taken also ends
 * here, unanswered either way). */
static void
hung_up(struct creq *q)
{
	log_info("uid %u pid %d: the caller has hung up: request refused",
	    (unsigned int)q->peer.uid, (int)q->peer.pid);
	creq_error(q, SD_ERR_UNAUTHENTICATED,
	    "the caller of this connection has hung up");
}

/* What every request passes first: seald takes work, and knows the
 * caller.  0, or -1 when q was answered. */
static int
admit(struct creq *q, struct core_conn *cc, const struct proto_req *rq)
{
	if (atomic_load(&q->c->stopping) || rq->refused == SD_ERR_SHUTDOWN)
		creq_error(q, SD_ERR_SHUTDOWN, NULL);
	else if (cc->no_copy)
		creq_error(q, SD_ERR_BUSY, NULL);
	else if (cc->fd < 0)
		creq_error(q, SD_ERR_UNAUTHENTICATED, NULL);
	else if (peer_hung_up(cc->fd)) /* its socket kept by someone else */
		hung_up(q);
	else if (identify(q, rq) != 0)
		creq_error(q, SD_ERR_UNAUTHENTICATED,
		    "this uid/gid is not a client of seald");
	else
		return 0;
	return -1;
}

void
core_begin(struct core_conn *cc, enum proto_route route, proto_done_fn *done,
    void *arg)
{
	struct proto_req rq;
	struct creq *q;

	if ((q = creq_new(cc, route, done, arg)) == NULL)
		return;
	memset(&rq, 0, sizeof(rq));
	rq.route = q->route;
	if (admit(q, cc, &rq) != 0)
		return;
	creq_free(q);
	done(arg, NULL);
}

void
core_submit(struct core_conn *cc, const struct proto_req *rq,
    proto_done_fn *done, void *arg)
{
	struct creq *q;

	if ((q = creq_new(cc, rq->route, done, arg)) == NULL)
		return;
	if (q->route == PROTO_SIGN) /* for the error replies: request_id */
		q->job.req = rq->u.sign;
	if (admit(q, cc, rq) != 0)
		return;
	if (rq->refused != 0)
		refused(q, rq);
	else
		answer(q, rq);
}

int
core_drain(struct core *c)
{
	if (c == NULL)
		return 0;
	atomic_store(&c->stopping, 1);
	if (sd_wait_zero(&c->pending, SD_STOP_WAIT_MS) != 0) {
		log_error("%d request(s) still running after %d ms",
		    atomic_load(&c->pending), SD_STOP_WAIT_MS);
		return SD_ERR_TIMEOUT;
	}
	return 0;
}

void
core_free(struct core *c)
{
	if (c == NULL)
		return;
	core_metrics_stop(c);
	core_admission_free(c);
	free(c);
}
