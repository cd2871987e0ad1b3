/*
 * core: connections, who the caller is, the answers from memory (health,
 * readiness, keys, metrics), and the accounting of every answer.  The
 * jobs that sign or read the ledger are core_jobs.c's.
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
#include "gauges.h"
#include "log.h"
#include "metrics.h"
#include "reply.h"
#include "secret.h"

/* the metrics' name of each route */
static const enum metrics_route metric_route[CORE_NROUTES] = {
	[CORE_NONE] = MR_OTHER,
	[CORE_HEALTHZ] = MR_HEALTH,
	[CORE_READYZ] = MR_HEALTH,
	[CORE_SIGN] = MR_SIGN,
	[CORE_KEYS] = MR_KEYS,
	[CORE_LEDGER] = MR_LEDGER,
	[CORE_TSA] = MR_TSA,
	[CORE_STAMP] = MR_TIMESTAMP,
	[CORE_METRICS] = MR_METRICS,
};

struct core *
core_new(const struct daemon_deps *deps)
{
	struct core *c = calloc(1, sizeof(*c));

	if (c != NULL)
		c->d = *deps;
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
core_conn_close(struct core_conn *cc)
{
	if (cc == NULL)
		return;
	if (cc->fd >= 0)
		close(cc->fd);
	free(cc);
}

/* One line per request, and its metrics: never a digest, a PIN or a
 * connection string; names and ids are checked characters only. */
static void
account(const struct creq *q, unsigned int status)
{
	long us = metrics_us_since(&q->start);
	const char *rid = q->route == CORE_SIGN ? q->job.req.request_id : "";
	const char *key = q->job.key != NULL ? q->job.key->pk->name : "";

	metrics_request(metric_route[q->route], status, us);
	if (q->route == CORE_HEALTHZ || q->route == CORE_READYZ ||
	    q->route == CORE_METRICS)
		return; /* probes would drown the rest */
	log_info("request endpoint=%s status=%u client=%s uid=%u "
		 "request_id=%s key=%s ms=%.1f",
	    metrics_route_name(metric_route[q->route]), status,
	    q->client != NULL        ? q->client->name
		: q->auditor != NULL ? q->auditor->name
				     : "-",
	    (unsigned int)q->peer.uid, rid[0] != '\0' ? rid : "-",
	    key[0] != '\0' ? key : "-", (double)us / 1000.0);
}

/* Free q, answered or not, and uncount it. */
static void
creq_free(struct creq *q)
{
	struct core *c = q->c;

	free(q->job.lk.proof);
	free(q->job.lk.rows);
	secret_wipe(&q->job.entry, sizeof(q->job.entry));
	pstate_unref(q->ps);
	free(q);
	atomic_fetch_sub(&c->pending, 1);
}

void
creq_answer(struct creq *q, unsigned int status, const char *ctype, void *body,
    size_t len)
{
	struct core_reply r = { status, ctype, body, len };

	account(q, status);
	q->done(q->arg, &r);
	creq_free(q);
}

void
creq_json(struct creq *q, unsigned int status, char *json)
{
	creq_answer(
	    q, status, CORE_CT_JSON, json, json != NULL ? strlen(json) : 0);
}

void
creq_error(struct creq *q, int r, const char *message)
{
	const char *rid = q->route == CORE_SIGN ? q->job.req.request_id : NULL;

	creq_json(q, sd_err_http_status(r), reply_error(r, message, rid));
}

void
creq_refuse_tsa(struct creq *q, unsigned int status, enum tsa_fail fail,
    int err, const char *why)
{
	size_t len = 0;
	uint8_t *der;

	log_info("client %s: time-stamp refused: %s", q->client->name, why);
	if (q->route != CORE_TSA) {
		creq_error(q, err, why);
		return;
	}
	der = tsa_resp_rejection(fail, why, &len);
	creq_answer(q, status, CORE_CT_TSR, der, len);
}

/* GET /v1/keys shows a caller only the keys its policy lets it use. */
static int
key_visible(const struct sd_key *k, void *arg)
{
	const struct creq *q = arg;

	return policy_client_may_use(q->ps->policy, q->client, k->pk);
}

static void
core_gauges(struct metrics_text *t, void *arg)
{
	struct creq *q = arg;

	gauges(t, q->c->d.hsm, q->c->d.ledger, q->ps->keys);
}

/* Who the caller is under the policy in force: a client, or (for the
 * ledger and the metrics, nothing else) an auditor.  0, or -1 when
 * neither and the route is not public. */
static int
identify(struct creq *q, const struct core_req *rq)
{
	struct policy_caller caller;
	int public = (q->route == CORE_HEALTHZ || q->route == CORE_READYZ) &&
	    rq->refused != SD_ERR_METHOD;

	q->ps = pstate_get(q->c->d.policy);
	caller.uid = q->peer.uid;
	caller.gid = q->peer.gid;
	caller.groups = q->peer.groups;
	caller.ngroups = q->peer.ngroups;
	q->client = policy_match_client(q->ps->policy, &caller);
	if (q->route == CORE_LEDGER || q->route == CORE_METRICS)
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
refused(struct creq *q, const struct core_req *rq)
{
	const char *why = rq->why[0] != '\0' ? rq->why : NULL;

	if (q->client != NULL && rq->refused == SD_ERR_BAD_REQUEST)
		log_info("client %s: bad request: %s", q->client->name,
		    why != NULL ? why : sd_err(rq->refused));
	if (q->route == CORE_TSA && rq->tsa_reject)
		creq_refuse_tsa(q, 200, (enum tsa_fail)rq->tsa_fail,
		    rq->refused, why != NULL ? why : sd_err(rq->refused));
	else
		creq_error(q, rq->refused, why);
}

static void
answer(struct creq *q, const struct core_req *rq)
{
	struct core *c = q->c;
	char *text;
	int hsm, led;

	switch (q->route) {
	case CORE_HEALTHZ:
		creq_json(q, 200, reply_status(1, 1, 1));
		return;
	case CORE_READYZ:
		hsm = hsm_ready(c->d.hsm);
		led = ledger_ready(c->d.ledger);
		creq_json(q, hsm && led ? 200 : 503,
		    reply_status(hsm && led, hsm, led));
		return;
	case CORE_KEYS:
		creq_json(q, 200, reply_keys(q->ps->keys, key_visible, q));
		return;
	case CORE_METRICS:
		text = metrics_render(core_gauges, q);
		creq_answer(q, 200, METRICS_CTYPE, text,
		    text != NULL ? strlen(text) : 0);
		return;
	case CORE_LEDGER:
		core_lookup(q, &rq->u.lookup);
		return;
	case CORE_SIGN:
		core_sign(q, &rq->u.sign);
		return;
	case CORE_TSA:
	case CORE_STAMP:
		core_tsa(q, &rq->u.tsa);
		return;
	default:
		creq_error(q, SD_ERR_NOT_FOUND, "no such endpoint");
		return;
	}
}

/* A request on cc, counted; NULL when out of memory (then answered). */
static struct creq *
creq_new(
    struct core_conn *cc, enum core_route route, core_done_fn *done, void *arg)
{
	struct core_reply oom = { 500, CORE_CT_JSON, NULL, 0 };
	struct creq *q;

	if ((q = calloc(1, sizeof(*q))) == NULL) {
		done(arg, &oom);
		return NULL;
	}
	q->c = cc->c;
	q->route =
	    route > CORE_NONE && route < CORE_NROUTES ? route : CORE_NONE;
	q->done = done;
	q->arg = arg;
	q->peer = cc->peer;
	clock_gettime(CLOCK_MONOTONIC, &q->start);
	/* Counted before the stop check: core_drain sets stopping, then
	 * waits for the count, so a request is either refused here or
	 * waited for there. */
	atomic_fetch_add(&q->c->pending, 1);
	return q;
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
admit(struct creq *q, struct core_conn *cc, const struct core_req *rq)
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
core_begin(
    struct core_conn *cc, enum core_route route, core_done_fn *done, void *arg)
{
	struct core_req rq;
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
core_submit(struct core_conn *cc, const struct core_req *rq, core_done_fn *done,
    void *arg)
{
	struct creq *q;

	if ((q = creq_new(cc, rq->route, done, arg)) == NULL)
		return;
	if (q->route == CORE_SIGN) /* for the error replies: request_id */
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
	free(c);
}
