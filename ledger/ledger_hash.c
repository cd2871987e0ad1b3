/*
 * ledger_hash: the canonical encoding of a ledger entry and its chain
 * hash, exactly as docs/ledger-format.md writes them down, so that an
 * auditor can check the chain with any SHA-256 and no seald code.
 *
 *   entry_hash = SHA-256("seald-ledger-v1\0" || fields || prev_hash)
 *
 * The fields depend on the entry's kind: a signature's, a time-stamp
 * token's, a key event's, or for policy and override entries the policy
 * hash and what happened.
 *
 * Strings and byte strings are u32 big-endian length then the bytes;
 * integers are 8 bytes big-endian two's complement.
 */
#include <string.h>

#include <openssl/evp.h>

#include "canon.h"
#include "ledger.h"

static const char tag[16] = "seald-ledger-v1"; /* 15 chars and a NUL */

void
ledger_entry_hash(const struct ledger_entry *e, const uint8_t prev[SD_HASH_LEN],
    uint8_t out[SD_HASH_LEN])
{
	EVP_MD_CTX *c;

	if ((c = canon_begin(out)) == NULL)
		return; /* an all-zero hash never matches: fails closed */
	EVP_DigestUpdate(c, tag, sizeof(tag));
	canon_str(c, e->instance);
	canon_int(c, e->seq);
	canon_str(c, ledger_kind_name(e->kind));
	canon_int(c, e->signed_at_us);
	if (e->kind == LEDGER_SIGNATURE || e->kind == LEDGER_TIMESTAMP) {
		canon_str(c, e->client);
		canon_int(c, e->client_uid);
		canon_int(c, e->client_pid);
		if (e->kind == LEDGER_SIGNATURE)
			canon_str(c, e->request_id);
		canon_bytes(c, e->request_hash, SD_HASH_LEN);
		canon_str(c, e->key_name);
		canon_int(c, e->key_version);
		canon_str(c, e->algorithm);
		canon_str(c, e->digest_alg);
		canon_bytes(c, e->digest, e->digest_len);
		if (e->kind == LEDGER_SIGNATURE) {
			canon_str(c, e->format);
			canon_bytes(c, e->sig, e->sig_len);
			canon_str(c, e->evidence_type);
			canon_str(c, e->evidence_ref);
			if (ledger_format_stamped(e->format)) {
				canon_str(c, e->tsa_policy);
				canon_bytes(
				    c, e->tsa_serial, e->tsa_serial_len);
			}
		} else {
			canon_str(c, e->format);
			canon_str(c, e->tsa_policy);
			canon_bytes(c, e->tsa_serial, e->tsa_serial_len);
			canon_bytes(c, e->sig, e->sig_len);
		}
		canon_bytes(c, e->policy_hash, SD_HASH_LEN);
	} else if (e->kind == LEDGER_KEY) {
		canon_str(c, e->client);
		canon_int(c, e->client_uid);
		canon_int(c, e->client_pid);
		canon_str(c, e->key_name);
		canon_int(c, e->key_version);
		canon_str(c, e->algorithm);
		canon_str(c, e->format);
		canon_str(c, e->digest_alg);
		canon_bytes(c, e->digest, e->digest_len);
		canon_str(c, e->detail);
		canon_bytes(c, e->policy_hash, SD_HASH_LEN);
	} else {
		canon_bytes(c, e->policy_hash, SD_HASH_LEN);
		canon_str(c, e->detail);
	}
	EVP_DigestUpdate(c, prev, SD_HASH_LEN);
	canon_end(c, out);
}

static const char *const kind_names[] = { "signature", "policy", "override",
	"timestamp", "key" };

const char *
ledger_kind_name(enum ledger_kind k)
{
	return (unsigned int)k < sizeof(kind_names) / sizeof(kind_names[0])
	    ? kind_names[k]
	    : "signature";
}

int
ledger_format_stamped(const char *format)
{
	return strcmp(format, "cades-t") == 0;
}

int
ledger_kind_from(const char *s)
{
	size_t i;

	for (i = 0; i < sizeof(kind_names) / sizeof(kind_names[0]); i++)
		if (strcmp(s, kind_names[i]) == 0)
			return (int)i;
	return -1;
}
