# shellcheck shell=bash
# t_lookahead.sh — a worker's idempotency lookup takes the requests queued
# behind its own along (SD_SIGN_LOOKAHEAD), and their workers do not ask
# the ledger again.  With 24 clients on RSA-3072 (4 HSM sessions, so that
# requests queue) most signatures need no lookup of their own; each
# signature is looked up by its own query or found absent ahead, never
# neither.  Retries queued among new requests are still found recorded
# and not signed again (the HSM's signature count), and every reply is in
# the chain once; copies of one request sent at once get one entry and
# one signature by the HSM: they wait for the first (inflight).
# Bounded: 24 x 5 + 3 x 24 x 2 + 8 signatures.

need_seald || return 0
W=$IT_DIR/t_lookahead
mkdir -p "$W"
CLIENT=$(dirname "${BASH_SOURCE[0]}")/sealclient.py

# counters: "lookups queued ahead signatures copies" from seald's metrics; the
# HSM's signature count less the checkpoints (signed with the audit key;
# one in progress may be counted signed at one end of an interval and
# recorded at the other: near)
counters() {
	local cps
	cps=$(psql_q "select count(*) from ledger_checkpoints")
	curl -s --max-time 10 --unix-socket "$IT_SOCK" http://localhost/metrics |
		awk -v cps="$cps" '/^seald_ledger_lookups_total / { l = $2 }
		     /^seald_ledger_lookups_queued_total / { q = $2 }
		     /^seald_ledger_lookups_ahead_total / { a = $2 }
		     /^seald_hsm_sign_duration_seconds_count / { h = $2 }
		     /^seald_sign_copies_waited_total / { c = $2 }
		     END { print l + 0, q + 0, a + 0, h - cps, c + 0 }'
}

# near WANT GOT: GOT is WANT give or take one
near() { [ "$2" -ge $(($1 - 1)) ] && [ "$2" -le $(($1 + 1)) ]; }

tid "a lookup takes the queued requests along; their workers do not ask again"
tag=t-la-$RANDOM$RANDOM
read -r l0 q0 a0 h0 c0 <<<"$(counters)"
timeout 120 python3 "$CLIENT" "$IT_SOCK" 24 5 "$tag-new" demo-rsa >"$W/new.out"
read -r l1 q1 a1 h1 c1 <<<"$(counters)"
replies_check "$W/new.out" 120 "$tag-new"
nl=$((l1 - l0))
na=$((a1 - a0))
[ $((nl + na)) = 120 ] || fail "$nl lookups and $na found ahead for 120 signatures"
near 120 $((h1 - h0)) || fail "$((h1 - h0)) HSM signatures for 120 requests"
[ $((na * 3)) -ge 120 ] || fail "only $na of 120 signatures were found absent ahead"
note "120 signatures: $nl lookups (taking $((q1 - q0)) queued requests along), $na found absent ahead"

tid "retries queued among new requests are found recorded, not signed again"
read -r l0 q0 a0 h0 c0 <<<"$(counters)"
# the same 48 request ids again (retries), and 48 new ones, at once
timeout 120 python3 "$CLIENT" "$IT_SOCK" 24 2 "$tag-new" demo-rsa >"$W/retry.out" &
p1=$!
timeout 120 python3 "$CLIENT" "$IT_SOCK" 24 2 "$tag-mix" demo-rsa >"$W/mix.out"
wait "$p1"
read -r l1 q1 a1 h1 c1 <<<"$(counters)"
replies_check "$W/mix.out" 48 "$tag-mix"
grep -q '^error' "$W/retry.out" && fail "retry errors: $(grep -m3 '^error' "$W/retry.out")"
[ "$(grep -c '^ok .* true ' "$W/retry.out")" = 48 ] ||
	fail "$(grep -c '^ok .* true ' "$W/retry.out") of 48 retries replayed"
[ "$(grep -c '^ok .* false ' "$W/mix.out")" = 48 ] || fail "a new request was answered as a retry"
# each retry is answered with the seq its first request got
sort -k5 "$W/retry.out" | awk '{ print $3, $5 }' >"$W/retry.seq"
grep -E -- "-[0-9]+-[0-1]\$" "$W/new.out" | sort -k5 | awk '{ print $3, $5 }' >"$W/first.seq"
cmp -s "$W/retry.seq" "$W/first.seq" || fail "a retry got another entry than its first request"
near 48 $((h1 - h0)) || fail "$((h1 - h0)) HSM signatures for 48 new requests and 48 retries"
[ "$(psql_q "select count(*) from ledger_entries where request_id like '$tag-%'")" = 168 ] ||
	fail "not 168 rows for 168 requests"
note "48 retries and 48 new requests: $((l1 - l0)) lookups, $((a1 - a0)) found absent ahead"

tid "copies of one request sent at once while requests queue: one entry, one answer, one signature"
read -r l0 q0 a0 h0 c0 <<<"$(counters)"
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
read -r l1 q1 a1 h1 c1 <<<"$(counters)"
# the HSM signed the 48 requests of the load and one copy; the others
# waited for it, or came after its commit and were found recorded
near 49 $((h1 - h0)) || fail "$((h1 - h0)) HSM signatures for 48 requests and eight copies of one"
[ $((c1 - c0)) -ge 1 ] || fail "no copy waited for the first"
note "eight copies: $((c1 - c0)) waited for the first"
