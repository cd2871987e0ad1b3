# shellcheck shell=bash
# lib.sh — fresh Debian 12 roots for the tests that must meet seald the way
# a new machine does: `make fresh-check` (the first commands, tests/fresh/)
# and the package under a booted systemd.
#
# A root is made once with debootstrap (minbase, plus what the caller
# names) from the Debian archive this machine's apt already uses, and kept
# as a tarball in CT_CACHE (default: .cache/ in the tree, git-ignored); each
# test unpacks a new copy, so every run starts from the same fresh machine.
# Commands run in it with systemd-nspawn, which shares this machine's
# network (Debian's archive is the only place it reaches) and nothing else.
#
# Source from bash; functions return non-zero with a message on stderr.

CT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CT_CACHE=${CT_CACHE:-$CT_ROOT/.cache}
# every root's host name (in its /etc/hosts, as an installed machine has it)
CT_HOSTNAME=seald-test

ct_err() {
	printf 'container: %s\n' "$*" >&2
}

# ct_mirror: the Debian archive this machine's apt uses (the first URI
# that serves bookworm), or deb.debian.org.
ct_mirror() {
	local m
	m=$(awk '/^URIs:/ { u = $2 } /^Suites:.*bookworm( |$)/ && u { print u; exit }' \
		/etc/apt/sources.list.d/*.sources 2>/dev/null)
	if [ -z "$m" ]; then
		m=$(awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' \
			/etc/apt/sources.list 2>/dev/null)
	fi
	printf '%s\n' "${m:-http://deb.debian.org/debian}"
}

# ct_remove DIR: remove a root, with nothing mounted below it (debootstrap
# mounts /proc and /sys, and may bind /dev, in the root it makes) and
# never crossing into another file system.
ct_remove() {
	local m
	[ -e "$1" ] || return 0
	findmnt -rn -o TARGET | awk -v d="$(cd "$1" && pwd -P)/" \
		'index($0 "/", d) == 1' | sort -r | while read -r m; do
		umount -l "$m" || true
	done
	rm -rf --one-file-system "$1"
}

# ct_base NAME PACKAGES: print the path of the cached tarball of a
# bookworm minbase root with PACKAGES (comma-separated) added; made on the
# first call (about half a minute).
ct_base() {
	local name=$1 pkgs=$2 tar tmp mirror
	tar=$CT_CACHE/$name.tar
	if [ -s "$tar" ]; then
		printf '%s\n' "$tar"
		return 0
	fi
	mkdir -p "$CT_CACHE" || return 1
	mirror=$(ct_mirror)
	tmp=$(mktemp -d "$CT_CACHE/$name.XXXXXX") || return 1
	echo "container: debootstrap bookworm ($pkgs) from $mirror" >&2
	if ! debootstrap --variant=minbase --include="$pkgs" bookworm "$tmp/root" \
		"$mirror" >"$tmp/debootstrap.log" 2>&1; then
		ct_err "debootstrap failed:"
		tail -n 15 "$tmp/debootstrap.log" >&2
		ct_remove "$tmp"
		return 1
	fi
	# what a Debian installer leaves: the release, its updates and its
	# security archive
	local sec=${mirror%/debian}/debian-security
	cat >"$tmp/root/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb $sec bookworm-security main
EOF
	printf '%s\n' "$CT_HOSTNAME" >"$tmp/root/etc/hostname"
	printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n' "$CT_HOSTNAME" >"$tmp/root/etc/hosts"
	tar -C "$tmp/root" -cf "$tar.tmp" . && mv "$tar.tmp" "$tar" || {
		ct_remove "$tmp"
		rm -f "$tar.tmp"
		return 1
	}
	ct_remove "$tmp"
	printf '%s\n' "$tar"
}

# ct_unpack TAR DIR: a new root in DIR (removed first) from TAR.
ct_unpack() {
	ct_remove "$2" && mkdir -p "$2" && tar -C "$2" -xf "$1"
}

# ct_run DIR [NSPAWN-OPTION...] -- CMD...: run CMD in the root DIR (not
# booted), with /dev/null as its input.
ct_run() {
	local dir=$1
	shift
	local opts=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		opts+=("$1")
		shift
	done
	shift
	systemd-nspawn --register=no --keep-unit -q --console=pipe \
		--hostname="$CT_HOSTNAME" -D "$dir" "${opts[@]}" -- "$@" </dev/null
}

# ct_add_user DIR NAME: a user NAME with a home and password-less sudo, as
# a developer's own account usually is.
ct_add_user() {
	ct_run "$1" -- useradd -m -s /bin/bash "$2" &&
		printf '%s ALL=(ALL) NOPASSWD: ALL\n' "$2" >"$1/etc/sudoers.d/$2" &&
		chmod 0440 "$1/etc/sudoers.d/$2"
}
