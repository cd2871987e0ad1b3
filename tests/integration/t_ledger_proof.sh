# shellcheck shell=bash
# t_ledger_proof.sh — GET /v1/ledger: an entry with its inclusion proof
# for its own client or an auditor, pages for auditors only, and
# `sealctl ledger prove` accepting the proof offline with the audit key
# and refusing every altered one.  Runs its own instance (proof-1) with
# `nobody` as an auditor, in a database of its own (t_proof: it ends
# tampered); then shows that rows appended behind seald's
# back are refused, at run time and at start, and that the explicit
# override is recorded.

F=$IT_DIR/proof
it_instance "$F" proof-1 -e "s|^policy: .*|policy: \"$F/policy.yaml\"|" \
    -e "s|dbname=seald|dbname=t_proof|"
chmod 0755 "$F"
{
	cat "$IT_DIR/policy.yaml"
	echo "auditors:"
	echo "  it-auditor: {match: {uid: [$(id -u "$IT_UNKNOWN_USER")]}}"
} >"$F/policy.yaml"
AUDIT=$IT_DIR/certs/seald-audit.pub.pem
SUPER="host=$IT_DIR/pgsock dbname=t_proof user=postgres"
sq() { "$(pg_bindir)/psql" -X -q -At -v ON_ERROR_STOP=1 "$SUPER" -c "$1"; }
# preq ARGS...: http_req against this instance's socket
preq() {
	local IT_SOCK=$F/seald.sock
	http_req "$@"
}
prove() {
	"$IT_BUILD/sealctl" ledger prove "$1" --audit-key "$AUDIT" "${@:2}" >"$F/prove.out" 2>&1
}

tid "an entry comes with an inclusion proof that sealctl ledger prove accepts"
psql_super "create database t_proof owner seald" >/dev/null || fail "createdb"
"$IT_BUILD/seald" migrate -c "$F/seald.yaml" >>"$F/seald.log" 2>&1 || fail "migrate"
if ! seald_start "$IT_BUILD" "$F"; then
	fail "seald did not start: $(tail -n 3 "$F/seald.log")"
	return 0
fi
printf 'evidence record %s\n' "$RANDOM" >"$F/doc"
d=$(openssl dgst -sha256 -binary "$F/doc" | base64 -w 0)
for i in 1 2 3 4 5 6; do
	IT_SOCK=$F/seald.sock sign_json demo-ec "$d" sha256 "t-proof-$i-$RANDOM" >/dev/null
done
expect_code 200 "sign"
seq=$(jq -r .ledger.seq "$IT_BODY")
end=$((SECONDS + 15))
while [ "$SECONDS" -le "$end" ]; do
	preq GET "/v1/ledger/proof-1/$seq"
	[ "$HTTP_CODE" = 200 ] && [ "$(jq -r '.inclusion != null' "$IT_BODY")" = true ] && break
	sleep 0.5
done
expect_code 200 "GET own entry"
cp "$IT_BODY" "$F/proof.json"
[ "$(jq -r '.entry.seq, .inclusion.leaf_index, .entry.kind' "$F/proof.json" | tr '\n' ' ')" = "$seq $((seq - 1)) signature " ] ||
	fail "entry fields: $(head -c 300 "$F/proof.json")"
prove "$F/proof.json" --document "$F/doc" || fail "prove: $(cat "$F/prove.out")"
grep -q "^proof OK: signature entry $seq of instance proof-1, request t-proof-6" "$F/prove.out" ||
	fail "$(cat "$F/prove.out")"

tid "sealctl ledger prove refuses each altered proof"
alter() { # JQ-FILTER EXPECTED-MESSAGE
	jq "$1" "$F/proof.json" >"$F/bad.json"
	if prove "$F/bad.json"; then
		fail "accepted a proof altered with $1"
	elif ! grep -q "$2" "$F/prove.out"; then
		fail "$1: $(cat "$F/prove.out")"
	fi
}
alter '.entry.evidence_ref = "other"' "the entry was changed"
alter '.entry.entry_hash = .inclusion.path[0]' "the entry was changed"
alter '.inclusion.path[0] = .checkpoint.root' "does not lead to the checkpoint"
alter '.inclusion.path |= .[1:]' "does not lead to the checkpoint"
alter '.checkpoint.signed_at_us += 1' "not signed by the audit key"
alter '.inclusion = null | .checkpoint = null' "no checkpoint covers this entry yet"
alter '.entry.seq += 1' "leaf_index"
alter '.format = "x"' "not a seald-ledger-proof-v1 document"
"$IT_BUILD/sealctl" ledger prove "$F/proof.json" \
    --audit-key "$IT_DIR/certs/seald-demo-ec.pub.pem" >"$F/prove.out" 2>&1 &&
	fail "accepted with another key"
printf 'another document\n' >"$F/doc2"
prove "$F/proof.json" --document "$F/doc2" && fail "accepted another document"
grep -q "the document's digest is not the entry's digest" "$F/prove.out" ||
	fail "$(cat "$F/prove.out")"

tid "an auditor reads any entry and pages; others only their own signatures"
preq -u "$IT_UNKNOWN_USER" GET "/v1/ledger/proof-1/$seq" && {
	expect_code 200 "auditor reads an entry"
	cmp -s <(jq -S . "$IT_BODY") <(jq -S . "$F/proof.json") ||
		fail "the auditor got another document"
}
preq -u "$IT_UNKNOWN_USER" GET "/v1/ledger/proof-1?after=0&limit=3" && {
	expect_code 200 "auditor pages"
	[ "$(jq -r '[.entries[].seq] | join(",")' "$IT_BODY"),$(jq -r .next_after "$IT_BODY")" = "1,2,3,3" ] ||
		fail "page: $(head -c 300 "$IT_BODY")"
	[ "$(jq -r '.entries[0].kind' "$IT_BODY")" = policy ] || fail "entry 1 is not the policy entry"
}
preq -u "$IT_UNKNOWN_USER" GET "/v1/ledger/proof-1?after=$seq" &&
	[ "$(jq -r '.entries | length' "$IT_BODY") $(jq -r .next_after "$IT_BODY")" = "0 null" ] ||
	fail "page after the head: $(head -c 300 "$IT_BODY")"
preq GET "/v1/ledger/proof-1?after=0"
expect_code 403 "a client pages"
preq GET "/v1/ledger/proof-1/1"
expect_code 404 "a client reads the policy entry"
if [ -n "$IT_OTHER_USER" ]; then
	preq -u "$IT_OTHER_USER" GET "/v1/ledger/proof-1/$seq" && expect_code 404 "another client"
fi
preq GET "/v1/ledger/proof-1/999999"
expect_code 404 "no such entry"

tid "ledger paths and page sizes are checked"
for p in "/v1/ledger/proof-1/0" "/v1/ledger/proof-1/abc" "/v1/ledger/proof-1/1/2" \
    "/v1/ledger/b%24d/1" "/v1/ledger/$(printf 'x%.0s' $(seq 1 70))/1" \
    "/v1/ledger/proof-1/99999999999999999999"; do
	preq GET "$p"
	expect_code 400 "$p"
done
for q in "limit=0" "limit=501" "after=-1" "limit=1x"; do
	preq -u "$IT_UNKNOWN_USER" GET "/v1/ledger/proof-1?$q" && expect_code 400 "?$q"
done
preq POST "/v1/ledger/proof-1/1" '{}'
expect_code 405 "POST"
"$IT_BUILD/sealctl" -s "$F/seald.sock" ledger entry proof-1 "$seq" >"$F/ctl.json" ||
	fail "sealctl ledger entry"
prove "$F/ctl.json" || fail "sealctl's document: $(cat "$F/prove.out")"

tid "a changed ledger_merkle row: no proof is served, and seald will not start on it"
sq "create table t_merkle as select * from ledger_merkle where instance = 'proof-1'" ||
	fail "backup"
# mtamper SQL / mrestore: change or put back the stored subtrees
mtamper() {
	sq "alter table ledger_merkle disable trigger user; $1;
	    alter table ledger_merkle enable trigger user" || fail "tampering failed: $1"
}
mrestore() {
	mtamper "delete from ledger_merkle where instance = 'proof-1';
	    insert into ledger_merkle select * from t_merkle"
}
[ "$(sq "select count(*) from t_merkle")" -ge 2 ] || fail "too few stored subtrees"
mtamper "update ledger_merkle set hash = sha256(hash) where instance = 'proof-1'"
preq GET "/v1/ledger/proof-1/$seq"
expect_code 503 "GET with a changed Merkle tree"
grep -q "no valid inclusion proof of proof-1 seq $seq" "$F/seald.log" ||
	fail "log: $(grep -m1 'inclusion' "$F/seald.log")"
mrestore
preq GET "/v1/ledger/proof-1/$seq"
expect_code 200 "GET after the rows are put back"
seald_stop "$F"
mtamper "update ledger_merkle set hash = sha256(hash) where instance = 'proof-1'"
expect_refused_start "$F" 4 "does not have the root its checkpoint signs (ledger_merkle was changed)"
# the documented repair: delete the rows, seald rebuilds them from the entries
mtamper "delete from ledger_merkle where instance = 'proof-1'"
seald_start "$IT_BUILD" "$F" || fail "seald does not start again: $(tail -n 3 "$F/seald.log")"
[ "$(sq "select count(*) from ledger_merkle join t_merkle using (instance, level, idx, hash)")" = \
    "$(sq "select count(*) from t_merkle")" ] || fail "the rebuilt rows differ from the originals"
preq GET "/v1/ledger/proof-1/$seq"
expect_code 200 "GET after the rebuild"

tid "a row appended behind seald's back: it stops writing and says where"
head=$(sq "select max(seq) from ledger_entries where instance = 'proof-1'")
sq "insert into ledger_entries select instance, seq + 1, kind, signed_at_us + 1,
    signed_at, client, client_uid, client_pid, request_id || '-forged', request_hash,
    key_name, key_version, algorithm, digest_alg, digest, format, signature,
    evidence_type, evidence_ref, entry_hash, entry_hash, policy_hash, detail
    from ledger_entries where instance = 'proof-1' and seq = $head" || fail "forge"
IT_SOCK=$F/seald.sock sign_json demo-ec "$d" sha256 "t-proof-after-forge-$RANDOM" >/dev/null
[ "$HTTP_CODE" = 503 ] || fail "signing went on: HTTP $HTTP_CODE"
sleep 1.5
preq GET /readyz
expect_code 503 "readyz"
grep -q "entry $((head + 1)) was not written by seald" "$F/seald.log" ||
	fail "log: $(grep ledger "$F/seald.log" | tail -n 2)"
seald_stop "$F"
sq "alter table ledger_entries disable trigger user;
    delete from ledger_entries where instance = 'proof-1' and seq > $head;
    alter table ledger_entries enable trigger user" || fail "remove the forged row"

tid "a start after a row appended to a cleanly stopped ledger is refused; the override is recorded"
seald_start "$IT_BUILD" "$F" || fail "seald does not start again: $(tail -n 3 "$F/seald.log")"
seald_stop "$F"
head=$(sq "select max(seq) from ledger_entries where instance = 'proof-1'")
[ "$(sq "select closing from ledger_checkpoints where instance = 'proof-1'
    order by seq desc, signed_at_us desc limit 1")" = t ] || fail "no closing checkpoint"
# a forgery with a correctly recomputed hash, linked to the head
psql_hash "$SUPER" "
alter table ledger_entries disable trigger user;
insert into ledger_entries select instance, seq + 1, kind, signed_at_us + 1, signed_at,
    client, client_uid, client_pid, request_id || '-forged', request_hash, key_name,
    key_version, algorithm, digest_alg, digest, format, signature, evidence_type,
    evidence_ref, entry_hash, entry_hash, policy_hash, detail
    from ledger_entries where instance = 'proof-1' and seq = $head;
update ledger_entries set entry_hash = $LEDGER_HASH_SQL where instance = 'proof-1' and seq = $((head + 1));
alter table ledger_entries enable trigger user;" >"$F/forge.out" 2>&1 ||
	fail "forging failed: $(cat "$F/forge.out")"
expect_refused_start "$F" 4 "entries $((head + 1))..$((head + 1)) were added after seald stopped cleanly at seq $head"
"$IT_BUILD/seald" -c "$F/seald.yaml" --override-ledger-check "it: forged row test" \
    </dev/null >"$F/override.log" 2>&1 &
pid=$!
end=$((SECONDS + 15))
while [ "$SECONDS" -le "$end" ] && ! grep -q "ready:" "$F/override.log"; do
	sleep 0.2
done
kill -TERM "$pid" 2>/dev/null
wait "$pid"
grep -q "starting anyway" "$F/override.log" || fail "no override: $(tail -n 3 "$F/override.log")"
[ "$(sq "select count(*) from ledger_entries where instance = 'proof-1' and kind = 'override'
    and detail like 'start-up check failed: entry $((head + 1)): entries%overridden by uid $(id -u): it: forged row test'")" = 1 ] ||
	fail "override entry: $(sq "select detail from ledger_entries where kind = 'override'")"
"$IT_BUILD/sealctl" ledger verify --db "host=$IT_DIR/pgsock dbname=t_proof user=seald_verifier" --audit-key "$AUDIT" \
    >"$F/verify.out" 2>&1 && fail "verify passed a row appended after a clean stop"
grep -q "^instance proof-1: BROKEN at seq $((head + 1)): entries $((head + 1))\.\.[0-9]* were added after seald stopped cleanly" "$F/verify.out" ||
	fail "verify: $(grep proof-1 "$F/verify.out")"
