/*
 * fuzz_tsa_req: libFuzzer harness for the RFC 3161 request decoder, the
 * first code that reads a /v1/tsa body.  Any input must decode into a
 * request whose imprint has its algorithm's length, or fail with one of
 * the RFC's failure bits and a terminated, one-line message; and a
 * rejection built from it must be one DER TimeStampResp.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ts.h>

#include "tsa.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const unsigned char *p;
	struct tsa_req r;
	enum tsa_fail fail = (enum tsa_fail)99;
	char msg[200];
	uint8_t *der;
	size_t len;
	TS_RESP *resp;

	memset(msg, 'x', sizeof(msg));
	if (tsa_req_decode(data, size, &r, &fail, msg, sizeof(msg)) == 0) {
		if (r.digest_len !=
			(r.md_nid == NID_sha256          ? 32u
				: r.md_nid == NID_sha384 ? 48u
							 : 64u) ||
		    r.imprint_len == 0 || r.nonce_len > sizeof(r.nonce))
			__builtin_trap();
		return 0;
	}
	if (fail > TSA_SYSTEM_FAILURE ||
	    memchr(msg, '\0', sizeof(msg)) == NULL || strchr(msg, '\n'))
		__builtin_trap();
	if ((der = tsa_resp_rejection(fail, msg, &len)) == NULL)
		return 0;
	p = der;
	if ((resp = d2i_TS_RESP(NULL, &p, (long)len)) == NULL || p != der + len)
		__builtin_trap();
	TS_RESP_free(resp);
	free(der);
	return 0;
}
