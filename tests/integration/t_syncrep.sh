# shellcheck shell=bash
# t_syncrep.sh — the synchronous replication trap.  A primary with one
# synchronous standby (streaming replication, synchronous_standby_names),
# both private clusters on Unix sockets, seald on the primary with
# database.commit_timeout_ms 1000.  Under load the standby is stopped: a
# commit then waits for it for ever and a cancel answers success with only
# a WARNING, so seald bounds each commit itself, answers 503
# ledger_unavailable for what the standby did not confirm, releases
# nothing the primary alone holds (not to retries either) and is not
# ready.  The standby's own copy, read on its own, holds every signature
# that was answered 200.  With the standby back, seald is ready again by
# itself and a retry settles each entry in doubt.

need_seald || return 0
W=$IT_DIR/syncrep
P=$W/p # the primary
S=$W/s # the synchronous standby
mkdir -p "$W" "$P" "$S"
chmod 0711 "$W" "$P" "$S"
BIN=$(pg_bindir)
it_at_exit "pg_stop '$S' immediate >/dev/null 2>&1; pg_stop '$P' immediate >/dev/null 2>&1"
# sq DIR SQL: as the superuser, in database seald of the cluster in DIR
sq() { "$BIN/psql" -X -q -At -v ON_ERROR_STOP=1 "host=$1/pgsock dbname=seald user=postgres" -c "$2"; }

# standby_conf CONNINFO: point the standby at CONNINFO ('' : at nothing)
standby_conf() {
	_pg_as sh -c "cat >>'$S/pg/postgresql.auto.conf'" <<EOF
unix_socket_directories = '$S/pgsock'
primary_conninfo = '$1'
EOF
}

# await_sync SECONDS: the standby streams and is the synchronous one
await_sync() {
	local end=$((SECONDS + $1))
	while [ "$SECONDS" -le "$end" ]; do
		[ "$(sq "$P" "select count(*) from pg_stat_replication
		    where application_name = 'sync1' and sync_state = 'sync'")" = 1 ] && return 0
		sleep 0.2
	done
	return 1
}

tid "a primary and its synchronous standby, seald on the primary"
if ! pg_setup "$P" >"$W/setup.log" 2>&1; then
	fail "primary: $(tail -n 3 "$W/setup.log")"
	return 0
fi
sq "$P" "alter system set synchronous_standby_names = 'sync1'" &&
	sq "$P" "select pg_reload_conf()" >/dev/null || fail "synchronous_standby_names"
mkdir -p "$S/pgsock" && : >"$S/pg.log"
_envlib_is_root && chown postgres: "$S" "$S/pgsock" "$S/pg.log"
if ! _pg_as "$BIN/pg_basebackup" -h "$P/pgsock" -U postgres -D "$S/pg" -R \
	>"$W/basebackup.log" 2>&1; then
	fail "pg_basebackup: $(tail -n 3 "$W/basebackup.log")"
	return 0
fi
standby_conf "host=$P/pgsock user=postgres application_name=sync1"
pg_start "$S" >"$W/start.log" 2>&1 || fail "standby: $(tail -n 3 "$S/pg.log")"
await_sync 30 || fail "the standby is not synchronous: $(sq "$P" "select * from pg_stat_replication")"
SR=$W/seald
it_instance "$SR" syncrep-1 -e "s|$IT_DIR/pgsock|$P/pgsock|g" \
    -e "/^  conninfo:/a\\  commit_timeout_ms: 1000"
grep -q 'commit_timeout_ms: 1000' "$SR/seald.yaml" || fail "config: $(grep -A3 '^database' "$SR/seald.yaml")"
"$IT_BUILD/seald" migrate -c "$SR/seald.yaml" >>"$SR/seald.log" 2>&1 || fail "migrate"
if ! seald_start "$IT_BUILD" "$SR"; then
	fail "seald did not start: $(tail -n 3 "$SR/seald.log")"
	return 0
fi
# a second instance on the same database, for retries sent elsewhere
SR2=$W/seald2
it_instance "$SR2" syncrep-2 -e "s|$IT_DIR/pgsock|$P/pgsock|g" \
    -e "/^  conninfo:/a\\  commit_timeout_ms: 1000"
seald_start "$IT_BUILD" "$SR2" || fail "the second instance: $(tail -n 3 "$SR2/seald.log")"
# retry2: the retry of $doubt sent to the second instance
retry2() {
	python3 - "$SR2/seald.sock" "$here" "$doubt" <<'PY'
import sys
sys.path.insert(0, sys.argv[2])
from sealclient import UnixHTTP, sign
st, body = sign(UnixHTTP(sys.argv[1]), "demo-ec", sys.argv[3])
print(st, body.get("error", {}).get("code", ""), body.get("replayed", ""),
      body.get("ledger", {}).get("instance", ""))
PY
}
IT_SOCK=$SR/seald.sock sign_json demo-ec "$(digest_b64 sha256 sync)" sha256 "t-sync-first-$RANDOM"
expect_code 200 "a signature with the standby up"
IT_SOCK=$SR/seald.sock await_ready 200 10 || fail "not ready with the standby up"

tid "standby stopped under load: nothing unconfirmed is answered 200, /readyz 503, the standby holds every signature released"
# 4 clients for 8 s
python3 "$here/sealclient.py" timed 8 4 t-sync "$SR/seald.sock" >"$W/load.out" &
load=$!
sleep 3
stopped=$(date +%s.%N)
pg_stop "$S" immediate || fail "could not stop the standby"
IT_SOCK=$SR/seald.sock await_ready 503 10 || fail "/readyz still $HTTP_CODE with the standby down"
wait "$load"
ok=$(grep -c '^ok ' "$W/load.out" || true)
late=$(awk -v t="$stopped" '$1 == "ok" && $4 > t + 1.5' "$W/load.out" | wc -l)
errs=$(grep -c '^error .* 503 [0-9.]* 1 ledger_unavailable$' "$W/load.out" || true)
note "$ok signed before the stop, $errs answered 503 ledger_unavailable after it, $late released later than 1.5 s after it"
[ "$ok" -gt 0 ] || fail "nothing was signed before the stop"
[ "$errs" -gt 0 ] || fail "no 503 after the stop: $(tail -n 3 "$W/load.out")"
[ "$late" = 0 ] || fail "$late signatures answered 200 with the standby down"
others=$(grep '^error' "$W/load.out" | grep -v ' 503 [0-9.]* 1 ledger_unavailable$' | head -n 3 || true)
[ -z "$others" ] || fail "other errors: $others"
# the trap was real: some of the refused entries are on the primary
grep '^error' "$W/load.out" | cut -d' ' -f2 | sort >"$W/refused"
sq "$P" "select request_id from ledger_entries where instance = 'syncrep-1'" | sort >"$W/on-primary"
doubt=$(comm -12 "$W/refused" "$W/on-primary" | head -n 1)
[ -n "$doubt" ] || fail "no refused entry is on the primary: the commits were not cut"
# idle, seald tries a commit each second: none is confirmed, it stays
# unready, and a retry of one of them is not released
sleep 3
IT_SOCK=$SR/seald.sock http_req GET /readyz
[ "$HTTP_CODE" = 503 ] || fail "/readyz $HTTP_CODE after 3 idle seconds with the standby down"
python3 - "$SR/seald.sock" "$here" "$doubt" >"$W/retry.out" <<'PY'
import sys
sys.path.insert(0, sys.argv[2])
from sealclient import UnixHTTP, sign
st, body = sign(UnixHTTP(sys.argv[1]), "demo-ec", sys.argv[3])
print(st, body.get("error", {}).get("code", ""), body.get("replayed", ""))
PY
[ "$(cat "$W/retry.out")" = "503 ledger_unavailable " ] ||
	fail "a retry of an entry in doubt, standby down: $(cat "$W/retry.out")"
# nor by the other instance on the same database: it finds the entry,
# but a commit of its own is not confirmed
[ "$(retry2)" = "503 ledger_unavailable  " ] ||
	fail "the other instance, standby down: $(retry2)"
# the standby alone (connected to nothing) holds every signature released
standby_conf ""
pg_start "$S" >>"$W/start.log" 2>&1 || fail "standby alone: $(tail -n 3 "$S/pg.log")"
end=$((SECONDS + 30))
until sq "$S" "select 1" >/dev/null 2>&1 || [ "$SECONDS" -gt "$end" ]; do sleep 0.2; done
sq "$S" "select request_id from ledger_entries where instance = 'syncrep-1'" | sort >"$W/on-standby"
grep '^ok' "$W/load.out" | cut -d' ' -f2 | sort >"$W/released"
missing=$(comm -23 "$W/released" "$W/on-standby" | wc -l)
[ "$(wc -l <"$W/on-standby")" -gt 0 ] || fail "the standby holds no entry"
[ "$missing" = 0 ] || fail "$missing signatures answered 200 are not on the standby"
pg_stop "$S" fast

tid "the standby back: seald is ready by itself, and a retry settles each entry in doubt"
standby_conf "host=$P/pgsock user=postgres application_name=sync1"
pg_start "$S" >>"$W/start.log" 2>&1 || fail "standby: $(tail -n 3 "$S/pg.log")"
await_sync 30 || fail "the standby is not synchronous again"
t0=$(date +%s%N)
IT_SOCK=$SR/seald.sock await_ready 200 15 || fail "not ready again: $(cat "$IT_BODY")"
note "ready $(( ($(date +%s%N) - t0) / 1000000 )) ms after the standby was synchronous again"
python3 - "$SR/seald.sock" "$here" "$doubt" >"$W/retry.out" <<'PY'
import sys
sys.path.insert(0, sys.argv[2])
from sealclient import UnixHTTP, sign
st, body = sign(UnixHTTP(sys.argv[1]), "demo-ec", sys.argv[3])
print(st, body.get("replayed", ""), body.get("ledger", {}).get("seq", ""))
PY
seq=$(sq "$P" "select seq from ledger_entries where instance = 'syncrep-1' and request_id = '$doubt'")
[ "$(cat "$W/retry.out")" = "200 True $seq" ] || fail "the retry of $doubt: $(cat "$W/retry.out"), entry $seq"
IT_SOCK=$SR/seald.sock sign_json demo-ec "$(digest_b64 sha256 sync2)" sha256 "t-sync-after-$RANDOM"
expect_code 200 "a new signature"
IT_SOCK=$SR2/seald.sock await_ready 200 15 || fail "the other instance is not ready again"
[ "$(retry2)" = "200  True syncrep-1" ] || fail "the other instance, standby back: $(retry2)"
seald_stop "$SR2"
grep -q 'not confirmed within 1000 ms' "$SR/seald.log" || fail "the log does not say why"
grep -q 'commits are confirmed again' "$SR/seald.log" || fail "the log does not say it is over"
"$IT_BUILD/sealctl" ledger verify --db "host=$P/pgsock dbname=seald user=seald_verifier" \
    --audit-key "$IT_DIR/certs/seald-audit.pub.pem" >"$W/verify.out" 2>&1 ||
	fail "sealctl ledger verify: $(tail -n 3 "$W/verify.out")"
seald_stop "$SR"
