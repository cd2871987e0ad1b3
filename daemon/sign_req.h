/*
 * sign_req: decoding of a POST /v1/sign body (JSON) into a checked,
 * fixed-size request, and the hash that identifies a request's content
 * for idempotent retries; and of a POST /v1/timestamp body.  Pure: no I/O, no global state.
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
	char format[16]; /* "raw" or "cms" */
	char request_id[SD_REQUEST_ID_MAX + 1];
	char evidence_type[SD_EVIDENCE_TYPE_MAX + 1]; /* "" when absent */
	char evidence_ref[SD_EVIDENCE_REF_MAX + 1];
};

/*
 * Decode len bytes of body.  Returns 0, or SD_ERR_BAD_REQUEST with a
 * message safe to show the client in errbuf.  On error, if a request_id
 * could be read it is left in out->request_id (else "").
 */
int sign_req_decode(const char *body, size_t len, struct sign_req *out,
    char *errbuf, size_t errlen) __attribute__((warn_unused_result));

/*
 * The rules sign_req_decode applies, checked on a request decoded
 * elsewhere (the core, of what the front sends): 0 or SD_ERR_BAD_REQUEST.
 */
int sign_req_check(const struct sign_req *r)
    __attribute__((warn_unused_result));

/* A POST /v1/timestamp body: the JSON face of a TimeStampReq. */
struct stamp_req {
	enum sign_digest digest_alg;
	uint8_t digest[SD_DIGEST_MAX];
	size_t digest_len;
	char policy[SD_OID_MAX]; /* "" when absent; digits and dots */
	uint64_t nonce;          /* 0 when absent */
	int cert_req;            /* default 1 */
};

/*
 * Decode len bytes of body ({"digest","digest_alg","policy"?,"nonce"?,
 * "cert_req"?}).  Returns 0, or SD_ERR_BAD_REQUEST with a message safe to
 * show the client in errbuf.
 */
int sign_req_stamp_decode(const char *body, size_t len, struct stamp_req *out,
    char *errbuf, size_t errlen) __attribute__((warn_unused_result));

/* OpenSSL's NID of a digest algorithm (NID_undef for none), and back
 * (0 for a NID that is none of them). */
int sign_digest_nid(enum sign_digest d);
enum sign_digest sign_digest_of_nid(int nid);

/* Name of a digest algorithm ("sha256"...). */
const char *sign_digest_name(enum sign_digest d);

/* SHA-256 over the request's content (everything but request_id). */
void sign_req_hash(const struct sign_req *r, uint8_t out[SD_HASH_LEN]);

#endif
