# shellcheck shell=bash
# t_failover.sh — a primary lost under load, and no acknowledged signature
# with it.  A pg_auto_failover cluster (tools/halib.sh: a monitor, a
# primary and its synchronous standby), two seald instances, each its own
# folder and chain, on the cluster's multi-host conninfo
# (target_session_attrs=read-write).  Six clients sign; the primary's
# keeper and server are killed (SIGKILL, as a machine is lost); the
# monitor promotes the standby.  Then: every signature answered 200 is in
# the new primary's ledger, each request answered otherwise is settled by
# a retry, both chains verify, neither seald was restarted, and signing
# paused for less than 10 s.  The old primary comes back as the standby.

need_seald || return 0
W=$IT_DIR/failover
BIN=$(pg_bindir)
mkdir -p "$W"
chmod 0711 "$W"
tid "a pg_auto_failover cluster: the monitor, a primary and its synchronous standby"
if ! port=$(ha_free_port); then
	fail "pg_autoctl is not installed (make check installs pg-auto-failover-cli)"
	return 0
fi
it_at_exit "ha_stop '$W'"
t0=$(date +%s%N)
if ! ha_setup "$W" "$port" >"$W/setup.log" 2>&1; then
	fail "ha_setup: $(tail -n 5 "$W/setup.log")"
	return 0
fi
note "cluster up in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
ss -ltnH | grep -E ":($port|$((port + 1))|$((port + 2))) " | awk '{print $4}' |
	grep -v '^127\.0\.0\.1:' && fail "a server listens beyond loopback"
first=$(ha_primary "$W") || fail "no primary: $(ha_state "$W")"
sync=$(_ha_sql "$W" "$(ha_port "$W" "$first")" postgres "show synchronous_standby_names")
[ -n "$sync" ] || fail "the primary has no synchronous standby"

tid "two seald instances on the cluster's multi-host conninfo"
conn=$(pg_conninfo "$W")
mconn=$(pg_conninfo "$W" seald)
case "$conn" in
*,*target_session_attrs=read-write*) ;;
*) fail "conninfo: $conn" ;;
esac
for i in 1 2; do
	it_instance "$W/s$i" "failover-$i" \
	    -e "s|^  conninfo: .*|  conninfo: \"$conn\"|" \
	    -e "s|^  migrate_conninfo: .*|  migrate_conninfo: \"$mconn\"|" \
	    -e "/^  conninfo:/a\\  commit_timeout_ms: 2000"
done
"$IT_BUILD/seald" migrate -c "$W/s1/seald.yaml" >>"$W/s1/seald.log" 2>&1 ||
	fail "migrate: $(tail -n 3 "$W/s1/seald.log")"
for i in 1 2; do
	if ! seald_start "$IT_BUILD" "$W/s$i"; then
		fail "seald $i did not start: $(tail -n 3 "$W/s$i/seald.log")"
		return 0
	fi
	IT_SOCK=$W/s$i/seald.sock sign_json demo-ec "$(digest_b64 sha256 "failover $i")" sha256 "t-fo-first-$i-$RANDOM"
	expect_code 200 "a signature through instance $i"
done
pid1=$(cat "$W/s1/seald.pid")
pid2=$(cat "$W/s2/seald.pid")

# load SECONDS OUT: six clients sign for SECONDS, three on each instance
# (sealclient.py timed: "ok|error REQUEST_ID STATUS TIME INSTANCE CODE")
load() {
	python3 "$here/sealclient.py" timed "$1" 6 "t-fo-$RANDOM" \
	    "$W/s1/seald.sock" "$W/s2/seald.sock" >"$2"
}

# kill_under_load SECONDS OUT NODE: load for SECONDS; NODE killed (ha_kill)
# 3 s in, its time in $killed
kill_under_load() {
	local lpid
	load "$1" "$2" &
	lpid=$!
	sleep 3
	killed=$(date +%s.%N)
	ha_kill "$W" "$3"
	wait "$lpid"
}

# pause OUT AT: the longest time without a signature released, from the
# last one before AT on
pause() {
	awk '$1 == "ok" { print $4 }' "$1" | sort -n |
		awk -v k="$2" 'NR > 1 && $1 > k { if ($1 - prev > m) m = $1 - prev }
		    { prev = $1 } END { printf "%.1f", m }'
}

# on_primary OUT: how many signatures answered 200 in OUT the primary
# lacks (none, or the test fails)
on_primary() {
	"$BIN/psql" -X -At "$(pg_conninfo "$W" seald)" -c \
	    "select request_id from ledger_entries where instance like 'failover-%'" |
		sort >"$W/on-primary"
	grep '^ok' "$1" | cut -d' ' -f2 | sort >"$W/released"
	comm -23 "$W/released" "$W/on-primary" | wc -l
}

tid "the primary killed under load: every signature answered 200 is on the new primary, the pause under 10 s"
kill_under_load 22 "$W/load.out" "$first"
second=$(ha_primary "$W") || second=
note "node$first killed; node$second takes the writes"
[ -n "$second" ] && [ "$second" != "$first" ] || fail "no new primary: $(ha_state "$W")"
ok=$(grep -c '^ok ' "$W/load.out" || true)
errs=$(grep -c '^error ' "$W/load.out" || true)
pause=$(pause "$W/load.out" "$killed")
before=$(awk -v k="$killed" '$1 == "ok" && $4 < k' "$W/load.out" | wc -l)
after=$(awk -v k="$killed" '$1 == "ok" && $4 > k' "$W/load.out" | wc -l)
note "$ok signed ($before before the kill, $after after), $errs refused; signing paused $pause s"
[ "$before" -gt 0 ] && [ "$after" -gt 0 ] || fail "no signatures on one side of the kill"
awk -v p="$pause" 'BEGIN { exit !(p > 0 && p < 10) }' || fail "signing paused $pause s"
others=$(grep '^error' "$W/load.out" | grep -v -E ' (503|0) [0-9.]+ [12] (ledger_unavailable|)$' | head -n 3 || true)
[ -z "$others" ] || fail "other errors: $others"
missing=$(on_primary "$W/load.out")
[ "$missing" = 0 ] || fail "$missing signatures answered 200 are not on the new primary"

tid "after the failover: the same seald processes serve, each refused request settles by a retry, both chains verify"
for i in 1 2; do
	IT_SOCK=$W/s$i/seald.sock await_ready 200 15 || fail "instance $i not ready: $(cat "$IT_BODY")"
done
[ "$(cat "$W/s1/seald.pid")" = "$pid1" ] && kill -0 "$pid1" &&
	[ "$(cat "$W/s2/seald.pid")" = "$pid2" ] && kill -0 "$pid2" || fail "a seald was restarted or stopped"
# the log says what happened, not once per request: each worker's lookup
# connection says it is down once (this test saw 307 lines before)
warns=$(grep -c 'warn .*ledger lookup:' "$W/s1/seald.log" || true)
note "instance 1 logged $warns lookup warnings"
[ "$warns" -le 12 ] || fail "$warns lookup warnings in the log: one per request"
grep '^error' "$W/load.out" | awk '{ print $5, $2 }' >"$W/refused"
python3 - "$W/s1/seald.sock" "$W/s2/seald.sock" "$here" "$W/refused" >"$W/retry.out" <<'PY'
import sys
sys.path.insert(0, sys.argv[3])
from sealclient import UnixHTTP, sign
conns = [UnixHTTP(sys.argv[1]), UnixHTTP(sys.argv[2])]
for line in open(sys.argv[4]):
    inst, rid = line.split()
    st, body = sign(conns[int(inst) - 1], "demo-ec", rid)
    print(st, rid, body.get("replayed", False))
PY
bad=$(grep -vc '^200 ' "$W/retry.out" || true)
settled=$(grep -c ' True$' "$W/retry.out" || true)
note "$(wc -l <"$W/retry.out") refused requests retried: $settled were recorded (in doubt), the others signed now"
[ "$bad" = 0 ] || fail "$bad retries not answered 200: $(grep -v '^200 ' "$W/retry.out" | head -n 3)"
dups=$("$BIN/psql" -X -At "$(pg_conninfo "$W" seald)" -c \
    "select count(*) from (select 1 from ledger_entries where instance like 'failover-%'
     and kind = 'signature' group by client, request_id having count(*) > 1) d")
[ "$dups" = 0 ] || fail "$dups requests recorded twice"
"$IT_BUILD/sealctl" ledger verify --db "$(pg_conninfo "$W" seald_verifier)" \
    --audit-key "$IT_DIR/certs/seald-audit.pub.pem" >"$W/verify.out" 2>&1 ||
	fail "sealctl ledger verify: $(tail -n 3 "$W/verify.out")"
grep -q 'failover-1' "$W/verify.out" && grep -q 'failover-2' "$W/verify.out" ||
	fail "verify: $(cat "$W/verify.out")"

tid "the old primary back: it rejoins as the standby, and signing goes on"
t0=$(date +%s%N)
ha_start_node "$W" "$first"
ha_await "$W" 60 || fail "not whole again: $(ha_state "$W")"
note "node$first a standby again after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
for i in 1 2; do
	IT_SOCK=$W/s$i/seald.sock sign_json demo-ec "$(digest_b64 sha256 "after $i")" sha256 "t-fo-after-$i-$RANDOM"
	expect_code 200 "a signature through instance $i"
done

tid "the primary's machine frozen under load (keeper and server stopped): the standby takes over, seald follows, nothing released is lost"
# a paused VM: its connections stay open and answer nothing, not even a
# cancel; seald's bounded reads and commits let it go and find the node
# that takes writes, and the machine, thawed, rejoins as the standby
frozen_node=$(ha_primary "$W") || frozen_node=$second
fpg=$(cat "$W/ha/n$frozen_node.pid")
# machine SIG: the node's keeper (its process group) and every server
# process (each of which PostgreSQL puts in a group of its own)
machine() {
	local pm
	pm=$(_pg_as head -n 1 "$(_ha_dir "$W")/n$frozen_node/postmaster.pid" 2>/dev/null)
	kill "-$1" -- "-$fpg" 2>/dev/null
	[ -n "$pm" ] && kill "-$1" $(pgrep -P "$pm") 2>/dev/null
}
it_at_exit "kill -CONT -- -$fpg 2>/dev/null; pkill -CONT -u $(_ha_owner) postgres 2>/dev/null"
load 26 "$W/load3.out" &
lpid=$!
sleep 3
frozen=$(date +%s.%N)
machine STOP
sleep 16
machine CONT
thawed=$(date +%s.%N)
wait "$lpid"
# the node that takes writes (the monitor's table may be between two
# states just after the thaw)
now=
for _ in $(seq 1 60); do
	now=$(ha_primary "$W") && break
	sleep 0.5
done
pause=$(pause "$W/load3.out" "$frozen")
during=$(awk -v a="$frozen" -v b="$thawed" '$1 == "ok" && $4 > a + 1 && $4 < b' "$W/load3.out" | wc -l)
note "node$frozen_node frozen 16 s; node$now takes the writes; signing paused $pause s, $during signed while it was frozen"
[ -n "$now" ] && [ "$now" != "$frozen_node" ] || fail "no failover away from the frozen node: $(ha_state "$W")"
[ "$during" -gt 0 ] || fail "nothing signed while the old primary was frozen: seald stayed on it"
awk -v p="$pause" 'BEGIN { exit !(p > 0 && p < 16) }' || fail "signing paused $pause s"
missing=$(on_primary "$W/load3.out")
[ "$missing" = 0 ] || fail "$missing signatures answered 200 are not on the new primary"
t0=$(date +%s%N)
# the monitor's table may still show the roles of before the thaw: the
# thawed node is a standby once it streams to the new primary, in sync
end=$((SECONDS + 90))
until [ "$(_ha_sql "$W" "$(ha_port "$W" "$now")" postgres "select count(*) from pg_stat_replication
    where state = 'streaming' and sync_state in ('sync', 'quorum')" 2>/dev/null)" = 1 ] &&
	ha_await "$W" 5 2>/dev/null; do
	[ "$SECONDS" -lt "$end" ] || break
	sleep 0.5
done
ha_await "$W" 1 || fail "the thawed node did not rejoin: $(ha_state "$W")"
note "node$frozen_node a standby again $(( ($(date +%s%N) - t0) / 1000000 )) ms after the thaw"
first=$frozen_node # the standby now, for the next case

tid "the standby lost under load: the primary stops waiting for it, signing goes on, nothing released is lost"
kill_under_load 14 "$W/load2.out" "$first"
pause=$(pause "$W/load2.out" "$killed")
after=$(awk -v k="$killed" '$1 == "ok" && $4 > k + 0.5' "$W/load2.out" | wc -l)
note "signing paused $pause s (the monitor then drops synchronous replication: wait_primary), $after signed after"
[ "$after" -gt 0 ] || fail "nothing signed after the standby was lost: $(tail -n 2 "$W/load2.out")"
awk -v p="$pause" 'BEGIN { exit !(p < 10) }' || fail "signing paused $pause s"
missing=$(on_primary "$W/load2.out")
[ "$missing" = 0 ] || fail "$missing signatures answered 200 are not on the primary"
for i in 1 2; do
	seald_stop "$W/s$i"
done
ha_stop "$W"
