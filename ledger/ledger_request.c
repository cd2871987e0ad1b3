/*
 * ledger_request: the idempotency lookup.  Before signing, a worker asks
 * whether the ledger already holds its request (client, request_id): the
 * recorded result is replayed, another request under the id refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "ledger.h"
#include "ledger_pq.h"
#include "log.h"

/* Prepared once per connection (ledger_prepare_find): parsed and planned
 * once, not per request. */
#define FIND_STMT "seald_find_request"

int
ledger_prepare_find(PGconn *c, char *errbuf, size_t errlen)
{
	PGresult *res = PQprepare(c, FIND_STMT,
	    "SELECT instance, seq, request_hash, key_version, algorithm, "
	    "signature, signed_at_us, entry_hash, format "
	    "FROM ledger_entries WHERE client = $1 AND request_id = $2",
	    2, NULL);
	int ok = PQresultStatus(res) == PGRES_COMMAND_OK;

	PQclear(res);
	if (!ok)
		ledger_pq_error(
		    c, "prepare the request lookup", errbuf, errlen);
	return ok ? 0 : SD_ERR_LEDGER;
}

/* The first row of a FIND_STMT result into rec. */
static int
recorded(const PGresult *res, struct ledger_entry *rec)
{
	size_t hl, el;

	if (ledger_pq_bytes(res, 0, 0, rec->instance, sizeof(rec->instance),
		NULL, 1) != 0 ||
	    ledger_pq_bytes(
		res, 0, 2, rec->request_hash, SD_HASH_LEN, &hl, 0) != 0 ||
	    ledger_pq_bytes(res, 0, 4, rec->algorithm, sizeof(rec->algorithm),
		NULL, 1) != 0 ||
	    ledger_pq_bytes(
		res, 0, 5, rec->sig, sizeof(rec->sig), &rec->sig_len, 0) != 0 ||
	    ledger_pq_bytes(res, 0, 7, rec->entry_hash, SD_HASH_LEN, &el, 0) !=
		0 ||
	    ledger_pq_bytes(
		res, 0, 8, rec->format, sizeof(rec->format), NULL, 1) != 0 ||
	    hl != SD_HASH_LEN || el != SD_HASH_LEN) {
		log_error("ledger row for a request does not fit");
		return SD_ERR_LEDGER;
	}
	rec->seq = ledger_pq_i64(res, 0, 1);
	rec->key_version = ledger_pq_i64(res, 0, 3);
	rec->signed_at_us = ledger_pq_i64(res, 0, 6);
	return 0;
}

/* Copy the recorded result into e when it is the same request. */
static int
replay_into(const struct ledger_entry *rec, struct ledger_entry *e)
{
	if (memcmp(rec->request_hash, e->request_hash, SD_HASH_LEN) != 0)
		return SD_ERR_CONFLICT;
	memcpy(e->instance, rec->instance, sizeof(e->instance));
	e->seq = rec->seq;
	memcpy(e->entry_hash, rec->entry_hash, SD_HASH_LEN);
	memcpy(e->algorithm, rec->algorithm, sizeof(e->algorithm));
	memcpy(e->sig, rec->sig, rec->sig_len);
	e->sig_len = rec->sig_len;
	memcpy(e->format, rec->format, sizeof(e->format));
	e->key_version = rec->key_version;
	e->signed_at_us = rec->signed_at_us;
	e->replayed = 1;
	return 0;
}

int
ledger_find_on(PGconn *c, struct ledger_entry *e)
{
	const char *params[2] = { e->client, e->request_id };
	struct ledger_entry *rec;
	PGresult *res;
	int r;

	res = PQexecPrepared(c, FIND_STMT, 2, params, NULL, NULL, 1);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		log_warn("ledger lookup: %.*s",
		    (int)strcspn(PQresultErrorMessage(res), "\n"),
		    PQresultErrorMessage(res));
		r = SD_ERR_LEDGER;
	} else if (PQntuples(res) == 0) {
		r = SD_ERR_NOT_FOUND;
	} else if ((rec = calloc(1, sizeof(*rec))) == NULL) {
		r = SD_ERR_LEDGER;
	} else {
		if ((r = recorded(res, rec)) == 0)
			r = replay_into(rec, e);
		free(rec);
	}
	PQclear(res);
	return r;
}

static int
find_cb(PGconn *c, void *arg)
{
	return ledger_find_on(c, arg);
}

int
ledger_find_request(struct ledger_reader *rd, struct ledger_entry *e)
{
	return ledger_reader_run(rd, find_cb, e);
}
