/*
 * ledger_write: each entry's result from what the database answered.
 *
 * When the connection is lost during a commit, the writer reconnects,
 * reads the chain head again and asks the database, by (client,
 * request_id), which entries of the batch it holds: those are answered,
 * the others are written once more.  An in-doubt commit is thus resolved
 * by what the database holds, never guessed.  A batch that hits the
 * (client, request_id) constraint (the same request committed by another
 * instance) is written again one entry at a time so that only the
 * duplicates are affected (a lost commit there is settled the same way).
 * A key entry commits with its change in one transaction.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "ledger_pq.h"
#include "ledger_writer.h"
#include "log.h"
#include "metrics.h"

/* 1 when the database holds exactly this entry (our own commit), 0 when
 * not, -1 on error. */
static int
committed_as_is(struct ledger *l, const struct ledger_entry *e)
{
	const char *v[3];
	int len[3] = { 0, 0, SD_HASH_LEN }, fmt[3] = { 0, 0, 1 };
	char seq[24];
	PGresult *res;
	int r;

	snprintf(seq, sizeof(seq), "%lld", (long long)e->seq);
	v[0] = l->instance;
	v[1] = seq;
	v[2] = (const char *)e->entry_hash;
	res = PQexecParams(l->conn,
	    "SELECT 1 FROM ledger_entries WHERE instance = $1 AND seq = $2 "
	    "AND entry_hash = $3",
	    3, NULL, v, len, fmt, 0);
	r = PQresultStatus(res) != PGRES_TUPLES_OK ? -1 : PQntuples(res) > 0;
	PQclear(res);
	return r;
}

/* The result of an entry whose commit was in doubt, or that hit the
 * request constraint: our own commit, a retry answered with the recorded
 * result, a conflict, or SD_ERR_NOT_FOUND (write it again). */
static int
settle_recorded(struct ledger *l, struct ledger_entry *e)
{
	int r;

	if ((r = committed_as_is(l, e)) != 0)
		return r > 0 ? 0 : SD_ERR_LEDGER;
	if (e->kind != LEDGER_SIGNATURE)
		return SD_ERR_NOT_FOUND;
	return ledger_find_on(l->conn, e);
}

static void
set_all(struct ledger_entry **b, size_t n, int r)
{
	size_t i;

	for (i = 0; i < n; i++)
		b[i]->result = r;
}

/* Keep (seq, hash) of entries whose commit is in doubt, by value: the
 * entries may be gone when a later reconnect finds them committed. */
static void
doubt_of(struct ledger *l, struct ledger_entry **b, size_t n)
{
	size_t i;

	for (i = 0; i < n && l->ndoubt < SD_LEDGER_BATCH_MAX; i++) {
		l->doubt[l->ndoubt].seq = b[i]->seq;
		memcpy(l->doubt[l->ndoubt].hash, b[i]->entry_hash, SD_HASH_LEN);
		l->ndoubt++;
	}
}

/* One entry of write_one_by_one: its result.  A lost commit is settled
 * on a new connection, as write_entries does, and the entry written once
 * more when the database does not hold it (once: may_retry). */
static int
write_one(struct ledger *l, struct ledger_entry *e, int may_retry)
{
	int r = ledger_insert_rows(l, &e, 1);

	if (r == SD_ERR_CONFLICT) {
		r = settle_recorded(l, e);
		return r == SD_ERR_NOT_FOUND ? SD_ERR_LEDGER : r;
	}
	if (r == INSERT_LOST) {
		/* kept as in doubt, so that check_head takes it for seald's
		 * own when the reconnect finds it */
		doubt_of(l, &e, 1);
		ledger_session_drop(l);
		if (!may_retry || ledger_session_ensure(l, 0) != 0)
			return SD_ERR_LEDGER;
		r = settle_recorded(l, e);
		return r == SD_ERR_NOT_FOUND ? write_one(l, e, 0) : r;
	}
	if (r != 0 && l->conn != NULL && PQstatus(l->conn) != CONNECTION_OK) {
		ledger_session_drop(l);
		r = SD_ERR_LEDGER;
	}
	return r;
}

/* After a (client, request_id) conflict: one entry at a time. */
static void
write_one_by_one(struct ledger *l, struct ledger_entry **b, size_t n)
{
	size_t i;

	set_all(b, n, SD_ERR_LEDGER);
	for (i = 0; i < n && l->conn != NULL; i++)
		b[i]->result = write_one(l, b[i], 1);
}

/*
 * Write b[0..n) and set each entry's result.  After a connection lost
 * mid-commit (and when may_retry), reconnect, settle the entries the
 * database holds and write the others once more.
 */
static void
write_entries(
    struct ledger *l, struct ledger_entry **b, size_t n, int may_retry)
{
	struct ledger_entry *again[SD_LEDGER_BATCH_MAX];
	struct timespec t0;
	size_t i, m = 0;
	int r;

	set_all(b, n, SD_ERR_LEDGER);
	if (ledger_session_ensure(l, 1) != 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = ledger_insert_rows(l, b, n);
	metrics_ledger_commit(n, metrics_us_since(&t0), r == 0);
	if (r == 0) {
		set_all(b, n, 0);
	} else if (r == SD_ERR_CONFLICT) {
		write_one_by_one(l, b, n);
	} else if (r == INSERT_LOST) {
		doubt_of(l, b, n);
		ledger_session_drop(l);
		if (!may_retry || ledger_session_ensure(l, 0) != 0)
			return;
		for (i = 0; i < n; i++) {
			b[i]->result = settle_recorded(l, b[i]);
			if (b[i]->result == SD_ERR_NOT_FOUND)
				again[m++] = b[i];
		}
		log_info("ledger: %zu of %zu in-doubt entries were committed",
		    n - m, n);
		if (m > 0)
			write_entries(l, again, m, 0);
	} else {
		ledger_session_drop(
		    l); /* start again from what the database holds */
	}
}

static int
exec_ok(PGconn *c, const char *sql)
{
	PGresult *res = PQexec(c, sql);
	int ok = PQresultStatus(res) == PGRES_COMMAND_OK;

	PQclear(res);
	return ok;
}

/* The writer's view of the chain, kept across a transaction that may
 * roll back. */
struct head_state {
	int64_t seq;
	uint8_t hash[SD_HASH_LEN], tree_head[SD_HASH_LEN];
	struct merkle_frontier tree;
};

static void
head_save(const struct ledger *l, struct head_state *h)
{
	h->seq = l->head_seq;
	memcpy(h->hash, l->head_hash, SD_HASH_LEN);
	memcpy(h->tree_head, l->tree_head, SD_HASH_LEN);
	h->tree = l->tree;
}

static void
head_restore(struct ledger *l, const struct head_state *h)
{
	l->head_seq = h->seq;
	memcpy(l->head_hash, h->hash, SD_HASH_LEN);
	memcpy(l->tree_head, h->tree_head, SD_HASH_LEN);
	l->tree = h->tree;
}

/* COMMIT of a key entry's transaction: 0 committed, SD_ERR_LEDGER not.
 * When the answer is lost, the database says after a reconnect whether
 * the entry is there (the reconnect takes it into the chain if so). */
static int
commit_applied(
    struct ledger *l, struct ledger_entry *e, const struct head_state *before)
{
	int r;

	if (exec_ok(l->conn, "COMMIT"))
		return 0;
	if (PQstatus(l->conn) == CONNECTION_OK) {
		head_restore(l, before);
		return SD_ERR_LEDGER;
	}
	head_restore(l, before);
	doubt_of(l, &e, 1);
	ledger_session_drop(l);
	if (ledger_session_ensure(l, 0) != 0)
		return LEDGER_IN_DOUBT; /* the next connection settles it */
	r = committed_as_is(l, e);
	return r == 1 ? 0 : r == 0 ? SD_ERR_LEDGER : LEDGER_IN_DOUBT;
}

/*
 * A key entry with its change: BEGIN, apply, INSERT, COMMIT, so that the
 * change and its record commit together or not at all.
 */
static int
write_applied(struct ledger *l, struct ledger_entry *e)
{
	struct head_state before;
	int r;

	if (ledger_session_ensure(l, 1) != 0)
		return SD_ERR_LEDGER;
	head_save(l, &before);
	if (!exec_ok(l->conn, "BEGIN")) {
		ledger_session_drop(l);
		return SD_ERR_LEDGER;
	}
	if ((r = e->apply(l->conn, e->apply_arg)) == 0 &&
	    (r = ledger_insert_rows(l, &e, 1)) == 0)
		return commit_applied(l, e, &before);
	head_restore(l, &before);
	if (PQstatus(l->conn) == CONNECTION_OK)
		(void)exec_ok(l->conn, "ROLLBACK");
	else
		ledger_session_drop(l);
	return r == INSERT_LOST ? SD_ERR_LEDGER : r;
}

void
ledger_write_all(struct ledger *l, struct ledger_entry **b, size_t n)
{
	size_t i = 0, j;

	while (i < n) {
		if (b[i]->apply != NULL) {
			b[i]->result = write_applied(l, b[i]);
			i++;
			continue;
		}
		for (j = i; j < n && b[j]->apply == NULL; j++)
			;
		write_entries(l, b + i, j - i, 1);
		i = j;
	}
}
