#!/bin/sh
# walls.sh FRONT-BINARY "CC CFLAGS" NAME:INCFLAGS... — `make walls` (part
# of every build of the tests): the layout's boundaries hold in the
# compiler.  For each library NAME, with the include flags its own files
# are compiled with, each header it must not see fails to compile and
# each header it must see compiles (so that a broken compiler line cannot
# pass for a wall).  And the linker: seald-front holds none of the code
# of the core, the HSM, the ledger, the policy, the configuration or the
# time-stamp and CMS encoders.  Prints a line per check and "walls: N
# passed, N failed"; exit status 1 on any failure.
set -u
front=$1
cc=$2
shift 2
tmp=$(mktemp -d /tmp/seald-walls.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
pass=0
failed=0

# NAME: "headers it sees|headers it must not see"
rules() {
	case "$1" in
	front) echo "proto.h http.h corelink.h tsa_req.h sign_req.h|core.h core_int.h hsm.h ledger.h policy.h cfg.h pstate.h keys.h signer.h libpq-fe.h p11-kit/pkcs11.h" ;;
	proto) echo "proto.h wire.h tsa_req.h|core.h front.h corelink.h hsm.h ledger.h policy.h cfg.h libpq-fe.h p11-kit/pkcs11.h" ;;
	policy) echo "policy.h cfg_yaml.h|hsm.h ledger.h proto.h core.h libpq-fe.h p11-kit/pkcs11.h" ;;
	evidence) echo "cms.h tsa.h csr.h|hsm.h ledger.h policy.h cfg.h proto.h libpq-fe.h p11-kit/pkcs11.h" ;;
	common) echo "err.h wire.h metrics.h|cfg.h hsm.h ledger.h policy.h cms.h proto.h core.h libpq-fe.h p11-kit/pkcs11.h" ;;
	hsm) echo "hsm.h p11-kit/pkcs11.h|ledger.h policy.h cfg.h libpq-fe.h" ;;
	ledger) echo "ledger.h libpq-fe.h|hsm.h policy.h cfg.h p11-kit/pkcs11.h" ;;
	*) return 1 ;;
	esac
}

# compiles FLAGS HEADER: 0 when a file that includes HEADER compiles
compiles() {
	printf '#include "%s"\nint walls_probe(void);\nint walls_probe(void) { return 0; }\n' \
		"$2" >"$tmp/probe.c"
	# shellcheck disable=SC2086 # flag lists
	$cc $1 -fsyntax-only "$tmp/probe.c" 2>"$tmp/err"
}

for arg in "$@"; do
	name=${arg%%:*}
	flags=${arg#*:}
	r=$(rules "$name") || {
		echo "walls: no rules for $name"
		failed=$((failed + 1))
		continue
	}
	bad=""
	for h in ${r%%|*}; do
		compiles "$flags" "$h" || bad="$bad, cannot include $h ($(head -n 1 "$tmp/err"))"
	done
	for h in ${r#*|}; do
		compiles "$flags" "$h" && bad="$bad, includes $h"
	done
	if [ -z "$bad" ]; then
		echo "walls: ok $name"
		pass=$((pass + 1))
	else
		echo "walls: FAIL $name${bad}"
		failed=$((failed + 1))
	fi
done
# the front's program: none of those functions linked in
bad=$(nm -g --defined-only "$front" 2>/dev/null | awk '{ print $3 }' |
	grep -E '^(core_|signer_|pstate_|keys_|hsm_|ledger_|policy_|ratelimit_|cfg_|cms_|csr_|tsa_token|tsa_resp|keeper_|admin_)' |
	head -n 5 | tr '\n' ' ')
if ! nm -g --defined-only "$front" 2>/dev/null | grep -q ' T corelink_start$'; then
	echo "walls: FAIL seald-front: cannot read its symbols ($front)"
	failed=$((failed + 1))
elif [ -n "$bad" ]; then
	echo "walls: FAIL seald-front links $bad"
	failed=$((failed + 1))
else
	echo "walls: ok seald-front links only its own code"
	pass=$((pass + 1))
fi
echo "walls: $pass passed, $failed failed"
[ "$failed" -eq 0 ]
