#!/bin/bash
# bench.sh BUILD — `make bench`: a throwaway SoftHSM token and PostgreSQL
# cluster (as `make check` makes them), seald on them with production
# checkpoint settings, then BUILD/seald-bench: the raw PKCS#11 rate of the
# key and seald's rate over the Unix socket in the same run, the latency,
# ledger rows against replies, seald's RSS and the scaling curve.  Prints
# the table and writes bench.json.  Everything is stopped and removed at
# the end, also on failure.
#
# BENCH_CLIENTS (32), BENCH_SECONDS (20), BENCH_KEY (demo-ec; demo-rsa is
# RSA-3072), BENCH_FORMAT (raw, cms or cades-t; tsa: RFC 3161 time-stamps
# on /v1/tsa with the key demo-tsa), BENCH_DIGEST (sha256),
# BENCH_CURVE (1,4,16,64,256; empty for none), BENCH_CURVE_SECONDS (5),
# BENCH_JSON (bench.json), BENCH_SESSIONS (HSM sessions: seald's and the
# raw run's; 4).
#
# BENCH_HSM_LATENCY_MS=N stands for a network HSM: both seald and the raw
# run sign through tests/fault/p11fault.c, which holds each C_Sign N ms
# asleep before SoftHSM's (a round trip, no CPU); BENCH_SESSIONS then
# defaults to 64 and BENCH_CLIENTS to twice the sessions, so that every
# session has a request waiting.
if [ -z "${BASH_VERSION:-}" ]; then
	exec bash "$0" "$@"
fi
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=tools/envlib.sh
. "$root/tools/envlib.sh"

if [ $# -ne 1 ]; then
	echo "usage: $0 BUILD" >&2
	exit 2
fi
build=$(_envlib_abs "$1")
format=${BENCH_FORMAT:-raw}
case "$format" in
raw | cms | cades-t) key=${BENCH_KEY:-demo-ec} ;;
tsa) key=${BENCH_KEY:-demo-tsa} ;; # time-stamps: /v1/tsa, the TSA key
*)
	echo "bench: BENCH_FORMAT must be raw, cms, cades-t or tsa" >&2
	exit 2
	;;
esac
case "$format:$key" in
raw:demo-ec | raw:demo-rsa | cms:demo-ec | cms:demo-rsa | cades-t:demo-ec | \
	cades-t:demo-rsa | tsa:demo-tsa) ;;
*)
	echo "bench: BENCH_KEY must be demo-ec or demo-rsa (demo-tsa with BENCH_FORMAT=tsa)" >&2
	exit 2
	;;
esac
dir=$(mktemp -d /tmp/seald-bench.XXXXXX)
chmod 0711 "$dir"

# shellcheck disable=SC2317 # runs as the EXIT trap
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	seald_stop "$dir" >/dev/null 2>&1 || true
	pg_stop "$dir" fast >/dev/null 2>&1 || pg_stop "$dir" immediate >/dev/null 2>&1 || true
	rm -rf "$dir"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "bench: setting up a token and a cluster in $dir"
hsm_setup "$dir" >/dev/null
pg_setup "$dir" >/dev/null
latency=${BENCH_HSM_LATENCY_MS:-}
sessions=${BENCH_SESSIONS:-4}
clients=${BENCH_CLIENTS:-32}
module=$SEALD_P11_MODULE
if [ -n "$latency" ]; then
	sessions=${BENCH_SESSIONS:-64}
	clients=${BENCH_CLIENTS:-$((2 * sessions))}
	module=$build/tests/libp11fault.so
	export SEALD_FAULT_MODULE=$SEALD_P11_MODULE SEALD_FAULT_SIGN_DELAY_MS=$latency
	echo "bench: a network HSM: each C_Sign $latency ms, $sessions sessions"
fi
write_config "$dir" "$dir/seald.sock" 0660
# what a production instance runs with: default checkpoints, quiet log;
# the load tool's clients are one uid, up to 256 of them (the curve)
sed -i -e 's/^  checkpoint_every: .*/  checkpoint_every: 1000/' \
	-e 's/^  checkpoint_seconds: .*/  checkpoint_seconds: 60/' \
	-e 's/^  timeout_seconds: .*/&\n  max_connections_per_uid: 1024/' \
	-e 's/^  level: info/  level: warn/' -e "s/^  sessions: .*/  sessions: $sessions/" "$dir/seald.yaml"
if [ -n "$latency" ]; then
	sed -i "s|^  module: .*|  module: $module\n  module_dirs: [$build/tests]|" "$dir/seald.yaml"
fi
export SOFTHSM2_CONF=$dir/softhsm2.conf
"$build/seald" migrate -c "$dir/seald.yaml" >>"$dir/seald.log" 2>&1
seald_start "$build" "$dir"

# the raw run: one session per core, or, through a network HSM, as many
# as seald has (each spends its time waiting)
raw=()
if [ -n "$latency" ]; then
	raw=(--raw-threads "$sessions" --hsm-latency-ms "$latency")
fi
curve=${BENCH_CURVE-1,4,16,64,256}
extra=()
if [ -n "$curve" ]; then
	extra=(--curve "$curve" --curve-seconds "${BENCH_CURVE_SECONDS:-5}")
fi
"$build/seald-bench" -s "$dir/seald.sock" -n "$clients" "${raw[@]}" \
	-t "${BENCH_SECONDS:-20}" -k "$key" -f "$format" \
	-a "${BENCH_DIGEST:-sha256}" --module "$module" \
	--token "$SEALD_TOKEN_LABEL" --pin-file "$dir/pin" --label "seald-$key" \
	--db "$(pg_conninfo "$dir")" --instance demo-1 --pid "$(cat "$dir/seald.pid")" \
	--pg-pid "$(_pg_as head -n 1 "$dir/pg/postmaster.pid")" \
	--json "${BENCH_JSON:-$root/bench.json}" "${extra[@]}"
