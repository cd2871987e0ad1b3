#!/bin/bash
# fresh-check.sh — `make fresh-check`: the README's commands as the first
# thing typed on a fresh Debian 12 machine, for real.
#
# Each case unpacks a new Debian 12 root (debootstrap minbase with make,
# sudo, git and ca-certificates: what a new user has who cloned the tree;
# tests/container/lib.sh), copies this tree into it as a clone, and runs the
# commands in it under systemd-nspawn; their `make deps` installs the
# packages from Debian's archive:
#
#   user   a user with sudo: `make run` (sign, verify with openssl,
#          time-stamp, verify with openssl ts, Ctrl-C), then `make check`
#   root   root, in /root: `make deb`, then `make run` as above
#   bench  a user with sudo: `make bench` (FRESH_BENCH_SECONDS, 5)
#
# FRESH_CASES ("user root bench") picks cases; FRESH_CHECK_ARGS is given to
# `make check` (by default CHECK_SYSTEMD=: the systemd check boots a
# container of its own, which cannot run inside this one; the rest is the
# full check, as CI runs it).  Ends with
# "fresh-check: N passed, N failed" and the minutes each case took; exit
# status 1 if one failed.  Logs stay in FRESH_WORK (default
# /var/tmp/seald-fresh), the roots are removed.
if [ -z "${BASH_VERSION:-}" ]; then
	exec bash "$0" "$@"
fi
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/container/lib.sh
. "$here/../container/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	echo "fresh-check: systemd-nspawn needs root" >&2
	exit 2
fi
work=${FRESH_WORK:-/var/tmp/seald-fresh}
cases=${FRESH_CASES:-user root bench}
mkdir -p "$work"
base=$(ct_base bookworm-fresh make,sudo,git,ca-certificates) || exit 1

npass=0
nfail=0
summary=""

# in_root DIR USER SRC SCRIPT: copy the tree to SRC in the root (owned by
# USER, a git repository as a clone is) and run SCRIPT there as USER, in
# SRC, with bash -e; SCRIPT's output goes to the case's log.
in_root() {
	local dir=$1 user=$2 src=$3 script=$4
	sh "$CT_ROOT/tools/copy-tree.sh" "$dir$src" || return 1
	ct_run "$dir" -- chown -R "$user:" "$src" || return 1
	ct_run "$dir" --user="$user" --chdir="$src" -- \
		bash -ec "git init -q && git add -A && git -c user.name=n -c user.email=n@localhost commit -qm clone
$script"
}

run_case() {
	local name=$1 dir=$work/$1.root log=$work/$1.log t0 rc=0
	t0=$(date +%s)
	echo "== $name (log: $log)"
	ct_unpack "$base" "$dir" || {
		nfail=$((nfail + 1))
		return
	}
	case "$name" in
	user)
		ct_add_user "$dir" newcomer &&
			in_root "$dir" newcomer /home/newcomer/seald "
bash tests/fresh/try-make-run.sh . /home/newcomer/try
make check ${FRESH_CHECK_ARGS:-CHECK_SYSTEMD=}"
		;;
	root)
		in_root "$dir" root /root/seald "
make deb
ls build/deb/seald_*.deb
bash tests/fresh/try-make-run.sh . /root/try"
		;;
	bench)
		ct_add_user "$dir" newcomer &&
			in_root "$dir" newcomer /home/newcomer/seald "
make bench BENCH_SECONDS=${FRESH_BENCH_SECONDS:-5} BENCH_CURVE= BENCH_JSON=/home/newcomer/bench.json
test -s /home/newcomer/bench.json"
		;;
	*)
		echo "fresh-check: no case $name" >&2
		false
		;;
	esac >"$log" 2>&1 || rc=$?
	local mins
	mins=$(awk -v s=$(($(date +%s) - t0)) 'BEGIN { printf "%.1f", s / 60 }')
	if [ "$rc" -eq 0 ]; then
		npass=$((npass + 1))
		echo "ok $name ($mins min)"
	else
		nfail=$((nfail + 1))
		echo "FAIL $name ($mins min, status $rc):"
		grep -v '^cc ' "$log" | tail -n 25 | sed 's/^/  /'
	fi
	summary="$summary $name=${mins}min"
	ct_remove "$dir"
}

for c in $cases; do
	run_case "$c"
done
echo "fresh-check: times:$summary"
echo "fresh-check: $npass passed, $nfail failed"
[ "$nfail" -eq 0 ]
