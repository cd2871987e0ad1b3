# shellcheck shell=bash
# t_p11uri.sh — tokens and keys named the standard way: RFC 7512 pkcs11:
# URIs as GnuTLS's p11tool prints them, in seald.yaml (token_label) and in
# the policy (a key's label, with its id), for an instance of its own.  A
# URI whose id is not the key's, or that names another token, keeps the
# key out, saying why.

need_seald || return 0
U=$IT_DIR/p11uri
mkdir -p "$U"
export SOFTHSM2_CONF=$IT_DIR/softhsm2.conf
tid "the token's URI and a key's URI, as p11tool prints them, name what seald signs with"
turi=$(p11tool --provider "$SEALD_P11_MODULE" --list-token-urls 2>/dev/null | grep -m1 ';token=seald$')
kuri=$(GNUTLS_PIN=$(cat "$IT_DIR/pin") p11tool --provider "$SEALD_P11_MODULE" --login \
    --list-privkeys --only-urls "$turi" 2>/dev/null | grep -m1 ';object=seald-demo-ec;')
note "token $turi"
note "key $kuri"
case "$turi" in pkcs11:*serial=*) ;; *) fail "p11tool printed no token URI: $turi" ;; esac
case "$kuri" in pkcs11:*id=*object=seald-demo-ec*) ;; *) fail "p11tool printed no key URI: $kuri" ;; esac
# uri_instance NAME KEYURI: an instance on the token's URI, demo-ec named by KEYURI
uri_instance() {
	sed "s|^    label: seald-demo-ec\$|    label: \"$2\"|" "$IT_DIR/policy.yaml" >"$U/$1.policy.yaml"
	it_instance "$U/$1" "$1" -e "s|^  token_label: .*|  token_label: \"$turi\"|" \
	    -e "s|^policy: .*|policy: $U/$1.policy.yaml|"
}
uri_instance uri-1 "$kuri"
grep -q "label: \"pkcs11:" "$U/uri-1.policy.yaml" || fail "policy: $(grep -n label "$U/uri-1.policy.yaml" | head -n 2)"
if seald_start "$IT_BUILD" "$U/uri-1"; then
	printf 'uri evidence' >"$U/doc"
	IT_SOCK=$U/uri-1/seald.sock sign_json demo-ec "$(openssl dgst -sha256 -binary "$U/doc" | base64 -w0)" sha256 "t-uri-$RANDOM"
	expect_code 200 "a signature with the key its URI names"
	jq -r .signature "$IT_BODY" | base64 -d >"$U/sig"
	openssl dgst -sha256 -verify "$IT_DIR/certs/seald-demo-ec.pub.pem" -signature "$U/sig" "$U/doc" >/dev/null 2>&1 ||
		fail "the signature does not verify with seald-demo-ec's public key"
	seald_stop "$U/uri-1"
else
	fail "seald did not start: $(tail -n 3 "$U/uri-1/seald.log")"
fi

tid "a key URI whose id is another key's, or that names another token: the key is refused, saying why"
uri_instance uri-2 "$(sed 's/;id=[^;]*;/;id=%99;/' <<<"$kuri")"
out=$(timeout 20 "$IT_BUILD/seald" -c "$U/uri-2/seald.yaml" 2>&1 </dev/null)
grep -q 'has another id (CKA_ID) than its URI names' <<<"$out" || fail "wrong id: $(grep -m1 -i 'demo-ec' <<<"$out")"
uri_instance uri-3 "$(sed 's/;serial=[^;]*;/;serial=0000000000000000;/' <<<"$kuri")"
out=$(timeout 20 "$IT_BUILD/seald" -c "$U/uri-3/seald.yaml" 2>&1 </dev/null)
grep -q 'its URI names another token' <<<"$out" || fail "another token: $(grep -m1 -i 'demo-ec' <<<"$out")"
