/*
 * ledger_session: the writer's connection.  A new one checks the schema
 * version and that seald's role cannot switch the append-only triggers
 * off, takes the instance's advisory lock, and reads the chain head: on
 * a reconnect that head must be the one seald committed, or past it only
 * by the entries whose commit was in doubt.  While idle the writer checks
 * the connection every second, so readiness is true to within a second
 * and the ledger reconnects by itself.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/rand.h>

#include "clock.h"
#include "err.h"
#include "ledger_pq.h"
#include "ledger_writer.h"
#include "log.h"

#define RECONNECT_INTERVAL_MS 200 /* at most one connect attempt per this */

void
ledger_session_drop(struct ledger *l)
{
	PQfinish(l->conn);
	l->conn = NULL;
	atomic_store(&l->connected, 0);
}

/*
 * On a reconnect, the head the database holds must be the one seald
 * committed, or past it only by entries of the batch whose commit was in
 * doubt (they join the tree).  Anything else was written by someone else:
 * seald does not chain onto it.
 */
static int
check_head(struct ledger *l, char *errbuf, size_t errlen)
{
	struct merkle_node made[MERKLE_LEVELS];
	const char *params[3] = { l->instance, NULL, NULL };
	char from[24], to[24];
	int64_t known = (int64_t)l->tree.size, seq;
	uint8_t h[SD_HASH_LEN];
	PGresult *res;
	size_t i, hl, nm;
	int row, mine, r = SD_ERR_LEDGER;

	if (l->head_seq == known &&
	    memcmp(l->head_hash, l->tree_head, SD_HASH_LEN) == 0)
		return 0;
	if (l->head_seq <= known) {
		snprintf(errbuf, errlen,
		    "the chain head is seq %lld but seald committed up to "
		    "%lld with another hash: entries were removed or changed",
		    (long long)l->head_seq, (long long)known);
		return SD_ERR_LEDGER;
	}
	snprintf(from, sizeof(from), "%lld", (long long)known);
	snprintf(to, sizeof(to), "%lld", (long long)l->head_seq);
	params[1] = from;
	params[2] = to;
	res = PQexecParams(l->conn,
	    "SELECT seq, entry_hash FROM ledger_entries WHERE instance = $1 "
	    "AND seq > $2 AND seq <= $3 ORDER BY seq",
	    3, NULL, params, NULL, NULL, 1);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ledger_pq_error(l->conn, "read chain head", errbuf, errlen);
		goto out;
	}
	for (row = 0; row < PQntuples(res); row++) {
		seq = ledger_pq_i64(res, row, 0);
		mine = seq == known + 1 + row &&
		    ledger_pq_bytes(res, row, 1, h, sizeof(h), &hl, 0) == 0 &&
		    hl == SD_HASH_LEN;
		for (i = 0; mine && i < l->ndoubt; i++)
			if (l->doubt[i].seq == seq &&
			    memcmp(l->doubt[i].hash, h, SD_HASH_LEN) == 0)
				break;
		if (!mine || i == l->ndoubt) {
			snprintf(errbuf, errlen,
			    "entry %lld was not written by seald (appended "
			    "behind its back): refusing to chain onto it; run "
			    "sealctl ledger verify",
			    (long long)(known + 1 + row));
			goto out;
		}
		if (merkle_push(&l->tree, h, made, &nm) != 0)
			goto out;
		memcpy(l->tree_head, h, SD_HASH_LEN);
	}
	r = (int64_t)l->tree.size == l->head_seq ? 0 : SD_ERR_LEDGER;
	if (r != 0)
		snprintf(errbuf, errlen, "entries %lld..%lld are missing",
		    (long long)l->tree.size + 1, (long long)l->head_seq);
out:
	PQclear(res);
	return r;
}

/* The instance's advisory lock.  On success, which session holds it,
 * tagged with a random application_name so that a reused server process
 * (behind a session pooler) never passes for it. */
static int
take_lock(struct ledger *l)
{
	const char *params[2] = { l->instance, l->lock_tag };
	uint8_t rnd[8];
	PGresult *res;
	size_t i, n;
	int ok;

	/* at most 63 bytes: the server truncates a longer name */
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return 0;
	n = (size_t)snprintf(
	    l->lock_tag, sizeof(l->lock_tag), "seald-w %.32s ", l->instance);
	for (i = 0; i < sizeof(rnd); i++, n += 2)
		snprintf(
		    l->lock_tag + n, sizeof(l->lock_tag) - n, "%02x", rnd[i]);
	res = PQexecParams(l->conn,
	    "SELECT pg_try_advisory_lock("
	    "hashtextextended('seald-instance:' || $1, 0)), "
	    "pg_backend_pid(), (SELECT extract(epoch FROM backend_start)::text "
	    "FROM pg_stat_activity WHERE pid = pg_backend_pid()), "
	    "set_config('application_name', $2, false)",
	    2, NULL, params, NULL, NULL, 0);
	ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
	    strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	if (ok) {
		snprintf(l->lock_pid, sizeof(l->lock_pid), "%s",
		    PQgetvalue(res, 0, 1));
		snprintf(l->lock_start, sizeof(l->lock_start), "%s",
		    PQgetvalue(res, 0, 2));
		snprintf(l->lock_held_tag, sizeof(l->lock_held_tag), "%s",
		    l->lock_tag);
	}
	PQclear(res);
	return ok;
}

/*
 * After a cut (a network partition, say), the server may keep seald's
 * previous session, and with it the instance lock, until its keepalive
 * gives up: hours over TCP.  That session is ended here, and only that
 * one: the same server process, started at the same moment, of the same
 * role, with the random tag seald gave it.  A second instance's session
 * never matches.  1 if it was ended; the session is forgotten once the
 * server says it is gone, not on an error (the next reconnect tries
 * again).
 */
static int
end_stale_session(struct ledger *l)
{
	const char *params[3] = { l->lock_pid, l->lock_start,
		l->lock_held_tag };
	PGresult *res;
	int ended = 0;

	if (l->lock_pid[0] == '\0')
		return 0;
	res = PQexecParams(l->conn,
	    "SELECT pg_terminate_backend(pid, 2000) FROM pg_stat_activity "
	    "WHERE pid = $1::int "
	    "AND extract(epoch FROM backend_start)::text = $2 "
	    "AND application_name = $3 AND usename = current_user",
	    3, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		log_warn("ledger: cannot end seald's previous database session "
			 "(pid %s): %.200s",
		    l->lock_pid, PQresultErrorMessage(res));
	} else {
		ended = PQntuples(res) == 1 &&
		    strcmp(PQgetvalue(res, 0, 0), "t") == 0;
		if (ended)
			log_warn("ledger: ended seald's previous database "
				 "session (pid %s), which held the instance "
				 "lock after its connection was cut",
			    l->lock_pid);
		if (ended || PQntuples(res) == 0)
			l->lock_pid[0] = '\0';
	}
	PQclear(res);
	return ended;
}

/* Schema version, instance lock and chain head on a new connection. */
static int
setup_conn(struct ledger *l, char *errbuf, size_t errlen)
{
	const char *params[1] = { l->instance };
	const char *latest = ledger_schema_latest();
	PGresult *res;
	size_t hl;
	int r = SD_ERR_LEDGER;

	res = PQexec(l->conn, "SELECT max(version) FROM schema_migrations");
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 ||
	    strcmp(PQgetvalue(res, 0, 0), latest) != 0) {
		snprintf(errbuf, errlen,
		    "database schema is not at %s: run "
		    "`seald migrate`",
		    latest);
		goto out;
	}
	PQclear(res);
	/* Least privilege: a role that owns the tables could switch their
	 * append-only triggers off. */
	res = PQexec(l->conn,
	    "SELECT r.rolsuper OR pg_has_role(c.relowner, 'USAGE'), "
	    "current_user FROM pg_roles r, pg_class c "
	    "WHERE r.rolname = current_user "
	    "AND c.oid = 'ledger_entries'::regclass");
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		ledger_pq_error(l->conn, "check role", errbuf, errlen);
		goto out;
	}
	if (strcmp(PQgetvalue(res, 0, 0), "f") != 0) {
		snprintf(errbuf, errlen,
		    "database role \"%.64s\" owns the ledger tables or is a "
		    "superuser, so it could switch off their append-only "
		    "triggers: connect seald as a login role that is a member "
		    "of seald_writer (README: Database roles)",
		    PQgetvalue(res, 0, 1));
		goto out;
	}
	PQclear(res);
	res = NULL;
	if (!take_lock(l) && !(end_stale_session(l) && take_lock(l))) {
		snprintf(errbuf, errlen,
		    "instance \"%s\" is already running "
		    "against this database",
		    l->instance);
		goto out;
	}
	res = PQexecParams(l->conn,
	    "SELECT seq, entry_hash FROM ledger_entries "
	    "WHERE instance = $1 ORDER BY seq DESC LIMIT 1",
	    1, NULL, params, NULL, NULL, 1);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		snprintf(errbuf, errlen, "read chain head: %.200s",
		    PQresultErrorMessage(res));
		goto out;
	}
	if (PQntuples(res) == 0) {
		l->head_seq = 0;
		memset(l->head_hash, 0, SD_HASH_LEN);
	} else {
		l->head_seq = ledger_pq_i64(res, 0, 0);
		if (ledger_pq_bytes(
			res, 0, 1, l->head_hash, SD_HASH_LEN, &hl, 0) != 0 ||
		    hl != SD_HASH_LEN) {
			snprintf(
			    errbuf, errlen, "chain head hash is malformed");
			goto out;
		}
	}
	r = l->have_tree ? check_head(l, errbuf, errlen) : 0;
	if (r == 0)
		l->ndoubt = 0; /* settled: the head says what was committed */
out:
	PQclear(res);
	return r;
}

int
ledger_session_open(struct ledger *l, char *errbuf, size_t errlen)
{
	clock_gettime(CLOCK_MONOTONIC, &l->last_connect);
	l->head_seq = -1; /* unknown until read again */
	if ((l->conn = ledger_pq_connect(l->conninfo, errbuf, errlen)) == NULL)
		return SD_ERR_LEDGER;
	ledger_pq_generic_plans(l->conn);
	if (setup_conn(l, errbuf, errlen) != 0 ||
	    ledger_prepare_find(l->conn, errbuf, errlen) != 0 ||
	    ledger_batch_prepare(l->conn, errbuf, errlen) != 0) {
		PQfinish(l->conn);
		l->conn = NULL;
		return SD_ERR_LEDGER;
	}
	pthread_mutex_lock(&l->server_mu);
	snprintf(l->server, sizeof(l->server), "%s %s", PQhost(l->conn),
	    PQport(l->conn));
	pthread_mutex_unlock(&l->server_mu);
	atomic_store(&l->connected, 1);
	return 0;
}

int
ledger_server_is(struct ledger *l, PGconn *c)
{
	char s[sizeof(l->server)];
	int same;

	snprintf(s, sizeof(s), "%s %s", PQhost(c), PQport(c));
	pthread_mutex_lock(&l->server_mu);
	same = strcmp(s, l->server) == 0;
	pthread_mutex_unlock(&l->server_mu);
	return same;
}

int
ledger_session_ensure(struct ledger *l, int rate_limited)
{
	char err[256];

	if (l->conn != NULL)
		return 0;
	if (rate_limited &&
	    sd_ms_since(&l->last_connect) < RECONNECT_INTERVAL_MS)
		return SD_ERR_LEDGER;
	if (ledger_session_open(l, err, sizeof(err)) != 0) {
		if (!l->down_logged)
			log_warn("ledger: %s", err);
		l->down_logged = 1;
		return SD_ERR_LEDGER;
	}
	l->down_logged = 0;
	log_info(
	    "ledger connected; chain head at seq %lld", (long long)l->head_seq);
	return 0;
}

void
ledger_writes_seen(struct ledger *l, int ok)
{
	if (atomic_exchange(&l->writes_ok, ok) == ok)
		return;
	if (ok)
		log_info("ledger: the database takes writes again: ready");
	else
		log_error("ledger: a commit failed, or the database takes no "
			  "writes: not ready until it does");
}

void
ledger_session_heartbeat(struct ledger *l)
{
	struct ledger_pq_stmt s = { NULL,
		"SELECT NOT pg_is_in_recovery() AND "
		"current_setting('transaction_read_only') = 'off'",
		0, NULL, NULL, NULL, 0 };
	struct timespec until;
	PGresult *res;

	if (l->conn == NULL) {
		(void)ledger_session_ensure(l, 1);
		return;
	}
	/* while a commit is unconfirmed: try one that must be, each idle
	 * second, so that seald is ready again by itself */
	if (!ledger_confirmed(l) && (!ledger_confirm(l) || l->conn == NULL))
		return;
	/* alive, and taking writes: not a replica in recovery, not
	 * read-only (a failover's standby, default_transaction_read_only);
	 * answering within the commit deadline: a frozen server (stopped,
	 * paused) keeps its connections open and answers nothing */
	until = sd_deadline_ms(l->commit_ms);
	res = ledger_pq_read(l->conn, &s, &until);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		if (res == NULL && PQstatus(l->conn) == CONNECTION_OK)
			log_warn("ledger: no answer within %ld ms: the "
				 "connection is dropped",
			    l->commit_ms);
		else
			log_warn("ledger connection lost");
		ledger_session_drop(l);
		(void)ledger_session_ensure(l, 0);
	} else {
		ledger_writes_seen(l, strcmp(PQgetvalue(res, 0, 0), "t") == 0);
	}
	PQclear(res);
}
