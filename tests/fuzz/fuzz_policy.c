/*
 * fuzz_policy: libFuzzer harness for the policy loader, the parser that
 * reads operator-written YAML with the most structure (mappings of names,
 * rules, times, rates).  Any input must either load or fail with one
 * terminated error line; a loaded policy is then described and asked a
 * decision, so that whatever the loader accepts is also safe to use.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
sink(const char *line, void *arg)
{
	size_t *n = arg;

	*n += strlen(line);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy_request rq = { .op = POLICY_OP_SIGN,
		.key = "demo-ec",
		.format = POLICY_FMT_RAW,
		.digest = POLICY_DG_SHA256,
		.evidence_type = "submission",
		.evidence_ref = "r",
		.now = 1780000000 };
	struct policy_decision d;
	struct policy *p;
	char err[256];
	size_t i, n = 0;

	p = policy_load_buffer("fuzz", data, size, err, sizeof(err));
	if (memchr(err, '\0', sizeof(err)) == NULL)
		__builtin_trap();
	if (p == NULL)
		return 0;
	if (err[0] != '\0')
		__builtin_trap();
	policy_describe(p, sink, &n);
	for (i = 0; i < policy_nclients(p); i++) {
		if (policy_nkeys(p) > 0)
			rq.key = policy_key_at(p, i % policy_nkeys(p))->name;
		policy_decide(p, policy_client_at(p, i), &rq, &d);
		if (d.reason == NULL)
			__builtin_trap();
	}
	policy_free(p);
	return 0;
}
