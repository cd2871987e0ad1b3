# shellcheck shell=bash
# t_ledger_tamper.sh — seald catches tampering with its own chain by
# itself.  Each change a database superuser can make (an entry changed,
# deleted, swapped or inserted in the middle, the newest entries deleted
# with their checkpoints and Merkle rows, a Merkle row planted past the
# head, signed_at moved, a column outside the hash filled in) is caught
# three ways, at its position:
#   - by `sealctl ledger verify` (with the witnessed head),
#   - by seald at start (exit 4),
#   - by seald while it runs (the background verifier): within the
#     stated time readiness goes 503, signing answers 503
#     ledger_unavailable, the log and /metrics name the position.
# The newest signed head is witnessed outside the database (a file and a
# token data object) and handed out by GET /v1/ledger/{instance}/head.

F=$IT_DIR/guard
SUPER="host=$IT_DIR/pgsock dbname=t_guard user=postgres"
DB="host=$IT_DIR/pgsock dbname=t_guard user=seald_verifier"
AUDIT=$IT_DIR/certs/seald-audit.pub.pem
it_instance "$F" guard-1 -e "s|dbname=seald|dbname=t_guard|" \
    -e "s|^  checkpoint_every: .*|  checkpoint_every: 5|" \
    -e "s|^  checkpoint_seconds: .*|  checkpoint_seconds: 1|" \
    -e "s|^ledger:\$|ledger:\n  verify_rate: 100000\n  witness_file: $F/head.note|"
sq() { "$(pg_bindir)/psql" -X -q -At -v ON_ERROR_STOP=1 "$SUPER" -c "$1"; }
sqh() { psql_hash "$SUPER" "$1"; }
HASH_SQL=$LEDGER_HASH_SQL
d=$(digest_b64 sha256 guard)
# sign N FROM: N signatures with request ids FROM...
sign_some() {
	local i
	for i in $(seq "$2" $(($2 + $1 - 1))); do
		IT_SOCK=$F/seald.sock sign_json demo-ec "$d" sha256 "t-guard-$i" >/dev/null
		[ "$HTTP_CODE" = 200 ] || fail "signature $i: HTTP $HTTP_CODE"
	done
}
# snap / restore: the instance's rows as they are, and back
snap() {
	sq "drop table if exists g_e, g_c, g_m;
	    create table g_e as select * from ledger_entries where instance = 'guard-1';
	    create table g_c as select * from ledger_checkpoints where instance = 'guard-1';
	    create table g_m as select * from ledger_merkle where instance = 'guard-1'" ||
		fail snapshot
}
notrig() {
	sqh "alter table ledger_entries disable trigger user;
	    alter table ledger_checkpoints disable trigger user;
	    alter table ledger_merkle disable trigger user; $1;
	    alter table ledger_entries enable trigger user;
	    alter table ledger_checkpoints enable trigger user;
	    alter table ledger_merkle enable trigger user" 2>"$F/sql.err"
}
restore() {
	notrig "delete from ledger_entries where instance = 'guard-1';
	    insert into ledger_entries select * from g_e;
	    delete from ledger_checkpoints where instance = 'guard-1';
	    insert into ledger_checkpoints select * from g_c;
	    delete from ledger_merkle where instance = 'guard-1';
	    insert into ledger_merkle select * from g_m" || fail restore
}
head() { sq "select max(seq) from ledger_entries where instance = 'guard-1'"; }
metric() {
	curl -s --max-time 5 --unix-socket "$F/seald.sock" http://localhost/metrics |
	    awk -v m="$1" '$1 == m { print $2 }'
}

# The tampering, by name: its SQL (with H the head) and where it shows.
# Each sets T_SQL, T_SEQ, T_TEXT (as said by sealctl and seald at start)
# and T_RUN (as the running seald says it, when it differs).
case_sql() {
	local h=$1
	T_RUN=
	case "$2" in
	change)
		T_SQL="update ledger_entries set digest = sha256(digest) where instance = 'guard-1' and seq = 10"
		T_SEQ=10 T_TEXT="the entry was changed" ;;
	delete)
		T_SQL="delete from ledger_entries where instance = 'guard-1' and seq = 10"
		T_SEQ=10 T_TEXT="entries 10..10 are missing (deleted)" ;;
	swap)
		T_SQL="update ledger_entries set seq = 1000000 where instance = 'guard-1' and seq = 10;
		    update ledger_entries set seq = 10 where instance = 'guard-1' and seq = 11;
		    update ledger_entries set seq = 11 where instance = 'guard-1' and seq = 1000000"
		T_SEQ=10 T_TEXT="prev_hash is not the hash of entry 9" ;;
	insert)
		# a forged entry 10 with a correctly recomputed hash, the rest
		# moved up one
		T_SQL="update ledger_entries set seq = seq + 100000 where instance = 'guard-1' and seq >= 10;
		    update ledger_entries set seq = seq - 99999 where instance = 'guard-1' and seq > 100000;
		    insert into ledger_entries select instance, 10, kind, signed_at_us + 1,
		        signed_at + interval '1 microsecond', client, client_uid, client_pid,
		        request_id || '-forged', request_hash, key_name, key_version, algorithm,
		        digest_alg, sha256(digest), format, signature, evidence_type, evidence_ref,
		        entry_hash, entry_hash, policy_hash, detail
		        from ledger_entries where instance = 'guard-1' and seq = 9;
		    update ledger_entries set entry_hash = $HASH_SQL where instance = 'guard-1' and seq = 10"
		# caught at 10 when a checkpoint signed the old entry 10 (where
		# checkpoints fall depends on timing), else where the link fails
		if [ "$(sq "select count(*) from ledger_checkpoints where instance = 'guard-1' and seq = 10")" != 0 ]; then
			T_SEQ=10 T_TEXT="entry 10 is missing or not the one the checkpoint signed"
		else
			T_SEQ=11 T_TEXT="prev_hash is not the hash of entry 10"
		fi ;;
	tail)
		T_SQL="delete from ledger_entries where instance = 'guard-1' and seq > 30;
		    delete from ledger_checkpoints where instance = 'guard-1' and seq > 30;
		    delete from ledger_merkle where instance = 'guard-1' and (idx + 1) << level > 30"
		T_SEQ=31 T_TEXT="the database ends at seq 30, short of the head witnessed in"
		T_RUN="entries 31..$h are missing (deleted; seald committed them)" ;;
	merkle)
		T_SQL="insert into ledger_merkle values ('guard-1', 1, $((h / 2 + 4)), sha256('x'))"
		T_SEQ=$((h + 1)) T_TEXT="ledger_merkle holds a subtree (level 1, index $((h / 2 + 4))) of entries past the head" ;;
	signed_at)
		T_SQL="update ledger_entries set signed_at = signed_at - interval '1 day' where instance = 'guard-1' and seq = 12"
		T_SEQ=12 T_TEXT="the entry's time was changed" ;;
	unhashed)
		# a column the entry hash leaves out, filled in
		T_SQL="update ledger_entries set detail = 'approved by the board' where instance = 'guard-1' and seq = 14"
		T_SEQ=14 T_TEXT="detail holds what the entry hash does not cover" ;;
	esac
	[ -n "$T_RUN" ] || T_RUN=$T_TEXT
}
CASES="change delete swap insert tail merkle signed_at unhashed"

tid "seald keeps its newest signed head in a file and in the token; GET /v1/ledger/guard-1/head hands it out"
psql_super "create database t_guard owner seald" >/dev/null || fail "createdb"
"$IT_BUILD/seald" migrate -c "$F/seald.yaml" >>"$F/seald.log" 2>&1 || fail "migrate"
if ! seald_start "$IT_BUILD" "$F"; then
	fail "seald did not start: $(tail -n 3 "$F/seald.log")"
	return 0
fi
sign_some 40 1
sleep 2 # the idle checkpoint
"$IT_BUILD/sealctl" -s "$F/seald.sock" ledger head guard-1 >"$F/api.note" ||
	fail "sealctl ledger head: $(cat "$F/api.note")"
cmp -s "$F/api.note" "$F/head.note" || fail "the API's head is not the file's: $(diff "$F/api.note" "$F/head.note")"
h=$(head)
[ "$(sed -n 1,2p "$F/head.note" | tr '\n' ' ')" = "seald/guard-1 $h " ] ||
	fail "the file does not witness the head $h: $(cat "$F/head.note")"
IT_SOCK=$F/seald.sock http_req GET /v1/ledger/other-9/head
expect_code 404 "another instance's head"
"$IT_BUILD/sealctl" ledger verify --db "$DB" --audit-key "$AUDIT" --witness "$F/head.note" \
    >"$F/verify.out" 2>&1 || fail "verify --witness: $(cat "$F/verify.out")"
sed -i 's/^time .*/time 1/' "$F/api.note"
if "$IT_BUILD/sealctl" ledger verify --db "$DB" --audit-key "$AUDIT" --witness "$F/api.note" \
    >"$F/verify.out" 2>&1; then
	fail "a witness whose time was changed was taken"
fi
grep -q "not signed by the audit key" "$F/verify.out" || fail "$(cat "$F/verify.out")"
seald_stop "$F"

tid "sealctl ledger verify --witness and seald at start each catch every tampering at its position"
snap
for c in $CASES; do
	case_sql "$(head)" "$c"
	notrig "$T_SQL" || { fail "$c: tampering failed: $(head -c 300 "$F/sql.err")"; continue; }
	if "$IT_BUILD/sealctl" ledger verify --db "$DB" --audit-key "$AUDIT" \
	    --witness "$F/head.note" >"$F/verify.out" 2>&1; then
		fail "$c: sealctl passed it"
	elif ! grep -qF "instance guard-1: BROKEN at seq $T_SEQ: " "$F/verify.out" ||
	    ! grep -qF "$T_TEXT" "$F/verify.out"; then
		fail "$c: sealctl, wanted seq $T_SEQ ($T_TEXT): $(cat "$F/verify.out")"
	fi
	out=$(timeout 20 "$IT_BUILD/seald" -c "$F/seald.yaml" 2>&1 </dev/null)
	rc=$?
	if [ "$rc" != 4 ]; then
		fail "$c: seald at start: exit $rc: $(tail -n 2 <<<"$out")"
	elif ! grep -qF "entry $T_SEQ: " <<<"$out" || ! grep -qF "$T_TEXT" <<<"$out"; then
		fail "$c: seald at start, wanted seq $T_SEQ ($T_TEXT): $(grep -m1 'ledger:' <<<"$out")"
	fi
	restore
done

tid "the token witnesses the head without the file: a cut tail is refused at start"
mv "$F/head.note" "$F/head.saved"
case_sql "$(head)" tail
notrig "$T_SQL" || fail "tampering failed"
expect_refused_start "$F" 4 "short of the head witnessed in the token"
restore
mv "$F/head.saved" "$F/head.note"

tid "an instance that has signed checkpoints does not start without its audit key"
mkdir -p "$F/nokey"
grep -Ev '^  (checkpoint_key|checkpoint_every|checkpoint_seconds|witness_file):' \
    "$F/seald.yaml" >"$F/nokey/seald.yaml"
expect_refused_start "$F/nokey" 4 "instance guard-1 has signed checkpoints: set ledger.checkpoint_key"

tid "a witness behind the database (a crash before it was written) never stops a start"
cp "$F/head.note" "$F/head.new"
if ! seald_start "$IT_BUILD" "$F"; then
	fail "seald did not start: $(tail -n 3 "$F/seald.log")"
	return 0
fi
sign_some 12 100
kill -KILL "$(cat "$F/seald.pid")"
seald_stop "$F"
cp "$F/head.new" "$F/head.note" # the file as it was before those 12
seald_start "$IT_BUILD" "$F" || fail "seald refused a sound ledger: $(tail -n 3 "$F/seald.log")"
grep -q "the chain reaches the head witnessed in" "$F/seald.log" || fail "no witness line in the log"

tid "while seald runs, the background verifier catches each, fails closed and says where"
seald_stop "$F"
for c in $CASES; do
	if ! seald_start "$IT_BUILD" "$F"; then
		fail "$c: seald did not start: $(tail -n 3 "$F/seald.log")"
		restore
		continue
	fi
	IT_SOCK=$F/seald.sock await_ready 200 10 || fail "$c: not ready"
	snap
	case_sql "$(head)" "$c"
	t0=$(date +%s%N)
	if ! notrig "$T_SQL"; then
		fail "$c: tampering failed: $(head -c 300 "$F/sql.err")"
		seald_stop "$F"
		restore
		continue
	fi
	code=
	for _ in $(seq 1 100); do
		code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
		    --unix-socket "$F/seald.sock" http://localhost/readyz)
		[ "$code" = 503 ] && break
		sleep 0.1
	done
	ms=$((($(date +%s%N) - t0) / 1000000))
	[ "$code" = 503 ] || fail "$c: readyz still $code after $ms ms"
	note "$c: caught in $ms ms"
	IT_SOCK=$F/seald.sock sign_json demo-ec "$d" sha256 "t-guard-$c-after" >/dev/null
	[ "$HTTP_CODE" = 503 ] && grep -q ledger_unavailable "$IT_BODY" ||
		fail "$c: a signature after: HTTP $HTTP_CODE $(cat "$IT_BODY")"
	grep -F "broken at seq $T_SEQ: " "$F/seald.log" | grep -qF "$T_RUN" ||
		fail "$c: log: $(grep 'broken at' "$F/seald.log" | tail -n 1)"
	[ "$(metric seald_ledger_broken_seq)" = "$T_SEQ" ] ||
		fail "$c: seald_ledger_broken_seq $(metric seald_ledger_broken_seq)"
	seald_stop "$F"
	restore
done
if seald_start "$IT_BUILD" "$F"; then
	sign_some 2 200
	seald_stop "$F"
else
	fail "seald does not start on the restored ledger: $(tail -n 3 "$F/seald.log")"
fi
"$IT_BUILD/sealctl" ledger verify --db "$DB" --audit-key "$AUDIT" --witness "$F/head.note" \
    >"$F/verify.out" 2>&1 || fail "the restored ledger does not verify: $(cat "$F/verify.out")"
