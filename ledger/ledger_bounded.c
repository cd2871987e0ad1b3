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
 * commit says nothing else in a warning.  A server that answers not
 * even the cancel within another deadline has lost the connection.
 */
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

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

/* Ask the server to cancel c's statement; 0 when the request went. */
static int
cancel(PGconn *c)
{
	PGcancel *k = PQgetCancel(c);
	char err[256];
	int ok = k != NULL && PQcancel(k, err, sizeof(err)) == 1;

	PQfreeCancel(k);
	return ok ? 0 : -1;
}

/* Wait up to ms for input on c's socket; -1 when the connection failed. */
static int
wait_input(PGconn *c, long ms)
{
	struct pollfd pf;

	pf.fd = PQsocket(c);
	pf.events = POLLIN;
	pf.revents = 0;
	if (pf.fd < 0)
		return -1;
	if (poll(&pf, 1, (int)(ms > 0 ? ms : 0)) < 0 && errno != EINTR)
		return -1;
	return PQconsumeInput(c) == 1 ? 0 : -1;
}

PGresult *
ledger_pq_exec_bounded(PGconn *c, const struct ledger_pq_stmt *s,
    long deadline_ms, atomic_int *doubt, enum ledger_pq_commit *how)
{
	struct watch w = { 0 };
	struct timespec t0;
	PGresult *res = NULL, *r;
	int cancelled = 0, sent;
	long left;

	*how = LEDGER_PQ_LOST;
	PQsetNoticeReceiver(c, watch_notice, &w);
	/* without parameters a simple query, as PQexec sends it */
	if (s->name != NULL)
		sent = PQsendQueryPrepared(
		    c, s->name, s->n, s->v, s->len, s->fmt, s->binary);
	else if (s->n == 0)
		sent = PQsendQuery(c, s->sql);
	else
		sent = PQsendQueryParams(
		    c, s->sql, s->n, NULL, s->v, s->len, s->fmt, s->binary);
	if (!sent)
		goto out;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		while (!PQisBusy(c)) {
			if ((r = PQgetResult(c)) == NULL) {
				*how = cancelled || w.warned
				    ? LEDGER_PQ_UNCONFIRMED
				    : LEDGER_PQ_CONFIRMED;
				if (*how != LEDGER_PQ_CONFIRMED &&
				    doubt != NULL)
					atomic_store(doubt, 1);
				goto out;
			}
			PQclear(res); /* the last result is the answer */
			res = r;
		}
		left = deadline_ms * (cancelled ? 2 : 1) - sd_ms_since(&t0);
		if (left <= 0 && cancelled)
			break; /* not even the cancel was answered */
		if (left <= 0) {
			log_warn("ledger: no commit after %ld ms: cancelling "
				 "it (the entry is in doubt)",
			    deadline_ms);
			/* before the cancel: the server makes a commit that
			 * waits for the standby visible as it takes it */
			if (doubt != NULL)
				atomic_store(doubt, 1);
			if (cancel(c) != 0)
				break;
			cancelled = 1;
			continue;
		}
		if (wait_input(c, left) != 0)
			break;
	}
	PQclear(res); /* lost: whatever came is no answer */
	res = NULL;
	if (w.warned && doubt != NULL)
		atomic_store(doubt, 1);
out:
	PQsetNoticeReceiver(c, quiet_receiver, NULL);
	return res;
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
