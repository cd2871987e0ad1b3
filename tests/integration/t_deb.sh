# shellcheck shell=bash
# t_deb.sh — `make deb`: the Debian package builds with dpkg-buildpackage,
# holds seald, sealctl, the manual pages, the hardened unit, the sysusers
# and tmpfiles files, the examples and the migrations; installed (as root,
# when seald is not installed already) it makes its user and /etc/seald,
# enables and starts nothing; its seald checks the installed example and
# serves on the test token and database.  Once per run (not again for the
# sanitizer build); the package is removed at the end.

case "$IT_BUILD" in
*-san)
	return 0
	;;
esac
need_seald || return 0
W=$IT_DIR/t_deb
mkdir -p "$W"
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

tid "make deb builds a package with everything an operator needs"
if ! command -v dpkg-buildpackage >/dev/null 2>&1; then
	skip "no dpkg-buildpackage (make deps installs dpkg-dev and debhelper)"
	return 0
fi
if ! deb=$(sh "$ROOT/packaging/build-deb.sh" "$W/deb" 2>"$W/build.err"); then
	fail "the package did not build: $(tail -n 5 "$W/build.err")"
	return 0
fi
files=$(dpkg-deb -c "$deb" | awk '{ print $6 }')
for f in ./usr/sbin/seald ./usr/lib/seald/seald-front ./usr/bin/sealctl ./usr/share/man/man8/seald.8.gz \
    ./usr/share/man/man1/sealctl.1.gz ./usr/share/man/man5/seald.yaml.5.gz \
    ./usr/share/man/man5/seald-policy.5.gz ./lib/systemd/system/seald.service \
    ./lib/systemd/system/seald.socket ./lib/systemd/system/seald-admin.socket \
    ./usr/sbin/seald-setup ./usr/share/man/man8/seald-setup.8.gz \
    ./usr/lib/sysusers.d/seald.conf ./usr/lib/tmpfiles.d/seald.conf \
    ./usr/share/doc/seald/examples/seald.yaml ./usr/share/doc/seald/examples/policy.yaml \
    ./usr/share/seald/migrations/0001_ledger.sql; do
	grep -qx -- "$f" <<<"$files" || fail "the package lacks $f"
done
grep -q '^ Depends: .*libpq5' <(dpkg-deb -I "$deb") || fail "no library dependencies"

tid "installed, it makes its user and /etc/seald and enables nothing"
if [ "$(id -u)" != 0 ] || dpkg -s seald >/dev/null 2>&1; then
	skip "installing needs root and no seald package installed already"
	dpkg-deb -x "$deb" "$W/root"
	SEALD_BIN=$W/root/usr/sbin
	EXAMPLES=$W/root/usr/share/doc/seald/examples
else
	it_at_exit "dpkg --purge seald >/dev/null 2>&1"
	if ! dpkg -i "$deb" >"$W/dpkg.log" 2>&1; then
		fail "dpkg -i: $(tail -n 5 "$W/dpkg.log")"
		return 0
	fi
	getent passwd seald >/dev/null || fail "no seald user"
	getent group seald-clients >/dev/null || fail "no seald-clients group"
	[ "$(stat -c '%a %U %G' /etc/seald 2>/dev/null)" = "750 root seald" ] ||
		fail "/etc/seald: $(stat -c '%a %U %G' /etc/seald 2>&1)"
	ls /etc/systemd/system/*.wants/seald.service >/dev/null 2>&1 && fail "the service was enabled"
	pgrep -x seald -u seald >/dev/null && fail "a seald runs as seald"
	man -w seald >/dev/null 2>&1 || fail "man seald finds no page"
	SEALD_BIN=/usr/sbin
	EXAMPLES=/usr/share/doc/seald/examples
fi
# the example as seald-setup config installs it, the policy beside it
EXAMPLE=$W/example.yaml
sed "s|^policy: .*|policy: $EXAMPLES/policy.yaml|" "$EXAMPLES/seald.yaml" >"$EXAMPLE"

tid "the package's seald checks the installed example and serves"
# the example's socket belongs to the group the package makes; without
# the package installed, that group is the one thing check-config misses
if getent group seald-clients >/dev/null; then
	out=$("$SEALD_BIN/seald" --check-config -c "$EXAMPLE" 2>&1) || fail "check-config: $out"
elif out=$("$SEALD_BIN/seald" --check-config -c "$EXAMPLE" 2>&1); then
	fail "check-config passed an unknown group: $out"
else
	grep -q "unknown group 'seald-clients'" <<<"$out" || fail "check-config: $out"
fi
"$SEALD_BIN/seald" --version | grep -q '^seald 0\.' || fail "version"
P=$W/run
it_instance "$P" deb-1
if seald_start "$SEALD_BIN" "$P"; then
	IT_HTTP_SOCK=$P/seald.sock sign_json demo-ec "$(digest_b64 sha256 deb)" sha256 "t-deb-$RANDOM"
	expect_code 200 "sign with the packaged seald"
	seald_stop "$P" >/dev/null 2>&1
else
	fail "the packaged seald did not start: $(tail -n 3 "$P/seald.log")"
fi
