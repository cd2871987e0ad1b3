# shellcheck shell=bash
# t_rogue.sh — what a compromised front can and cannot make the core do.
# A copy of seald runs with tests/fault/rogue_front.c in seald-front's
# place: a front that speaks the core's protocol on its own terms
# (docs/security.md, "A compromised front").
#  - It keeps a client's socket after the client hung up, and asks in its
#    name: the core sees the caller is gone and refuses (401).
#  - It asks for hundreds of signatures and reads no answer: the core's
#    workers and ledger writer do not wait for it; every signature is
#    recorded, then every answer comes when it reads.
#  - It passes off the listening socket as a client's: its channel ends,
#    and the keeper starts another front.

need_seald || return 0
P=$IT_DIR/t_rogue
if [ ! -x "$IT_BUILD/tests/rogue-front" ]; then
	tid "a rogue front"
	fail "no $IT_BUILD/tests/rogue-front (make check-build)"
	return 0
fi
it_instance "$P" rogue-1
mkdir -p "$P/bin"
cp "$IT_BUILD/seald" "$P/bin/seald"
cp "$IT_BUILD/tests/rogue-front" "$P/bin/seald-front"
if ! seald_start "$P/bin" "$P"; then
	tid "a rogue front"
	fail "seald did not start with the rogue front: $(tail -n 3 "$P/seald.log")"
	return 0
fi
core=$(cat "$P/seald.pid")

# rogue ORDER [SECONDS|go]: send ORDER as the first line, print what the
# rogue answers (one line), then keep the connection SECONDS more; or
# with "go", wait for a line on stdin, send it "go" and print its second
# answer (flood).
ROGUE_PY='
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(60)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
f = s.makefile("rb")
print(f.readline().decode().strip(), flush=True)
if sys.argv[3] == "go":
    sys.stdin.readline()
    s.sendall(b"go\n")
    print(f.readline().decode().strip(), flush=True)
else:
    time.sleep(float(sys.argv[3]))
s.close()
'
rogue() { python3 -c "$ROGUE_PY" "$P/seald.sock" "$1" "${2:-0}"; }

body() {
	printf '{"key":"demo-ec","digest":"%s","digest_alg":"sha256","request_id":"%s","format":"raw"}' \
		"$(digest_b64 sha256 "$1")" "$1"
}

tid "a front that keeps a hung-up client's socket cannot ask in its name"
id=rogue-stale-$RANDOM
first=$(rogue "stale $(body "$id")")
[ "$first" = 200 ] || fail "the first request, client connected: $first"
line=""
for _ in $(seq 50); do
	line=$(grep -m1 -o "rogue stale:.*" "$P/seald.log") && break
	sleep 0.1
done
[ "$line" = "rogue stale: before 200, after 401" ] ||
	fail "the rogue saw: ${line:-nothing}"
grep -q "the caller has hung up: request refused" "$P/seald.log" ||
	fail "the core did not say why it refused"
n=$(psql_q "select count(*) from ledger_entries where instance = 'rogue-1' and request_id like '$id%'")
[ "$n" = 1 ] || fail "$n ledger entries for $id, expected 1 (the first)"

tid "a front that reads no answer does not hold up the core's workers or ledger writer"
id=rogue-flood-$RANDOM
n_req=600
coproc FLOOD { rogue "flood $n_req $(body "$id")" go; }
read -r -t 30 sent <&"${FLOOD[0]}" || sent=""
if [ "$sent" != sent ]; then
	fail "the rogue did not send its requests: '$sent'"
else
	# Replies of ~700 bytes: about a hundred fill the socket's buffer.
	# Within 3 s by the clock: well before the 5 s after which a front
	# that does not read loses its channel (which would let a blocked
	# writer go on, and make the old code pass).
	n=0
	t0=$(date +%s%N)
	while :; do
		n=$(psql_q "select count(*) from ledger_entries where instance = 'rogue-1' and request_id like '$id-%'")
		ms=$((($(date +%s%N) - t0) / 1000000))
		[ "$n" = "$n_req" ] || [ "$ms" -ge 3000 ] && break
		sleep 0.05
	done
	note "$n signatures recorded in $ms ms, no answer read"
	[ "$n" = "$n_req" ] ||
		fail "$n of $n_req signatures recorded within 3 s while the front read nothing"
	echo go >&"${FLOOD[1]}"
	read -r -t 30 got <&"${FLOOD[0]}" || got=""
	[ "$got" = "answers $n_req, signed $n_req" ] || fail "then the rogue read: '$got'"
fi
wait "$FLOOD_PID" 2>/dev/null || true
! grep -q "channel ended" "$P/seald.log" || fail "$(grep -m1 "channel ended" "$P/seald.log")"

tid "a front that reads nothing at all loses its channel after 5 s; the core goes on"
front=$(front_of "$core")
# 2,000 answers of ~700 bytes: several times a default socket buffer.
# The 5 s start when the buffer is full, which may be before the rogue
# has sent its last request (from which it counts).
got=$(rogue "deaf 2000 $(body "rogue-deaf-$RANDOM")")
ms=${got#ended after }
ms=${ms% ms}
if [ "$ms" = "$got" ] || ! [ "$ms" -ge 3000 ] 2>/dev/null || [ "$ms" -gt 12000 ]; then
	fail "the rogue's channel: '$got' (expected ended after about 5 s)"
else
	note "the channel ended $ms ms after the last request"
fi
grep -q "front: cannot send to it (Resource temporarily unavailable): channel ended" "$P/seald.log" ||
	fail "the core did not say why it ended the channel: $(grep -m1 'channel ended' "$P/seald.log")"
next_front "$core" "$front" >/dev/null || fail "no new front within 5 s"

tid "a front that passes off the listening socket as a client's loses its channel"
front=$(front_of "$core")
got=$(rogue listen)
[ "$got" = ended ] || fail "the rogue's channel: $got"
grep -q "front: a socket not accepted on the service socket: channel ended" "$P/seald.log" ||
	fail "the core did not say why it ended the channel"
next_front "$core" "$front" >/dev/null || fail "no new front within 5 s"
kill -0 "$core" || fail "the core died"

tid "a front under seald's filter cannot signal another process, by any road"
# each way is tried by a rogue that loaded seald's real filter: it is
# refused, or the filter kills the rogue (and the keeper starts another)
reloads() { grep -c 'policy reloaded from' "$P/seald.log"; }
before=$(reloads)
for way in setown setown-ex setsig async fiosetown fioasync kill tgkill \
    sigqueue pidfd socket; do
	front=$(front_of "$core")
	got=$(rogue "escape $way")
	case "$got" in
	"refused "*) ;;
	"")
		next_front "$core" "$front" >/dev/null ||
			fail "$way: the rogue died and no new front came"
		;;
	*) fail "escape $way: $got" ;;
	esac
	kill -0 "$core" 2>/dev/null || {
		fail "the core died after $way"
		break
	}
done
grep -q "killed by signal 31" "$P/seald.log" ||
	fail "no rogue was killed by its filter (SIGSYS)"
[ "$(reloads)" = "$before" ] || fail "the core reloaded $(($(reloads) - before)) time(s)"
http_get_rogue() { IT_HTTP_SOCK=$P/seald.sock http_req GET /healthz; }
http_get_rogue
expect_code 200 "the rogue serves after the attempts"

tid "a front out of its filter arms the listener: the core takes no signal the kernel sends"
# F_SETOWN + F_SETSIG + O_ASYNC on the service socket: every connection
# then makes the kernel send the signal (si_code POLL_IN), which the
# core must tell from an operator's kill
for sig in HUP TERM; do
	front=$(front_of "$core")
	got=$(rogue "arm $sig")
	[ "$got" = armed ] || fail "arm $sig: $got"
	for _ in 1 2 3; do
		http_get_rogue
	done
	sleep 0.5
	kill -0 "$core" 2>/dev/null || {
		fail "SIG$sig through the listener stopped the core"
		break
	}
	[ "$(reloads)" = "$before" ] || fail "SIG$sig through the listener: the core reloaded"
	grep -q "signal $(kill -l "$sig"): sent by the kernel" "$P/seald.log" ||
		fail "the core did not say it ignored SIG$sig from the kernel"
	# the keeper disarms the listener before the next front
	got=$(rogue quit)
	new=$(next_front "$core" "$front") || fail "no new front after quit"
	if [ -n "$new" ]; then
		flags=$(awk '/^flags:/ { print $2 }' "/proc/$new/fdinfo/3")
		[ $((8#$flags & 8#20000)) = 0 ] ||
			fail "the next front's listener still has O_ASYNC (flags $flags)"
	fi
done
kill -HUP "$core"
for _ in $(seq 30); do
	[ "$(reloads)" != "$before" ] && break
	sleep 0.1
done
[ "$(reloads)" != "$before" ] || fail "an operator's SIGHUP no longer reloads"

tid "a front's log lines are marked as its own: none passes for the core's"
got=$(rogue forge)
[ "$got" = forged ] || fail "forge: $got"
sleep 0.3
n=$(grep -c "policy reloaded from /forged" "$P/seald.log")
[ "$n" = 1 ] || fail "the forged line is there $n times"
grep -Eq '^front\[[0-9]+\]\| 2026-01-01T00:00:00.000Z seald\[[0-9]+\] info reload_locked: policy reloaded from /forged$' \
    "$P/seald.log" || fail "the forged line is not marked: $(grep -m1 forged "$P/seald.log")"
grep -Eq '^2026-01-01' "$P/seald.log" && fail "a line of the front's begins as the core's do"
grep -q '^front\[[0-9]*\]| half a line?2026-01-01T00:00:00.000Z seald' "$P/seald.log" ||
	fail "a carriage return split the line: $(grep -m1 'half a line' "$P/seald.log" | od -c | head -n 3)"
xs=$(grep -c '^front\[[0-9]*\]| xxxx' "$P/seald.log")
[ "$xs" -ge 3 ] || fail "a 3,000-byte line came as $xs marked line(s)"
! grep -Eq '^x' "$P/seald.log" || fail "a piece of the long line is unmarked"

seald_stop "$P" >/dev/null 2>&1 || true
