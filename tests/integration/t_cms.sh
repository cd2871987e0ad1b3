# shellcheck shell=bash
# t_cms.sh — POST /v1/sign with "format":"cms": a detached CAdES-B-B
# SignedData over the client's digest that stock `openssl cms -verify`
# accepts for the original document, with every key type; its signed
# attributes (content type, message digest, signing time = the ledger's
# time, ESS signing-certificate-v2) and certificate; the ledger keeps the
# very bytes the client got, and a retry returns them again.

need_seald || return 0
W=$IT_DIR/t_cms
mkdir -p "$W"
CERTS=$IT_DIR/certs

# seal KEY ALG: sign a fresh document as CMS; leaves $doc and $doc.p7s
seal() {
	local key=$1 alg=$2
	rid="t-cms-$key-$alg-$RANDOM$RANDOM"
	doc=$W/$rid.txt
	printf 'evidence record %s %s\n' "$key" "$rid" >"$doc"
	sign_json "$key" "$(openssl dgst "-$alg" -binary "$doc" | base64 -w0)" \
	    "$alg" "$rid" cms
	expect_code 200 "cms $key $alg" || return 1
	jq -r .signature "$IT_BODY" | base64 -d >"$doc.p7s"
}

# cms_verify DOC P7S CERT: stock openssl, the key's certificate as trust root
cms_verify() {
	openssl cms -verify -binary -inform DER -in "$2" -content "$1" \
	    -CAfile "$3" -out /dev/null 2>&1
}

# check KEY ALG LABEL: seal, verify with openssl, compare with the ledger
check() {
	local key=$1 alg=$2 cert=$CERTS/$3.pem out row
	seal "$key" "$alg" || return 1
	if ! out=$(cms_verify "$doc" "$doc.p7s" "$cert"); then
		fail "openssl cms -verify refuses $key/$alg: $out"
		return 1
	fi
	[ "$(jq -r .format "$IT_BODY")" = cms ] || fail "$key: format is not cms"
	row=$(psql_q "select encode(signature,'hex'), format from ledger_entries
	    where request_id = '$rid'")
	[ "$row" = "$(od -An -v -tx1 "$doc.p7s" | tr -d ' \n')|cms" ] ||
		fail "$key/$alg: the ledger does not hold the CMS the client got"
}

tid "ECDSA P-256 and P-384 CMS seals verify with openssl cms -verify"
check demo-ec sha256 seald-demo-ec
check demo-ec sha512 seald-demo-ec
check test-ec384 sha384 seald-test-ec384

tid "RSA PKCS#1 v1.5 and RSA-PSS CMS seals verify with openssl cms -verify"
check demo-rsa sha256 seald-demo-rsa
check demo-rsa sha384 seald-demo-rsa
check test-rsa-pss sha256 seald-test-rsa2048
openssl cms -cmsout -print -inform DER -in "$doc.p7s" >"$W/pss.txt" 2>&1
grep -q 'algorithm: rsassaPss' "$W/pss.txt" || fail "the PSS seal does not name rsassaPss"
check test-rsa-pss sha512 seald-test-rsa2048

tid "a changed document or another key's certificate fails verification"
check demo-ec sha256 seald-demo-ec
printf 'x' >>"$doc"
cms_verify "$doc" "$doc.p7s" "$CERTS/seald-demo-ec.pem" >/dev/null &&
	fail "a changed document verified"
seal demo-ec sha256
cms_verify "$doc" "$doc.p7s" "$CERTS/seald-demo-rsa.pem" >/dev/null &&
	fail "verified against a certificate that did not sign it"

tid "signed attributes: content type, digest, signing time of the ledger entry, signing certificate v2"
seal demo-ec sha256
openssl cms -cmsout -print -inform DER -in "$doc.p7s" >"$W/attrs.txt" 2>&1
for a in 'contentType (1.2.840.113549.1.9.3)' 'messageDigest (1.2.840.113549.1.9.4)' \
    'signingTime (1.2.840.113549.1.9.5)' 'id-smime-aa-signingCertificateV2'; do
	grep -q "object: $a" "$W/attrs.txt" || fail "no $a attribute"
done
grep -q 'eContent: <ABSENT>' "$W/attrs.txt" || fail "the seal is not detached"
# signing time = the reply's signed_at (to the second) = the ledger's
st=$(grep -A2 'signingTime' "$W/attrs.txt" | sed -n 's/.*UTCTIME://p')
at=$(jq -r .signed_at "$IT_BODY")
[ "$(date -u -d "$st" +%s)" = "$(date -u -d "$at" +%s)" ] ||
	fail "signing time '$st' is not the reply's '$at'"
[ "$(psql_q "select floor(signed_at_us / 1000000) from ledger_entries where request_id = '$rid'")" = \
    "$(date -u -d "$at" +%s)" ] || fail "the ledger's time differs"
# the certificate in the SignedData is the key's
openssl cms -verify -binary -inform DER -in "$doc.p7s" -content "$doc" -noverify \
    -signer "$W/signer.pem" -out /dev/null 2>/dev/null || fail "no signer certificate"
cmp -s <(openssl x509 -in "$W/signer.pem" -outform DER) \
    <(openssl x509 -in "$CERTS/seald-demo-ec.pem" -outform DER) ||
	fail "the embedded certificate is not demo-ec's"

tid "a retry of a CMS request returns the same bytes; raw and cms of one digest are two requests"
seal demo-ec sha256
cp "$doc.p7s" "$W/first.p7s"
d=$(openssl dgst -sha256 -binary "$doc" | base64 -w0)
sign_json demo-ec "$d" sha256 "$rid" cms
expect_code 200 "retry"
[ "$(jq -r .replayed "$IT_BODY")" = true ] || fail "the retry was not a replay"
jq -r .signature "$IT_BODY" | base64 -d | cmp -s - "$W/first.p7s" ||
	fail "the retry returned other bytes"
sign_json demo-ec "$d" sha256 "$rid" raw
expect_code 409 "the same request_id as raw"

tid "a key without cms in its formats refuses it (403 format_not_allowed)"
sed -e '/seald-test-ec384.pem/{n;s/formats: \[raw, cms\]/formats: [raw]/}' \
    "$IT_DIR/policy.yaml" >"$W/policy.yaml"
grep -q 'formats: \[raw\]$' "$W/policy.yaml" || fail "could not write the policy"
cp "$IT_DIR/policy.yaml" "$W/policy.orig"
it_at_exit 'policy_reload "$W/policy.orig"'
policy_reload "$W/policy.yaml"
sign_json test-ec384 "$(digest_b64 sha384 x)" sha384 "t-cms-fmt-$RANDOM" cms
expect_code 403 "cms on a raw-only key"
[ "$(jq -r .error.code "$IT_BODY")" = policy_denied ] || fail "$(cat "$IT_BODY")"
jq -r .error.message "$IT_BODY" | grep -q format_not_allowed || fail "$(cat "$IT_BODY")"
sign_json test-ec384 "$(digest_b64 sha384 x)" sha384 "t-cms-fmt-$RANDOM" raw
expect_code 200 "raw on the raw-only key"

tid "a policy that offers cms for a key without a certificate is refused"
sed -e '/certificate: .*seald-test-ec384.pem/d' "$W/policy.orig" >"$W/nocert.yaml"
policy_reload "$W/policy.orig"
policy_reload "$W/nocert.yaml"
last=$(psql_q "select detail from ledger_entries where instance = 'demo-1' and kind = 'policy' order by seq desc limit 1")
case "$last" in
"reload refused: "*"key test-ec384: format cms needs a certificate"*) ;;
*) fail "last policy entry: $last" ;;
esac
sign_json test-ec384 "$(digest_b64 sha384 x)" sha384 "t-cms-nocert-$RANDOM" cms
expect_code 200 "the policy in force (with the certificate) still seals"

tid "sealctl sign --format cms --out-sig writes a seal openssl verifies"
printf 'sealctl evidence %s\n' "$RANDOM" >"$W/ctl.txt"
"$IT_BUILD/sealctl" -s "$IT_SOCK" sign --key demo-rsa --file "$W/ctl.txt" --digest-alg sha384 \
    --format cms --out-sig "$W/ctl.p7s" >"$W/ctl.out" 2>&1 || fail "sealctl: $(cat "$W/ctl.out")"
out=$(cms_verify "$W/ctl.txt" "$W/ctl.p7s" "$CERTS/seald-demo-rsa.pem") ||
	fail "openssl cms -verify: $out"
"$IT_BUILD/sealctl" -s "$IT_SOCK" sign --key demo-rsa --file "$W/ctl.txt" --format pdf \
    >/dev/null 2>&1
[ $? = 2 ] || fail "an unknown format is not a usage error"
