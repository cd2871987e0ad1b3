#!/bin/bash
# devenv.sh run BUILD — `make run`: a local seald on a SoftHSM token and a
# private PostgreSQL cluster kept in ./state (SEALD_STATE overrides), made on
# the first run and reused after.  Applies the migrations, prints a curl
# command that signs something and the openssl command that checks it, then
# runs seald in the foreground.  Ctrl-C (or SIGTERM) stops seald, then the
# cluster.
#
# state/seald.yaml is written once; delete it to have it written again.
if [ -z "${BASH_VERSION:-}" ]; then
	exec bash "$0" "$@"
fi
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=tools/envlib.sh
. "$root/tools/envlib.sh"

if [ $# -ne 2 ] || [ "$1" != run ]; then
	echo "usage: $0 run BUILD" >&2
	exit 2
fi
build=$(_envlib_abs "$2")
state=${SEALD_STATE:-$root/state}
mkdir -p "$state"
state=$(_envlib_abs "$state")
chmod 0711 "$state"
sock=$state/seald.sock

# shellcheck disable=SC2317 # runs as the EXIT trap
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	# The terminal or a pipe reader may be gone already (Ctrl-C reaches
	# them too): a failed message must not stop the clean-up.
	trap '' PIPE HUP
	{ echo && echo "devenv: stopping seald and PostgreSQL"; } 2>/dev/null || true
	seald_stop "$state" || true
	pg_stop "$state" fast || pg_stop "$state" immediate || true
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "devenv: state in $state"
hsm_setup "$state"
pg_setup "$state"
# Written once; an older one without a policy file is written anew.
if [ ! -f "$state/seald.yaml" ] || ! grep -q '^policy:' "$state/seald.yaml" ||
	! grep -q '^ledger:' "$state/seald.yaml" || [ ! -f "$state/policy.yaml" ] ||
	! grep -q 'migrate_conninfo:' "$state/seald.yaml"; then
	write_config "$state" "$sock" 0660
fi
export SOFTHSM2_CONF=$state/softhsm2.conf
"$build/seald" migrate -c "$state/seald.yaml"

seald_start "$build" "$state" --console
pid=$(cat "$state/seald.pid")

text="hello from seald"
digest=$(printf '%s' "$text" | openssl dgst -sha256 -binary | base64 -w 0)
body='{"key":"demo-ec","digest":"'$digest'","digest_alg":"sha256","request_id":"demo-1","format":"raw","evidence":{"type":"submission","ref":"demo"}}'
cat <<EOF

seald is running (pid $pid) on $sock
config $state/seald.yaml, policy $state/policy.yaml (edit it, then
\`kill -HUP $pid\` to reload), log on this terminal; Ctrl-C stops seald and PostgreSQL.

Sign the SHA-256 digest of the text "$text" with key demo-ec:

  curl -s --unix-socket $sock -H 'Content-Type: application/json' -d '$body' http://localhost/v1/sign | tee /tmp/seald-demo.json

Check the signature with openssl (a retry with request_id demo-1 returns the
same recorded signature; change the request_id to sign another digest):

  jq -r .signature /tmp/seald-demo.json | base64 -d > /tmp/seald-demo.sig
  printf '%s' '$text' | openssl dgst -sha256 -verify $state/certs/seald-demo-ec.pub.pem -signature /tmp/seald-demo.sig

The ledger:

  psql "$(pg_conninfo "$state")" -c 'table ledger_entries'

EOF

rc=0
wait "$pid" || rc=$?
echo "devenv: seald exited with status $rc"
exit "$rc"
