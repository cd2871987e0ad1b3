/*
 * signer: worker threads between the front and the HSM.  The order per
 * job is: wait for a copy of it in progress (inflight); when seald saw
 * (client, request_id) recorded lately (recent), look it up in the
 * ledger and, if recorded, answer with the record (same request) or a
 * conflict; else sign in the HSM and queue the ledger entry, whose
 * commit settles a request recorded all the same (ledger_write.c).  The
 * signature leaves this process only through the ledger callback after
 * COMMIT; on any failure it is wiped.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "err.h"
#include "log.h"
#include "metrics.h"
#include "recent.h"
#include "secret.h"
#include "seal.h"
#include "signer.h"

struct signer {
	struct hsm *hsm;
	struct ledger *ledger;
	struct sd_queue queue;
	unsigned int nworkers;
	pthread_t *threads;
	pthread_t reaper;
	int have_reaper;
	struct ledger_pool *readers; /* the workers' lookup connections */
	struct seal_clock clock;     /* of the time-stamps */
	struct inflight inflight;    /* the signatures in progress */
	struct recent recent;        /* the requests recorded lately */
	int have_recent;
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

/* every signer's, in /metrics */
static struct metrics_value m_lookups =
    METRICS_COUNTER("seald_ledger_lookups_total",
	"Idempotency lookups before signing (one query each): requests seald "
	"saw recorded lately, a retry.");
static struct metrics_value m_copies_waited =
    METRICS_COUNTER("seald_sign_copies_waited_total",
	"Signature requests that waited for a copy of them in progress (a "
	"retry sent before the first answer).");
static struct metrics_value m_copies_around =
    METRICS_COUNTER("seald_sign_copies_around_total",
	"Copies of a request in progress that did not wait for it (too many "
	"waited, or it was in progress for over 5 s).");

static struct metrics_value m_stamped =
    METRICS_COUNTER("seald_seals_stamped_total",
	"cades-t seals committed with their signature time-stamp (each token "
	"made by the seal's tsa_key, its serial in the seal's entry).");

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
			metrics_inc(&m_copies_around, 1);
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

	if (recorded && is_signature(j)) /* before anyone hears of it */
		recent_add(&s->recent, j->client, j->req.request_id);
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
	if (r == 0 && e->kind == LEDGER_SIGNATURE && e->tsa_serial_len > 0)
		metrics_inc(&m_stamped, 1);
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
		return ledger_get_entry(rd, lk->instance, lk->seq,
		    lk->client[0] != '\0' ? lk->client : NULL, lk->proof);
	}
	if ((lk->rows = calloc(lk->limit, sizeof(*lk->rows))) == NULL)
		return SD_ERR_INTERNAL;
	return ledger_get_page(
	    rd, lk->instance, lk->after, lk->limit, lk->rows, &lk->nrows);
}

/*
 * The idempotency lookup of j, when seald saw its request recorded
 * lately (a retry): the recorded result (0, replayed into j->entry), a
 * conflict, SD_ERR_LEDGER; SD_ERR_NOT_FOUND to sign it.  A request seald
 * does not know is not asked about: the ledger's (client, request_id)
 * constraint settles it at COMMIT if it was recorded all the same.
 */
static int
look_up(struct signer *s, struct sign_job *j)
{
	struct ledger_reader *rd;
	int r;

	if (!recent_has(&s->recent, j->client, j->req.request_id))
		return SD_ERR_NOT_FOUND;
	/* a lookup connection for the reads only, not while the HSM signs */
	rd = ledger_pool_take(s->readers);
	metrics_inc(&m_lookups, 1);
	r = ledger_find_request(rd, &j->entry);
	/* recorded: it goes out once a commit after it is confirmed (it may
	 * be on the primary alone: a cancelled wait, another instance's) */
	if (r == 0 &&
	    (!ledger_confirmed(s->ledger) ||
		!ledger_reader_confirm(rd, s->ledger)))
		r = SD_ERR_LEDGER;
	ledger_pool_give(s->readers, rd);
	return r;
}

static void
run_job(struct signer *s, struct sign_job *j)
{
	struct ledger_entry *e = &j->entry;
	struct ledger_reader *rd;
	int r;

	if (j->is_lookup) {
		/* a client's own entry goes out once a commit after it is
		 * confirmed: it may be on the primary only (auditors read on) */
		rd = ledger_pool_take(s->readers);
		r = run_lookup(rd, &j->lk);
		if (r == 0 && j->lk.client[0] != '\0' &&
		    (!ledger_confirmed(s->ledger) ||
			!ledger_reader_confirm(rd, s->ledger)))
			r = SD_ERR_LEDGER;
		ledger_pool_give(s->readers, rd);
		finish(j, r);
		return;
	}
	if (!ledger_intact(s->ledger)) { /* failed closed: sign nothing */
		finish(j, SD_ERR_LEDGER);
		return;
	}
	if (j->is_tsa) {
		ledger_preparing(s->ledger, 1);
		r = seal_tsa(s->hsm, &s->clock, j);
		ledger_preparing(s->ledger, -1);
		if (r != 0)
			finish(j, r);
		else if ((r = ledger_submit(s->ledger, e, committed, j)) != 0)
			finish(
			    j, r == SD_ERR_BUSY ? SD_ERR_BUSY : SD_ERR_LEDGER);
		return;
	}
	fill_entry(j);
	r = look_up(s, j);
	if (r != SD_ERR_NOT_FOUND) { /* recorded, conflict, or ledger down */
		finish(j, r);
		return;
	}
	e->signed_at_us = sd_now_us();
	ledger_preparing(s->ledger, 1);
	r = seal_sign(s->hsm, &s->clock, j);
	ledger_preparing(s->ledger, -1);
	j->hsm_signed = r == 0;
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
	struct signer *s = arg;
	struct sd_qnode *n;
	int stopped = 0;

	while (!stopped) {
		if (sd_queue_pop(&s->queue, &n, 1, -1, &stopped) == 1)
			run_job(s, SD_CONTAINER_OF(n, struct sign_job, qnode));
	}
	return NULL;
}

static void
add_recent(const char *client, const char *request_id, void *arg)
{
	recent_add(arg, client, request_id);
}

/* The requests this instance recorded last, into recent: retries that
 * come soon after a restart are looked up, not signed again.  A failure
 * costs only that (logged). */
static void
remember_recorded(
    struct signer *s, struct ledger_reader *rd, const char *instance)
{
	if (ledger_last_requests(
		rd, instance, RECENT_GEN, add_recent, &s->recent) != 0)
		log_warn("cannot read the last requests recorded: retries of "
			 "them will be signed again (and dropped at commit)");
}

struct signer *
signer_new(struct hsm *h, struct ledger *l, const char *conninfo,
    unsigned int workers, const struct signer_tsa *tsa, char *errbuf,
    size_t errlen)
{
	struct ledger_reader *rd;
	struct signer *s;
	unsigned int i;

	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->threads = calloc(workers, sizeof(*s->threads))) == NULL) {
		snprintf(errbuf, errlen, "out of memory");
		free(s);
		return NULL;
	}
	metrics_add(&m_lookups.f);
	metrics_add(&m_copies_waited.f);
	metrics_add(&m_copies_around.f);
	metrics_add(&m_stamped.f);
	s->hsm = h;
	s->ledger = l;
	s->clock.require_sync = tsa->require_sync;
	pthread_mutex_init(&s->clock.lock, NULL);
	inflight_init(&s->inflight);
	sd_queue_init(&s->queue, SD_SIGN_QUEUE_MAX);
	if (recent_init(&s->recent, s->inflight.seed) != 0) {
		snprintf(errbuf, errlen, "out of memory");
		goto fail;
	}
	s->have_recent = 1;
	if ((rd = ledger_reader_new(conninfo, ledger_commit_ms(l))) == NULL ||
	    ledger_last_stamp(rd, tsa->instance, &s->clock.last_us) != 0) {
		ledger_reader_free(rd);
		snprintf(errbuf, errlen,
		    "cannot read the time of the last time-stamp");
		goto fail;
	}
	remember_recorded(s, rd, tsa->instance);
	ledger_reader_free(rd);
	if ((s->readers = ledger_pool_new(conninfo, ledger_commit_ms(l),
		 workers < SD_LOOKUP_CONNS_MAX ? workers
					       : SD_LOOKUP_CONNS_MAX)) ==
	    NULL) {
		snprintf(errbuf, errlen, "out of memory");
		goto fail;
	}
	if (pthread_create(&s->reaper, NULL, reaper_main, s) != 0) {
		snprintf(errbuf, errlen, "cannot start the reaper thread");
		goto fail;
	}
	s->have_reaper = 1;
	for (i = 0; i < workers; i++) {
		if (pthread_create(&s->threads[i], NULL, worker_main, s) != 0) {
			snprintf(errbuf, errlen, "cannot start worker threads");
			goto fail;
		}
		s->nworkers++;
	}
	return s;
fail:
	signer_free(s);
	return NULL;
}

int
signer_submit(struct signer *s, struct sign_job *j)
{
	int r;

	j->signer = s;
	j->hsm_signed = 0;
	/* set first: once entered, j may go on and finish on another thread */
	j->in_table = is_signature(j);
	if (!j->in_table)
		return enqueue(s, j);
	switch (inflight_enter(&s->inflight, &j->copies, j->client,
	    j->req.request_id, SD_SIGN_QUEUE_WAIT_MS)) {
	case INFLIGHT_WAITS:
		metrics_inc(&m_copies_waited, 1);
		return 0; /* it goes on when the copy before it finished */
	case INFLIGHT_FIRST:
		if ((r = enqueue(s, j)) != 0) { /* refused: no done */
			j->in_table = 0;
			go_on(s, inflight_leave(&s->inflight, &j->copies));
		}
		return r;
	default: /* around the table: settled at COMMIT if need be */
		j->in_table = 0;
		metrics_inc(&m_copies_around, 1);
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
	if (s->have_recent)
		recent_destroy(&s->recent);
	ledger_pool_free(s->readers);
	sd_queue_destroy(&s->queue);
	pthread_mutex_destroy(&s->clock.lock);
	free(s->threads);
	free(s);
}
