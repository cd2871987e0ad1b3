# shellcheck shell=bash
# t_fresh.sh — the first command on a machine without the build packages.
#
# A copy of the tree runs `make`, `make run`, `make bench`, `make check`
# and `make deb` each as the first command, on a machine made to look fresh
# by a folder of stand-ins in front of PATH: until `apt-get install` has
# run, pkg-config finds no package and dpkg-query knows none (so
# packaging/install-deps.sh decides to install everything); the stand-in
# apt-get installs nothing, it only records that it ran and what it was
# asked for.  The packages are really on this machine, so what the first
# command gets wrong is exactly what a fresh machine meets: a Makefile that
# read its compiler flags before `deps` installed the packages failed its
# first build here ("libpq-fe.h: No such file").  `make fresh-check` runs
# the same commands on a real fresh Debian root (tests/fresh/).
#
# Once per run (not again for the sanitizer build); root only (the
# stand-ins take the place of apt-get, which install-deps.sh runs through
# sudo otherwise).

case "$IT_BUILD" in
*-san)
	return 0
	;;
esac
W=$IT_DIR/t_fresh
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
mkdir -p "$W/bin"

tid "stand-ins make this machine look fresh"
if [ "$(id -u)" -ne 0 ]; then
	skip "needs root: install-deps.sh would ask sudo for the stand-in apt-get"
	return 0
fi
MARK=$W/installed
# pkg-config and dpkg-query answer as on a machine without the packages
# until the stand-in apt-get "installed" them; then the real ones answer.
for tool in pkg-config dpkg-query; do
	real=$(command -v "$tool") || {
		fail "no $tool on this machine"
		return 0
	}
	cat >"$W/bin/$tool" <<EOF
#!/bin/sh
if [ -e '$MARK' ]; then
	exec '$real' "\$@"
fi
exit 1
EOF
done
cat >"$W/bin/apt-get" <<EOF
#!/bin/sh
echo "apt-get \$*" >>'$W/apt.log'
case " \$* " in
*" install "*) touch '$MARK' ;;
esac
exit 0
EOF
chmod 0755 "$W/bin/"*
SHIM_PATH=$W/bin:$PATH
[ "$(PATH=$SHIM_PATH pkg-config --cflags libpq 2>/dev/null)" = "" ] ||
	fail "the stand-in pkg-config found libpq before the install"

# fresh_tree NAME: a copy of the tree (tracked and new files, in a git
# repository, as a clone has them) in W/NAME, with the machine fresh again.
fresh_tree() {
	rm -rf "${W:?}/$1" "$MARK" "$W/apt.log"
	sh "$ROOT/tools/copy-tree.sh" "$W/$1" && git -C "$W/$1" init -q
}

# fresh_make NAME LOG ARGS...: make ARGS in W/NAME as a new user's shell
# would run it: the stand-ins first on PATH, none of this suite's variables
# (make passes the VAR=value of its command line on to its recipes).
fresh_make() {
	local dir=$W/$1 log=$2
	shift 2
	env -i PATH="$SHIM_PATH" HOME="$W" LANG=C.UTF-8 TERM=dumb \
		make -C "$dir" "$@" >"$log" 2>&1
}

# installed_first LOG: the stand-in apt-get installed the build packages
installed_first() {
	grep -q '^apt-get install .*libpq-dev' "$W/apt.log" 2>/dev/null || {
		fail "make did not install the packages first: $(tail -n 3 "$1")"
		return 1
	}
}

tid "make (the build alone) says which packages are missing and how to get them"
fresh_tree plain || fail "cannot copy the tree"
if fresh_make plain "$W/plain.log"; then
	fail "make built without the build packages"
fi
grep -q "pkg-config finds no .*libpq.*run 'make deps' first" "$W/plain.log" ||
	fail "no clear message: $(tail -n 3 "$W/plain.log")"
if grep -q 'No such file' "$W/plain.log"; then
	fail "the compiler ran without the packages' flags"
fi

tid "make, once the packages are in, builds the three programs"
touch "$MARK"
if ! fresh_make plain "$W/plain2.log"; then
	fail "make: $(tail -n 3 "$W/plain2.log")"
fi
for p in seald seald-front sealctl; do
	[ -x "$W/plain/build/$p" ] || fail "make built no build/$p"
done

tid "make run: installs, builds and serves on the first try"
fresh_tree run || fail "cannot copy the tree"
if ! env -i PATH="$SHIM_PATH" HOME="$W" LANG=C.UTF-8 TERM=dumb TRY_WAIT=200 \
	bash "$ROOT/tests/fresh/try-make-run.sh" "$W/run" "$W/run-work" >"$W/try.log" 2>&1; then
	fail "$(cat "$W/try.log")"
else
	installed_first "$W/run-work/make-run.log"
fi

tid "make bench: installs, builds and measures on the first try"
fresh_tree bench || fail "cannot copy the tree"
if ! fresh_make bench "$W/bench.log" bench BENCH_SECONDS=2 BENCH_CURVE= \
	BENCH_CLIENTS=4 BENCH_JSON="$W/bench.json"; then
	fail "make bench failed: $(grep -v '^cc ' "$W/bench.log" | tail -n 5)"
else
	installed_first "$W/bench.log"
	[ -s "$W/bench.json" ] || fail "make bench wrote no figures"
fi

tid "make check: installs, builds and tests on the first try"
fresh_tree check || fail "cannot copy the tree"
# the unit tests and one integration file: the point is the first build
if ! fresh_make check "$W/check.log" check CHECK_SANITIZE= CHECK_VALGRIND_TESTS= CHECK_SYSTEMD= \
	CHECK_FUZZ_SECONDS= IT_ONLY=env; then
	fail "make check failed: $(grep -v '^cc ' "$W/check.log" | tail -n 5)"
else
	installed_first "$W/check.log"
	grep -Eq '^[0-9]+ passed, 0 failed' "$W/check.log" ||
		fail "no summary line: $(tail -n 3 "$W/check.log")"
fi

tid "make deb: installs and packages on the first try"
fresh_tree deb || fail "cannot copy the tree"
if ! fresh_make deb "$W/deb.log" deb; then
	fail "make deb failed: $(tail -n 5 "$W/deb.log")"
else
	installed_first "$W/deb.log"
	ls "$W/deb/build/deb/"seald_*.deb >/dev/null 2>&1 || fail "no package in build/deb"
fi
