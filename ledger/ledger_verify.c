/*
 * ledger_verify: the auditor's check of every instance's hash chain, in
 * one read-only snapshot of the database: one pass each (ledger_pass.c),
 * whose first problem is reported with its position.  It trusts nothing
 * in the database but the rows and, for checkpoint signatures, the audit
 * public key it is given; it needs only SELECT.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "ledger.h"
#include "ledger_pq.h"

#define PAGE 2000 /* rows per query */

/* One pass over the chain of instance, in the caller's snapshot; then
 * the witnessed heads w[0..nw) must be in it. */
static int
check_instance(PGconn *c, const char *instance, EVP_PKEY *audit,
    const struct ledger_witnessed *w, size_t nw, struct ledger_verdict *v)
{
	struct ledger_pass p;
	int done = 0, r = 0;
	char why[256];
	int64_t bad;

	ledger_pass_init(&p, instance, audit);
	p.check_rows = 1;
	while (r == 0 && !done)
		r = ledger_pass_step(c, &p, INT64_MAX, PAGE, &done);
	*v = p.v;
	if (r != 0 || !v->ok || audit == NULL || nw == 0)
		return r;
	if (ledger_witness_check(c, instance, audit, v->head_seq, w, nw, &bad,
		why, sizeof(why)) != 0) {
		if (bad == 0)
			return SD_ERR_LEDGER;
		v->ok = 0;
		v->bad_seq = bad;
		/* "entry N: " is said by the report */
		snprintf(v->problem, sizeof(v->problem), "%s",
		    strncmp(why, "entry ", 6) == 0 && strchr(why, ':') != NULL
			? strchr(why, ':') + 2
			: why);
	}
	return 0;
}

int
ledger_verify(const char *conninfo, EVP_PKEY *audit,
    const struct ledger_witnessed *w, size_t nw,
    void (*report)(const struct ledger_verdict *, void *),
    void (*keys_report)(int64_t, const char *, void *), void *arg, char *errbuf,
    size_t errlen)
{
	char problem[320];
	int64_t versions;
	struct ledger_verdict v;
	PGresult *res = NULL, *tx;
	PGconn *c;
	int i, n, r = 0, bad = 0;

	if ((c = ledger_pq_connect(conninfo, errbuf, errlen)) == NULL)
		return SD_ERR_LEDGER;
	/* One consistent, read-only snapshot for the whole check. */
	tx = PQexec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
	if (PQresultStatus(tx) != PGRES_COMMAND_OK) {
		ledger_pq_error(c, "begin", errbuf, errlen);
		r = SD_ERR_LEDGER;
		goto out;
	}
	/* the instances by the index, one step each (a DISTINCT reads
	 * every entry) */
	res = PQexec(c,
	    "WITH RECURSIVE t(i) AS (SELECT min(instance) FROM ledger_entries "
	    "UNION ALL SELECT (SELECT min(instance) FROM ledger_entries WHERE "
	    "instance > t.i) FROM t WHERE t.i IS NOT NULL) SELECT i FROM t "
	    "WHERE i IS NOT NULL");
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ledger_pq_error(c, "list instances", errbuf, errlen);
		r = SD_ERR_LEDGER;
		goto out;
	}
	n = PQntuples(res);
	for (i = 0; i < n; i++) {
		if (check_instance(
			c, PQgetvalue(res, i, 0), audit, w, nw, &v) != 0) {
			ledger_pq_error(c, "read entries", errbuf, errlen);
			r = SD_ERR_LEDGER;
			goto out;
		}
		bad |= !v.ok;
		report(&v, arg);
	}
	/* the keys table against the key events */
	r = ledger_keys_audit(c, &versions, problem, sizeof(problem));
	if (r == SD_ERR_LEDGER || r == SD_ERR_NOMEM) {
		ledger_pq_error(c, "read keys", errbuf, errlen);
		r = SD_ERR_LEDGER;
		goto out;
	}
	bad |= r != 0;
	r = 0;
	if (keys_report != NULL)
		keys_report(versions, problem[0] != '\0' ? problem : NULL, arg);
	if (bad) {
		snprintf(errbuf, errlen, "the ledger does not verify");
		r = SD_ERR_CONFLICT;
	}
out:
	PQclear(tx);
	PQclear(res);
	PQfinish(c);
	return r;
}
