/*
 * core_jobs: the requests the signer's workers carry out: signatures,
 * RFC 3161 time-stamps and ledger reads.  Each is checked here against
 * the policy in force and the caller's rate, whatever the front made of
 * it, queued with the signer, and answered from its completion (a worker
 * or the ledger writer) once the entry is committed.
 */
#include <stdio.h>
#include <string.h>

#include "core_int.h"
#include "err.h"
#include "log.h"
#include "name.h"
#include "reply.h"

static const unsigned int digest_bits[] = { 0, POLICY_DG_SHA256,
	POLICY_DG_SHA384, POLICY_DG_SHA512 };

static void
finish_lookup(struct creq *q)
{
	const struct ledger_lookup *lk = &q->job.lk;
	const struct ledger_entry *e;

	if (q->job.result != 0) {
		creq_error(q, q->job.result,
		    q->job.result == SD_ERR_NOT_FOUND ? "no such entry" : NULL);
		return;
	}
	if (lk->seq == 0) {
		creq_json(q, 200,
		    reply_ledger_page(lk->instance, lk->rows, lk->nrows,
			lk->nrows == lk->limit));
		return;
	}
	/* a client sees only its own signatures, and cannot tell others'
	 * entries from missing ones (the reader found only its own: this
	 * holds it again) */
	e = &lk->proof->row.e;
	if (q->auditor == NULL &&
	    ((e->kind != LEDGER_SIGNATURE && e->kind != LEDGER_TIMESTAMP) ||
		strcmp(e->client, q->client->name) != 0)) {
		creq_error(q, SD_ERR_NOT_FOUND, "no such entry");
		return;
	}
	creq_json(q, 200, reply_ledger_proof(lk->proof));
}

static void
finish_sign(struct creq *q)
{
	struct sign_job *j = &q->job;

	/* Nothing new was signed: the request does not count, unless the
	 * HSM signed for it before its request was found recorded (a retry
	 * seald did not know, or another request under a recorded id): that
	 * cost what a new request costs. */
	if (!(j->hsm_signed &&
		(j->result == 0 || j->result == SD_ERR_CONFLICT)) &&
	    (j->result != 0 || j->entry.replayed))
		ratelimit_refund(q->c->d.rl, q->client);
	if (j->result != 0) {
		log_info("client %s request %.128s: %s", q->client->name,
		    j->req.request_id, sd_err(j->result));
		creq_error(q, j->result, NULL);
		return;
	}
	log_debug("client %s request %.128s: signed with %s, seq %lld%s",
	    q->client->name, j->req.request_id, j->key->pk->name,
	    (long long)j->entry.seq, j->entry.replayed ? " (replayed)" : "");
	creq_json(q, 200, reply_sign(j));
}

static void
finish_tsa(struct creq *q)
{
	struct sign_job *j = &q->job;
	size_t len = 0;
	uint8_t *der;

	if (j->result != 0) {
		ratelimit_refund(q->c->d.rl, q->client);
		creq_refuse_tsa(q, sd_err_http_status(j->result),
		    j->result == SD_ERR_CLOCK ? TSA_TIME_NOT_AVAILABLE
					      : TSA_SYSTEM_FAILURE,
		    j->result, sd_err(j->result));
		return;
	}
	log_debug("client %s: time-stamp with %s, seq %lld", q->client->name,
	    j->key->pk->name, (long long)j->entry.seq);
	if (q->route != PROTO_TSA) {
		creq_json(q, 200, reply_timestamp(j));
		return;
	}
	der = tsa_resp_granted(j->entry.sig, j->entry.sig_len, &len);
	creq_answer(q, 200, PROTO_TSR, der, len);
}

/* The signer's completion, from a worker or the ledger writer. */
static void
job_done(struct sign_job *j, void *arg)
{
	struct creq *q = arg;

	if (j->is_lookup)
		finish_lookup(q);
	else if (j->is_tsa)
		finish_tsa(q);
	else
		finish_sign(q);
}

/* Hand the job to the workers.  A job that signs records who asked,
 * under which policy. */
static void
submit_job(struct creq *q)
{
	struct sign_job *j = &q->job;
	int r;

	j->done = job_done;
	j->arg = q;
	if (!j->is_lookup) {
		snprintf(j->client, sizeof(j->client), "%s", q->client->name);
		memcpy(j->policy_hash, policy_hash(q->ps->policy), SD_HASH_LEN);
		j->peer = q->peer;
	}
	if ((r = signer_submit(q->c->d.signer, j)) == 0)
		return;
	if (!j->is_lookup)
		ratelimit_refund(q->c->d.rl, q->client);
	if (j->is_tsa)
		creq_refuse_tsa(
		    q, sd_err_http_status(r), TSA_SYSTEM_FAILURE, r, sd_err(r));
	else
		creq_error(q, r, NULL);
}

/* GET /v1/ledger/...: clients read their own entries; auditors any entry
 * and pages. */
/* GET /v1/ledger/{instance}/head: the newest signed head seald made of
 * its own chain, for anyone who may call it (a public statement). */
static void
signed_head(struct creq *q, const char *instance)
{
	char note[SD_NOTE_MAX];

	if (ledger_head_note(q->c->d.ledger, instance, note, sizeof(note)) !=
	    0) {
		creq_error(q, SD_ERR_NOT_FOUND,
		    "no signed head of that instance here (seald serves its "
		    "own instance's, once it signed a checkpoint)");
		return;
	}
	creq_json(q, 200, reply_ledger_head(instance, note));
}

void
core_lookup(struct creq *q, const struct proto_lookup *lk)
{
	struct ledger_lookup *l = &q->job.lk;
	size_t n = strnlen(lk->instance, sizeof(lk->instance));

	if (lk->seq == PROTO_SEQ_HEAD && n < sizeof(lk->instance)) {
		signed_head(q, lk->instance);
		return;
	}
	q->job.is_lookup = 1;
	if (n == sizeof(lk->instance) || !sd_name_valid(lk->instance, n) ||
	    lk->seq < 0 || lk->after < 0 ||
	    (lk->seq == 0 &&
		(lk->limit < 1 || lk->limit > SD_LEDGER_PAGE_MAX))) {
		creq_error(q, SD_ERR_BAD_REQUEST, "malformed ledger lookup");
		return;
	}
	memcpy(l->instance, lk->instance, n + 1);
	l->seq = lk->seq;
	l->after = lk->after;
	l->limit = lk->limit;
	if (l->seq == 0 && q->auditor == NULL) {
		creq_error(q, SD_ERR_POLICY_DENIED,
		    "only auditors page through the ledger");
		return;
	}
	/* a client reads its own entries only, another's by the same path
	 * as a missing one's: the ledger reader skips it */
	if (q->auditor == NULL)
		snprintf(l->client, sizeof(l->client), "%s", q->client->name);
	submit_job(q);
}

/* One request from the client's rate and quota; -1 with why in msg when
 * over. */
static int
take_rate(struct creq *q, const struct timespec *now, char *msg, size_t len)
{
	const char *why;

	if (ratelimit_take(q->c->d.rl, q->client,
		(int64_t)now->tv_sec * 1000000000LL + now->tv_nsec, &why) == 0)
		return 0;
	snprintf(msg, len, "%s limit of client %s reached",
	    strcmp(why, "rate") == 0 ? "rate" : "daily quota", q->client->name);
	return -1;
}

/* 1 when the client may also time-stamp with k's tsa_key (pr: the sign
 * request, as the policy saw it), else 0 with why in msg. */
static int
may_stamp(struct creq *q, const struct policy_key *k,
    const struct policy_request *sign, char *msg, size_t len)
{
	struct policy_request pr = *sign;
	struct policy_decision d;

	pr.op = POLICY_OP_TIMESTAMP;
	pr.key = k->tsa_key;
	policy_decide(q->ps->policy, q->client, &pr, &d);
	if (d.allow)
		return 1;
	if (d.code == SD_ERR_UNKNOWN_KEY)
		snprintf(msg, len,
		    "denied by policy: cades-t needs timestamp on key %.64s, "
		    "which no rule of client %.64s names",
		    k->tsa_key, q->client->name);
	else
		snprintf(msg, len,
		    "denied by policy: cades-t needs timestamp on key %.64s: "
		    "%.40s (%.96s)",
		    k->tsa_key, d.reason, d.rule);
	log_info("client %s request %.128s: %s", q->client->name,
	    q->job.req.request_id, msg);
	return 0;
}

/* The policy's word on a sign request; 0 when allowed. */
static int
check_policy(struct creq *q, char *msg, size_t len)
{
	const struct sign_req *rq = &q->job.req;
	struct policy_request pr;
	struct policy_decision d;
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	pr.op = POLICY_OP_SIGN;
	pr.key = rq->key;
	pr.format = 1u << sign_format_index(rq->format); /* checked */
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
	/* a cades-t seal is also a time-stamp by the key's tsa_key: the
	 * client needs that right too */
	if (pr.format == POLICY_FMT_CADES_T &&
	    !may_stamp(q, d.key, &pr, msg, len))
		return SD_ERR_POLICY_DENIED;
	if (take_rate(q, &now, msg, len) != 0) {
		log_info("client %s request %.128s: %s", q->client->name,
		    rq->request_id, msg);
		return SD_ERR_RATE_LIMITED;
	}
	return 0;
}

/* POST /v1/sign, decoded by the front and checked again here. */
void
core_sign(struct creq *q, const struct sign_req *rq)
{
	struct sign_job *j = &q->job;
	char msg[320];
	int r;

	j->req = *rq;
	if (sign_req_check(&j->req) != 0) {
		creq_error(q, SD_ERR_BAD_REQUEST, "malformed sign request");
		return;
	}
	if ((r = check_policy(q, msg, sizeof(msg))) != 0) {
		creq_error(q, r, msg);
		return;
	}
	/* a key of the policy that is not served: a managed key without
	 * an active version yet, or waiting for its certificate */
	j->tsa_key = NULL;
	if ((j->key = keys_find(q->ps->keys, j->req.key)) == NULL ||
	    (strcmp(j->req.format, "cades-t") == 0 &&
		(j->tsa_key = keys_find(q->ps->keys, j->key->pk->tsa_key)) ==
		    NULL)) {
		ratelimit_refund(q->c->d.rl, q->client);
		snprintf(msg, sizeof(msg), "key \"%.64s\" is not in service",
		    j->key == NULL ? j->req.key : j->key->pk->tsa_key);
		creq_error(q, SD_ERR_UNKNOWN_KEY, msg);
		return;
	}
	submit_job(q);
}

/*
 * The key for a time-stamp request: the first of the policy's
 * time-stamping keys whose TSA policy is the one asked for (any, when
 * none is) and that the policy lets this client use now for the imprint's
 * hash.  NULL with the failure bit, HTTP status and reason otherwise.
 */
static const struct sd_key *
tsa_key(struct creq *q, const struct timespec *now, enum tsa_fail *fail,
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

/* POST /v1/tsa and /v1/timestamp: a TimeStampReq the front decoded (from
 * DER, or built from JSON), given its key, counted, and queued. */
void
core_tsa(struct creq *q, const struct tsa_req *t)
{
	struct sign_job *j = &q->job;
	struct timespec now;
	enum tsa_fail fail;
	unsigned int status;
	char msg[200];

	j->is_tsa = 1;
	j->tsa = *t;
	if (tsa_req_check(&j->tsa) != 0) {
		creq_refuse_tsa(q, 200, TSA_BAD_REQUEST, SD_ERR_BAD_REQUEST,
		    "malformed time-stamp request");
		return;
	}
	if (tsa_req_hash(&j->tsa, j->tsa.hash) != 0) { /* the core's own */
		creq_refuse_tsa(q, 500, TSA_SYSTEM_FAILURE, SD_ERR_INTERNAL,
		    "out of memory");
		return;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	if ((j->key = tsa_key(q, &now, &fail, &status, msg, sizeof(msg))) ==
	    NULL) {
		creq_refuse_tsa(q, status, fail, SD_ERR_POLICY_DENIED, msg);
		return;
	}
	if (take_rate(q, &now, msg, sizeof(msg)) != 0) {
		creq_refuse_tsa(
		    q, 429, TSA_BAD_REQUEST, SD_ERR_RATE_LIMITED, msg);
		return;
	}
	submit_job(q);
}
