# shellcheck shell=bash
# t_keys.sh — key management on the admin socket: officers generate keys
# inside the HSM (each algorithm; the private key is sensitive and never
# extractable, checked by straight PKCS#11), make CSRs that openssl
# verifies, import certificates (a mismatched, expired or malformed one is
# refused), and a managed policy key then signs with its chain.  Who may:
# officers change, auditors read, others get 401, clients never reach the
# admin paths.  Every event is a ledger entry and the chain verifies.  The
# token holds objects seald did not make; a label one of them uses is
# refused.

need_seald || return 0
W=$IT_DIR/t_keys
mkdir -p "$W"
P11CHECK=$(dirname "${BASH_SOURCE[0]}")/p11check.py

# gen NAME ALG: generate; the reply in $IT_BODY
gen() {
	admin_req POST /v1/admin/keys "{\"name\":\"$1\",\"algorithm\":\"$2\"}"
}

# csr NAME SUBJECT [USAGE]: the CSR's PEM in $W/NAME.csr
csr() {
	admin_req POST "/v1/admin/keys/$1/csr" \
	    "{\"subject\":\"$2\",\"usage\":\"${3:-seal}\"}" &&
	    expect_code 200 "csr $1" && jq -r .csr "$IT_BODY" >"$W/$1.csr"
}

# ca_sign NAME [DAYS]: a certificate for $W/NAME.csr from the test CA,
# with the CSR's extensions, and the chain $W/NAME.chain
ca_sign() {
	openssl x509 -req -in "$W/$1.csr" -CA "$W/ca.pem" -CAkey "$W/ca.key" \
	    -CAcreateserial -days "${2:-30}" -copy_extensions copy \
	    -out "$W/$1.pem" 2>/dev/null && cat "$W/$1.pem" "$W/ca.pem" >"$W/$1.chain"
}

# import NAME FILE: POST the PEM file as the key's certificate
import_cert() {
	jq -Rs '{certificate: .}' "$2" >"$W/import.json" &&
	    admin_req POST "/v1/admin/keys/$1/certificate" "@$W/import.json"
}

key_events() {
	psql_q "select count(*) from ledger_entries where kind = 'key' and
	    key_name = '$1' and format = '$2'"
}

# the shared policy with a managed key of this test's (t-seal; the shared
# qerds-seal stays ungenerated for the other tests), put back at the end
cp "$IT_DIR/policy.yaml" "$W/original.yaml"
printf '  t-seal:\n    managed: true\n    formats: [raw, cms]\n' >"$W/key.yaml"
sed -e "/^keys:/r $W/key.yaml" -e 's/\(- keys: \[.*\)qerds-seal/\1qerds-seal, t-seal/' \
    "$W/original.yaml" >"$W/policy.yaml"
policy_reload "$W/policy.yaml"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$W/ca.key" -out "$W/ca.pem" -subj "/CN=seald test CA" -days 30 \
    -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign 2>/dev/null || fail "test CA"

tid "a managed policy key is not served before an officer generates it"
http_req GET /v1/keys
expect_code 200 "keys" && ! grep -q t-seal "$IT_BODY" ||
	fail "t-seal is listed before it exists"
sign_json t-seal "$(digest_b64 sha256 before)" sha256 "t-keys-before"
expect_code 404 "sign with an ungenerated key"

tid "officers generate keys in the HSM: EC P-256, P-384, RSA 2048, 3072, 4096"
for ka in t-p256:ec-p256 t-p384:ec-p384 t-rsa2048:rsa-2048 t-rsa3072:rsa-3072 t-rsa4096:rsa-4096; do
	gen "${ka%%:*}" "${ka#*:}"
	expect_code 200 "generate $ka" || continue
	row=$(jq -r '.key | "\(.name) \(.version) \(.algorithm) \(.state) \(.label) \(.created_by)"' "$IT_BODY")
	[ "$row" = "${ka%%:*} 1 ${ka#*:} active seald-${ka%%:*}-v1 local-officer" ] ||
		fail "$ka: reply $row"
	jq -r .key.public_key "$IT_BODY" >"$W/${ka%%:*}.pub"
	# the ledger entry is about this very public key
	want=$(openssl pkey -pubin -in "$W/${ka%%:*}.pub" -outform DER | sha256sum | cut -c1-64)
	got=$(psql_q "select encode(digest,'hex') from ledger_entries where
	    kind = 'key' and format = 'generate' and key_name = '${ka%%:*}'")
	[ "$got" = "$want" ] || fail "$ka: ledger digest $got, public key $want"
	[ "$(psql_q "select algorithm, state from keys where name = '${ka%%:*}'")" = "${ka#*:}|active" ] ||
		fail "$ka: keys table row"
done

tid "generated private keys never leave the token (straight PKCS#11)"
if ! out=$(python3 "$P11CHECK" "$SEALD_P11_MODULE" "$IT_DIR/pin" \
    "$SEALD_TOKEN_LABEL" seald-t-p256-v1 seald-t-p384-v1 seald-t-rsa2048-v1 \
    seald-t-rsa3072-v1 seald-t-rsa4096-v1 2>&1); then
	fail "$out"
fi
# the same check finds fault with a key made by hand (pkcs11-tool lets
# it decrypt and unwrap): it can fail
python3 "$P11CHECK" "$SEALD_P11_MODULE" "$IT_DIR/pin" "$SEALD_TOKEN_LABEL" \
    seald-demo-ec >/dev/null 2>&1 && fail "p11check passes a hand-made key"

tid "generate refuses a taken name, a bad algorithm or name, unknown members"
gen t-p256 ec-p256
expect_code 409 "second generate of t-p256"
gen t-bad ec-p521
expect_code 400 "algorithm ec-p521"
gen "bad name" ec-p256
expect_code 400 "name with a space"
admin_req POST /v1/admin/keys '{"name":"t-x","algorithm":"ec-p256","extractable":true}'
expect_code 400 "unknown member"
admin_req POST /v1/admin/keys 'not json'
expect_code 400 "not JSON"

tid "a label an object seald did not make already has is refused"
printf 'not a key\n' >"$W/d"
SEALD_USER_PIN=$(cat "$IT_DIR/pin") _hsm_tool "$IT_DIR" --login --pin env:SEALD_USER_PIN \
    --write-object "$W/d" --type data --label seald-t-clash-v1 >"$W/d.log" 2>&1 ||
	fail "cannot add a data object: $(tail -n 1 "$W/d.log")"
gen t-clash ec-p256
expect_code 409 "label taken by a data object"
[ "$(psql_q "select count(*) from keys where name = 't-clash'")" = 0 ] ||
	fail "a refused key is in the keys table"

tid "CSRs signed in the HSM verify with openssl req -verify"
for k in t-p256 t-p384 t-rsa2048 t-rsa3072; do
	csr "$k" "/C=BE/O=seald tests/CN=$k" || continue
	out=$(openssl req -in "$W/$k.csr" -noout -verify -subject 2>&1)
	grep -q 'verify OK' <<<"$out" || fail "$k: $out"
	grep -q "CN *= *$k" <<<"$out" || fail "$k: subject: $out"
	# the CSR's public key is the generated key
	[ "$(openssl req -in "$W/$k.csr" -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum)" = \
	    "$(openssl pkey -pubin -in "$W/$k.pub" -outform DER | sha256sum)" ] ||
		fail "$k: the CSR carries another public key"
done
csr t-p384 "/CN=seald TSA" timestamp &&
	openssl req -in "$W/t-p384.csr" -noout -text | grep -A1 'Extended Key Usage: critical' |
	    grep -q 'Time Stamping' || fail "timestamp CSR without a critical timeStamping EKU"
admin_req POST /v1/admin/keys/t-p256/csr '{"subject":"CN=no slash"}'
expect_code 400 "subject without a leading slash"
admin_req POST /v1/admin/keys/t-none/csr '{"subject":"/CN=x"}'
expect_code 404 "CSR for an unknown key"
[ "$(key_events t-p256 csr)" = 1 ] || fail "CSR events of t-p256: $(key_events t-p256 csr)"

tid "certificate import: another key's, an expired or a malformed certificate is refused"
csr t-p256 "/CN=t-p256" && ca_sign t-p256 || fail "certificate for t-p256"
import_cert t-rsa2048 "$W/t-p256.chain"
expect_code 400 "t-p256's certificate for t-rsa2048"
openssl x509 -req -in "$W/t-p256.csr" -CA "$W/ca.pem" -CAkey "$W/ca.key" \
    -CAcreateserial -not_before 20200101000000Z -not_after 20200201000000Z \
    -out "$W/expired.pem" 2>/dev/null ||
	openssl x509 -req -in "$W/t-p256.csr" -CA "$W/ca.pem" -CAkey "$W/ca.key" \
	    -CAcreateserial -days 0 -out "$W/expired.pem" 2>/dev/null
import_cert t-p256 "$W/expired.pem"
expect_code 400 "an expired certificate"
printf -- '-----BEGIN CERTIFICATE-----\nnonsense\n-----END CERTIFICATE-----\n' >"$W/junk.pem"
import_cert t-p256 "$W/junk.pem"
expect_code 400 "a malformed certificate"
cat "$W/ca.pem" "$W/t-p256.pem" >"$W/reversed.pem"
import_cert t-p256 "$W/reversed.pem"
expect_code 400 "the chain root first"
[ "$(psql_q "select count(*) from keys where name = 't-p256' and certificate is not null")" = 0 ] ||
	fail "a refused certificate was stored"
import_cert t-p256 "$W/t-p256.chain"
expect_code 200 "t-p256's own chain"

tid "a managed key, once certified, signs raw and CMS with its chain"
gen t-seal ec-p256
expect_code 200 "generate t-seal"
csr t-seal "/C=BE/O=Example QERDS/CN=QERDS evidence seal" && ca_sign t-seal
import_cert t-seal "$W/t-seal.chain"
expect_code 200 "import t-seal"
http_req GET /v1/keys
jq -e '.keys[] | select(.name == "t-seal") | .certificate | test("BEGIN CERTIFICATE")' \
    "$IT_BODY" >/dev/null || fail "GET /v1/keys: no certificate for t-seal"
doc=$W/evidence.txt
printf 'delivery evidence %s\n' "$RANDOM" >"$doc"
sign_json t-seal "$(openssl dgst -sha256 -binary "$doc" | base64 -w0)" sha256 t-keys-cms cms
if expect_code 200 "cms with t-seal"; then
	jq -r .signature "$IT_BODY" | base64 -d >"$doc.p7s"
	out=$(openssl cms -verify -binary -inform DER -in "$doc.p7s" -content "$doc" \
	    -CAfile "$W/ca.pem" -out /dev/null 2>&1) || fail "openssl cms -verify: $out"
fi
sign_json t-seal "$(openssl dgst -sha256 -binary "$doc" | base64 -w0)" sha256 t-keys-raw raw
if expect_code 200 "raw with t-seal"; then
	jq -r .signature "$IT_BODY" | base64 -d >"$doc.sig"
	openssl dgst -sha256 -verify <(openssl x509 -in "$W/t-seal.pem" -pubkey -noout) \
	    -signature "$doc.sig" "$doc" >/dev/null 2>&1 || fail "raw signature does not verify"
	[ "$(jq -r .key_version "$IT_BODY")" = 1 ] || fail "key_version $(jq -r .key_version "$IT_BODY")"
fi

tid "after a restart the managed key signs again, from the keys table"
if it_restart_seald; then
	sign_json t-seal "$(digest_b64 sha256 restart)" sha256 "t-keys-restart-$RANDOM"
	expect_code 200 "t-seal after a restart"
else
	fail "seald did not come back"
fi

tid "who may: officers change, auditors read, others 401, clients never"
admin_req -u "$IT_UNKNOWN_USER" GET /v1/admin/keys && expect_code 401 "unknown uid on the admin socket"
printf 'auditors:\n  t-auditor:\n    match: {uid: [%s]}\n' "$(id -u bin)" >>"$W/policy.yaml"
policy_reload "$W/policy.yaml"
if admin_req -u bin GET /v1/admin/keys; then
	expect_code 200 "auditor lists keys" &&
		[ "$(jq '.keys | length' "$IT_BODY")" -ge 6 ] || fail "auditor's list: $(head -c 200 "$IT_BODY")"
	admin_req -u bin POST /v1/admin/keys '{"name":"t-aud","algorithm":"ec-p256"}'
	expect_code 403 "auditor generates"
	admin_req -u bin POST /v1/admin/keys/t-p256/csr '{"subject":"/CN=x"}'
	expect_code 403 "auditor asks a CSR"
fi
http_req GET /v1/admin/keys
expect_code 404 "admin path on the service socket"
http_req POST /v1/admin/keys '{"name":"t-svc","algorithm":"ec-p256"}'
expect_code 404 "generate through the service socket"
[ "$(psql_q "select count(*) from keys where name in ('t-aud', 't-svc')")" = 0 ] ||
	fail "a refused caller made a key"

tid "every key event is in the ledger and the chain verifies"
[ "$(key_events t-seal generate)|$(key_events t-seal csr)|$(key_events t-seal certificate)" = "1|1|1" ] ||
	fail "t-seal events: $(psql_q "select format from ledger_entries where key_name = 't-seal' and kind = 'key'")"
[ "$(psql_q "select count(*) from ledger_entries where kind = 'key' and client = 'local-officer'")" -ge 12 ] ||
	fail "key events: $(psql_q "select count(*) from ledger_entries where kind = 'key'")"
out=$("$IT_BUILD/sealctl" ledger verify --db "$(pg_conninfo "$IT_DIR" seald)" 2>&1) ||
	fail "ledger verify: $out"

tid "sealctl key: generate, csr, import-cert, list and show"
SC=("$IT_BUILD/sealctl" -a "$IT_DIR/admin.sock")
out=$("${SC[@]}" key generate t-cli --algorithm ec-p384 2>&1) ||
	fail "sealctl key generate: $out"
grep -q '^generated t-cli v1 (ec-p384), HSM label seald-t-cli-v1; ledger demo-1 #[0-9]' <<<"$out" ||
	fail "generate said: $out"
"${SC[@]}" key csr t-cli --subject "/O=seald tests/CN=t-cli" --out "$W/t-cli.csr" 2>"$W/cli.err" ||
	fail "sealctl key csr: $(cat "$W/cli.err")"
openssl req -in "$W/t-cli.csr" -noout -verify 2>&1 | grep -q 'verify OK' || fail "the CLI's CSR"
ca_sign t-cli
out=$("${SC[@]}" key import-cert t-cli "$W/t-cli.chain" 2>&1) || fail "sealctl key import-cert: $out"
grep -q '^imported the certificate of t-cli v1, expires 20' <<<"$out" || fail "import said: $out"
out=$("${SC[@]}" key list 2>&1) || fail "sealctl key list: $out"
grep -Eq '^t-cli +1 +ec-p384 +active +20[0-9-]+T.* +local-officer$' <<<"$out" || fail "list: $out"
"${SC[@]}" key show t-cli --json >"$W/show.json" &&
	[ "$(jq -r '.versions[0].label' "$W/show.json")" = seald-t-cli-v1 ] || fail "show --json"
"${SC[@]}" key show t-none >/dev/null 2>&1
[ $? = 1 ] || fail "show of an unknown key does not exit 1"
"${SC[@]}" key generate t-cli --algorithm ec-p256 >/dev/null 2>&1
[ $? = 1 ] || fail "a second generate does not exit 1"

tid "a key swapped in the token under a generated key's label is never certified or used"
gen t-swap ec-p256
expect_code 200 "generate t-swap"
id=$(jq -r .key.id "$IT_BODY")
pin=$(cat "$IT_DIR/pin")
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$W/outside.pem" 2>/dev/null
openssl pkey -in "$W/outside.pem" -outform DER -out "$W/outside.der"
openssl pkey -in "$W/outside.pem" -pubout -outform DER -out "$W/outside.pub.der"
for t in privkey pubkey; do
	SEALD_USER_PIN=$pin _hsm_tool "$IT_DIR" --login --pin env:SEALD_USER_PIN \
	    --delete-object --type "$t" --label seald-t-swap-v1 >/dev/null 2>&1
done
SEALD_USER_PIN=$pin _hsm_tool "$IT_DIR" --login --pin env:SEALD_USER_PIN \
    --write-object "$W/outside.der" --type privkey --label seald-t-swap-v1 --id "$id" \
    --usage-sign --sensitive >"$W/swap.log" 2>&1 &&
	SEALD_USER_PIN=$pin _hsm_tool "$IT_DIR" --login --pin env:SEALD_USER_PIN \
	    --write-object "$W/outside.pub.der" --type pubkey --label seald-t-swap-v1 \
	    --id "$id" --usage-sign >>"$W/swap.log" 2>&1 ||
	fail "cannot import the outside key: $(tail -n1 "$W/swap.log")"
if it_restart_seald; then
	admin_req POST /v1/admin/keys/t-swap/csr '{"subject":"/CN=swapped"}'
	expect_code 409 "a CSR for the swapped key"
	grep -q 'BEGIN CERTIFICATE REQUEST' "$IT_BODY" && fail "a CSR for a key from outside the HSM"
else
	fail "seald did not come back"
fi

tid "the daemon's database role cannot point a managed key at another key"
# its identity cannot change, by update or delete
psql_q "update keys set hsm_label = 'seald-demo-ec' where name = 't-seal'" >/dev/null 2>&1 &&
	fail "the daemon role changed a key's label"
psql_q "delete from keys where name = 't-seal'" >/dev/null 2>&1 && fail "the daemon role deleted a key"
# nor add a version, or change a state, without the ledger entry that
# records it, nor move a state back (0010)
pub=$(openssl pkey -pubin -in "$IT_DIR/certs/seald-demo-ec.pub.pem" -outform DER | od -An -v -tx1 | tr -d ' \n')
forge="insert into keys (name, version, algorithm, hsm_label, hsm_id, public_key, state, created_by)
    values ('t-seal', 9, 'ec-p256', 'seald-t-seal-v9', '\\x01', '\\x$pub', 'pending', 'mallory')"
err=$(psql_q "$forge" 2>&1) && fail "the daemon role added a version with no ledger entry"
grep -q "changed without its ledger entry" <<<"$err" || fail "$err"
err=$(psql_q "update keys set state = 'disabled' where name = 't-seal' and state = 'active'" 2>&1) &&
	fail "the daemon role disabled a version with no ledger entry"
grep -q "changed without its ledger entry" <<<"$err" || fail "$err"
v=$(psql_q "select version from keys where name = 't-seal' and state = 'active'")
err=$(psql_q "begin; update keys set state = 'retired' where name = 't-seal' and version = $v;
    update keys set state = 'active' where name = 't-seal' and version = $v; commit" 2>&1) &&
	fail "the daemon role moved a retired version back to active"
grep -q "retired -> active is not a step of its life" <<<"$err" || fail "$err"
# a forged version that the ledger never recorded (a superuser's, with
# the triggers off) is not served
psql_super "alter table keys disable trigger user;
    update keys set state = 'retired' where name = 't-seal' and state = 'active';
    $forge;
    update keys set state = 'active' where name = 't-seal' and version = 9;
    alter table keys enable trigger user" >/dev/null ||
	fail "the forged row could not be written (the test needs it)"
policy_reload "$W/policy.yaml"
sign_json t-seal "$(digest_b64 sha256 forged)" sha256 "t-keys-forged-$RANDOM"
expect_code 404 "sign with a forged key version"
grep -q 'key t-seal v9: the keys table row is not the one the ledger recorded' "$IT_DIR/seald.log" ||
	fail "the log does not say why t-seal is not served"
psql_super "alter table keys disable trigger user;
    delete from keys where name = 't-seal' and version = 9;
    update keys set state = 'active' where name = 't-seal' and version = $v;
    alter table keys enable trigger user" >/dev/null || fail "undo the forged row"

tid "a chain whose issuer did not sign the certificate, or a seal certificate for a TSA key, is refused"
gen t-chain ec-p256
csr t-chain "/CN=t-chain" && ca_sign t-chain
# a CA of the same name (and key identifier) with another key
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$W/fake.key" \
    -out "$W/fake.pem" -subj "/CN=seald test CA" -days 30 \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign \
    -addext "subjectKeyIdentifier=$(openssl x509 -in "$W/ca.pem" -noout -ext subjectKeyIdentifier | tail -n1 | tr -d ' ')" 2>/dev/null
cat "$W/t-chain.pem" "$W/fake.pem" >"$W/forged.chain"
import_cert t-chain "$W/forged.chain"
expect_code 400 "a chain with a look-alike CA"
printf '  t-stamp:\n    managed: true\n    usage: [timestamp]\n    tsa_policy: 2.999.5\n' >"$W/tsa.yaml"
sed -i "/^keys:/r $W/tsa.yaml" "$W/policy.yaml"
policy_reload "$W/policy.yaml"
gen t-stamp ec-p256
csr t-stamp "/CN=t-stamp" seal && ca_sign t-stamp
import_cert t-stamp "$W/t-stamp.chain"
expect_code 400 "a seal certificate for a time-stamping key"
csr t-stamp "/CN=t-stamp" timestamp && ca_sign t-stamp
import_cert t-stamp "$W/t-stamp.chain"
expect_code 200 "a TSA certificate for it"

policy_reload "$W/original.yaml"
