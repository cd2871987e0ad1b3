/*
 * signer: worker threads between the front and the HSM.  The order per
 * job is: look up (client, request_id) in the ledger; if recorded, answer
 * with the record (same request) or a conflict; else sign in the HSM and
 * queue the ledger entry.  The signature leaves this process only through
 * the ledger callback after COMMIT; on any failure it is wiped.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/obj_mac.h>

#include "clock.h"
#include "cms.h"
#include "err.h"
#include "log.h"
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
};

struct worker_arg {
	struct signer *s;
	struct ledger_reader *rd;
};

static void
finish(struct sign_job *j, int r)
{
	j->result = r;
	if (r != 0)
		secret_wipe(j->entry.sig, sizeof(j->entry.sig));
	j->done(j, j->arg);
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
 * or overload); the queue is FIFO, so they are at its head. */
static void *
reaper_main(void *arg)
{
	struct signer *s = arg;
	struct sd_qnode *n, *next;
	struct sign_job *j;
	size_t count;

	while (!sd_queue_wait_stop(&s->queue, 100)) {
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

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
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
	e->key_version = j->key->pk->version;
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

/* The job's digest signed in its format: a bare signature (raw) or a
 * detached CAdES-B-B SignedData (cms) whose signing-time is the entry's
 * time, into j->entry.sig. */
static int
seal(struct hsm *h, struct sign_job *j)
{
	static const int md_nid[] = { [SIGN_SHA256] = NID_sha256,
		[SIGN_SHA384] = NID_sha384,
		[SIGN_SHA512] = NID_sha512 };
	struct ledger_entry *e = &j->entry;
	struct hsm_call call = { h, j->key,
		(enum hsm_digest)j->req.digest_alg };
	struct cms_signer cs;
	struct cms_content cc;

	if (strcmp(j->req.format, "cms") != 0)
		return hsm_call_sign(&call, j->req.digest, j->req.digest_len,
		    e->sig, sizeof(e->sig), &e->sig_len);
	if (j->key->cert == NULL)
		return SD_ERR_INTERNAL; /* keys_load refuses such a policy */
	memset(&cs, 0, sizeof(cs));
	cs.cert = j->key->cert;
	cs.chain = j->key->chain;
	cs.pub = hsm_key_public(j->key->hk);
	cs.scheme = j->key->scheme == HSM_ECDSA ? CMS_SCHEME_ECDSA
	    : j->key->scheme == HSM_RSA_PSS     ? CMS_SCHEME_PSS
						: CMS_SCHEME_PKCS1;
	cs.sign = hsm_call_sign;
	cs.arg = &call;
	memset(&cc, 0, sizeof(cc));
	cc.md_nid = md_nid[j->req.digest_alg];
	cc.digest = j->req.digest;
	cc.digest_len = j->req.digest_len;
	cc.signing_time = (time_t)(e->signed_at_us / 1000000);
	return cms_seal(&cs, &cc, e->sig, sizeof(e->sig), &e->sig_len);
}

static void
run_job(struct signer *s, struct ledger_reader *rd, struct sign_job *j)
{
	struct ledger_entry *e = &j->entry;
	int r;

	if (j->is_lookup) {
		finish(j, run_lookup(rd, &j->lk));
		return;
	}
	fill_entry(j);
	r = ledger_find_request(rd, e);
	if (r != SD_ERR_NOT_FOUND) { /* recorded, conflict, or ledger down */
		finish(j, r);
		return;
	}
	e->signed_at_us = now_us();
	if ((r = seal(s->hsm, j)) != 0) {
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
	int stopped = 0;

	while (!stopped) {
		if (sd_queue_pop(&wa->s->queue, &n, 1, -1, &stopped) == 1)
			run_job(wa->s, wa->rd,
			    SD_CONTAINER_OF(n, struct sign_job, qnode));
	}
	free(wa);
	return NULL;
}

struct signer *
signer_new(struct hsm *h, struct ledger *l, const char *conninfo,
    unsigned int workers, char *errbuf, size_t errlen)
{
	struct worker_arg *wa;
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
	sd_queue_init(&s->queue, SD_SIGN_QUEUE_MAX);
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
	clock_gettime(CLOCK_MONOTONIC, &j->queued_at);
	return sd_queue_push(&s->queue, &j->qnode);
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
	for (i = 0; i < s->nworkers; i++)
		ledger_reader_free(s->readers[i]);
	sd_queue_destroy(&s->queue);
	free(s->threads);
	free(s->readers);
	free(s);
}
