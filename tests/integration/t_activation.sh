# shellcheck shell=bash
# t_activation.sh — socket activation (seald.socket, seald-admin.socket):
# seald serves on the sockets systemd passes it (here through
# systemd-socket-activate, which speaks the same LISTEN_FDS protocol),
# matched to seald.yaml by their paths whatever their order, keeps their
# owner and mode, leaves them in place when it stops (they are systemd's),
# and closes one that seald.yaml does not name.  make systemd-check does
# the same with the real units under a booted systemd.

need_seald || return 0
W=$IT_DIR/t_activation
mkdir -p "$W"
if ! command -v systemd-socket-activate >/dev/null 2>&1; then
	tid "socket activation"
	skip "no systemd-socket-activate (package systemd)"
	return 0
fi
it_instance "$W" act-1
# the admin socket first, the service socket second, and a third that
# seald.yaml does not name: matched by path, not by order
ACT_PID=""
it_at_exit '[ -n "$ACT_PID" ] && kill "$ACT_PID" 2>/dev/null'
systemd-socket-activate -l "$W/admin.sock" -l "$W/seald.sock" -l "$W/stray.sock" \
	-E SOFTHSM2_CONF="$W/softhsm2.conf" \
	${SEALD_WRAP:-} "$IT_BUILD/seald" -c "$W/seald.yaml" >>"$W/seald.log" 2>&1 &
ACT_PID=$!
for _ in $(seq 1 50); do
	[ -S "$W/seald.sock" ] && [ -S "$W/admin.sock" ] && break
	sleep 0.1
done
chmod 0600 "$W/seald.sock" # systemd's mode, which seald must keep

tid "a connection starts seald on the sockets it was passed, matched by path"
# the first connection starts seald (as systemd does); it waits meanwhile
IT_HTTP_SOCK=$W/seald.sock http_req GET /healthz
expect_code 200 "healthz on the passed socket"
IT_HTTP_SOCK=$W/seald.sock sign_json demo-ec "$(digest_b64 sha256 act)" sha256 "t-act-$RANDOM"
expect_code 200 "sign on the passed socket"
grep -q "$W/seald.sock: the socket systemd made" "$W/seald.log" ||
	fail "seald did not say it took the socket: $(tail -n 3 "$W/seald.log")"
grep -q "$W/admin.sock: the socket systemd made" "$W/seald.log" ||
	fail "the admin socket was not taken"
grep -q "systemd passed a socket at $W/stray.sock, which seald.yaml does not name: closed" \
	"$W/seald.log" || fail "the stray socket was not refused"
[ "$(stat -c %a "$W/seald.sock")" = 600 ] || fail "mode changed: $(stat -c %a "$W/seald.sock")"

tid "stopped, seald leaves the sockets to systemd"
pid=$(pgrep -f "seald -c $W/seald.yaml" | head -n 1)
if [ -z "$pid" ]; then
	fail "no seald running"
else
	kill -TERM "$pid"
	for _ in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && fail "seald did not stop"
	[ -S "$W/seald.sock" ] && [ -S "$W/admin.sock" ] ||
		fail "seald removed a socket systemd made"
fi
kill "$ACT_PID" 2>/dev/null
wait "$ACT_PID" 2>/dev/null
ACT_PID=""
