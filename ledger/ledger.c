/*
 * ledger: the group-commit writer (the request lookup is
 * ledger_request.c, the lookup connections ledger_pq.c).
 *
 * The writer thread takes every entry queued while the previous commit
 * was in flight (up to SD_LEDGER_BATCH_MAX), and those whose signatures
 * are in the HSM then, waiting for them at most the batch wait (gather),
 * chains them (seq, prev_hash, entry_hash) and writes them with one
 * INSERT (ledger_insert.c), which commits on return (autocommit,
 * synchronous_commit=on).  Callbacks run only then.  A lost or refused
 * commit is settled by what the database holds (ledger_write.c); the
 * connection comes back by itself (ledger_session.c).  At intervals the
 * chain head is signed (a checkpoint), and once more at a clean stop.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "err.h"
#include "ledger_pq.h"
#include "ledger_writer.h"
#include "log.h"
#include "metrics.h"
#include "secret.h"

#define HEARTBEAT_SEC 1 /* idle connection check */

/* The new signed head: kept for ledger_head_note, and handed to the
 * witness (the token, a file) after the database has it. */
static void
witness(struct ledger *l, const struct ledger_cp *k)
{
	char note[SD_NOTE_MAX];
	int n;

	if ((n = ledger_note_format(
		 k, l->instance, l->cp.pub, note, sizeof(note))) < 0)
		return;
	pthread_mutex_lock(&l->note_mu);
	memcpy(l->note, note, (size_t)n + 1);
	pthread_mutex_unlock(&l->note_mu);
	if (l->cp.witness != NULL)
		l->cp.witness(l->cp.arg, note, (size_t)n);
}

/* Sign the chain head with the tree's root.  Writer thread (or, before
 * and after it, the opener and closer). */
static int
checkpoint(struct ledger *l, int closing)
{
	uint8_t root[SD_HASH_LEN];
	struct ledger_cp k;
	int r;

	if ((int64_t)l->tree.size != l->head_seq) {
		log_error("ledger: the Merkle tree (%llu) is not at the head "
			  "(%lld): no checkpoint",
		    (unsigned long long)l->tree.size, (long long)l->head_seq);
		return SD_ERR_INTERNAL;
	}
	merkle_root(&l->tree, root);
	r = ledger_cp_write(l->conn, l->instance, l->head_seq, l->head_hash,
	    root, closing, l->cp_last_us + 1, &l->cp, l->commit_ms,
	    &l->unconfirmed, &k);
	if (r == 0 || r == LEDGER_CP_UNCONFIRMED) {
		l->cp_last_us = k.signed_at_us;
		if (r == 0)
			witness(l, &k); /* only what the standby has too */
		else
			ledger_commit_seen(l, INSERT_UNCONFIRMED);
		r = 0; /* stored: not to be written again */
	} else if (PQstatus(l->conn) != CONNECTION_OK || PQisBusy(l->conn)) {
		ledger_session_drop(l); /* no answer: start again */
	}
	return r;
}

int
ledger_head_note(struct ledger *l, const char *instance, char *out, size_t cap)
{
	int r = SD_ERR_NOT_FOUND;

	pthread_mutex_lock(&l->note_mu);
	if (strcmp(instance, l->instance) == 0 && l->note[0] != '\0' &&
	    strlen(l->note) < cap) {
		memcpy(out, l->note, strlen(l->note) + 1);
		r = 0;
	}
	pthread_mutex_unlock(&l->note_mu);
	return r;
}

/* Sign the chain head when `every` entries are unsigned, or (idle) when
 * unsigned entries waited `seconds`.  Writer thread only. */
static void
maybe_checkpoint(struct ledger *l, int idle)
{
	if (!l->have_cp || l->conn == NULL || l->head_seq <= l->cp_seq)
		return;
	if (l->head_seq - l->cp_seq < (int64_t)l->cp.every &&
	    (!idle || sd_ms_since(&l->cp_time) < (long)l->cp.seconds * 1000L))
		return;
	clock_gettime(CLOCK_MONOTONIC, &l->cp_time);
	if (checkpoint(l, 0) == 0)
		l->cp_seq = l->head_seq;
}

/* every ledger's writer, in /metrics */
static struct metrics_value m_waits =
    METRICS_COUNTER("seald_ledger_batch_waits_total",
	"Commits that waited for signatures in progress.");
static struct metrics_value m_lag = METRICS_GAUGE(
    "seald_ledger_lag_entries", "Signed entries waiting for their commit.");

/*
 * Group commit's wait: when entries are on their way (their signatures
 * in the HSM now), take them into this commit too, waiting for them at
 * most batch_wait.  A commit costs the database about the same for one
 * entry as for several (parse of the constraints, one WAL flush), so
 * under load this trades a little latency for much less work per entry;
 * when nothing is being signed, a lone entry is committed at once.
 */
static size_t
gather(struct ledger *l, struct sd_qnode **out, size_t cap)
{
	long us = atomic_load(&l->batch_wait_us);
	int coming = atomic_load(&l->preparing);
	struct timespec until;

	if (us <= 0 || coming <= 0 || cap == 0)
		return 0;
	metrics_inc(&m_waits, 1);
	until = sd_deadline_us(us);
	return sd_queue_pop_until(&l->queue, out, cap, (size_t)coming, &until);
}

static void *
writer_main(void *arg)
{
	struct ledger *l = arg;
	struct sd_qnode *nodes[SD_LEDGER_BATCH_MAX];
	struct ledger_entry *b[SD_LEDGER_BATCH_MAX];
	size_t n, i;
	int stopped = 0;

	for (;;) {
		n = sd_queue_pop(&l->queue, nodes, SD_LEDGER_BATCH_MAX,
		    HEARTBEAT_SEC * 1000L, &stopped);
		if (stopped)
			break;
		if (n == 0) {
			ledger_session_heartbeat(l);
			maybe_checkpoint(l, 1);
			continue;
		}
		n += gather(l, nodes + n, SD_LEDGER_BATCH_MAX - n);
		for (i = 0; i < n; i++)
			b[i] = SD_CONTAINER_OF(
			    nodes[i], struct ledger_entry, qnode);
		ledger_write_all(l, b, n);
		if (l->head_seq >=
		    0) /* settled: what the verifier may expect */
			atomic_store(&l->committed_seq, l->head_seq);
		metrics_inc(&m_lag, -(long)n);
		for (i = 0; i < n; i++) {
			/* while a commit is unconfirmed, nothing the database
			 * holds is released: a replay found there may be on
			 * the primary only */
			if (b[i]->result == 0 && !ledger_confirmed(l))
				b[i]->result = b[i]->apply != NULL
				    ? LEDGER_IN_DOUBT /* its change is kept */
				    : SD_ERR_LEDGER;
			b[i]->done(b[i], b[i]->result, b[i]->done_arg);
		}
		maybe_checkpoint(l, 0);
	}
	return NULL;
}

/* The chain check at start (ledger_cp_check); with allow_broken, a
 * failure is logged and kept, and the checks that follow start from the
 * stored head. */
static int
check_at_open(struct ledger *l, const struct ledger_checkpointer *cp,
    const struct ledger_checks *chk, int allow_broken, char *errbuf,
    size_t errlen)
{
	int64_t bad;

	if (ledger_cp_last_at(l->conn, l->instance, &l->cp_last_us) != 0) {
		ledger_pq_error(l->conn, "read checkpoints", errbuf, errlen);
		return SD_ERR_LEDGER;
	}
	if (cp == NULL && l->cp_last_us > 0) {
		/* it would append where no checkpoint could follow, and its
		 * own check would then take a clean stop's for tampering */
		snprintf(errbuf, errlen,
		    "instance %s has signed checkpoints: set "
		    "ledger.checkpoint_key (its audit key) to go on",
		    l->instance);
		return SD_ERR_LEDGER;
	}
	if (cp != NULL) {
		l->have_cp = 1;
		l->cp = *cp;
	}
	clock_gettime(CLOCK_MONOTONIC, &l->cp_time);
	/* A chain without any subtree row (older than the tree, or the
	 * operator deleted them all to have them rebuilt) gets them here,
	 * from its entries; the check then compares every row.  Rows that
	 * are only partly there are not made up: the check says which. */
	if (l->head_seq > 1 && ledger_merkle_none(l->conn, l->instance))
		(void)ledger_merkle_load(
		    l->conn, l->instance, l->head_seq, l->commit_ms, &l->tree);
	if (ledger_cp_check(l->conn, l->instance, cp, chk, &l->cp_seq, &l->tree,
		errbuf, errlen) == 0 &&
	    (cp == NULL ||
		ledger_witness_check(l->conn, l->instance, cp->pub, l->head_seq,
		    chk->heads, chk->nheads, &bad, errbuf, errlen) == 0))
		return 0;
	if (!allow_broken)
		return SD_ERR_LEDGER;
	/* The operator asked to go on: say so, keep the problem for the
	 * override entry, and continue from the stored head. */
	log_error("ledger check failed: %s", errbuf);
	log_warn("starting anyway, as --override-ledger-check asks; the "
		 "override is recorded in the ledger");
	snprintf(l->problem, sizeof(l->problem), "%s", errbuf);
	if (ledger_merkle_load(l->conn, l->instance, l->head_seq, l->commit_ms,
		&l->tree) != 0) {
		snprintf(errbuf, errlen,
		    "cannot continue past it: the chain has gaps (restore "
		    "the database from a backup)");
		return SD_ERR_LEDGER;
	}
	l->watch_from = l->head_seq;
	memcpy(l->watch_hash, l->head_hash, SD_HASH_LEN);
	l->watch_tree = l->tree;
	return 0;
}

struct ledger *
ledger_open(const char *conninfo, const char *instance,
    const struct ledger_checkpointer *cp, const struct ledger_checks *chk,
    int allow_broken, char *errbuf, size_t errlen)
{
	static const struct ledger_checks none;
	struct ledger *l;

	if (strlen(conninfo) >= SD_CONNINFO_MAX ||
	    strlen(instance) >= SD_NAME_MAX) {
		snprintf(errbuf, errlen, "conninfo or instance too long");
		return NULL;
	}
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		snprintf(errbuf, errlen, "out of memory");
		return NULL;
	}
	atomic_store(&l->writes_ok, 1); /* until a commit fails */
	/* nothing is released before a commit is confirmed (ledger_open's
	 * check, at once without synchronous replication) */
	atomic_store(&l->unconfirmed, 1);
	atomic_store(&l->intact, 1); /* until a check finds a break */
	pthread_mutex_init(&l->note_mu, NULL);
	pthread_mutex_init(&l->server_mu, NULL);
	if (chk == NULL)
		chk = &none;
	l->verify_rate = chk->verify_rate;
	l->commit_ms =
	    chk->commit_ms > 0 ? (long)chk->commit_ms : SD_COMMIT_MS_DEFAULT;
	ledger_write_add_metrics();
	metrics_add(&m_waits.f);
	metrics_add(&m_lag.f);
	memcpy(l->conninfo, conninfo, strlen(conninfo) + 1);
	memcpy(l->instance, instance, strlen(instance) + 1);
	sd_queue_init(&l->queue, SD_LEDGER_QUEUE_MAX);
	if (ledger_session_open(l, errbuf, errlen) != 0)
		goto fail;
	if (check_at_open(l, cp, chk, allow_broken, errbuf, errlen) != 0)
		goto fail_conn;
	memcpy(l->tree_head, l->head_hash, SD_HASH_LEN);
	l->have_tree = 1;
	/* Signed before anything is appended: entries that follow a closing
	 * checkpoint with no opening one after it are not seald's. */
	if (l->have_cp && l->head_seq > 0) {
		if (checkpoint(l, 0) != 0) {
			snprintf(errbuf, errlen,
			    "cannot sign the opening checkpoint with the "
			    "audit key");
			goto fail_conn;
		}
		l->cp_seq = l->head_seq;
	}
	atomic_store(&l->committed_seq, l->head_seq);
	if (!ledger_confirm(l))
		log_warn(
		    "ledger: no commit confirmed at start: not ready until "
		    "one is");
	if (pthread_create(&l->thread, NULL, writer_main, l) != 0) {
		snprintf(errbuf, errlen, "cannot start the ledger writer");
		goto fail_conn;
	}
	if (ledger_watch_start(l) != 0)
		log_error("ledger: cannot start the background verifier");
	log_info("ledger ready: instance %s, chain head at seq %lld",
	    l->instance, (long long)l->head_seq);
	return l;
fail_conn:
	PQfinish(l->conn);
fail:
	sd_queue_destroy(&l->queue);
	secret_wipe(l->conninfo, sizeof(l->conninfo));
	free(l);
	return NULL;
}

const char *
ledger_open_problem(const struct ledger *l)
{
	return l->problem[0] != '\0' ? l->problem : NULL;
}

void
ledger_close(struct ledger *l)
{
	if (l == NULL)
		return;
	ledger_watch_stop(l);
	sd_queue_stop(&l->queue); /* the writer commits what is queued */
	pthread_join(l->thread, NULL);
	/* a clean stop leaves the whole chain signed */
	if (l->have_cp && l->conn != NULL && l->head_seq > 0 &&
	    checkpoint(l, 1) == 0)
		log_info(
		    "closing checkpoint at seq %lld", (long long)l->head_seq);
	PQfinish(l->conn);
	sd_queue_destroy(&l->queue);
	secret_wipe(l->conninfo, sizeof(l->conninfo));
	free(l);
}

void
ledger_set_batch_wait(struct ledger *l, long us)
{
	atomic_store(&l->batch_wait_us, us);
}

void
ledger_preparing(struct ledger *l, int delta)
{
	atomic_fetch_add(&l->preparing, delta);
}

int
ledger_submit(struct ledger *l, struct ledger_entry *e,
    void (*done)(struct ledger_entry *, int, void *), void *arg)
{
	int r;

	if (!atomic_load(&l->intact))
		return SD_ERR_LEDGER; /* failed closed */
	e->done = done;
	e->done_arg = arg;
	e->replayed = 0;
	if ((r = sd_queue_push(&l->queue, &e->qnode)) == 0)
		metrics_inc(&m_lag, 1);
	return r;
}

int
ledger_ready(struct ledger *l)
{
	return atomic_load(&l->connected) && atomic_load(&l->writes_ok) &&
	    ledger_confirmed(l) && atomic_load(&l->intact);
}

int
ledger_confirmed(struct ledger *l)
{
	return l != NULL && !atomic_load(&l->unconfirmed);
}

long
ledger_commit_ms(const struct ledger *l)
{
	return l != NULL ? l->commit_ms : 0;
}

int
ledger_intact(struct ledger *l)
{
	return atomic_load(&l->intact);
}
