/*
 * fuzz_sign_req: libFuzzer harness for the JSON request decoders, the
 * first code that reads a /v1/sign or /v1/timestamp body.  Any input must
 * decode into a request whose fields hold their rules (a digest of its
 * algorithm's length, a terminated key and request id, raw or cms; and
 * sign_req_check, which the core applies to what the front sends), or
 * fail with a terminated one-line message; a decoded request hashes.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "req_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const size_t lens[] = { 0, 32, 48, 64 };

static void
message_ok(const char *msg, size_t cap)
{
	const char *end = memchr(msg, '\0', cap);

	if (end == NULL || memchr(msg, '\n', (size_t)(end - msg)) != NULL)
		__builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sign_req r;
	struct req_json_stamp t;
	uint8_t h[SD_HASH_LEN];
	char msg[200];

	memset(msg, 'x', sizeof(msg));
	if (req_json_sign((const char *)data, size, &r, msg, sizeof(msg)) ==
	    0) {
		if ((unsigned int)r.digest_alg >= 4 || r.digest_alg == 0 ||
		    r.digest_len != lens[r.digest_alg] ||
		    memchr(r.key, '\0', sizeof(r.key)) == NULL ||
		    memchr(r.request_id, '\0', sizeof(r.request_id)) == NULL ||
		    (strcmp(r.format, "raw") != 0 &&
			strcmp(r.format, "cms") != 0) ||
		    sign_req_check(&r) != 0) /* the core's rules: the same */
			__builtin_trap();
		sign_req_hash(&r, h);
	} else
		message_ok(msg, sizeof(msg));
	memset(msg, 'x', sizeof(msg));
	if (req_json_stamp((const char *)data, size, &t, msg, sizeof(msg)) ==
	    0) {
		if ((unsigned int)t.digest_alg >= 4 || t.digest_alg == 0 ||
		    t.digest_len != lens[t.digest_alg])
			__builtin_trap();
	} else
		message_ok(msg, sizeof(msg));
	return 0;
}
