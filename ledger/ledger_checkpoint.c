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
#include "merkle.h"

/* 19 chars and a NUL each: v1 before the Merkle tree, v2 with its root */
static const char tag_v1[20] = "seald-checkpoint-v1";
static const char tag_v2[20] = "seald-checkpoint-v2";

void
ledger_checkpoint_digest(
    const struct ledger_cp *cp, const char *instance, uint8_t out[SD_HASH_LEN])
{
	unsigned int n = SD_HASH_LEN;
	EVP_MD_CTX *c;

	memset(out, 0, SD_HASH_LEN);
	if ((c = EVP_MD_CTX_new()) == NULL)
		return;
	EVP_DigestInit_ex(c, EVP_sha256(), NULL);
	EVP_DigestUpdate(c, cp->has_root ? tag_v2 : tag_v1, sizeof(tag_v1));
	canon_bytes(c, instance, strlen(instance));
	canon_int(c, cp->seq);
	canon_bytes(c, cp->entry_hash, SD_HASH_LEN);
	if (cp->has_root) {
		canon_bytes(c, cp->root, SD_HASH_LEN);
		canon_int(c, cp->closing ? 1 : 0);
	}
	canon_int(c, cp->signed_at_us);
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

int
ledger_cp_write(PGconn *c, const char *instance, int64_t seq,
    const uint8_t hash[SD_HASH_LEN], const uint8_t root[SD_HASH_LEN],
    int closing, const struct ledger_checkpointer *cp)
{
	uint8_t dg[SD_HASH_LEN];
	struct ledger_cp k;
	char s[24], at[24];
	const char *v[9];
	int len[9] = { 0, 0, SD_HASH_LEN, 0, 0, 0, 0, SD_HASH_LEN, 0 };
	int fmt[9] = { 0, 0, 1, 0, 0, 0, 1, 1, 0 };
	struct timespec now;
	PGresult *res;
	int r;

	memset(&k, 0, sizeof(k));
	clock_gettime(CLOCK_REALTIME, &now);
	k.seq = seq;
	memcpy(k.entry_hash, hash, SD_HASH_LEN);
	k.has_root = 1;
	memcpy(k.root, root, SD_HASH_LEN);
	k.closing = closing;
	k.signed_at_us = (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;
	ledger_checkpoint_digest(&k, instance, dg);
	if ((r = cp->sign(cp->arg, dg, k.sig, sizeof(k.sig), &k.sig_len)) !=
	    0) {
		log_warn("checkpoint at seq %lld: the audit key did not sign",
		    (long long)seq);
		return r;
	}
	snprintf(s, sizeof(s), "%lld", (long long)seq);
	snprintf(at, sizeof(at), "%lld", (long long)k.signed_at_us);
	v[0] = instance;
	v[1] = s;
	v[2] = (const char *)hash;
	v[3] = at;
	v[4] = cp->key_label;
	v[5] = cp->algorithm;
	v[6] = (const char *)k.sig;
	len[6] = (int)k.sig_len;
	v[7] = (const char *)root;
	v[8] = closing ? "true" : "false";
	res = PQexecParams(c,
	    "INSERT INTO ledger_checkpoints (instance, seq, entry_hash, "
	    "signed_at_us, signed_at, key_label, algorithm, signature, root, "
	    "closing) VALUES ($1, $2, $3, $4, timestamptz 'epoch' + "
	    "$4::bigint * interval '1 microsecond', $5, $6, $7, $8, $9)",
	    9, NULL, v, len, fmt, 0);
	r = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : SD_ERR_LEDGER;
	if (r != 0)
		log_warn("checkpoint at seq %lld not stored: %.200s",
		    (long long)seq, PQresultErrorMessage(res));
	else
		log_debug("checkpoint at seq %lld%s", (long long)seq,
		    closing ? " (closing)" : "");
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

/* ledger_walk callback: extend a frontier with each entry. */
static void
grow(void *arg, int64_t seq, const uint8_t hash[SD_HASH_LEN])
{
	struct merkle_node made[MERKLE_LEVELS];
	size_t n;

	(void)seq;
	if (merkle_push(arg, hash, made, &n) != 0)
		log_error("ledger: the Merkle tree is full");
}

int
ledger_cp_check(PGconn *c, const char *instance,
    const struct ledger_checkpointer *cp, int64_t *cp_seq,
    struct merkle_frontier *tree, char *errbuf, size_t errlen)
{
	static const uint8_t zero[SD_HASH_LEN];
	const char *params[1] = { instance };
	uint8_t root[SD_HASH_LEN];
	struct ledger_verdict v;
	struct ledger_cp k;
	char sql[200];
	PGresult *res;
	int r = SD_ERR_LEDGER;

	*cp_seq = 0;
	memset(&k, 0, sizeof(k));
	memset(tree, 0, sizeof(*tree));
	snprintf(sql, sizeof(sql),
	    "SELECT %s FROM ledger_checkpoints WHERE instance = $1 "
	    "ORDER BY seq DESC, signed_at_us DESC LIMIT 1",
	    ledger_cp_columns);
	res = PQexecParams(c, sql, 1, NULL, params, NULL, NULL, 1);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ledger_pq_error(c, "read checkpoints", errbuf, errlen);
		goto out;
	}
	memset(&v, 0, sizeof(v));
	v.ok = 1;
	if (PQntuples(res) == 1) {
		/* the head is not known yet: a missing entry shows as such */
		if (ledger_cp_row(c, instance, res, 0, cp->pub, INT64_MAX, NULL,
			&k, &v) != 0) {
			ledger_pq_error(c, "read entry", errbuf, errlen);
			goto out;
		}
		if (!v.ok) {
			snprintf(errbuf, errlen, "%s", v.problem);
			goto out;
		}
		if (ledger_merkle_load(c, instance, k.seq, tree) != 0) {
			snprintf(errbuf, errlen,
			    "cannot read the Merkle tree up to seq %lld",
			    (long long)k.seq);
			goto out;
		}
		merkle_root(tree, root);
		if (k.has_root && memcmp(root, k.root, SD_HASH_LEN) != 0) {
			snprintf(errbuf, errlen,
			    "the stored Merkle tree up to seq %lld does not "
			    "have the root its checkpoint signs (ledger_merkle "
			    "was changed)",
			    (long long)k.seq);
			goto out;
		}
	}
	/* Every entry after the checkpoint (or all, without one) links. */
	if (ledger_walk(c, instance, k.seq + 1, k.seq > 0 ? k.entry_hash : zero,
		grow, tree, &v) != 0) {
		ledger_pq_error(c, "read entries", errbuf, errlen);
		goto out;
	}
	if (!v.ok) {
		snprintf(errbuf, errlen, "entry %lld: %s", (long long)v.bad_seq,
		    v.problem);
		goto out;
	}
	if (k.closing && v.head_seq > k.seq) {
		snprintf(errbuf, errlen,
		    "entry %lld: entries %lld..%lld were added after seald "
		    "stopped cleanly at seq %lld; seald did not write them",
		    (long long)k.seq + 1, (long long)k.seq + 1,
		    (long long)v.head_seq, (long long)k.seq);
		goto out;
	}
	*cp_seq = k.seq;
	r = 0;
out:
	PQclear(res);
	return r;
}
