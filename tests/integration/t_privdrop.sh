# shellcheck shell=bash
# t_privdrop.sh — started as root with run_as, seald binds its sockets and
# then runs as that user: every uid and gid is the user's, no capability
# in any set (the bounding set too), no new privileges, not dumpable (its
# /proc files are root's, and a ptrace attach by the same user fails); it
# signs on its copy of the token and its own PIN file.  Its front (and
# the front's keeper) runs as run_as.front_user, the same way.

need_seald || return 0
if [ "$(id -u)" != 0 ]; then
	tid "privilege drop"
	skip "seald drops root only when started as root"
	return 0
fi
U=daemon
P=$IT_DIR/t_privdrop
uid=$(id -u "$U")
it_instance "$P" priv-1 -e "s|^  pin_file: .*|  pin_file: $P/pin|"
F=www-data
fuid=$(id -u "$F")
printf 'run_as: {user: %s, front_user: %s}\n' "$U" "$F" >>"$P/seald.yaml"
# the user's own token copy and PIN file
rm -f "$P/softhsm2.conf"
cp -a "$IT_DIR/tokens" "$P/tokens"
chown -R "$U" "$P/tokens"
sed "s|^directories.tokendir = .*|directories.tokendir = $P/tokens|" \
    "$IT_DIR/softhsm2.conf" >"$P/softhsm2.conf"
install -m 0600 -o "$U" "$IT_DIR/pin" "$P/pin"

tid "started as root with run_as, seald serves as that user"
if ! SOFTHSM2_CONF=$P/softhsm2.conf seald_start "$IT_BUILD" "$P"; then
	fail "seald did not start: $(tail -n 3 "$P/seald.log")"
	return 0
fi
pid=$(cat "$P/seald.pid")
st=/proc/$pid/status
grep -q "^Uid:	$uid	$uid	$uid	$uid$" "$st" || fail "uids: $(grep '^Uid' "$st")"
gid=$(id -g "$U")
grep -q "^Gid:	$gid	$gid	$gid	$gid$" "$st" || fail "gids: $(grep '^Gid' "$st")"
grep -q "running as $U (uid $uid" "$P/seald.log" || fail "the log does not say so"
IT_HTTP_SOCK=$P/seald.sock sign_json demo-ec "$(digest_b64 sha256 privdrop)" sha256 "t-priv-$RANDOM"
expect_code 200 "sign as $U"

tid "no capabilities in any set, no new privileges"
for c in CapInh CapPrm CapEff CapBnd CapAmb; do
	grep -q "^$c:	0000000000000000$" "$st" || fail "$(grep "^$c" "$st")"
done
grep -q "^NoNewPrivs:	1$" "$st" || fail "$(grep '^NoNewPrivs' "$st")"

tid "the front and its keeper run as $F, with no capabilities, not dumpable"
keeper=$(pgrep -P "$pid" | head -n 1)
front=$(front_of "$pid")
if [ -z "$front" ]; then
	fail "no front process"
else
	for p in "$keeper" "$front"; do
		fs=/proc/$p/status
		grep -q "^Uid:	$fuid	$fuid	$fuid	$fuid$" "$fs" || fail "$p: $(grep '^Uid' "$fs")"
		grep -q "^CapEff:	0000000000000000$" "$fs" || fail "$p: $(grep '^CapEff' "$fs")"
		grep -q "^CapBnd:	0000000000000000$" "$fs" || fail "$p: $(grep '^CapBnd' "$fs")"
		grep -q "^NoNewPrivs:	1$" "$fs" || fail "$p: $(grep '^NoNewPrivs' "$fs")"
		[ "$(stat -c %U "$fs")" = root ] || fail "$p: dumpable (/proc/$p is $(stat -c %U "$fs")'s)"
	done
	[ "$fuid" != "$uid" ] || fail "the front's uid is the core's"
fi

tid "not dumpable: its /proc files are root's, and $U cannot ptrace it"
[ "$(stat -c %U "$st")" = root ] || fail "/proc/$pid/status belongs to $(stat -c %U "$st")"
AS=(setpriv --reuid="$uid" --regid="$gid" --clear-groups)
if command -v strace >/dev/null 2>&1; then
	out=$(timeout 5 "${AS[@]}" strace -p "$pid" -e trace=none -o /dev/null 2>&1)
	rc=$?
	[ $rc != 0 ] && [ $rc != 124 ] || fail "strace attached (exit $rc)"
	grep -q "Operation not permitted" <<<"$out" || fail "strace said: $out"
	# the same attach holds on a dumpable process of the user: the
	# check can fail
	"${AS[@]}" sleep 30 &
	spid=$!
	sleep 0.2
	timeout 2 "${AS[@]}" strace -p "$spid" -e trace=none -o /dev/null >/dev/null 2>&1
	[ $? = 124 ] || note "a control attach did not hold (Yama ptrace_scope?)"
	kill "$spid" 2>/dev/null
	wait "$spid" 2>/dev/null
else
	skip "no strace (make deps installs it)"
fi
seald_stop "$P" >/dev/null 2>&1
