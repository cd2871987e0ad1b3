#!/bin/bash
# run.sh BUILD — run every tests/integration/t_*.sh against one shared
# environment (SoftHSM token, private PostgreSQL, seald from BUILD) made by
# lib.sh's it_setup, and print one closing line:
#
#   integration: N passed, N failed[, N skipped]
#
# Each test file runs in its own bash process (bounded by
# IT_TEST_TIMEOUT seconds, default 300).  After each file the daemon and
# the cluster must still run: a test that stops them restarts them, and one
# that crashed them fails.  After the last file seald is stopped and its
# log is searched for sanitizer reports.  Exit status 1 if anything failed.
#
# Internal: `run.sh --one FILE` runs one test file in an environment that
# the parent run.sh exported.
if [ -z "${BASH_VERSION:-}" ]; then
	exec bash "$0" "$@"
fi
set -eu

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"

if [ "${1:-}" = "--one" ]; then
	IT_TEST_NAME=$(basename "$2" .sh)
	# shellcheck disable=SC2317 # runs as the EXIT trap
	_it_child_exit() {
		local rc=$?
		if [ "$rc" -ne 0 ]; then
			fail "test file ended with status $rc"
		fi
		# the test's own clean-up (it_at_exit), then its last case
		eval "${IT_AT_EXIT:-}"
		_it_close
		exit 0
	}
	trap _it_child_exit EXIT
	trap 'exit 143' TERM
	trap 'exit 130' INT
	set +e
	# a file bash cannot parse would stop at its error and pass
	if ! err=$(bash -n "$2" 2>&1); then
		tid "the test file parses"
		fail "$err"
		exit 0
	fi
	# shellcheck source=/dev/null
	. "$2"
	exit 0
fi

if [ $# -ne 1 ]; then
	echo "usage: $0 BUILD" >&2
	exit 2
fi

if ! it_setup "$1"; then
	fail "environment setup failed"
	_it_close
	if [ "${KEEP_TMP:-0}" = 1 ]; then
		echo "kept environment: ${IT_DIR:-}"
	fi
	echo "integration: $(it_count pass) passed, $(it_count fail) failed"
	exit 1
fi

timeout_s=${IT_TEST_TIMEOUT:-300}
# IT_ONLY="name ..." runs just tests/integration/t_name.sh ... (for
# debugging, and make valgrind)
files=("$here"/t_*.sh)
if [ -n "${IT_ONLY:-}" ]; then
	read -r -a names <<<"$IT_ONLY"
	files=("${names[@]/#/$here/t_}")
	files=("${files[@]/%/.sh}")
fi
for t in "${files[@]}"; do
	if [ ! -e "$t" ]; then
		IT_TEST_NAME=$(basename "$t" .sh)
		tid "runner"
		fail "no such test file: $t"
		_it_close
		continue
	fi
	name=$(basename "$t" .sh)
	echo "== $name"
	had_seald=0
	if seald_running "$IT_DIR"; then
		had_seald=1
	fi
	# timeout puts the test in its own process group and kills all of it
	# (a hung curl too); in the background so that a signal to run.sh is
	# handled at once: the EXIT trap stops it.
	rc=0
	timeout -k 10 "$timeout_s" bash "$0" --one "$t" </dev/null &
	IT_CHILD=$!
	wait "$IT_CHILD" || rc=$?
	IT_CHILD=""
	if [ "$rc" -ne 0 ]; then
		IT_TEST_NAME=$name
		tid "runner"
		if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
			fail "timed out after $timeout_s s"
		else
			fail "test process died (status $rc)"
		fi
		_it_close
	fi
	if ! _pg_running "$IT_DIR"; then
		note "PostgreSQL is down after $name: starting it"
		if ! pg_start "$IT_DIR"; then
			IT_TEST_NAME=$name
			tid "runner"
			fail "PostgreSQL is down after the test and does not restart"
			_it_close
		fi
	fi
	if [ "$had_seald" -eq 1 ] && ! seald_running "$IT_DIR"; then
		IT_TEST_NAME=$name
		tid "runner"
		fail "seald is not running after the test (crashed?)"
		_envlib_tail "$IT_DIR/seald.log"
		seald_stop "$IT_DIR" || true
		seald_start "$IT_BUILD" "$IT_DIR" || fail "seald does not restart"
		_it_close
	fi
done
unset IT_TEST_NAME

if seald_running "$IT_DIR"; then
	tid "seald shutdown"
	if ! seald_stop "$IT_DIR"; then
		fail "seald needed SIGKILL to stop"
	fi
fi
if [ -f "$IT_DIR/seald.log" ] &&
	grep -Eq 'ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:' \
		"$IT_DIR/seald.log"; then
	tid "seald.log"
	fail "sanitizer report in seald.log:"
	grep -E -A 20 'ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:' \
		"$IT_DIR/seald.log" | head -n 60
fi
# a front killed by its sandbox (SIGSYS) where no test meant it: a system
# call its seccomp filter lacks
sys=$(grep -l 'front (pid [0-9]*) killed by signal 31' "$IT_DIR"/seald.log \
	"$IT_DIR"/*/seald.log 2>/dev/null | grep -v "/t_split/\|/t_rogue/" || true)
if [ -n "$sys" ]; then
	tid "seccomp"
	fail "a front was killed by its seccomp filter: $sys"
fi
_it_close
# make valgrind: each seald run wrote IT_DIR/valgrind.PID.log; one that
# was killed (SIGKILL tests) has no closing summary, but would still show
# the errors met until then
if [ -n "${SEALD_WRAP:-}" ]; then
	tid "valgrind"
	vlogs=$(find "$IT_DIR" -maxdepth 1 -name 'valgrind.*.log')
	[ -n "$vlogs" ] || fail "no valgrind log in $IT_DIR"
	vbad='^==[0-9]+== (Invalid|Conditional|Use of|Syscall param|Mismatched|Source and|Argument|[0-9,]+ bytes in [0-9,]+ blocks are definitely)'
	nkilled=0
	for v in $vlogs; do
		if grep -Eq "$vbad" "$v" ||
			{ grep -q 'ERROR SUMMARY' "$v" && ! grep -q 'ERROR SUMMARY: 0 errors' "$v"; }; then
			fail "valgrind found errors ($v):"
			grep -E -A 25 "$vbad" "$v" | head -n 80
		elif ! grep -q 'ERROR SUMMARY' "$v"; then
			nkilled=$((nkilled + 1))
		fi
	done
	note "$(echo "$vlogs" | wc -l) seald run(s) under valgrind ($nkilled killed before their summary)"
fi
_it_close

npass=$(it_count pass)
nfail=$(it_count fail)
nskip=$(it_count skip)
if [ "$nfail" -ne 0 ]; then
	echo "failed cases:"
	sed 's/^/  /' "$IT_DIR/failures"
fi
if [ "${KEEP_TMP:-0}" = 1 ]; then
	echo "kept environment: $IT_DIR"
fi
line="integration: $npass passed, $nfail failed"
if [ "$nskip" -ne 0 ]; then
	line="$line, $nskip skipped"
fi
echo "$line"
[ "$nfail" -eq 0 ]
