/*
 * ledger_request: the idempotency lookup, whether the ledger already holds
 * a request (client, request_id): the recorded result is replayed,
 * another request under the id refused.  A worker asks before signing
 * when seald saw the request recorded lately (daemon/core/recent.c).
 * The ledger writer asks the same about a whole batch in one query when
 * the (client, request_id) constraint refused it (ledger_write.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "ledger.h"
#include "ledger_pq.h"
#include "log.h"
#include "secret.h"

/* Append s to a text-format array literal at off as a quoted element (\
 * before " and \), after a comma unless first; the caller sized buf. */
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

/* The text-format arrays of the clients and of the request ids of
 * b[0..n), in one allocation (*ids points into the result); NULL when
 * out of memory. */
static char *
request_arrays(struct ledger_entry *const *b, size_t n, char **ids)
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
		co = array_elem(buf, co, b[i]->client, i == 0);
		io = array_elem(*ids, io, b[i]->request_id, i == 0);
	}
	buf[co++] = '}';
	buf[co] = '\0';
	(*ids)[io++] = '}';
	(*ids)[io] = '\0';
	return buf;
}

/* Row r of a LEDGER_FIND_STMT result (its columns from 1) into rec. */
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
	/* a signature e may hold (a retry signed again) is not handed out */
	secret_wipe(e->sig, sizeof(e->sig));
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

/* found[i] for each b[i] from LEDGER_FIND_STMT's rows (q.i is i + 1):
 * replay_into's result; those without a row keep SD_ERR_NOT_FOUND. */
static int
answers(
    const PGresult *res, struct ledger_entry *const *b, size_t n, int *found)
{
	struct ledger_entry *rec;
	int row, r;
	int64_t q;

	if ((rec = malloc(sizeof(*rec))) == NULL)
		return SD_ERR_LEDGER;
	for (row = 0, r = 0; row < PQntuples(res) && r == 0; row++) {
		q = ledger_pq_i64(res, row, 0);
		if (q < 1 || (uint64_t)q > n) {
			log_error("ledger lookup: an answer to no request");
			r = SD_ERR_LEDGER;
		} else if ((r = recorded(res, row, rec)) == 0) {
			found[q - 1] = replay_into(rec, b[q - 1]);
		}
	}
	secret_wipe(rec, sizeof(*rec));
	free(rec);
	return r;
}

int
ledger_find_all_on(PGconn *c, const struct timespec *until,
    struct ledger_entry *const *b, size_t n, int *found)
{
	struct ledger_pq_stmt s = { LEDGER_FIND_STMT, NULL, 2, NULL, NULL, NULL,
		1 };
	const char *params[2];
	PGresult *res;
	char *arrays, *ids;
	size_t i;
	int r;

	for (i = 0; i < n; i++)
		found[i] = SD_ERR_NOT_FOUND;
	if ((arrays = request_arrays(b, n, &ids)) == NULL)
		return SD_ERR_LEDGER;
	params[0] = arrays;
	params[1] = ids;
	s.v = params;
	res = ledger_pq_read(c, &s, until);
	free(arrays);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		log_warn("ledger lookup: %.*s",
		    ledger_pq_line_len(PQresultErrorMessage(res)),
		    PQresultErrorMessage(res));
		r = SD_ERR_LEDGER;
	} else {
		r = answers(res, b, n, found);
	}
	PQclear(res);
	return r;
}

int
ledger_find_on(PGconn *c, const struct timespec *until, struct ledger_entry *e)
{
	int found, r = ledger_find_all_on(c, until, &e, 1, &found);

	return r != 0 ? r : found;
}

static int
find_cb(PGconn *c, const struct timespec *until, void *arg)
{
	return ledger_find_on(c, until, arg);
}

int
ledger_find_request(struct ledger_reader *rd, struct ledger_entry *e)
{
	return ledger_reader_run(rd, find_cb, e);
}
