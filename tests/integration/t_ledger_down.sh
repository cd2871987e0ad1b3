# shellcheck shell=bash
# t_ledger_down.sh — no commit, no signature: while PostgreSQL is down
# every sign request fails with 503 ledger_unavailable and no signature,
# /readyz says so, and seald serves again by itself once the database is
# back (no restart); a frozen one (its processes stopped) answers nothing,
# and seald still answers within its deadline.

need_seald || return 0
d=$(digest_b64 sha256 "ledger down")

# first_signature PREFIX TRIES: sign, 0.1 s apart, until one is answered
# 200; the ms it took in $ms.  1 when none was.
first_signature() {
	local start i
	start=$(date +%s%N)
	for i in $(seq 1 "$2"); do
		sign_json demo-ec "$d" sha256 "$1-$i-$RANDOM"
		ms=$(( ($(date +%s%N) - start) / 1000000 ))
		[ "$HTTP_CODE" = 200 ] && return 0
		sleep 0.1
	done
	return 1
}

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
if first_signature t-back 50; then
	note "first signature ${ms} ms after PostgreSQL was up"
else
	fail "still $HTTP_CODE after 5 s: $(cat "$IT_BODY")"
fi
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

tid "a frozen database (its processes stopped): 503 within the deadline, not ready, serving again once it thaws"
# a paused machine or a server hung on its disk: its connections stay
# open and nothing answers, not even a cancel; seald bounds every read
# and commit itself (database.commit_timeout_ms, 5 s here)
pm=$(head -n 1 "$IT_DIR/pg/postmaster.pid")
# freeze/thaw SIG: the postmaster and every server process of the cluster
pg_signal() {
	kill "-$1" "$pm" $(pgrep -P "$pm") 2>/dev/null
}
it_at_exit "kill -CONT $pm \$(pgrep -P $pm) 2>/dev/null"
pid_before=$(cat "$IT_DIR/seald.pid" 2>/dev/null)
# a request recorded, and retried once: the retry's lookup connection is up
known=t-frozen-known-$RANDOM
for i in 1 2; do
	sign_json demo-ec "$d" sha256 "$known"
	expect_code 200 "$known before the freeze ($i)"
done
pg_signal STOP || fail "cannot stop the server processes"
# a retry: its lookup, a read on a frozen server
start=$(date +%s%N)
sign_json demo-ec "$d" sha256 "$known"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
note "a retry on a frozen database answered $HTTP_CODE after ${ms} ms"
expect_code 503 "a retry on a frozen database"
[ "$ms" -lt 8000 ] || fail "the retry answered after ${ms} ms: the read is not bounded"
grep -q "ledger lookup: no answer within 5000 ms" "$IT_DIR/seald.log" || fail "the log does not say why the lookup failed"
# a new request: its commit, on a frozen server
start=$(date +%s%N)
sign_json demo-ec "$d" sha256 "t-frozen-$RANDOM"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
note "sign on a frozen database answered $HTTP_CODE after ${ms} ms"
expect_code 503 "sign on a frozen database"
[ "$(json_str code)" = ledger_unavailable ] || fail "code: $(cat "$IT_BODY")"
# the writer may be in a read of its own on the frozen server when the
# request comes (its idle check): that one's deadline, then its own
[ "$ms" -lt 12000 ] || fail "answered after ${ms} ms: the commit is not bounded"
start=$(date +%s%N)
await_ready 503 12 || fail "/readyz still $HTTP_CODE 12 s into the freeze: $(cat "$IT_BODY")"
note "/readyz 503 $(( ($(date +%s%N) - start) / 1000000 )) ms later"
[ "$(jq -r .ledger "$IT_BODY")" = false ] || fail "readyz body: $(cat "$IT_BODY")"
pg_signal CONT
if first_signature t-thawed 100; then
	note "first signature ${ms} ms after the thaw"
else
	fail "still $HTTP_CODE 10 s after the thaw: $(cat "$IT_BODY")"
fi
await_ready 200 10 || fail "not ready 10 s after the thaw: $(cat "$IT_BODY")"
[ "$(cat "$IT_DIR/seald.pid" 2>/dev/null)" = "$pid_before" ] || fail "seald was restarted"
grep -q -E "ledger: (no commit after|no answer within) 5000 ms" "$IT_DIR/seald.log" ||
	fail "the log does not say why the commit failed"

tid "frozen under load, past a commit's deadline and its cancel's: nothing answered 200 is missing, seald serves again"
# sixteen clients for 22 s (so that a commit is in flight, under valgrind
# too); 3 s in, the cluster is frozen for 12 s: a commit
# then waits its 5 s, its cancel 5 s more (the cancel itself hangs on the
# frozen server, on a thread of its own), and the connection is dropped
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
python3 "$here/sealclient.py" timed 22 16 "t-frz-$RANDOM" "$IT_SOCK" >"$IT_DIR/frozen-load.out" &
lpid=$!
sleep 3
frozen=$(date +%s.%N)
pg_signal STOP
sleep 12
pg_signal CONT
thawed=$(date +%s.%N)
wait "$lpid"
n_ok=$(grep -c '^ok' "$IT_DIR/frozen-load.out")
n_err=$(grep -c '^error' "$IT_DIR/frozen-load.out")
# answered 200 while frozen: none may be (no commit can be made)
during=$(awk -v a="$frozen" -v b="$thawed" '$1 == "ok" && $4 > a + 0.5 && $4 < b { n++ } END { print n + 0 }' \
    "$IT_DIR/frozen-load.out")
after=$(awk -v b="$thawed" '$1 == "ok" && $4 > b { n++ } END { print n + 0 }' "$IT_DIR/frozen-load.out")
note "$n_ok answered 200 ($after after the thaw), $n_err refused; $during answered 200 while frozen"
[ "$during" = 0 ] || fail "$during signatures answered 200 while the database was frozen"
[ "$after" -gt 0 ] || fail "nothing signed after the thaw: $(tail -n 3 "$IT_DIR/frozen-load.out")"
awk '$1 == "error" && $3 != 503 { print }' "$IT_DIR/frozen-load.out" >"$IT_DIR/frozen-other.out"
[ ! -s "$IT_DIR/frozen-other.out" ] || fail "refused other than 503: $(head -n 3 "$IT_DIR/frozen-other.out")"
awk '$1 == "ok" { print $2 }' "$IT_DIR/frozen-load.out" | sort >"$IT_DIR/frozen-ok.ids"
psql_q "select request_id from ledger_entries where request_id like 't-frz-%'" | sort >"$IT_DIR/frozen-db.ids"
missing=$(comm -23 "$IT_DIR/frozen-ok.ids" "$IT_DIR/frozen-db.ids" | wc -l)
[ "$missing" = 0 ] || fail "$missing signatures answered 200 are not in the ledger"
grep -q "no commit after 5000 ms: cancelling it" "$IT_DIR/seald.log" ||
	fail "no commit was in flight at the freeze: the case proves nothing"
await_ready 200 10 || fail "not ready 10 s after the thaw: $(cat "$IT_BODY")"
[ "$(cat "$IT_DIR/seald.pid" 2>/dev/null)" = "$pid_before" ] || fail "seald was restarted"

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
