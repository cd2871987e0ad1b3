/*
 * tsa_req: the RFC 3161 TimeStampReq, apart from the authority that
 * answers it (tsa.h): decoded strictly (one DER value, version 1, a SHA-2
 * imprint of the right length, no extensions), checked again where it
 * was decoded elsewhere, hashed, and built (for clients and tests).  The
 * front decodes with it; it signs nothing.
 */
#ifndef SD_TSA_REQ_H
#define SD_TSA_REQ_H

#include <stddef.h>
#include <stdint.h>

#include "sd_limits.h"

/* PKIFailureInfo bit numbers (RFC 3161 section 2.4.2) */
enum tsa_fail {
	TSA_BAD_ALG = 0,
	TSA_BAD_REQUEST = 2,
	TSA_BAD_DATA_FORMAT = 5,
	TSA_TIME_NOT_AVAILABLE = 14,
	TSA_UNACCEPTED_POLICY = 15,
	TSA_UNACCEPTED_EXTENSION = 16,
	TSA_SYSTEM_FAILURE = 25,
};

struct tsa_req {
	int md_nid; /* NID_sha256, NID_sha384 or NID_sha512 */
	uint8_t digest[SD_DIGEST_MAX];
	size_t digest_len;
	uint8_t imprint[SD_TSA_IMPRINT_MAX]; /* the MessageImprint, as sent */
	size_t imprint_len;
	char policy[SD_OID_MAX]; /* reqPolicy (dotted), "" when absent */
	uint8_t nonce[SD_TSA_NONCE_MAX]; /* DER INTEGER; nonce_len 0: none */
	size_t nonce_len;
	int cert_req;
	/* SHA-256 of the request: tsa_req_decode takes DER only, the DER
	 * its fields make (tsa_req_hash) */
	uint8_t hash[SD_HASH_LEN];
};

/*
 * Decode len bytes of DER into out.  Returns 0, or -1 with the failure
 * bit in *fail and a message for the statusString in msg.
 */
int tsa_req_decode(const uint8_t *der, size_t len, struct tsa_req *out,
    enum tsa_fail *fail, char *msg, size_t msglen)
    __attribute__((warn_unused_result));

/*
 * The rules tsa_req_decode applies, checked on a request decoded
 * elsewhere (the core, of what the front sends): a SHA-2 algorithm and a
 * digest of its length, the imprint one DER MessageImprint of both, the
 * nonce one DER INTEGER, the policy a dotted OID or "".  0 or
 * SD_ERR_BAD_REQUEST.  The hash is not checked: see tsa_req_hash.
 */
int tsa_req_check(const struct tsa_req *t) __attribute__((warn_unused_result));

/*
 * The SHA-256 of the DER TimeStampReq t's fields make (version 1, no
 * extensions), into out: for a request tsa_req_decode took, the hash of
 * its bytes (it takes only the DER its fields make); so that a process
 * that has only the fields (the core, from the front) records the hash
 * of what it time-stamps rather than another process's word for it.  0,
 * or SD_ERR_INTERNAL for fields that make no request (check them first).
 */
int tsa_req_hash(const struct tsa_req *t, uint8_t out[SD_HASH_LEN])
    __attribute__((warn_unused_result));

/*
 * A DER TimeStampReq (version 1) for a digest of md_nid, asking for
 * policy (NULL: any), with nonce (0: none) and certReq, into *der
 * (OPENSSL_free it).  Returns 0 or SD_ERR_INTERNAL.
 */
int tsa_req_build(int md_nid, const uint8_t *digest, size_t len,
    const char *policy, uint64_t nonce, int cert_req, uint8_t **der,
    size_t *derlen) __attribute__((warn_unused_result));

#endif
