/*
 * sign_req: strict decoding of sign requests.  Unknown fields, duplicate
 * fields, wrong types, over-long strings, invalid base64 and digests whose
 * length is not exactly the algorithm's are all refused with a message
 * naming the field.  jansson does the JSON parsing (and refuses invalid
 * UTF-8); this file only checks the shape.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>

#include "b64.h"
#include "canon.h"
#include "err.h"
#include "name.h"
#include "sign_req.h"

static const struct {
	const char *name;
	enum sign_digest alg;
	size_t len;
	int nid;
} digests[] = {
	{ "sha256", SIGN_SHA256, 32, NID_sha256 },
	{ "sha384", SIGN_SHA384, 48, NID_sha384 },
	{ "sha512", SIGN_SHA512, 64, NID_sha512 },
};

int
sign_digest_nid(enum sign_digest d)
{
	size_t i;

	for (i = 0; i < sizeof(digests) / sizeof(digests[0]); i++)
		if (digests[i].alg == d)
			return digests[i].nid;
	return NID_undef;
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
	size_t i;

	for (i = 0; i < sizeof(digests) / sizeof(digests[0]); i++)
		if (digests[i].alg == d)
			return digests[i].name;
	return "unknown";
}

/* The characters a string field of kind may hold: 0 any UTF-8 text
 * without control characters, 1 a name, 2 printable ASCII without
 * spaces. */
static int
text_ok(const char *s, size_t n, int kind)
{
	size_t i;

	if (kind == 0 && !sd_utf8_valid(s, n))
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((kind == 1 && !sd_name_char(c)) ||
		    (kind == 2 && (c <= 0x20 || c >= 0x7f)) ||
		    (kind == 0 && (c < 0x20 || c == 0x7f)))
			return 0;
	}
	return 1;
}

/*
 * Copy string field `name` of obj into dst (cap bytes incl. NUL), its
 * characters of kind (text_ok).  Returns 0, 1 when absent, or
 * SD_ERR_BAD_REQUEST.
 */
static int
get_str(json_t *obj, const char *name, char *dst, size_t cap, int kind,
    char *errbuf, size_t errlen)
{
	json_t *v = json_object_get(obj, name);
	const char *s;
	size_t n;

	if (v == NULL)
		return 1;
	if (!json_is_string(v)) {
		snprintf(errbuf, errlen, "field \"%s\" must be a string", name);
		return SD_ERR_BAD_REQUEST;
	}
	s = json_string_value(v);
	n = json_string_length(v);
	if (n == 0 || n >= cap) {
		snprintf(errbuf, errlen, "field \"%s\" must be 1 to %zu bytes",
		    name, cap - 1);
		return SD_ERR_BAD_REQUEST;
	}
	if (!text_ok(s, n, kind)) {
		snprintf(errbuf, errlen,
		    "field \"%s\" has a character that is not allowed", name);
		return SD_ERR_BAD_REQUEST;
	}
	memcpy(dst, s, n);
	dst[n] = '\0';
	return 0;
}

static int
only_fields(json_t *obj, const char *const *allowed, const char *where,
    char *errbuf, size_t errlen)
{
	const char *k;
	json_t *v;
	size_t i;

	json_object_foreach(obj, k, v)
	{
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(k, allowed[i]) == 0)
				break;
		if (allowed[i] == NULL) {
			/* a name is quoted back only when it is plain text */
			snprintf(errbuf, errlen, "unknown field \"%.40s\"%s",
			    sd_quotable(k) ? k : "(not printable)", where);
			return SD_ERR_BAD_REQUEST;
		}
	}
	return 0;
}

static int
required(int r, const char *name, char *errbuf, size_t errlen)
{
	if (r == 1)
		snprintf(errbuf, errlen, "field \"%s\" is required", name);
	return r == 1 ? SD_ERR_BAD_REQUEST : r;
}

static int
decode_evidence(json_t *root, struct sign_req *out, char *errbuf, size_t errlen)
{
	static const char *const fields[] = { "type", "ref", NULL };
	json_t *ev = json_object_get(root, "evidence");
	int r;

	if (ev == NULL)
		return 0;
	if (!json_is_object(ev)) {
		snprintf(
		    errbuf, errlen, "field \"evidence\" must be an object");
		return SD_ERR_BAD_REQUEST;
	}
	if ((r = only_fields(ev, fields, " in \"evidence\"", errbuf, errlen)) !=
	    0)
		return r;
	if ((r = get_str(ev, "type", out->evidence_type,
		 sizeof(out->evidence_type), 1, errbuf, errlen)) < 0)
		return r;
	if (r == 1) {
		snprintf(errbuf, errlen, "field \"evidence.type\" is required");
		return SD_ERR_BAD_REQUEST;
	}
	r = get_str(ev, "ref", out->evidence_ref, sizeof(out->evidence_ref), 0,
	    errbuf, errlen);
	return r < 0 ? r : 0;
}

static int
decode_digest(json_t *root, enum sign_digest *alg_out, uint8_t *digest,
    size_t *digest_len, char *errbuf, size_t errlen)
{
	char alg[16];
	json_t *v;
	size_t i, n;
	int r;

	if ((r = required(get_str(root, "digest_alg", alg, sizeof(alg), 1,
			      errbuf, errlen),
		 "digest_alg", errbuf, errlen)) != 0)
		return r;
	for (i = 0; i < sizeof(digests) / sizeof(digests[0]); i++)
		if (strcmp(alg, digests[i].name) == 0)
			break;
	if (i == sizeof(digests) / sizeof(digests[0])) {
		snprintf(errbuf, errlen,
		    "digest_alg must be sha256, sha384 or "
		    "sha512");
		return SD_ERR_BAD_REQUEST;
	}
	*alg_out = digests[i].alg;
	v = json_object_get(root, "digest");
	if (v == NULL || !json_is_string(v)) {
		snprintf(
		    errbuf, errlen, "field \"digest\" (base64) is required");
		return SD_ERR_BAD_REQUEST;
	}
	if (b64_decode(json_string_value(v), json_string_length(v), digest,
		SD_DIGEST_MAX, &n) != 0) {
		snprintf(errbuf, errlen,
		    "field \"digest\" is not valid base64 "
		    "of a %s digest",
		    alg);
		return SD_ERR_BAD_REQUEST;
	}
	if (n != digests[i].len) {
		snprintf(errbuf, errlen, "digest is %zu bytes; %s needs %zu", n,
		    alg, digests[i].len);
		return SD_ERR_BAD_REQUEST;
	}
	*digest_len = n;
	return 0;
}

int
sign_req_decode(const char *body, size_t len, struct sign_req *out,
    char *errbuf, size_t errlen)
{
	static const char *const fields[] = { "key", "digest", "digest_alg",
		"format", "request_id", "evidence", NULL };
	json_error_t jerr;
	json_t *root;
	int r;

	memset(out, 0, sizeof(*out));
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		snprintf(errbuf, errlen,
		    "invalid JSON at line %d column %d: "
		    "%.80s",
		    jerr.line, jerr.column, jerr.text);
		sd_printable(errbuf); /* jansson quotes the input */
		return SD_ERR_BAD_REQUEST;
	}
	if (!json_is_object(root)) {
		snprintf(errbuf, errlen, "the body must be a JSON object");
		r = SD_ERR_BAD_REQUEST;
		goto out;
	}
	/* request_id first, so that every later error can carry it */
	if ((r = required(get_str(root, "request_id", out->request_id,
			      sizeof(out->request_id), 2, errbuf, errlen),
		 "request_id", errbuf, errlen)) != 0) {
		out->request_id[0] = '\0';
		goto out;
	}
	if ((r = only_fields(root, fields, "", errbuf, errlen)) != 0 ||
	    (r = required(get_str(root, "key", out->key, sizeof(out->key), 1,
			      errbuf, errlen),
		 "key", errbuf, errlen)) != 0 ||
	    (r = decode_digest(root, &out->digest_alg, out->digest,
		 &out->digest_len, errbuf, errlen)) != 0 ||
	    (r = decode_evidence(root, out, errbuf, errlen)) != 0)
		goto out;
	r = get_str(root, "format", out->format, sizeof(out->format), 1, errbuf,
	    errlen);
	if (r < 0)
		goto out;
	if (r == 1)
		memcpy(out->format, "raw", 4);
	r = 0;
	if (strcmp(out->format, "raw") != 0 &&
	    strcmp(out->format, "cms") != 0) {
		snprintf(errbuf, errlen, "format must be \"raw\" or \"cms\"");
		r = SD_ERR_BAD_REQUEST;
	}
out:
	json_decref(root);
	return r;
}

/* "nonce": an integer 1..2^63-1; "cert_req": a boolean. */
static int
decode_stamp_opts(
    json_t *root, struct stamp_req *out, char *errbuf, size_t errlen)
{
	json_t *v;

	out->cert_req = 1;
	if ((v = json_object_get(root, "nonce")) != NULL) {
		if (!json_is_integer(v) || json_integer_value(v) < 1) {
			snprintf(errbuf, errlen,
			    "field \"nonce\" must be a positive integer");
			return SD_ERR_BAD_REQUEST;
		}
		out->nonce = (uint64_t)json_integer_value(v);
	}
	if ((v = json_object_get(root, "cert_req")) != NULL) {
		if (!json_is_boolean(v)) {
			snprintf(errbuf, errlen,
			    "field \"cert_req\" must be true or false");
			return SD_ERR_BAD_REQUEST;
		}
		out->cert_req = json_is_true(v);
	}
	return 0;
}

int
sign_req_stamp_decode(const char *body, size_t len, struct stamp_req *out,
    char *errbuf, size_t errlen)
{
	static const char *const fields[] = { "digest", "digest_alg", "policy",
		"nonce", "cert_req", NULL };
	json_error_t jerr;
	json_t *root;
	size_t i;
	int r;

	memset(out, 0, sizeof(*out));
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL || !json_is_object(root)) {
		snprintf(errbuf, errlen, "the body must be a JSON object");
		json_decref(root);
		return SD_ERR_BAD_REQUEST;
	}
	if ((r = only_fields(root, fields, "", errbuf, errlen)) != 0 ||
	    (r = decode_digest(root, &out->digest_alg, out->digest,
		 &out->digest_len, errbuf, errlen)) != 0 ||
	    (r = decode_stamp_opts(root, out, errbuf, errlen)) != 0)
		goto out;
	if ((r = get_str(root, "policy", out->policy, sizeof(out->policy), 2,
		 errbuf, errlen)) < 0)
		goto out;
	r = 0;
	for (i = 0; out->policy[i] != '\0'; i++)
		if ((out->policy[i] < '0' || out->policy[i] > '9') &&
		    out->policy[i] != '.') {
			snprintf(errbuf, errlen,
			    "field \"policy\" must be a dotted OID");
			r = SD_ERR_BAD_REQUEST;
		}
out:
	json_decref(root);
	return r;
}

/* A field of a decoded request: 1..cap-1 bytes (or empty when it may
 * be), terminated, of its kind. */
static int
field_ok(const char *s, size_t cap, int kind, int may_be_empty)
{
	size_t n = strnlen(s, cap);

	return n < cap && (n > 0 || may_be_empty) && text_ok(s, n, kind);
}

int
sign_req_check(const struct sign_req *r)
{
	size_t i;

	for (i = 0; i < sizeof(digests) / sizeof(digests[0]); i++)
		if (digests[i].alg == r->digest_alg)
			break;
	if (i == sizeof(digests) / sizeof(digests[0]) ||
	    r->digest_len != digests[i].len ||
	    !field_ok(r->key, sizeof(r->key), 1, 0) ||
	    !field_ok(r->request_id, sizeof(r->request_id), 2, 0) ||
	    !field_ok(r->evidence_type, sizeof(r->evidence_type), 1, 1) ||
	    !field_ok(r->evidence_ref, sizeof(r->evidence_ref), 0, 1) ||
	    (r->evidence_type[0] == '\0' && r->evidence_ref[0] != '\0') ||
	    (strcmp(r->format, "raw") != 0 && strcmp(r->format, "cms") != 0))
		return SD_ERR_BAD_REQUEST;
	return 0;
}

void
sign_req_hash(const struct sign_req *r, uint8_t out[SD_HASH_LEN])
{
	const char *alg = sign_digest_name(r->digest_alg);
	unsigned int n = SD_HASH_LEN;
	EVP_MD_CTX *c;

	memset(out, 0, SD_HASH_LEN);
	if ((c = EVP_MD_CTX_new()) == NULL)
		return;
	EVP_DigestInit_ex(c, EVP_sha256(), NULL);
	canon_bytes(c, "seald-sign-request-v1", 21);
	canon_str(c, r->key);
	canon_str(c, alg);
	canon_bytes(c, r->digest, r->digest_len);
	canon_str(c, r->format);
	canon_str(c, r->evidence_type);
	canon_str(c, r->evidence_ref);
	EVP_DigestFinal_ex(c, out, &n);
	EVP_MD_CTX_free(c);
}
