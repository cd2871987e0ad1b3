#!/bin/bash
# run.sh OUT SECONDS TARGET... — run each libFuzzer harness OUT/TARGET for
# SECONDS on its seeds (tests/fuzz/seeds.sh) and its growing corpus, as many
# at once as there are cores.  `make fuzz` (FUZZ_SECONDS) and the smoke
# stage of `make check` (CHECK_FUZZ_SECONDS) call it.
#
# Prints a line per harness (PASS with libFuzzer's run count, or FAIL with
# the crash report's first lines; the whole log stays in OUT/TARGET.log and
# a crashing input in OUT/crash-TARGET-*), then one summary line:
#
#   fuzz: N passed, N failed
#
# Exit status 1 if any harness found something or did not run.
set -u
out=${1:?usage: run.sh OUT SECONDS TARGET...}
secs=${2:?usage: run.sh OUT SECONDS TARGET...}
shift 2
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
sh tests/fuzz/seeds.sh "$out" || exit 1

jobs=$(nproc 2>/dev/null || echo 1)
pass=0
failed=0

# one TARGET: run it in the background, its log in OUT/TARGET.log
start() {
	"./$out/$1" -max_total_time="$secs" -max_len=300000 \
		-rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
		-artifact_prefix="$out/crash-$1-" \
		"$out/corpus-$1" "$out/seeds-$1" >"$out/$1.log" 2>&1 &
	pids[$!]=$1
}

# report TARGET STATUS: the harness's line
report() {
	local runs
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/$1.log")
	if [ "$2" -eq 0 ] && [ -n "$runs" ]; then
		echo "PASS $1: $runs inputs in ${secs}s, no finding"
		pass=$((pass + 1))
	else
		echo "FAIL $1: exit status $2 (log: $out/$1.log)"
		grep -m 5 -E 'ERROR|SUMMARY|runtime error|Test unit written' \
			"$out/$1.log" | sed 's/^/    /'
		failed=$((failed + 1))
	fi
}

declare -A pids=()
echo "fuzz: $# harnesses, ${secs}s each, $jobs at a time"
for t in "$@"; do
	while [ "${#pids[@]}" -ge "$jobs" ]; do
		wait -n -p done_pid
		rc=$?
		report "${pids[$done_pid]}" "$rc"
		unset "pids[$done_pid]"
	done
	start "$t"
done
while [ "${#pids[@]}" -gt 0 ]; do
	wait -n -p done_pid
	rc=$?
	report "${pids[$done_pid]}" "$rc"
	unset "pids[$done_pid]"
done
echo "fuzz: $pass passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$pass" -eq $# ]
