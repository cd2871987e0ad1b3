# shellcheck shell=bash
# t_indoubt.sh — commits in doubt (issue 9): a second seald instance
# reaches the database through pgcut.py, a proxy that cuts the writer's
# connection at one chosen message.  A signature whose INSERT committed
# but whose answer was lost is settled as committed (200, one row, at the
# seq the reply names; a retry replays it); one whose INSERT never reached
# the database is written once more after the reconnect (or refused with
# 503, never half-done); a lost answer in the one-entry-at-a-time rewrite
# after a duplicate request (committed by another instance meanwhile)
# does not wedge the writer; when the server
# keeps the old session (a partition) seald ends that session, its own,
# and signs again, while a second instance of the name is still refused;
# a key generation whose
# COMMIT answer was lost keeps its key and its one ledger entry, and the
# chain goes on.  Each cut is checked to have happened (the proxy's
# count and log, seald's log); the chain verifies at the end.

need_seald || return 0
W=$IT_DIR/t_indoubt
P=$W/pg # the proxy's socket folder (libpq host=)
S2=$W/b
INST=indoubt-2
mkdir -p "$P"
chmod 0755 "$W" "$P"

# the cluster's socket, and so its port (pg_conninfo names no port)
UP=$(find "$IT_DIR/pgsock" -maxdepth 1 -name '.s.PGSQL.*' ! -name '*.lock' | head -n 1)
PORT=${UP##*.}
if [ -z "$UP" ] || [ -n "${PORT//[0-9]/}" ]; then
	tid "setup"
	fail "no PostgreSQL socket in $IT_DIR/pgsock"
	return 0
fi
python3 "$(dirname "${BASH_SOURCE[0]}")/pgcut.py" "$P" "$PORT" "$UP" "$W/pgcut.log" \
    </dev/null >"$W/pgcut.err" 2>&1 &
PROXY=$!
it_at_exit "kill $PROXY 2>/dev/null; wait $PROXY 2>/dev/null"
for _ in $(seq 1 50); do
	[ -S "$P/.s.PGSQL.$PORT" ] && break
	sleep 0.1
done
# (no background verifier: its own connection through the proxy would
# take cuts meant for the writer's)
it_instance "$S2" "$INST" \
    -e "s|^  conninfo: .*|  conninfo: \"host=$P port=$PORT dbname=seald user=seald_daemon\"|" \
    -e "s|^ledger:\$|ledger:\n  verify_rate: 0|"

# recorded REQID: "seq signature" of this instance's entry for REQID
recorded() {
	psql_q "select seq || ' ' || encode(signature, 'base64') from ledger_entries where instance = '$INST' and request_id = '$1'" | tr -d '\n'
}
within() { # within MS CMD...: CMD every 0.05 s until it is true, for at most MS ms
	local t0 ms=$1
	t0=$(date +%s%N)
	shift
	until "$@"; do
		[ "$(ms_since "$t0")" -lt "$ms" ] || return 1
		sleep 0.05
	done
}
# rows REQID: ledger rows of this instance for REQID
rows() { psql_q "select count(*) from ledger_entries where instance = '$INST' and request_id = '$1'"; }
fired() { cat "$P/fired" 2>/dev/null || echo 0; }
# arm MODE TYPE REGEX: the proxy cuts the next matching message
arm() { printf '%s %s %s\n' "$1" "$2" "$3" >"$P/arm.tmp" && mv "$P/arm.tmp" "$P/arm"; }
# logged_since LINE PATTERN: how many lines of the instance's log after
# line LINE match PATTERN
logged_since() { tail -n "+$(($1 + 1))" "$S2/seald.log" | grep -c -- "$2"; }
loglines() { wc -l <"$S2/seald.log"; }
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }
# sign2 REQID: sign with demo-ec on the instance behind the proxy; the
# answer as for http_req, and the request's time in SIGN_MS (curl's count)
sign_body() {
	printf '{"key":"demo-ec","digest":"%s","digest_alg":"sha256","request_id":"%s"}' \
	    "$(digest_b64 sha256 "in doubt $1")" "$1"
}
sign2() {
	local out
	out=$(sign_body "$1" |
	    curl -s --max-time 15 --unix-socket "$S2/seald.sock" -H 'Content-Type: application/json' \
	    --data-binary @- -o "$IT_BODY" -w '%{http_code} %{time_total}' http://localhost/v1/sign)
	HTTP_CODE=${out% *}
	SIGN_MS=$(awk -v t="${out#* }" 'BEGIN { printf "%d", t * 1000 }')
}

# sign_bg REQID FILE: sign2 in the background; FILE gets the status on
# its first line, then the body
sign_bg() {
	sign_body "$1" |
	    curl -s --max-time 30 --unix-socket "$S2/seald.sock" -H 'Content-Type: application/json' \
	    --data-binary @- -o "$2.body" -w '%{http_code}\n' http://localhost/v1/sign >"$2" &&
	    cat "$2.body" >>"$2" &
}
# sign_ok REQID: sign2, true on 200
sign_ok() { sign2 "$1"; [ "$HTTP_CODE" = 200 ]; }

tid "an instance behind the proxy starts and signs"
if ! seald_start "$IT_BUILD" "$S2"; then
	fail "the instance did not start: $(tail -n 3 "$S2/seald.log")"
	return 0
fi
grep -q ': open$' "$W/pgcut.log" || fail "the instance did not connect through the proxy"
sign2 "t-indoubt-warm-$RANDOM"
expect_code 200 "a signature through the proxy"
[ "$(jq -r .ledger.instance "$IT_BODY")" = "$INST" ] || fail "reply: $(head -c 300 "$IT_BODY")"
sign2 "t-indoubt-warm2-$RANDOM"
expect_code 200 "a second one"
ms_plain=0
for i in 1 2 3 4 5; do
	sign2 "t-indoubt-plain-$i-$RANDOM"
	ms_plain=$((ms_plain + SIGN_MS))
done
note "an uncut signature through the proxy: $((ms_plain / 5)) ms on average"

tid "INSERT committed, its answer lost: 200, settled as committed, one row at the replied seq"
rid=t-indoubt-after-$RANDOM$RANDOM
n0=$(fired)
l0=$(loglines)
head0=$(psql_q "select coalesce(max(seq), 0) from ledger_entries where instance = '$INST'")
arm after B 'INSERT INTO ledger_entries'
sign2 "$rid"
ms=$SIGN_MS
[ "$(fired)" = $((n0 + 1)) ] || fail "the proxy did not cut (fired $(fired)): $(tail -n 3 "$W/pgcut.log")"
[ -e "$P/arm" ] && fail "the arming is still there"
grep -q "cut $((n0 + 1)) after B /INSERT INTO ledger_entries/.*answer dropped" "$W/pgcut.log" ||
	fail "the proxy log does not show a cut after the INSERT's answer: $(tail -n 3 "$W/pgcut.log")"
[ "$(logged_since "$l0" 'ledger connection lost during commit')" = 1 ] ||
	fail "seald did not see the connection lost during the commit"
[ "$(logged_since "$l0" 'ledger connected; chain head at seq')" -ge 1 ] || fail "seald did not reconnect"
[ "$(logged_since "$l0" '1 of 1 in-doubt entries were committed')" = 1 ] ||
	fail "no 'in-doubt entries were committed' line: $(tail -n +"$((l0 + 1))" "$S2/seald.log" | head -n 5)"
if expect_code 200 "the in-doubt signature"; then
	sig=$(jq -r .signature "$IT_BODY")
	seq=$(jq -r .ledger.seq "$IT_BODY")
	[ "$seq" = $((head0 + 1)) ] || fail "seq $seq, the head was $head0"
	[ "$(jq -r .replayed "$IT_BODY")" = false ] || fail "the first answer says replayed"
	[ "$(rows "$rid")" = 1 ] || fail "$(rows "$rid") rows for $rid"
	[ "$(psql_q "select seq from ledger_entries where instance = '$INST' and request_id = '$rid'")" = "$seq" ] ||
		fail "the row is not at seq $seq"
	[ "$(psql_q "select encode(signature, 'base64') from ledger_entries where instance = '$INST' and request_id = '$rid'" | tr -d '\n')" = "$sig" ] ||
		fail "the client's signature is not the recorded one"
	sign2 "$rid"
	expect_code 200 "the retry"
	[ "$(jq -r '"\(.signature) \(.ledger.seq) \(.replayed)"' "$IT_BODY")" = "$sig $seq true" ] ||
		fail "the retry answered $(jq -c '{seq: .ledger.seq, replayed}' "$IT_BODY")"
	[ "$(rows "$rid")" = 1 ] || fail "$(rows "$rid") rows after the retry"
	note "settled in $ms ms (cut, reconnect, ask, answer)"
fi
ms_after=$ms

tid "INSERT never reached the database: written once more (200) or 503, never twice"
rid=t-indoubt-before-$RANDOM$RANDOM
n0=$(fired)
l0=$(loglines)
arm before B 'INSERT INTO ledger_entries'
sign2 "$rid"
ms=$SIGN_MS
[ "$(fired)" = $((n0 + 1)) ] || fail "the proxy did not cut (fired $(fired))"
grep -q "cut $((n0 + 1)) before B /INSERT INTO ledger_entries/.*not forwarded" "$W/pgcut.log" ||
	fail "the proxy log does not show a cut before the INSERT: $(tail -n 3 "$W/pgcut.log")"
[ "$(logged_since "$l0" 'ledger connection lost during commit')" = 1 ] ||
	fail "seald did not see the connection lost during the commit"
case "$HTTP_CODE" in
200)
	[ "$(logged_since "$l0" '0 of 1 in-doubt entries were committed')" = 1 ] ||
		fail "no '0 of 1 in-doubt entries were committed' line"
	seq=$(jq -r .ledger.seq "$IT_BODY")
	sig=$(jq -r .signature "$IT_BODY")
	[ "$(rows "$rid")" = 1 ] || fail "$(rows "$rid") rows for an answered request"
	[ "$(psql_q "select seq from ledger_entries where instance = '$INST' and request_id = '$rid'")" = "$seq" ] ||
		fail "the row is not at seq $seq"
	note "written once more after the reconnect, in $ms ms"
	;;
503)
	[ "$(json_str code)" = ledger_unavailable ] || fail "503 with $(head -c 200 "$IT_BODY")"
	jq -e 'has("signature") | not' "$IT_BODY" >/dev/null || fail "a 503 with a signature"
	[ "$(rows "$rid")" = 0 ] || fail "$(rows "$rid") rows for a refused request"
	note "refused with 503 in $ms ms"
	;;
*)
	fail "HTTP $HTTP_CODE: $(head -c 200 "$IT_BODY")"
	;;
esac
ms_before=$ms
code_before=$HTTP_CODE
sign2 "$rid"
expect_code 200 "the retry"
[ -n "$(jq -r '.signature // empty' "$IT_BODY")" ] || fail "the retry got no signature"
if [ "$code_before" = 200 ]; then
	[ "$(jq -r '"\(.signature) \(.ledger.seq)"' "$IT_BODY")" = "$sig $seq" ] ||
		fail "the retry is not the first answer"
fi
[ "$(rows "$rid")" = 1 ] || fail "$(rows "$rid") rows after the retry"

tid "a lost answer in the rewrite after a duplicate: settled at once on a new connection"
# A request signed on this instance while another instance (demo-1)
# commits the same request: its batch of two hits the (client,
# request_id) constraint, one query finds the duplicate recorded, and
# the other request is written again alone; the proxy cuts after that
# single-row INSERT has committed.  The writer is held meanwhile by a
# row the test's own transaction holds the held request's id for (never
# committed).  Two copies on one instance never meet in a batch: the
# second waits for the first (inflight).
rid=t-indoubt-dup-$RANDOM$RANDOM
held=t-indoubt-held-$RANDOM
n0=$(fired)
l0=$(loglines)
mkfifo "$W/lock.fifo"
"$(pg_bindir)/psql" -X -q -At "host=$IT_DIR/pgsock dbname=seald user=postgres" \
    <"$W/lock.fifo" >"$W/lock.out" 2>&1 &
locker=$!
exec 7>"$W/lock.fifo"
it_at_exit "exec 7>&-; kill $locker 2>/dev/null"
cat >&7 <<SQL
BEGIN;
CREATE TEMP TABLE lockrow AS SELECT * FROM ledger_entries
    WHERE instance = '$INST' AND kind = 'signature' ORDER BY seq DESC LIMIT 1;
UPDATE lockrow SET instance = 'it-indoubt-lock', seq = 1, request_id = '$held',
    prev_hash = '\\x0000000000000000000000000000000000000000000000000000000000000000';
INSERT INTO ledger_entries SELECT * FROM lockrow;
SELECT 'held';
SQL
locked() { grep -q '^held$' "$W/lock.out"; }
writer_waits() { [ "$(psql_super "select count(*) from pg_stat_activity where application_name like 'seald-w $INST %'
    and wait_event_type = 'Lock' and query like '%INSERT INTO ledger_entries%'")" -ge 1 ]; }
lag() { curl -s --max-time 5 --unix-socket "$S2/seald.sock" http://localhost/metrics |
    sed -n 's/^seald_ledger_lag_entries //p'; }
lag2() { [ "$(lag)" = 2 ]; }
lag3() { [ "$(lag)" = 3 ]; }
within 5000 locked || fail "no row held: $(cat "$W/lock.out")"
sign_bg "$held" "$W/held.out"
p1=$!
within 5000 writer_waits || fail "the writer does not wait for the held row"
arm after B 'INSERT INTO ledger_entries .* -- bind t,\[1\],' # one row
sign_bg "$rid-first" "$W/first.out"
p2=$!
within 10000 lag2 || fail "the first request did not queue behind the held one (lag $(lag))"
sign_bg "$rid" "$W/dup.out"
p3=$!
within 10000 lag3 || fail "the duplicate did not queue behind the held one (lag $(lag))"
# the other instance commits the same request meanwhile
http_req POST /v1/sign "$(sign_body "$rid")"
expect_code 200 "the same request on the other instance"
echo "ROLLBACK;" >&7
exec 7>&-
wait "$p1" "$p2" "$p3" "$locker"
[ "$(fired)" = $((n0 + 1)) ] || fail "the proxy did not cut (fired $(fired)): $(tail -n 3 "$W/pgcut.log")"
[ -e "$P/arm" ] && { rm -f "$P/arm"; fail "the arming was not taken"; }
[ "$(head -c 3 "$W/held.out")" = 200 ] || fail "the held request: $(head -c 200 "$W/held.out")"
[ "$(logged_since "$l0" 'ledger connection lost during commit')" = 1 ] ||
	fail "seald did not see the connection lost during the commit"
[ "$(logged_since "$l0" '1 of 1 in-doubt entries were committed')" = 1 ] ||
	fail "the cut did not hit the rewrite of one entry (the two requests were not in one batch)"
[ "$(curl -s --max-time 5 --unix-socket "$S2/seald.sock" http://localhost/metrics |
    sed -n 's/^seald_ledger_duplicates_total //p')" -ge 1 ] ||
	fail "the duplicate was not found in the refused batch"
[ "$(rows "$rid-first")" = 1 ] || fail "$(rows "$rid-first") rows for the first request"
[ "$(head -c 3 "$W/first.out")" = 200 ] &&
	[ "$(tail -n +2 "$W/first.out" | jq -r '"\(.ledger.seq) \(.signature)"')" = "$(recorded "$rid-first")" ] ||
	fail "the request cut in the rewrite: $(head -c 200 "$W/first.out")"
# the duplicate is settled on the new connection at once: it gets the
# other instance's entry, the one the ledger holds
rec=$(psql_q "select instance || ' ' || seq || ' ' || encode(signature, 'base64') from ledger_entries
    where request_id = '$rid'" | tr -d '\n')
[ "$(psql_q "select count(*) from ledger_entries where request_id = '$rid'")" = 1 ] ||
	fail "not one row for $rid"
case "$(head -c 3 "$W/dup.out")" in
200) [ "$(tail -n +2 "$W/dup.out" | jq -r '"\(.ledger.instance) \(.ledger.seq) \(.signature)"')" = "$rec" ] ||
	fail "the duplicate got a signature that is not the recorded one" ;;
*) fail "the duplicate got $(head -c 200 "$W/dup.out")" ;;
esac
note "the request cut in the rewrite got HTTP $(head -c 3 "$W/first.out"), the duplicate $(head -c 3 "$W/dup.out")"
t0=$(date +%s%N)
if ! within 5000 sign_ok "t-indoubt-dup-next-$RANDOM"; then
	fail "the instance does not sign again within 5 s: $(tail -n +"$((l0 + 1))" "$S2/seald.log" |
	    grep -m1 -o 'ledger_session_ensure: ledger: .*' || head -c 200 "$IT_BODY")"
	note "restarting the instance for the cases that follow"
	seald_stop "$S2" >/dev/null 2>&1
	seald_start "$IT_BUILD" "$S2" || fail "the instance does not restart"
	ms_dup=never
else
	ms_dup=$(ms_since "$t0")
	note "signing again $ms_dup ms after the cut"
fi
[ "$(logged_since "$l0" 'not written by seald')" = 0 ] ||
	fail "seald took its own in-doubt entry for a foreign one"
sign2 "$rid"
expect_code 200 "the retry of the duplicate"
[ "$(jq -r '"\(.ledger.instance) \(.ledger.seq) \(.signature)"' "$IT_BODY")" = "$rec" ] ||
	fail "the retry answered $(jq -c '{seq: .ledger.seq, replayed}' "$IT_BODY"), recorded: ${rec%% *}"
[ "$(psql_q "select count(*) from ledger_entries where request_id = '$rid'")" = 1 ] ||
	fail "not one row for $rid after the retry"

tid "a partition after the INSERT committed (the server keeps the old session): seald ends its own stale session, no wrong answer"
rid=t-indoubt-hold-$RANDOM$RANDOM
n0=$(fired)
l0=$(loglines)
arm hold B 'INSERT INTO ledger_entries'
t0=$(date +%s%N)
sign2 "$rid"
ms=$SIGN_MS
code_hold=$HTTP_CODE
[ "$(fired)" = $((n0 + 1)) ] || fail "the proxy did not cut (fired $(fired))"
grep -q "cut $((n0 + 1)) hold B .*server session held" "$W/pgcut.log" || fail "the proxy does not hold the session"
case "$HTTP_CODE" in
200) [ "$(jq -r '"\(.ledger.seq) \(.signature)"' "$IT_BODY")" = \
	"$(recorded "$rid")" ] ||
	fail "the client's signature is not the recorded one" ;;
503) [ "$(json_str code)" = ledger_unavailable ] || fail "503 with $(head -c 200 "$IT_BODY")" ;;
*) fail "HTTP $HTTP_CODE: $(head -c 200 "$IT_BODY")" ;;
esac
[ "$(rows "$rid")" = 1 ] || fail "$(rows "$rid") rows: the INSERT committed before the cut"
# the proxy still holds the old session: only seald can end it
if within 5000 sign_ok "t-indoubt-hold-next-$RANDOM"; then
	ms_hold=$(ms_since "$t0")
	hseq=$(psql_q "select seq from ledger_entries where instance = '$INST' and request_id = '$rid'")
	[ "$(jq -r .ledger.seq "$IT_BODY")" -gt "${hseq:-0}" ] ||
		fail "the next entry at seq $(jq -r .ledger.seq "$IT_BODY"), the cut one at $hseq"
	note "the cut request $code_hold in $ms ms; signing again $ms_hold ms after the cut, the old session still held by the proxy"
else
	ms_hold=never
	fail "the instance does not sign again within 5 s while its old session lives: $(tail -n +"$((l0 + 1))" "$S2/seald.log" | grep -m1 -o 'ledger_session_ensure: .*')"
fi
[ "$(logged_since "$l0" "ended seald's previous database session")" = 1 ] ||
	fail "seald did not say it ended its previous session"
sign2 "$rid"
expect_code 200 "the retry (answered from the ledger)"
[ "$(jq -r '"\(.ledger.seq) \(.signature)"' "$IT_BODY")" = \
	"$(recorded "$rid")" ] ||
	fail "the retry's signature is not the recorded one"
kill -USR1 "$PROXY"
[ "$(rows "$rid")" = 1 ] || fail "$(rows "$rid") rows at the end"
[ "$(logged_since "$l0" 'not written by seald')" = 0 ] || fail "seald took its own in-doubt entry for a foreign one"

tid "a foreign session that takes the instance lock after a cut is never ended: seald waits for it"
# P, a session of seald's own role, queues for the instance lock while
# the instance holds it; the cut ends the instance's session, P gets the
# lock, and the instance, reconnecting, must not end P (a role-only match
# would): it stays refused until P lets go, then signs again.
rid=t-indoubt-foreign-$RANDOM$RANDOM
n0=$(fired)
l0=$(loglines)
psql "$IT_CONNINFO" -v ON_ERROR_STOP=1 -qAt \
    -c "select pg_advisory_lock(hashtextextended('seald-instance:$INST', 0))" \
    -c "select pg_sleep(4)" >"$W/foreign.out" 2>&1 &
foreign=$!
waiting() { [ "$(psql_q "select count(*) from pg_stat_activity where wait_event_type = 'Lock' and query like '%seald-instance:$INST%'")" = 1 ]; }
within 5000 waiting || fail "the foreign session does not queue for the lock"
arm after B 'INSERT INTO ledger_entries'
sign2 "$rid"
[ "$(fired)" = $((n0 + 1)) ] || fail "the proxy did not cut (fired $(fired))"
case "$HTTP_CODE" in
200) [ "$(jq -r '"\(.ledger.seq) \(.signature)"' "$IT_BODY")" = "$(recorded "$rid")" ] ||
	fail "the client's signature is not the recorded one" ;;
503) [ "$(json_str code)" = ledger_unavailable ] || fail "503 with $(head -c 200 "$IT_BODY")" ;;
*) fail "HTTP $HTTP_CODE: $(head -c 200 "$IT_BODY")" ;;
esac
within 3000 eval '[ "$(logged_since "$l0" "is already running")" -ge 1 ]' ||
	fail "the instance was not refused the lock: $(tail -n +"$((l0 + 1))" "$S2/seald.log" | grep -m1 -o 'ledger_session_ensure: .*')"
if wait "$foreign"; then
	note "the foreign session kept the lock to its end; the cut request got $HTTP_CODE"
else
	fail "the foreign session was ended: $(cat "$W/foreign.out")"
fi
[ "$(logged_since "$l0" "ended seald's previous database session")" = 0 ] ||
	fail "seald ended a session that was not its own"
t0=$(date +%s%N)
within 5000 sign_ok "t-indoubt-foreign-next-$RANDOM" ||
	fail "the instance does not sign again within 5 s of the foreign session's end"
note "signing again $(ms_since "$t0") ms after it ended"
sign2 "$rid"
expect_code 200 "the retry"
[ "$(jq -r '"\(.ledger.seq) \(.signature)"' "$IT_BODY")" = "$(recorded "$rid")" ] ||
	fail "the retry's signature is not the recorded one"
[ "$(rows "$rid")" = 1 ] || fail "$(rows "$rid") rows for $rid"

tid "a key generation whose COMMIT answer is lost: the key is kept, once; signing goes on"
k=t-indoubt-$RANDOM
# keygen NAME: sealctl key generate on the instance; output in $out, exit
# status in $rc, time in $ms
keygen() {
	local t0
	t0=$(date +%s%N)
	out=$("$IT_BUILD/sealctl" -a "$S2/admin.sock" key generate "$1" --algorithm ec-p256 2>&1)
	rc=$?
	ms=$(ms_since "$t0")
}
keygen "$k-plain"
[ "$rc" = 0 ] || fail "an uncut key generation: $out"
ms_key_plain=$ms
n0=$(fired)
l0=$(loglines)
arm after Q '^COMMIT$'
keygen "$k"
[ "$(fired)" = $((n0 + 1)) ] || fail "the proxy did not cut (fired $(fired))"
grep -q "cut $((n0 + 1)) after Q /^COMMIT\$/ ('COMMIT').*answer dropped" "$W/pgcut.log" ||
	fail "the proxy log does not show a cut after COMMIT: $(tail -n 3 "$W/pgcut.log")"
[ "$(logged_since "$l0" 'ledger connected; chain head at seq')" -ge 1 ] || fail "seald did not reconnect"
[ "$rc" = 0 ] || fail "sealctl key generate exit $rc: $out"
grep -q "^generated $k.*HSM label seald-$k-v1; ledger $INST #[0-9]" <<<"$out" || fail "sealctl said: $out"
[ "$(psql_q "select count(*) from keys where name = '$k'")" = 1 ] || fail "keys rows: $(psql_q "select count(*) from keys where name = '$k'")"
[ "$(psql_q "select count(*) from ledger_entries where kind = 'key' and key_name = '$k' and format = 'generate' and instance = '$INST'")" = 1 ] ||
	fail "ledger key entries for $k: $(psql_q "select count(*) from ledger_entries where kind = 'key' and key_name = '$k'")"
hsm_has_object "$IT_DIR" privkey "seald-$k-v1" || fail "the HSM lost the key seald-$k-v1"
kseq=$(psql_q "select seq from ledger_entries where kind = 'key' and key_name = '$k' and instance = '$INST'")
grep -q "; ledger $INST #$kseq\$" <<<"$out" || fail "sealctl names another entry than seq $kseq: $out"
note "key generation with its COMMIT answer lost: $ms ms; uncut: $ms_key_plain ms (sealctl, HSM key generation included)"
ms_key=$ms
for i in 1 2 3; do
	sign2 "t-indoubt-next-$i-$RANDOM"
	expect_code 200 "signature $i after the key" || continue
	[ "$(jq -r .ledger.seq "$IT_BODY")" = $((kseq + i)) ] ||
		fail "signature $i at seq $(jq -r .ledger.seq "$IT_BODY"), the key entry at $kseq"
done

tid "the proxy cut exactly once per arming; the instance's chain verifies"
[ "$(fired)" = 6 ] || fail "cuts: $(fired)"
[ -e "$P/arm" ] && fail "an arming is left"
grep -q 'no checkpoint' "$S2/seald.log" && fail "the Merkle tree lost the head: $(grep -m1 'no checkpoint' "$S2/seald.log")"
seald_stop "$S2" >/dev/null 2>&1 || fail "the instance did not stop cleanly"
if grep -Eq 'ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:' "$S2/seald.log"; then
	fail "sanitizer report in the instance's log: $(grep -E -m3 'Sanitizer|runtime error:' "$S2/seald.log")"
fi
out=$("$IT_BUILD/sealctl" ledger verify --db "$(pg_conninfo "$IT_DIR" seald)" \
    --audit-key "$IT_DIR/certs/seald-audit.pub.pem" 2>&1) || fail "ledger verify: $out"
grep -q "^instance $INST: OK" <<<"$out" || fail "verify: $(grep "$INST" <<<"$out")"
note "$(grep "^instance $INST:" <<<"$out")"
note "figures: a signature $((ms_plain / 5)) ms uncut; after-INSERT cut ${ms_after} ms; before-INSERT cut ${ms_before} ms (HTTP $code_before); one-at-a-time cut: signing again after ${ms_dup} ms; held session: signing again ${ms_hold} ms after the cut; key generation ${ms_key_plain} ms, with its COMMIT cut ${ms_key} ms"
