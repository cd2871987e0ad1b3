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
# proof_of SEQ: GET entry SEQ until a checkpoint covers it (15 s at most)
proof_of() {
	local end=$((SECONDS + 15))
	while [ "$SECONDS" -le "$end" ]; do
		preq GET "/v1/ledger/proof-1/$1"
		[ "$HTTP_CODE" = 200 ] && [ "$(jq -r '.inclusion != null' "$IT_BODY")" = true ] && return 0
		sleep 0.5
	done
	return 0 # the caller's checks say what is missing
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
proof_of "$seq"
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

tid "another client's entry and a missing one take the same time"
# the same answer, and no proof built for either: the time does not tell
# (it took 1-2 ms against 0.3 ms when the proof was built and dropped)
if [ -z "$IT_OTHER_USER" ]; then
	skip "no second client user"
else
	out=$(cd / && _it_switch "$IT_OTHER_USER" python3 -c '
import socket, statistics, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
def get(path):
    t0 = time.perf_counter()
    s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += s.recv(65536)
    head, _, body = buf.partition(b"\r\n\r\n")
    n = int([l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0].split(b":")[1])
    while len(body) < n:
        body += s.recv(65536)
    return head.split(b" ")[1].decode(), (time.perf_counter() - t0) * 1000
times = {"theirs": [], "none": []}
codes = set()
for i in range(200):
    for kind, seq in (("theirs", sys.argv[2]), ("none", str(900000 + i))):
        code, ms = get("/v1/ledger/proof-1/" + seq)
        codes.add(code)
        if i >= 20:
            times[kind].append(ms)
print(",".join(sorted(codes)), round(statistics.median(times["theirs"]), 3),
      round(statistics.median(times["none"]), 3))
' "$F/seald.sock" "$seq" 2>&1)
	read -r codes theirs none <<<"$out"
	[ "$codes" = 404 ] || fail "answers: $out"
	note "median $theirs ms for another client's entry, $none ms for none"
	case "$IT_BUILD" in
	*-san) ;;
	*) awk -v a="$theirs" -v b="$none" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d < 0.15 || d < 0.25 * b) }' ||
		fail "another client's entry: $theirs ms, none: $none ms" ;;
	esac
fi

tid "a cades-t seal's entry comes with its token's serial and policy, and its proof holds offline"
IT_SOCK=$F/seald.sock sign_json demo-ec "$d" sha256 "t-proof-bt-$RANDOM" cades-t
expect_code 200 "cades-t"
bt_seq=$(jq -r .ledger.seq "$IT_BODY")
bt_serial=$(jq -r .timestamp.serial "$IT_BODY")
proof_of "$bt_seq"
cp "$IT_BODY" "$F/proof-bt.json"
jq -e --arg s "$bt_serial" '.entry.format == "cades-t" and .entry.tsa_serial == $s and
    .entry.tsa_policy == "2.999.1.1"' "$F/proof-bt.json" >/dev/null ||
	fail "entry: $(jq -c '.entry | del(.signature)' "$F/proof-bt.json")"
prove "$F/proof-bt.json" --document "$F/doc" || fail "prove: $(cat "$F/prove.out")"
# the token's serial is in the hash: another one breaks the proof
jq '.entry.tsa_serial = "01"' "$F/proof-bt.json" >"$F/proof-bt2.json"
prove "$F/proof-bt2.json" && fail "prove accepted another token serial"

tid "ledger paths and page sizes are checked"
for p in "/v1/ledger/proof-1/0" "/v1/ledger/proof-1/abc" "/v1/ledger/proof-1/1/2" \
    "/v1/ledger/b%24d/1" "/v1/ledger/$(printf 'x%.0s' $(seq 1 70))/1" \
    "/v1/ledger/proof-1/99999999999999999999"; do
	preq GET "$p"
	expect_code 400 "$p"
done
# one spelling for each: no percent-decoding (a NUL would end the path),
# no leading zero, no unknown, repeated or empty query argument
for p in "/v1/ledger/proof-1/$seq%00junk" "/v1/ledger/proof-1/0$seq" \
    "/v1/ledger/proof-1/%3$seq" "/v1/ledger/proof-1/$seq?after=1" \
    "/v1/ledger/proof-1/$seq?x"; do
	preq GET "$p"
	expect_code 400 "$p"
done
for q in "limit=0" "limit=501" "after=-1" "limit=1x" "after=1&after=2" \
    "limit=3&limit=3" "after=01" "limit=03" "foo=1" "after" "after=" \
    "after=%31" "after=+1"; do
	preq -u "$IT_UNKNOWN_USER" GET "/v1/ledger/proof-1?$q" && expect_code 400 "?$q"
done
preq -u "$IT_UNKNOWN_USER" GET "/v1/ledger/proof-1%00/$seq" && expect_code 400 "instance%00/seq"
preq -u "$IT_UNKNOWN_USER" GET "/v1/ledger/proof-1?after=0&limit=1" &&
	expect_code 200 "after=0&limit=1"
for p in "/healthz?x=1" "/v1/keys?all" "/metrics?name=seald_requests_total"; do
	http_req GET "$p"
	expect_code 400 "$p (an endpoint that takes no query)"
done
preq POST "/v1/ledger/proof-1/1" '{}'
expect_code 405 "POST"
"$IT_BUILD/sealctl" -s "$F/seald.sock" ledger entry proof-1 "$seq" >"$F/ctl.json" ||
	fail "sealctl ledger entry"
prove "$F/ctl.json" || fail "sealctl's document: $(cat "$F/prove.out")"

tid "seald's own database role appends only what follows: no Merkle row ahead, no entry out of sequence"
# as seald_daemon (seald's writer role), what a compromised seald process
# or a stolen password could try: each refused by the database, and seald
# signs on (a Merkle row far ahead once made every later commit fail)
WRITER="host=$IT_DIR/pgsock dbname=t_proof user=seald_daemon"
wq() { "$(pg_bindir)/psql" -X -q -At -v ON_ERROR_STOP=1 "$WRITER" -c "$1" 2>&1; }
h=$(sq "select max(seq) from ledger_entries where instance = 'proof-1'")
z=$(printf '0%.0s' $(seq 64))
for try in \
    "insert into ledger_merkle values ('proof-1', 1, $((h + 10)), '\\x$z')" \
    "insert into ledger_merkle values ('proof-1', 1, $((h / 2)), '\\x$z')" \
    "insert into ledger_entries select instance, seq + 5, kind, signed_at_us, signed_at, client, client_uid, client_pid, request_id || '-gap', request_hash, key_name, key_version, algorithm, digest_alg, digest, format, signature, evidence_type, evidence_ref, entry_hash, entry_hash, policy_hash, detail from ledger_entries where instance = 'proof-1' and seq = $h" \
    "insert into ledger_entries select instance, seq + 1, kind, signed_at_us, signed_at, client, client_uid, client_pid, request_id || '-link', request_hash, key_name, key_version, algorithm, digest_alg, digest, format, signature, evidence_type, evidence_ref, prev_hash, entry_hash, policy_hash, detail from ledger_entries where instance = 'proof-1' and seq = $h" \
    "insert into ledger_checkpoints select instance, 999999, entry_hash, signed_at_us, signed_at, key_label, algorithm, signature, root, closing from ledger_checkpoints where instance = 'proof-1' limit 1"; do
	out=$(wq "$try") && fail "the writer role could: $try"
	grep -q "does not follow its chain\|is not the subtree\|names no entry" <<<"$out" ||
		fail "refused for another reason: $out"
done
IT_SOCK=$F/seald.sock sign_json demo-ec "$d" sha256 "t-proof-after-writer-$RANDOM"
expect_code 200 "sign after the writer role's attempts"
preq GET /readyz
expect_code 200 "readyz after the writer role's attempts"

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
expect_refused_start "$F" 4 "entry 2: the Merkle subtree (level 1, index 0) in ledger_merkle is missing or not the one its entries make"
# from the newest checkpoint (ledger.verify_at_start: checkpoint), its root
sed -i 's/^ledger:$/ledger:\n  verify_at_start: checkpoint/' "$F/seald.yaml"
expect_refused_start "$F" 4 "does not have the root its checkpoint signs (ledger_merkle was changed)"
sed -i '/^  verify_at_start: checkpoint$/d' "$F/seald.yaml"
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
    signed_at + interval '1 microsecond', client, client_uid, client_pid, request_id || '-forged', request_hash,
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
insert into ledger_entries select instance, seq + 1, kind, signed_at_us + 1,
    signed_at + interval '1 microsecond', client, client_uid, client_pid, request_id || '-forged', request_hash, key_name,
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
