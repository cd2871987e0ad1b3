# shellcheck shell=bash
# t_ops.sh — what operators watch: GET /metrics in the Prometheus text
# format (requests by endpoint and status, latency histograms, HSM and
# ledger figures, readiness, keys and certificate days) on both sockets,
# for clients and auditors only; one log line per request that names it
# and never carries the digest; the systemd notifications (READY,
# RELOADING, STOPPING, WATCHDOG) to $NOTIFY_SOCKET.

need_seald || return 0
W=$IT_DIR/t_ops
mkdir -p "$W"

# value NAME_WITH_LABELS: the sample's value in $IT_BODY
value() {
	awk -v k="$1" '$1 == k { print $2 }' "$IT_BODY"
}

tid "GET /metrics: Prometheus text with requests, latency, HSM, ledger and key figures"
dg=$(digest_b64 sha256 "ops metrics")
sign_json demo-ec "$dg" sha256 "t-ops-$RANDOM"
expect_code 200 "a signature to count"
rid=$(jq -r .ledger.seq "$IT_BODY")
http_req GET /metrics
expect_code 200 "metrics"
grep -qi '^text/plain; version=0.0.4' <(curl -s -o /dev/null -w '%{content_type}' \
    --unix-socket "$IT_SOCK" http://localhost/metrics) || fail "content type"
bad=$(grep -v '^#' "$IT_BODY" | grep -Ev '^[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? -?[0-9.e+]+$' | head -n 3)
[ -z "$bad" ] || fail "lines not in the text format: $bad"
# each sample follows its own metric's TYPE line, as the format wants
order=$(awk '/^# TYPE / { cur = $3; next } /^#/ { next }
	{ n = $1; sub(/\{.*/, "", n); b = n; sub(/_(bucket|sum|count)$/, "", b)
	  if (n != cur && b != cur) { print n " after TYPE " cur; exit } }' "$IT_BODY")
[ -z "$order" ] || fail "metric out of place: $order"
grep -q '^seald_managed_keys{state="active"} [0-9]' "$IT_BODY" || fail "no managed keys by state"
[ "$(value 'seald_requests_total{endpoint="sign",code="200"}')" -ge 1 ] || fail "no signing request counted"
[ "$(value 'seald_hsm_sign_duration_seconds_count')" -ge 1 ] || fail "no HSM signature timed"
[ "$(value 'seald_ledger_commit_duration_seconds_count')" -ge 1 ] || fail "no ledger commit timed"
[ -n "$(value 'seald_ledger_lag_entries')" ] || fail "no ledger lag"
[ "$(value 'seald_ready{part="hsm"}')" = 1 ] && [ "$(value 'seald_ready{part="ledger"}')" = 1 ] ||
	fail "readiness: $(grep seald_ready "$IT_BODY")"
days=$(value 'seald_key_certificate_days_left{key="demo-ec",version="1"}')
awk -v d="$days" 'BEGIN { exit !(d > 300 && d < 800) }' || fail "demo-ec certificate days: $days"
inf=$(value 'seald_request_duration_seconds_bucket{endpoint="sign",le="+Inf"}')
cnt=$(value 'seald_request_duration_seconds_count{endpoint="sign"}')
[ -n "$inf" ] && [ "$inf" = "$cnt" ] || fail "the +Inf bucket ($inf) is not the count ($cnt)"
http_req -u "$IT_UNKNOWN_USER" GET /metrics && expect_code 401 "metrics for an unknown uid"
admin_req GET /v1/admin/keys
admin_req GET /metrics
expect_code 200 "metrics on the admin socket"
grep -q '^seald_requests_total{endpoint="admin",code="200"} [1-9]' "$IT_BODY" ||
	fail "admin requests not counted"

tid "one log line per request, with its id and outcome, never the digest"
rq="t-ops-log-$RANDOM"
sign_json demo-ec "$dg" sha256 "$rq"
sleep 0.2
line=$(grep "request endpoint=sign status=200 client=local uid=$(id -u) request_id=$rq key=demo-ec ms=" "$IT_DIR/seald.log")
[ -n "$line" ] || fail "no request line for $rq"
grep -qF "$dg" "$IT_DIR/seald.log" && fail "a digest reached the log"
sign_json no-such-key "$dg" sha256 "t-ops-404-$RANDOM"
sleep 0.2
grep -q "request endpoint=sign status=404 client=local" "$IT_DIR/seald.log" || fail "no line for a refused request"

tid "systemd notifications: READY, RELOADING and READY on SIGHUP (which rereads the log level), WATCHDOG, STOPPING"
N=$W/n
it_instance "$N" ops-1
python3 - "$W/notify.sock" "$W/notify.log" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(30)
with open(sys.argv[2], "a", buffering=1) as log:
    end = time.time() + 30
    while time.time() < end:
        try:
            log.write(s.recv(4096).decode() + "\n")
        except socket.timeout:
            break
PY
lp=$!
for _ in $(seq 50); do [ -S "$W/notify.sock" ] && break; sleep 0.1; done
if NOTIFY_SOCKET=$W/notify.sock WATCHDOG_USEC=400000 seald_start "$IT_BUILD" "$N"; then
	sleep 0.3
	grep -qx 'READY=1' "$W/notify.log" || fail "no READY=1: $(cat "$W/notify.log")"
	kill -HUP "$(cat "$N/seald.pid")"
	sleep 0.6
	grep -qx 'RELOADING=1' "$W/notify.log" || fail "no RELOADING=1"
	[ "$(grep -cx 'READY=1' "$W/notify.log")" -ge 2 ] || fail "no READY=1 after the reload"
	[ "$(grep -cx 'WATCHDOG=1' "$W/notify.log")" -ge 2 ] || fail "watchdog pings: $(grep -cx 'WATCHDOG=1' "$W/notify.log")"
	# SIGHUP also rereads the log level
	sed -i 's/^  level: .*/  level: warn/' "$N/seald.yaml"
	kill -HUP "$(cat "$N/seald.pid")"
	sleep 0.6
	IT_HTTP_SOCK=$N/seald.sock sign_json demo-ec "$dg" sha256 "t-ops-quiet-$RANDOM"
	sed -i 's/^  level: .*/  level: info/' "$N/seald.yaml"
	kill -HUP "$(cat "$N/seald.pid")"
	sleep 0.6
	IT_HTTP_SOCK=$N/seald.sock sign_json demo-ec "$dg" sha256 "t-ops-loud-$RANDOM"
	sleep 0.2
	grep -q 'request_id=t-ops-quiet-' "$N/seald.log" && fail "logged at level warn"
	grep -q 'request_id=t-ops-loud-' "$N/seald.log" || fail "not logged at level info again"
	seald_stop "$N" >/dev/null 2>&1
	sleep 0.2
	grep -qx 'STOPPING=1' "$W/notify.log" || fail "no STOPPING=1"
else
	fail "seald did not start: $(tail -n 3 "$N/seald.log")"
fi
kill "$lp" 2>/dev/null
wait "$lp" 2>/dev/null
