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

/* Sign the chain head with the tree's root.  Writer thread (or, before
 * and after it, the opener and closer). */
static int
checkpoint(struct ledger *l, int closing)
{
	uint8_t root[SD_HASH_LEN];

	if ((int64_t)l->tree.size != l->head_seq) {
		log_error("ledger: the Merkle tree (%llu) is not at the head "
			  "(%lld): no checkpoint",
		    (unsigned long long)l->tree.size, (long long)l->head_seq);
		return SD_ERR_INTERNAL;
	}
	merkle_root(&l->tree, root);
	return ledger_cp_write(l->conn, l->instance, l->head_seq, l->head_hash,
	    root, closing, &l->cp);
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
	metrics_ledger_batch_wait();
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
		metrics_ledger_waiting(-(long)n);
		for (i = 0; i < n; i++)
			b[i]->done(b[i], b[i]->result, b[i]->done_arg);
		maybe_checkpoint(l, 0);
	}
	return NULL;
}

/* The chain check at start (with checkpoints), or just the tree. */
static int
check_at_open(struct ledger *l, const struct ledger_checkpointer *cp,
    int allow_broken, char *errbuf, size_t errlen)
{
	if (cp == NULL) {
		if (ledger_merkle_load(
			l->conn, l->instance, l->head_seq, &l->tree) != 0) {
			snprintf(errbuf, errlen,
			    "cannot build the Merkle tree of the chain");
			return SD_ERR_LEDGER;
		}
		return 0;
	}
	l->have_cp = 1;
	l->cp = *cp;
	clock_gettime(CLOCK_MONOTONIC, &l->cp_time);
	if (ledger_cp_check(l->conn, l->instance, cp, &l->cp_seq, &l->tree,
		errbuf, errlen) == 0)
		return 0;
	if (!allow_broken)
		return SD_ERR_LEDGER;
	/* The operator asked to go on: say so, keep the problem for the
	 * override entry, and continue from the stored head. */
	log_error("ledger check failed: %s", errbuf);
	log_warn("starting anyway, as --override-ledger-check asks; the "
		 "override is recorded in the ledger");
	snprintf(l->problem, sizeof(l->problem), "%s", errbuf);
	if (ledger_merkle_load(l->conn, l->instance, l->head_seq, &l->tree) !=
	    0) {
		snprintf(errbuf, errlen,
		    "cannot continue past it: the chain has gaps (restore "
		    "the database from a backup)");
		return SD_ERR_LEDGER;
	}
	return 0;
}

struct ledger *
ledger_open(const char *conninfo, const char *instance,
    const struct ledger_checkpointer *cp, int allow_broken, char *errbuf,
    size_t errlen)
{
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
	memcpy(l->conninfo, conninfo, strlen(conninfo) + 1);
	memcpy(l->instance, instance, strlen(instance) + 1);
	sd_queue_init(&l->queue, SD_LEDGER_QUEUE_MAX);
	if (ledger_session_open(l, errbuf, errlen) != 0)
		goto fail;
	if (check_at_open(l, cp, allow_broken, errbuf, errlen) != 0)
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
	if (pthread_create(&l->thread, NULL, writer_main, l) != 0) {
		snprintf(errbuf, errlen, "cannot start the ledger writer");
		goto fail_conn;
	}
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

	e->done = done;
	e->done_arg = arg;
	e->replayed = 0;
	if ((r = sd_queue_push(&l->queue, &e->qnode)) == 0)
		metrics_ledger_waiting(1);
	return r;
}

int
ledger_ready(struct ledger *l)
{
	return atomic_load(&l->connected);
}
