#!/bin/sh
# install-deps.sh [SET...] — install the Debian packages of each SET (the
# lists below; default: build run), and nothing when they are all there
# already.
#
# `make run`, `make bench`, `make check`, `make deb`, `make fuzz` and
# `make fresh-check` call this first, each with the sets it needs.  It asks dpkg
# which packages are missing, so a second run is instant and needs no network.
# Only when something is missing does it run `apt-get update` once and then
# `apt-get install --no-install-recommends`, as root directly or through sudo.
#
# seald never uses the system PostgreSQL cluster (tests and `make run` start a
# private one), so while installing we ask invoke-rc.d not to start services:
# a temporary /usr/sbin/policy-rc.d that answers 101, removed afterwards.  An
# existing policy-rc.d is left alone.
set -eu

# The packages by what they are for.
SET_build="build-essential pkg-config libssl-dev libp11-kit-dev libpq-dev
libyaml-dev libmicrohttpd-dev libjansson-dev libcurl4-openssl-dev
libseccomp-dev"
# make run, make bench: a SoftHSM token made with its tools (and its demo
# certificates through OpenSSL's pkcs11 engine, libp11's; seald itself
# does not use libp11: docs/hsm.md), a private PostgreSQL cluster, curl,
# openssl and jq for the printed examples
SET_run="softhsm2 opensc libengine-pkcs11-openssl postgresql
postgresql-client curl openssl jq util-linux procps"
# make check: the tests' own tools (Go for the Go example of
# docs/clients.md; GnuTLS's certtool and Python's asn1crypto, a second
# stack that checks CAdES-B-T seals; p11-kit's server, NSS's soft token
# and certutil, and tpm2-pkcs11 on the swtpm emulator behind tpm2-abrmd for
# the HSM matrix) and the package build that t_deb runs
SET_check="libcmocka-dev clang-format valgrind gdb strace groff-base
systemd python3 golang-go gnutls-bin python3-asn1crypto p11-kit libnss3
libnss3-tools swtpm libtpm2-pkcs11-1 libtpm2-pkcs11-tools tpm2-tools
tpm2-abrmd libtss2-tcti-tabrmd0 dbus"
# make run-ha, and t_failover in make check: pg_auto_failover (its
# pg_autoctl and the monitor's extension, for Debian 12's PostgreSQL 15),
# and ss to find free loopback ports
SET_ha="pg-auto-failover-cli postgresql-15-auto-failover iproute2"
SET_deb="debhelper dpkg-dev"
# make fuzz, and the fuzz pass of make check: clang with libFuzzer
SET_fuzz="clang libclang-rt-14-dev"
# make fresh-check, make systemd-check: fresh Debian roots, and lintian
SET_container="debootstrap systemd-container lintian"

PKGS=""
for set in ${*:-build run}; do
	case "$set" in
	build | run | check | ha | deb | fuzz | container)
		eval "PKGS=\"\$PKGS \$SET_$set\"" ;;
	*)
		echo "usage: $0 [build|run|check|ha|deb|fuzz|container]..." >&2
		exit 2
		;;
	esac
done

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
