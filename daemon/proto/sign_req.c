/*
 * sign_req: see sign_req.h.
 */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/obj_mac.h>

#include "canon.h"
#include "err.h"
#include "name.h"
#include "sign_req.h"

struct digest_row {
	const char *name;
	enum sign_digest alg;
	size_t len;
	int nid;
};

static const struct digest_row digests[] = {
	{ "sha256", SIGN_SHA256, 32, NID_sha256 },
	{ "sha384", SIGN_SHA384, 48, NID_sha384 },
	{ "sha512", SIGN_SHA512, 64, NID_sha512 },
};

/* d's row; NULL for a value outside the table. */
static const struct digest_row *
row_of(enum sign_digest d)
{
	size_t i;

	for (i = 0; i < sizeof(digests) / sizeof(digests[0]); i++)
		if (digests[i].alg == d)
			return &digests[i];
	return NULL;
}

int
sign_digest_nid(enum sign_digest d)
{
	const struct digest_row *r = row_of(d);

	return r != NULL ? r->nid : NID_undef;
}

enum sign_digest
sign_digest_of_nid(int nid)
{
	size_t i;

	for (i = 0; i < sizeof(digests) / sizeof(digests[0]); i++)
		if (digests[i].nid == nid)
			return digests[i].alg;
	return (enum sign_digest)0;
}

const char *
sign_digest_name(enum sign_digest d)
{
	const struct digest_row *r = row_of(d);

	return r != NULL ? r->name : "unknown";
}

enum sign_digest
sign_digest_of_name(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(digests) / sizeof(digests[0]); i++)
		if (strcmp(digests[i].name, name) == 0)
			return digests[i].alg;
	return (enum sign_digest)0;
}

size_t
sign_digest_len(enum sign_digest d)
{
	const struct digest_row *r = row_of(d);

	return r != NULL ? r->len : 0;
}

int
sign_req_text_ok(const char *s, size_t n, int kind)
{
	size_t i;

	if (kind == SIGN_TEXT_ANY && !sd_utf8_valid(s, n))
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((kind == SIGN_TEXT_NAME && !sd_name_char(c)) ||
		    (kind == SIGN_TEXT_TOKEN && (c <= 0x20 || c >= 0x7f)) ||
		    (kind == SIGN_TEXT_ANY && (c < 0x20 || c == 0x7f)))
			return 0;
	}
	return 1;
}

/* A field of a decoded request: 1..cap-1 bytes (or empty when it may
 * be), terminated, of its kind. */
static int
field_ok(const char *s, size_t cap, int kind, int may_be_empty)
{
	size_t n = strnlen(s, cap);

	return n < cap && (n > 0 || may_be_empty) &&
	    sign_req_text_ok(s, n, kind);
}

int
sign_req_check(const struct sign_req *r)
{
	if (sign_digest_len(r->digest_alg) == 0 ||
	    r->digest_len != sign_digest_len(r->digest_alg) ||
	    !field_ok(r->key, sizeof(r->key), SIGN_TEXT_NAME, 0) ||
	    !field_ok(
		r->request_id, sizeof(r->request_id), SIGN_TEXT_TOKEN, 0) ||
	    !field_ok(r->evidence_type, sizeof(r->evidence_type),
		SIGN_TEXT_NAME, 1) ||
	    !field_ok(
		r->evidence_ref, sizeof(r->evidence_ref), SIGN_TEXT_ANY, 1) ||
	    (r->evidence_type[0] == '\0' && r->evidence_ref[0] != '\0') ||
	    sign_format_index(r->format) < 0)
		return SD_ERR_BAD_REQUEST;
	return 0;
}

const char *const sign_formats[SIGN_NFORMATS] = { "raw", "cms", "cades-t" };

int
sign_format_index(const char *s)
{
	int i;

	for (i = 0; i < SIGN_NFORMATS; i++)
		if (strcmp(s, sign_formats[i]) == 0)
			return i;
	return -1;
}

void
sign_req_hash(const struct sign_req *r, uint8_t out[SD_HASH_LEN])
{
	const char *alg = sign_digest_name(r->digest_alg);
	EVP_MD_CTX *c;

	if ((c = canon_begin(out)) == NULL)
		return;
	canon_bytes(c, "seald-sign-request-v1", 21);
	canon_str(c, r->key);
	canon_str(c, alg);
	canon_bytes(c, r->digest, r->digest_len);
	canon_str(c, r->format);
	canon_str(c, r->evidence_type);
	canon_str(c, r->evidence_ref);
	canon_end(c, out);
}
