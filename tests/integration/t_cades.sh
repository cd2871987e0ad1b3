# shellcheck shell=bash
# t_cades.sh — POST /v1/sign with "format":"cades-t": a CAdES-B-T seal in
# one request, the CMS seal with a signature time-stamp of seald's own TSA
# key (the key's tsa_key) as its unsigned attribute.  Stock OpenSSL
# verifies the seal and the token over the signature value; a second
# stack (GnuTLS certtool for the signatures, asn1crypto for the structure
# and the imprint) agrees; sealctl verify --cms checks it offline.  One
# ledger entry holds it with the token's serial and genTime; a retry
# returns the same bytes; the refusals name what is missing.

need_seald || return 0
W=$IT_DIR/t_cades
mkdir -p "$W"
CERTS=$IT_DIR/certs
PY=/usr/bin/python3 # Debian's, where python3-asn1crypto is

# bt ALG: seal a fresh document as cades-t with demo-ec; leaves $doc,
# $doc.p7s and $rid
bt() {
	rid="t-cades-$1-$RANDOM$RANDOM"
	doc=$W/$rid.txt
	printf 'registered delivery evidence %s\n' "$rid" >"$doc"
	sign_json demo-ec "$(openssl dgst "-$1" -binary "$doc" | base64 -w0)" \
	    "$1" "$rid" cades-t
	expect_code 200 "cades-t $1" || return 1
	jq -r .signature "$IT_BODY" | base64 -d >"$doc.p7s"
	cp "$IT_BODY" "$doc.json"
}

tid "a cades-t seal verifies with openssl cms -verify, its token with openssl ts -verify over the signature value"
for alg in sha256 sha384; do
	bt "$alg" || continue
	out=$(openssl cms -verify -binary -inform DER -in "$doc.p7s" -content "$doc" \
	    -CAfile "$CERTS/seald-demo-ec.pem" -out /dev/null 2>&1) ||
		fail "openssl cms -verify ($alg): $out"
	mkdir -p "$W/$alg"
	if ! out=$("$PY" "$here/cades_check.py" "$doc.p7s" "$W/$alg" 2>&1); then
		fail "asn1crypto ($alg): $out"
		continue
	fi
	out=$(openssl ts -verify -data "$W/$alg/sigvalue.bin" -in "$W/$alg/token.der" \
	    -token_in -CAfile "$CERTS/seald-demo-tsa.pem" 2>&1) ||
		fail "openssl ts -verify ($alg): $out"
	# the token is over this seal's signature, not any other data
	printf 'x' >>"$W/$alg/sigvalue.bin"
	openssl ts -verify -data "$W/$alg/sigvalue.bin" -in "$W/$alg/token.der" \
	    -token_in -CAfile "$CERTS/seald-demo-tsa.pem" >/dev/null 2>&1 &&
		fail "openssl ts -verify accepts other data ($alg)"
done
openssl cms -cmsout -print -inform DER -in "$doc.p7s" >"$W/print.txt" 2>&1
grep -q 'id-smime-aa-timeStampToken' "$W/print.txt" ||
	fail "no id-smime-aa-timeStampToken attribute in: $(grep -c . "$W/print.txt") lines"

tid "GnuTLS certtool verifies the seal and the token's signature (a second stack)"
out=$(certtool --p7-verify --inder --infile "$doc.p7s" --load-data "$doc" \
    --load-ca-certificate "$CERTS/seald-demo-ec.pem" 2>&1) ||
	fail "certtool --p7-verify, the seal: $(tail -n 3 <<<"$out")"
out=$(certtool --p7-verify --inder --infile "$W/sha384/token.der" \
    --load-ca-certificate "$CERTS/seald-demo-tsa.pem" 2>&1) ||
	fail "certtool --p7-verify, the token: $(tail -n 3 <<<"$out")"
printf 'changed\n' >>"$doc"
certtool --p7-verify --inder --infile "$doc.p7s" --load-data "$doc" \
    --load-ca-certificate "$CERTS/seald-demo-ec.pem" >/dev/null 2>&1 &&
	fail "certtool accepts a changed document"

tid "one ledger entry holds the seal with its token's serial and genTime; a retry returns the same bytes"
bt sha256
"$PY" "$here/cades_check.py" "$doc.p7s" "$W" >"$W/check.out" 2>&1 || fail "$(cat "$W/check.out")"
serial=$(sed -n 's/^serial //p' "$W/check.out")
row=$(psql_q "select count(*), max(format), max(encode(tsa_serial, 'hex')), max(tsa_policy),
    max(encode(signature, 'hex')), max(signed_at_us)
    from ledger_entries where request_id = '$rid'")
IFS='|' read -r n fmt rserial rpolicy rsig rat <<<"$row"
[ "$n" = 1 ] || fail "$n entries for one seal"
[ "$fmt" = cades-t ] || fail "format $fmt"
[ "$((16#${rserial:-0}))" != 0 ] && [ "$(printf '%s' "$rserial" | sed 's/^0*//')" = "$serial" ] ||
	fail "ledger serial $rserial, token serial $serial"
[ "$rpolicy" = 2.999.1.1 ] || fail "tsa_policy $rpolicy"
[ "$rsig" = "$(od -An -v -tx1 "$doc.p7s" | tr -d ' \n')" ] ||
	fail "the ledger does not hold the seal the client got"
jq -e --arg s "$rserial" '.format == "cades-t" and .timestamp.serial == $s and
    .timestamp.policy == "2.999.1.1" and .timestamp.gen_time == .signed_at' "$IT_BODY" >/dev/null ||
	fail "reply: $(jq -c 'del(.signature, .certificate)' "$IT_BODY")"
# genTime to the microsecond is the entry's time
gen=$(sed -n 's/^gen_time //p' "$W/check.out")
[ "$(date -u -d "$gen" +%s%6N)" = "$rat" ] || fail "genTime $gen, entry time $rat"
psql_q "select count(*) from ledger_entries where tsa_serial = decode('$rserial', 'hex')" |
	grep -qx 1 || fail "the serial is not found like a time-stamp's"
sign_json demo-ec "$(openssl dgst -sha256 -binary "$doc" | base64 -w0)" sha256 "$rid" cades-t
expect_code 200 "retry"
jq -e '.replayed == true' "$IT_BODY" >/dev/null || fail "the retry is not a replay"
[ "$(jq -r .signature "$IT_BODY")" = "$(jq -r .signature "$doc.json")" ] ||
	fail "the retry returned other bytes"
[ "$(psql_q "select count(*) from ledger_entries where request_id = '$rid'")" = 1 ] ||
	fail "the retry made an entry"
# every committed cades-t seal counts in /metrics (a replay does not)
stamped=$(curl -s --max-time 5 --unix-socket "$IT_SOCK" http://localhost/metrics |
    sed -n 's/^seald_seals_stamped_total \([0-9]*\)$/\1/p')
[ "${stamped:-0}" -ge 3 ] || fail "seald_seals_stamped_total is '${stamped}' after 3 seals"

tid "sealctl sign --format cades-t, and sealctl verify --cms checks the seal and its time-stamp offline"
S=$IT_BUILD/sealctl
printf 'sealctl cades-t %s\n' "$RANDOM" >"$W/ctl.txt"
"$S" -s "$IT_SOCK" sign --key demo-ec --file "$W/ctl.txt" --format cades-t \
    --out-sig "$W/ctl.p7s" >"$W/ctl.out" 2>&1 || fail "sealctl sign: $(cat "$W/ctl.out")"
"$S" verify --file "$W/ctl.txt" --cert "$CERTS/seald-demo-ec.pem" --cms "$W/ctl.p7s" \
    --tsa-cert "$CERTS/seald-demo-tsa.pem" >"$W/v.out" 2>&1 || fail "verify: $(cat "$W/v.out")"
grep -q '^cms: OK' "$W/v.out" && grep -q '^signature-time-stamp: OK, genTime' "$W/v.out" ||
	fail "verify said: $(cat "$W/v.out")"
# the TSA is checked against its own anchors: the seal key's certificate
# is not a TSA's
"$S" verify --file "$W/ctl.txt" --cert "$CERTS/seald-demo-ec.pem" --cms "$W/ctl.p7s" \
    >"$W/v2.out" 2>&1 && fail "verify accepted the token without its TSA's certificate"
grep -q '^signature-time-stamp: FAILED' "$W/v2.out" || fail "$(cat "$W/v2.out")"
# a token whose signature is damaged (the last byte of the token is in
# its signature value), the seal's own signature intact
"$PY" "$here/cades_check.py" "$W/ctl.p7s" "$W" >/dev/null || fail "ctl.p7s"
"$PY" - "$W/ctl.p7s" "$W/bad.p7s" <<'PY'
import sys
seal = bytearray(open(sys.argv[1], "rb").read())
tok = open(sys.argv[1].rsplit("/", 1)[0] + "/token.der", "rb").read()
i = bytes(seal).find(tok)
assert i > 0
seal[i + len(tok) - 1] ^= 1
open(sys.argv[2], "wb").write(seal)
PY
"$S" verify --file "$W/ctl.txt" --cert "$CERTS/seald-demo-ec.pem" --cms "$W/bad.p7s" \
    --tsa-cert "$CERTS/seald-demo-tsa.pem" >"$W/v3.out" 2>&1 && fail "verify accepted a damaged token"
grep -q '^cms: OK' "$W/v3.out" && grep -q '^signature-time-stamp: FAILED' "$W/v3.out" ||
	fail "damaged token: $(cat "$W/v3.out")"
# a CAdES-B-B seal says it has no time-stamp, and passes
"$S" -s "$IT_SOCK" sign --key demo-ec --file "$W/ctl.txt" --format cms \
    --out-sig "$W/bb.p7s" >/dev/null 2>&1 || fail "sealctl sign cms"
"$S" verify --file "$W/ctl.txt" --cert "$CERTS/seald-demo-ec.pem" --cms "$W/bb.p7s" \
    >"$W/v4.out" 2>&1 || fail "B-B: $(cat "$W/v4.out")"
grep -q '^signature-time-stamp: none' "$W/v4.out" || fail "B-B: $(cat "$W/v4.out")"

tid "refusals: a key without cades-t (403 format_not_allowed), a client without the TSA key's right (403 naming it)"
d=$(digest_b64 sha256 "cades refusals")
sign_json demo-rsa "$d" sha256 "t-cades-rsa-$RANDOM" cades-t
expect_code 403 "cades-t with demo-rsa"
jq -r .error.message "$IT_BODY" | grep -q format_not_allowed || fail "$(cat "$IT_BODY")"
if [ -n "$IT_OTHER_USER" ]; then
	rows=$(psql_q "select count(*) from ledger_entries")
	SIGN_AS=$IT_OTHER_USER sign_json demo-ec "$d" sha256 "t-cades-other-$RANDOM" cades-t
	expect_code 403 "cades-t by a client without time-stamping rights"
	[ "$(jq -r .error.code "$IT_BODY")" = policy_denied ] || fail "$(cat "$IT_BODY")"
	jq -r .error.message "$IT_BODY" | grep -q 'timestamp on key demo-tsa' ||
		fail "the message does not name the TSA key: $(cat "$IT_BODY")"
	SIGN_AS=$IT_OTHER_USER sign_json demo-ec "$d" sha256 "t-cades-other-$RANDOM" cms
	expect_code 200 "the same client seals in cms"
	[ "$(psql_q "select count(*) from ledger_entries")" = $((rows + 1)) ] ||
		fail "a refused seal reached the ledger"
else
	skip "need a second client user (root or sudo)"
fi

tid "with require_clock_sync, an unsynchronized clock refuses cades-t (503 clock_unsynchronized), signing nothing"
S2=$IT_DIR/cades-sync
it_instance "$S2" cades-sync -e "s|require_clock_sync: false|require_clock_sync: true|"
if seald_start "$IT_BUILD" "$S2"; then
	IT_SOCK=$S2/seald.sock sign_json demo-ec "$d" sha256 "t-cades-sync-$RANDOM" cades-t
	if state=$(clock_unsynced); then
		expect_code 503 "cades-t with an unsynchronized clock"
		[ "$(jq -r .error.code "$IT_BODY")" = clock_unsynchronized ] || fail "$(cat "$IT_BODY")"
		[ "$(psql_q "select count(*) from ledger_entries where instance = 'cades-sync' and kind = 'signature'")" = 0 ] ||
			fail "a refused seal reached the ledger"
		IT_SOCK=$S2/seald.sock sign_json demo-ec "$d" sha256 "t-cades-sync-$RANDOM" cms
		expect_code 200 "cms needs no clock"
	else
		note "the clock is synchronized here (adjtimex $state): the refusal is not exercised"
		expect_code 200 "synchronized clock"
	fi
	seald_stop "$S2"
else
	fail "seald did not start: $(tail -n 3 "$S2/seald.log")"
fi
