# shellcheck shell=bash
# t_group_commit.sh — the ledger writer's wait for signatures in progress
# (database: batch_wait_ms), on a second instance that waits up to 100 ms:
# a lone request is committed at once (one commit per request, none of
# them waited); with 8 clients and 4 HSM sessions (RSA-3072, so that
# signatures overlap) the entries whose signatures were in progress share
# a commit: at least 2.5 entries per commit, where committing whatever is
# queued gives about 1.6 here.  Every reply is in the chain exactly once.
# Bounded: 10 + 8 x 25 signatures.  Not under valgrind: how many
# signatures overlap there says nothing.

need_seald || return 0
W=$IT_DIR/t_group_commit
S2=$W/b
it_instance "$S2" group-1 -e '/^database:/a\  batch_wait_ms: 100'

# sign CLIENTS COUNT TAG KEY: CLIENTS keep-alive clients in parallel,
# COUNT signatures each (sealclient.py)
sign() {
	timeout 120 python3 "$(dirname "${BASH_SOURCE[0]}")/sealclient.py" \
		"$S2/seald.sock" "$1" "$2" "t-gc-$3" "$4"
}

# commits: "entries commits waits" from the instance's metrics
commits() {
	curl -s --max-time 10 --unix-socket "$S2/seald.sock" http://localhost/metrics |
		awk '/^seald_ledger_batch_entries_total / { e = $2 }
		     /^seald_ledger_commit_duration_seconds_count / { c = $2 }
		     /^seald_ledger_batch_waits_total / { w = $2 }
		     END { print e + 0, c + 0, w + 0 }'
}

tid "a lone request is committed at once, not after the batch wait"
mkdir -p "$W"
if ! seald_start "$IT_BUILD" "$S2"; then
	fail "the instance did not start: $(tail -n 3 "$S2/seald.log")"
	return 0
fi
read -r e0 c0 w0 <<<"$(commits)"
sign 1 10 seq demo-ec >"$W/seq.out"
read -r e1 c1 w1 <<<"$(commits)"
replies_check "$W/seq.out" 10 t-gc-seq group-1
[ $((e1 - e0)) = 10 ] && [ $((c1 - c0)) = 10 ] ||
	fail "$((e1 - e0)) entries in $((c1 - c0)) commits, not one each"
[ "$w1" = "$w0" ] || fail "$((w1 - w0)) commits waited with nothing else being signed"

tid "entries whose signatures are in progress share a commit"
read -r e0 c0 w0 <<<"$(commits)"
sign 8 25 par demo-rsa >"$W/par.out"
read -r e1 c1 w1 <<<"$(commits)"
replies_check "$W/par.out" 200 t-gc-par group-1
ne=$((e1 - e0))
nc=$((c1 - c0))
[ "$nc" -gt 0 ] && [ $((ne * 10)) -ge $((nc * 25)) ] ||
	fail "$ne entries in $nc commits: fewer than 2.5 per commit"
[ "$w1" -gt "$w0" ] || fail "no commit waited"
note "$ne entries in $nc commits, $((w1 - w0)) of them waited"
seald_stop "$S2" >/dev/null 2>&1
