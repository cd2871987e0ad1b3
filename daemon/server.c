/*
 * server: libmicrohttpd on a Unix socket, one polling thread (epoll).
 * Handlers never block: GET answers come from memory, and a sign request
 * is decoded, checked and queued with its connection suspended; the
 * signer's completion resumes it and the reply is queued then.  Bad input
 * gets a JSON error and only that connection suffers.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "err.h"
#include "gauges.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "name.h"
#include "peer.h"
#include "reply.h"
#include "secret.h"
#include "server.h"
#include "tsa.h"

enum route {
	R_NONE,
	R_HEALTHZ,
	R_READYZ,
	R_SIGN,
	R_KEYS,
	R_LEDGER,
	R_TSA,
	R_STAMP,
	R_METRICS
};

/* the metrics' name of each route */
static const enum metrics_route metric_route[] = { [R_NONE] = MR_OTHER,
	[R_HEALTHZ] = MR_HEALTH,
	[R_READYZ] = MR_HEALTH,
	[R_SIGN] = MR_SIGN,
	[R_KEYS] = MR_KEYS,
	[R_LEDGER] = MR_LEDGER,
	[R_TSA] = MR_TSA,
	[R_STAMP] = MR_TIMESTAMP,
	[R_METRICS] = MR_METRICS };

#define LEDGER_PREFIX "/v1/ledger/"
enum job_state { JOB_NONE, JOB_RUNNING, JOB_DONE };

struct server {
	struct server_deps d;
	struct MHD_Daemon *mhd;
	int fd;
	char path[SD_PATH_MAX];
	atomic_int replies_pending; /* sign jobs not yet answered */
	atomic_int stopping;        /* draining: no new work */
};

struct req {
	struct server *srv;
	struct MHD_Connection *conn;
	enum route route;
	struct pstate *ps; /* policy in force at start */
	const struct policy_principal *client;
	const struct policy_principal *auditor;
	struct peer peer;
	int responded;
	unsigned int status;   /* of the answer, once responded */
	struct timespec start; /* the request's first call */
	struct http_body body;
	atomic_int job_state;
	struct sign_job job;
};

static const struct {
	const char *path;
	const char *method;
	enum route route;
	int public; /* answered for any caller that can connect */
} routes[] = {
	{ "/healthz", "GET", R_HEALTHZ, 1 }, { "/readyz", "GET", R_READYZ, 1 },
	{ "/v1/sign", "POST", R_SIGN, 0 }, { "/v1/keys", "GET", R_KEYS, 0 },
	{ "/v1/tsa", "POST", R_TSA, 0 },
	{ "/v1/timestamp", "POST", R_STAMP, 0 },
	{ "/metrics", "GET", R_METRICS, 0 },
	{ LEDGER_PREFIX, "GET", R_LEDGER, 0 }, /* a prefix */
};

static enum MHD_Result
respond_json(struct req *q, unsigned int status, char *json)
{
	q->responded = 1;
	q->status = status;
	return http_json(q->conn, status, json,
	    status != 405 ? NULL
		: q->route == R_SIGN || q->route == R_TSA || q->route == R_STAMP
		? "POST"
		: "GET",
	    atomic_load(&q->srv->stopping));
}

/* An RFC 3161 answer: a TimeStampResp (malloc'd; NULL closes the
 * connection). */
static enum MHD_Result
respond_tsa(struct req *q, unsigned int status, uint8_t *der, size_t len)
{
	q->responded = 1;
	q->status = status;
	return http_respond(q->conn, status, der, len,
	    "application/timestamp-reply", NULL,
	    atomic_load(&q->srv->stopping));
}

/* A refused time-stamp: on /v1/tsa a rejection (status 2) with its
 * failure bit, HTTP status and reason; on /v1/timestamp the JSON error
 * err (whose status it is). */
static enum MHD_Result
refuse_tsa(struct req *q, unsigned int status, enum tsa_fail fail, int err,
    const char *why)
{
	size_t len = 0;
	uint8_t *der;

	log_info("client %s: time-stamp refused: %s", q->client->name, why);
	if (q->route != R_TSA)
		return respond_json(
		    q, sd_err_http_status(err), reply_error(err, why, NULL));
	der = tsa_resp_rejection(fail, why, &len);
	return respond_tsa(q, status, der, len);
}

static enum MHD_Result
respond_err(struct req *q, int r, const char *message)
{
	const char *rid = q->route == R_SIGN ? q->job.req.request_id : NULL;

	return respond_json(
	    q, sd_err_http_status(r), reply_error(r, message, rid));
}

static void
job_done(struct sign_job *j, void *arg)
{
	struct req *q = arg;

	(void)j;
	atomic_store(&q->job_state, JOB_DONE);
	MHD_resume_connection(q->conn);
}

/* Decimal 0..INT64_MAX, digits only; -1 otherwise. */
static int64_t
parse_seq(const char *s, size_t n)
{
	int64_t v = 0;
	size_t i;

	if (n == 0 || n > 18)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/*
 * "/v1/ledger/INSTANCE/SEQ" (one entry) or "/v1/ledger/INSTANCE" with
 * ?after=SEQ&limit=N (a page) into lk.  0, or SD_ERR_BAD_REQUEST with a
 * message.
 */
static int
parse_lookup(
    struct req *q, const char *url, struct ledger_lookup *lk, const char **msg)
{
	const char *p = url + strlen(LEDGER_PREFIX), *slash, *a, *l;
	size_t n;
	int64_t v;

	memset(lk, 0, sizeof(*lk));
	slash = strchr(p, '/');
	n = slash != NULL ? (size_t)(slash - p) : strlen(p);
	*msg = "instance: 1 to 63 letters, digits, '.', '_' or '-'";
	if (!sd_name_valid(p, n))
		return SD_ERR_BAD_REQUEST;
	memcpy(lk->instance, p, n);
	if (slash != NULL) {
		*msg = "seq: a positive decimal number";
		if ((lk->seq = parse_seq(slash + 1, strlen(slash + 1))) < 1)
			return SD_ERR_BAD_REQUEST;
		return 0;
	}
	a = MHD_lookup_connection_value(
	    q->conn, MHD_GET_ARGUMENT_KIND, "after");
	l = MHD_lookup_connection_value(
	    q->conn, MHD_GET_ARGUMENT_KIND, "limit");
	*msg = "after: a decimal seq (0 for the start)";
	if (a != NULL && (lk->after = parse_seq(a, strlen(a))) < 0)
		return SD_ERR_BAD_REQUEST;
	lk->limit = SD_LEDGER_PAGE_DEFAULT;
	if (l != NULL) {
		*msg = "limit: 1 to " SD_XSTR(SD_LEDGER_PAGE_MAX);
		v = parse_seq(l, strlen(l));
		if (v < 1 || v > SD_LEDGER_PAGE_MAX)
			return SD_ERR_BAD_REQUEST;
		lk->limit = (size_t)v;
	}
	return 0;
}

/* Hand a job (sign, time-stamp or lookup) to the workers with the
 * connection suspended; its completion resumes it.  A job that signs
 * records who asked, under which policy. */
static enum MHD_Result
submit_job(struct req *q)
{
	struct server *s = q->srv;
	struct sign_job *j = &q->job;
	int r;

	j->done = job_done;
	j->arg = q;
	if (!j->is_lookup) {
		snprintf(j->client, sizeof(j->client), "%s", q->client->name);
		memcpy(j->policy_hash, policy_hash(q->ps->policy), SD_HASH_LEN);
		j->peer = q->peer;
	}
	/* Counted before the stop check: server_drain sets stopping, then
	 * waits for the count, so a job is either refused here or waited
	 * for there. */
	atomic_fetch_add(&s->replies_pending, 1);
	if (atomic_load(&s->stopping)) {
		atomic_fetch_sub(&s->replies_pending, 1);
		r = SD_ERR_SHUTDOWN;
		goto refused;
	}
	atomic_store(&q->job_state, JOB_RUNNING);
	MHD_suspend_connection(q->conn);
	if ((r = signer_submit(s->d.signer, j)) != 0) {
		atomic_store(&q->job_state, JOB_NONE);
		MHD_resume_connection(q->conn);
		atomic_fetch_sub(&s->replies_pending, 1);
		goto refused;
	}
	return MHD_YES;
refused:
	if (!j->is_lookup)
		ratelimit_refund(s->d.rl, q->client);
	if (j->is_tsa)
		return refuse_tsa(
		    q, sd_err_http_status(r), TSA_SYSTEM_FAILURE, r, sd_err(r));
	return respond_err(q, r, NULL);
}

/* GET /v1/ledger/...: clients read their own entries; auditors any entry
 * and pages. */
static enum MHD_Result
start_lookup(struct req *q, const char *url)
{
	const char *msg;
	int r;

	q->job.is_lookup = 1;
	if ((r = parse_lookup(q, url, &q->job.lk, &msg)) != 0)
		return respond_err(q, r, msg);
	if (q->job.lk.seq == 0 && q->auditor == NULL)
		return respond_err(q, SD_ERR_POLICY_DENIED,
		    "only auditors page through the ledger");
	return submit_job(q);
}

static enum MHD_Result
finish_lookup(struct req *q)
{
	const struct ledger_lookup *lk = &q->job.lk;
	const struct ledger_entry *e;

	atomic_fetch_sub(&q->srv->replies_pending, 1);
	if (q->job.result != 0)
		return respond_err(q, q->job.result,
		    q->job.result == SD_ERR_NOT_FOUND ? "no such entry" : NULL);
	if (lk->seq == 0)
		return respond_json(q, 200,
		    reply_ledger_page(lk->instance, lk->rows, lk->nrows,
			lk->nrows == lk->limit));
	/* a client sees only its own signatures, and cannot tell others'
	 * entries from missing ones */
	e = &lk->proof->row.e;
	if (q->auditor == NULL &&
	    ((e->kind != LEDGER_SIGNATURE && e->kind != LEDGER_TIMESTAMP) ||
		strcmp(e->client, q->client->name) != 0))
		return respond_err(q, SD_ERR_NOT_FOUND, "no such entry");
	return respond_json(q, 200, reply_ledger_proof(lk->proof));
}

static const unsigned int digest_bits[] = { 0, POLICY_DG_SHA256,
	POLICY_DG_SHA384, POLICY_DG_SHA512 };

/* One request from the client's rate and quota; -1 with why in msg when
 * over. */
static int
take_rate(struct req *q, const struct timespec *now, char *msg, size_t len)
{
	const char *why;

	if (ratelimit_take(q->srv->d.rl, q->client,
		(int64_t)now->tv_sec * 1000000000LL + now->tv_nsec, &why) == 0)
		return 0;
	snprintf(msg, len, "%s limit of client %s reached",
	    strcmp(why, "rate") == 0 ? "rate" : "daily quota", q->client->name);
	return -1;
}

/* The policy's word on a decoded request; 0 when allowed. */
static int
check_policy(struct req *q, char *msg, size_t len)
{
	const struct sign_req *rq = &q->job.req;
	struct policy_request pr;
	struct policy_decision d;
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	pr.op = POLICY_OP_SIGN;
	pr.key = rq->key;
	pr.format =
	    strcmp(rq->format, "cms") == 0 ? POLICY_FMT_CMS : POLICY_FMT_RAW;
	pr.digest = digest_bits[rq->digest_alg];
	pr.evidence_type = rq->evidence_type;
	pr.evidence_ref = rq->evidence_ref;
	pr.now = (int64_t)now.tv_sec;
	policy_decide(q->ps->policy, q->client, &pr, &d);
	if (!d.allow) {
		if (d.code == SD_ERR_UNKNOWN_KEY)
			snprintf(msg, len, "no key named \"%.64s\"", rq->key);
		else
			snprintf(msg, len, "denied by policy: %s (%s)",
			    d.reason, d.rule);
		log_info("client %s request %.128s: %s", q->client->name,
		    rq->request_id, msg);
		return d.code;
	}
	if (take_rate(q, &now, msg, len) != 0) {
		log_info("client %s request %.128s: %s", q->client->name,
		    rq->request_id, msg);
		return SD_ERR_RATE_LIMITED;
	}
	return 0;
}

static enum MHD_Result
start_sign(struct req *q)
{
	struct server *s = q->srv;
	struct sign_job *j = &q->job;
	char msg[200];
	int r;

	if ((r = sign_req_decode(q->body.p != NULL ? q->body.p : "",
		 q->body.len, &j->req, msg, sizeof(msg))) != 0) {
		log_info(
		    "client %s: bad sign request: %s", q->client->name, msg);
		return respond_err(q, r, msg);
	}
	if ((r = check_policy(q, msg, sizeof(msg))) != 0)
		return respond_err(q, r, msg);
	/* a key of the policy that is not served: a managed key without
	 * an active version yet, or waiting for its certificate */
	if ((j->key = keys_find(q->ps->keys, j->req.key)) == NULL) {
		ratelimit_refund(s->d.rl, q->client);
		snprintf(msg, sizeof(msg), "key \"%.64s\" is not in service",
		    j->req.key);
		return respond_err(q, SD_ERR_UNKNOWN_KEY, msg);
	}
	return submit_job(q);
}

static enum MHD_Result
finish_sign(struct req *q)
{
	struct sign_job *j = &q->job;

	atomic_fetch_sub(&q->srv->replies_pending, 1);
	/* Nothing new was signed: the request does not count. */
	if (j->result != 0 || j->entry.replayed)
		ratelimit_refund(q->srv->d.rl, q->client);
	if (j->result != 0) {
		log_info("client %s request %.128s: %s", q->client->name,
		    j->req.request_id, sd_err(j->result));
		return respond_err(q, j->result, NULL);
	}
	log_debug("client %s request %.128s: signed with %s, seq %lld%s",
	    q->client->name, j->req.request_id, j->key->pk->name,
	    (long long)j->entry.seq, j->entry.replayed ? " (replayed)" : "");
	return respond_json(q, 200, reply_sign(j));
}

/*
 * The key for a time-stamp request: the first of the policy's
 * time-stamping keys whose TSA policy is the one asked for (any, when
 * none is) and that the policy lets this client use now for the imprint's
 * hash.  NULL with the failure bit, HTTP status and reason otherwise.
 */
static const struct sd_key *
tsa_key(struct req *q, const struct timespec *now, enum tsa_fail *fail,
    unsigned int *status, char *msg, size_t len)
{
	const struct tsa_req *t = &q->job.tsa;
	struct policy_request pr;
	struct policy_decision d;
	const struct sd_key *k;
	size_t i;
	int named = 0;

	memset(&pr, 0, sizeof(pr));
	pr.op = POLICY_OP_TIMESTAMP;
	pr.digest = digest_bits[sign_digest_of_nid(t->md_nid)];
	pr.now = (int64_t)now->tv_sec;
	*fail = TSA_BAD_REQUEST;
	*status = 403;
	snprintf(
	    msg, len, "no time-stamping key for client %s", q->client->name);
	for (i = 0; i < q->ps->keys->n; i++) {
		k = &q->ps->keys->k[i];
		if (!(k->pk->usages & (1u << POLICY_OP_TIMESTAMP)) ||
		    (t->policy[0] != '\0' &&
			strcmp(t->policy, k->pk->tsa_policy) != 0))
			continue;
		pr.key = k->pk->name;
		policy_decide(q->ps->policy, q->client, &pr, &d);
		if (d.allow)
			return k;
		if (d.code != SD_ERR_POLICY_DENIED)
			continue; /* not this client's key */
		named = 1;
		if (strcmp(d.reason, "digest_not_allowed") == 0) {
			*fail = TSA_BAD_ALG;
			*status = 200;
		}
		snprintf(
		    msg, len, "denied by policy: %s (%s)", d.reason, d.rule);
	}
	if (t->policy[0] != '\0' && !named) {
		*fail = TSA_UNACCEPTED_POLICY;
		*status = 200;
		snprintf(msg, len, "policy %.64s is not one of this TSA's",
		    t->policy);
	}
	return NULL;
}

/* A time-stamp request in DER (from /v1/tsa, or built from the JSON of
 * /v1/timestamp): decoded, given its key, counted, and queued. */
static enum MHD_Result
submit_tsa(struct req *q, const uint8_t *der, size_t len)
{
	struct sign_job *j = &q->job;
	struct timespec now;
	enum tsa_fail fail;
	unsigned int status;
	char msg[200];

	j->is_tsa = 1;
	if (tsa_req_decode(der, len, &j->tsa, &fail, msg, sizeof(msg)) != 0)
		return refuse_tsa(q, 200, fail, SD_ERR_BAD_REQUEST, msg);
	clock_gettime(CLOCK_REALTIME, &now);
	if ((j->key = tsa_key(q, &now, &fail, &status, msg, sizeof(msg))) ==
	    NULL)
		return refuse_tsa(q, status, fail, SD_ERR_POLICY_DENIED, msg);
	if (take_rate(q, &now, msg, sizeof(msg)) != 0)
		return refuse_tsa(
		    q, 429, TSA_BAD_REQUEST, SD_ERR_RATE_LIMITED, msg);
	return submit_job(q);
}

/* POST /v1/tsa: RFC 3161 over HTTP.  Every answer to a request that got
 * this far is a TimeStampResp. */
static enum MHD_Result
start_tsa(struct req *q)
{
	return submit_tsa(q, (const uint8_t *)q->body.p, q->body.len);
}

/* POST /v1/timestamp: the same from JSON, answered in JSON. */
static enum MHD_Result
start_stamp(struct req *q)
{
	struct stamp_req sr;
	enum MHD_Result ret;
	uint8_t *der = NULL;
	size_t len = 0;
	char msg[200];
	int r;

	if ((r = sign_req_stamp_decode(q->body.p != NULL ? q->body.p : "",
		 q->body.len, &sr, msg, sizeof(msg))) != 0)
		return respond_err(q, r, msg);
	if (tsa_req_build(sign_digest_nid(sr.digest_alg), sr.digest,
		sr.digest_len, sr.policy[0] != '\0' ? sr.policy : NULL,
		sr.nonce, sr.cert_req, &der, &len) != 0)
		return respond_err(q, SD_ERR_BAD_REQUEST,
		    "field \"policy\" must be a dotted OID");
	ret = submit_tsa(q, der, len);
	OPENSSL_free(der);
	return ret;
}

static enum MHD_Result
finish_tsa(struct req *q)
{
	struct sign_job *j = &q->job;
	size_t len = 0;
	uint8_t *der;

	atomic_fetch_sub(&q->srv->replies_pending, 1);
	if (j->result != 0) {
		ratelimit_refund(q->srv->d.rl, q->client);
		return refuse_tsa(q, sd_err_http_status(j->result),
		    j->result == SD_ERR_CLOCK ? TSA_TIME_NOT_AVAILABLE
					      : TSA_SYSTEM_FAILURE,
		    j->result, sd_err(j->result));
	}
	log_debug("client %s: time-stamp with %s, seq %lld", q->client->name,
	    j->key->pk->name, (long long)j->entry.seq);
	if (q->route != R_TSA)
		return respond_json(q, 200, reply_timestamp(j));
	der = tsa_resp_granted(j->entry.sig, j->entry.sig_len, &len);
	return respond_tsa(q, 200, der, len);
}

/* GET /v1/keys shows a caller only the keys its policy lets it use. */
static int
key_visible(const struct sd_key *k, void *arg)
{
	const struct req *q = arg;

	return policy_client_may_use(q->ps->policy, q->client, k->pk);
}

static void
server_gauges(struct metrics_text *t, void *arg)
{
	struct req *q = arg;

	gauges(t, q->srv->d.hsm, q->srv->d.ledger, q->ps->keys);
}

static enum MHD_Result
respond_metrics(struct req *q)
{
	char *text = metrics_render(server_gauges, q);

	q->responded = 1;
	q->status = 200;
	return http_respond(q->conn, 200, text, text != NULL ? strlen(text) : 0,
	    HTTP_METRICS_TYPE, NULL, atomic_load(&q->srv->stopping));
}

static enum MHD_Result
answer_get(struct req *q)
{
	struct server *s = q->srv;
	int hsm, led;

	switch (q->route) {
	case R_HEALTHZ:
		return respond_json(q, 200, reply_status(1, 1, 1));
	case R_READYZ:
		hsm = hsm_ready(s->d.hsm);
		led = ledger_ready(s->d.ledger);
		return respond_json(q, hsm && led ? 200 : 503,
		    reply_status(hsm && led, hsm, led));
	case R_KEYS:
		return respond_json(
		    q, 200, reply_keys(q->ps->keys, key_visible, q));
	case R_METRICS:
		return respond_metrics(q);
	default:
		return respond_err(q, SD_ERR_INTERNAL, NULL);
	}
}

/* "application/timestamp-query", maybe with parameters. */
static int
is_tsa_query(const char *ct)
{
	static const char want[] = "application/timestamp-query";
	size_t n = sizeof(want) - 1;

	return ct != NULL && strncasecmp(ct, want, n) == 0 &&
	    (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* First call for a request: route, identify, check declared length. */
static enum MHD_Result
begin(struct req *q, const char *url, const char *method)
{
	struct policy_caller caller;
	const char *cl;
	size_t i;
	int path_known = 0, is_public = 0;
	char *end;
	unsigned long long n;

	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (strcmp(url, routes[i].path) != 0 &&
		    (routes[i].route != R_LEDGER ||
			strncmp(url, LEDGER_PREFIX, strlen(LEDGER_PREFIX)) !=
			    0))
			continue;
		path_known = 1;
		q->route = routes[i].route;
		if (strcmp(method, routes[i].method) == 0) {
			is_public = routes[i].public;
			break;
		}
	}
	if (atomic_load(&q->srv->stopping))
		return respond_err(q, SD_ERR_SHUTDOWN, NULL);
	if (http_peer(q->conn, &q->peer) != 0)
		return respond_err(q, SD_ERR_UNAUTHENTICATED, NULL);
	q->ps = pstate_get(q->srv->d.policy);
	caller.uid = q->peer.uid;
	caller.gid = q->peer.gid;
	caller.groups = q->peer.groups;
	caller.ngroups = q->peer.ngroups;
	q->client = policy_match_client(q->ps->policy, &caller);
	/* auditors read the ledger and the metrics, and nothing else */
	if (q->route == R_LEDGER || q->route == R_METRICS)
		q->auditor = policy_match_auditor(q->ps->policy, &caller);
	if (q->client == NULL && q->auditor == NULL && !is_public) {
		log_info("refused uid %u gid %u pid %d: not a known client",
		    (unsigned int)q->peer.uid, (unsigned int)q->peer.gid,
		    (int)q->peer.pid);
		return respond_err(q, SD_ERR_UNAUTHENTICATED,
		    "this uid/gid is not a client of seald");
	}
	if (!path_known) {
		q->route = R_NONE;
		return respond_err(q, SD_ERR_NOT_FOUND, "no such endpoint");
	}
	if (i == sizeof(routes) / sizeof(routes[0]))
		return respond_err(q, SD_ERR_METHOD, NULL);
	/* A GET is answered on the next call, once MHD has the whole
	 * request: an answer queued now would close the connection.  It has
	 * no body: one would be read and kept for nothing. */
	if (q->route != R_SIGN && q->route != R_TSA && q->route != R_STAMP) {
		cl = MHD_lookup_connection_value(
		    q->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if ((cl != NULL && strcmp(cl, "0") != 0) ||
		    MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND,
			MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL)
			return respond_err(
			    q, SD_ERR_BAD_REQUEST, "a GET request has no body");
		return MHD_YES;
	}
	if (q->route == R_TSA &&
	    !is_tsa_query(MHD_lookup_connection_value(
		q->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE)))
		return respond_err(q, SD_ERR_BAD_REQUEST,
		    "Content-Type must be application/timestamp-query");
	cl = MHD_lookup_connection_value(
	    q->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl != NULL) {
		errno = 0;
		n = strtoull(cl, &end, 10);
		if (errno != 0 || end == cl || *end != '\0' ||
		    n > SD_HTTP_DISCARD_MAX)
			return respond_err(
			    q, SD_ERR_TOO_LARGE, "body too large");
		/* Over the limit but small enough to drain: read and drop
		 * it, so that the client reads the 413 rather than a reset. */
		if (n > q->srv->d.cfg->max_body)
			q->body.too_large = 1;
	}
	return MHD_YES;
}

static enum MHD_Result
take_body(struct req *q, const char *data, size_t *size)
{
	switch (http_body_take(&q->body, q->srv->d.cfg->max_body, data, size)) {
	case 0:
		return MHD_YES;
	case 1:
		return respond_err(q, SD_ERR_TOO_LARGE, "body too large");
	default:
		return MHD_NO;
	}
}

static enum MHD_Result
handler(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_size, void **con_cls)
{
	struct req *q = *con_cls;

	(void)version;
	if (q == NULL) {
		if ((q = calloc(1, sizeof(*q))) == NULL)
			return MHD_NO;
		q->srv = cls;
		q->conn = conn;
		clock_gettime(CLOCK_MONOTONIC, &q->start);
		*con_cls = q;
		return begin(q, url, method);
	}
	if (q->responded) {
		*upload_size = 0;
		return MHD_YES;
	}
	if (*upload_size > 0)
		return take_body(q, upload, upload_size);
	if (q->body.too_large)
		return respond_err(q, SD_ERR_TOO_LARGE, "body too large");
	switch (atomic_load(&q->job_state)) {
	case JOB_NONE:
		return q->route == R_TSA   ? start_tsa(q)
		    : q->route == R_STAMP  ? start_stamp(q)
		    : q->route == R_SIGN   ? start_sign(q)
		    : q->route == R_LEDGER ? start_lookup(q, url)
					   : answer_get(q);
	case JOB_DONE:
		return q->job.is_lookup ? finish_lookup(q)
		    : q->job.is_tsa     ? finish_tsa(q)
					: finish_sign(q);
	default:
		return MHD_YES; /* spurious call while suspended */
	}
}

/* One line per request, and its metrics: never a digest, a PIN or a
 * connection string; names and ids are checked characters only. */
static void
account(struct req *q)
{
	long us = metrics_us_since(&q->start);
	const char *rid = q->route == R_SIGN ? q->job.req.request_id : "";
	const char *key = q->job.key != NULL ? q->job.key->pk->name : "";

	metrics_request(metric_route[q->route], q->status, us);
	if (q->route == R_HEALTHZ || q->route == R_READYZ ||
	    q->route == R_METRICS)
		return; /* probes would drown the rest */
	log_info("request endpoint=%s status=%u client=%s uid=%u "
		 "request_id=%s key=%s ms=%.1f",
	    metrics_route_name(metric_route[q->route]), q->status,
	    q->client != NULL        ? q->client->name
		: q->auditor != NULL ? q->auditor->name
				     : "-",
	    (unsigned int)q->peer.uid, rid[0] != '\0' ? rid : "-",
	    key[0] != '\0' ? key : "-", (double)us / 1000.0);
}

static void
completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct req *q = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (q == NULL)
		return;
	if (q->responded)
		account(q);
	free(q->body.p);
	free(q->job.lk.proof);
	free(q->job.lk.rows);
	secret_wipe(&q->job.entry, sizeof(q->job.entry));
	pstate_unref(q->ps);
	free(q);
	*con_cls = NULL;
}

struct server *
server_start(const struct server_deps *deps, char *errbuf, size_t errlen)
{
	struct server *s;
	const struct cfg *cfg = deps->cfg;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(errbuf, errlen, "out of memory");
		http_unbind(&cfg->service, deps->service_fd);
		return NULL;
	}
	s->d = *deps;
	snprintf(s->path, sizeof(s->path), "%s", cfg->service.path);
	s->fd = deps->service_fd;
	s->mhd = MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD |
		MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG,
	    0, NULL, NULL, handler, s,
	    /* the logger first, so that MHD logs nothing past it */
	    MHD_OPTION_EXTERNAL_LOGGER, http_log, s, MHD_OPTION_LISTEN_SOCKET,
	    s->fd, MHD_OPTION_CONNECTION_LIMIT, deps->max_connections,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)cfg->timeout,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)cfg->max_header * 2,
	    MHD_OPTION_NOTIFY_COMPLETED, completed, s,
	    MHD_OPTION_NOTIFY_CONNECTION, http_connection_notify, s,
	    MHD_OPTION_END);
	if (s->mhd == NULL) {
		snprintf(errbuf, errlen, "cannot start the HTTP server");
		close(s->fd);
		(void)unlink(s->path);
		free(s);
		return NULL;
	}
	log_info("serving on %s", s->path);
	return s;
}

int
server_drain(struct server *s)
{
	struct timespec ts = { 0, 10 * 1000000L };
	MHD_socket fd;
	int waited = 0;

	if (s == NULL)
		return 0;
	atomic_store(&s->stopping, 1);
	if (s->fd >= 0) {
		fd = MHD_quiesce_daemon(s->mhd);
		if (fd != MHD_INVALID_SOCKET)
			close(fd);
		s->fd = -1;
		(void)unlink(s->path);
	}
	while (
	    atomic_load(&s->replies_pending) > 0 && waited < SD_STOP_WAIT_MS) {
		nanosleep(&ts, NULL);
		waited += 10;
	}
	if (atomic_load(&s->replies_pending) > 0) {
		log_error("%d request(s) still running after %d ms",
		    atomic_load(&s->replies_pending), SD_STOP_WAIT_MS);
		return SD_ERR_TIMEOUT;
	}
	nanosleep(&ts, NULL); /* let the last replies reach their sockets */
	return 0;
}

void
server_stop(struct server *s)
{
	if (s == NULL)
		return;
	MHD_stop_daemon(s->mhd);
	free(s);
}
