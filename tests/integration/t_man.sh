# shellcheck shell=bash
# t_man.sh — the manual pages in man/ (seald(8), sealctl(1), seald.yaml(5),
# seald-policy(5)) are mdoc that groff renders without a warning, and
# sealctl(1) names every command sealctl's usage text has.

MAN=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../man" && pwd)

tid "the manual pages render without warnings"
for f in seald.8 sealctl.1 seald.yaml.5 seald-policy.5; do
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
usage=$("$IT_BUILD/sealctl" 2>&1)
page=$(groff -mdoc -Tutf8 "$MAN/sealctl.1" 2>/dev/null | sed 's/.\x08//g')
for c in sign timestamp verify keys "policy check" "ledger verify" "ledger entry" \
    "ledger list" "ledger prove" "key list" generate csr import-cert rotate retire \
    disable destroy pending approve; do
	grep -q -- "$c" <<<"$usage" || fail "sealctl's usage lacks $c"
	grep -q -- "$c" <<<"$page" || fail "sealctl(1) lacks $c"
done
