# shellcheck shell=bash
# t_shutdown.sh — SIGTERM while clients keep signing over keep-alive
# connections: seald stops cleanly (exit 0, no sanitizer report), every
# signature a client received is in the ledger, and requests that arrive
# while it drains get 503 "unavailable", never a crash.

F=$IT_DIR/shutdown
it_instance "$F" stop-1

tid "SIGTERM under keep-alive load: clean exit, every received signature recorded"
if ! seald_start "$IT_BUILD" "$F"; then
	fail "seald did not start: $(tail -n 5 "$F/seald.log")"
	return 0
fi
d=$(digest_b64 sha256 "shutdown")
for c in 1 2 3 4 5 6; do
	args=()
	for i in $(seq 1 200); do
		args+=(--next -s --max-time 10 --unix-socket "$F/seald.sock"
		    -H 'Content-Type: application/json' -w '\n'
		    -d "{\"key\":\"demo-ec\",\"digest\":\"$d\",\"digest_alg\":\"sha256\",\"request_id\":\"t-stop-$c-$i\"}"
		    http://localhost/v1/sign)
	done
	curl "${args[@]:1}" >"$F/client.$c" 2>/dev/null &
done
sleep 1
pid=$(cat "$F/seald.pid")
kill -TERM "$pid"
st=0
wait "$pid" || st=$?
wait
[ "$st" = 0 ] || fail "seald exited with $st"
grep -q 'Sanitizer' "$F/seald.log" && fail "sanitizer report: $(grep -m 3 Sanitizer "$F/seald.log")"
got=$(cat "$F"/client.* | jq -r 'select(.signature) | .request_id' 2>/dev/null | sort)
n=$(printf '%s\n' "$got" | grep -c . || true)
note "$n signatures received before the stop"
[ "$n" -gt 0 ] || fail "no signature before the stop"
missing=0
for rid in $got; do
	[ "$(psql_q "select count(*) from ledger_entries where instance = 'stop-1' and request_id = '$rid'")" = 1 ] ||
		missing=$((missing + 1))
done
[ "$missing" = 0 ] || fail "$missing received signatures are not in the ledger"
others=$(cat "$F"/client.* | jq -r 'select(.error) | .error.code' 2>/dev/null | sort | uniq -c | tr '\n' ' ')
note "errors seen: ${others:-none}"
cat "$F"/client.* | jq -r 'select(.error) | .error.code' 2>/dev/null |
    grep -qv '^unavailable$' && fail "errors other than unavailable: $others"
rm -f "$F/seald.pid"
