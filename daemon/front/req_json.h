/*
 * req_json: strict decoding of the JSON request bodies of the service
 * socket (POST /v1/sign, POST /v1/timestamp) into the fixed-size requests
 * the front hands the core.  Pure: no I/O, no global state.
 */
#ifndef SD_REQ_JSON_H
#define SD_REQ_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "sign_req.h"

/*
 * Decode len bytes of a POST /v1/sign body.  Returns 0, or
 * SD_ERR_BAD_REQUEST with a message safe to show the client in errbuf.
 * On error, if a request_id could be read it is left in out->request_id
 * (else "").
 */
int req_json_sign(const char *body, size_t len, struct sign_req *out,
    char *errbuf, size_t errlen) __attribute__((warn_unused_result));

/* A POST /v1/timestamp body: the JSON face of a TimeStampReq. */
struct req_json_stamp {
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
int req_json_stamp(const char *body, size_t len, struct req_json_stamp *out,
    char *errbuf, size_t errlen) __attribute__((warn_unused_result));

#endif
