# shellcheck shell=bash
# t_policy.sh — the policy file decides: two users get different answers
# to the same request, a denial names its rule, callers see only their own
# keys, every signature records the policy that allowed it, and SIGHUP
# reloads atomically (an invalid file keeps the old policy), also while a
# client keeps signing.

need_seald || return 0
P=$IT_DIR/policy.yaml
W=$IT_DIR/t_policy
mkdir -p "$W"
cp "$P" "$W/original.yaml"
it_at_exit 'cp "$W/original.yaml" "$P"; kill -HUP "$(cat "$IT_DIR/seald.pid")" 2>/dev/null'
d=$(digest_b64 sha256 "policy")
hash_of() { openssl dgst -sha256 -r "$1" | cut -d' ' -f1; }
# as_other BODY: POST /v1/sign as the second client
as_other() {
	http_req -u "$IT_OTHER_USER" POST /v1/sign "$1"
}
body() { # KEY EVIDENCE_JSON REQID
	printf '{"key":"%s","digest":"%s","digest_alg":"sha256","request_id":"%s"%s}' \
	    "$1" "$d" "$3" "${2:+,\"evidence\":$2}"
}

if [ -z "$IT_OTHER_USER" ]; then
	tid "policy tests"
	skip "need a second client user (root or sudo)"
	return 0
fi

tid "the policy in force is in the ledger, and each signature carries its hash"
h=$(hash_of "$P")
[ "$(psql_q "select count(*) from ledger_entries where kind = 'policy' and detail = 'loaded' and encode(policy_hash, 'hex') = '$h'")" -ge 1 ] ||
	fail "no 'loaded' entry with the policy's SHA-256"
sign_json demo-ec "$d" sha256 "t-pol-hash-$RANDOM"
expect_code 200 sign
[ "$(psql_q "select encode(policy_hash, 'hex') from ledger_entries where instance = 'demo-1' and seq = $(jq -r .ledger.seq "$IT_BODY")")" = "$h" ] ||
	fail "the signature's policy_hash is not the policy file's SHA-256"

tid "two users, the same request, different answers"
http_req POST /v1/sign "$(body demo-rsa '{"type":"submission"}' "t-pol-two-$RANDOM")"
expect_code 200 "local signs with demo-rsa"
as_other "$(body demo-rsa '{"type":"submission"}' "t-pol-two-$RANDOM")"
expect_code 404 "ci-other asks for demo-rsa"
[ "$(jq -r .error.code "$IT_BODY")" = unknown_key ] || fail "$(cat "$IT_BODY")"

tid "a denial names its reason and rule"
as_other "$(body demo-ec '{"type":"receipt"}' "t-pol-ev-$RANDOM")"
expect_code 403 "evidence type not in the allow-list"
[ "$(jq -r .error.code "$IT_BODY")" = policy_denied ] || fail "$(cat "$IT_BODY")"
jq -r .error.message "$IT_BODY" | grep -q 'evidence_type_not_allowed.*clients\.ci-other\.allow\[0\]' ||
	fail "message: $(jq -r .error.message "$IT_BODY")"
as_other "$(body demo-ec '' "t-pol-noev-$RANDOM")"
expect_code 403 "evidence required"
jq -r .error.message "$IT_BODY" | grep -q evidence_required || fail "$(cat "$IT_BODY")"
as_other "$(body demo-ec '{"type":"handover"}' "t-pol-ok-$RANDOM")"
expect_code 200 "allowed evidence type"

tid "GET /v1/keys lists only the caller's keys"
http_req -u "$IT_OTHER_USER" GET /v1/keys
[ "$(jq -r '[.keys[].name] | join(",")' "$IT_BODY")" = demo-ec ] ||
	fail "ci-other sees: $(jq -c '[.keys[].name]' "$IT_BODY")"
http_req GET /v1/keys
[ "$(jq '.keys | length' "$IT_BODY")" = 5 ] || fail "local sees $(jq -c '[.keys[].name]' "$IT_BODY")"

tid "SIGHUP with a valid policy: new rules apply, the reload is a ledger entry"
sed 's/^      - keys: \[demo-ec\]$/      - keys: [demo-ec, demo-rsa]/' "$W/original.yaml" >"$W/wider.yaml"
policy_reload "$W/wider.yaml"
as_other "$(body demo-rsa '{"type":"submission"}' "t-pol-wide-$RANDOM")"
expect_code 200 "ci-other with demo-rsa after the reload"
[ "$(psql_q "select detail || ' ' || encode(policy_hash, 'hex') from ledger_entries where instance = 'demo-1' and kind = 'policy' order by seq desc limit 1")" = "reload accepted $(hash_of "$W/wider.yaml")" ] ||
	fail "last policy entry: $(psql_q "select detail from ledger_entries where kind = 'policy' order by seq desc limit 1")"
[ "$(psql_q "select encode(policy_hash, 'hex') from ledger_entries where instance = 'demo-1' and seq = $(jq -r .ledger.seq "$IT_BODY")")" = "$(hash_of "$W/wider.yaml")" ] ||
	fail "the new signature does not carry the new policy's hash"

tid "SIGHUP with an invalid policy keeps the old one and records the refusal"
{ cat "$W/wider.yaml"; printf 'surprise: 1\n'; } >"$W/broken.yaml"
line=$(wc -l <"$W/broken.yaml")
policy_reload "$W/broken.yaml"
as_other "$(body demo-rsa '{"type":"submission"}' "t-pol-keep-$RANDOM")"
expect_code 200 "the old (wider) policy still applies"
last=$(psql_q "select detail from ledger_entries where instance = 'demo-1' and kind = 'policy' order by seq desc limit 1")
case "$last" in
"reload refused: $P:$line:1: "*) ;;
*) fail "last policy entry: $last" ;;
esac
grep -q "policy reload refused.*policy.yaml:$line:1" "$IT_DIR/seald.log" || fail "no file:line:col in the log"

tid "a replay after a key version change does not carry the new certificate"
rid="t-pol-ver-$RANDOM"
sign_json demo-ec "$d" sha256 "$rid"
expect_code 200 "sign under version 1"
sed 's/^    label: seald-demo-ec$/    label: seald-demo-ec\n    version: 2/' "$W/original.yaml" >"$W/v2.yaml"
policy_reload "$W/v2.yaml"
sign_json demo-ec "$d" sha256 "$rid"
expect_code 200 "replay under version 2"
[ "$(jq -r '"\(.replayed) \(.key_version) \(.certificate)"' "$IT_BODY")" = "true 1 null" ] ||
	fail "replay: $(jq -c '{replayed, key_version, cert: (.certificate != null)}' "$IT_BODY")"
sign_json demo-ec "$d" sha256 "$rid-new"
[ "$(jq -r '.key_version' "$IT_BODY")" = 2 ] || fail "a new signature is not version 2"
jq -e '.certificate | startswith("-----BEGIN")' "$IT_BODY" >/dev/null || fail "a new signature has no certificate"

tid "rate limit: burst then 429 rate_limited; refused requests are not signed"
cat "$W/original.yaml" >"$W/rate.yaml"
sed -i 's/^  ci-other:$/  ci-other:\n    rate: {per_second: 0.2, burst: 3}/' "$W/rate.yaml"
policy_reload "$W/rate.yaml"
codes=""
for i in 1 2 3 4 5; do
	as_other "$(body demo-ec '{"type":"submission"}' "t-pol-rate-$i-$RANDOM")"
	codes="$codes $HTTP_CODE"
done
[ "$codes" = " 200 200 200 429 429" ] || fail "codes:$codes"
[ "$(jq -r .error.code "$IT_BODY")" = rate_limited ] || fail "$(cat "$IT_BODY")"
[ "$(psql_q "select count(*) from ledger_entries where request_id like 't-pol-rate-%'")" = 3 ] ||
	fail "rows for rate-limited requests"

tid "100 reloads (valid and invalid in turn) while a client keeps signing"
# A lets ci-other sign handover evidence, B does not; every other reload
# is an invalid file.  Each answer must be A's or B's, nothing else.
sed 's/evidence_types: \[submission, handover\]/evidence_types: [submission]/' \
    "$W/original.yaml" >"$W/B.yaml"
cp "$W/original.yaml" "$W/A.yaml"
policy_reload "$W/A.yaml"
hA=$(hash_of "$W/A.yaml")
(
	end=$((SECONDS + 60))
	i=0
	while [ ! -e "$W/stop" ] && [ "$SECONDS" -lt "$end" ] && [ "$i" -lt 5000 ]; do
		i=$((i + 1))
		b=$(body demo-ec '{"type":"handover"}' "t-pol-load-$i-$RANDOM")
		code=$(printf '%s' "$b" | (cd / && _it_switch "$IT_OTHER_USER" curl -s \
		    --max-time 10 --unix-socket "$IT_SOCK" -H 'Content-Type: application/json' \
		    --data-binary @- -o - -w ' %{http_code}' http://localhost/v1/sign))
		printf '%s\n' "$code" >>"$W/load.out"
	done
) &
loader=$!
for i in $(seq 1 100); do
	case $((i % 4)) in
	1) policy_reload "$W/A.yaml" ;;
	3) policy_reload "$W/B.yaml" ;;
	*) policy_reload "$W/broken.yaml" ;;
	esac
done
touch "$W/stop"
wait "$loader"
n=$(wc -l <"$W/load.out")
ok=$(grep -c ' 200$' "$W/load.out")
denied=$(grep -c 'evidence_type_not_allowed' "$W/load.out" || true)
note "$n requests during the reloads: $ok signed, $denied denied by policy B"
[ "$n" -ge 20 ] || fail "only $n requests ran"
[ "$((ok + denied))" = "$n" ] || fail "other answers: $(grep -v -e ' 200$' -e evidence_type_not_allowed "$W/load.out" | sort | uniq -c | head -5)"
[ "$ok" -gt 0 ] && [ "$denied" -gt 0 ] || fail "both policies should have answered"
bad=$(psql_q "select count(*) from ledger_entries where request_id like 't-pol-load-%' and encode(policy_hash, 'hex') <> '$hA'")
[ "$bad" = 0 ] || fail "$bad signatures recorded under a policy that denies them"
[ "$(psql_q "select count(*) from ledger_entries where kind = 'policy' and detail like 'reload refused%'")" -ge 50 ] ||
	fail "refused reloads are not all recorded"
