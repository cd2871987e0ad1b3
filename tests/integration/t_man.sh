# shellcheck shell=bash
# t_man.sh — the manual pages in man/ (seald(8), seald-setup(8),
# sealctl(1), seald.yaml(5), seald-policy(5)) are mdoc that groff renders
# without a warning; each
# names everything of its program the code knows (sealctl's commands and
# options, seald's options and signals, every key of seald.yaml's and the
# policy's loaders); --help and --version answer on standard output; a
# usage error says what is wrong in one line.

MAN=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../man" && pwd)

tid "the manual pages render without warnings"
for f in seald.8 seald-setup.8 sealctl.1 seald.yaml.5 seald-policy.5; do
	if [ ! -f "$MAN/$f" ]; then
		fail "no man/$f"
		continue
	fi
	out=$(groff -mdoc -ww -z -Tutf8 "$MAN/$f" 2>&1)
	[ -z "$out" ] || fail "$f: $out"
	groff -mdoc -Tutf8 "$MAN/$f" 2>/dev/null | sed "s/.\x08//g" | grep -q "^NAME" ||
		fail "$f renders no NAME section"
done

tid "sealctl(1) names every command of sealctl's usage"
usage=$("$IT_BUILD/sealctl" --help 2>&1)
page=$(groff -mdoc -Tutf8 "$MAN/sealctl.1" 2>/dev/null | sed 's/.\x08//g')
for c in sign timestamp verify keys "policy check" "ledger verify" "ledger entry" \
    "ledger list" "ledger prove" "key list" generate csr import-cert rotate retire \
    disable destroy pending approve; do
	grep -q -- "$c" <<<"$usage" || fail "sealctl's usage lacks $c"
	grep -q -- "$c" <<<"$page" || fail "sealctl(1) lacks $c"
done

# names_in FILE... PATTERN: the option or key names the code knows, from
# the string literals of its tables and parsers
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
page_of() { groff -mdoc -Tutf8 "$MAN/$1" 2>/dev/null | sed 's/.\x08//g'; }

tid "every option of sealctl's code is in sealctl(1)"
page=$(page_of sealctl.1)
opts=$(grep -ohE '"--[a-z][a-z-]*"' "$ROOT"/tools/sealctl*.c | tr -d '"' | sort -u)
[ "$(wc -l <<<"$opts")" -ge 25 ] || fail "found only $(wc -l <<<"$opts") options in the code"
for o in $opts -s -a; do
	grep -qe "$o" <<<"$page" || fail "sealctl(1) lacks $o"
done

tid "every option of seald's code is in seald(8)"
page=$(page_of seald.8)
opts=$(grep -ohE '"-(-[a-z][a-z-]*|[a-z])"' "$ROOT/daemon/keeper/main.c" | tr -d '"' | sort -u)
[ "$(wc -l <<<"$opts")" -ge 5 ] || fail "found only $(wc -l <<<"$opts") options in the code"
for o in $opts migrate SIGHUP SIGTERM; do
	grep -qe "$o" <<<"$page" || fail "seald(8) lacks $o"
done

tid "every command, option and variable of seald-setup is in seald-setup(8)"
page=$(page_of seald-setup.8)
names=$({ sed -n '/^usage() {/,/^}/p' "$ROOT/packaging/seald-setup" | grep -oE -- '--[a-z]+'
	grep -ohE 'SEALD_SETUP_[A-Z_]+' "$ROOT/packaging/seald-setup"; } | sort -u)
[ "$(wc -l <<<"$names")" -ge 7 ] || fail "found only $(wc -l <<<"$names") names in seald-setup"
for n in $names config token database; do
	grep -qe "$n" <<<"$page" || fail "seald-setup(8) lacks $n"
done

tid "every key of seald.yaml's loader is in seald.yaml(5), every key of the policy's in seald-policy(5)"
page=$(page_of seald.yaml.5)
keys=$(grep -ohE '\{ "[a-z_]+", [01] \}' "$ROOT"/config/*.c | cut -d'"' -f2 | sort -u)
[ "$(wc -l <<<"$keys")" -ge 30 ] || fail "found only $(wc -l <<<"$keys") keys in config/"
for k in $keys; do
	grep -qw -e "$k" <<<"$page" || fail "seald.yaml(5) lacks $k"
done
page=$(page_of seald-policy.5)
keys=$(grep -ohE '\{ "[a-z_]+", [01] \}' "$ROOT"/policy/*.c | cut -d'"' -f2 | sort -u)
[ "$(wc -l <<<"$keys")" -ge 25 ] || fail "found only $(wc -l <<<"$keys") keys in policy/"
for k in $keys; do
	grep -qw -e "$k" <<<"$page" || fail "seald-policy(5) lacks $k"
done

tid "--help and --version: the usage on standard output, status 0, one version"
want=$(sed -n '1s/^seald (\([^)]*\)).*/\1/p' "$ROOT/packaging/debian/changelog")
for p in seald sealctl; do
	out=$("$IT_BUILD/$p" --help 2>/dev/null) || fail "$p --help: status $?"
	grep -q "^usage: $p" <<<"$out" || fail "$p --help printed: $(head -n 2 <<<"$out")"
	[ "$("$IT_BUILD/$p" --version)" = "$p $want" ] ||
		fail "$p --version: $("$IT_BUILD/$p" --version) (changelog: $want)"
done

tid "a usage error names what is wrong in one line, status 2"
check_usage() {
	local want=$1 out rc=0
	shift
	out=$("$@" 2>&1 >/dev/null) || rc=$?
	[ "$rc" = 2 ] || fail "$*: status $rc"
	[ "$(wc -l <<<"$out")" = 1 ] && grep -qF -- "$want" <<<"$out" ||
		fail "$*: said $out"
}
check_usage "unknown option --bogus" "$IT_BUILD/seald" --bogus
check_usage "-c needs a FILE" "$IT_BUILD/seald" -c
check_usage "--key needs a value" "$IT_BUILD/sealctl" sign --key
check_usage "give one of --file and --digest-file" "$IT_BUILD/sealctl" sign --key k
check_usage '--format is raw, cms or cades-t, not "pdf"' "$IT_BUILD/sealctl" sign --key k --file /etc/hostname --format pdf
check_usage 'unknown command "frob"' "$IT_BUILD/sealctl" frob
check_usage 'unknown option "--x"' "$IT_BUILD/sealctl" timestamp f --x
check_usage "give one of --sig, --cms and --tsr" "$IT_BUILD/sealctl" verify --file a --cert b
check_usage "--version is a positive number, not 0" "$IT_BUILD/sealctl" key retire k --version 0
