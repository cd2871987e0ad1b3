#!/bin/bash
# run-all.sh [--unit-only] BUILD[,BUILD...] TEST... — `make check` and
# `make unit`.
#
# For each build folder in turn (make check passes the plain build and the
# sanitizer build), runs each cmocka runner BUILD/tests/TEST (its own "[  PASSED  ]" /
# "[  FAILED  ]" lines show as they come), then, unless --unit-only, the
# integration suite (tests/integration/run.sh BUILD); after all builds,
# when set, CHECK_VALGRIND_TESTS under valgrind on the first build
# (tests/integration/valgrind.sh) and the fuzz smoke for CHECK_FUZZ_SECONDS
# (tests/fuzz/run.sh), and with CHECK_SYSTEMD the package under a booted
# systemd (tests/container/systemd-check.sh).  Ends with one line
# that sums the cmocka counts and the integration counts:
#
#   N passed, N failed[, N skipped]
#
# A runner that crashes, exits non-zero without reporting a failure, or
# prints no cmocka summary counts as one failure.  Exit status 1 if anything
# failed.
if [ -z "${BASH_VERSION:-}" ]; then
	exec bash "$0" "$@"
fi
set -eu

unit_only=0
if [ "${1:-}" = "--unit-only" ]; then
	unit_only=1
	shift
fi
if [ $# -lt 1 ]; then
	echo "usage: $0 [--unit-only] BUILD[,BUILD...] TEST..." >&2
	exit 2
fi
IFS=, read -r -a builds <<<"$1"
shift
root=$(cd "$(dirname "$0")/.." && pwd)

npass=0
nfail=0
nskip=0
crashed=""
out=$(mktemp /tmp/seald-run-all.XXXXXX)
trap 'rm -f "$out"' EXIT

# cmocka_count WORD FILE: sum of N over "[  WORD  ] N test(s)" lines.
cmocka_count() {
	sed -n "s/^\\[ *$1 *\\] \\([0-9][0-9]*\\) test.*/\\1/p" "$2" |
		awk '{ s += $1 } END { print s + 0 }'
}

# Plain text summaries, whatever the environment says.
unset CMOCKA_XML_FILE
export CMOCKA_MESSAGE_OUTPUT=STDOUT

# suite NAME WHERE CMD...: run a suite that ends with a line
# "NAME: N passed, N failed[, N skipped]" and add its counts.
suite() {
	local name=$1 where=$2 line rc p f s
	shift 2
	"$@" 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	line=$(grep -E "^$name: [0-9]+ passed, [0-9]+ failed" "$out" |
		tail -n 1) || true
	if [ -z "$line" ]; then
		echo "run-all: the $name suite printed no summary (exit status $rc)"
		nfail=$((nfail + 1))
		crashed="$crashed $where/$name"
		return
	fi
	p=$(sed -E "s/^$name: ([0-9]+) passed.*/\\1/" <<<"$line")
	f=$(sed -E "s/^$name: [0-9]+ passed, ([0-9]+) failed.*/\\1/" <<<"$line")
	s=0
	if [[ "$line" =~ ,\ ([0-9]+)\ skipped ]]; then
		s=${BASH_REMATCH[1]}
	fi
	npass=$((npass + p))
	nfail=$((nfail + f))
	nskip=$((nskip + s))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "run-all: the $name suite exited with status $rc"
		nfail=$((nfail + 1))
		crashed="$crashed $where/$name"
	fi
}

for build in "${builds[@]}"; do
	echo "== $build"
	for t in "$@"; do
		bin=$build/tests/$t
		if [ ! -x "$bin" ]; then
			echo "run-all: $bin: no such test runner"
			nfail=$((nfail + 1))
			crashed="$crashed $build/$t"
			continue
		fi
		"$bin" 2>&1 | tee "$out"
		rc=${PIPESTATUS[0]}
		p=$(cmocka_count PASSED "$out")
		f=$(cmocka_count FAILED "$out")
		s=$(cmocka_count SKIPPED "$out")
		npass=$((npass + p))
		nfail=$((nfail + f))
		nskip=$((nskip + s))
		if ! grep -q '^\[=*\] [0-9][0-9]* test(s) run' "$out"; then
			echo "run-all: $t printed no cmocka summary (exit status $rc)"
			nfail=$((nfail + 1))
			crashed="$crashed $build/$t"
		elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
			echo "run-all: $t exited with status $rc but reported no failure"
			nfail=$((nfail + 1))
			crashed="$crashed $build/$t"
		fi
	done

	if [ "$unit_only" -eq 0 ]; then
		suite integration "$build" bash "$root/tests/integration/run.sh" "$build"
	fi
done

# The valgrind pass (make check sets CHECK_VALGRIND_TESTS): those
# integration tests again, every seald under valgrind, on the first build.
if [ "$unit_only" -eq 0 ] && [ -n "${CHECK_VALGRIND_TESTS:-}" ]; then
	echo "== valgrind ${builds[0]}"
	# shellcheck disable=SC2086 # a list of test names
	suite integration valgrind bash "$root/tests/integration/valgrind.sh" \
		"${builds[0]}" $CHECK_VALGRIND_TESTS
fi

# The fuzz smoke (make check sets CHECK_FUZZ_SECONDS and the harnesses,
# built in build-fuzz by clang): each harness a short bounded run.
if [ "$unit_only" -eq 0 ] && [ -n "${CHECK_FUZZ_SECONDS:-}" ]; then
	echo "== build-fuzz"
	# shellcheck disable=SC2086 # a list of harness names
	suite fuzz build-fuzz bash "$root/tests/fuzz/run.sh" build-fuzz \
		"$CHECK_FUZZ_SECONDS" $CHECK_FUZZ_TARGETS
fi

# The package under a booted systemd (make check sets CHECK_SYSTEMD):
# systemd-nspawn needs root, through sudo when not root.
if [ "$unit_only" -eq 0 ] && [ -n "${CHECK_SYSTEMD:-}" ]; then
	echo "== systemd-check"
	if [ "$(id -u)" -eq 0 ]; then
		suite systemd-check container bash "$root/tests/container/systemd-check.sh"
	elif sudo -n true 2>/dev/null; then
		suite systemd-check container sudo -n bash "$root/tests/container/systemd-check.sh"
	else
		echo "systemd-check: skipped: systemd-nspawn needs root or sudo"
		nskip=$((nskip + 1))
	fi
fi

if [ -n "$crashed" ]; then
	echo "run-all: crashed or incomplete:$crashed"
fi
line="$npass passed, $nfail failed"
if [ "$nskip" -ne 0 ]; then
	line="$line, $nskip skipped"
fi
echo "$line"
[ "$nfail" -eq 0 ]
