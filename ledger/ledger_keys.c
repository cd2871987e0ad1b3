/*
 * ledger_keys: reads and changes of the keys table.  Binary results, so
 * that bytea and integers arrive as they are stored.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "ledger_keys.h"
#include "ledger_pq.h"
#include "log.h"

enum {
	C_NAME,
	C_VERSION,
	C_ALG,
	C_LABEL,
	C_ID,
	C_PUB,
	C_CERT,
	C_NOT_AFTER,
	C_STATE,
	C_BY,
	C_AT,
};

static const char list_sql[] =
    "SELECT name, version, algorithm, hsm_label, hsm_id, public_key, "
    "certificate, floor(extract(epoch FROM cert_not_after))::bigint, state, "
    "created_by, floor(extract(epoch FROM created_at))::bigint FROM keys "
    "WHERE $1::text IS NULL OR name = $1 ORDER BY name, version "
    "LIMIT " SD_XSTR(KEY_ROWS_MAX);

static int
read_row(const PGresult *res, int i, struct key_row *k)
{
	size_t n;

	memset(k, 0, sizeof(*k));
	if (ledger_pq_bytes(
		res, i, C_NAME, k->name, sizeof(k->name), NULL, 1) != 0 ||
	    ledger_pq_bytes(res, i, C_ALG, k->algorithm, sizeof(k->algorithm),
		NULL, 1) != 0 ||
	    ledger_pq_bytes(
		res, i, C_LABEL, k->label, sizeof(k->label), NULL, 1) != 0 ||
	    ledger_pq_bytes(
		res, i, C_ID, k->id, sizeof(k->id), &k->id_len, 0) != 0 ||
	    ledger_pq_bytes(
		res, i, C_PUB, k->pub, sizeof(k->pub), &k->pub_len, 0) != 0 ||
	    ledger_pq_bytes(
		res, i, C_STATE, k->state, sizeof(k->state), NULL, 1) != 0 ||
	    ledger_pq_bytes(res, i, C_BY, k->created_by, sizeof(k->created_by),
		NULL, 1) != 0)
		return SD_ERR_LEDGER;
	k->version = ledger_pq_i64(res, i, C_VERSION);
	k->created_at = ledger_pq_i64(res, i, C_AT);
	if (PQgetisnull(res, i, C_CERT))
		return 0;
	n = (size_t)PQgetlength(res, i, C_CERT);
	if (n > SD_CERT_MAX_BYTES || (k->cert = malloc(n + 1)) == NULL)
		return SD_ERR_NOMEM;
	memcpy(k->cert, PQgetvalue(res, i, C_CERT), n);
	k->cert[n] = '\0';
	if (!PQgetisnull(res, i, C_NOT_AFTER))
		k->cert_not_after = ledger_pq_i64(res, i, C_NOT_AFTER);
	return 0;
}

struct list_args {
	const char *name;
	struct key_row *rows;
	size_t n;
};

static int
list_cb(PGconn *c, void *arg)
{
	struct list_args *a = arg;
	const char *params[1] = { a->name };
	PGresult *res;
	int i, nt, r = 0;

	res = PQexecParams(c, list_sql, 1, NULL, params, NULL, NULL, 1);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		log_warn("keys table: %.200s", PQresultErrorMessage(res));
		PQclear(res);
		return SD_ERR_LEDGER;
	}
	nt = PQntuples(res);
	if ((a->rows = calloc(nt > 0 ? (size_t)nt : 1, sizeof(*a->rows))) ==
	    NULL) {
		PQclear(res);
		return SD_ERR_NOMEM;
	}
	for (i = 0; i < nt && r == 0; i++, a->n++)
		r = read_row(res, i, &a->rows[i]);
	PQclear(res);
	if (r == SD_ERR_LEDGER)
		log_error("keys table: a row does not fit");
	return r;
}

int
ledger_keys_list(struct ledger_reader *rd, const char *name,
    struct key_row **rows, size_t *n)
{
	struct list_args a = { name, NULL, 0 };
	int r = ledger_reader_run(rd, list_cb, &a);

	if (r != 0) {
		ledger_keys_free(a.rows, a.n);
		return r;
	}
	*rows = a.rows;
	*n = a.n;
	return 0;
}

void
ledger_keys_free(struct key_row *rows, size_t n)
{
	size_t i;

	if (rows == NULL)
		return;
	for (i = 0; i < n; i++)
		free(rows[i].cert);
	free(rows);
}

/* 0, or the SD_ERR_* a failed change means. */
static int
change_result(PGresult *res, const char *what)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	int r = 0;

	if (PQresultStatus(res) == PGRES_COMMAND_OK)
		r = strcmp(PQcmdTuples(res), "1") == 0 ? 0 : SD_ERR_NOT_FOUND;
	else if (state != NULL && strcmp(state, "23505") == 0)
		r = SD_ERR_CONFLICT;
	else {
		log_error(
		    "keys table: %s: %.200s", what, PQresultErrorMessage(res));
		r = SD_ERR_LEDGER;
	}
	PQclear(res);
	return r;
}

int
ledger_keys_insert(void *conn, void *row)
{
	const struct key_row *k = row;
	char ver[24], at[24];
	const char *v[9] = { k->name, ver, k->algorithm, k->label,
		(const char *)k->id, (const char *)k->pub, k->state,
		k->created_by, at };
	int len[9] = { 0, 0, 0, 0, (int)k->id_len, (int)k->pub_len, 0, 0, 0 };
	int fmt[9] = { 0, 0, 0, 0, 1, 1, 0, 0, 0 };

	snprintf(ver, sizeof(ver), "%lld", (long long)k->version);
	snprintf(at, sizeof(at), "%lld", (long long)k->created_at_us);
	return change_result(
	    PQexecParams(conn,
		"INSERT INTO keys (name, version, algorithm, hsm_label, "
		"hsm_id, public_key, state, created_by, created_at) VALUES "
		"($1, $2, $3, $4, $5, $6, $7, $8, timestamptz 'epoch' + "
		"$9::bigint * interval '1 microsecond')",
		9, NULL, v, len, fmt, 0),
	    "insert");
}

int
ledger_keys_set_cert(void *conn, void *row)
{
	const struct key_row *k = row;
	char ver[24], na[24];
	const char *v[4] = { k->name, ver, k->cert, na };

	snprintf(ver, sizeof(ver), "%lld", (long long)k->version);
	snprintf(na, sizeof(na), "%lld", (long long)k->cert_not_after);
	return change_result(
	    PQexecParams(conn,
		"UPDATE keys SET certificate = $3, cert_not_after = "
		"to_timestamp($4::bigint), changed_at = now() "
		"WHERE name = $1 AND version = $2 AND state <> 'destroyed'",
		4, NULL, v, NULL, NULL, 0),
	    "certificate");
}
