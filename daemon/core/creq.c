/*
 * creq: a request's life in the core, from the call that brings it
 * (core_begin, core_submit) to its one answer: counted while it runs (for
 * core_drain), logged and measured when answered, then freed.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core_int.h"
#include "err.h"
#include "log.h"
#include "metrics.h"
#include "reply.h"
#include "secret.h"

/* A request on cc, counted; NULL when out of memory (then answered). */
struct creq *
creq_new(struct core_conn *cc, enum proto_route route, proto_done_fn *done,
    void *arg)
{
	struct proto_reply oom = { 500, PROTO_JSON, NULL, 0 };
	struct creq *q;

	if ((q = calloc(1, sizeof(*q))) == NULL) {
		done(arg, &oom);
		return NULL;
	}
	q->c = cc->c;
	q->route =
	    route > PROTO_NONE && route < PROTO_NROUTES ? route : PROTO_NONE;
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

/* One line per request, and its metrics: never a digest, a PIN or a
 * connection string; names and ids are checked characters only. */
static void
account(const struct creq *q, unsigned int status)
{
	long us = metrics_us_since(&q->start);
	const char *rid = q->route == PROTO_SIGN ? q->job.req.request_id : "";
	const char *key = q->job.key != NULL ? q->job.key->pk->name : "";

	core_metrics_request(q->route, status, us);
	if (q->route == PROTO_HEALTHZ || q->route == PROTO_READYZ ||
	    q->route == PROTO_METRICS)
		return; /* probes would drown the rest */
	log_info("request endpoint=%s status=%u client=%s uid=%u "
		 "request_id=%s key=%s ms=%.1f",
	    proto_route_name(q->route), status,
	    q->client != NULL        ? q->client->name
		: q->auditor != NULL ? q->auditor->name
				     : "-",
	    (unsigned int)q->peer.uid, rid[0] != '\0' ? rid : "-",
	    key[0] != '\0' ? key : "-", (double)us / 1000.0);
}

/* Free q, answered or not, and uncount it. */
void
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
	struct proto_reply r = { status, ctype, body, len };

	account(q, status);
	q->done(q->arg, &r);
	creq_free(q);
}

void
creq_json(struct creq *q, unsigned int status, char *json)
{
	creq_answer(
	    q, status, PROTO_JSON, json, json != NULL ? strlen(json) : 0);
}

void
creq_error(struct creq *q, int r, const char *message)
{
	const char *rid = q->route == PROTO_SIGN ? q->job.req.request_id : NULL;

	creq_json(q, sd_err_http_status(r), reply_error(r, message, rid));
}

void
creq_refuse_tsa(struct creq *q, unsigned int status, enum tsa_fail fail,
    int err, const char *why)
{
	size_t len = 0;
	uint8_t *der;

	log_info("client %s: time-stamp refused: %s", q->client->name, why);
	if (q->route != PROTO_TSA) {
		creq_error(q, err, why);
		return;
	}
	der = tsa_resp_rejection(fail, why, &len);
	creq_answer(q, status, PROTO_TSR, der, len);
}
