/*
 * ledger_row: an entry's row as read back (ledger_page_sql), for the
 * chain's checks (ledger_pass.c) and the readers (ledger_read.c).
 */
#include <stdio.h>
#include <string.h>

#include "ledger.h"
#include "ledger_pq.h"

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
	C_AT_OK, /* signed_at, which the hash does not cover, is signed_at_us */
	C_NCOLS
};

const char ledger_page_sql[] =
    "SELECT seq, kind, signed_at_us, client, client_uid, client_pid, "
    "request_id, request_hash, key_name, key_version, algorithm, "
    "digest_alg, digest, format, signature, evidence_type, evidence_ref, "
    "policy_hash, detail, prev_hash, entry_hash, tsa_serial, tsa_policy, "
    "signed_at = timestamptz 'epoch' + signed_at_us * interval "
    "'1 microsecond' FROM ledger_entries "
    "WHERE instance = $1 AND seq > $2 AND seq <= $4 ORDER BY seq LIMIT $3";

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
