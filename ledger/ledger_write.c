/*
 * ledger_write: each entry's result from what the database answered.
 *
 * When the connection is lost during a commit (within its deadline), the
 * writer reconnects, reads the chain head again and asks the database,
 * by (client, request_id), which entries of the batch it holds: those
 * are answered, the others are written once more.  Past the deadline (a
 * frozen server) they are answered in doubt at once, and the next
 * connection settles them.  An in-doubt commit is thus resolved
 * by what the database holds, never guessed.
 *
 * The (client, request_id) constraint is where seald's idempotency is
 * decided: workers sign without asking the ledger first unless seald saw
 * the request recorded lately (daemon/core/recent.c).  A batch the
 * constraint refuses holds a request recorded already (a retry signed
 * again, here or on another instance): one query on the writer's
 * connection finds which, those are answered with the recorded entry
 * (their new signature dropped) or a conflict, and the others are
 * written again as a batch.  Refused again (another instance committed
 * one of them meanwhile, two copies in one batch), they are written one
 * entry at a time, so that only the duplicates are affected (a lost
 * commit there is settled the same way).
 * A key entry commits with its change in one transaction.
 *
 * Every commit has seald's own deadline (ledger_bounded.c).  A commit the
 * synchronous standby did not confirm in time is on the primary only:
 * its entries are answered ledger_unavailable (in doubt; a retry settles
 * it), and until a commit is confirmed again nothing the database holds
 * is released and seald is not ready (ledger_confirmed).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "err.h"
#include "ledger_pq.h"
#include "ledger_writer.h"
#include "log.h"
#include "metrics.h"

/* every ledger's commits, in /metrics */
static struct metrics_histogram m_commit = METRICS_HISTOGRAM(
    "seald_ledger_commit_duration_seconds", "One ledger commit (a batch).");
static struct metrics_value m_entries =
    METRICS_COUNTER("seald_ledger_batch_entries_total",
	"Entries committed in batches (per commit: divide by the commit "
	"count).");
static struct metrics_value m_failed = METRICS_COUNTER(
    "seald_ledger_commits_failed_total", "Commits that failed.");
static struct metrics_value m_duplicates =
    METRICS_COUNTER("seald_ledger_duplicates_total",
	"Signatures not written because the ledger held their request "
	"already (a retry signed again): dropped, the request answered with "
	"the recorded entry or a conflict.");
static void
count_commit(size_t n, long us, int ok)
{
	metrics_observe(&m_commit, us);
	metrics_inc(&m_entries, (long)n);
	if (!ok)
		metrics_inc(&m_failed, 1);
}

void
ledger_write_add_metrics(void)
{
	metrics_add(&m_commit.f);
	metrics_add(&m_entries.f);
	metrics_add(&m_failed.f);
	metrics_add(&m_duplicates.f);
}

/* A commit's outcome into readiness: an unconfirmed one makes seald
 * unready until one is confirmed (a later commit, or the idle probe);
 * then what came before it is on the standby too. */
void
ledger_commit_seen(struct ledger *l, int r)
{
	if (r == INSERT_UNCONFIRMED) {
		atomic_store(&l->unconfirmed, 1);
		if (!l->unconfirmed_said++)
			log_error("ledger: a commit was not confirmed within "
				  "%ld ms (is the synchronous standby "
				  "down?): its entries are in doubt, nothing "
				  "is released and seald is not ready until "
				  "a commit is confirmed",
			    l->commit_ms);
		ledger_writes_seen(l, 0);
		return;
	}
	/* only a commit of our own that came back in time says that what
	 * came before it is on the standby (a conflict proves nothing) */
	if (r == 0 &&
	    (atomic_exchange(&l->unconfirmed, 0) || l->unconfirmed_said)) {
		if (l->unconfirmed_said)
			log_info("ledger: commits are confirmed again");
		l->unconfirmed_said = 0;
	}
	ledger_writes_seen(l, r == 0 || r == SD_ERR_CONFLICT);
}

/* 1 when the database holds exactly this entry (our own commit), 0 when
 * not, -1 on error or when no answer came by until. */
static int
committed_as_is(struct ledger *l, const struct timespec *until,
    const struct ledger_entry *e)
{
	struct ledger_pq_stmt s = { NULL,
		"SELECT 1 FROM ledger_entries WHERE instance = $1 AND seq = $2 "
		"AND entry_hash = $3",
		3, NULL, NULL, NULL, 0 };
	const char *v[3];
	int len[3] = { 0, 0, SD_HASH_LEN }, fmt[3] = { 0, 0, 1 };
	char seq[24];
	PGresult *res;
	int r;

	snprintf(seq, sizeof(seq), "%lld", (long long)e->seq);
	v[0] = l->instance;
	v[1] = seq;
	v[2] = (const char *)e->entry_hash;
	s.v = v;
	s.len = len;
	s.fmt = fmt;
	res = ledger_pq_read(l->conn, &s, until);
	r = PQresultStatus(res) != PGRES_TUPLES_OK ? -1 : PQntuples(res) > 0;
	PQclear(res);
	return r;
}

/* A read the server did not answer in time leaves the connection busy:
 * drop it (the next use reconnects).  1 when it was dropped. */
static int
drop_if_busy(struct ledger *l)
{
	if (l->conn == NULL || PQtransactionStatus(l->conn) != PQTRANS_ACTIVE)
		return 0;
	log_warn("ledger: no answer within %ld ms: the connection is dropped",
	    l->commit_ms);
	ledger_session_drop(l);
	return 1;
}

/* The result of an entry whose commit was in doubt, or that hit the
 * request constraint: our own commit, a retry answered with the recorded
 * result, a conflict, or SD_ERR_NOT_FOUND (write it again). */
static int
settle_recorded(struct ledger *l, struct ledger_entry *e)
{
	struct timespec until = sd_deadline_ms(l->commit_ms);
	int r;

	if ((r = committed_as_is(l, &until, e)) == 0)
		r = e->kind != LEDGER_SIGNATURE
		    ? SD_ERR_NOT_FOUND
		    : ledger_find_on(l->conn, &until, e);
	else
		r = r > 0 ? 0 : SD_ERR_LEDGER;
	return drop_if_busy(l) ? SD_ERR_LEDGER : r;
}

static void
set_all(struct ledger_entry **b, size_t n, int r)
{
	size_t i;

	for (i = 0; i < n; i++)
		b[i]->result = r;
}

int
ledger_confirm(struct ledger *l)
{
	enum ledger_pq_commit how;

	if (ledger_session_ensure(l, 1) != 0)
		return 0;
	how = ledger_pq_confirm(l->conn, l->commit_ms, &l->unconfirmed);
	if (how == LEDGER_PQ_LOST)
		ledger_session_drop(l);
	ledger_commit_seen(
	    l, how == LEDGER_PQ_CONFIRMED ? 0 : INSERT_UNCONFIRMED);
	return how == LEDGER_PQ_CONFIRMED;
}

/* What the database holds may go out (result 0) only once a commit after
 * it is confirmed: a settled or replayed entry may be on this server
 * alone (a lost commit, another instance's, a cancelled wait). */
static int
released(struct ledger *l, int r)
{
	return r == 0 && !ledger_confirm(l) ? SD_ERR_LEDGER : r;
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

	if (r == INSERT_UNCONFIRMED) {
		ledger_commit_seen(l, r);
		return SD_ERR_LEDGER;
	}
	if (r == SD_ERR_CONFLICT) {
		r = settle_recorded(l, e);
		if (r == SD_ERR_NOT_FOUND)
			return SD_ERR_LEDGER;
		if (r == 0 || r == SD_ERR_CONFLICT)
			metrics_inc(&m_duplicates, 1);
		return released(l, r);
	}
	if (r == INSERT_LOST) {
		/* kept as in doubt, so that check_head takes it for seald's
		 * own when the reconnect finds it */
		doubt_of(l, &e, 1);
		ledger_session_drop(l);
		if (!may_retry || ledger_session_ensure(l, 0) != 0)
			return SD_ERR_LEDGER;
		r = settle_recorded(l, e);
		return r == SD_ERR_NOT_FOUND ? write_one(l, e, 0)
					     : released(l, r);
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

static void write_unrecorded(
    struct ledger *l, struct ledger_entry **b, size_t n, int may_retry);

/*
 * Write b[0..n) and set each entry's result.  After a connection lost
 * mid-commit (and when may_retry), reconnect, settle the entries the
 * database holds and write the others once more.  A batch the request
 * constraint refused is written without its recorded requests when
 * settle (write_unrecorded), else one entry at a time.
 */
static void
write_entries(struct ledger *l, struct ledger_entry **b, size_t n,
    int may_retry, int settle)
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
	count_commit(n, metrics_us_since(&t0), r == 0);
	ledger_commit_seen(l, r);
	if (r == 0) {
		set_all(b, n, 0);
	} else if (r == INSERT_UNCONFIRMED) {
		/* committed here, the head moved: in doubt, not released */
		log_warn("ledger: %zu entries (seq %lld..%lld) committed but "
			 "not confirmed",
		    n, (long long)b[0]->seq, (long long)b[n - 1]->seq);
	} else if (r == SD_ERR_CONFLICT && settle) {
		write_unrecorded(l, b, n, may_retry);
	} else if (r == SD_ERR_CONFLICT) {
		write_one_by_one(l, b, n);
	} else if (r == INSERT_LOST) {
		doubt_of(l, b, n);
		ledger_session_drop(l);
		/* past the commit's deadline (a frozen server) the entries
		 * are answered now, in doubt: the next connection settles
		 * them, and a retry gets what the ledger holds */
		if (!may_retry ||
		    metrics_us_since(&t0) >= l->commit_ms * 1000 ||
		    ledger_session_ensure(l, 0) != 0)
			return;
		for (i = 0; i < n; i++) {
			b[i]->result = settle_recorded(l, b[i]);
			if (b[i]->result == SD_ERR_NOT_FOUND)
				again[m++] = b[i];
		}
		log_info("ledger: %zu of %zu in-doubt entries were committed",
		    n - m, n);
		/* what the lost commit left goes out once one is confirmed */
		if (m < n && !ledger_confirm(l))
			for (i = 0; i < n; i++)
				if (b[i]->result == 0)
					b[i]->result = SD_ERR_LEDGER;
		if (m > 0)
			write_entries(l, again, m, 0, settle);
	} else {
		ledger_session_drop(
		    l); /* start again from what the database holds */
	}
}

/*
 * b[0..n), refused by the request constraint: one query finds the
 * requests the ledger holds; each is answered with its entry (replayed,
 * its own signature wiped) or a conflict, and the others are written
 * again (a second refusal: one at a time).  A replay goes out once a
 * commit after it is confirmed: the others', or ledger_confirm's.
 */
static void
write_unrecorded(
    struct ledger *l, struct ledger_entry **b, size_t n, int may_retry)
{
	struct ledger_entry *rest[SD_LEDGER_BATCH_MAX];
	int found[SD_LEDGER_BATCH_MAX];
	struct timespec until = sd_deadline_ms(l->commit_ms);
	size_t i, m = 0, replays = 0;
	int r;

	r = ledger_find_all_on(l->conn, &until, b, n, found);
	if (drop_if_busy(l) || r != 0) {
		set_all(b, n, SD_ERR_LEDGER);
		return;
	}
	for (i = 0; i < n; i++) {
		if (found[i] == SD_ERR_NOT_FOUND) {
			rest[m++] = b[i];
			continue;
		}
		b[i]->result = found[i];
		replays += found[i] == 0;
	}
	metrics_inc(&m_duplicates, (long)(n - m));
	if (m > 0)
		write_entries(l, rest, m, may_retry, 0);
	if (replays == 0 || (m > 0 && rest[0]->result == 0))
		return; /* (a result 0 of the rest's: a confirmed commit) */
	if (!ledger_confirm(l))
		for (i = 0; i < n; i++)
			if (b[i]->replayed && b[i]->result == 0)
				b[i]->result = SD_ERR_LEDGER;
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
	struct ledger_pq_stmt s;
	enum ledger_pq_commit how;
	struct timespec until;
	PGresult *res;
	int r;

	memset(&s, 0, sizeof(s));
	s.sql = "COMMIT";
	res = ledger_pq_exec_bounded(
	    l->conn, &s, l->commit_ms, &l->unconfirmed, &how);
	r = PQresultStatus(res) == PGRES_COMMAND_OK;
	PQclear(res);
	if (how != LEDGER_PQ_LOST && r) {
		ledger_commit_seen(
		    l, how == LEDGER_PQ_CONFIRMED ? 0 : INSERT_UNCONFIRMED);
		/* unconfirmed: the change is committed here, maybe not on
		 * the standby: in doubt, never undone by the caller */
		return how == LEDGER_PQ_CONFIRMED ? 0 : LEDGER_IN_DOUBT;
	}
	if (how != LEDGER_PQ_LOST && PQstatus(l->conn) == CONNECTION_OK) {
		head_restore(l, before);
		return SD_ERR_LEDGER;
	}
	head_restore(l, before);
	doubt_of(l, &e, 1);
	ledger_session_drop(l);
	if (ledger_session_ensure(l, 0) != 0)
		return LEDGER_IN_DOUBT; /* the next connection settles it */
	until = sd_deadline_ms(l->commit_ms);
	r = committed_as_is(l, &until, e);
	(void)drop_if_busy(l);
	if (r == 1)
		return ledger_confirm(l) ? 0 : LEDGER_IN_DOUBT;
	return r == 0 ? SD_ERR_LEDGER : LEDGER_IN_DOUBT;
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
	/* a lost INSERT leaves the connection busy: no ROLLBACK on it */
	if (r != INSERT_LOST && PQstatus(l->conn) == CONNECTION_OK)
		(void)exec_ok(l->conn, "ROLLBACK");
	else
		ledger_session_drop(l);
	return r == INSERT_LOST || r == INSERT_UNCONFIRMED ? SD_ERR_LEDGER : r;
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
		write_entries(l, b + i, j - i, 1, 1);
		i = j;
	}
}
