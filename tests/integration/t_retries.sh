# shellcheck shell=bash
# t_retries.sh — idempotency without a lookup per request.  A new request
# is signed at once (no query before the HSM); a retry of a request this
# seald saw recorded is looked up and answered with its entry, not
# signed again, also when it comes queued among new requests and after a
# restart (the last requests recorded are read at start); copies of one
# request sent at once get one entry and one HSM signature (inflight).
# A retry of a request only another instance recorded is signed again:
# its batch is refused by the ledger's (client, request_id) constraint,
# one query finds the recorded requests, the others are written, and the
# retry is answered with the other instance's entry, its own signature
# dropped; a different request under such an id gets 409.  On RSA-3072
# with 24 clients and 4 HSM sessions, so that requests queue.
# Bounded: 24 x 5 + 3 x 24 x 2 + 8 + 24 x 2 + 120 + 2 signatures.

need_seald || return 0
W=$IT_DIR/t_retries
mkdir -p "$W"
CLIENT=$(dirname "${BASH_SOURCE[0]}")/sealclient.py
S2=$W/b
it_instance "$S2" retries-2

# counters SOCK: "lookups duplicates signatures copies" from the seald on
# SOCK's metrics; the HSM's signature count less the checkpoints (signed
# with the audit key; one in progress may be counted signed at one end
# of an interval and recorded at the other: near)
counters() {
	local cps
	cps=$(psql_q "select count(*) from ledger_checkpoints")
	curl -s --max-time 10 --unix-socket "${1:-$IT_SOCK}" http://localhost/metrics |
		awk -v cps="$cps" '/^seald_ledger_lookups_total / { l = $2 }
		     /^seald_ledger_duplicates_total / { d = $2 }
		     /^seald_hsm_sign_duration_seconds_count / { h = $2 }
		     /^seald_sign_copies_waited_total / { c = $2 }
		     END { print l + 0, d + 0, h - cps, c + 0 }'
}

# near WANT GOT: GOT is WANT give or take one
near() { [ "$2" -ge $(($1 - 1)) ] && [ "$2" -le $(($1 + 1)) ]; }

# among_new RETRIED COUNT NEW: at once, 24 clients x COUNT retries of the
# requests $tag-RETRIED-* (replies in RETRIED.again) and 24 x 2 new
# requests $tag-NEW-*, checked; the counters before in l0 d0 h0 c0,
# after in l1 d1 h1 c1
among_new() {
	local p
	read -r l0 d0 h0 c0 <<<"$(counters)"
	timeout 120 python3 "$CLIENT" "$IT_SOCK" 24 "$2" "$tag-$1" demo-rsa >"$W/$1.again" &
	p=$!
	timeout 120 python3 "$CLIENT" "$IT_SOCK" 24 2 "$tag-$3" demo-rsa >"$W/$3.out"
	wait "$p"
	read -r l1 d1 h1 c1 <<<"$(counters)"
	replies_check "$W/$3.out" 48 "$tag-$3"
	[ "$(grep -c '^ok .* false ' "$W/$3.out")" = 48 ] || fail "a new request was answered as a retry"
	grep -q '^error' "$W/$1.again" && fail "retry errors: $(grep -m3 '^error' "$W/$1.again")"
}

# same_entries RETRIES FIRSTS: each retry was answered with the entry
# (instance, seq) its first request got
same_entries() {
	cmp -s <(sort -k5 "$1" | awk '{ print $2, $3, $5 }') <(sort -k5 "$2" | awk '{ print $2, $3, $5 }') ||
		fail "a retry got another entry than its first request"
}

tid "new requests are signed without a lookup"
tag=t-re-$RANDOM$RANDOM
read -r l0 d0 h0 c0 <<<"$(counters)"
timeout 120 python3 "$CLIENT" "$IT_SOCK" 24 5 "$tag-new" demo-rsa >"$W/new.out"
read -r l1 d1 h1 c1 <<<"$(counters)"
replies_check "$W/new.out" 120 "$tag-new"
[ $((l1 - l0)) = 0 ] || fail "$((l1 - l0)) lookups for 120 new requests"
[ $((d1 - d0)) = 0 ] || fail "$((d1 - d0)) new requests taken for duplicates"
near 120 $((h1 - h0)) || fail "$((h1 - h0)) HSM signatures for 120 requests"

tid "retries queued among new requests are looked up, not signed again"
# the first two of each client's requests again (48 retries), and 48 new
among_new new 2 mix
[ "$(grep -c '^ok .* true ' "$W/new.again")" = 48 ] ||
	fail "$(grep -c '^ok .* true ' "$W/new.again") of 48 retries replayed"
grep -E -- "-[0-9]+-[0-1]\$" "$W/new.out" >"$W/new.first"
same_entries "$W/new.again" "$W/new.first"
[ $((l1 - l0)) = 48 ] || fail "$((l1 - l0)) lookups for 48 retries and 48 new requests"
near 48 $((h1 - h0)) || fail "$((h1 - h0)) HSM signatures for 48 new requests and 48 retries"
[ "$(psql_q "select count(*) from ledger_entries where request_id like '$tag-%'")" = 168 ] ||
	fail "not 168 rows for 168 requests"

tid "copies of one request sent at once while requests queue: one entry, one answer, one signature"
read -r l0 d0 h0 c0 <<<"$(counters)"
rid=$tag-copy
timeout 120 python3 "$CLIENT" "$IT_SOCK" 24 2 "$tag-load" demo-rsa >"$W/load.out" &
p1=$!
sleep 0.2
timeout 60 python3 "$CLIENT" "$IT_SOCK" copies 8 "$rid" demo-rsa >"$W/copies.out"
wait "$p1"
replies_check "$W/load.out" 48 "$tag-load"
[ "$(wc -l <"$W/copies.out")" = 8 ] || fail "$(wc -l <"$W/copies.out") replies to eight copies"
grep -q '^error' "$W/copies.out" && fail "copies: $(grep -m3 '^error' "$W/copies.out")"
[ "$(awk '{ print $2, $3 }' "$W/copies.out" | sort -u | wc -l)" = 1 ] ||
	fail "copies answered with different entries: $(tr '\n' ' ' <"$W/copies.out")"
[ "$(grep -c '^ok .* false ' "$W/copies.out")" = 1 ] ||
	fail "not exactly one copy answered as the first: $(tr '\n' ' ' <"$W/copies.out")"
[ "$(psql_q "select count(*) from ledger_entries where request_id = '$rid'")" = 1 ] ||
	fail "not one row for eight copies"
read -r l1 d1 h1 c1 <<<"$(counters)"
# the HSM signed the 48 requests of the load and one copy; the others
# waited for it, or came after its commit and were looked up
near 49 $((h1 - h0)) || fail "$((h1 - h0)) HSM signatures for 48 requests and eight copies of one"
[ $((c1 - c0)) -ge 1 ] || fail "no copy waited for the first"
note "eight copies: $((c1 - c0)) waited for the first"

tid "retries of requests another instance recorded: signed again, dropped at commit, answered with its entry"
if ! seald_start "$IT_BUILD" "$S2"; then
	fail "the second instance did not start: $(tail -n 3 "$S2/seald.log")"
	return 0
fi
timeout 120 python3 "$CLIENT" "$S2/seald.sock" 24 1 "$tag-other" demo-rsa >"$W/other.out"
replies_check "$W/other.out" 24 "$tag-other" retries-2
# the 24 again on this instance, among 48 new requests, at once: batches
# that hold both
among_new other 1 mix2
[ "$(grep -c '^ok retries-2 .* true ' "$W/other.again")" = 24 ] ||
	fail "$(grep -c '^ok retries-2 .* true ' "$W/other.again") of 24 retries answered with the other instance's entry"
same_entries "$W/other.again" "$W/other.out"
[ $((d1 - d0)) = 24 ] || fail "$((d1 - d0)) signatures dropped for 24 recorded requests"
near 72 $((h1 - h0)) || fail "$((h1 - h0)) HSM signatures for 48 new requests and 24 unknown retries"
[ "$(psql_q "select count(*) from ledger_entries where request_id like '$tag-other-%'")" = 24 ] ||
	fail "not one row for each of 24 requests"
note "24 retries signed again and dropped; $((l1 - l0)) lookups"
# a different request under an id the other instance recorded: refused
sign_json demo-ec "$(printf other | openssl dgst -sha256 -binary | base64)" sha256 "$tag-other-0-0"
[ "$HTTP_CODE" = 409 ] || fail "another request under a recorded id: HTTP $HTTP_CODE, not 409"

tid "a retry signed again counts against the client's rate; one looked up does not"
timeout 60 python3 "$CLIENT" "$S2/seald.sock" 1 5 "$tag-rate" demo-rsa >"$W/rate2.out"
replies_check "$W/rate2.out" 5 "$tag-rate" retries-2
cp "$IT_DIR/policy.yaml" "$W/original.yaml"
sed 's/^  local:$/  local:\n    rate: {per_second: 0.2, burst: 3}/' "$W/original.yaml" >"$W/rate.yaml"
policy_reload "$W/rate.yaml"
# five retries this seald knows: replayed from the ledger, none counts
timeout 60 python3 "$CLIENT" "$IT_SOCK" 1 5 "$tag-new" demo-rsa >"$W/rate-known.out"
[ "$(grep -c '^ok demo-1 .* true ' "$W/rate-known.out")" = 5 ] ||
	fail "known retries under a burst of 3: $(tr '\n' ' ' <"$W/rate-known.out")"
# five it does not know: each one signed, so three pass and two are refused
timeout 60 python3 "$CLIENT" "$IT_SOCK" 1 5 "$tag-rate" demo-rsa >"$W/rate-unknown.out"
[ "$(grep -c '^ok retries-2 .* true ' "$W/rate-unknown.out")" = 3 ] &&
	[ "$(grep -c '^error .* 429 ' "$W/rate-unknown.out")" = 2 ] ||
	fail "unknown retries under a burst of 3: $(tr '\n' ' ' <"$W/rate-unknown.out")"
policy_reload "$W/original.yaml"
seald_stop "$S2" >/dev/null 2>&1

tid "after a restart, retries of the requests recorded before it are looked up, not signed again"
it_restart_seald || fail "seald did not come back"
await_ready 200 30 || fail "seald not ready after the restart"
read -r l0 d0 h0 c0 <<<"$(counters)"
timeout 120 python3 "$CLIENT" "$IT_SOCK" 24 5 "$tag-new" demo-rsa >"$W/after.out"
read -r l1 d1 h1 c1 <<<"$(counters)"
[ "$(grep -c '^ok demo-1 .* true ' "$W/after.out")" = 120 ] ||
	fail "$(grep -c '^ok demo-1 .* true ' "$W/after.out") of 120 retries replayed after the restart"
[ $((l1 - l0)) = 120 ] || fail "$((l1 - l0)) lookups for 120 retries"
near 0 $((h1 - h0)) || fail "$((h1 - h0)) HSM signatures for 120 retries after a restart"
