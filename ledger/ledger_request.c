/*
 * ledger_request: the idempotency lookup.  Before signing, a worker asks
 * which of its requests (client, request_id) the ledger already holds:
 * one prepared query for all of them, not one per request, so that a
 * busy worker pays one round trip to the database per batch.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "ledger.h"
#include "ledger_pq.h"
#include "log.h"

/* Prepared once per connection (ledger_prepare_find): parsed and planned
 * once, not per batch.  The ordinality names the request a row answers.
 * Each request is its own probe of the (client, request_id) index (at
 * most one row: LIMIT 1 changes nothing but keeps the subquery apart): a
 * join would let a plan made while the table was small scan it whole
 * for every batch once it is large. */
#define FIND_STMT "seald_find_requests"

int
ledger_prepare_find(PGconn *c, char *errbuf, size_t errlen)
{
	PGresult *res;
	int ok;

	/* The session's prepared statements keep their generic plan: with
	 * the default, a lookup of one or two requests looks cheaper planned
	 * for its arguments than the generic plan's ten (unnest's guess), and
	 * would be planned again at every batch. */
	res = PQexec(c, "SET plan_cache_mode = force_generic_plan");
	ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	PQclear(res);
	if (!ok) {
		ledger_pq_error(c, "SET plan_cache_mode", errbuf, errlen);
		return SD_ERR_LEDGER;
	}
	res = PQprepare(c, FIND_STMT,
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

/* Append s to a text-format array literal as a quoted element ("" with
 * \ before " and \), after a comma unless it is the first; the caller
 * sized buf for it. */
static size_t
array_elem(char *buf, size_t off, const char *s, int first)
{
	if (!first)
		buf[off++] = ',';
	buf[off++] = '"';
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			buf[off++] = '\\';
		buf[off++] = *s;
	}
	buf[off++] = '"';
	return off;
}

/* The text-format arrays of e[0..n)'s clients and request ids, in one
 * allocation (*ids points into *clients); NULL when out of memory. */
static char *
request_arrays(struct ledger_entry *const *e, size_t n, char **ids)
{
	size_t cmax = n * (2 * SD_NAME_MAX + 3) + 3;
	size_t imax = n * (2 * (SD_REQUEST_ID_MAX + 1) + 3) + 3;
	size_t i, co = 1, io = 1;
	char *buf;

	if ((buf = malloc(cmax + imax)) == NULL)
		return NULL;
	*ids = buf + cmax;
	buf[0] = (*ids)[0] = '{';
	for (i = 0; i < n; i++) {
		co = array_elem(buf, co, e[i]->client, i == 0);
		io = array_elem(*ids, io, e[i]->request_id, i == 0);
	}
	buf[co++] = '}';
	buf[co] = '\0';
	(*ids)[io++] = '}';
	(*ids)[io] = '\0';
	return buf;
}

/* Row r of a FIND_STMT result (its columns from 1) into rec. */
static int
recorded(const PGresult *res, int r, struct ledger_entry *rec)
{
	size_t hl, el;

	if (ledger_pq_bytes(res, r, 1, rec->instance, sizeof(rec->instance),
		NULL, 1) != 0 ||
	    ledger_pq_bytes(
		res, r, 3, rec->request_hash, SD_HASH_LEN, &hl, 0) != 0 ||
	    ledger_pq_bytes(res, r, 5, rec->algorithm, sizeof(rec->algorithm),
		NULL, 1) != 0 ||
	    ledger_pq_bytes(
		res, r, 6, rec->sig, sizeof(rec->sig), &rec->sig_len, 0) != 0 ||
	    ledger_pq_bytes(res, r, 8, rec->entry_hash, SD_HASH_LEN, &el, 0) !=
		0 ||
	    ledger_pq_bytes(
		res, r, 9, rec->format, sizeof(rec->format), NULL, 1) != 0 ||
	    hl != SD_HASH_LEN || el != SD_HASH_LEN) {
		log_error("ledger row for a request does not fit");
		return SD_ERR_LEDGER;
	}
	rec->seq = ledger_pq_i64(res, r, 2);
	rec->key_version = ledger_pq_i64(res, r, 4);
	rec->signed_at_us = ledger_pq_i64(res, r, 7);
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
ledger_find_on(PGconn *c, struct ledger_entry *const *e, size_t n, int *res)
{
	const char *params[2];
	struct ledger_entry *rec;
	PGresult *pr = NULL;
	char *ids;
	size_t i;
	int64_t q;
	int row, r = 0;

	for (i = 0; i < n; i++)
		res[i] = SD_ERR_LEDGER;
	if ((rec = malloc(sizeof(*rec))) == NULL ||
	    (params[0] = request_arrays(e, n, &ids)) == NULL) {
		free(rec);
		return SD_ERR_LEDGER;
	}
	params[1] = ids;
	pr = PQexecPrepared(c, FIND_STMT, 2, params, NULL, NULL, 1);
	free((char *)params[0]);
	if (PQresultStatus(pr) != PGRES_TUPLES_OK) {
		log_warn("ledger lookup: %.*s",
		    (int)strcspn(PQresultErrorMessage(pr), "\n"),
		    PQresultErrorMessage(pr));
		r = SD_ERR_LEDGER;
		goto out;
	}
	for (i = 0; i < n; i++)
		res[i] = SD_ERR_NOT_FOUND;
	for (row = 0; row < PQntuples(pr) && r == 0; row++) {
		q = ledger_pq_i64(pr, row, 0);
		if (q < 1 || (uint64_t)q > n) {
			r = SD_ERR_LEDGER;
			break;
		}
		memset(rec, 0, sizeof(*rec));
		if ((r = recorded(pr, row, rec)) == 0)
			res[q - 1] = replay_into(rec, e[q - 1]);
	}
	if (r != 0)
		for (i = 0; i < n; i++)
			res[i] = SD_ERR_LEDGER;
out:
	PQclear(pr);
	free(rec);
	return r;
}

struct find_args {
	struct ledger_entry *const *e;
	size_t n;
	int *res;
};

static int
find_cb(PGconn *c, void *arg)
{
	struct find_args *a = arg;

	return ledger_find_on(c, a->e, a->n, a->res);
}

void
ledger_find_requests(
    struct ledger_reader *rd, struct ledger_entry *const *e, size_t n, int *res)
{
	struct find_args a = { e, n, res };
	size_t i;

	if (n > 0 && ledger_reader_run(rd, find_cb, &a) != 0)
		for (i = 0; i < n; i++)
			res[i] = SD_ERR_LEDGER;
}
