/*
 * migrate: applies the migrations embedded in the binary, forward only, in
 * one transaction under a transaction-level advisory lock, recording each
 * in schema_migrations.  Running it again is a no-op.
 */
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "ledger.h"
#include "ledger_pq.h"
#include "log.h"
#include "migrations.h"

#define MIGRATE_LOCK "seald-migrate"

const char *
ledger_schema_latest(void)
{
	return ledger_nmigrations
	    ? ledger_migrations[ledger_nmigrations - 1].name
	    : "";
}

static int
exec_ok(
    PGconn *c, const char *sql, const char *what, char *errbuf, size_t errlen)
{
	PGresult *res = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(res);
	int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;

	if (!ok)
		snprintf(errbuf, errlen, "%s: %.200s", what,
		    PQresultErrorMessage(res));
	PQclear(res);
	return ok ? 0 : SD_ERR_LEDGER;
}

static int
applied(PGconn *c, const char *name, int *yes, char *errbuf, size_t errlen)
{
	const char *params[1] = { name };
	PGresult *res;

	res = PQexecParams(c,
	    "SELECT 1 FROM schema_migrations WHERE version = $1", 1, NULL,
	    params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		snprintf(errbuf, errlen, "schema_migrations: %.200s",
		    PQresultErrorMessage(res));
		PQclear(res);
		return SD_ERR_LEDGER;
	}
	*yes = PQntuples(res) > 0;
	PQclear(res);
	return 0;
}

int
ledger_migrate(const char *conninfo, char *errbuf, size_t errlen)
{
	const char *params[1];
	PGresult *res;
	PGconn *c;
	size_t i;
	int r, yes, n = 0;

	if ((c = ledger_pq_connect(conninfo, errbuf, errlen)) == NULL)
		return SD_ERR_LEDGER;
	if ((r = exec_ok(c, "BEGIN", "begin", errbuf, errlen)) != 0 ||
	    (r = exec_ok(c,
		 "SELECT pg_advisory_xact_lock(hashtextextended('" MIGRATE_LOCK
		 "', 0))",
		 "lock", errbuf, errlen)) != 0 ||
	    (r = exec_ok(c,
		 "CREATE TABLE IF NOT EXISTS schema_migrations ("
		 "version text PRIMARY KEY, applied_at timestamptz NOT NULL "
		 "DEFAULT now())",
		 "schema_migrations", errbuf, errlen)) != 0)
		goto out;
	for (i = 0; i < ledger_nmigrations; i++) {
		if ((r = applied(c, ledger_migrations[i].name, &yes, errbuf,
			 errlen)) != 0)
			goto out;
		if (yes)
			continue;
		log_info("applying migration %s", ledger_migrations[i].name);
		if ((r = exec_ok(c, ledger_migrations[i].sql,
			 ledger_migrations[i].name, errbuf, errlen)) != 0)
			goto out;
		params[0] = ledger_migrations[i].name;
		res = PQexecParams(c,
		    "INSERT INTO schema_migrations (version) VALUES ($1)", 1,
		    NULL, params, NULL, NULL, 0);
		r = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : SD_ERR_LEDGER;
		if (r != 0)
			snprintf(errbuf, errlen, "record migration: %.200s",
			    PQresultErrorMessage(res));
		PQclear(res);
		if (r != 0)
			goto out;
		n++;
	}
	r = exec_ok(c, "COMMIT", "commit", errbuf, errlen);
	if (r == 0)
		log_info("schema at %s (%d migration%s applied)",
		    ledger_schema_latest(), n, n == 1 ? "" : "s");
out:
	PQfinish(c); /* an open transaction is rolled back */
	return r;
}
