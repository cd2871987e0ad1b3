# shellcheck shell=bash
# t_ledger_verify.sh — sealctl ledger verify against a ledger tampered
# with by a database superuser (triggers disabled): a changed entry, a
# deleted one, two swapped, and a forged one inserted with a correctly
# recomputed hash are each reported at the right position.  An SQL-only
# recomputation written from docs/ledger-format.md agrees with every
# stored hash, so the format document is enough to check the chain.

F=$IT_DIR/tamper
DB="host=$IT_DIR/pgsock dbname=t_tamper user=seald_verifier"
SUPER="host=$IT_DIR/pgsock dbname=t_tamper user=postgres"
it_instance "$F" tamper-1 -e "s|dbname=seald|dbname=t_tamper|"
sq() { "$(pg_bindir)/psql" -X -q -At -v ON_ERROR_STOP=1 "$SUPER" -c "$1"; }
AUDIT=$IT_DIR/certs/seald-audit.pub.pem
verify() {
	"$IT_BUILD/sealctl" ledger verify --db "$DB" --audit-key "$AUDIT" \
	    >"$F/verify.out" 2>&1
}

tid "a fresh ledger of 12 entries (signatures and policy entries) verifies"
psql_super "create database t_tamper owner seald" >/dev/null || fail "createdb"
"$IT_BUILD/seald" migrate -c "$F/seald.yaml" >>"$F/seald.log" 2>&1 || fail "migrate"
if ! seald_start "$IT_BUILD" "$F"; then
	fail "seald did not start: $(tail -n 3 "$F/seald.log")"
	return 0
fi
d=$(digest_b64 sha256 tamper)
for i in $(seq 1 11); do
	k=demo-ec
	[ $((i % 3)) = 0 ] && k=demo-rsa
	printf '{"key":"%s","digest":"%s","digest_alg":"sha256","request_id":"t-tamper-%d","evidence":{"type":"submission","ref":"r%d"}}' \
	    "$k" "$d" "$i" "$i" | curl -s --unix-socket "$F/seald.sock" \
	    -H 'Content-Type: application/json' --data-binary @- -o /dev/null http://localhost/v1/sign
done
seald_stop "$F"
[ "$(sq "select count(*) from ledger_entries where instance = 'tamper-1'")" = 12 ] ||
	fail "expected 12 entries"
verify || fail "a fresh ledger does not verify: $(cat "$F/verify.out")"
grep -q '^instance tamper-1: OK, 12 entries, chain head at seq 12, [0-9]* checkpoints (last at seq 12)$' \
    "$F/verify.out" || fail "$(cat "$F/verify.out")"

sqh() { psql_hash "$SUPER" "$1"; }
HASH_SQL=$LEDGER_HASH_SQL

tid "an SQL check written from docs/ledger-format.md agrees with every entry"
n=$(sqh "select count(*) from ledger_entries where instance = 'tamper-1'
    and entry_hash = $HASH_SQL" 2>&1)
[ "$n" = 12 ] || fail "the documented encoding matches '$n' of 12 entries"

# the document's queries for places and links, and checkpoints' entries,
# as it prints them: LINK_SQL finds nothing on a sound chain
doc_sql() { awk -v m="$1" '$0 ~ m { f = 1 } f { print } f && /;$/ { exit }' "$IT_ROOT/docs/ledger-format.md"; }
LINK_SQL=$(doc_sql '^-- gaps and links')
CP_SQL=$(doc_sql '^-- each checkpoint names')
[ -n "$LINK_SQL" ] && [ -n "$CP_SQL" ] || fail "the queries are not in docs/ledger-format.md"
[ -z "$(sq "$LINK_SQL")$(sq "$CP_SQL")" ] || fail "the documented queries find a problem in a sound chain"

sq "create table t_backup as select * from ledger_entries;
    create table t_cp_backup as select * from ledger_checkpoints" || fail backup
# tamper SQL: run it with the ledger's triggers off, verify, restore
tamper() {
	sq "alter table ledger_entries disable trigger user;
	    alter table ledger_checkpoints disable trigger user; $1;
	    alter table ledger_entries enable trigger user;
	    alter table ledger_checkpoints enable trigger user" || fail "tampering failed: $1"
}
restore() {
	sq "alter table ledger_entries disable trigger user;
	    delete from ledger_entries; insert into ledger_entries select * from t_backup;
	    alter table ledger_entries enable trigger user" || fail restore
}
# expect_broken SEQ TEXT
expect_broken() {
	if verify; then
		fail "verify passed a tampered ledger: $(cat "$F/verify.out")"
	elif ! grep -q "^instance tamper-1: BROKEN at seq $1: .*$2" "$F/verify.out"; then
		fail "wanted seq $1 ($2): $(cat "$F/verify.out")"
	fi
	restore
}

tid "an UPDATE of one digest is caught at that entry"
tamper "update ledger_entries set digest = sha256(digest) where instance = 'tamper-1' and seq = 5"
expect_broken 5 "the entry was changed"

tid "signed_at moved back a day is caught at that entry (the hash covers signed_at_us)"
tamper "update ledger_entries set signed_at = signed_at - interval '1 day' where instance = 'tamper-1' and seq = 8"
expect_broken 8 "the entry's time was changed"

tid "a DELETE of a middle entry is caught at its position"
tamper "delete from ledger_entries where instance = 'tamper-1' and seq = 7"
expect_broken 7 "missing"

tid "two swapped entries are caught at the first of them"
tamper "update ledger_entries set seq = seq + 1000 where instance = 'tamper-1' and seq in (4, 9);
        update ledger_entries set seq = 1013 - seq where instance = 'tamper-1' and seq in (1004, 1009)"
[ "$(sq "$LINK_SQL" | head -n 1)" = "tamper-1|4" ] || fail "the documented link query: $(sq "$LINK_SQL" | head -n 2)"
expect_broken 4 ""

tid "a forged entry inserted with a correctly recomputed hash is caught"
sqh "
alter table ledger_entries disable trigger user;
update ledger_entries set seq = seq + 100 where instance = 'tamper-1' and seq > 6;
update ledger_entries set seq = seq - 99 where instance = 'tamper-1' and seq > 100;
insert into ledger_entries select instance, 7, kind, signed_at_us + 1, signed_at + interval '1 microsecond',
    client, client_uid, client_pid, request_id || '-forged', request_hash,
    key_name, key_version, algorithm, digest_alg, sha256(digest), format,
    signature, evidence_type, evidence_ref, prev_hash, entry_hash, policy_hash,
    detail from ledger_entries where instance = 'tamper-1' and seq = 6;
update ledger_entries set prev_hash = (select entry_hash from ledger_entries
    where instance = 'tamper-1' and seq = 6) where instance = 'tamper-1' and seq = 7;
update ledger_entries set entry_hash = $HASH_SQL where instance = 'tamper-1' and seq = 7;
alter table ledger_entries enable trigger user;" >"$F/forge.out" 2>&1 ||
	fail "forging failed: $(cat "$F/forge.out")"
# entry 7 is a perfect forgery; entry 8 (the old 7) no longer links to it
expect_broken 8 "prev_hash is not the hash of entry 7"

tid "a clean stop signed the chain head; openssl verifies the checkpoint"
[ "$(sq "select max(seq) from ledger_checkpoints where instance = 'tamper-1'")" = 12 ] ||
	fail "no checkpoint at the head (seq 12)"
# the newest checkpoint at seq 12: the closing one of the clean stop
CP="from ledger_checkpoints where instance = 'tamper-1' and seq = 12 order by signed_at_us desc limit 1"
[ "$(sq "select closing $CP")" = t ] || fail "the checkpoint of the clean stop is not marked closing"
dg=$(sqh "select encode(sha256('\\x7365616c642d636865636b706f696e742d763200'::bytea
    || pg_temp.s(instance) || int8send(seq) || pg_temp.b(entry_hash) || pg_temp.b(root)
    || int8send(closing::int::bigint) || int8send(signed_at_us)), 'hex') $CP")
sig=$(sq "select encode(signature, 'hex') $CP")
printf '%b' "$(sed 's/../\\x&/g' <<<"$dg")" >"$F/cp.dg"
printf '%b' "$(sed 's/../\\x&/g' <<<"$sig")" >"$F/cp.sig"
openssl pkeyutl -verify -pubin -inkey "$AUDIT" -in "$F/cp.dg" -sigfile "$F/cp.sig" \
    >/dev/null 2>&1 || fail "openssl does not verify the checkpoint signature"

tid "deleting the newest entries is caught through the checkpoint"
tamper "delete from ledger_entries where instance = 'tamper-1' and seq > 10"
[ "$(sq "$CP_SQL" | head -n 1)" = "tamper-1|12" ] || fail "the documented checkpoint query: $(sq "$CP_SQL")"
expect_broken 11 "missing (removed; the checkpoint at seq 12 signs them)"

tid "a checkpoint not signed by the audit key is caught"
tamper "update ledger_checkpoints set signature = signature || '\\x00'::bytea
    where instance = 'tamper-1' and seq = 12"
expect_broken 12 "not signed by the audit key"
sq "alter table ledger_checkpoints disable trigger user;
    delete from ledger_checkpoints where instance = 'tamper-1';
    insert into ledger_checkpoints select * from t_cp_backup;
    alter table ledger_checkpoints enable trigger user" || fail "restore checkpoints"

tid "seald refuses to continue a chain cut short under its checkpoint (exit 4)"
tamper "delete from ledger_entries where instance = 'tamper-1' and seq > 10"
expect_refused_start "$F" 4 'entries 11..12 are missing (removed; the checkpoint at seq 12 signs them)'
restore
if ! seald_start "$IT_BUILD" "$F"; then
	fail "seald does not start on the restored ledger: $(tail -n 3 "$F/seald.log")"
fi
seald_stop "$F"

tid "the untouched ledger verifies again after each restore; other instances too"
verify || fail "$(cat "$F/verify.out")"
"$IT_BUILD/sealctl" ledger verify --db "$IT_CONNINFO" --audit-key "$AUDIT" >"$F/main.out" 2>&1 ||
	fail "the shared test ledger does not verify: $(cat "$F/main.out")"
grep -q '^instance demo-1: OK' "$F/main.out" || fail "$(cat "$F/main.out")"

tid "two instances with different names share one database and both verify"
G=$IT_DIR/tamper2
it_instance "$G" tamper-2 -e "s|dbname=seald|dbname=t_tamper|"
if seald_start "$IT_BUILD" "$F" && seald_start "$IT_BUILD" "$G"; then
	for i in 1 2 3; do
		for s in "$F" "$G"; do
			IT_SOCK=$s/seald.sock sign_json demo-ec "$d" sha256 "t-two-$i-$RANDOM" >/dev/null
			expect_code 200 "sign on $s"
		done
	done
	seald_stop "$G"
	seald_stop "$F"
else
	fail "the two instances did not both start: $(tail -n 3 "$G/seald.log")"
fi
verify || fail "$(cat "$F/verify.out")"
grep -q '^instance tamper-1: OK' "$F/verify.out" && grep -q '^instance tamper-2: OK, 4 entries' "$F/verify.out" ||
	fail "$(cat "$F/verify.out")"

tid "after a crash, verify names the entries that no checkpoint signs yet; a restart signs them"
if seald_start "$IT_BUILD" "$G"; then
	for i in 1 2; do
		IT_SOCK=$G/seald.sock sign_json demo-ec "$d" sha256 "t-crash-$i-$RANDOM" >/dev/null
		expect_code 200 "sign before the crash"
	done
	kill -KILL "$(cat "$G/seald.pid")"
	sleep 0.5
	verify || fail "$(cat "$F/verify.out")"
	grep -Eq '^instance tamper-2: OK, .*; entries [0-9]+\.\.[0-9]+ are not under a checkpoint yet$' \
	    "$F/verify.out" || fail "$(grep tamper-2 "$F/verify.out")"
	seald_start "$IT_BUILD" "$G" || fail "no restart after the crash: $(tail -n 3 "$G/seald.log")"
	seald_stop "$G"
	verify || fail "$(cat "$F/verify.out")"
	grep -q 'not under a checkpoint' "$F/verify.out" && fail "$(grep tamper-2 "$F/verify.out")"
else
	fail "tamper-2 did not start: $(tail -n 3 "$G/seald.log")"
fi
