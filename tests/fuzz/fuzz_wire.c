/*
 * fuzz_wire: libFuzzer harness for the front/core message decoder, the
 * first code of the core that reads what a (perhaps compromised) front
 * sends.  Any input must fail cleanly or decode into a message that
 * holds the rules (a sign request sign_req_check accepts) and encodes
 * back to exactly the input: one message, one encoding.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fcmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t again[WIRE_MSG_MAX];

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fc_msg m;
	size_t len;

	if (fc_decode(data, size, &m) != 0)
		return 0;
	if ((m.type == FC_SIGN && sign_req_check(&m.sign) != 0) ||
	    fc_encode(&m, again, sizeof(again), &len) != 0 || len != size ||
	    memcmp(again, data, size) != 0)
		__builtin_trap();
	return 0;
}
