#!/bin/bash
# systemd-check.sh — `make systemd-check`: the Debian package as an
# operator installs it, under a real systemd (docs/operations.md,
# "make systemd-check", says what is checked).
#
# A Debian 12 root (tests/container/lib.sh) booted with systemd-nspawn -b;
# the package of this tree (packaging/build-deb.sh) copied in; the users
# delivery, olga, audrey and mallory made; then every shell block of
# docs/operations.md marked "<!-- systemd-check: WHO -->", in order, as
# WHO (root, or that user in its home), word for word, with a CA of the
# test's own certifying the officer's CSRs between the two officer
# blocks.  Then the checks.  Prints a line per case and
# "systemd-check: N passed, N failed"; the journal and the logs stay in
# SYSTEMD_CHECK_WORK (/var/tmp/seald-systemd-check).
if [ -z "${BASH_VERSION:-}" ]; then
	exec bash "$0" "$@"
fi
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/container/lib.sh
. "$here/lib.sh"

[ "$(id -u)" -eq 0 ] || {
	echo "systemd-check: systemd-nspawn needs root" >&2
	exit 2
}
work=${SYSTEMD_CHECK_WORK:-/var/tmp/seald-systemd-check}
root=$work/root
doc=$CT_ROOT/docs/operations.md
t0=$(date +%s)
npass=0
nfail=0
case_name=""
case_bad=0
rm -rf --one-file-system "$work/deb" "$work/deb2" "$work"/*.log
mkdir -p "$work"

tid() {
	close_case
	case_name=$1
	case_bad=0
}
fail() {
	echo "FAIL: $case_name: $*"
	case_bad=1
}
close_case() {
	[ -n "$case_name" ] || return 0
	if [ "$case_bad" -eq 0 ]; then
		echo "ok $case_name"
		npass=$((npass + 1))
	else
		nfail=$((nfail + 1))
	fi
	case_name=""
}

leader=""
# shellcheck disable=SC2317 # runs as the EXIT trap
stop_container() {
	if [ -n "$leader" ] && kill -0 "$leader" 2>/dev/null; then
		nsenter -t "$leader" -a journalctl --no-pager >"$work/journal.log" 2>&1
		nsenter -t "$leader" -a systemctl poweroff >/dev/null 2>&1
		for _ in $(seq 1 30); do
			kill -0 "$nspawn" 2>/dev/null || break
			sleep 1
		done
		kill -KILL "$nspawn" 2>/dev/null
	fi
	ct_remove "$root"
}

# ct WHO SCRIPT: SCRIPT with bash -e in the booted container, as root in
# /root, or as the user WHO in its home
ct() {
	local who=$1 script=$2
	# from /, which the container has too (nsenter keeps the cwd)
	if [ "$who" = root ]; then
		(cd / && nsenter -t "$leader" -a env -i \
			PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
			bash -ec "cd /root
$script")
	else
		(cd / && nsenter -t "$leader" -a runuser -l "$who" -c "set -e
$script")
	fi
}

# ---------------------------------------------------------------- build
tid "make deb builds the package, twice the same bytes, lintian --pedantic says nothing"
deb=$(sh "$CT_ROOT/packaging/build-deb.sh" "$work/deb" 2>"$work/deb.log") ||
	{ fail "make deb: $(tail -n 5 "$work/deb.log")"; close_case; exit 1; }
# the same source in another folder: reproducible
tmpsrc=$work/src2
rm -rf "$tmpsrc"
sh "$CT_ROOT/tools/copy-tree.sh" "$tmpsrc"
git -C "$tmpsrc" init -q
deb2=$(sh "$tmpsrc/packaging/build-deb.sh" "$work/deb2" 2>>"$work/deb.log") ||
	fail "the second build: $(tail -n 5 "$work/deb.log")"
rm -rf "$tmpsrc"
[ -n "$deb2" ] && ! cmp -s "$deb" "$deb2" &&
	fail "two builds differ: $(sha256sum "$deb" "$deb2" | tr '\n' ' ')"
if out=$(lintian --allow-root --pedantic --fail-on error,warning,info,pedantic "$deb" 2>&1); then
	[ -z "$out" ] || fail "lintian: $out"
else
	fail "lintian: $out"
fi

# ----------------------------------------------------------------- boot
tid "a Debian 12 root boots systemd"
base=$(ct_base bookworm-systemd systemd,systemd-sysv,dbus,ca-certificates,sudo) || exit 1
ct_unpack "$base" "$root" || exit 1
trap stop_container EXIT
cp "$deb" "$root/root/"
systemd-nspawn --register=no --keep-unit -q --hostname="$CT_HOSTNAME" -D "$root" \
	-b --console=passive >"$work/boot.log" 2>&1 &
nspawn=$!
for _ in $(seq 1 60); do
	leader=$(ps -o pid= --ppid "$nspawn" 2>/dev/null | head -n 1 | tr -d ' ')
	[ -n "$leader" ] && nsenter -t "$leader" -a systemctl is-system-running \
		>/dev/null 2>&1 && break
	sleep 1
done
state=$(nsenter -t "$leader" -a systemctl is-system-running --wait 2>&1)
case "$state" in
running | degraded) ;;
*) fail "systemd: $state" ;;
esac
ct root "useradd -m -s /bin/bash delivery; useradd -m -s /bin/bash olga
useradd -m -s /bin/bash audrey; useradd -m -s /bin/bash mallory
apt-get update -q >/dev/null" || fail "users"

# the test's CA, on this side: it certifies olga's CSRs
ca=$work/ca
rm -rf "$ca" && mkdir -p "$ca"
openssl req -new -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$ca/ca.key" -subj "/O=Example/CN=Example CA" -days 30 \
	-addext "basicConstraints=critical,CA:TRUE" -out "$ca/ca.pem" 2>/dev/null
certify() {
	local name=$1 ext=$2
	printf '%s\n' "basicConstraints=critical,CA:FALSE" \
		"keyUsage=critical,digitalSignature,nonRepudiation" $ext >"$ca/$name.ext"
	openssl x509 -req -in "$root/home/olga/$name.csr" -CA "$ca/ca.pem" \
		-CAkey "$ca/ca.key" -CAcreateserial -days 30 -extfile "$ca/$name.ext" \
		-out "$ca/$name.crt" 2>/dev/null &&
		cat "$ca/$name.crt" "$ca/ca.pem" >"$root/home/olga/$name.pem" &&
		chmod 0644 "$root/home/olga/$name.pem"
}
close_case

# --------------------------------------------------- the guide, as it says
n=0
while read -r who; do
	n=$((n + 1))
	blk=$(awk -v want="$n" '
		/^<!-- systemd-check: [a-z]+ -->$/ { k++; arm = (k == want); next }
		arm && /^```sh$/ { inb = 1; next }
		inb && /^```$/ { exit }
		inb { print }' "$doc")
	tid "docs/operations.md block $n, as $who: $(head -n 1 <<<"$blk" | cut -c1-50)"
	if grep -q 'import-cert' <<<"$blk"; then
		certify qerds-seal "" && certify qerds-tsa "extendedKeyUsage=critical,timeStamping" ||
			fail "the test's CA could not certify the CSRs"
	fi
	if ! out=$(ct "$who" "$blk" 2>&1); then
		fail "$(tail -n 8 <<<"$out")"
	fi
	printf '%s\n' "$out" >"$work/block-$n.log"
done < <(sed -n 's/^<!-- systemd-check: \([a-z]*\) -->$/\1/p' "$doc")
[ "$n" -ge 6 ] || { tid "the guide"; fail "only $n blocks marked systemd-check"; }
close_case

# ---------------------------------------------------------------- checks
tid "seald runs under systemd, its front confined, the unit rated 1.0 or less"
[ "$(ct root 'systemctl is-active seald.service')" = active ] || fail "not active"
front=$(ct root 'pgrep -x seald-front | head -n 1')
[ -n "$front" ] && ct root "grep -q '^Seccomp:	2' /proc/$front/status" ||
	fail "the front is not under its seccomp filter"
ct root 'journalctl -u seald --no-pager' | grep -q 'cannot sandbox' &&
	fail "a front could not sandbox itself"
exposure=$(ct root 'systemd-analyze security seald.service' 2>&1 |
	sed -n 's/.*Overall exposure level for seald.service: \([0-9.]*\).*/\1/p')
echo "  # systemd-analyze security: exposure $exposure"
awk -v e="${exposure:-9}" 'BEGIN { exit !(e <= 1.0) }' || fail "exposure ${exposure:-?}"

tid "a member of seald-clients signs; the ledger has its own uid; the seal verifies"
uid=$(ct root 'id -u delivery')
rid="systemd-check-$(date +%s)"
if ! out=$(ct delivery "sealctl sign --key qerds-seal --file receipt.txt --request-id $rid \
	--evidence-type submission --evidence-ref r1 --format cms --out-sig check.p7s"); then
	fail "sign: $out"
fi
got=$(ct root "runuser -u postgres -- psql -X -At -d seald -c \"select client_uid from ledger_entries where request_id = '$rid'\"")
[ "$got" = "$uid" ] || fail "the ledger records uid '$got', not delivery's $uid"
openssl cms -verify -binary -inform DER -in "$root/home/delivery/check.p7s" \
	-content "$root/home/delivery/receipt.txt" -CAfile "$ca/ca.pem" -out /dev/null 2>/dev/null ||
	fail "openssl cms -verify refuses the seal"

tid "who is in neither group cannot connect; a client cannot reach the admin socket"
out=$(ct mallory 'sealctl keys' 2>&1) && fail "mallory listed the keys: $out"
grep -qi 'permission denied\|could not be reached\|connect' <<<"$out" || fail "mallory: $out"
out=$(ct mallory 'sealctl key list' 2>&1) && fail "mallory on the admin socket: $out"
out=$(ct delivery 'sealctl key list' 2>&1) && fail "delivery on the admin socket: $out"
out=$(ct olga 'sealctl key list' 2>&1) || fail "olga on the admin socket: $out"

tid "systemctl reload seald reloads the policy"
ct root 'systemctl reload seald' || fail "reload"
sleep 1
ct root 'journalctl -u seald --no-pager' | grep -q 'policy reloaded' ||
	fail "the journal does not say the policy was reloaded"

tid "systemctl stop seald signs a closing checkpoint; journalctl -u seald has the log"
ct root 'systemctl stop seald.service' || fail "stop"
log=$(ct root 'journalctl -u seald --no-pager')
grep -q 'closing checkpoint' <<<"$log" || fail "no closing checkpoint in the journal"
grep -q 'seald 0.1.0 ready' <<<"$log" || fail "no start in the journal"
# the socket stays, and a client's connection starts seald again
out=$(ct delivery 'sealctl keys') || fail "socket activation after the stop: $out"
[ "$(ct root 'systemctl is-active seald.service')" = active ] || fail "not started again"

tid "apt-get purge leaves the operator's files, the users and the data, nothing else of the package"
ct root 'systemctl stop seald.service seald.socket seald-admin.socket
apt-get purge -y -q seald >/dev/null' || fail "purge"
for f in /usr/sbin/seald /usr/sbin/seald-setup /usr/bin/sealctl /usr/lib/seald \
    /lib/systemd/system/seald.service /lib/systemd/system/seald.socket \
    /usr/share/doc/seald /usr/lib/sysusers.d/seald.conf; do
	[ ! -e "$root$f" ] || fail "$f is still there"
done
for f in /etc/seald/seald.yaml /etc/seald/policy.yaml /etc/seald/pin /var/lib/seald/audit.pub.pem; do
	[ -e "$root$f" ] || fail "$f was removed"
done
ct root 'getent passwd seald >/dev/null && getent group seald-clients >/dev/null' ||
	fail "the user or the groups went"
close_case

secs=$(($(date +%s) - t0))
echo "systemd-check: $npass passed, $nfail failed ($secs s)"
[ "$nfail" -eq 0 ]
