# shellcheck shell=bash
# t_lookahead.sh — a worker's idempotency lookup takes the requests queued
# behind its own along (SD_SIGN_LOOKAHEAD), and their workers do not ask
# the ledger again.  With 24 clients on RSA-3072 (4 HSM sessions, so that
# requests queue) most signatures need no lookup of their own; each
# signature is looked up by its own query or found absent ahead, never
# neither.  Retries queued among new requests are still found recorded
# and not signed again (the HSM's signature count), and every reply is in
# the chain once.  Bounded: 24 x 5 + 2 x 24 x 2 signatures.

need_seald || return 0
W=$IT_DIR/t_lookahead
mkdir -p "$W"
CLIENT=$(dirname "${BASH_SOURCE[0]}")/sealclient.py

# counters: "lookups queued ahead signatures" from seald's metrics; the
# HSM's signature count less the checkpoints (signed with the audit key)
counters() {
	local cps
	cps=$(psql_q "select count(*) from ledger_checkpoints")
	curl -s --max-time 10 --unix-socket "$IT_SOCK" http://localhost/metrics |
		awk -v cps="$cps" '/^seald_ledger_lookups_total / { l = $2 }
		     /^seald_ledger_lookups_queued_total / { q = $2 }
		     /^seald_ledger_lookups_ahead_total / { a = $2 }
		     /^seald_hsm_sign_duration_seconds_count / { h = $2 }
		     END { print l + 0, q + 0, a + 0, h - cps }'
}

tid "a lookup takes the queued requests along; their workers do not ask again"
tag=t-la-$RANDOM$RANDOM
read -r l0 q0 a0 h0 <<<"$(counters)"
timeout 120 python3 "$CLIENT" "$IT_SOCK" 24 5 "$tag-new" demo-rsa >"$W/new.out"
read -r l1 q1 a1 h1 <<<"$(counters)"
replies_check "$W/new.out" 120 "$tag-new"
nl=$((l1 - l0))
na=$((a1 - a0))
[ $((nl + na)) = 120 ] || fail "$nl lookups and $na found ahead for 120 signatures"
[ $((h1 - h0)) = 120 ] || fail "$((h1 - h0)) HSM signatures for 120 requests"
[ $((na * 3)) -ge 120 ] || fail "only $na of 120 signatures were found absent ahead"
note "120 signatures: $nl lookups (taking $((q1 - q0)) queued requests along), $na found absent ahead"

tid "retries queued among new requests are found recorded, not signed again"
read -r l0 q0 a0 h0 <<<"$(counters)"
# the same 48 request ids again (retries), and 48 new ones, at once
timeout 120 python3 "$CLIENT" "$IT_SOCK" 24 2 "$tag-new" demo-rsa >"$W/retry.out" &
p1=$!
timeout 120 python3 "$CLIENT" "$IT_SOCK" 24 2 "$tag-mix" demo-rsa >"$W/mix.out"
wait "$p1"
read -r l1 q1 a1 h1 <<<"$(counters)"
replies_check "$W/mix.out" 48 "$tag-mix"
grep -q '^error' "$W/retry.out" && fail "retry errors: $(grep -m3 '^error' "$W/retry.out")"
[ "$(grep -c '^ok .* true ' "$W/retry.out")" = 48 ] ||
	fail "$(grep -c '^ok .* true ' "$W/retry.out") of 48 retries replayed"
[ "$(grep -c '^ok .* false ' "$W/mix.out")" = 48 ] || fail "a new request was answered as a retry"
# each retry is answered with the seq its first request got
sort -k5 "$W/retry.out" | awk '{ print $3, $5 }' >"$W/retry.seq"
grep -E -- "-[0-9]+-[0-1]\$" "$W/new.out" | sort -k5 | awk '{ print $3, $5 }' >"$W/first.seq"
cmp -s "$W/retry.seq" "$W/first.seq" || fail "a retry got another entry than its first request"
[ $((h1 - h0)) = 48 ] || fail "$((h1 - h0)) HSM signatures for 48 new requests and 48 retries"
[ "$(psql_q "select count(*) from ledger_entries where request_id like '$tag-%'")" = 168 ] ||
	fail "not 168 rows for 168 requests"
note "48 retries and 48 new requests: $((l1 - l0)) lookups, $((a1 - a0)) found absent ahead"
