/*
 * signer: worker threads between the front and the HSM.  The order per
 * job is: wait for a copy of it in progress (inflight); look up (client,
 * request_id) in the ledger; if recorded, answer with the record (same
 * request) or a conflict; else sign in the HSM and queue the ledger
 * entry.  The signature leaves this process only through the ledger
 * callback after COMMIT; on any failure it is wiped.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/timex.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/obj_mac.h>
#include <openssl/rand.h>

#include "clock.h"
#include "cms.h"
#include "err.h"
#include "log.h"
#include "metrics.h"
#include "secret.h"
#include "signer.h"

_Static_assert((int)SIGN_SHA256 == (int)HSM_SHA256 &&
	(int)SIGN_SHA384 == (int)HSM_SHA384 &&
	(int)SIGN_SHA512 == (int)HSM_SHA512,
    "sign_digest and hsm_digest must agree");

struct signer {
	struct hsm *hsm;
	struct ledger *ledger;
	struct sd_queue queue;
	unsigned int nworkers;
	pthread_t *threads;
	pthread_t reaper;
	int have_reaper;
	struct ledger_reader **readers;
	/* time-stamps: genTime never goes back, across workers and (seeded
	 * from the ledger) restarts */
	pthread_mutex_t tsa_lock;
	int64_t tsa_last_us;
	int tsa_require_sync;
	atomic_uint_fast64_t tickets;
	struct inflight inflight; /* the signatures in progress */
};

/* A queued signature's lookup done by the worker of an earlier one. */
enum ahead_state {
	AHEAD_NONE,    /* not looked up */
	AHEAD_PENDING, /* in another worker's lookup now */
	AHEAD_ABSENT,  /* the ledger did not hold it then */
	AHEAD_OWN,     /* it did, or the query failed: its own worker asks */
};

/* The queued requests a worker looks up with its own (look_up). */
struct ahead {
	struct ledger_req_key key[SD_SIGN_LOOKAHEAD];
	uint64_t ticket[SD_SIGN_LOOKAHEAD];
	unsigned char absent[SD_SIGN_LOOKAHEAD];
	size_t n;
};

_Static_assert(sizeof(((struct ledger_req_key *)0)->request_id) ==
	    sizeof(((struct sign_req *)0)->request_id) &&
	sizeof(((struct ledger_req_key *)0)->client) ==
	    sizeof(((struct sign_job *)0)->client),
    "a lookahead key holds a job's client and request_id");

struct worker_arg {
	struct signer *s;
	struct ledger_reader *rd;
};

static int
is_signature(const struct sign_job *j)
{
	return !j->is_lookup && !j->is_tsa;
}

static void
answer(struct sign_job *j, int r)
{
	j->result = r;
	if (r != 0)
		secret_wipe(j->entry.sig, sizeof(j->entry.sig));
	j->done(j, j->arg);
}

/* Queue j for a worker, its wait for one starting now. */
static int
enqueue(struct signer *s, struct sign_job *j)
{
	clock_gettime(CLOCK_MONOTONIC, &j->queued_at);
	j->ticket = atomic_fetch_add(&s->tickets, 1);
	j->ahead = AHEAD_NONE;
	return sd_queue_push(&s->queue, &j->qnode);
}

/* The copy inflight_leave put in progress after a failure goes on:
 * queued, it is looked up, and signed when the ledger does not hold its
 * request.  A copy that cannot be queued is answered with why, and the
 * next one goes on. */
static void
go_on(struct signer *s, struct inflight_node *n)
{
	struct sign_job *c;
	int r;

	while (n != NULL) {
		c = SD_CONTAINER_OF(n, struct sign_job, copies);
		if ((r = enqueue(s, c)) == 0)
			return;
		n = inflight_leave(&s->inflight, n);
		c->in_table = 0;
		answer(c, r);
	}
}

/* Copies out of the table, queued together: their request recorded
 * (inflight_leave_all: each one's lookup finds the entry), or the one
 * they waited for in progress too long (inflight_expire: around). */
static void
go_on_all(struct signer *s, struct inflight_node *n, int around)
{
	struct inflight_node *next;
	struct sign_job *c;
	int r;

	for (; n != NULL; n = next) {
		next = n->next; /* c may be answered as soon as it is queued */
		c = SD_CONTAINER_OF(n, struct sign_job, copies);
		c->in_table = 0;
		if (around)
			metrics_sign_copy_around();
		if ((r = enqueue(s, c)) != 0)
			answer(c, r);
	}
}

/* j's answer, then the copies of a signature that waited for it: all at
 * once when its request is recorded (j answered with the entry, or with
 * a conflict with it), else the next one in its place. */
static void
finish(struct sign_job *j, int r)
{
	struct signer *s = j->signer;
	int in_table = j->in_table, recorded = r == 0 || r == SD_ERR_CONFLICT;
	struct inflight_node *n = NULL;

	if (in_table) {
		j->in_table = 0;
		n = recorded ? inflight_leave_all(&s->inflight, &j->copies)
			     : inflight_leave(&s->inflight, &j->copies);
	}
	answer(j, r);
	if (recorded)
		go_on_all(s, n, 0);
	else
		go_on(s, n);
}

static void
committed(struct ledger_entry *e, int r, void *arg)
{
	(void)e;
	finish(arg, r);
}

static int
waited_too_long(const struct sd_qnode *n, void *arg)
{
	(void)arg;
	return sd_ms_since(
		   &SD_CONTAINER_OF(n, struct sign_job, qnode)->queued_at) >
	    SD_SIGN_QUEUE_WAIT_MS;
}

/* Fail jobs that waited too long for a worker (every HSM session hung,
 * or overload); the queue is FIFO, so they are at its head.  Copies that
 * wait behind a request in progress for too long go around it. */
static void *
reaper_main(void *arg)
{
	struct signer *s = arg;
	struct sd_qnode *n, *next;
	struct sign_job *j;
	size_t count;

	while (!sd_queue_wait_stop(&s->queue, 100)) {
		go_on_all(
		    s, inflight_expire(&s->inflight, SD_SIGN_QUEUE_WAIT_MS), 1);
		n = sd_queue_take_old(&s->queue, waited_too_long, NULL);
		for (count = 0; n != NULL; n = next, count++) {
			j = SD_CONTAINER_OF(n, struct sign_job, qnode);
			next = n->next;
			finish(j, j->is_lookup ? SD_ERR_BUSY : SD_ERR_HSM);
		}
		if (count > 0)
			log_warn("%zu request%s waited over %d ms for an HSM "
				 "worker",
			    count, count == 1 ? "" : "s",
			    SD_SIGN_QUEUE_WAIT_MS);
	}
	return NULL;
}

static void
fill_entry(struct sign_job *j)
{
	struct ledger_entry *e = &j->entry;
	const struct sign_req *q = &j->req;

	memset(e, 0, sizeof(*e));
	snprintf(e->client, sizeof(e->client), "%s", j->client);
	e->client_uid = j->peer.uid;
	e->client_pid = j->peer.pid;
	memcpy(e->request_id, q->request_id, sizeof(e->request_id));
	sign_req_hash(q, e->request_hash);
	snprintf(e->key_name, sizeof(e->key_name), "%s", j->key->pk->name);
	e->key_version = j->key->version;
	keys_sig_alg(j->key, q->digest_alg, e->algorithm, sizeof(e->algorithm));
	snprintf(e->digest_alg, sizeof(e->digest_alg), "%s",
	    sign_digest_name(q->digest_alg));
	memcpy(e->digest, q->digest, q->digest_len);
	e->digest_len = q->digest_len;
	snprintf(e->format, sizeof(e->format), "%s", q->format);
	memcpy(e->evidence_type, q->evidence_type, sizeof(e->evidence_type));
	memcpy(e->evidence_ref, q->evidence_ref, sizeof(e->evidence_ref));
	memcpy(e->policy_hash, j->policy_hash, SD_HASH_LEN);
}

static int
run_lookup(struct ledger_reader *rd, struct ledger_lookup *lk)
{
	if (lk->seq > 0) {
		if ((lk->proof = malloc(sizeof(*lk->proof))) == NULL)
			return SD_ERR_INTERNAL;
		return ledger_get_entry(rd, lk->instance, lk->seq, lk->proof);
	}
	if ((lk->rows = calloc(lk->limit, sizeof(*lk->rows))) == NULL)
		return SD_ERR_INTERNAL;
	return ledger_get_page(
	    rd, lk->instance, lk->after, lk->limit, lk->rows, &lk->nrows);
}

struct hsm_call {
	struct hsm *hsm;
	const struct sd_key *key;
	enum hsm_digest alg;
};

static int
hsm_call_sign(void *arg, const uint8_t *digest, size_t dglen, uint8_t *sig,
    size_t cap, size_t *siglen)
{
	const struct hsm_call *c = arg;

	return hsm_sign(c->hsm, c->key->hk, c->key->scheme, c->alg, digest,
	    dglen, sig, cap, siglen);
}

/* A seal or token that does not fit is the key's certificates' fault,
 * not the client's: an internal error, logged. */
static int
too_large(int r, const struct sd_key *k)
{
	if (r != SD_ERR_TOO_LARGE)
		return r;
	log_error("key %s: its CMS does not fit in %d bytes (certificates "
		  "too large)",
	    k->pk->name, SD_SEAL_MAX);
	return SD_ERR_INTERNAL;
}

/* The CMS signer of key k, signing through call; -1 without a
 * certificate. */
static int
cms_signer_of(
    const struct sd_key *k, struct hsm_call *call, struct cms_signer *cs)
{
	if (k->cert == NULL)
		return -1;
	memset(cs, 0, sizeof(*cs));
	cs->cert = k->cert;
	cs->chain = k->chain;
	cs->pub = hsm_key_public(k->hk);
	cs->scheme = k->scheme == HSM_ECDSA ? CMS_SCHEME_ECDSA
	    : k->scheme == HSM_RSA_PSS      ? CMS_SCHEME_PSS
					    : CMS_SCHEME_PKCS1;
	cs->sign = hsm_call_sign;
	cs->arg = call;
	return 0;
}

/* The job's digest signed in its format: a bare signature (raw) or a
 * detached CAdES-B-B SignedData (cms) whose signing-time is the entry's
 * time, into j->entry.sig. */
static int
seal(struct hsm *h, struct sign_job *j)
{
	struct ledger_entry *e = &j->entry;
	struct hsm_call call = { h, j->key,
		(enum hsm_digest)j->req.digest_alg };
	struct cms_signer cs;
	struct cms_content cc;

	if (strcmp(j->req.format, "cms") != 0)
		return hsm_call_sign(&call, j->req.digest, j->req.digest_len,
		    e->sig, sizeof(e->sig), &e->sig_len);
	if (cms_signer_of(j->key, &call, &cs) != 0)
		return SD_ERR_INTERNAL; /* keys_load refuses such a policy */
	memset(&cc, 0, sizeof(cc));
	cc.md_nid = sign_digest_nid(j->req.digest_alg);
	cc.digest = j->req.digest;
	cc.digest_len = j->req.digest_len;
	cc.signing_time = (time_t)(e->signed_at_us / 1000000);
	return too_large(
	    cms_seal(&cs, &cc, e->sig, sizeof(e->sig), &e->sig_len), j->key);
}

/* The kernel's word on the clock (adjtimex): 1 when synchronized, with
 * a maximum error within the accuracy tokens state (ms; 0: none). */
static int
clock_synced(unsigned int accuracy_ms)
{
	struct timex tx;
	int state;

	memset(&tx, 0, sizeof(tx));
	state = adjtimex(&tx);
	return state != -1 && state != TIME_ERROR &&
	    !(tx.status & STA_UNSYNC) &&
	    (accuracy_ms == 0 || tx.maxerror <= (long)accuracy_ms * 1000L);
}

/* The token's time: now, unless the clock is not to be trusted or went
 * back behind a token already issued. */
static int
tsa_time(struct signer *s, unsigned int accuracy_ms, int64_t *us)
{
	int r = 0;

	if (s->tsa_require_sync && !clock_synced(accuracy_ms)) {
		log_warn("time-stamp refused: the kernel reports the clock "
			 "unsynchronized");
		return SD_ERR_CLOCK;
	}
	pthread_mutex_lock(&s->tsa_lock);
	*us = sd_now_us();
	if (*us < s->tsa_last_us) {
		log_error("time-stamp refused: the clock is %lld us behind the "
			  "last token issued",
		    (long long)(s->tsa_last_us - *us));
		r = SD_ERR_CLOCK;
	} else {
		s->tsa_last_us = *us;
	}
	pthread_mutex_unlock(&s->tsa_lock);
	return r;
}

/* Issue the job's time-stamp token into its (timestamp) entry. */
static int
run_tsa(struct signer *s, struct sign_job *j)
{
	struct ledger_entry *e = &j->entry;
	const struct sd_key *k = j->key;
	int p384 = hsm_key_is_ec(k->hk) && hsm_key_bits(k->hk) == 384;
	struct hsm_call call = { s->hsm, k, p384 ? HSM_SHA384 : HSM_SHA256 };
	unsigned int acc = k->pk->tsa_accuracy_ms;
	struct timespec t0;
	struct cms_signer cs;
	struct tsa_grant g;
	uint8_t serial[16];
	int r;

	memset(e, 0, sizeof(*e));
	if (cms_signer_of(k, &call, &cs) != 0)
		return SD_ERR_INTERNAL;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((r = tsa_time(s, acc, &e->signed_at_us)) != 0)
		return r;
	/* 126 random bits, positive, first byte never 0: the serial's DER
	 * INTEGER holds exactly these 16 bytes */
	if (RAND_bytes(serial, sizeof(serial)) != 1)
		return SD_ERR_INTERNAL;
	serial[0] = (uint8_t)((serial[0] & 0x3f) | 0x40);
	memset(&g, 0, sizeof(g));
	g.req = &j->tsa;
	g.policy = k->pk->tsa_policy;
	g.serial = serial;
	g.serial_len = sizeof(serial);
	g.gen_us = e->signed_at_us;
	g.accuracy_ms = k->pk->tsa_accuracy_ms;
	g.md_nid = p384 ? NID_sha384 : NID_sha256;
	if ((r = tsa_token(&cs, &g, e->sig, sizeof(e->sig), &e->sig_len)) != 0)
		return too_large(r, k);
	/* genTime is taken before the HSM signs: a token signed later than
	 * its stated accuracy (the HSM was slow or busy) is not handed out */
	if (sd_ms_since(&t0) > (long)(acc > 0 ? acc : 1000)) {
		log_warn("time-stamp dropped: signing took %ld ms, more than "
			 "the stated accuracy",
		    sd_ms_since(&t0));
		return SD_ERR_BUSY;
	}
	e->kind = LEDGER_TIMESTAMP;
	snprintf(e->client, sizeof(e->client), "%s", j->client);
	e->client_uid = j->peer.uid;
	e->client_pid = j->peer.pid;
	memcpy(e->request_hash, j->tsa.hash, SD_HASH_LEN);
	snprintf(e->key_name, sizeof(e->key_name), "%s", k->pk->name);
	e->key_version = k->version;
	keys_sig_alg(k, p384 ? SIGN_SHA384 : SIGN_SHA256, e->algorithm,
	    sizeof(e->algorithm));
	snprintf(e->digest_alg, sizeof(e->digest_alg), "%s",
	    OBJ_nid2ln(j->tsa.md_nid)); /* "sha256" */
	memcpy(e->digest, j->tsa.digest, j->tsa.digest_len);
	e->digest_len = j->tsa.digest_len;
	snprintf(e->format, sizeof(e->format), "rfc3161");
	memcpy(e->tsa_serial, serial, sizeof(serial));
	e->tsa_serial_len = sizeof(serial);
	snprintf(e->tsa_policy, sizeof(e->tsa_policy), "%s", k->pk->tsa_policy);
	memcpy(e->policy_hash, j->policy_hash, SD_HASH_LEN);
	return 0;
}

/* sd_queue_visit: take a queued signature not looked up into the
 * lookahead. */
static int
collect(struct sd_qnode *n, void *arg)
{
	struct sign_job *j = SD_CONTAINER_OF(n, struct sign_job, qnode);
	struct ahead *a = arg;

	if (!is_signature(j) || j->ahead != AHEAD_NONE)
		return 0;
	memcpy(a->key[a->n].client, j->client, sizeof(a->key[a->n].client));
	memcpy(a->key[a->n].request_id, j->req.request_id,
	    sizeof(a->key[a->n].request_id));
	a->ticket[a->n] = j->ticket;
	j->ahead = AHEAD_PENDING;
	return ++a->n == SD_SIGN_LOOKAHEAD;
}

/* sd_queue_visit: the lookahead's answer into the jobs still queued. */
static int
mark(struct sd_qnode *n, void *arg)
{
	struct sign_job *j = SD_CONTAINER_OF(n, struct sign_job, qnode);
	struct ahead *a = arg;
	size_t i;

	for (i = 0; i < a->n; i++)
		if (a->ticket[i] == j->ticket) {
			j->ahead = a->absent[i] ? AHEAD_ABSENT : AHEAD_OWN;
			break;
		}
	return 0;
}

/*
 * ledger_find_requests for j, unless the worker of an earlier job found
 * it absent.  The jobs queued behind j (among the next SD_SIGN_LOOKAHEAD)
 * that nobody looked up yet go into the same query; those the ledger
 * does not hold are marked, and their workers do not ask again.  A mark
 * stays true until the job finishes: no copy of a queued request is in
 * progress in this daemon meanwhile (inflight), unless it went around
 * the table; such a copy, or one sent to another instance, is settled at
 * COMMIT by the (client, request_id) constraint.  A job another worker
 * is looking up (pending), or that such a lookup found recorded or could
 * not answer, is looked up by its own worker, and taken into no other
 * lookahead.
 */
static int
look_up(struct signer *s, struct ledger_reader *rd, struct sign_job *j,
    struct ahead *a)
{
	size_t seen;
	int r;

	if (j->ahead == AHEAD_ABSENT) {
		metrics_ledger_lookup_ahead();
		return SD_ERR_NOT_FOUND;
	}
	a->n = 0;
	seen = sd_queue_visit(&s->queue, SD_SIGN_LOOKAHEAD, collect, a);
	metrics_ledger_lookup(a->n);
	r = ledger_find_requests(rd, &j->entry, a->key, a->n, a->absent);
	if (a->n > 0)
		sd_queue_visit(&s->queue, seen, mark, a);
	return r;
}

static void
run_job(struct signer *s, struct ledger_reader *rd, struct sign_job *j,
    struct ahead *a)
{
	struct ledger_entry *e = &j->entry;
	int r;

	if (j->is_lookup) {
		finish(j, run_lookup(rd, &j->lk));
		return;
	}
	if (j->is_tsa) {
		ledger_preparing(s->ledger, 1);
		r = run_tsa(s, j);
		ledger_preparing(s->ledger, -1);
		if (r != 0)
			finish(j, r);
		else if ((r = ledger_submit(s->ledger, e, committed, j)) != 0)
			finish(
			    j, r == SD_ERR_BUSY ? SD_ERR_BUSY : SD_ERR_LEDGER);
		return;
	}
	fill_entry(j);
	r = look_up(s, rd, j, a);
	if (r != SD_ERR_NOT_FOUND) { /* recorded, conflict, or ledger down */
		finish(j, r);
		return;
	}
	e->signed_at_us = sd_now_us();
	ledger_preparing(s->ledger, 1);
	r = seal(s->hsm, j);
	ledger_preparing(s->ledger, -1);
	if (r != 0) {
		finish(j, r);
		return;
	}
	if ((r = ledger_submit(s->ledger, e, committed, j)) != 0)
		finish(j, r == SD_ERR_BUSY ? SD_ERR_BUSY : SD_ERR_LEDGER);
}

static void *
worker_main(void *arg)
{
	struct worker_arg *wa = arg;
	struct sd_qnode *n;
	struct ahead a;
	int stopped = 0;

	while (!stopped) {
		if (sd_queue_pop(&wa->s->queue, &n, 1, -1, &stopped) == 1)
			run_job(wa->s, wa->rd,
			    SD_CONTAINER_OF(n, struct sign_job, qnode), &a);
	}
	free(wa);
	return NULL;
}

struct signer *
signer_new(struct hsm *h, struct ledger *l, const char *conninfo,
    unsigned int workers, const struct signer_tsa *tsa, char *errbuf,
    size_t errlen)
{
	struct worker_arg *wa;
	struct ledger_reader *rd;
	struct signer *s;
	unsigned int i;

	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->threads = calloc(workers, sizeof(*s->threads))) == NULL ||
	    (s->readers = calloc(workers, sizeof(*s->readers))) == NULL) {
		snprintf(errbuf, errlen, "out of memory");
		if (s != NULL)
			free(s->threads);
		free(s);
		return NULL;
	}
	s->hsm = h;
	s->ledger = l;
	s->tsa_require_sync = tsa->require_sync;
	pthread_mutex_init(&s->tsa_lock, NULL);
	atomic_init(&s->tickets, 0);
	inflight_init(&s->inflight);
	sd_queue_init(&s->queue, SD_SIGN_QUEUE_MAX);
	if ((rd = ledger_reader_new(conninfo)) == NULL ||
	    ledger_last_time(
		rd, tsa->instance, LEDGER_TIMESTAMP, &s->tsa_last_us) != 0) {
		ledger_reader_free(rd);
		snprintf(errbuf, errlen,
		    "cannot read the time of the last time-stamp");
		i = 0;
		goto fail;
	}
	ledger_reader_free(rd);
	if (pthread_create(&s->reaper, NULL, reaper_main, s) != 0) {
		snprintf(errbuf, errlen, "cannot start the reaper thread");
		i = 0;
		goto fail;
	}
	s->have_reaper = 1;
	for (i = 0; i < workers; i++) {
		if ((s->readers[i] = ledger_reader_new(conninfo)) == NULL ||
		    (wa = malloc(sizeof(*wa))) == NULL) {
			snprintf(errbuf, errlen, "out of memory");
			goto fail;
		}
		wa->s = s;
		wa->rd = s->readers[i];
		if (pthread_create(&s->threads[i], NULL, worker_main, wa) !=
		    0) {
			free(wa);
			snprintf(errbuf, errlen, "cannot start worker threads");
			goto fail;
		}
		s->nworkers++;
	}
	return s;
fail:
	ledger_reader_free(s->readers[i]);
	s->readers[i] = NULL;
	signer_free(s);
	return NULL;
}

int
signer_submit(struct signer *s, struct sign_job *j)
{
	int r;

	j->signer = s;
	/* set first: once entered, j may go on and finish on another thread */
	j->in_table = is_signature(j);
	if (!j->in_table)
		return enqueue(s, j);
	switch (inflight_enter(&s->inflight, &j->copies, j->client,
	    j->req.request_id, SD_SIGN_QUEUE_WAIT_MS)) {
	case INFLIGHT_WAITS:
		metrics_sign_copy_waited();
		return 0; /* it goes on when the copy before it finished */
	case INFLIGHT_FIRST:
		if ((r = enqueue(s, j)) != 0) { /* refused: no done */
			j->in_table = 0;
			go_on(s, inflight_leave(&s->inflight, &j->copies));
		}
		return r;
	default: /* around the table: settled at COMMIT if need be */
		j->in_table = 0;
		metrics_sign_copy_around();
		return enqueue(s, j);
	}
}

void
signer_free(struct signer *s)
{
	unsigned int i;

	if (s == NULL)
		return;
	sd_queue_stop(&s->queue); /* workers finish what is queued, then exit */
	for (i = 0; i < s->nworkers; i++)
		pthread_join(s->threads[i], NULL);
	if (s->have_reaper)
		pthread_join(s->reaper, NULL);
	/* a safety net: core_drain saw every request answered, but a
	 * signature answered from the ledger writer would use the table */
	if (sd_wait_zero(&s->inflight.count, SD_STOP_WAIT_MS) != 0) {
		log_error("%d signature request(s) still in progress after %d "
			  "ms: the signer is left allocated",
		    atomic_load(&s->inflight.count), SD_STOP_WAIT_MS);
		return;
	}
	inflight_destroy(&s->inflight);
	for (i = 0; i < s->nworkers; i++)
		ledger_reader_free(s->readers[i]);
	sd_queue_destroy(&s->queue);
	pthread_mutex_destroy(&s->tsa_lock);
	free(s->threads);
	free(s->readers);
	free(s);
}
