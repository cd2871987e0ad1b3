# shellcheck shell=bash
# t_ledger_down.sh — no commit, no signature: while PostgreSQL is down
# every sign request fails with 503 ledger_unavailable and no signature,
# /readyz says so, and seald serves again by itself once the database is
# back (no restart).

need_seald || return 0
d=$(digest_b64 sha256 "ledger down")

tid "with the database stopped, sign answers 503 ledger_unavailable"
pg_stop "$IT_DIR" fast || fail "could not stop PostgreSQL"
for i in 1 2 3; do
	sign_json demo-ec "$d" sha256 "t-down-$i"
	expect_code 503 "sign $i while down" || continue
	[ "$(json_str code)" = ledger_unavailable ] || fail "code: $(cat "$IT_BODY")"
	jq -e 'has("signature") | not' "$IT_BODY" >/dev/null ||
		fail "a signature left seald while the ledger was down"
done

tid "/readyz reports the ledger down within 2 seconds; /healthz stays up"
await_ready 503 2 || fail "/readyz still $HTTP_CODE: $(cat "$IT_BODY")"
[ "$(jq -r .ledger "$IT_BODY")" = false ] || fail "readyz body: $(cat "$IT_BODY")"
[ "$(jq -r .hsm "$IT_BODY")" = true ] || fail "readyz blames the HSM"
http_req GET /healthz
expect_code 200 "healthz"

tid "after the database restarts, seald signs again within 5 s, without a restart"
pid_before=$(cat "$IT_DIR/seald.pid" 2>/dev/null)
pg_start "$IT_DIR" || fail "could not start PostgreSQL"
start=$(date +%s%N)
ok=0
for i in $(seq 1 50); do
	sign_json demo-ec "$d" sha256 "t-back-$i"
	if [ "$HTTP_CODE" = 200 ]; then
		ok=1
		break
	fi
	sleep 0.1
done
ms=$(( ($(date +%s%N) - start) / 1000000 ))
note "first signature ${ms} ms after PostgreSQL was up"
[ "$ok" = 1 ] || fail "still $HTTP_CODE after 5 s: $(cat "$IT_BODY")"
[ "$(cat "$IT_DIR/seald.pid" 2>/dev/null)" = "$pid_before" ] || fail "seald was restarted"
need_seald

tid "the very first request after recovery succeeds (stale connections are retried)"
pg_stop "$IT_DIR" fast
pg_start "$IT_DIR"
sleep 1.5 # the idle writer notices and reconnects
for i in 1 2 3 4 5 6; do
	sign_json demo-ec "$d" sha256 "t-fresh-$i-$RANDOM"
	expect_code 200 "request $i after restart"
done

tid "a database that takes no writes: not ready from the first failed commit, ready again by itself"
# as a failover's standby, or default_transaction_read_only: connected,
# answering, committing nothing
ro() {
	psql_super "ALTER SYSTEM $1" >/dev/null && psql_super "SELECT pg_reload_conf()" >/dev/null
}
it_at_exit "ro 'RESET default_transaction_read_only'"
ro "SET default_transaction_read_only = on" || fail "cannot make the database read-only"
sleep 0.2
sign_json demo-ec "$d" sha256 "t-ro-$RANDOM"
expect_code 503 "sign on a read-only database"
[ "$(json_str code)" = ledger_unavailable ] || fail "code: $(cat "$IT_BODY")"
http_req GET /readyz
expect_code 503 "readyz right after the failed commit"
[ "$(jq -r .ledger "$IT_BODY")" = false ] || fail "readyz body: $(cat "$IT_BODY")"
sleep 1.5
http_req GET /readyz
expect_code 503 "readyz 1.5 s on (the database answers its heartbeat)"
ro "RESET default_transaction_read_only"
await_ready 200 3 || fail "not ready 3 s after the database takes writes: $(cat "$IT_BODY")"
sign_json demo-ec "$d" sha256 "t-rw-$RANDOM"
expect_code 200 "sign once the database takes writes"
grep -q "a commit failed, or the database takes no writes: not ready" "$IT_DIR/seald.log" ||
	fail "the log does not say why"

tid "requests refused while down never reached the ledger; the chain still links"
n=$(psql_q "select count(*) from ledger_entries where request_id like 't-down-%'")
[ "$n" = 0 ] || fail "$n rows for refused requests"
bad=$(psql_q "select count(*) from ledger_entries e join ledger_entries p
    on p.instance = e.instance and p.seq = e.seq - 1 where e.prev_hash <> p.entry_hash")
[ "$bad" = 0 ] || fail "$bad broken links"
http_req GET /readyz
expect_code 200 "readyz after recovery"

tid "after the database restart the whole chain verifies with sealctl"
"$IT_BUILD/sealctl" ledger verify --db "$IT_CONNINFO" --audit-key "$IT_DIR/certs/seald-audit.pub.pem" \
    >"$IT_DIR/down-verify.out" 2>&1 || fail "$(cat "$IT_DIR/down-verify.out")"
grep -q '^instance demo-1: OK' "$IT_DIR/down-verify.out" || fail "$(cat "$IT_DIR/down-verify.out")"
