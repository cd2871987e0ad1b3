/*
 * req_json: strict decoding of the JSON requests (req_json.h).  Unknown
 * fields, duplicate fields, wrong types, over-long strings, invalid
 * base64 and digests whose length is not exactly the algorithm's are all
 * refused with a message naming the field.  jansson does the JSON parsing
 * (and refuses invalid UTF-8); this file only checks the shape.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "b64.h"
#include "err.h"
#include "name.h"
#include "req_json.h"

/*
 * Copy string field `name` of obj into dst (cap bytes incl. NUL), its
 * characters of kind (sign_req_text_ok).  Returns 0, 1 when absent, or
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
	if (!sign_req_text_ok(s, n, kind)) {
		snprintf(errbuf, errlen,
		    "field \"%s\" has a character that is not allowed", name);
		return SD_ERR_BAD_REQUEST;
	}
	memcpy(dst, s, n);
	dst[n] = '\0';
	return 0;
}

/* The name of the member whose value ends before pos: the last quoted
 * string before the last ':' before pos, into name; 0, or -1. */
static int
member_before(const char *body, size_t pos, char *name, size_t cap)
{
	size_t colon = pos, end, start;

	while (colon > 0 && body[colon - 1] != ':')
		colon--;
	if (colon == 0)
		return -1;
	for (end = colon - 1; end > 0 && body[end - 1] != '"'; end--)
		;
	if (end == 0)
		return -1;
	for (start = end - 1; start > 0 && body[start - 1] != '"'; start--)
		;
	if (start == 0 || end - 1 - start >= cap)
		return -1;
	memcpy(name, body + start, end - 1 - start);
	name[end - 1 - start] = '\0';
	return sd_quotable(name) ? 0 : -1;
}

/* The body as a JSON object (duplicate members refused), or NULL with
 * what is wrong in errbuf: where the JSON breaks, or the member whose
 * number is too large for an integer. */
static json_t *
load_object(const char *body, size_t len, char *errbuf, size_t errlen)
{
	json_error_t jerr;
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	char name[48];

	if (root == NULL && strncmp(jerr.text, "too big", 7) == 0 &&
	    (size_t)jerr.position <= len &&
	    member_before(body, (size_t)jerr.position, name, sizeof(name)) ==
		0) {
		snprintf(errbuf, errlen,
		    "field \"%s\" is out of range: an integer of at most "
		    "%lld",
		    name, (long long)INT64_MAX);
		return NULL;
	}
	if (root == NULL) {
		snprintf(errbuf, errlen,
		    "invalid JSON at line %d column %d: %.80s", jerr.line,
		    jerr.column, jerr.text);
		sd_printable(errbuf); /* jansson quotes the input */
		return NULL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		snprintf(errbuf, errlen, "the body must be a JSON object");
		return NULL;
	}
	return root;
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
		 sizeof(out->evidence_type), SIGN_TEXT_NAME, errbuf, errlen)) <
	    0)
		return r;
	if (r == 1) {
		snprintf(errbuf, errlen, "field \"evidence.type\" is required");
		return SD_ERR_BAD_REQUEST;
	}
	r = get_str(ev, "ref", out->evidence_ref, sizeof(out->evidence_ref),
	    SIGN_TEXT_ANY, errbuf, errlen);
	return r < 0 ? r : 0;
}

static int
decode_digest(json_t *root, enum sign_digest *alg_out, uint8_t *digest,
    size_t *digest_len, char *errbuf, size_t errlen)
{
	char alg[16];
	json_t *v;
	size_t n;
	int r;

	if ((r = required(get_str(root, "digest_alg", alg, sizeof(alg),
			      SIGN_TEXT_NAME, errbuf, errlen),
		 "digest_alg", errbuf, errlen)) != 0)
		return r;
	if ((*alg_out = sign_digest_of_name(alg)) == 0) {
		snprintf(errbuf, errlen,
		    "digest_alg must be sha256, sha384 or "
		    "sha512");
		return SD_ERR_BAD_REQUEST;
	}
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
	if (n != sign_digest_len(*alg_out)) {
		snprintf(errbuf, errlen, "digest is %zu bytes; %s needs %zu", n,
		    alg, sign_digest_len(*alg_out));
		return SD_ERR_BAD_REQUEST;
	}
	*digest_len = n;
	return 0;
}

int
req_json_sign(const char *body, size_t len, struct sign_req *out, char *errbuf,
    size_t errlen)
{
	static const char *const fields[] = { "key", "digest", "digest_alg",
		"format", "request_id", "evidence", NULL };
	json_t *root;
	int r;

	memset(out, 0, sizeof(*out));
	if ((root = load_object(body, len, errbuf, errlen)) == NULL)
		return SD_ERR_BAD_REQUEST;
	/* request_id first, so that every later error can carry it */
	if ((r = required(
		 get_str(root, "request_id", out->request_id,
		     sizeof(out->request_id), SIGN_TEXT_TOKEN, errbuf, errlen),
		 "request_id", errbuf, errlen)) != 0) {
		out->request_id[0] = '\0';
		goto out;
	}
	if ((r = only_fields(root, fields, "", errbuf, errlen)) != 0 ||
	    (r = required(get_str(root, "key", out->key, sizeof(out->key),
			      SIGN_TEXT_NAME, errbuf, errlen),
		 "key", errbuf, errlen)) != 0 ||
	    (r = decode_digest(root, &out->digest_alg, out->digest,
		 &out->digest_len, errbuf, errlen)) != 0 ||
	    (r = decode_evidence(root, out, errbuf, errlen)) != 0)
		goto out;
	r = get_str(root, "format", out->format, sizeof(out->format),
	    SIGN_TEXT_NAME, errbuf, errlen);
	if (r < 0)
		goto out;
	if (r == 1)
		memcpy(out->format, "raw", 4);
	r = 0;
	if (sign_format_index(out->format) < 0) {
		snprintf(errbuf, errlen,
		    "format must be \"raw\", \"cms\" or \"cades-t\"");
		r = SD_ERR_BAD_REQUEST;
	}
out:
	json_decref(root);
	return r;
}

/* "nonce": an integer 1..2^63-1; "cert_req": a boolean. */
static int
decode_stamp_opts(
    json_t *root, struct req_json_stamp *out, char *errbuf, size_t errlen)
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
req_json_stamp(const char *body, size_t len, struct req_json_stamp *out,
    char *errbuf, size_t errlen)
{
	static const char *const fields[] = { "digest", "digest_alg", "policy",
		"nonce", "cert_req", NULL };
	json_t *root;
	size_t i;
	int r;

	memset(out, 0, sizeof(*out));
	if ((root = load_object(body, len, errbuf, errlen)) == NULL)
		return SD_ERR_BAD_REQUEST;
	if ((r = only_fields(root, fields, "", errbuf, errlen)) != 0 ||
	    (r = decode_digest(root, &out->digest_alg, out->digest,
		 &out->digest_len, errbuf, errlen)) != 0 ||
	    (r = decode_stamp_opts(root, out, errbuf, errlen)) != 0)
		goto out;
	if ((r = get_str(root, "policy", out->policy, sizeof(out->policy),
		 SIGN_TEXT_TOKEN, errbuf, errlen)) < 0)
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
