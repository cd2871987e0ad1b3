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
	C_RECORDED,
	C_CERT_DIGEST,
};

static const char list_sql[] =
    "SELECT k.name, k.version, k.algorithm, k.hsm_label, k.hsm_id, "
    "k.public_key, k.certificate, "
    "floor(extract(epoch FROM k.cert_not_after))::bigint, k.state, "
    "k.created_by, floor(extract(epoch FROM k.created_at))::bigint, "
    "EXISTS (SELECT 1 FROM ledger_entries e WHERE e.kind = 'key' AND "
    "e.key_name = k.name AND e.key_version = k.version AND e.format = "
    "'generate' AND e.digest = sha256(k.public_key)), "
    "(SELECT e.digest FROM ledger_entries e WHERE e.kind = 'key' AND "
    "e.key_name = k.name AND e.key_version = k.version AND e.format = "
    "'certificate' ORDER BY e.signed_at_us DESC LIMIT 1) "
    "FROM keys k WHERE $1::text IS NULL OR k.name = $1 "
    "ORDER BY k.name, k.version LIMIT " SD_XSTR(KEY_ROWS_MAX);

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
	k->recorded = PQgetlength(res, i, C_RECORDED) == 1 &&
	    PQgetvalue(res, i, C_RECORDED)[0] == 1;
	if (!PQgetisnull(res, i, C_CERT_DIGEST) &&
	    ledger_pq_bytes(res, i, C_CERT_DIGEST, k->cert_digest,
		sizeof(k->cert_digest), &k->cert_digest_len, 0) != 0)
		return SD_ERR_LEDGER;
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
list_cb(PGconn *c, const struct timespec *until, void *arg)
{
	struct list_args *a = arg;
	const char *params[1] = { a->name };
	PGresult *res;
	int i, nt, r = 0;

	res = ledger_pq_read_params(c, list_sql, 1, params, until);
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
	const char *v[5] = { k->name, ver, k->cert, na, k->state };
	int r;

	snprintf(ver, sizeof(ver), "%lld", (long long)k->version);
	snprintf(na, sizeof(na), "%lld", (long long)k->cert_not_after);
	/* a rotation's new version takes over with its certificate */
	if (strcmp(k->state, "pending") == 0 &&
	    (r = change_result(
		 PQexecParams(conn,
		     "UPDATE keys SET state = 'retired', changed_at = now() "
		     "WHERE name = $1 AND state = 'active'",
		     1, NULL, v, NULL, NULL, 0),
		 "retire")) != 0 &&
	    r != SD_ERR_NOT_FOUND)
		return r;
	return change_result(
	    PQexecParams(conn,
		"UPDATE keys SET certificate = $3, cert_not_after = "
		"to_timestamp($4::bigint), changed_at = now(), state = "
		"CASE WHEN state = 'pending' THEN 'active' ELSE state END "
		"WHERE name = $1 AND version = $2 AND state = $5",
		5, NULL, v, NULL, NULL, 0),
	    "certificate");
}

int
ledger_keys_set_state(void *conn, void *change)
{
	const struct key_change *c = change;
	char ver[24];
	const char *v[4] = { c->name, ver, c->from, c->to };

	snprintf(ver, sizeof(ver), "%lld", (long long)c->version);
	return change_result(
	    PQexecParams(conn,
		"UPDATE keys SET state = $4, changed_at = now() "
		"WHERE name = $1 AND version = $2 AND state = $3",
		4, NULL, v, NULL, NULL, 0),
	    "state");
}

int
ledger_keys_apply_both(void *conn, void *pair)
{
	const struct key_apply_pair *p = pair;
	int r;

	if ((r = p->a(conn, p->a_arg)) != 0)
		return r;
	return p->b(conn, p->b_arg);
}

int
ledger_keys_propose(void *conn, void *proposal)
{
	struct key_proposal *p = proposal;
	char id[24], ver[24], uid[24], min[24];
	const char *v[8] = { p->action, p->name, p->version > 0 ? ver : NULL,
		p->algorithm[0] != '\0' ? p->algorithm : NULL, p->proposed_by,
		uid, min, id };
	PGresult *res;

	snprintf(id, sizeof(id), "%lld", (long long)p->id);
	snprintf(ver, sizeof(ver), "%lld", (long long)p->version);
	snprintf(uid, sizeof(uid), "%lld", (long long)p->proposed_uid);
	snprintf(min, sizeof(min), "%u", p->minutes);
	res = PQexecParams(conn,
	    "INSERT INTO key_proposals (id, action, name, version, algorithm, "
	    "proposed_by, proposed_uid, expires_at) VALUES ($8, $1, $2, $3, "
	    "$4, $5, $6, now() + $7::integer * interval '1 minute') "
	    "RETURNING id, floor(extract(epoch FROM proposed_at))::bigint, "
	    "floor(extract(epoch FROM expires_at))::bigint",
	    8, NULL, v, NULL, NULL, 1);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		log_error("key proposal: %.200s", PQresultErrorMessage(res));
		PQclear(res);
		return SD_ERR_LEDGER;
	}
	p->id = ledger_pq_i64(res, 0, 0);
	p->proposed_at = ledger_pq_i64(res, 0, 1);
	p->expires_at = ledger_pq_i64(res, 0, 2);
	snprintf(p->state, sizeof(p->state), "pending");
	PQclear(res);
	return 0;
}

int
ledger_keys_approve(void *conn, void *proposal)
{
	const struct key_proposal *p = proposal;
	char id[24];
	const char *v[2] = { id, p->approved_by };
	int r;

	snprintf(id, sizeof(id), "%lld", (long long)p->id);
	r = change_result(
	    PQexecParams(conn,
		"UPDATE key_proposals SET state = 'approved', approved_by = "
		"$2, approved_at = now() WHERE id = $1 AND state = 'pending' "
		"AND expires_at > now() AND proposed_by <> $2",
		2, NULL, v, NULL, NULL, 0),
	    "approve");
	return r == SD_ERR_NOT_FOUND ? SD_ERR_CONFLICT : r;
}

int
ledger_keys_proposal_end(void *conn, void *proposal)
{
	const struct key_proposal *p = proposal;
	char id[24];
	const char *v[2] = { id, p->state };

	snprintf(id, sizeof(id), "%lld", (long long)p->id);
	return change_result(
	    PQexecParams(conn,
		"UPDATE key_proposals SET state = $2 WHERE id = $1 AND "
		"state = 'approved'",
		2, NULL, v, NULL, NULL, 0),
	    "proposal");
}

struct proposals_args {
	int64_t id;
	int pending_only;
	struct key_proposal *p;
	size_t n;
};

static int
read_proposal(const PGresult *res, int i, struct key_proposal *p)
{
	memset(p, 0, sizeof(*p));
	p->id = ledger_pq_i64(res, i, 0);
	if (ledger_pq_bytes(res, i, 1, p->action, sizeof(p->action), NULL, 1) !=
		0 ||
	    ledger_pq_bytes(res, i, 2, p->name, sizeof(p->name), NULL, 1) !=
		0 ||
	    ledger_pq_bytes(
		res, i, 4, p->algorithm, sizeof(p->algorithm), NULL, 1) != 0 ||
	    ledger_pq_bytes(res, i, 5, p->proposed_by, sizeof(p->proposed_by),
		NULL, 1) != 0 ||
	    ledger_pq_bytes(res, i, 9, p->state, sizeof(p->state), NULL, 1) !=
		0 ||
	    ledger_pq_bytes(res, i, 10, p->approved_by, sizeof(p->approved_by),
		NULL, 1) != 0)
		return SD_ERR_LEDGER;
	if (!PQgetisnull(res, i, 3))
		p->version = ledger_pq_i64(res, i, 3);
	p->proposed_uid = ledger_pq_i64(res, i, 6);
	p->proposed_at = ledger_pq_i64(res, i, 7);
	p->expires_at = ledger_pq_i64(res, i, 8);
	return 0;
}

static int
proposals_cb(PGconn *c, const struct timespec *until, void *arg)
{
	struct proposals_args *a = arg;
	char id[24];
	const char *v[2] = { id, a->pending_only ? "t" : "f" };
	PGresult *res;
	int i, nt, r = 0;

	snprintf(id, sizeof(id), "%lld", (long long)a->id);
	res = ledger_pq_read_params(c,
	    "SELECT id, action, name, version, algorithm, proposed_by, "
	    "proposed_uid, floor(extract(epoch FROM proposed_at))::bigint, "
	    "floor(extract(epoch FROM expires_at))::bigint, CASE WHEN state "
	    "= 'pending' AND expires_at <= now() THEN 'expired' ELSE state "
	    "END, approved_by FROM key_proposals WHERE ($1::bigint = 0 OR "
	    "id = $1) AND (NOT $2::boolean OR (state = 'pending' AND "
	    "expires_at > now())) ORDER BY proposed_at DESC, id "
	    "LIMIT " SD_XSTR(KEY_ROWS_MAX),
	    2, v, until);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		log_warn("key proposals: %.200s", PQresultErrorMessage(res));
		PQclear(res);
		return SD_ERR_LEDGER;
	}
	nt = PQntuples(res);
	if ((a->p = calloc(nt > 0 ? (size_t)nt : 1, sizeof(*a->p))) == NULL) {
		PQclear(res);
		return SD_ERR_NOMEM;
	}
	for (i = 0; i < nt && r == 0; i++, a->n++)
		r = read_proposal(res, i, &a->p[i]);
	PQclear(res);
	return r;
}

int
ledger_keys_proposals(struct ledger_reader *rd, int64_t id, int pending_only,
    struct key_proposal **out, size_t *n)
{
	struct proposals_args a = { id, pending_only, NULL, 0 };
	int r = ledger_reader_run(rd, proposals_cb, &a);

	if (r != 0) {
		free(a.p);
		return r;
	}
	*out = a.p;
	*n = a.n;
	return 0;
}
