# shellcheck shell=bash
# t_unit.sh — the systemd unit in packaging/ (and its two sockets) scores
# as one of the safest services on the system: `systemd-analyze security
# --offline=yes` at 2.0 or lower (Debian's systemd-hostnamed: 1.5), also
# with the network and device drop-ins merged in.  The score is printed
# for docs/security.md.

W=$IT_DIR/t_unit
mkdir -p "$W"
PKG=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../packaging" && pwd)

# score UNIT: the overall exposure systemd-analyze gives it
score() {
	systemd-analyze security --offline=yes "$1" 2>/dev/null |
	    sed -n 's/^→ Overall exposure level for .*: \([0-9.]*\) .*/\1/p'
}

# merged DROPIN: the unit with the drop-in's [Service] lines, as systemd
# would read them
merged() {
	awk -v d="$PKG/$1" '
		/^\[Install\]/ { while ((getline l < d) > 0) if (l !~ /^\[Service\]/) print l }
		{ print }' "$PKG/seald.service" >"$W/seald.service"
	printf '%s\n' "$W/seald.service"
}

if ! command -v systemd-analyze >/dev/null 2>&1; then
	tid "the unit scores 2.0 or lower"
	skip "no systemd-analyze (make deps installs systemd)"
	return 0
fi
for u in seald.service seald-network.conf seald-device.conf; do
	tid "systemd-analyze security scores $u at 2.0 or lower"
	f=$PKG/seald.service
	[ "$u" = seald.service ] || f=$(merged "$u")
	s=$(score "$f")
	if [ -z "$s" ]; then
		fail "no score: $(systemd-analyze security --offline=yes "$f" 2>&1 | tail -n 2)"
	elif awk -v s="$s" 'BEGIN { exit !(s <= 2.0) }'; then
		note "$u: exposure $s"
	else
		fail "$u scores $s: $(systemd-analyze security --offline=yes "$f" 2>/dev/null | grep '^✗' | head -n 5)"
	fi
done
grep -q '^SystemCallFilter=@system-service seccomp$' "$PKG/seald.service" ||
	fail "the unit does not filter system calls to @system-service"

tid "systemd-analyze verify accepts the unit, its sockets and its drop-ins (every directive known)"
for u in seald.service seald-network.conf seald-device.conf; do
	f=$PKG/seald.service
	[ "$u" = seald.service ] || f=$(merged "$u")
	rm -rf "$W/v" && mkdir -p "$W/v"
	sed "s|^ExecStart=/usr/sbin/seald|ExecStart=$IT_BUILD/seald|" "$f" >"$W/v/seald.service"
	cp "$PKG/seald.socket" "$PKG/seald-admin.socket" "$W/v/"
	out=$(cd "$W/v" && systemd-analyze verify --man=no seald.service seald.socket \
		seald-admin.socket 2>&1) ||
		fail "$u: $out"
	[ -z "$out" ] || fail "$u: $out"
done
