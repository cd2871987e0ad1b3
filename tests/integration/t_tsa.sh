# shellcheck shell=bash
# t_tsa.sh — POST /v1/tsa is RFC 3161 over HTTP: requests made by
# `openssl ts -query` get replies that `openssl ts -reply` reads and
# `openssl ts -verify` accepts with the TSA certificate; nonce, certReq
# and policy are honoured; bad requests get rejection statuses (not
# crashes, not 500s); every token is a ledger entry committed before the
# reply; serial numbers are unique over thousands of tokens and a restart,
# and token times never go back; an unsynchronized clock refuses.

need_seald || return 0
W=$IT_DIR/t_tsa
mkdir -p "$W"
TSA_CERT=$IT_DIR/certs/seald-demo-tsa.pem
POLICY_OID=2.999.1.1

# tsa_post QUERY REPLY [SOCKET [CURL_OPTS...]]: POST a DER request; the
# HTTP status in $code
tsa_post() {
	code=$(curl -s --unix-socket "${3:-$IT_SOCK}" "${@:4}" \
	    -H 'Content-Type: application/timestamp-query' \
	    --data-binary "@$1" -o "$2" -w '%{http_code}' http://localhost/v1/tsa)
}
# reply_text REPLY: openssl's reading of a TimeStampResp
reply_text() {
	openssl ts -reply -in "$1" -text 2>&1
}
# expect_reject QUERY FAILURE_TEXT WHAT: HTTP 200, status Rejection, and
# openssl's name of the failure bit
expect_reject() {
	tsa_post "$1" "$W/rej.tsr"
	[ "$code" = 200 ] || { fail "$3: HTTP $code"; return 1; }
	reply_text "$W/rej.tsr" >"$W/rej.txt"
	grep -q '^Status: Rejected' "$W/rej.txt" && grep -qi "$2" "$W/rej.txt" ||
		fail "$3: $(tr '\n' ' ' <"$W/rej.txt")"
}
# der_req HASH_OID_HEX DIGEST_HEX: a TimeStampReq built byte by byte
der_req() {
	python3 - "$1" "$2" <<'EOF'
import sys
def tlv(t, b):
    n = len(b)
    h = bytes([n]) if n < 128 else bytes([0x81, n])
    return bytes([t]) + h + b
oid, dg = bytes.fromhex(sys.argv[1]), bytes.fromhex(sys.argv[2])
alg = tlv(0x30, tlv(0x06, oid) + b"\x05\x00")
req = tlv(0x30, b"\x02\x01\x01" + tlv(0x30, alg + tlv(0x04, dg)))
sys.stdout.buffer.write(req)
EOF
}

printf 'evidence record %s\n' "$RANDOM$RANDOM" >"$W/doc"

tid "openssl ts -query, POST /v1/tsa, openssl ts -verify (SHA-256, nonce, certificate)"
openssl ts -query -data "$W/doc" -sha256 -cert -out "$W/q.tsq" 2>/dev/null || fail "ts -query"
tsa_post "$W/q.tsq" "$W/r.tsr"
[ "$code" = 200 ] || fail "HTTP $code"
reply_text "$W/r.tsr" >"$W/r.txt"
grep -q '^Status: Granted' "$W/r.txt" || fail "$(head -n 5 "$W/r.txt")"
grep -q "^Policy OID: $POLICY_OID" "$W/r.txt" || fail "policy: $(grep Policy "$W/r.txt")"
grep -q '^Accuracy: 0x01 seconds' "$W/r.txt" || fail "accuracy: $(grep Accuracy "$W/r.txt")"
grep -q '^TSA: DirName:.*CN *= *seald-demo-tsa' "$W/r.txt" || fail "TSA name: $(grep TSA "$W/r.txt")"
nonce=$(openssl ts -query -in "$W/q.tsq" -text 2>/dev/null | sed -n 's/^Nonce: //p')
grep -q "^Nonce: $nonce" "$W/r.txt" || fail "the nonce $nonce is not in the reply"
out=$(openssl ts -verify -queryfile "$W/q.tsq" -in "$W/r.tsr" -CAfile "$TSA_CERT" 2>&1) ||
	fail "ts -verify -queryfile: $out"
out=$(openssl ts -verify -data "$W/doc" -in "$W/r.tsr" -CAfile "$TSA_CERT" 2>&1) ||
	fail "ts -verify -data: $out"
printf 'x' >>"$W/doc.changed"
cat "$W/doc" >>"$W/doc.changed"
openssl ts -verify -data "$W/doc.changed" -in "$W/r.tsr" -CAfile "$TSA_CERT" >/dev/null 2>&1 &&
	fail "a changed document verified"

tid "SHA-384 and SHA-512 imprints; without certReq the token carries no certificate"
for md in sha384 sha512; do
	openssl ts -query -data "$W/doc" "-$md" -no_nonce -out "$W/q-$md.tsq" 2>/dev/null
	tsa_post "$W/q-$md.tsq" "$W/r-$md.tsr"
	[ "$code" = 200 ] || fail "$md: HTTP $code"
	openssl ts -reply -in "$W/r-$md.tsr" -token_out -out "$W/t-$md.der" 2>/dev/null
	openssl cms -cmsout -print -inform DER -in "$W/t-$md.der" >"$W/t-$md.txt" 2>&1
	grep -A1 '^    certificates:' "$W/t-$md.txt" | grep -q '<ABSENT>' ||
		fail "$md: the token carries certificates"
	out=$(openssl ts -verify -queryfile "$W/q-$md.tsq" -in "$W/r-$md.tsr" \
	    -CAfile "$TSA_CERT" -untrusted "$TSA_CERT" 2>&1) || fail "$md: $out"
done

tid "the requested policy is honoured; another one gets unacceptedPolicy"
openssl ts -query -data "$W/doc" -sha256 -tspolicy "$POLICY_OID" -cert -out "$W/qp.tsq" 2>/dev/null
tsa_post "$W/qp.tsq" "$W/rp.tsr"
[ "$code" = 200 ] || fail "HTTP $code"
out=$(openssl ts -verify -queryfile "$W/qp.tsq" -in "$W/rp.tsr" -CAfile "$TSA_CERT" 2>&1) ||
	fail "with the TSA's policy: $out"
openssl ts -query -data "$W/doc" -sha256 -tspolicy 1.2.3.4 -out "$W/qbad.tsq" 2>/dev/null
expect_reject "$W/qbad.tsq" 'TSA policy is not supported' "another policy"

tid "unknown or weak hash algorithms, wrong digest lengths and garbage get rejections"
openssl ts -query -data "$W/doc" -md5 -out "$W/qmd5.tsq" 2>/dev/null
expect_reject "$W/qmd5.tsq" 'unrecognized or unsupported algorithm' "md5"
openssl ts -query -data "$W/doc" -sha1 -out "$W/qsha1.tsq" 2>/dev/null
expect_reject "$W/qsha1.tsq" 'unrecognized or unsupported algorithm' "sha1"
der_req 608648016503040201 "$(printf '%040d' 0)" >"$W/qshort.tsq"
expect_reject "$W/qshort.tsq" 'data submitted has the wrong format' "a 20-byte SHA-256"
printf 'hello, TSA' >"$W/qjunk.tsq"
expect_reject "$W/qjunk.tsq" 'wrong format' "garbage"
{ cat "$W/q.tsq"; printf 'x'; } >"$W/qtrail.tsq"
expect_reject "$W/qtrail.tsq" 'wrong format' "trailing bytes"
: >"$W/qempty.tsq"
expect_reject "$W/qempty.tsq" 'wrong format' "an empty body"
tsa_post "$W/q.tsq" "$W/ct.out" "$IT_SOCK" -H 'Content-Type: application/json'
[ "$code" = 415 ] || fail "a JSON content type: HTTP $code (expected 415)"
http_req GET /healthz
expect_code 200 "seald still serves"

tid "every token is a ledger entry: serial, policy, imprint and the token's bytes"
openssl ts -reply -in "$W/r.tsr" -token_out -out "$W/t.der" 2>/dev/null
serial=$(sed -n 's/^Serial number: 0x//p' "$W/r.txt" | tr 'A-F' 'a-f')
row=$(psql_q "select encode(signature, 'hex'), tsa_policy, digest_alg, encode(digest, 'hex'),
    format, key_name, client from ledger_entries where kind = 'timestamp'
    and tsa_serial = '\\x$serial'::bytea")
[ "$row" = "$(od -An -v -tx1 "$W/t.der" | tr -d ' \n')|$POLICY_OID|sha256|$(openssl dgst -sha256 -r "$W/doc" | cut -d' ' -f1)|rfc3161|demo-tsa|local" ] ||
	fail "ledger row for serial $serial: ${row:0:120}..."
n=$(psql_hash "$IT_CONNINFO" "select count(*) from ledger_entries where kind = 'timestamp'
    and entry_hash = $LEDGER_HASH_SQL")
[ "$n" = "$(psql_q "select count(*) from ledger_entries where kind = 'timestamp'")" ] ||
	fail "the documented encoding matches $n timestamp entries"
"$IT_BUILD/sealctl" ledger verify --db "$IT_CONNINFO" --audit-key "$IT_DIR/certs/seald-audit.pub.pem" \
    >"$W/verify.out" 2>&1 || fail "verify: $(cat "$W/verify.out")"

tid "serial numbers are unique over 2000 tokens and a restart; token times never go back"
# one keep-alive client: requests in order, so times must not decrease
cat >"$W/many.py" <<'EOF'
import sys
from sealclient import UnixHTTP
body = open(sys.argv[2], "rb").read()
c, bad = UnixHTTP(sys.argv[1], timeout=10), 0
for i in range(int(sys.argv[3])):
    c.request("POST", "/v1/tsa", body, {"Content-Type": "application/timestamp-query"})
    r = c.getresponse()
    data = r.read()
    # granted: SEQUENCE { SEQUENCE { INTEGER 0 }, token }
    bad += r.status != 200 or b"\x30\x03\x02\x01\x00" not in data[:10]
print(bad)
EOF
openssl ts -query -data "$W/doc" -sha256 -out "$W/qn.tsq" 2>/dev/null
before=$(psql_q "select count(*) from ledger_entries where kind = 'timestamp'")
bad=$(PYTHONPATH=$(dirname "${BASH_SOURCE[0]}") timeout 120 python3 "$W/many.py" "$IT_SOCK" "$W/qn.tsq" 1500)
[ "$bad" = 0 ] || fail "$bad of 1500 requests failed"
last=$(psql_q "select max(signed_at_us) from ledger_entries where kind = 'timestamp'")
it_restart_seald || fail "restart"
bad=$(PYTHONPATH=$(dirname "${BASH_SOURCE[0]}") timeout 120 python3 "$W/many.py" "$IT_SOCK" "$W/qn.tsq" 500)
[ "$bad" = 0 ] || fail "$bad of 500 requests after the restart failed"
[ "$(psql_q "select count(*) - $before from ledger_entries where kind = 'timestamp'")" = 2000 ] ||
	fail "not 2000 new timestamp entries"
[ "$(psql_q "select count(*) = count(distinct tsa_serial) from ledger_entries where kind = 'timestamp'")" = t ] ||
	fail "a serial number was issued twice"
[ "$(psql_q "select count(*) from (select signed_at_us < lag(signed_at_us) over (order by seq) as back
    from ledger_entries where instance = 'demo-1' and kind = 'timestamp') x where back")" = 0 ] ||
	fail "a token's time went back"
[ "$(psql_q "select min(signed_at_us) >= $last from ledger_entries where kind = 'timestamp' and seq >
    (select max(seq) from ledger_entries where kind = 'timestamp' and signed_at_us = $last)")" = t ] ||
	fail "after the restart a token is older than the last one before it"

tid "POST /v1/timestamp: the same from JSON; the token verifies with openssl ts"
d=$(openssl dgst -sha256 -binary "$W/doc" | base64 -w0)
http_req POST /v1/timestamp "{\"digest\":\"$d\",\"digest_alg\":\"sha256\",\"nonce\":4242}"
if expect_code 200 "timestamp"; then
	jq -r .token "$IT_BODY" | base64 -d >"$W/json.tok"
	out=$(openssl ts -verify -data "$W/doc" -in "$W/json.tok" -token_in -CAfile "$TSA_CERT" 2>&1) ||
		fail "ts -verify of the JSON token: $out"
	openssl ts -reply -in "$W/json.tok" -token_in -text >"$W/json.txt" 2>&1
	grep -q '^Nonce: 0x1092' "$W/json.txt" || fail "nonce: $(grep Nonce "$W/json.txt")"
	[ "$(jq -r '.format, .policy, .key' "$IT_BODY" | tr '\n' ' ')" = "rfc3161 $POLICY_OID demo-tsa " ] ||
		fail "reply: $(head -c 300 "$IT_BODY")"
	[ "$(psql_q "select encode(tsa_serial, 'hex') from ledger_entries where instance = 'demo-1'
	    and seq = $(jq -r .ledger.seq "$IT_BODY")")" = "$(jq -r .serial "$IT_BODY")" ] ||
		fail "the reply's serial is not the ledger's"
fi
http_req POST /v1/timestamp "{\"digest\":\"$d\",\"digest_alg\":\"sha256\",\"cert_req\":false,\"policy\":\"$POLICY_OID\"}"
expect_code 200 "timestamp without certificate"
jq -r .token "$IT_BODY" | base64 -d >"$W/json2.tok"
openssl ts -verify -data "$W/doc" -in "$W/json2.tok" -token_in -CAfile "$TSA_CERT" \
    -untrusted "$TSA_CERT" >/dev/null 2>&1 || fail "the token without certificate does not verify"
http_req POST /v1/timestamp "{\"digest\":\"$d\",\"digest_alg\":\"sha256\",\"policy\":\"1.2.3\"}"
expect_code 403 "another policy"
http_req POST /v1/timestamp "{\"digest\":\"$d\",\"digest_alg\":\"sha384\"}"
expect_code 400 "a wrong digest length"
http_req POST /v1/timestamp "{\"digest\":\"$d\",\"digest_alg\":\"sha256\",\"nonce\":-1}"
expect_code 400 "a negative nonce"
http_req POST /v1/timestamp "{\"digest\":\"$d\",\"digest_alg\":\"sha256\",\"extra\":1}"
expect_code 400 "an unknown field"

tid "sealctl timestamp FILE and sealctl verify (signature, CMS seal, time-stamp)"
S=$IT_BUILD/sealctl
"$S" -s "$IT_SOCK" timestamp "$W/doc" --tsa-cert "$TSA_CERT" --out "$W/ctl.tsr" >"$W/ctl.out" 2>&1 ||
	fail "sealctl timestamp: $(cat "$W/ctl.out")"
grep -q "^policy: $POLICY_OID" "$W/ctl.out" || fail "$(cat "$W/ctl.out")"
out=$(openssl ts -verify -data "$W/doc" -in "$W/ctl.tsr" -CAfile "$TSA_CERT" 2>&1) || fail "openssl on sealctl's reply: $out"
"$S" verify --file "$W/doc" --cert "$TSA_CERT" --tsr "$W/ctl.tsr" >"$W/v.out" 2>&1 ||
	fail "sealctl verify --tsr: $(cat "$W/v.out")"
"$S" verify --file "$W/doc" --cert "$TSA_CERT" --tsr "$W/json2.tok" >"$W/v.out" 2>&1 ||
	fail "sealctl verify of a bare token without certificate: $(cat "$W/v.out")"
"$S" verify --file "$W/doc.changed" --cert "$TSA_CERT" --tsr "$W/ctl.tsr" >"$W/v.out" 2>&1
[ $? = 1 ] || fail "a changed document: $(cat "$W/v.out")"
"$S" verify --file "$W/doc" --cert "$IT_DIR/certs/seald-demo-ec.pem" --tsr "$W/ctl.tsr" >"$W/v.out" 2>&1
[ $? = 1 ] || fail "another certificate: $(cat "$W/v.out")"
# without --tsa-cert: the reply is checked against the request, and the
# signature is said to be unchecked (openssl checks it here)
"$S" -s "$IT_SOCK" timestamp "$W/doc" --out "$W/ctl2.tsr" >"$W/ctl.out" 2>&1 ||
	fail "sealctl timestamp without --tsa-cert: $(cat "$W/ctl.out")"
grep -q '^signature: not checked' "$W/ctl.out" || fail "$(cat "$W/ctl.out")"
out=$(openssl ts -verify -data "$W/doc" -in "$W/ctl2.tsr" -CAfile "$TSA_CERT" 2>&1) ||
	fail "openssl on the reply taken without --tsa-cert: $out"
"$S" -s "$IT_SOCK" timestamp "$W/doc" --policy 1.2.3 --out "$W/bad.tsr" >"$W/ctl.out" 2>&1
[ $? = 1 ] || fail "another policy: $(cat "$W/ctl.out")"
for k in demo-ec demo-rsa test-rsa-pss; do
	"$S" -s "$IT_SOCK" sign --key "$k" --file "$W/doc" --out-sig "$W/$k.sig" >/dev/null 2>&1 &&
		"$S" -s "$IT_SOCK" sign --key "$k" --file "$W/doc" --format cms --out-sig "$W/$k.p7s" >/dev/null 2>&1 ||
		fail "sealctl sign $k"
	cert=$IT_DIR/certs/seald-$k.pem
	[ "$k" = test-rsa-pss ] && cert=$IT_DIR/certs/seald-test-rsa2048.pem
	"$S" verify --file "$W/doc" --cert "$cert" --sig "$W/$k.sig" >"$W/v.out" 2>&1 ||
		fail "verify --sig $k: $(cat "$W/v.out")"
	"$S" verify --file "$W/doc" --cert "$cert" --cms "$W/$k.p7s" >"$W/v.out" 2>&1 ||
		fail "verify --cms $k: $(cat "$W/v.out")"
	"$S" verify --file "$W/doc.changed" --cert "$cert" --cms "$W/$k.p7s" >/dev/null 2>&1 &&
		fail "verify --cms $k accepted a changed document"
	"$S" verify --file "$W/doc.changed" --cert "$cert" --sig "$W/$k.sig" >/dev/null 2>&1 &&
		fail "verify --sig $k accepted a changed document"
done
"$S" verify --file "$W/doc" --cert "$IT_DIR/certs/seald-test-rsa2048.pem" --sig "$W/test-rsa-pss.sig" |
	grep -q 'RSA-PSS' || fail "the PSS signature is not named as such"

tid "the TSA key signs nothing but time-stamps (403 key_usage on /v1/sign)"
sign_json demo-tsa "$(openssl dgst -sha256 -binary "$W/doc" | base64 -w0)" sha256 "t-tsa-sign-$RANDOM"
expect_code 403 "sign with the TSA key"
jq -r .error.message "$IT_BODY" | grep -q key_usage || fail "$(cat "$IT_BODY")"

tid "a client without time-stamping rights gets a rejection (403)"
if [ -n "$IT_OTHER_USER" ]; then
	code=$(_it_switch "$IT_OTHER_USER" curl -s --unix-socket "$IT_SOCK" \
	    -H 'Content-Type: application/timestamp-query' --data-binary @- \
	    -o - -w '%{stderr}%{http_code}' http://localhost/v1/tsa \
	    <"$W/q.tsq" 2>&1 >"$W/other.tsr")
	[ "$code" = 403 ] || fail "HTTP $code"
	reply_text "$W/other.tsr" >"$W/other.txt"
	grep -q '^Status: Rejected' "$W/other.txt" || fail "$(cat "$W/other.txt")"
else
	skip "need a second client user (root or sudo)"
fi

tid "a time-stamping key whose certificate lacks the critical timeStamping EKU is refused"
cp "$IT_DIR/policy.yaml" "$W/policy.orig"
it_at_exit 'policy_reload "$W/policy.orig"'
sed -e 's/^    label: seald-demo-ec$/&\n    usage: [timestamp]\n    tsa_policy: 2.999.1.2/' \
    "$W/policy.orig" >"$W/noeku.yaml"
grep -q 'tsa_policy: 2.999.1.2' "$W/noeku.yaml" || fail "could not write the policy"
policy_reload "$W/noeku.yaml"
last=$(psql_q "select detail from ledger_entries where instance = 'demo-1' and kind = 'policy' order by seq desc limit 1")
case "$last" in
"reload refused: "*"key demo-ec: a TSA certificate needs one extended key usage"*) ;;
*) fail "last policy entry: $last" ;;
esac
policy_reload "$W/policy.orig"

tid "with require_clock_sync, an unsynchronized clock refuses time-stamps (503, timeNotAvailable)"
S=$IT_DIR/tsa-sync
it_instance "$S" tsa-sync -e "s|require_clock_sync: false|require_clock_sync: true|"
if seald_start "$IT_BUILD" "$S"; then
	tsa_post "$W/q.tsq" "$W/sync.tsr" "$S/seald.sock"
	if state=$(clock_unsynced); then
		[ "$code" = 503 ] || fail "unsynchronized clock: HTTP $code"
		reply_text "$W/sync.tsr" >"$W/sync.txt"
		grep -q "^Status: Rejected" "$W/sync.txt" && grep -qi 'time source' "$W/sync.txt" ||
			fail "$(tr '\n' ' ' <"$W/sync.txt")"
		[ "$(psql_q "select count(*) from ledger_entries where instance = 'tsa-sync' and kind = 'timestamp'")" = 0 ] ||
			fail "a refused time-stamp reached the ledger"
		IT_SOCK=$S/seald.sock http_req POST /v1/timestamp \
		    "{\"digest\":\"$d\",\"digest_alg\":\"sha256\"}"
		expect_code 503 "JSON with an unsynchronized clock"
		[ "$(jq -r .error.code "$IT_BODY")" = clock_unsynchronized ] || fail "$(cat "$IT_BODY")"
	else
		note "the clock is synchronized here (adjtimex $state): the refusal is not exercised"
		[ "$code" = 200 ] || fail "synchronized clock: HTTP $code"
	fi
	seald_stop "$S"
else
	fail "seald did not start: $(tail -n 3 "$S/seald.log")"
fi
