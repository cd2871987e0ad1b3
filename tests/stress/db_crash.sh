#!/bin/bash
# db_crash.sh BUILD — `make stress`: while 4 clients sign steadily,
# PostgreSQL is killed 10 times (pg_ctl stop -m immediate, and SIGKILL of
# the postmaster with its backends, in turn) and started again.  Then: every signature a
# client received is in the ledger exactly once and at the seq it was
# told; no signature arrived while the database was down; seald served
# again within 5 s of each restart, without a restart of its own; the
# chain verifies.  Prints the figures; exits 1 when a check fails.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tools/envlib.sh
. "$root/tools/envlib.sh"
build=$(_envlib_abs "${1:?usage: db_crash.sh BUILD}")
CYCLES=${STRESS_CYCLES:-10}
dir=$(mktemp -d /tmp/seald-stress.XXXXXX)
chmod 0711 "$dir"
failed=0
fail() { echo "FAIL: $*"; failed=1; }

cleanup() {
	trap - EXIT INT TERM
	touch "$dir/stop"
	seald_stop "$dir" >/dev/null 2>&1
	pg_stop "$dir" fast >/dev/null 2>&1 || pg_stop "$dir" immediate >/dev/null 2>&1
	[ -n "${KEEP_TMP:-}" ] || rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

hsm_setup "$dir" >/dev/null && pg_setup "$dir" >/dev/null &&
	write_config "$dir" "$dir/seald.sock" 0660 || exit 1
sed -i 's/^  level: info/  level: warn/' "$dir/seald.yaml"
export SOFTHSM2_CONF=$dir/softhsm2.conf
"$build/seald" migrate -c "$dir/seald.yaml" >>"$dir/seald.log" 2>&1 &&
	seald_start "$build" "$dir" || exit 1
pid=$(cat "$dir/seald.pid")

for c in 1 2 3 4; do
	python3 "$root/tests/stress/client.py" "$dir/seald.sock" "c$c" "$dir/stop" \
		>"$dir/client-$c.log" 2>&1 &
done
: >"$dir/windows"
for n in $(seq "$CYCLES"); do
	sleep 1.5
	if [ $((n % 2)) = 1 ]; then
		pg_stop "$dir" immediate >/dev/null 2>&1
	else
		# the postmaster and its backends at once, as a crash of the
		# server would (backends outlive a killed postmaster a while)
		pm=$(head -n 1 "$dir/pg/postmaster.pid")
		# shellcheck disable=SC2046
		kill -9 "$pm" $(pgrep -P "$pm") 2>/dev/null
		# dead, or a zombie nobody reaps (a container's init may not):
		# then its pid file would keep pg_ctl from starting again
		st=R
		for _ in $(seq 40); do
			st=$(awk '/^State:/ { print $2 }' "/proc/$pm/status" 2>/dev/null)
			[ -z "$st" ] || [ "$st" = Z ] && break
			sleep 0.05
		done
		[ "$st" = Z ] && rm -f "$dir/pg/postmaster.pid" "$dir"/pgsock/.s.PGSQL.*.lock
	fi
	down=$(date +%s.%N) # the database is surely down from here
	sleep 1
	start=$(date +%s.%N) # and until here
	pg_start "$dir" >/dev/null 2>&1 || { fail "PostgreSQL did not come back"; break; }
	up=$(date +%s.%N)
	echo "$down $start $up" >>"$dir/windows"
done
sleep 6
touch "$dir/stop"
wait_for=$(date +%s)
while pgrep -f "tests/stress/client.py $dir" >/dev/null && [ $(($(date +%s) - wait_for)) -lt 20 ]; do
	sleep 0.2
done
cat "$dir"/client-*.log >"$dir/all.log"

[ "$(cat "$dir/seald.pid")" = "$pid" ] && kill -0 "$pid" 2>/dev/null || fail "seald restarted or died"
oks=$(grep -c '^ok ' "$dir/all.log")
errs=$(grep -c '^err ' "$dir/all.log")

# every reply is in the ledger, at the seq it said, once
grep '^ok ' "$dir/all.log" | awk '{ printf "(%s,%s,%s)\n", "\x27" $3 "\x27", "\x27" $4 "\x27", $5 }' |
	paste -sd, >"$dir/values"
printf 'select count(*) from ledger_entries e join (values %s) v(r, i, s)
    on e.request_id = v.r and e.instance = v.i and e.seq = v.s;\n' "$(cat "$dir/values")" >"$dir/join.sql"
found=$("$(pg_bindir)/psql" -X -At "$(pg_conninfo "$dir")" -f "$dir/join.sql")
replies=$(grep '^ok ' "$dir/all.log" | awk '{ print $3 }' | sort -u | wc -l)
rows=$("$(pg_bindir)/psql" -X -At "$(pg_conninfo "$dir")" -c \
	"select count(*) from ledger_entries where request_id like 'stress-%'")
[ "$found" = "$oks" ] || fail "replies found in the ledger: $found of $oks"
[ "$replies" = "$oks" ] || fail "a request_id was answered twice"
# an entry may be committed after its client stopped waiting: at most one per client
[ "$rows" -ge "$oks" ] && [ "$rows" -le $((oks + 4)) ] || fail "ledger rows $rows for $oks replies"

# nothing arrived while the database was down (from when the kill was
# done until it was started again); seald answered within 5 s of each
# restart
worst=0
n=0
while read -r down start up; do
	n=$((n + 1))
	inside=$(awk -v a="$down" -v b="$start" '$1 == "ok" && $2 > a && $2 < b' "$dir/all.log" | wc -l)
	[ "$inside" = 0 ] || fail "kill $n: $inside signatures arrived while the database was down"
	first=$(awk -v b="$up" '$1 == "ok" && $2 >= b { print $2; exit }' <(sort -k2,2n "$dir/all.log"))
	if [ -z "$first" ]; then
		fail "no signature after the restart at $up"
		continue
	fi
	rec=$(awk -v a="$up" -v b="$first" 'BEGIN { printf "%.3f", b - a }')
	awk -v r="$rec" 'BEGIN { exit !(r <= 5) }' || fail "served again only after $rec s"
	worst=$(awk -v r="$rec" -v w="$worst" 'BEGIN { print (r > w ? r : w) }')
done <"$dir/windows"

out=$("$build/sealctl" ledger verify --db "$(pg_conninfo "$dir" seald)" 2>&1) || fail "ledger verify: $out"
echo "db_crash: $CYCLES database kills (immediate stop and SIGKILL in turn) under 4 clients"
echo "db_crash: $oks signatures received, $rows ledger rows, $errs refusals or broken connections (retried)"
echo "db_crash: slowest recovery $worst s after the database was back; seald pid unchanged"
echo "db_crash: $(grep -m1 '^instance' <<<"$out")"
[ "$failed" = 0 ] && echo "db_crash: 1 passed, 0 failed" || echo "db_crash: 0 passed, 1 failed"
exit "$failed"
