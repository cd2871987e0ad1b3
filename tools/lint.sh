#!/bin/sh
# lint.sh: the project's mechanical rules (STYLE.md): no banned libc calls,
# formatting as .clang-format says, shell scripts parse.  Exit 1 on any
# finding.
set -u
cd "$(dirname "$0")/.." || exit 1
status=0
files=$(git ls-files '*.c' '*.h' 2>/dev/null)
[ -n "$files" ] || files=$(find . -path ./build -prune -o -name '*.[ch]' -print)

banned='\b(sprintf|vsprintf|strcpy|strcat|strncpy|strtok|atoi|atol|sscanf|alloca|gets)[[:space:]]*\('
if grep -nE "$banned" $files; then
	echo "lint: banned calls above (STYLE.md: use snprintf, memcpy with checked lengths, strtoull)"
	status=1
fi
if command -v clang-format >/dev/null 2>&1; then
	if ! clang-format --dry-run --Werror $files 2>/tmp/seald-lint.$$; then
		head -n 40 /tmp/seald-lint.$$
		echo "lint: formatting differs from .clang-format (run: make format)"
		status=1
	fi
	rm -f /tmp/seald-lint.$$
else
	echo "lint: clang-format not installed" >&2
	status=1
fi
for s in $(git ls-files '*.sh' .ci/run 2>/dev/null); do
	if ! bash -n "$s"; then
		echo "lint: $s does not parse"
		status=1
	fi
done
[ $status -eq 0 ] && echo "lint: ok"
exit $status
