# shellcheck shell=bash
# t_hsm_fault.sh — HSM faults heal without a restart.  A second seald
# (instance fault-1, own socket) loads tests/fault/p11fault.c, which
# forwards to the same SoftHSM token and fails or hangs on command.  During
# a fault requests get 503 hsm_unavailable (never a bad signature); after
# it clears seald re-opens sessions, logs in again, and signs within 1 s.

F=$IT_DIR/fault
FAULT=$F/command
mkdir -p "$F"
: >"$FAULT"
if [ ! -f "$IT_BUILD/tests/libp11fault.so" ]; then
	tid "fault module"
	fail "no $IT_BUILD/tests/libp11fault.so (make check builds it)"
	return 0
fi
# the module is not in a system folder: allow the build's (and only it)
it_instance "$F" fault-1 -e "s|^  module: .*|  module: $IT_BUILD/tests/libp11fault.so\n  module_dirs: [$IT_BUILD/tests]|" \
    -e "s|^  level: .*|  level: info|"
export SEALD_FAULT_FILE=$FAULT

tid "seald starts on the fault-injection module"
if ! seald_start "$IT_BUILD" "$F"; then
	fail "seald did not start: $(tail -n 5 "$F/seald.log")"
	return 0
fi
IT_SOCK=$F/seald.sock
http_req GET /v1/keys
jq -r '.keys[] | select(.name=="demo-ec") | .public_key' "$IT_BODY" >"$F/ec.pub"
printf 'fault evidence\n' >"$F/doc"
d=$(openssl dgst -sha256 -binary "$F/doc" | base64 -w0)
n=0

# sign_ok WHAT: one signature that must succeed and verify
sign_ok() {
	n=$((n + 1))
	sign_json demo-ec "$d" sha256 "t-fault-$n-$RANDOM"
	expect_code 200 "$1" || return 1
	jq -r .signature "$IT_BODY" | base64 -d >"$F/sig"
	openssl dgst -sha256 -verify "$F/ec.pub" -signature "$F/sig" "$F/doc" \
	    >/dev/null 2>&1 || fail "$1: signature does not verify"
}

# sign_503 WHAT: one request that must fail with hsm_unavailable
sign_503() {
	n=$((n + 1))
	sign_json demo-ec "$d" sha256 "t-fault-$n-$RANDOM"
	expect_code 503 "$1" || return 1
	[ "$(json_str code)" = hsm_unavailable ] || fail "$1: $(cat "$IT_BODY")"
}

# until_ok MS WHAT: sign until it works; fail if that takes over MS
until_ok() {
	local start ms i
	start=$(date +%s%N)
	for i in $(seq 1 100); do
		n=$((n + 1))
		sign_json demo-ec "$d" sha256 "t-fault-$n-$RANDOM"
		[ "$HTTP_CODE" = 200 ] && break
		[ "$HTTP_CODE" = 503 ] || fail "$2: HTTP $HTTP_CODE during recovery"
		sleep 0.05
	done
	ms=$(( ($(date +%s%N) - start) / 1000000 ))
	note "$2: signing again after ${ms} ms"
	[ "$HTTP_CODE" = 200 ] || { fail "$2: no recovery: $(cat "$IT_BODY")"; return 1; }
	[ "$ms" -le "$1" ] || fail "$2: recovery took ${ms} ms (limit $1)"
}

tid "a lost session (CKR_SESSION_HANDLE_INVALID) is replaced within the same request"
sign_ok "before the fault"
echo "once CKR_SESSION_HANDLE_INVALID" >"$FAULT"
sign_ok "request hitting the invalid session"
[ ! -s "$FAULT" ] || fail "the fault was never hit"
grep -q 'retrying on a new session' "$F/seald.log" || fail "no retry in the log"
sign_ok "next request"

tid "a removed token (CKR_DEVICE_REMOVED): 503 and /readyz down while it lasts"
echo CKR_DEVICE_REMOVED >"$FAULT"
sign_503 "sign while the token is gone"
sign_503 "sign while the token is still gone"
http_req GET /readyz
expect_code 503 "readyz during the fault"
[ "$(jq -r .hsm "$IT_BODY")" = false ] || fail "readyz: $(cat "$IT_BODY")"

tid "after the token returns, seald re-initializes, logs in and signs within 1 s"
: >"$FAULT"
until_ok 1000 "token back"
sign_ok "steady again"
http_req GET /readyz
expect_code 200 "readyz after recovery"
grep -q 're-initialized' "$F/seald.log" || fail "log does not say it re-initialized"

tid "readiness: down from the first failed signature, up with the first that works"
# CKR_FUNCTION_FAILED: the token answers (a session's state, a new
# session's login) but signs nothing; readiness must not say otherwise,
# and must come back by itself once the token signs (seald's own test
# signature), before any client tries
echo CKR_FUNCTION_FAILED >"$FAULT"
sign_503 "the first failed signature"
http_req GET /readyz
expect_code 503 "readyz right after the first failure"
sleep 1.5
http_req GET /readyz
expect_code 503 "readyz 1.5 s into the fault (the token still answers its probes)"
: >"$FAULT"
await_ready 200 3 || fail "not ready 3 s after the token signs again: $(cat "$IT_BODY")"
sign_ok "after the fault"

tid "token not present and general errors heal the same way"
for code in CKR_TOKEN_NOT_PRESENT CKR_GENERAL_ERROR CKR_DEVICE_ERROR; do
	echo "$code" >"$FAULT"
	sign_503 "during $code"
	: >"$FAULT"
	until_ok 1000 "after $code"
done

tid "a hung HSM call does not block other clients forever"
echo hang >"$FAULT"
pids=""
hung_id=t-hang-$RANDOM
for i in 1 2 3 4; do
	curl -s --max-time 30 --unix-socket "$IT_SOCK" -o "$F/hung.$i" \
	    -H 'Content-Type: application/json' -d "{\"key\":\"demo-ec\",\"digest\":\"$d\",\"digest_alg\":\"sha256\",\"request_id\":\"$hung_id-$i\"}" \
	    http://localhost/v1/sign &
	pids="$pids $!"
done
sleep 0.5
# a retry of a hung request waits behind it for 5 s at most, then goes
# on as any request does: every session hung, 503 after its 5 s in the
# queue, while the hang lasts
curl -s --max-time 30 --unix-socket "$IT_SOCK" -o "$F/copy" -w '%{http_code} %{time_total}' \
    -H 'Content-Type: application/json' -d "{\"key\":\"demo-ec\",\"digest\":\"$d\",\"digest_alg\":\"sha256\",\"request_id\":\"$hung_id-1\"}" \
    http://localhost/v1/sign >"$F/copy.code" &
copy_pid=$!
# the HTTP front never waits for the HSM: health answers at once, and
# readiness says the HSM is not ready once the probe hangs
t0=$(date +%s%N)
http_req GET /healthz
expect_code 200 "healthz during the hang"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$ms" -lt 1000 ] || fail "healthz took ${ms} ms during the hang"
slow=0
for _ in $(seq 1 50); do
	t0=$(date +%s%N)
	http_req GET /readyz
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	[ "$ms" -lt 1000 ] || slow=$ms
	[ "$HTTP_CODE" = 503 ] && break
	sleep 0.1
done
expect_code 503 "readyz during the hang (within 5 s)"
[ "$(jq -r .hsm "$IT_BODY")" = false ] || fail "readyz: $(cat "$IT_BODY")"
[ "$slow" = 0 ] || fail "readyz took ${slow} ms during the hang"
start=$(date +%s)
sign_503 "a fifth request while every session hangs"
took=$(( $(date +%s) - start ))
note "answered after ${took} s"
[ "$took" -le 8 ] || fail "the fifth request waited ${took} s"
wait "$copy_pid"
read -r code secs <"$F/copy.code"
note "the retry of a hung request: HTTP $code after $secs s"
[ "$code" = 503 ] && [ "$(jq -r .error.code "$F/copy")" = hsm_unavailable ] ||
	fail "the retry of a hung request: HTTP $code $(head -c 200 "$F/copy")"
awk -v s="$secs" 'BEGIN { exit !(s >= 9 && s < 14) }' ||
	fail "the retry of a hung request answered after $secs s, not 5 s waiting and 5 s queued"
http_req GET /metrics
grep -q '^seald_sign_copies_around_total [1-9]' "$IT_BODY" ||
	fail "no copy counted around: $(grep copies "$IT_BODY")"
: >"$FAULT"
# shellcheck disable=SC2086
wait $pids
until_ok 2000 "after the hang"

tid "a request waits 5 s in all for an HSM session, when a hung call outside the workers holds one"
# after a failed signature the monitor tries a test signature each second;
# once that hangs it holds a session the workers do not have: four hung
# requests take the other three and leave a worker waiting for one, and a
# fifth, queued behind them, must not wait for a worker and then again
# for a session
echo CKR_FUNCTION_FAILED >"$FAULT"
sign_503 "a failed signature (the monitor then tests the token itself)"
echo hang >"$FAULT"
sleep 2.5
pids=""
for i in 1 2 3 4; do
	curl -s --max-time 30 --unix-socket "$IT_SOCK" -o /dev/null \
	    -H 'Content-Type: application/json' -d "{\"key\":\"demo-ec\",\"digest\":\"$d\",\"digest_alg\":\"sha256\",\"request_id\":\"$hung_id-held-$i\"}" \
	    http://localhost/v1/sign &
	pids="$pids $!"
done
sleep 1
t0=$(date +%s%N)
sign_503 "a request queued behind a worker that waits for a session"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
note "answered after $ms ms"
[ "$ms" -lt 7500 ] ||
	fail "it waited $ms ms: 5 s in the queue and then 5 s more for a session"
: >"$FAULT"
# shellcheck disable=SC2086
wait $pids
until_ok 2000 "after the held session"

tid "no failed request left a ledger row; every recorded signature verifies"
rows=$(psql_q "select count(*) from ledger_entries where instance = 'fault-1'")
note "$rows rows for instance fault-1"
psql_q "select encode(signature, 'hex') from ledger_entries where instance = 'fault-1' and key_name = 'demo-ec'" |
while read -r hex; do
	printf '%b' "$(sed 's/../\\x&/g' <<<"$hex")" >"$F/row.sig"
	openssl dgst -sha256 -verify "$F/ec.pub" -signature "$F/row.sig" "$F/doc" \
	    >/dev/null 2>&1 || echo bad
done >"$F/verify.out"
[ ! -s "$F/verify.out" ] || fail "$(wc -l <"$F/verify.out") recorded signatures do not verify"
seald_stop "$F"

tid "a token that keeps no data objects: seald says so once and witnesses its head in the file"
sed -i "s|^ledger:\$|ledger:\n  witness_file: $F/head.note|" "$F/seald.yaml"
if ! SEALD_FAULT_NO_DATA=1 seald_start "$IT_BUILD" "$F"; then
	fail "seald did not start: $(tail -n 5 "$F/seald.log")"
	return 0
fi
sign_ok "a signature on a token without data objects" || true
for _ in $(seq 1 100); do
	[ -s "$F/head.note" ] && break
	sleep 0.1
done
[ "$(head -n 1 "$F/head.note" 2>/dev/null)" = "seald/fault-1" ] ||
	fail "no signed head in the file: $(cat "$F/head.note" 2>&1)"
[ "$(grep -c 'the token keeps no data objects: the signed head is witnessed in ledger.witness_file only' "$F/seald.log")" = 1 ] ||
	fail "log: $(grep -i 'data object' "$F/seald.log")"
seald_stop "$F"

# quirk VAR=VALUE...: seald on the fault module with these settings
# (tests/fault/p11fault.c), 8 clients x 15 signatures: all signed, a
# checkpoint's head kept in the token, never a re-initialization of the
# module; its log of this run in $F/quirk.log
quirk() {
	local log=$F/seald.log from rc=0 v
	from=$(wc -l <"$log")
	for v in "$@"; do
		export "${v?}"
	done
	seald_start "$IT_BUILD" "$F" || rc=$?
	for v in "$@"; do
		unset "${v%%=*}"
	done
	if [ "$rc" != 0 ]; then
		fail "seald did not start: $(tail -n 5 "$log")"
		return 1
	fi
	python3 "$here/sealclient.py" "$F/seald.sock" 8 15 "t-quirk-$RANDOM" demo-ec >"$F/quirk.out" 2>&1
	[ "$(grep -c '^ok ' "$F/quirk.out")" = 120 ] ||
		fail "$(grep -vc '^ok ' "$F/quirk.out") of 120 not signed: $(grep -v '^ok ' "$F/quirk.out" | head -n 2)"
	sleep 6 # a checkpoint by time (checkpoint_seconds: 5)
	seald_stop "$F"
	tail -n +"$((from + 1))" "$log" >"$F/quirk.log"
	! grep -q 're-initializing the PKCS#11 module' "$F/quirk.log" ||
		fail "seald re-initialized the module for a session limit"
	! grep -q 'signed head was not stored in the token\|HSM session:' "$F/quirk.log" ||
		fail "$(grep -m1 'signed head was not stored in the token\|HSM session:' "$F/quirk.log")"
	grep -q "closing checkpoint" "$F/quirk.log" || fail "no closing checkpoint"
}

tid "a token that opens 3 sessions and does not say so: seald goes on with 2, keeps one for its read-write work, and says so"
sed -i "/^  witness_file:/d" "$F/seald.yaml"
quirk SEALD_FAULT_MAX_SESSIONS=3
n_said=$(grep -c 'opens no more sessions (CKR_SESSION_COUNT): seald goes on with 2 of the 4' "$F/quirk.log" || true)
[ "$n_said" -ge 1 ] || fail "the log does not say it: $(grep -i session "$F/quirk.log" | head -n 3)"

tid "a token that says it opens 3 sessions (ulMaxSessionCount): seald signs on 2 from the start"
quirk SEALD_FAULT_MAX_SESSIONS=3 SEALD_FAULT_SAY_MAX=1
grep -q 'the token opens at most 3 sessions: seald signs on 2, not the 4 of pkcs11.sessions' "$F/quirk.log" ||
	fail "the log does not say it: $(grep -i session "$F/quirk.log" | head -n 3)"
! grep -q 'CKR_SESSION_COUNT' "$F/quirk.log" || fail "a session refused all the same"

tid "a key that wants the PIN for each signature (CKA_ALWAYS_AUTHENTICATE): seald logs in before each one"
quirk SEALD_FAULT_ALWAYS_AUTH=1
! grep -q 'CKA_ALWAYS_AUTHENTICATE' "$F/quirk.log" || fail "$(grep -m1 CKA_ALWAYS_AUTHENTICATE "$F/quirk.log")"

tid "a token without RSA-PSS: a key with rsa_scheme pss stops the start (exit 1), naming the mechanism"
export SEALD_FAULT_NO_MECH=CKM_RSA_PKCS_PSS
expect_refused_start "$F" 1 "key test-rsa-pss: the token does not sign with CKM_RSA_PKCS_PSS"
unset SEALD_FAULT_NO_MECH

tid "a module that does not say a session is logged in: the login meets CKR_USER_ALREADY_LOGGED_IN, taken as logged in"
: >"$F/fault.log"
quirk SEALD_FAULT_LOGIN_UNSAID=1 SEALD_FAULT_LOG="$F/fault.log"
n_already=$(grep -c '^already$' "$F/fault.log" || true)
note "$n_already logins answered CKR_USER_ALREADY_LOGGED_IN"
[ "$n_already" -ge 1 ] || fail "no login met CKR_USER_ALREADY_LOGGED_IN: the case was not made"
