#!/bin/sh
# copy-tree.sh DEST — copy this source tree as a clone of it holds it (its
# tracked files and new ones, not the ignored ones: no build output, no
# state; not the files deleted but not yet committed) into DEST, which must
# not exist yet.  `make deb` packages such a copy; the fresh-machine tests
# start from one.
set -eu
if [ $# -ne 1 ]; then
	echo "usage: $0 DEST" >&2
	exit 2
fi
root=$(cd "$(dirname "$0")/.." && pwd)
list=$(mktemp)
trap 'rm -f "$list"' EXIT
if ! git -C "$root" ls-files -co --exclude-standard -z >"$list"; then
	echo "copy-tree: git cannot list the files of $root" >&2
	exit 1
fi
mkdir "$1"
dest=$(cd "$1" && pwd)
cd "$root"
xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done; :' sh <"$list" |
	xargs -0 cp --parents -t "$dest"
