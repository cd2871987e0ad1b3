#!/bin/sh
# install-deps.sh [fuzz] — install the Debian packages seald needs to build,
# run and test (and, with "fuzz", to fuzz), and nothing when they are all
# there already.
#
# `make deps`, `make run` and `make check` call this first.  It asks dpkg
# which packages are missing, so a second run is instant and needs no network.
# Only when something is missing does it run `apt-get update` once and then
# `apt-get install --no-install-recommends`, as root directly or through sudo.
#
# seald never uses the system PostgreSQL cluster (tests and `make run` start a
# private one), so while installing we ask invoke-rc.d not to start services:
# a temporary /usr/sbin/policy-rc.d that answers 101, removed afterwards.  An
# existing policy-rc.d is left alone.
set -eu

PKGS="build-essential pkg-config libssl-dev libp11-dev libp11-kit-dev
softhsm2 opensc libengine-pkcs11-openssl libpq-dev postgresql
postgresql-client libyaml-dev libmicrohttpd-dev libjansson-dev libcmocka-dev
libcurl4-openssl-dev curl openssl clang-format util-linux procps jq
systemd strace groff-base debhelper dpkg-dev valgrind libseccomp-dev gdb"

# `install-deps.sh fuzz` (make fuzz) also needs clang with libFuzzer.
if [ "${1:-}" = fuzz ]; then
	PKGS="$PKGS clang libclang-rt-14-dev"
fi

POLICY=/usr/sbin/policy-rc.d
MARKER="# seald install-deps: temporary, deny service starts"

# One dpkg-query for all: it prints a line for each package it knows of.
# shellcheck disable=SC2086
have=$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' $PKGS 2>/dev/null ||
	true)
missing=""
for p in $PKGS; do
	case "
$have
" in
	*"
$p installed
"*) ;;
	*) missing="$missing $p" ;;
	esac
done

if [ -z "$missing" ]; then
	exit 0
fi

echo "install-deps: missing:$missing"

if [ "$(id -u)" -eq 0 ]; then
	SUDO=""
elif command -v sudo >/dev/null 2>&1; then
	SUDO="sudo"
	echo "install-deps: not root, using sudo"
else
	echo "install-deps: these Debian packages are missing:$missing" >&2
	echo "install-deps: run this script as root, or install sudo" >&2
	exit 1
fi

# $SUDO is empty or "sudo"; word splitting of it is intended.
as_root() {
	# shellcheck disable=SC2086
	$SUDO env DEBIAN_FRONTEND=noninteractive "$@"
}

# A policy-rc.d left behind by an earlier, killed run of this script is ours
# to remove; any other one belongs to the system and stays.
own_policy=0
if [ -e "$POLICY" ]; then
	if grep -qF "$MARKER" "$POLICY" 2>/dev/null; then
		own_policy=1
	fi
else
	# shellcheck disable=SC2016 # expanded by the inner sh
	as_root sh -c 'printf "#!/bin/sh\n%s\nexit 101\n" "$1" > "$2" &&
		chmod 0755 "$2"' sh "$MARKER" "$POLICY"
	own_policy=1
fi

cleanup() {
	if [ "$own_policy" -eq 1 ]; then
		as_root rm -f "$POLICY" || true
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

as_root apt-get update -q
# shellcheck disable=SC2086
as_root apt-get install -y -q --no-install-recommends $missing

echo "install-deps: done"
