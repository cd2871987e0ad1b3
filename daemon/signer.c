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
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct sign_job *head, *tail;
	size_t queued;
	int stopping;
	unsigned int nworkers;
	pthread_t *threads;
	pthread_t reaper;
	int have_reaper;
	pthread_cond_t reap_cond;
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

static long
ms_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t->tv_sec) * 1000L +
	    (now.tv_nsec - t->tv_nsec) / 1000000L;
}

/* Fail jobs that waited too long for a worker; the queue is FIFO, so the
 * oldest are at its head. */
static void *
reaper_main(void *arg)
{
	struct signer *s = arg;
	struct sign_job *expired, *j;
	struct timespec until;
	size_t n;

	pthread_mutex_lock(&s->lock);
	while (!s->stopping) {
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 100 * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		(void)pthread_cond_timedwait(&s->reap_cond, &s->lock, &until);
		expired = NULL;
		n = 0;
		while (s->head != NULL &&
		    ms_since(&s->head->queued_at) > SD_SIGN_QUEUE_WAIT_MS) {
			j = s->head;
			s->head = j->next;
			if (s->head == NULL)
				s->tail = NULL;
			s->queued--;
			j->next = expired;
			expired = j;
			n++;
		}
		if (n == 0)
			continue;
		pthread_mutex_unlock(&s->lock);
		log_warn("%zu request%s waited over %d ms for an HSM worker", n,
		    n == 1 ? "" : "s", SD_SIGN_QUEUE_WAIT_MS);
		while ((j = expired) != NULL) {
			expired = j->next;
			finish(j, SD_ERR_HSM);
		}
		pthread_mutex_lock(&s->lock);
	}
	pthread_mutex_unlock(&s->lock);
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
	snprintf(e->key_name, sizeof(e->key_name), "%s", j->key->cfg->name);
	e->key_version = j->key->cfg->version;
	keys_sig_alg(j->key, q->digest_alg, e->algorithm, sizeof(e->algorithm));
	snprintf(e->digest_alg, sizeof(e->digest_alg), "%s",
	    sign_digest_name(q->digest_alg));
	memcpy(e->digest, q->digest, q->digest_len);
	e->digest_len = q->digest_len;
	snprintf(e->format, sizeof(e->format), "%s", q->format);
	memcpy(e->evidence_type, q->evidence_type, sizeof(e->evidence_type));
	memcpy(e->evidence_ref, q->evidence_ref, sizeof(e->evidence_ref));
}

static void
run_job(struct signer *s, struct ledger_reader *rd, struct sign_job *j)
{
	struct ledger_entry *e = &j->entry;
	int r;

	fill_entry(j);
	r = ledger_find_request(rd, e);
	if (r != SD_ERR_NOT_FOUND) { /* recorded, conflict, or ledger down */
		finish(j, r);
		return;
	}
	if ((r = hsm_sign(s->hsm, j->key->hk, j->key->scheme,
		 (enum hsm_digest)j->req.digest_alg, j->req.digest,
		 j->req.digest_len, e->sig, sizeof(e->sig), &e->sig_len)) !=
	    0) {
		finish(j, r);
		return;
	}
	e->signed_at_us = now_us();
	if ((r = ledger_submit(s->ledger, e, committed, j)) != 0)
		finish(j, r == SD_ERR_BUSY ? SD_ERR_BUSY : SD_ERR_LEDGER);
}

static void *
worker_main(void *arg)
{
	struct worker_arg *wa = arg;
	struct signer *s = wa->s;
	struct sign_job *j;

	for (;;) {
		pthread_mutex_lock(&s->lock);
		while (s->head == NULL && !s->stopping)
			pthread_cond_wait(&s->cond, &s->lock);
		if (s->head == NULL) {
			pthread_mutex_unlock(&s->lock);
			break;
		}
		j = s->head;
		s->head = j->next;
		if (s->head == NULL)
			s->tail = NULL;
		s->queued--;
		pthread_mutex_unlock(&s->lock);
		run_job(s, wa->rd, j);
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
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	pthread_cond_init(&s->reap_cond, NULL);
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
	int r = 0;

	j->next = NULL;
	clock_gettime(CLOCK_MONOTONIC, &j->queued_at);
	pthread_mutex_lock(&s->lock);
	if (s->stopping)
		r = SD_ERR_SHUTDOWN;
	else if (s->queued >= SD_SIGN_QUEUE_MAX)
		r = SD_ERR_BUSY;
	if (r == 0) {
		if (s->tail != NULL)
			s->tail->next = j;
		else
			s->head = j;
		s->tail = j;
		s->queued++;
		pthread_cond_signal(&s->cond);
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

void
signer_free(struct signer *s)
{
	unsigned int i;

	if (s == NULL)
		return;
	pthread_mutex_lock(&s->lock);
	s->stopping = 1;
	pthread_cond_broadcast(&s->cond);
	pthread_cond_signal(&s->reap_cond);
	pthread_mutex_unlock(&s->lock);
	for (i = 0; i < s->nworkers; i++)
		pthread_join(s->threads[i], NULL);
	if (s->have_reaper)
		pthread_join(s->reaper, NULL);
	for (i = 0; i < s->nworkers; i++)
		ledger_reader_free(s->readers[i]);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	pthread_cond_destroy(&s->reap_cond);
	free(s->threads);
	free(s->readers);
	free(s);
}
