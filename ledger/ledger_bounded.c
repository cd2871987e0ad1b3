/*
 * ledger_bounded: a statement that commits, answered within seald's own
 * deadline, and whether its success is confirmed (ledger_pq.h).
 *
 * With synchronous replication, PostgreSQL commits locally and then
 * waits for the standby; statement_timeout does not end that wait, and a
 * cancel ends it with success and only a WARNING ("canceling wait for
 * synchronous replication ... already committed locally"): the entry is
 * on the primary but maybe on no standby, and would be lost with the
 * primary.  So seald sends the statement without blocking, waits up to
 * its deadline, cancels then, and takes as unconfirmed every success
 * that came after a cancel or with any WARNING: the one of a wait for
 * synchronous replication cut by someone else (an administrator's
 * pg_cancel_backend) has no SQLSTATE of its own (01000) and its text is
 * in the server's language (lc_messages), so seald does not read it; a
 * commit says nothing else in a warning.  A server that does not take
 * the cancel within a second (a live one takes it in milliseconds: it is
 * frozen), or answers not even the cancel within another deadline, has
 * lost the connection.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "ledger_pq.h"
#include "log.h"

struct watch {
	int warned; /* a WARNING came: the commit is not confirmed */
};

static void
watch_notice(void *arg, const PGresult *res)
{
	struct watch *w = arg;
	const char *sev =
	    PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

	if (msg == NULL)
		return;
	if (sev != NULL && strcmp(sev, "WARNING") == 0) {
		w->warned = 1;
		log_warn("postgres: %.200s (the commit is not confirmed)", msg);
	} else {
		log_debug("postgres: %.200s", msg);
	}
}

static void
quiet_receiver(void *arg, const PGresult *res)
{
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

	(void)arg;
	log_debug("postgres: %.200s", msg != NULL ? msg : "");
}

/*
 * A cancel runs on a thread of its own: PQcancel waits until the server
 * closes the cancel connection, and a frozen server (its processes
 * stopped, its machine paused, its disk hung) does that only when it
 * thaws, over a Unix socket never before.  The statement's wait goes on
 * meanwhile and ends at its own deadline.  A connection is used again
 * only once its cancel was delivered: one that arrived later could end
 * the next statement.
 */
struct cancel_job {
	PGcancel *k;
	atomic_int refs; /* the waiter's and the thread's */
	atomic_int done; /* 0 in flight, 1 delivered, -1 failed */
};

#define CANCELS_MAX 8        /* threads still waiting on frozen servers */
#define CANCEL_TAKEN_MS 1000 /* a live server takes a cancel within */
static atomic_int cancels_out;

static void
job_put(struct cancel_job *j)
{
	if (j != NULL && atomic_fetch_sub(&j->refs, 1) == 1) {
		PQfreeCancel(j->k);
		free(j);
	}
}

static void *
cancel_main(void *arg)
{
	struct cancel_job *j = arg;
	char err[256];

	atomic_store(&j->done, PQcancel(j->k, err, sizeof(err)) == 1 ? 1 : -1);
	atomic_fetch_sub(&cancels_out, 1);
	job_put(j);
	return NULL;
}

/* Ask the server to cancel c's statement, on a detached thread; NULL
 * when it could not go (then drop c). */
static struct cancel_job *
cancel_start(PGconn *c)
{
	struct cancel_job *j;
	pthread_attr_t a;
	pthread_t t;
	int ok;

	if (atomic_fetch_add(&cancels_out, 1) >= CANCELS_MAX) {
		atomic_fetch_sub(&cancels_out, 1);
		log_warn("ledger: %d cancels still wait for a frozen "
			 "server: none more is sent",
		    CANCELS_MAX);
		return NULL;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (j->k = PQgetCancel(c)) == NULL) {
		free(j);
		atomic_fetch_sub(&cancels_out, 1);
		return NULL;
	}
	atomic_init(&j->refs, 2);
	atomic_init(&j->done, 0);
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	ok = pthread_create(&t, &a, cancel_main, j) == 0;
	pthread_attr_destroy(&a);
	if (!ok) {
		atomic_fetch_sub(&cancels_out, 1);
		PQfreeCancel(j->k);
		free(j);
		return NULL;
	}
	return j;
}

/* Wait for j's delivery until t0 + ms: 1 when delivered. */
static int
cancel_delivered(struct cancel_job *j, const struct timespec *t0, long ms)
{
	const struct timespec tick = { 0, 1000000L };

	while (atomic_load(&j->done) == 0 && sd_ms_since(t0) < ms)
		nanosleep(&tick, NULL);
	return atomic_load(&j->done) == 1;
}

/* Wait up to ms (-1: for ever) for input on c's socket; -1 when the
 * connection failed. */
static int
wait_input(PGconn *c, long ms)
{
	struct pollfd pf;

	pf.fd = PQsocket(c);
	pf.events = POLLIN;
	pf.revents = 0;
	if (pf.fd < 0)
		return -1;
	if (poll(&pf, 1, (int)(ms >= 0 ? ms : -1)) < 0 && errno != EINTR)
		return -1;
	return PQconsumeInput(c) == 1 ? 0 : -1;
}

/* Send s on c without waiting: 1 when it went.  Without parameters and
 * with results in text a simple query, as PQexec sends it. */
static int
send_stmt(PGconn *c, const struct ledger_pq_stmt *s)
{
	if (s->name != NULL)
		return PQsendQueryPrepared(
		    c, s->name, s->n, s->v, s->len, s->fmt, s->binary);
	if (s->n == 0 && !s->binary)
		return PQsendQuery(c, s->sql);
	return PQsendQueryParams(
	    c, s->sql, s->n, NULL, s->v, s->len, s->fmt, s->binary);
}

/* Take every result c has ready; 1 when the last came (*res is the
 * answer), 0 when more is to come. */
static int
take_results(PGconn *c, PGresult **res)
{
	PGresult *r;

	while (!PQisBusy(c)) {
		if ((r = PQgetResult(c)) == NULL)
			return 1;
		PQclear(*res); /* the last result is the answer */
		*res = r;
	}
	return 0;
}

PGresult *
ledger_pq_exec_bounded(PGconn *c, const struct ledger_pq_stmt *s,
    long deadline_ms, atomic_int *doubt, enum ledger_pq_commit *how)
{
	struct watch w = { 0 };
	struct cancel_job *k = NULL;
	struct timespec t0, tk;
	PGresult *res = NULL;
	long left;

	*how = LEDGER_PQ_LOST;
	PQsetNoticeReceiver(c, watch_notice, &w);
	if (!send_stmt(c, s))
		goto out;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		left = deadline_ms * (k != NULL ? 2 : 1) - sd_ms_since(&t0);
		if (take_results(c, &res)) {
			/* a cancel still on its way could end the next
			 * statement: without it delivered, c is lost */
			if (k != NULL &&
			    !cancel_delivered(k, &t0, 2 * deadline_ms))
				break;
			*how = k != NULL || w.warned ? LEDGER_PQ_UNCONFIRMED
						     : LEDGER_PQ_CONFIRMED;
			if (*how != LEDGER_PQ_CONFIRMED && doubt != NULL)
				atomic_store(doubt, 1);
			goto out;
		}
		if (k != NULL && atomic_load(&k->done) < 0)
			break; /* the cancel could not go: c is lost */
		if (k != NULL && atomic_load(&k->done) == 0 &&
		    sd_ms_since(&tk) >= CANCEL_TAKEN_MS) {
			log_warn("ledger: the server did not take the cancel "
				 "within %d ms (frozen?): the connection is "
				 "lost",
			    CANCEL_TAKEN_MS);
			break;
		}
		if (left <= 0 && k != NULL)
			break; /* not even the cancel was answered */
		if (left <= 0) {
			log_warn("ledger: no commit after %ld ms: cancelling "
				 "it (the entry is in doubt)",
			    deadline_ms);
			/* before the cancel: the server makes a commit that
			 * waits for the standby visible as it takes it */
			if (doubt != NULL)
				atomic_store(doubt, 1);
			if ((k = cancel_start(c)) == NULL)
				break;
			clock_gettime(CLOCK_MONOTONIC, &tk);
			continue;
		}
		/* with a cancel on its way, look at it every 50 ms */
		if (wait_input(c, k != NULL && left > 50 ? 50 : left) != 0)
			break;
	}
	PQclear(res); /* lost: whatever came is no answer */
	res = NULL;
	if (doubt != NULL && (w.warned || k != NULL))
		atomic_store(doubt, 1);
out:
	job_put(k);
	PQsetNoticeReceiver(c, quiet_receiver, NULL);
	return res;
}

PGresult *
ledger_pq_read(
    PGconn *c, const struct ledger_pq_stmt *s, const struct timespec *until)
{
	PGresult *res = NULL;
	long left = -1;

	if (!send_stmt(c, s))
		return NULL;
	while (!take_results(c, &res)) {
		if (until != NULL && (left = -sd_ms_since(until)) <= 0)
			goto lost;
		if (wait_input(c, left) != 0)
			goto lost;
	}
	return res;
lost:
	PQclear(res); /* whatever came is no answer; c is still busy */
	return NULL;
}

PGresult *
ledger_pq_read_params(PGconn *c, const char *sql, int n, const char *const *v,
    const struct timespec *until)
{
	struct ledger_pq_stmt s = { NULL, sql, n, v, NULL, NULL, 1 };

	return ledger_pq_read(c, &s, until);
}

enum ledger_pq_commit
ledger_pq_confirm(PGconn *c, long deadline_ms, atomic_int *doubt)
{
	/* a transactional message writes WAL, so its commit waits for the
	 * synchronous standby (a bare transaction id would not) */
	struct ledger_pq_stmt s = { NULL,
		"SELECT pg_logical_emit_message(true, 'seald', 'confirm')", 0,
		NULL, NULL, NULL, 0 };
	enum ledger_pq_commit how;
	PGresult *res = ledger_pq_exec_bounded(c, &s, deadline_ms, doubt, &how);

	if (how == LEDGER_PQ_CONFIRMED &&
	    PQresultStatus(res) != PGRES_TUPLES_OK) {
		log_warn("ledger: the commit check failed: %.200s",
		    PQresultErrorMessage(res));
		how = LEDGER_PQ_UNCONFIRMED; /* no word from the standby */
	}
	PQclear(res);
	return how;
}
