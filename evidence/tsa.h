/*
 * tsa: the RFC 3161 time-stamp authority's side, apart from the clock,
 * the HSM and the ledger: it builds the TSTInfo of a request (tsa_req.h)
 * and its SignedData token (signed through cms.h), and encodes
 * TimeStampResp answers, granted or rejected with the RFC's failure bits.
 * It also says whether a certificate may be a TSA's.
 */
#ifndef SD_TSA_H
#define SD_TSA_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "cms.h"
#include "tsa_req.h"

struct tsa_grant {
	const struct tsa_req *req;
	const char *policy;    /* the TSA policy OID the token states */
	const uint8_t *serial; /* big-endian, positive, 1..20 bytes */
	size_t serial_len;
	int64_t gen_us;           /* genTime, microseconds since the epoch */
	unsigned int accuracy_ms; /* 0 leaves accuracy out */
	int md_nid;               /* digest of the token's signature */
};

/*
 * The TimeStampToken for g (TSTInfo in a SignedData signed through s;
 * certificates only when the request asked for them) into out (cap
 * bytes).  Returns 0, SD_ERR_TOO_LARGE, the signer's error or
 * SD_ERR_INTERNAL.
 */
int tsa_token(const struct cms_signer *s, const struct tsa_grant *g,
    uint8_t *out, size_t cap, size_t *outlen)
    __attribute__((warn_unused_result));

/* TimeStampResp DER, malloc'd (NULL when out of memory): granted with a
 * token, or a rejection with one failure bit and a statusString. */
uint8_t *tsa_resp_granted(const uint8_t *token, size_t len, size_t *outlen);
uint8_t *tsa_resp_rejection(
    enum tsa_fail fail, const char *text, size_t *outlen);

/* 0 when x may sign time-stamps (RFC 3161 2.3: one extended key usage,
 * timeStamping, marked critical); else -1 and why, in msg. */
int tsa_cert_ok(X509 *x, char *msg, size_t msglen);

#endif
