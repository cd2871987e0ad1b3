#!/bin/bash
# valgrind.sh BUILD [TEST...] — the integration tests (all, or t_TEST.sh
# for each TEST) with every seald they start run under valgrind's memcheck:
# invalid accesses, uses of uninitialised values and definite leaks are
# errors, tests/valgrind.supp holds documented third-party noise only.
# run.sh checks each seald's log (IT_DIR/valgrind.PID.log) at the end.
# `make valgrind` runs them all; `make check` a quick set.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:?usage: valgrind.sh BUILD [TEST...]}
shift
SEALD_WRAP="valgrind --leak-check=full --errors-for-leak-kinds=definite
	--show-leak-kinds=definite --num-callers=30
	--suppressions=$root/tests/valgrind.supp
	--log-file=%q{IT_DIR}/valgrind.%p.log"
# seald is some 20 times slower under valgrind, SoftHSM's RSA-4096 key
# generation more; a seald stopped must have the time to write its leak
# report (one killed writes none, and would pass unchecked)
SEALD_START_TIMEOUT=120
SEALD_STOP_TIMEOUT=120
IT_HTTP_TIMEOUT=300
SEALCTL_TIMEOUT=300
IT_TEST_TIMEOUT=1200
IT_ONLY="$*"
export SEALD_WRAP SEALD_START_TIMEOUT SEALD_STOP_TIMEOUT IT_HTTP_TIMEOUT \
	SEALCTL_TIMEOUT IT_TEST_TIMEOUT IT_ONLY
exec bash "$root/tests/integration/run.sh" "$build"
