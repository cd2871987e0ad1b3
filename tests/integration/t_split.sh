# shellcheck shell=bash
# t_split.sh — the front (the process that parses client bytes) is a
# process of its own, started by the keeper from seald-front: it maps no
# PKCS#11 module and no libpq, runs with no file size, no new processes
# and bounded open files, and is not dumpable.  Killed, it is started
# again and signing goes on, while the core keeps its HSM login and its
# ledger connection (no second start-up in the log).  Under its seccomp
# filter, a system call it does not need (made through gdb) kills the
# front and nothing else.

need_seald || return 0
P=$IT_DIR/t_split
it_instance "$P" split-1
if ! seald_start "$IT_BUILD" "$P"; then
	tid "the front is a process of its own"
	fail "seald did not start: $(tail -n 3 "$P/seald.log")"
	return 0
fi
core=$(cat "$P/seald.pid")

front_pid() { front_of "$core"; }

tid "the front is a process of its own, with nothing of the core's"
front=$(front_pid)
if [ -z "$front" ]; then
	fail "no front process under seald (pid $core)"
	seald_stop "$P" >/dev/null 2>&1
	return 0
fi
[ "$(basename "$(readlink "/proc/$front/exe")")" = seald-front ] ||
	fail "the front runs $(readlink "/proc/$front/exe")"
grep -q softhsm "/proc/$core/maps" || fail "the core maps no PKCS#11 module (is this the core?)"
for lib in softhsm 'libpq\.so' 'libp11\.so' 'libyaml'; do
	! grep -q "$lib" "/proc/$front/maps" || fail "the front maps $lib"
done
IT_HTTP_SOCK=$P/seald.sock sign_json demo-ec "$(digest_b64 sha256 split)" sha256 "t-split-$RANDOM"
expect_code 200 "sign through the front"

tid "the front's limits: no file to write, no process to start, bounded files"
lim=/proc/$front/limits
grep -Eq '^Max file size +0 +0 ' "$lim" || fail "$(grep '^Max file size' "$lim")"
grep -Eq '^Max processes +0 +0 ' "$lim" || fail "$(grep '^Max processes' "$lim")"
grep -Eq '^Max core file size +0 +0 ' "$lim" || fail "$(grep '^Max core file size' "$lim")"
grep -Eq '^Max open files +[0-9]+ +[0-9]+ ' "$lim" || fail "$(grep '^Max open files' "$lim")"
[ "$(awk '/^Max open files/ { print $4 }' "$lim")" -le 1100 ] ||
	fail "open files: $(grep '^Max open files' "$lim")"
grep -q "^NoNewPrivs:	1$" "/proc/$front/status" || note "NoNewPrivs is not set (not started as root with run_as)"

tid "a killed front is started again; the core keeps its HSM login and ledger"
kill -KILL "$front"
new=""
for _ in $(seq 50); do
	new=$(front_pid)
	[ -n "$new" ] && [ "$new" != "$front" ] && break
	sleep 0.1
done
if [ -z "$new" ] || [ "$new" = "$front" ]; then
	fail "no new front within 5 s"
else
	note "front $front killed, front $new started"
	IT_HTTP_SOCK=$P/seald.sock sign_json demo-ec "$(digest_b64 sha256 split2)" sha256 "t-split-$RANDOM"
	expect_code 200 "sign after the restart"
	[ "$(cat "$P/seald.pid")" = "$core" ] && kill -0 "$core" || fail "the core is not the same process"
	grep -q "front (pid $front) killed by signal 9: starting another" "$P/seald.log" ||
		fail "the log does not say the front died"
	[ "$(grep -c 'ledger ready' "$P/seald.log")" = 1 ] || fail "the core started again"
	[ "$(grep -c 'HSM session' "$P/seald.log")" -le 1 ] || fail "the core logged in again"
fi

tid "a system call outside the front's seccomp filter kills the front, only it"
front=$(front_pid)
if [ "$(id -u)" != 0 ] || ! command -v gdb >/dev/null 2>&1; then
	skip "injecting a system call needs root and gdb (make deps installs gdb)"
elif [ -z "$front" ]; then
	fail "no front"
else
	grep -q "^Seccomp:	2$" "/proc/$front/status" || fail "$(grep '^Seccomp' "/proc/$front/status")"
	# getppid: harmless, and never needed by a front; made by the front
	# itself, through gdb
	# (gdb may crash when its inferior dies under it: no core file)
	(cd "$P" && ulimit -c 0 && timeout 20 gdb -p "$front" -batch \
		-ex 'call (int)getppid()' >"$P/gdb.log" 2>&1)
	for _ in $(seq 50); do
		new=$(front_pid)
		[ -n "$new" ] && [ "$new" != "$front" ] && break
		sleep 0.1
	done
	grep -q "front (pid $front) killed by signal 31" "$P/seald.log" ||
		fail "the front was not killed by SIGSYS: $(grep "pid $front" "$P/seald.log") $(tail -n 3 "$P/gdb.log")"
	kill -0 "$core" || fail "the core died too"
	IT_HTTP_SOCK=$P/seald.sock sign_json demo-ec "$(digest_b64 sha256 split3)" sha256 "t-split-$RANDOM"
	expect_code 200 "sign after the front's death"
fi

tid "a graceful stop ends the core, the keeper and the front"
keeper=$(pgrep -P "$core" | head -n 1)
front=$(front_pid)
seald_stop "$P" || fail "seald needed SIGKILL"
for p in $keeper $front; do
	! kill -0 "$p" 2>/dev/null || fail "process $p outlived seald"
done
