/*
 * ledger_pq: the libpq helpers of ledger_pq.h (connections, errors,
 * binary columns).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "ledger.h"
#include "ledger_pq.h"
#include "log.h"
#include "secret.h"

void
ledger_pq_error(PGconn *c, const char *what, char *errbuf, size_t errlen)
{
	const char *m = c != NULL ? PQerrorMessage(c) : "out of memory";
	size_t n = strcspn(m, "\n");

	snprintf(errbuf, errlen, "%s: %.*s", what, (int)(n > 200 ? 200 : n), m);
}

static void
quiet_notice(void *arg, const char *message)
{
	(void)arg;
	log_debug("postgres: %.200s", message);
}

void
ledger_pq_generic_plans(PGconn *c)
{
	PQclear(PQexec(c, "SET plan_cache_mode = force_generic_plan"));
}

PGconn *
ledger_pq_connect(const char *conninfo, char *errbuf, size_t errlen)
{
	/* Ours first: keywords in the expanded conninfo override them.  The
	 * TCP settings bound how long a vanished server can hold a commit
	 * (Unix sockets ignore them). */
	const char *keys[] = { "connect_timeout", "application_name",
		"keepalives", "keepalives_idle", "keepalives_interval",
		"keepalives_count", "tcp_user_timeout", "dbname", NULL };
	const char *vals[] = { "5", "seald", "1", "5", "2", "3", "10000",
		conninfo, NULL };
	PQconninfoOption *opts;
	char *perr = NULL;
	PGresult *res;
	PGconn *c;

	/* libpq quotes pieces of a conninfo it cannot parse (a password,
	 * perhaps): check it first and say nothing of its content. */
	if ((opts = PQconninfoParse(conninfo, &perr)) == NULL) {
		PQfreemem(perr);
		snprintf(errbuf, errlen,
		    "database conninfo does not parse "
		    "(its text is not shown: it may hold a password)");
		return NULL;
	}
	PQconninfoFree(opts);

	c = PQconnectdbParams(keys, vals, 1);
	if (c == NULL || PQstatus(c) != CONNECTION_OK) {
		ledger_pq_error(
		    c, "database connection failed", errbuf, errlen);
		PQfinish(c);
		return NULL;
	}
	PQsetNoticeProcessor(c, quiet_notice, NULL);
	res = PQexec(c,
	    "SET synchronous_commit = on; "
	    "SET statement_timeout = '10s'");
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		ledger_pq_error(c, "SET synchronous_commit", errbuf, errlen);
		PQclear(res);
		PQfinish(c);
		return NULL;
	}
	PQclear(res);
	return c;
}

int
ledger_pq_line_len(const char *m)
{
	size_t n = strcspn(m, "\n");

	return (int)(n > 200 ? 200 : n);
}

int64_t
ledger_pq_i64(const PGresult *res, int row, int col)
{
	const unsigned char *p =
	    (const unsigned char *)PQgetvalue(res, row, col);
	int len = PQgetlength(res, row, col);
	uint64_t v = 0;
	int i;

	for (i = 0; i < len && i < 8; i++)
		v = v << 8 | p[i];
	if (len == 4 && (v & 0x80000000u))
		v |= 0xffffffff00000000ull;
	return (int64_t)v;
}

/* Copy a binary text/bytea column; 0 if it fits in cap, else -1. */
int
ledger_pq_bytes(const PGresult *res, int row, int col, void *dst, size_t cap,
    size_t *len, int nul)
{
	size_t n = (size_t)PQgetlength(res, row, col);

	if (n + (nul ? 1 : 0) > cap)
		return -1;
	memcpy(dst, PQgetvalue(res, row, col), n);
	if (nul)
		((char *)dst)[n] = '\0';
	if (len != NULL)
		*len = n;
	return 0;
}

int
ledger_pq_true(const PGresult *res, int r, int col)
{
	return !PQgetisnull(res, r, col) && PQgetlength(res, r, col) == 1 &&
	    PQgetvalue(res, r, col)[0] == 1;
}
