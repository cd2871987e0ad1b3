/*
 * ledger_checkpoint: signed checkpoints of a chain head.  The digest is
 * fixed by docs/ledger-format.md; the signature comes from the HSM audit
 * key through the caller's sign() (the ledger never touches the HSM).  At
 * start the last checkpoint is checked against the stored chain, so that
 * seald does not continue a chain someone cut short or rewrote.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/rsa.h>

#include "canon.h"
#include "err.h"
#include "ledger.h"
#include "ledger_pq.h"
#include "log.h"

static const char tag[20] = "seald-checkpoint-v1"; /* 19 chars and a NUL */

void
ledger_checkpoint_digest(const char *instance, int64_t seq,
    const uint8_t entry_hash[SD_HASH_LEN], int64_t signed_at_us,
    uint8_t out[SD_HASH_LEN])
{
	unsigned int n = SD_HASH_LEN;
	EVP_MD_CTX *c;

	memset(out, 0, SD_HASH_LEN);
	if ((c = EVP_MD_CTX_new()) == NULL)
		return;
	EVP_DigestInit_ex(c, EVP_sha256(), NULL);
	EVP_DigestUpdate(c, tag, sizeof(tag));
	canon_bytes(c, instance, strlen(instance));
	canon_int(c, seq);
	canon_bytes(c, entry_hash, SD_HASH_LEN);
	canon_int(c, signed_at_us);
	EVP_DigestFinal_ex(c, out, &n);
	EVP_MD_CTX_free(c);
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

int
ledger_cp_write(PGconn *c, const char *instance, int64_t seq,
    const uint8_t hash[SD_HASH_LEN], const struct ledger_checkpointer *cp)
{
	uint8_t dg[SD_HASH_LEN], sig[SD_SIG_MAX];
	char s[24], at[24];
	const char *v[7];
	int len[7] = { 0, 0, SD_HASH_LEN, 0, 0, 0, 0 };
	int fmt[7] = { 0, 0, 1, 0, 0, 0, 1 };
	struct timespec now;
	size_t siglen = 0;
	PGresult *res;
	int64_t at_us;
	int r;

	clock_gettime(CLOCK_REALTIME, &now);
	at_us = (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;
	ledger_checkpoint_digest(instance, seq, hash, at_us, dg);
	if ((r = cp->sign(cp->arg, dg, sig, sizeof(sig), &siglen)) != 0) {
		log_warn("checkpoint at seq %lld: the audit key did not sign",
		    (long long)seq);
		return r;
	}
	snprintf(s, sizeof(s), "%lld", (long long)seq);
	snprintf(at, sizeof(at), "%lld", (long long)at_us);
	v[0] = instance;
	v[1] = s;
	v[2] = (const char *)hash;
	v[3] = at;
	v[4] = cp->key_label;
	v[5] = cp->algorithm;
	v[6] = (const char *)sig;
	len[6] = (int)siglen;
	res = PQexecParams(c,
	    "INSERT INTO ledger_checkpoints (instance, seq, entry_hash, "
	    "signed_at_us, signed_at, key_label, algorithm, signature) "
	    "VALUES ($1, $2, $3, $4, timestamptz 'epoch' + $4::bigint * "
	    "interval '1 microsecond', $5, $6, $7) "
	    "ON CONFLICT (instance, seq) DO NOTHING",
	    7, NULL, v, len, fmt, 0);
	r = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : SD_ERR_LEDGER;
	if (r != 0)
		log_warn("checkpoint at seq %lld not stored", (long long)seq);
	else
		log_debug("checkpoint at seq %lld", (long long)seq);
	PQclear(res);
	return r;
}

/* The columns ledger_cp_row reads, in this order. */
const char ledger_cp_columns[] = "seq, entry_hash, signed_at_us, signature";

int
ledger_cp_row(PGconn *c, const char *instance, const PGresult *res, int i,
    EVP_PKEY *pub, int64_t head_seq, uint8_t hash[SD_HASH_LEN],
    struct ledger_verdict *v)
{
	uint8_t row[SD_HASH_LEN], dg[SD_HASH_LEN], sig[SD_SIG_MAX];
	int64_t seq = ledger_pq_i64(res, i, 0);
	size_t hl = 0, sl = 0;

	v->bad_seq = seq;
	if (ledger_pq_bytes(res, i, 1, hash, SD_HASH_LEN, &hl, 0) != 0 ||
	    hl != SD_HASH_LEN ||
	    ledger_pq_bytes(res, i, 3, sig, sizeof(sig), &sl, 0) != 0) {
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
	if (memcmp(row, hash, SD_HASH_LEN) != 0) {
		v->ok = 0;
		snprintf(v->problem, sizeof(v->problem),
		    "entry %lld is missing or not the one the checkpoint "
		    "signed",
		    (long long)seq);
		return 0;
	}
	ledger_checkpoint_digest(
	    instance, seq, hash, ledger_pq_i64(res, i, 2), dg);
	if (pub != NULL && !ledger_checkpoint_sig_ok(pub, dg, sig, sl)) {
		v->ok = 0;
		snprintf(v->problem, sizeof(v->problem),
		    "the checkpoint at seq %lld is not signed by the audit key",
		    (long long)seq);
	}
	return 0;
}

int
ledger_cp_check(PGconn *c, const char *instance,
    const struct ledger_checkpointer *cp, int64_t *cp_seq, char *errbuf,
    size_t errlen)
{
	static const uint8_t zero[SD_HASH_LEN];
	const char *params[1] = { instance };
	uint8_t hash[SD_HASH_LEN];
	struct ledger_verdict v;
	char sql[160];
	PGresult *res;
	int64_t seq = 0;
	int r = SD_ERR_LEDGER;

	*cp_seq = 0;
	snprintf(sql, sizeof(sql),
	    "SELECT %s FROM ledger_checkpoints WHERE instance = $1 "
	    "ORDER BY seq DESC LIMIT 1",
	    ledger_cp_columns);
	res = PQexecParams(c, sql, 1, NULL, params, NULL, NULL, 1);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ledger_pq_error(c, "read checkpoints", errbuf, errlen);
		goto out;
	}
	memset(&v, 0, sizeof(v));
	v.ok = 1;
	if (PQntuples(res) == 1) {
		seq = ledger_pq_i64(res, 0, 0);
		/* the head is not known yet: a missing entry shows as such */
		if (ledger_cp_row(c, instance, res, 0, cp->pub, INT64_MAX, hash,
			&v) != 0) {
			ledger_pq_error(c, "read entry", errbuf, errlen);
			goto out;
		}
		if (!v.ok) {
			snprintf(errbuf, errlen, "%s", v.problem);
			goto out;
		}
	}
	/* Every entry after the checkpoint (or all, without one) links. */
	if (ledger_walk(c, instance, seq + 1, seq > 0 ? hash : zero, &v) != 0) {
		ledger_pq_error(c, "read entries", errbuf, errlen);
		goto out;
	}
	if (!v.ok) {
		snprintf(errbuf, errlen, "entry %lld: %s", (long long)v.bad_seq,
		    v.problem);
		goto out;
	}
	*cp_seq = seq;
	r = 0;
out:
	PQclear(res);
	return r;
}
