/*
 * ledger_verify: the auditor's check of every instance's hash chain, in
 * one read-only snapshot of the database.  It recomputes each entry's
 * hash from its columns (docs/ledger-format.md), and checks that seq
 * starts at 1 without gaps and that each prev_hash is the previous
 * entry's hash.  The first position where that fails is reported: an
 * entry changed (its hash differs), deleted (a gap), reordered or
 * inserted (a link that does not hold).  Each signed checkpoint must name
 * an entry of the chain with its hash, so that removing the newest entries
 * shows too, and the Merkle root each checkpoint signs must be the root
 * recomputed from the entries.  It trusts nothing in the database but the rows and, for
 * checkpoint signatures, the audit public key it is given; it needs only
 * SELECT.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "ledger.h"
#include "ledger_pq.h"
#include "merkle.h"

#define PAGE 2000 /* rows per query */

enum col {
	C_SEQ,
	C_KIND,
	C_AT,
	C_CLIENT,
	C_UID,
	C_PID,
	C_RID,
	C_RHASH,
	C_KEY,
	C_KVER,
	C_ALG,
	C_DALG,
	C_DIGEST,
	C_FMT,
	C_SIG,
	C_ETYPE,
	C_EREF,
	C_PHASH,
	C_DETAIL,
	C_PREV,
	C_HASH,
	C_TSERIAL,
	C_TPOLICY,
	C_NCOLS
};

const char ledger_page_sql[] =
    "SELECT seq, kind, signed_at_us, client, client_uid, client_pid, "
    "request_id, request_hash, key_name, key_version, algorithm, "
    "digest_alg, digest, format, signature, evidence_type, evidence_ref, "
    "policy_hash, detail, prev_hash, entry_hash, tsa_serial, tsa_policy "
    "FROM ledger_entries "
    "WHERE instance = $1 AND seq > $2 ORDER BY seq LIMIT $3";

int
ledger_row_entry(const PGresult *res, int r, struct ledger_entry *e,
    uint8_t prev[SD_HASH_LEN], uint8_t hash[SD_HASH_LEN])
{
	char kind[16];
	int k;
	size_t n1 = SD_HASH_LEN, n2 = SD_HASH_LEN, n3 = SD_HASH_LEN;

	e->seq = ledger_pq_i64(res, r, C_SEQ);
	e->signed_at_us = ledger_pq_i64(res, r, C_AT);
	e->client_uid = ledger_pq_i64(res, r, C_UID);
	e->client_pid = ledger_pq_i64(res, r, C_PID);
	e->key_version = ledger_pq_i64(res, r, C_KVER);
	if (ledger_pq_bytes(res, r, C_KIND, kind, sizeof(kind), NULL, 1) ||
	    ledger_pq_bytes(
		res, r, C_CLIENT, e->client, sizeof(e->client), NULL, 1) ||
	    ledger_pq_bytes(
		res, r, C_RID, e->request_id, sizeof(e->request_id), NULL, 1) ||
	    ledger_pq_bytes(
		res, r, C_KEY, e->key_name, sizeof(e->key_name), NULL, 1) ||
	    ledger_pq_bytes(
		res, r, C_ALG, e->algorithm, sizeof(e->algorithm), NULL, 1) ||
	    ledger_pq_bytes(res, r, C_DALG, e->digest_alg,
		sizeof(e->digest_alg), NULL, 1) ||
	    ledger_pq_bytes(res, r, C_DIGEST, e->digest, sizeof(e->digest),
		&e->digest_len, 0) ||
	    ledger_pq_bytes(
		res, r, C_FMT, e->format, sizeof(e->format), NULL, 1) ||
	    ledger_pq_bytes(
		res, r, C_SIG, e->sig, sizeof(e->sig), &e->sig_len, 0) ||
	    ledger_pq_bytes(res, r, C_ETYPE, e->evidence_type,
		sizeof(e->evidence_type), NULL, 1) ||
	    ledger_pq_bytes(res, r, C_EREF, e->evidence_ref,
		sizeof(e->evidence_ref), NULL, 1) ||
	    ledger_pq_bytes(
		res, r, C_DETAIL, e->detail, sizeof(e->detail), NULL, 1) ||
	    ledger_pq_bytes(res, r, C_TSERIAL, e->tsa_serial,
		sizeof(e->tsa_serial), &e->tsa_serial_len, 0) ||
	    ledger_pq_bytes(res, r, C_TPOLICY, e->tsa_policy,
		sizeof(e->tsa_policy), NULL, 1))
		return -1;
	/* short or NULL hashes read as what they are: they will not match */
	memset(e->request_hash, 0, SD_HASH_LEN);
	memset(e->policy_hash, 0, SD_HASH_LEN);
	memset(prev, 0xff, SD_HASH_LEN);
	memset(hash, 0xff, SD_HASH_LEN);
	if (ledger_pq_bytes(
		res, r, C_RHASH, e->request_hash, SD_HASH_LEN, NULL, 0) ||
	    ledger_pq_bytes(
		res, r, C_PHASH, e->policy_hash, SD_HASH_LEN, &n1, 0) ||
	    ledger_pq_bytes(res, r, C_PREV, prev, SD_HASH_LEN, &n2, 0) ||
	    ledger_pq_bytes(res, r, C_HASH, hash, SD_HASH_LEN, &n3, 0) ||
	    n2 != SD_HASH_LEN || n3 != SD_HASH_LEN)
		return -1;
	if ((k = ledger_kind_from(kind)) < 0)
		return -1;
	e->kind = (enum ledger_kind)k;
	return 0;
}

int
ledger_walk(PGconn *c, const char *instance, int64_t from,
    const uint8_t from_link[SD_HASH_LEN],
    void (*each)(void *arg, int64_t seq, const uint8_t hash[SD_HASH_LEN]),
    void *arg, struct ledger_verdict *v)
{
	uint8_t link[SD_HASH_LEN], prev[SD_HASH_LEN], hash[SD_HASH_LEN];
	uint8_t want[SD_HASH_LEN];
	const char *params[3];
	char page[16];
	struct ledger_entry e;
	char after[24];
	int64_t expect = from;
	PGresult *res;
	int i, n;

	memcpy(link, from_link, SD_HASH_LEN);
	memset(v, 0, sizeof(*v));
	snprintf(v->instance, sizeof(v->instance), "%s", instance);
	v->ok = 1;
	for (;;) {
		snprintf(after, sizeof(after), "%lld", (long long)(expect - 1));
		snprintf(page, sizeof(page), "%d", PAGE);
		params[0] = instance;
		params[1] = after;
		params[2] = page;
		res = PQexecParams(
		    c, ledger_page_sql, 3, NULL, params, NULL, NULL, 1);
		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			PQclear(res);
			return SD_ERR_LEDGER;
		}
		n = PQntuples(res);
		for (i = 0; i < n && v->ok; i++) {
			memset(&e, 0, sizeof(e));
			snprintf(
			    e.instance, sizeof(e.instance), "%s", instance);
			if (ledger_row_entry(res, i, &e, prev, hash) != 0) {
				v->ok = 0;
				v->bad_seq = ledger_pq_i64(res, i, C_SEQ);
				snprintf(v->problem, sizeof(v->problem),
				    "entry is malformed (a column is not of "
				    "its kind or size)");
			} else if (e.seq != expect) {
				v->ok = 0;
				v->bad_seq = expect;
				snprintf(v->problem, sizeof(v->problem),
				    "entries %lld..%lld are missing (deleted)",
				    (long long)expect, (long long)e.seq - 1);
			} else if (memcmp(prev, link, SD_HASH_LEN) != 0) {
				v->ok = 0;
				v->bad_seq = e.seq;
				snprintf(v->problem, sizeof(v->problem),
				    "prev_hash is not the hash of entry %lld "
				    "(entries reordered, inserted or removed)",
				    (long long)e.seq - 1);
			} else {
				ledger_entry_hash(&e, prev, want);
				if (memcmp(want, hash, SD_HASH_LEN) != 0) {
					v->ok = 0;
					v->bad_seq = e.seq;
					snprintf(v->problem, sizeof(v->problem),
					    "entry_hash does not match the "
					    "entry (the entry was changed)");
				} else if (each != NULL) {
					each(arg, e.seq, hash);
				}
			}
			memcpy(link, hash, SD_HASH_LEN);
			expect++;
			v->entries++;
		}
		PQclear(res);
		if (!v->ok || n < PAGE)
			break;
	}
	if (v->ok)
		v->head_seq = expect - 1;
	return 0;
}

/* What the walk gathers for the checkpoints: the Merkle root of the
 * chain at each checkpoint's seq. */
struct roots {
	struct merkle_frontier tree;
	const PGresult *cps; /* the checkpoints, by seq */
	int ncps, next;
	uint8_t (*root)[SD_HASH_LEN];
};

static void
take_root(void *arg, int64_t seq, const uint8_t hash[SD_HASH_LEN])
{
	struct roots *r = arg;
	struct merkle_node made[MERKLE_LEVELS];
	size_t n;

	if (merkle_push(&r->tree, hash, made, &n) != 0)
		return;
	while (r->next < r->ncps && ledger_pq_i64(r->cps, r->next, 0) <= seq) {
		merkle_root(&r->tree, r->root[r->next]);
		r->next++;
	}
}

/* Walk the chain of v->instance; then each checkpoint must name an entry
 * of the chain with its hash and the tree's root there, and (with audit)
 * be signed by it. */
static int
check_instance(
    PGconn *c, const char *instance, EVP_PKEY *audit, struct ledger_verdict *v)
{
	static const uint8_t zero[SD_HASH_LEN];
	const char *params[1] = { instance };
	struct ledger_cp cp;
	struct roots rs;
	char sql[200];
	PGresult *res;
	int64_t next;
	int i, r = 0;

	snprintf(sql, sizeof(sql),
	    "SELECT %s FROM ledger_checkpoints WHERE instance = $1 "
	    "ORDER BY seq, signed_at_us",
	    ledger_cp_columns);
	res = PQexecParams(c, sql, 1, NULL, params, NULL, NULL, 1);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		PQclear(res);
		return SD_ERR_LEDGER;
	}
	memset(&rs, 0, sizeof(rs));
	rs.cps = res;
	rs.ncps = PQntuples(res);
	if ((rs.root = calloc((size_t)rs.ncps + 1, SD_HASH_LEN)) == NULL) {
		PQclear(res);
		return SD_ERR_LEDGER;
	}
	r = ledger_walk(c, instance, 1, zero, take_root, &rs, v);
	for (i = 0; r == 0 && i < rs.ncps && v->ok; i++) {
		v->checkpoints++;
		v->last_checkpoint = ledger_pq_i64(res, i, 0);
		r = ledger_cp_row(c, instance, res, i, audit, v->head_seq,
		    i < rs.next ? rs.root[i] : NULL, &cp, v);
		/* after a clean stop, seald signs an opening checkpoint of
		 * the same head before it appends anything */
		next = i + 1 < rs.ncps ? ledger_pq_i64(res, i + 1, 0)
				       : v->head_seq;
		if (r == 0 && v->ok && cp.closing && next > cp.seq) {
			v->ok = 0;
			v->bad_seq = cp.seq + 1;
			snprintf(v->problem, sizeof(v->problem),
			    "entries %lld..%lld were added after seald "
			    "stopped cleanly at seq %lld; seald did not write "
			    "them",
			    (long long)cp.seq + 1, (long long)next,
			    (long long)cp.seq);
		}
	}
	free(rs.root);
	PQclear(res);
	return r;
}

int
ledger_verify(const char *conninfo, EVP_PKEY *audit,
    void (*report)(const struct ledger_verdict *, void *), void *arg,
    char *errbuf, size_t errlen)
{
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
	res = PQexec(c,
	    "SELECT DISTINCT instance FROM ledger_entries ORDER BY instance");
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ledger_pq_error(c, "list instances", errbuf, errlen);
		r = SD_ERR_LEDGER;
		goto out;
	}
	n = PQntuples(res);
	for (i = 0; i < n; i++) {
		if (check_instance(c, PQgetvalue(res, i, 0), audit, &v) != 0) {
			ledger_pq_error(c, "read entries", errbuf, errlen);
			r = SD_ERR_LEDGER;
			goto out;
		}
		bad |= !v.ok;
		report(&v, arg);
	}
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
