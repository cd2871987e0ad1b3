/*
 * ledger_reader: the ledger's read connections (ledger_pq.h): one per
 * signing worker for the idempotency lookups, one for the admin socket
 * and the ledger reads, each made on first use, with the request lookup
 * (ledger_request.c) prepared, and made again once after a connection
 * broke.  Each read is answered within the reader's deadline, or its
 * connection is dropped: a frozen server (its processes stopped, its
 * machine paused) never closes one, and every request would wait for it
 * as long as it stays frozen.  The writer's session prepares the same
 * lookup.
 */
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "err.h"
#include "ledger.h"
#include "ledger_pq.h"
#include "ledger_writer.h"
#include "log.h"
#include "secret.h"

/* Prepared once per connection (ledger_prepare_find): parsed and planned
 * once, not per request.  It takes the requests as two arrays (clients,
 * request ids); the ordinality names the request a row answers.  Each
 * request is its own probe of the (client, request_id) index (at most
 * one row: LIMIT 1 changes nothing but keeps the subquery apart): a join
 * would let a plan made while the table was small scan it whole for
 * every lookup once it is large. */
int
ledger_prepare_find(PGconn *c, char *errbuf, size_t errlen)
{
	PGresult *res;
	int ok;

	/* planned once: the session keeps generic plans
	 * (ledger_pq_generic_plans) */
	res = PQprepare(c, LEDGER_FIND_STMT,
	    "SELECT q.i, e.instance, e.seq, e.request_hash, e.key_version, "
	    "e.algorithm, e.signature, e.signed_at_us, e.entry_hash, e.format "
	    "FROM unnest($1::text[], $2::text[]) WITH ORDINALITY "
	    "AS q(client, request_id, i) "
	    "CROSS JOIN LATERAL (SELECT * FROM ledger_entries "
	    "WHERE client = q.client AND request_id = q.request_id "
	    "LIMIT 1) e",
	    2, NULL);
	ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	PQclear(res);
	if (!ok)
		ledger_pq_error(
		    c, "prepare the request lookup", errbuf, errlen);
	return ok ? 0 : SD_ERR_LEDGER;
}

struct ledger_reader *
ledger_reader_new(const char *conninfo, long read_ms)
{
	struct ledger_reader *rd;

	if (strlen(conninfo) >= SD_CONNINFO_MAX ||
	    (rd = calloc(1, sizeof(*rd))) == NULL)
		return NULL;
	memcpy(rd->conninfo, conninfo, strlen(conninfo) + 1);
	rd->read_ms = read_ms > 0 ? read_ms : SD_COMMIT_MS_DEFAULT;
	return rd;
}

void
ledger_reader_free(struct ledger_reader *rd)
{
	if (rd == NULL)
		return;
	PQfinish(rd->conn);
	secret_wipe(rd->conninfo, sizeof(rd->conninfo));
	free(rd);
}

/* The reader's session: connected, keeping generic plans, the request
 * lookup prepared.  0 or SD_ERR_LEDGER with a reason in err. */
static int
reader_connect(struct ledger_reader *rd, char *err, size_t errlen)
{
	if ((rd->conn = ledger_pq_connect(rd->conninfo, err, errlen)) == NULL)
		return SD_ERR_LEDGER;
	ledger_pq_generic_plans(rd->conn);
	return ledger_prepare_find(rd->conn, err, errlen);
}

int
ledger_reader_run(struct ledger_reader *rd,
    int (*fn)(PGconn *c, const struct timespec *until, void *arg), void *arg)
{
	struct timespec until = sd_deadline_ms(rd->read_ms);
	char err[256];
	int r = SD_ERR_LEDGER, tries;

	for (tries = 0; tries < 2; tries++) {
		if (rd->conn == NULL &&
		    reader_connect(rd, err, sizeof(err)) != 0) {
			if (!rd->down)
				log_warn("ledger lookup: %s (said once until "
					 "it connects again)",
				    err);
			else
				log_debug("ledger lookup: %s", err);
			rd->down = 1;
			PQfinish(rd->conn);
			rd->conn = NULL;
			return SD_ERR_LEDGER;
		}
		if (rd->down) {
			log_info("ledger lookup: connected again");
			rd->down = 0;
		}
		r = fn(rd->conn, &until, arg);
		if (PQtransactionStatus(rd->conn) == PQTRANS_ACTIVE) {
			/* still busy: no answer in time */
			log_warn("ledger lookup: no answer within %ld ms: its "
				 "connection is dropped",
			    rd->read_ms);
			PQfinish(rd->conn);
			rd->conn = NULL;
			return SD_ERR_LEDGER;
		}
		if (r != SD_ERR_LEDGER || PQstatus(rd->conn) == CONNECTION_OK)
			break;
		PQfinish(rd->conn);
		rd->conn = NULL;
	}
	return r;
}

struct confirm_args {
	struct ledger *l;
	enum ledger_pq_commit how;
};

static int
confirm_cb(PGconn *c, const struct timespec *until, void *arg)
{
	struct confirm_args *a = arg;

	(void)until; /* a commit: bounded by the commit deadline */
	a->how = ledger_pq_confirm(c, a->l->commit_ms, &a->l->unconfirmed);
	return a->how == LEDGER_PQ_LOST ? SD_ERR_LEDGER : 0;
}

int
ledger_reader_confirm(struct ledger_reader *rd, struct ledger *l)
{
	struct confirm_args a = { l, LEDGER_PQ_LOST };

	if (ledger_reader_run(rd, confirm_cb, &a) != 0 ||
	    a.how != LEDGER_PQ_CONFIRMED) {
		atomic_store(&l->unconfirmed, 1);
		return 0;
	}
	return 1;
}
