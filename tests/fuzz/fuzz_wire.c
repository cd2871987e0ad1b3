/*
 * fuzz_wire: libFuzzer harness for the front/core message decoder, the
 * first code of the core that reads what a (perhaps compromised) front
 * sends.  Any input must fail cleanly or decode into a message that
 * holds the rules and encodes back to exactly the input: one message, one
 * encoding.  A decoded sign request, written as the JSON body a client
 * would send, must decode to the very same request: the core accepts
 * nothing the front's JSON decoder would refuse.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "b64.h"
#include "proto.h"
#include "req_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t again[WIRE_MSG_MAX];

/* The request as a client's JSON body, decoded again: must be r. */
static void
same_as_json(const struct sign_req *r)
{
	struct sign_req back;
	char b64[128], msg[200], *body;
	json_t *o;

	if (b64_encode(r->digest, r->digest_len, b64, sizeof(b64)) != 0)
		__builtin_trap();
	o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "key", r->key, "digest", b64,
	    "digest_alg", sign_digest_name(r->digest_alg), "format", r->format,
	    "request_id", r->request_id);
	if (o == NULL)
		__builtin_trap();
	if (r->evidence_type[0] != '\0' &&
	    json_object_set_new(o, "evidence",
		r->evidence_ref[0] != '\0'
		    ? json_pack("{s:s, s:s}", "type", r->evidence_type, "ref",
			  r->evidence_ref)
		    : json_pack("{s:s}", "type", r->evidence_type)) != 0)
		__builtin_trap();
	if ((body = json_dumps(o, JSON_COMPACT)) == NULL)
		__builtin_trap();
	if (req_json_sign(body, strlen(body), &back, msg, sizeof(msg)) != 0 ||
	    memcmp(&back, r, sizeof(back)) != 0)
		__builtin_trap();
	free(body);
	json_decref(o);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_msg m;
	size_t len;
	int sign;

	/* as the core receives it (with a socket, or not), or as the front
	 * does; what decodes must encode back to the same bytes */
	if (proto_decode(data, size, PROTO_TO_CORE, 0, &m) != 0 &&
	    proto_decode(data, size, PROTO_TO_CORE, 1, &m) != 0 &&
	    proto_decode(data, size, PROTO_TO_FRONT, 0, &m) != 0)
		return 0;
	sign = m.type == PROTO_REQ && m.rq.route == PROTO_SIGN &&
	    m.rq.refused == 0;

	if ((sign && sign_req_check(&m.rq.u.sign) != 0) ||
	    proto_encode(&m, again, sizeof(again), &len) != 0 || len != size ||
	    memcmp(again, data, size) != 0)
		__builtin_trap();
	if (sign)
		same_as_json(&m.rq.u.sign);
	return 0;
}
