#!/bin/sh
# build-deb.sh [OUT]: the Debian package of this tree (tracked and new
# files, not ignored ones) with dpkg-buildpackage, packaging/debian as
# debian/.  The .deb lands in OUT (default build/deb).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/build/deb}
version=$(sed -n '1s/^seald (\([^)]*\)).*/\1/p' "$root/packaging/debian/changelog")
src=$out/seald-$version
rm -rf "$out"
mkdir -p "$out"
sh "$root/tools/copy-tree.sh" "$src"
cp -r "$root/packaging/debian" "$src/debian"
(cd "$src" && dpkg-buildpackage -us -uc -b >"$out/build.log" 2>&1) || {
	tail -n 30 "$out/build.log" >&2
	exit 1
}
ls "$out"/seald_"$version"_*.deb
