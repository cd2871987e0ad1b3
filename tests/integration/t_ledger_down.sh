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
ok=0
for _ in $(seq 1 20); do
	http_req GET /readyz
	if [ "$HTTP_CODE" = 503 ]; then
		ok=1
		break
	fi
	sleep 0.1
done
[ "$ok" = 1 ] || fail "/readyz still $HTTP_CODE: $(cat "$IT_BODY")"
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
