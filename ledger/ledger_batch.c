/*
 * ledger_batch: the writer's one statement per batch.  Each column of the
 * batch's rows goes to the database as one array (binary format), so the
 * statement's text does not depend on the batch's size: it is prepared
 * once per connection, and a commit costs no parsing or planning.  The
 * entries and the Merkle subtrees they complete are inserted by the same
 * statement, so they commit together.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "ledger_pq.h"

#define INSERT_STMT "seald_insert_batch"
#define OID_BYTEA 17
#define OID_TEXT 25

/* $1 the instance, $2..$24 the entries' columns 1..23 (ledger_insert.c's
 * row_params order), $25..$27 the subtrees' level, idx and hash. */
static const char insert_sql[] =
    "WITH m AS (INSERT INTO ledger_merkle (instance, level, idx, hash) "
    "SELECT $1, t.l::smallint, t.i::bigint, t.h FROM unnest($25::text[], "
    "$26::text[], $27::bytea[]) AS t(l, i, h)) "
    "INSERT INTO ledger_entries (instance, seq, signed_at_us, signed_at, "
    "client, client_uid, client_pid, request_id, request_hash, key_name, "
    "key_version, algorithm, digest_alg, digest, format, signature, "
    "evidence_type, evidence_ref, prev_hash, entry_hash, kind, "
    "policy_hash, detail, tsa_serial, tsa_policy) "
    "SELECT $1, r.seq::bigint, r.at::bigint, timestamptz 'epoch' + "
    "r.at::bigint * interval '1 microsecond', r.client, r.uid::bigint, "
    "r.pid::bigint, r.request_id, r.request_hash, r.key_name, "
    "r.ver::integer, r.algorithm, r.digest_alg, r.digest, r.format, "
    "r.signature, r.evidence_type, r.evidence_ref, r.prev_hash, "
    "r.entry_hash, r.kind, r.policy_hash, r.detail, r.tsa_serial, "
    "r.tsa_policy FROM unnest($2::text[], $3::text[], $4::text[], "
    "$5::text[], $6::text[], $7::text[], $8::bytea[], $9::text[], "
    "$10::text[], $11::text[], $12::text[], $13::bytea[], $14::text[], "
    "$15::bytea[], $16::text[], $17::text[], $18::bytea[], $19::bytea[], "
    "$20::text[], $21::bytea[], $22::text[], $23::bytea[], $24::text[]) "
    "AS r(seq, at, client, uid, pid, request_id, request_hash, key_name, "
    "ver, algorithm, digest_alg, digest, format, signature, "
    "evidence_type, evidence_ref, prev_hash, entry_hash, kind, "
    "policy_hash, detail, tsa_serial, tsa_policy)";

#define NPARAMS 27

int
ledger_batch_prepare(PGconn *c, char *errbuf, size_t errlen)
{
	PGresult *res;
	int ok;

	/* planned once: the session keeps generic plans
	 * (ledger_pq_generic_plans) */
	res = PQprepare(c, INSERT_STMT, insert_sql, 0, NULL);
	ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	PQclear(res);
	if (!ok)
		ledger_pq_error(c, "prepare the ledger insert", errbuf, errlen);
	return ok ? 0 : SD_ERR_LEDGER;
}

static uint8_t *
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
	return p + 4;
}

/* The length of parameter value i (binary: len[i]; text: up to its NUL). */
static size_t
value_len(const char *const *v, const int *len, const int *fmt, size_t i)
{
	return fmt[i] ? (size_t)len[i] : strlen(v[i]);
}

/*
 * One-dimensional array of element type oid, in PostgreSQL's binary
 * format, of the n values v[at], v[at + stride], ... (NULL pointers are
 * SQL NULLs).  Its length in *size; NULL when out of memory.
 */
static uint8_t *
pack_array(const char *const *v, const int *len, const int *fmt, size_t at,
    size_t stride, size_t n, uint32_t oid, size_t *size)
{
	size_t i, k, vl, total = n > 0 ? 20 : 12;
	int nulls = 0;
	uint8_t *buf, *p;

	for (i = 0, k = at; i < n; i++, k += stride) {
		total += 4;
		if (v[k] == NULL)
			nulls = 1;
		else
			total += value_len(v, len, fmt, k);
	}
	if ((buf = malloc(total)) == NULL)
		return NULL;
	p = put32(buf, n > 0 ? 1 : 0); /* dimensions: none when empty */
	p = put32(p, (uint32_t)nulls);
	p = put32(p, oid);
	if (n > 0) {
		p = put32(p, (uint32_t)n);
		p = put32(p, 1); /* lower bound */
	}
	for (i = 0, k = at; i < n; i++, k += stride) {
		if (v[k] == NULL) {
			p = put32(p, UINT32_MAX); /* -1: NULL */
			continue;
		}
		vl = value_len(v, len, fmt, k);
		p = put32(p, (uint32_t)vl);
		memcpy(p, v[k], vl);
		p += vl;
	}
	*size = total;
	return buf;
}

int
ledger_batch_exec(PGconn *c, const char *const *v, const int *len,
    const int *fmt, size_t n, size_t ncols, size_t nm, long deadline_ms,
    atomic_int *doubt, PGresult **res, enum ledger_pq_commit *how)
{
	const char *pv[NPARAMS];
	int plen[NPARAMS], pfmt[NPARAMS];
	uint8_t *arr[NPARAMS] = { NULL };
	struct ledger_pq_stmt s;
	size_t size, node = n * ncols;
	size_t i;
	int r = SD_ERR_INTERNAL;

	*res = NULL;
	*how = LEDGER_PQ_LOST;
	if (n == 0 || ncols != NPARAMS - 3)
		return SD_ERR_INTERNAL;
	pv[0] = v[0];
	plen[0] = pfmt[0] = 0;
	for (i = 1; i < NPARAMS; i++) {
		/* a column of the entries (binary ones are bytea), or one of
		 * the subtrees' (level, idx, hash) */
		arr[i] = i < ncols
		    ? pack_array(v, len, fmt, i, ncols, n,
			  fmt[i] ? OID_BYTEA : OID_TEXT, &size)
		    : pack_array(v, len, fmt, node + (i - ncols), 3, nm,
			  i == NPARAMS - 1 ? OID_BYTEA : OID_TEXT, &size);
		if (arr[i] == NULL)
			goto out;
		pv[i] = (const char *)arr[i];
		plen[i] = (int)size;
		pfmt[i] = 1;
	}
	memset(&s, 0, sizeof(s));
	s.name = INSERT_STMT;
	s.n = NPARAMS;
	s.v = pv;
	s.len = plen;
	s.fmt = pfmt;
	*res = ledger_pq_exec_bounded(c, &s, deadline_ms, doubt, how);
	r = 0;
out:
	for (i = 0; i < NPARAMS; i++)
		free(arr[i]);
	return r;
}
