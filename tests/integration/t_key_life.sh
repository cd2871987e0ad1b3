# shellcheck shell=bash
# t_key_life.sh — the life of a managed key: rotation makes a pending
# version that its certificate makes active (retiring the old one, which
# stays listed and its old seals verifiable); retire, disable and destroy
# (two officers, an explicit confirmation, the HSM objects gone); with
# approvals_required: 2 every change is a proposal that another officer
# must approve in time, never its proposer.  Each step is a ledger entry.

need_seald || return 0
W=$IT_DIR/t_key_life
mkdir -p "$W"

# second officer: a system user that is not ours
OTHER=bin

gen() { admin_req POST /v1/admin/keys "{\"name\":\"$1\",\"algorithm\":\"$2\"}"; }
state_of() { psql_q "select string_agg(version || ':' || state, ' ' order by version) from keys where name = '$1'"; }
events() { psql_q "select string_agg(format, ' ' order by seq) from ledger_entries where kind = 'key' and key_name = '$1'"; }

# certify NAME VERSION: CSR, signed by a throwaway CA, imported
certify() {
	admin_req POST "/v1/admin/keys/$1/csr" "{\"subject\":\"/CN=$1 v$2\",\"version\":$2}" &&
	    expect_code 200 "csr $1 v$2" || return 1
	jq -r .csr "$IT_BODY" >"$W/$1-$2.csr"
	openssl x509 -req -in "$W/$1-$2.csr" -CA "$W/ca.pem" -CAkey "$W/ca.key" \
	    -CAcreateserial -days 30 -copy_extensions copy -out "$W/$1-$2.pem" 2>/dev/null
	cat "$W/$1-$2.pem" "$W/ca.pem" | jq -Rs "{certificate: ., version: $2}" >"$W/imp.json"
	admin_req POST "/v1/admin/keys/$1/certificate" "@$W/imp.json"
	expect_code 200 "import $1 v$2"
}

# as_officer2 METHOD PATH [BODY]: the second officer on the admin socket
as_officer2() { admin_req -u "$OTHER" "$@"; }

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$W/ca.key" -out "$W/ca.pem" -subj "/CN=life CA" -days 30 \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null

# the shared policy with a managed key of this test's, and a second
# officer (a system user that is not ours)
cp "$IT_DIR/policy.yaml" "$W/original.yaml"
cp "$W/original.yaml" "$W/policy.yaml"
printf '  second-officer:\n    match: {uid: [%s]}\n' "$(id -u "$OTHER")" >"$W/officer.yaml"
printf '  life-seal:\n    managed: true\n    formats: [raw, cms]\n' >"$W/key.yaml"
sed -i -e "/^officers:/r $W/officer.yaml" -e "/^keys:/r $W/key.yaml" \
    -e 's/\(- keys: \[.*\)qerds-seal/\1qerds-seal, life-seal/' "$W/policy.yaml"
policy_reload "$W/policy.yaml"
grep -q 'life-seal' <<<"$(http_req GET /v1/keys; cat "$IT_BODY")" &&
	fail "life-seal is served before it is generated"

tid "rotation: a pending version signs nothing until its certificate; then it takes over"
gen life-seal ec-p256
expect_code 200 "generate life-seal"
v1=1
certify life-seal "$v1"
doc=$W/old.txt
printf 'evidence before the rotation\n' >"$doc"
sign_json life-seal "$(openssl dgst -sha256 -binary "$doc" | base64 -w0)" sha256 "t-life-old-$RANDOM" cms
expect_code 200 "seal with v$v1" && jq -r .signature "$IT_BODY" | base64 -d >"$doc.p7s"
admin_req POST /v1/admin/keys/life-seal/rotate '{"algorithm":"ec-p384"}'
expect_code 200 "rotate"
v2=$(jq -r .key.version "$IT_BODY")
[ "$(jq -r '.key.state + " " + .key.algorithm' "$IT_BODY")" = "pending ec-p384" ] ||
	fail "rotate answered $(head -c 200 "$IT_BODY")"
admin_req POST /v1/admin/keys/life-seal/rotate '{}'
expect_code 409 "a second rotation while one is pending"
sign_json life-seal "$(digest_b64 sha256 during)" sha256 "t-life-during-$RANDOM"
expect_code 200 "the old version signs while the new one waits" &&
	[ "$(jq -r .key_version "$IT_BODY")" = "$v1" ] || fail "signed with v$(jq -r .key_version "$IT_BODY")"
certify life-seal "$v2"
[ "$(state_of life-seal)" = "$v1:retired $v2:active" ] || fail "states: $(state_of life-seal)"
sign_json life-seal "$(digest_b64 sha256 after)" sha256 "t-life-after-$RANDOM"
expect_code 200 "sign after the rotation" &&
	[ "$(jq -r '"\(.key_version) \(.algorithm)"' "$IT_BODY")" = "$v2 ecdsa-sha256" ] ||
	fail "after the rotation: $(head -c 200 "$IT_BODY")"
out=$(openssl cms -verify -binary -inform DER -in "$doc.p7s" -content "$doc" \
    -CAfile "$W/ca.pem" -out /dev/null 2>&1) || fail "the old seal no longer verifies: $out"
admin_req GET /v1/admin/keys/life-seal
[ "$(jq -r ".versions[] | select(.version == $v1) | .state" "$IT_BODY")" = retired ] ||
	fail "the retired version is not listed"

tid "retire and disable: the key stops signing at once; destroy needs a version, its name and two officers"
gen t-life ec-p256
expect_code 200 "generate t-life"
admin_req POST /v1/admin/keys/t-life/retire '{}'
expect_code 200 "retire"
admin_req POST /v1/admin/keys/t-life/destroy '{"version":1,"confirm":"t-life v1"}'
expect_code 409 "destroy before disable"
admin_req POST /v1/admin/keys/t-life/disable '{"version":1}'
expect_code 200 "disable"
admin_req POST /v1/admin/keys/t-life/destroy '{"version":1}'
expect_code 400 "destroy without confirmation"
admin_req POST /v1/admin/keys/t-life/destroy '{"version":1,"confirm":"t-life v2"}'
expect_code 400 "destroy with the wrong confirmation"
admin_req POST /v1/admin/keys/t-life/destroy '{"version":1,"confirm":"t-life v1"}'
expect_code 202 "destroy is a proposal"
pid=$(jq -r .proposal.id "$IT_BODY")
admin_req POST "/v1/admin/proposals/$pid/approve"
expect_code 403 "the proposer approves their own destroy"
[ "$(state_of t-life)" = "1:disabled" ] || fail "state after a refused approval: $(state_of t-life)"

if as_officer2 POST "/v1/admin/proposals/$pid/approve"; then
	expect_code 200 "the second officer approves the destroy"
	[ "$(state_of t-life)" = "1:destroyed" ] || fail "state: $(state_of t-life)"
	_hsm_list "$IT_DIR" | grep -q 'seald-t-life-v1' && fail "the HSM still holds seald-t-life-v1"
	as_officer2 POST "/v1/admin/proposals/$pid/approve"
	expect_code 409 "a second approval"
fi
[ "$(events t-life)" = "generate retire disable propose approve destroy" ] ||
	fail "t-life events: $(events t-life)"

tid "approvals_required: 2: changes are proposals; another officer approves in time"
sed -i 's/^approvals_required: .*//' "$W/policy.yaml"
printf 'approvals_required: 2\napproval_minutes: 1\n' >>"$W/policy.yaml"
policy_reload "$W/policy.yaml"
gen t-two ec-p256
expect_code 202 "generate under two-person control"
pid=$(jq -r .proposal.id "$IT_BODY")
[ "$(psql_q "select count(*) from keys where name = 't-two'")" = 0 ] || fail "made before approval"
admin_req GET /v1/admin/proposals
jq -e ".proposals[] | select(.id == \"$pid\" and .action == \"generate\" and .proposed_by == \"local-officer\")" \
    "$IT_BODY" >/dev/null || fail "pending list: $(head -c 300 "$IT_BODY")"
admin_req POST "/v1/admin/proposals/$pid/approve"
expect_code 403 "approve one's own proposal"
if as_officer2 POST "/v1/admin/proposals/$pid/approve"; then
	expect_code 200 "the other officer approves"
	[ "$(state_of t-two)" = "1:active" ] || fail "t-two: $(state_of t-two)"
	[ "$(psql_q "select client from ledger_entries where kind = 'key' and key_name = 't-two' and format = 'generate'")" = second-officer ] ||
		fail "the generation is not recorded as the approver's"
fi
# an expired proposal cannot be approved
admin_req POST /v1/admin/keys/t-two/retire '{}'
expect_code 202 "retire proposal"
pid=$(jq -r .proposal.id "$IT_BODY")
psql_super "update key_proposals set expires_at = now() - interval '1 second' where id = $pid" >/dev/null
if as_officer2 POST "/v1/admin/proposals/$pid/approve"; then
	expect_code 409 "approve an expired proposal"
fi
[ "$(state_of t-two)" = "1:active" ] || fail "an expired proposal ran: $(state_of t-two)"

tid "sealctl key: a proposal, the pending list, and another officer's approval"
SC=("$IT_BUILD/sealctl" -a "$IT_DIR/admin.sock")
out=$("${SC[@]}" key retire t-two 2>&1) || fail "sealctl key retire: $out"
pid=$(sed -n 's/^proposal \([0-9]*\): retire t-two v1 waits for another officer.s approval until 20.*/\1/p' <<<"$out")
[ -n "$pid" ] || fail "retire said: $out"
"${SC[@]}" key pending | grep -Eq "^$pid +retire +t-two +1 +local-officer +20" ||
	fail "pending: $("${SC[@]}" key pending 2>&1)"
"${SC[@]}" key approve "$pid" >/dev/null 2>&1
[ $? = 1 ] || fail "the proposer's approve does not exit 1"
if out=$(as_user "$OTHER" "${SC[@]}" key approve "$pid" 2>&1); then
	grep -q "^approved proposal $pid: retire t-two v1, now retired; ledger demo-1 #" <<<"$out" ||
		fail "approve said: $out"
fi
"${SC[@]}" key destroy t-two --version 1 --confirm "t-two v2" >/dev/null 2>&1
[ $? = 2 ] || fail "a wrong --confirm is not a usage error"
policy_reload "$W/original.yaml"

tid "the chain with every key event verifies"
out=$("$IT_BUILD/sealctl" ledger verify --db "$(pg_conninfo "$IT_DIR" seald)" 2>&1) ||
	fail "ledger verify: $out"
grep -Eq '^keys: OK, [0-9]+ versions, each as its key events in the ledger left it$' <<<"$out" ||
	fail "no keys line: $out"

tid "ledger verify holds the keys table to the key events: a retired version made active again is found"
# as a superuser with the triggers off (the daemon's role cannot: 0010)
v=$(psql_q "select min(version) from keys where name = 'life-seal' and state = 'retired'")
a=$(psql_q "select version from keys where name = 'life-seal' and state = 'active'")
psql_super "alter table keys disable trigger user;
    update keys set state = 'disabled' where name = 'life-seal' and version = $a;
    update keys set state = 'active' where name = 'life-seal' and version = $v;
    alter table keys enable trigger user" >/dev/null || fail "tampering failed"
if out=$("$IT_BUILD/sealctl" ledger verify --db "$(pg_conninfo "$IT_DIR" seald)" 2>&1); then
	fail "verify passed a keys table the ledger does not account for"
fi
grep -q "^keys: BROKEN: key life-seal v$v: active in the keys table, retired by its key events in the ledger" <<<"$out" ||
	fail "$out"
psql_super "alter table keys disable trigger user;
    update keys set state = 'retired' where name = 'life-seal' and version = $v;
    update keys set state = 'active' where name = 'life-seal' and version = $a;
    alter table keys enable trigger user" >/dev/null || fail "undo the tampering"
"$IT_BUILD/sealctl" ledger verify --db "$(pg_conninfo "$IT_DIR" seald)" >/dev/null 2>&1 ||
	fail "the keys do not verify again once put back"
