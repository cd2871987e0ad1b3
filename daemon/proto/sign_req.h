/*
 * sign_req: a POST /v1/sign request as the front decodes it (req_json.h)
 * and the core receives it: a fixed-size struct, the rules its fields
 * follow (checked again by the core, which trusts no decoder but its
 * own rules), the digest algorithms, and the hash that identifies a
 * request's content for idempotent retries.  Pure: no I/O, no global
 * state.
 */
#ifndef SD_SIGN_REQ_H
#define SD_SIGN_REQ_H

#include <stddef.h>
#include <stdint.h>

#include "sd_limits.h"

enum sign_digest { SIGN_SHA256 = 1, SIGN_SHA384 = 2, SIGN_SHA512 = 3 };

struct sign_req {
	char key[SD_NAME_MAX];
	enum sign_digest digest_alg;
	uint8_t digest[SD_DIGEST_MAX];
	size_t digest_len;
	char format[16]; /* "raw", "cms" or "cades-t" (sign_formats) */
	char request_id[SD_REQUEST_ID_MAX + 1];
	char evidence_type[SD_EVIDENCE_TYPE_MAX + 1]; /* "" when absent */
	char evidence_ref[SD_EVIDENCE_REF_MAX + 1];
};

/*
 * The rules the front's decoder applies, checked on a request decoded
 * elsewhere (the core, of what the front sends): 0 or SD_ERR_BAD_REQUEST.
 */
int sign_req_check(const struct sign_req *r)
    __attribute__((warn_unused_result));

/* The formats a signature comes in, their index being a POLICY_FMT_*
 * bit's position: "raw" (the bare signature), "cms" (CAdES-B-B) and
 * "cades-t" (CAdES-B-T: cms with a signature time-stamp). */
#define SIGN_NFORMATS 3
extern const char *const sign_formats[SIGN_NFORMATS];

/* The index of format s in sign_formats, or -1. */
int sign_format_index(const char *s);

/* OpenSSL's NID of a digest algorithm (NID_undef for none), and back
 * (0 for a NID that is none of them). */
int sign_digest_nid(enum sign_digest d);
enum sign_digest sign_digest_of_nid(int nid);

/* Name of a digest algorithm ("sha256"...; "unknown"), and back (0 for
 * a name that is none of them); its digest's length (0 for none). */
const char *sign_digest_name(enum sign_digest d);
enum sign_digest sign_digest_of_name(const char *name);
size_t sign_digest_len(enum sign_digest d);

/* The characters a text field may hold: any UTF-8 text without control
 * characters; a name (name.h); printable ASCII without spaces. */
enum { SIGN_TEXT_ANY, SIGN_TEXT_NAME, SIGN_TEXT_TOKEN };

/* 1 when the n bytes at s are all of kind (SIGN_TEXT_*), else 0. */
int sign_req_text_ok(const char *s, size_t n, int kind);

/* SHA-256 over the request's content (everything but request_id). */
void sign_req_hash(const struct sign_req *r, uint8_t out[SD_HASH_LEN]);

#endif
