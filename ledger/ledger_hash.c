/*
 * ledger_hash: the canonical encoding of a ledger entry and its chain
 * hash, exactly as docs/ledger-format.md writes them down, so that an
 * auditor can check the chain with any SHA-256 and no seald code.
 *
 *   entry_hash = SHA-256("seald-ledger-v1\0" || fields || prev_hash)
 *
 * The fields depend on the entry's kind (signature or policy).
 *
 * Strings and byte strings are u32 big-endian length then the bytes;
 * integers are 8 bytes big-endian two's complement.
 */
#include <string.h>

#include <openssl/evp.h>

#include "ledger.h"

static const char tag[16] = "seald-ledger-v1"; /* 15 chars and a NUL */

static void
put_bytes(EVP_MD_CTX *c, const void *p, size_t n)
{
	uint8_t len[4] = { (uint8_t)(n >> 24), (uint8_t)(n >> 16),
		(uint8_t)(n >> 8), (uint8_t)n };

	EVP_DigestUpdate(c, len, sizeof(len));
	EVP_DigestUpdate(c, p, n);
}

static void
put_str(EVP_MD_CTX *c, const char *s)
{
	put_bytes(c, s, strlen(s));
}

static void
put_int(EVP_MD_CTX *c, int64_t v)
{
	uint64_t u = (uint64_t)v;
	uint8_t b[8];
	int i;

	for (i = 7; i >= 0; i--, u >>= 8)
		b[i] = (uint8_t)u;
	EVP_DigestUpdate(c, b, sizeof(b));
}

void
ledger_entry_hash(const struct ledger_entry *e, const uint8_t prev[SD_HASH_LEN],
    uint8_t out[SD_HASH_LEN])
{
	EVP_MD_CTX *c;
	unsigned int n = SD_HASH_LEN;

	memset(out, 0, SD_HASH_LEN);
	if ((c = EVP_MD_CTX_new()) == NULL)
		return; /* an all-zero hash never matches: fails closed */
	EVP_DigestInit_ex(c, EVP_sha256(), NULL);
	EVP_DigestUpdate(c, tag, sizeof(tag));
	put_str(c, e->instance);
	put_int(c, e->seq);
	put_str(c, ledger_kind_name(e->kind));
	put_int(c, e->signed_at_us);
	if (e->kind == LEDGER_SIGNATURE) {
		put_str(c, e->client);
		put_int(c, e->client_uid);
		put_int(c, e->client_pid);
		put_str(c, e->request_id);
		put_bytes(c, e->request_hash, SD_HASH_LEN);
		put_str(c, e->key_name);
		put_int(c, e->key_version);
		put_str(c, e->algorithm);
		put_str(c, e->digest_alg);
		put_bytes(c, e->digest, e->digest_len);
		put_str(c, e->format);
		put_bytes(c, e->sig, e->sig_len);
		put_str(c, e->evidence_type);
		put_str(c, e->evidence_ref);
		put_bytes(c, e->policy_hash, SD_HASH_LEN);
	} else {
		put_bytes(c, e->policy_hash, SD_HASH_LEN);
		put_str(c, e->detail);
	}
	EVP_DigestUpdate(c, prev, SD_HASH_LEN);
	EVP_DigestFinal_ex(c, out, &n);
	EVP_MD_CTX_free(c);
}

const char *
ledger_kind_name(enum ledger_kind k)
{
	return k == LEDGER_POLICY ? "policy" : "signature";
}
