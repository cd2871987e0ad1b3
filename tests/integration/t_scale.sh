# shellcheck shell=bash
# t_scale.sh — scale-out: a second seald instance (its own name and
# socket, the same token) on the same database, both under load at once
# (bounded: 4 clients x 60 signatures each per instance).  Every reply is
# in its instance's chain exactly once, the chains do not mix, and
# `sealctl ledger verify` accepts both once they stopped cleanly.

need_seald || return 0
W=$IT_DIR/t_scale
mkdir -p "$W"
S2=$W/b
it_instance "$S2" scale-2

# load SOCK TAG: 4 clients in parallel, 60 signatures each, over one
# keep-alive connection per client (sealclient.py), in the background
load() {
	timeout 120 python3 "$(dirname "${BASH_SOURCE[0]}")/sealclient.py" \
		"$1" 4 60 "t-scale-$2" demo-ec >"$W/$2.out" &
	pids="$pids $!"
}

tid "two instances on one database sign under load at once"
if ! seald_start "$IT_BUILD" "$S2"; then
	fail "the second instance did not start: $(tail -n 3 "$S2/seald.log")"
	return 0
fi
pids=""
t0=$(date +%s.%N)
load "$IT_SOCK" a
load "$S2/seald.sock" b
# shellcheck disable=SC2086 # the clients' pids, not seald's
wait $pids
t1=$(date +%s.%N)
cat "$W/a.out" "$W/b.out" >"$W/all.out"
grep -q '^error' "$W/all.out" && fail "errors: $(grep -m3 '^error' "$W/all.out")"
[ "$(grep -c '^ok demo-1 ' "$W/all.out")" = 240 ] || fail "demo-1 replies: $(grep -c '^ok demo-1 ' "$W/all.out")"
[ "$(grep -c '^ok scale-2 ' "$W/all.out")" = 240 ] || fail "scale-2 replies: $(grep -c '^ok scale-2 ' "$W/all.out")"
note "480 signatures on two instances in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s"

tid "each reply is its instance's entry exactly once; the chains do not mix"
while read -r _ inst seq _ rid; do
	printf "('%s',%s,'%s'),\n" "$inst" "$seq" "$rid"
done <"$W/all.out" | sed '$ s/,$//' >"$W/values.sql"
got=$(psql_q "select count(*) from ledger_entries e join (values $(cat "$W/values.sql")) v(i, s, r)
    on e.instance = v.i and e.seq = v.s and e.request_id = v.r")
[ "$got" = 480 ] || fail "replies found in the ledger: $got of 480"
[ "$(psql_q "select count(*) from ledger_entries where request_id like 't-scale-%'")" = 480 ] ||
	fail "t-scale entries: $(psql_q "select count(*) from ledger_entries where request_id like 't-scale-%'")"

tid "sealctl ledger verify accepts both chains"
seald_stop "$S2" >/dev/null 2>&1
out=$("$IT_BUILD/sealctl" ledger verify --db "$(pg_conninfo "$IT_DIR" seald)" 2>&1) ||
	fail "ledger verify: $out"
grep -q '^instance scale-2: OK' <<<"$out" || fail "scale-2: $out"
grep -q '^instance demo-1: OK' <<<"$out" || fail "demo-1: $out"

tid "an instance with 64 HSM sessions (a network HSM's) holds at most 12 database connections"
# its workers share the lookup connections (at most 8): one per session
# would take 64 of PostgreSQL's slots (50 in this cluster, 100 by
# default), and a second instance would find none left
S3=$W/c
it_instance "$S3" scale-3 -e "s/^  sessions: .*/  sessions: 64/"
grep -q '^  sessions: 64' "$S3/seald.yaml" || fail "config: $(grep -A3 '^pkcs11' "$S3/seald.yaml")"
conns() { psql_q "select count(*) from pg_stat_activity where application_name = 'seald'"; }
before=$(conns)
if ! seald_start "$IT_BUILD" "$S3"; then
	fail "the 64-session instance did not start: $(tail -n 3 "$S3/seald.log")"
	return 0
fi
python3 "$(dirname "${BASH_SOURCE[0]}")/sealclient.py" timed 3 32 "t-scale-64-$RANDOM" "$S3/seald.sock" >"$W/c.out"
held=$(( $(conns) - before ))
note "$(grep -c '^ok' "$W/c.out") signed by 32 clients in 3 s; the instance holds $held connections"
grep -q '^error' "$W/c.out" && fail "errors: $(grep -m3 '^error' "$W/c.out")"
[ "$(grep -c '^ok' "$W/c.out")" -gt 0 ] || fail "nothing signed"
[ "$held" -le 12 ] || fail "$held database connections for one instance"
seald_stop "$S3" >/dev/null 2>&1
