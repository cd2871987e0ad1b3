/*
 * ledger_cp: a checkpoint as anyone who checks one reads it: its digest
 * (fixed by docs/ledger-format.md), its signature, its row in the
 * database, and whether the chain it signs is still the one stored.  The
 * writer's checkpoints (ledger_checkpoint.c) and the verifier
 * (ledger_verify.c) both use it.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "canon.h"
#include "err.h"
#include "ledger.h"
#include "ledger_pq.h"

/* 19 chars and a NUL each: v1 before the Merkle tree, v2 with its root */
static const char tag_v1[20] = "seald-checkpoint-v1";
static const char tag_v2[20] = "seald-checkpoint-v2";

void
ledger_checkpoint_digest(
    const struct ledger_cp *cp, const char *instance, uint8_t out[SD_HASH_LEN])
{
	EVP_MD_CTX *c;

	if ((c = canon_begin(out)) == NULL)
		return;
	EVP_DigestUpdate(c, cp->has_root ? tag_v2 : tag_v1, sizeof(tag_v1));
	canon_bytes(c, instance, strlen(instance));
	canon_int(c, cp->seq);
	canon_bytes(c, cp->entry_hash, SD_HASH_LEN);
	if (cp->has_root) {
		canon_bytes(c, cp->root, SD_HASH_LEN);
		canon_int(c, cp->closing ? 1 : 0);
	}
	canon_int(c, cp->signed_at_us);
	canon_end(c, out);
}

int
ledger_checkpoint_sig_ok(EVP_PKEY *pub, const uint8_t digest[SD_HASH_LEN],
    const uint8_t *sig, size_t siglen)
{
	EVP_PKEY_CTX *ctx;
	int ok;

	if ((ctx = EVP_PKEY_CTX_new(pub, NULL)) == NULL)
		return 0;
	ok = EVP_PKEY_verify_init(ctx) > 0 &&
	    (EVP_PKEY_get_base_id(pub) != EVP_PKEY_RSA ||
		EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) > 0) &&
	    EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) > 0 &&
	    EVP_PKEY_verify(ctx, sig, siglen, digest, SD_HASH_LEN) == 1;
	EVP_PKEY_CTX_free(ctx);
	return ok;
}

int
ledger_cp_signed(
    const struct ledger_cp *cp, const char *instance, EVP_PKEY *pub)
{
	uint8_t dg[SD_HASH_LEN];

	ledger_checkpoint_digest(cp, instance, dg);
	return ledger_checkpoint_sig_ok(pub, dg, cp->sig, cp->sig_len);
}

int
ledger_entry_hash_at(
    PGconn *c, const char *instance, int64_t seq, uint8_t out[SD_HASH_LEN])
{
	const char *params[2];
	char s[24];
	PGresult *res;
	size_t n = 0;
	int r = SD_ERR_LEDGER;

	memset(out, 0xff, SD_HASH_LEN);
	snprintf(s, sizeof(s), "%lld", (long long)seq);
	params[0] = instance;
	params[1] = s;
	res = PQexecParams(c,
	    "SELECT entry_hash FROM ledger_entries WHERE instance = $1 AND "
	    "seq = $2",
	    2, NULL, params, NULL, NULL, 1);
	if (PQresultStatus(res) == PGRES_TUPLES_OK) {
		r = 0;
		if (PQntuples(res) == 1 &&
		    (ledger_pq_bytes(res, 0, 0, out, SD_HASH_LEN, &n, 0) != 0 ||
			n != SD_HASH_LEN))
			memset(out, 0xff, SD_HASH_LEN);
	}
	PQclear(res);
	return r;
}

/* The columns ledger_cp_parse reads, in this order. */
const char ledger_cp_columns[] = "seq, entry_hash, signed_at_us, signature, "
				 "root, closing, key_label, algorithm";

int
ledger_cp_parse(const PGresult *res, int i, struct ledger_cp *cp)
{
	size_t hl = 0, rl = 0;

	memset(cp, 0, sizeof(*cp));
	cp->seq = ledger_pq_i64(res, i, 0);
	cp->signed_at_us = ledger_pq_i64(res, i, 2);
	cp->has_root = !PQgetisnull(res, i, 4);
	cp->closing = ledger_pq_i64(res, i, 5) != 0;
	if (ledger_pq_bytes(res, i, 1, cp->entry_hash, SD_HASH_LEN, &hl, 0) ||
	    hl != SD_HASH_LEN ||
	    ledger_pq_bytes(
		res, i, 3, cp->sig, sizeof(cp->sig), &cp->sig_len, 0) ||
	    (cp->has_root &&
		(ledger_pq_bytes(res, i, 4, cp->root, SD_HASH_LEN, &rl, 0) ||
		    rl != SD_HASH_LEN)) ||
	    ledger_pq_bytes(
		res, i, 6, cp->key_label, sizeof(cp->key_label), NULL, 1) ||
	    ledger_pq_bytes(
		res, i, 7, cp->algorithm, sizeof(cp->algorithm), NULL, 1))
		return -1;
	return 0;
}

int
ledger_cp_row(PGconn *c, const char *instance, const PGresult *res, int i,
    EVP_PKEY *pub, int64_t head_seq, const uint8_t *want_root,
    struct ledger_cp *cp, struct ledger_verdict *v)
{
	uint8_t row[SD_HASH_LEN];
	int64_t seq = ledger_pq_i64(res, i, 0);

	v->bad_seq = seq;
	if (ledger_cp_parse(res, i, cp) != 0) {
		v->ok = 0;
		snprintf(v->problem, sizeof(v->problem),
		    "the checkpoint at seq %lld is malformed", (long long)seq);
		return 0;
	}
	if (seq > head_seq) {
		v->ok = 0;
		v->bad_seq = head_seq + 1;
		snprintf(v->problem, sizeof(v->problem),
		    "entries %lld..%lld are missing (removed; the checkpoint "
		    "at seq %lld signs them)",
		    (long long)head_seq + 1, (long long)seq, (long long)seq);
		return 0;
	}
	if (ledger_entry_hash_at(c, instance, seq, row) != 0)
		return SD_ERR_LEDGER;
	if (memcmp(row, cp->entry_hash, SD_HASH_LEN) != 0) {
		v->ok = 0;
		snprintf(v->problem, sizeof(v->problem),
		    "entry %lld is missing or not the one the checkpoint "
		    "signed",
		    (long long)seq);
	} else if (want_root != NULL && cp->has_root &&
	    memcmp(want_root, cp->root, SD_HASH_LEN) != 0) {
		v->ok = 0;
		snprintf(v->problem, sizeof(v->problem),
		    "the Merkle root signed by the checkpoint at seq %lld is "
		    "not the root of entries 1..%lld",
		    (long long)seq, (long long)seq);
	} else if (pub != NULL && !ledger_cp_signed(cp, instance, pub)) {
		v->ok = 0;
		snprintf(v->problem, sizeof(v->problem),
		    "the checkpoint at seq %lld is not signed by the audit key",
		    (long long)seq);
	}
	return 0;
}
