#!/bin/bash
# try-make-run.sh SRC WORK — a new user's `make run`, as README.md tells it:
# `make run` in SRC (its state in SRC/state, as a user's), then every
# command it prints
# (a signature checked with openssl, a time-stamp checked with openssl ts,
# sealctl, the auditor's and the officer's commands, a reload), pasted as
# printed, then Ctrl-C.  Prints a line per step; exits 0 when seald
# served, each printed command worked and Ctrl-C stopped seald and
# PostgreSQL, else 1 with the reason and the end of make's output.
#
# Used by t_fresh (stand-ins on this machine) and by `make fresh-check`
# (a fresh Debian root, as root and as a user with sudo).  TRY_WAIT (600)
# bounds the seconds until seald serves: the first run installs packages.
set -u

if [ $# -ne 2 ]; then
	echo "usage: $0 SRC WORK" >&2
	exit 2
fi
src=$1
work=$2
mkdir -p "$work"
log=$work/make-run.log
wait_s=${TRY_WAIT:-600}

die() {
	echo "try-make-run: $*" >&2
	echo "---- last lines of $log:" >&2
	grep -v '^cc ' "$log" | tail -n 15 >&2
	exit 1
}

# its own process group, so that the Ctrl-C below reaches make, devenv.sh
# and seald together, as a terminal's would
setsid env -u SEALD_STATE make -C "$src" run >"$log" 2>&1 </dev/null &
pid=$!
# shellcheck disable=SC2317 # runs as the EXIT trap
stop_all() {
	kill -INT -- -"$pid" 2>/dev/null
	for _ in $(seq 1 60); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.5
	done
	kill -KILL -- -"$pid" 2>/dev/null
	return 1
}
trap 'stop_all' EXIT

for _ in $(seq 1 $((wait_s * 2))); do
	grep -q '^seald is running' "$log" && break
	kill -0 "$pid" 2>/dev/null || die "make run ended before seald served"
	sleep 0.5
done
grep -q '^seald is running' "$log" || die "seald did not serve within $wait_s s"
echo "try-make-run: seald serves"

# the printed command blocks (runs of lines indented by two spaces), in
# order, each run as one shell script, as pasted
awk '/^seald is running/ { on = 1 } on' "$log" >"$work/printed"
nblocks=$(awk '/^  [^ ]/ { if (!inb) n++; inb = 1; next } { inb = 0 } END { print n + 0 }' \
	"$work/printed")
[ "$nblocks" -ge 7 ] || die "make run printed $nblocks command blocks, not 7 or more"
for n in $(seq 1 "$nblocks"); do
	blk=$(awk -v want="$n" '/^  [^ ]/ { if (!inb) n++; inb = 1; if (n == want) { sub(/^  /, ""); print }; next } { inb = 0 }' \
		"$work/printed")
	out=$(cd "$work" && bash -eo pipefail -c "$blk" 2>&1) ||
		die "printed block $n failed: $blk
$out"
	printf '%s\n' "$out" >"$work/block-$n.out"
	echo "try-make-run: printed block $n worked ($(head -n 1 <<<"$blk" | cut -c1-60)...)"
done
grep -q '"signature"' "$work/block-1.out" || die "the sign command got no signature"
grep -qx 'Verified OK' "$work/block-2.out" || die "openssl did not verify the signature"
grep -q '^Verification: OK' "$work/block-3.out" || die "openssl ts did not verify the token"
grep -q '^instance demo-1: OK' "$work/block-5.out" || die "the ledger does not verify"
sleep 1
grep -q 'policy reloaded from' "$log" || die "kill -HUP did not reload the policy"

# README.md's blocks marked "after make run", from SRC, as a user pastes
# them in a second terminal there
awk '/^<!-- after make run -->$/ { arm = 1; next }
	arm && /^```sh$/ { inb = 1; n++; next }
	inb && /^```$/ { inb = 0; arm = 0; next }
	inb { print > (dir "/readme-" n ".sh") }' dir="$work" "$src/README.md"
nreadme=$(find "$work" -maxdepth 1 -name 'readme-*.sh' | wc -l)
[ "$nreadme" -ge 2 ] || die "README.md has $nreadme blocks to run after make run"
for f in "$work"/readme-*.sh; do
	out=$(cd "$src" && bash -eo pipefail "$f" 2>&1) ||
		die "README.md's block $(basename "$f") failed: $out"
	printf '%s\n' "$out" >"${f%.sh}.out"
	echo "try-make-run: README.md's $(basename "$f") worked"
done
grep -qx 'Verified OK' "$work/readme-1.out" || die "README: no Verified OK"
grep -q '^Verification: OK' "$work/readme-2.out" || die "README: openssl ts did not verify"
grep -q '^CMS Verification successful' "$work/readme-3.out" &&
	grep -q '^signature-time-stamp: OK' "$work/readme-3.out" ||
	die "README: the cades-t seal did not verify: $(cat "$work/readme-3.out")"

trap - EXIT
stop_all || die "make run did not stop on Ctrl-C"
wait "$pid" 2>/dev/null
grep -q 'devenv: stopping seald and PostgreSQL' "$log" ||
	die "make run did not stop seald and PostgreSQL"
echo "try-make-run: Ctrl-C stopped seald and PostgreSQL"
