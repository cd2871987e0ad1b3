/*
 * ledger_request: the idempotency lookup.  Before signing, a worker asks
 * whether the ledger already holds its request (client, request_id): the
 * recorded result is replayed, another request under the id refused.  In
 * the same query it may ask about the requests queued behind its own, so
 * that their workers need not ask again.
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

/* The text-format arrays of the clients and of the request ids of e and
 * more[0..n), in one allocation (*ids points into the result); NULL when
 * out of memory. */
static char *
request_arrays(const struct ledger_entry *e, const struct ledger_req_key *more,
    size_t n, char **ids)
{
	size_t cmax = (n + 1) * (2 * SD_NAME_MAX + 3) + 3;
	size_t imax = (n + 1) * (2 * (SD_REQUEST_ID_MAX + 1) + 3) + 3;
	size_t i, co, io;
	char *buf;

	if ((buf = malloc(cmax + imax)) == NULL)
		return NULL;
	*ids = buf + cmax;
	buf[0] = (*ids)[0] = '{';
	co = array_elem(buf, 1, e->client, 1);
	io = array_elem(*ids, 1, e->request_id, 1);
	for (i = 0; i < n; i++) {
		co = array_elem(buf, co, more[i].client, 0);
		io = array_elem(*ids, io, more[i].request_id, 0);
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

static void
set_absent(unsigned char *absent, size_t n, unsigned char v)
{
	if (n > 0)
		memset(absent, v, n);
}

/* The answer for e from LEDGER_FIND_STMT's rows; absent[i] = 0 for each of more
 * the ledger holds. */
static int
answers(const PGresult *res, struct ledger_entry *e, size_t n,
    unsigned char *absent)
{
	struct ledger_entry *rec;
	int row, r = SD_ERR_NOT_FOUND;
	int64_t q;

	for (row = 0; row < PQntuples(res); row++) {
		q = ledger_pq_i64(res, row, 0);
		if (q < 1 || (uint64_t)q > n + 1) {
			log_error("ledger lookup: an answer to no request");
			return SD_ERR_LEDGER;
		}
		if (q > 1) {
			absent[q - 2] = 0;
			continue;
		}
		if ((rec = calloc(1, sizeof(*rec))) == NULL)
			return SD_ERR_LEDGER;
		if ((r = recorded(res, row, rec)) == 0)
			r = replay_into(rec, e);
		free(rec);
		if (r == SD_ERR_LEDGER)
			return r;
	}
	return r;
}

int
ledger_find_more_on(PGconn *c, const struct timespec *until,
    struct ledger_entry *e, const struct ledger_req_key *more, size_t n,
    unsigned char *absent)
{
	struct ledger_pq_stmt s = { LEDGER_FIND_STMT, NULL, 2, NULL, NULL, NULL,
		1 };
	const char *params[2];
	PGresult *res;
	char *arrays, *ids;
	int r;

	set_absent(absent, n, 0);
	if ((arrays = request_arrays(e, more, n, &ids)) == NULL)
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
		set_absent(absent, n, 1);
		if ((r = answers(res, e, n, absent)) == SD_ERR_LEDGER)
			set_absent(absent, n, 0);
	}
	PQclear(res);
	return r;
}

int
ledger_find_on(PGconn *c, const struct timespec *until, struct ledger_entry *e)
{
	return ledger_find_more_on(c, until, e, NULL, 0, NULL);
}

struct find_args {
	struct ledger_entry *e;
	const struct ledger_req_key *more;
	size_t n;
	unsigned char *absent;
};

static int
find_cb(PGconn *c, const struct timespec *until, void *arg)
{
	struct find_args *a = arg;

	return ledger_find_more_on(c, until, a->e, a->more, a->n, a->absent);
}

int
ledger_find_requests(struct ledger_reader *rd, struct ledger_entry *e,
    const struct ledger_req_key *more, size_t n, unsigned char *absent)
{
	struct find_args a = { e, more, n, absent };
	int r = ledger_reader_run(rd, find_cb, &a);

	if (r == SD_ERR_LEDGER)
		set_absent(absent, n, 0);
	return r;
}
