# shellcheck shell=bash
# t_split.sh — the front (the process that parses client bytes) is a
# process of its own, started by the keeper from seald-front: it maps no
# PKCS#11 module and no libpq, runs with no file size, no new processes
# and bounded open files, and is not dumpable.  Killed, it is started
# again and signing goes on, while the core keeps its HSM login and its
# ledger connection (no second start-up in the log).  Under its seccomp
# filter, a system call it does not need (made through gdb) kills the
# front and nothing else.  A client that leaves while the front holds its
# request back does not hold up the stop; a lost keeper makes seald exit
# with a failure status.

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
if ! _it_can_switch; then
	skip "reading a process that is not dumpable needs root or sudo"
else
	[ "$(basename "$(as_root readlink "/proc/$front/exe")")" = seald-front ] ||
		fail "the front runs $(as_root readlink "/proc/$front/exe")"
	as_root cat "/proc/$core/maps" | grep -q softhsm ||
		fail "the core maps no PKCS#11 module (is this the core?)"
	for lib in softhsm 'libpq\.so' 'libp11\.so' 'libyaml'; do
		! as_root cat "/proc/$front/maps" | grep -q "$lib" || fail "the front maps $lib"
	done
fi
IT_HTTP_SOCK=$P/seald.sock sign_json demo-ec "$(digest_b64 sha256 split)" sha256 "t-split-$RANDOM"
expect_code 200 "sign through the front"

tid "the front's limits: no file to write, no process to start, bounded files"
# the front sets its last limit just before its filter: wait for that
for _ in $(seq 50); do
	grep -q '^Seccomp:	2$' "/proc/$front/status" && break
	sleep 0.1
done
grep -q '^Seccomp:	2$' "/proc/$front/status" ||
	fail "the front is not under its filter after 5 s: $(grep '^Seccomp' "/proc/$front/status")"
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
if ! new=$(next_front "$core" "$front"); then
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
	next_front "$core" "$front" >/dev/null
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

tid "a client that leaves in the middle of its request does not hold up the stop"
if ! seald_start "$IT_BUILD" "$P"; then
	fail "seald did not start again: $(tail -n 3 "$P/seald.log")"
else
	core=$(cat "$P/seald.pid")
	# The core stopped: the front holds the request back, waiting for the
	# core's go-on; the client gives up halfway through its body; then
	# the core goes on.
	kill -STOP "$core"
	python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(b"POST /v1/sign HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
          b"Content-Length: 100\r\n\r\n{\"key\":")
time.sleep(0.5)
s.close()
' "$P/seald.sock"
	kill -CONT "$core"
	sleep 0.5
	t0=$(date +%s%N)
	seald_stop "$P" || fail "seald needed SIGKILL"
	ms=$((($(date +%s%N) - t0) / 1000000))
	note "stopped in $ms ms"
	[ "$ms" -lt 5000 ] || fail "the stop took $ms ms: the front waited for a request that was gone"
fi

tid "a lost keeper stops seald with a failure status, for systemd to restart it"
if ! seald_start "$IT_BUILD" "$P"; then
	fail "seald did not start again: $(tail -n 3 "$P/seald.log")"
else
	core=$(cat "$P/seald.pid")
	keeper=$(pgrep -P "$core" | head -n 1)
	kill -KILL "$keeper"
	for _ in $(seq 100); do
		kill -0 "$core" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$core" 2>/dev/null; then
		fail "seald still runs 10 s after its keeper died"
		seald_stop "$P" >/dev/null 2>&1
	else
		st=0
		wait "$core" 2>/dev/null || st=$?
		[ "$st" = 5 ] || fail "seald exited with status $st, expected 5 (EX_START)"
		grep -q "keeper" "$P/seald.log" || fail "the log does not name the keeper"
	fi
fi

tid "each process holds only its own descriptors: no stray one, the keeper and the front no admin socket"
# started with two stray descriptors, as a careless parent leaves them
if ! _it_can_switch; then
	skip "reading the descriptors of processes that are not dumpable needs root or sudo"
elif ! (exec 7</etc/hostname 8>>"$P/stray" && seald_start "$IT_BUILD" "$P"); then
	fail "seald did not start: $(tail -n 3 "$P/seald.log")"
else
	core=$(cat "$P/seald.pid")
	keeper=$(pgrep -P "$core" | head -n 1)
	front=$(front_of "$core")
	# the admin socket's inode, from the kernel's table of Unix sockets
	ainode=$(awk -v p="$P/admin.sock" '$8 == p { print $7 }' /proc/net/unix | head -n 1)
	for who in core keeper front; do
		pid=${!who}
		links=$(as_root sh -c "for f in /proc/$pid/fd/*; do readlink "\$f"; done")
		! grep -q "/etc/hostname\|$P/stray" <<<"$links" || fail "the $who holds a stray descriptor"
		if [ "$who" != core ] && [ -n "$ainode" ]; then
			! grep -q "socket:\[$ainode\]" <<<"$links" || fail "the $who holds the admin socket"
		fi
	done
	n=$(as_root ls "/proc/$keeper/fd" | wc -l)
	[ "$n" = 7 ] || fail "the keeper holds $n descriptors (stdio, ctl, the service socket, /dev/null, the front's log pipe): $(as_root ls -l "/proc/$keeper/fd" | tail -n +2)"
	[ "$(as_root readlink "/proc/$front/fd/0")" = /dev/null ] ||
		fail "the front's stdin is $(as_root readlink "/proc/$front/fd/0")"
	seald_stop "$P" >/dev/null 2>&1
fi

tid "a front that cannot load its filter serves nobody; seald says so once and is not ready"
# seccomp(2) refused to seald and its children (tests/fault/noseccomp.c),
# as a unit whose SystemCallFilter= lacks it would: each front exits
# before it accepts a client; seald never answers, never says ready
if [ ! -x "$IT_BUILD/tests/noseccomp" ]; then
	fail "no $IT_BUILD/tests/noseccomp (make check-build)"
else
	: >"$P/seald.log"
	if SEALD_WRAP=$IT_BUILD/tests/noseccomp SEALD_START_TIMEOUT=7 \
		seald_start "$IT_BUILD" "$P" 2>/dev/null; then
		fail "a front without its filter answered /healthz"
		seald_stop "$P" >/dev/null 2>&1
	fi
	# the keeper's line and the first front's own, once each; the next
	# fronts (quiet) at 1, 3 and 7 s
	for line in "cannot load its seccomp filter: seald serves no client" \
	    "front: cannot sandbox itself" "front: seccomp"; do
		n=$(grep -c "$line" "$P/seald.log")
		[ "$n" = 1 ] || fail "'$line' said $n times"
	done
	grep -q "no front serves after 5 s: seald is not ready" "$P/seald.log" ||
		fail "seald did not say it is not ready"
	! grep -q "seald .* ready: instance" "$P/seald.log" || fail "seald said it was ready"
	! grep -q "front serving under its filter" "$P/seald.log" || fail "a front served"
	grep -q "signal 15: stopping before a front served" "$P/seald.log" ||
		fail "the stop was not clean: $(tail -n 2 "$P/seald.log")"
	note "$(tail -n 4 "$P/seald.log" | tr '\n' '|')"
fi
