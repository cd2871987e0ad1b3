# shellcheck shell=bash
# t_run_ha.sh — `make run-ha` as a user meets it: tools/devenv.sh run-ha
# makes the pg_auto_failover cluster and the token in its state folder,
# starts seald on both nodes' conninfo and prints the commands to try.
# Its curl command signs; its `perform failover` command moves the primary
# and the same seald signs again; Ctrl-C (SIGTERM here) stops seald and
# every server of the cluster.

need_seald || return 0
R=$IT_DIR/runha
mkdir -p "$R"
tid "make run-ha: the cluster made, seald serving, the printed commands work"
if ! port=$(ha_free_port); then
	fail "pg_autoctl is not installed (make check installs pg-auto-failover-cli)"
	return 0
fi
it_at_exit "ha_stop '$R'"
SEALD_STATE=$R SEALD_HA_PORT=$port setsid bash "$IT_ROOT/tools/devenv.sh" run-ha "$IT_BUILD" \
    >"$R/out" 2>&1 </dev/null &
dev=$!
it_at_exit "kill -TERM $dev 2>/dev/null"
for _ in $(seq 1 600); do
	grep -q 'seald is running' "$R/out" && break
	kill -0 "$dev" 2>/dev/null || break
	sleep 0.1
done
if ! grep -q 'seald is running' "$R/out"; then
	fail "make run-ha did not serve: $(tail -n 5 "$R/out")"
	return 0
fi
sleep 0.5 # the rest of the text
# the printed command that names a tool, run as printed
printed() { grep -m1 "^  .*$1" "$R/out" | sed 's/^  //'; }
grep -q "host=$R/pgsock,$R/pgsock port=$((port + 1)),$((port + 2)) .*target_session_attrs=read-write" "$R/seald.yaml" ||
	fail "seald.yaml: $(grep conninfo "$R/seald.yaml")"
bash -c "$(printed 'curl -s --unix-socket')" >"$R/sign.out" 2>&1
[ "$(jq -r .ledger.seq /tmp/seald-demo.json 2>/dev/null)" -ge 1 ] 2>/dev/null ||
	fail "the printed curl: $(head -c 300 "$R/sign.out")"
bash -c "$(printed 'show state')" >"$R/state.out" 2>&1 ||
	fail "show state: $(tail -n 3 "$R/state.out")"
grep -q 'primary' "$R/state.out" && grep -q 'secondary' "$R/state.out" ||
	fail "show state: $(cat "$R/state.out")"
before=$(ha_primary "$R")
t0=$(date +%s%N)
timeout 120 bash -c "$(printed 'perform failover')" >"$R/failover.out" 2>&1 ||
	fail "perform failover: $(tail -n 3 "$R/failover.out")"
ha_await "$R" 60 || fail "not whole after the failover: $(ha_state "$R")"
after=$(ha_primary "$R")
note "perform failover: node$before to node$after in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
[ -n "$after" ] && [ "$after" != "$before" ] || fail "the primary did not move: $(ha_state "$R")"
IT_SOCK=$(cat "$R/seald.sockpath") await_ready 200 15 || fail "seald not ready after the failover"
IT_SOCK=$(cat "$R/seald.sockpath") sign_json demo-ec "$(digest_b64 sha256 runha)" sha256 "t-runha-$RANDOM"
expect_code 200 "a signature after the failover"

tid "make run-ha: Ctrl-C stops seald and the whole cluster"
kill -TERM "$dev"
for _ in $(seq 1 300); do
	kill -0 "$dev" 2>/dev/null || break
	sleep 0.1
done
kill -0 "$dev" 2>/dev/null && fail "devenv still runs 30 s after SIGTERM"
left=$(pgrep -f "$R/(ha|pgsock)" || true)
[ -z "$left" ] || fail "left running: $(ps -o cmd= -p "${left//$'\n'/,}" | head -n 3)"
grep -q 'stopping seald and PostgreSQL' "$R/out" || fail "$(tail -n 3 "$R/out")"
