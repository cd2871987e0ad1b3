# shellcheck shell=bash
# t_sign.sh — POST /v1/sign with every key type and digest size; each
# signature must verify with openssl against the public key that
# GET /v1/keys publishes, and its ledger row must hold the same bytes.

need_seald || return 0
W=$IT_DIR/t_sign
mkdir -p "$W"

tid "GET /v1/keys lists every configured key with its public key"
http_req GET /v1/keys
if expect_code 200 "keys"; then
	for k in demo-ec demo-rsa test-ec384 test-rsa-pss; do
		jq -r --arg k "$k" '.keys[] | select(.name == $k) | .public_key' \
		    "$IT_BODY" >"$W/$k.pub"
		openssl pkey -pubin -in "$W/$k.pub" -noout 2>/dev/null ||
			fail "no usable public key for $k"
	done
	[ "$(jq -r '.keys[] | select(.name=="demo-ec") | .algorithm' "$IT_BODY")" = ec-p256 ] ||
		fail "demo-ec is not ec-p256"
	[ "$(jq -r '.keys[] | select(.name=="demo-rsa") | .algorithm' "$IT_BODY")" = rsa-3072 ] ||
		fail "demo-rsa is not rsa-3072"
	jq -r '.keys[] | select(.name=="demo-ec") | .certificate' "$IT_BODY" |
	    openssl x509 -noout 2>/dev/null || fail "demo-ec has no certificate"
fi

tid "GET /v1/keys says what each key is for: usage, formats, digests, TSA policy"
http_req GET /v1/keys
if expect_code 200 "keys"; then
	what() { jq -c --arg k "$1" '.keys[] | select(.name == $k) | [.usage, .formats, .digests, .tsa_policy]' "$IT_BODY"; }
	[ "$(what demo-ec)" = '[["sign"],["raw","cms","cades-t"],["sha256","sha384","sha512"],null]' ] ||
		fail "demo-ec: $(what demo-ec)"
	[ "$(what demo-tsa)" = '[["timestamp"],["rfc3161"],["sha256","sha384","sha512"],"2.999.1.1"]' ] ||
		fail "demo-tsa: $(what demo-tsa)"
fi

# check KEY ALG OPENSSL_OPTS...: sign a fresh document, verify, check ledger
check() {
	local key=$1 alg=$2 rid doc
	shift 2
	rid="t-sign-$key-$alg-$RANDOM$RANDOM"
	doc=$W/$rid.txt
	printf 'evidence %s %s\n' "$key" "$rid" >"$doc"
	sign_json "$key" "$(openssl dgst "-$alg" -binary "$doc" | base64 -w0)" \
	    "$alg" "$rid"
	expect_code 200 "sign $key $alg" || return 1
	jq -r .signature "$IT_BODY" | base64 -d >"$doc.sig"
	if ! out=$(openssl dgst "-$alg" -verify "$W/$key.pub" "$@" \
	    -signature "$doc.sig" "$doc" 2>&1); then
		fail "openssl does not verify $key/$alg: $out"
		return 1
	fi
	# the ledger row holds exactly these bytes, this digest, this client
	row=$(psql_q "select encode(signature,'hex'), encode(digest,'hex'),
	    client, key_name, algorithm, evidence_type, evidence_ref, seq
	    from ledger_entries where request_id = '$rid'")
	IFS='|' read -r sig dg client kname algo etype eref seq <<<"$row"
	[ "$sig" = "$(od -An -v -tx1 "$doc.sig" | tr -d ' \n')" ] ||
		fail "$key: ledger signature differs from the reply"
	[ "$dg" = "$(openssl dgst "-$alg" -binary "$doc" | od -An -v -tx1 | tr -d ' \n')" ] ||
		fail "$key: ledger digest differs"
	[ "$client" = local ] || fail "$key: ledger client is '$client'"
	[ "$kname" = "$key" ] || fail "$key: ledger key is '$kname'"
	[ "$algo" = "$(jq -r .algorithm "$IT_BODY")" ] ||
		fail "$key: ledger algorithm '$algo' differs from the reply"
	[ "$etype/$eref" = "submission/it-$rid" ] ||
		fail "$key: ledger evidence is '$etype/$eref'"
	[ "$seq" = "$(jq -r .ledger.seq "$IT_BODY")" ] ||
		fail "$key: reply seq $(jq -r .ledger.seq "$IT_BODY") but row seq $seq"
}

tid "ECDSA P-256 signature (sha256) verifies with openssl and is in the ledger"
check demo-ec sha256
[ "$(jq -r .algorithm "$IT_BODY")" = ecdsa-sha256 ] || fail "algorithm not ecdsa-sha256"

tid "ECDSA P-256 with a sha512 digest verifies"
check demo-ec sha512

tid "ECDSA P-384 signature (sha384) verifies with openssl"
check test-ec384 sha384

tid "RSA-3072 PKCS#1 v1.5 signatures (sha256, sha384, sha512) verify"
check demo-rsa sha256
check demo-rsa sha384
check demo-rsa sha512
[ "$(jq -r .algorithm "$IT_BODY")" = rsa-pkcs1v15-sha512 ] ||
	fail "algorithm not rsa-pkcs1v15-sha512"

tid "RSA-2048 PSS signatures verify with openssl (salt = hash length)"
check test-rsa-pss sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32
check test-rsa-pss sha512 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:64
[ "$(jq -r .algorithm "$IT_BODY")" = rsa-pss-sha512 ] || fail "algorithm not rsa-pss-sha512"

tid "the reply carries the key's certificate, version, time and ledger position"
check demo-ec sha256
jq -e '.certificate | startswith("-----BEGIN CERTIFICATE-----")' "$IT_BODY" >/dev/null ||
	fail "no certificate in the reply"
[ "$(jq -r .key_version "$IT_BODY")" = 1 ] || fail "key_version not 1"
jq -r .signed_at "$IT_BODY" | grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$' ||
	fail "signed_at is not RFC 3339 UTC"
[ "$(jq -r .ledger.instance "$IT_BODY")" = demo-1 ] || fail "ledger instance not demo-1"
[ "$(jq -r .ledger.hash "$IT_BODY")" = "$(psql_q "select encode(entry_hash,'hex') from ledger_entries where instance='demo-1' and seq=$(jq -r .ledger.seq "$IT_BODY")")" ] ||
	fail "reply hash is not the row's entry_hash"

tid "the ledger chain links: each prev_hash is the previous entry_hash"
bad=$(psql_q "select count(*) from ledger_entries e join ledger_entries p
    on p.instance = e.instance and p.seq = e.seq - 1
    where e.prev_hash <> p.entry_hash")
gaps=$(psql_q "select count(*) - coalesce(max(seq), 0) from ledger_entries where instance = 'demo-1'")
[ "$bad" = 0 ] || fail "$bad entries do not link to their predecessor"
[ "$gaps" = 0 ] || fail "seq has gaps or duplicates ($gaps)"

tid "ledger rows cannot be updated, deleted or truncated"
for sql in "update ledger_entries set client = 'x'" "delete from ledger_entries" \
    "truncate ledger_entries"; do
	if psql_super "$sql" >/dev/null 2>&1; then
		fail "'$sql' succeeded for the superuser"
	fi
done

tid "GET answers keep the connection alive (a client reuses it)"
out=$(curl -sv --max-time 15 --unix-socket "$IT_SOCK" -o /dev/null -o /dev/null -o /dev/null \
	http://localhost/v1/keys http://localhost/healthz http://localhost/v1/keys 2>&1)
[ "$(grep -c 'Re-using existing connection' <<<"$out")" = 2 ] ||
	fail "the connection was not reused: $(grep -i -m2 'connection' <<<"$out")"
grep -qi '^< Connection: close' <<<"$out" && fail "seald said Connection: close"
