# shellcheck shell=bash
# t_sealctl.sh — the command-line client: keys, sign a file or a digest
# file, write the signature for openssl, and its exit codes.

need_seald || return 0
S=$IT_BUILD/sealctl
W=$IT_DIR/t_sealctl
mkdir -p "$W"
printf 'registered delivery evidence\n' >"$W/doc.txt"

tid "sealctl keys prints a table of the keys and what they are for; --json the reply"
if out=$("$S" -s "$IT_SOCK" keys); then
	head -n 1 <<<"$out" | grep -Eq '^NAME +VERSION +ALGORITHM +USAGE +FORMATS +CERT-EXPIRES$' ||
		fail "table head: $(head -n 1 <<<"$out")"
	grep -Eq '^demo-ec +1 +ec-p256 +sign +raw,cms,cades-t +20[0-9][0-9]-[0-9][0-9]-[0-9][0-9]$' <<<"$out" ||
		fail "demo-ec row: $out"
	grep -Eq '^demo-tsa +1 +ec-p256 +timestamp +rfc3161 +20' <<<"$out" ||
		fail "demo-tsa row: $out"
else
	fail "sealctl keys failed"
fi
if out=$("$S" -s "$IT_SOCK" keys --json); then
	[ "$(jq -r '.keys | map(.name) | sort | join(",")' <<<"$out")" = \
	    "demo-ec,demo-rsa,demo-tsa,test-ec384,test-rsa-pss" ] || fail "keys: $out"
	jq -r '.keys[] | select(.name=="demo-ec") | .public_key' <<<"$out" >"$W/ec.pub"
else
	fail "sealctl keys failed"
fi

tid "sealctl sign --file signs the file's SHA-256; openssl verifies it"
if out=$(SEALD_SOCKET=$IT_SOCK "$S" sign --key demo-ec --file "$W/doc.txt" \
    --evidence-type submission --evidence-ref doc-1 --out-sig "$W/doc.sig"); then
	openssl dgst -sha256 -verify "$W/ec.pub" -signature "$W/doc.sig" \
	    "$W/doc.txt" >/dev/null 2>&1 || fail "openssl does not verify"
	rid=$(jq -r .request_id <<<"$out")
	case "$rid" in sealctl-*) ;; *) fail "generated request_id: $rid" ;; esac
	[ "$(psql_q "select evidence_type || '/' || evidence_ref from ledger_entries where request_id = '$rid'")" = submission/doc-1 ] ||
		fail "ledger evidence"
else
	fail "sealctl sign failed: $out"
fi

tid "sealctl sign --digest-file takes a raw or hex digest"
openssl dgst -sha384 -binary "$W/doc.txt" >"$W/d.bin"
openssl dgst -sha384 -binary "$W/doc.txt" | od -An -v -tx1 | tr -d ' \n' >"$W/d.hex"
for f in d.bin d.hex; do
	if "$S" -s "$IT_SOCK" sign --key test-ec384 --digest-alg sha384 \
	    --digest-file "$W/$f" --out-sig "$W/$f.sig" >/dev/null; then
		jq -r '.keys[] | select(.name=="test-ec384") | .public_key' \
		    <<<"$("$S" -s "$IT_SOCK" keys --json)" >"$W/ec384.pub"
		openssl dgst -sha384 -verify "$W/ec384.pub" -signature "$W/$f.sig" \
		    "$W/doc.txt" >/dev/null 2>&1 || fail "$f: openssl does not verify"
	else
		fail "sign --digest-file $f"
	fi
done

tid "sealctl exit codes: 1 for an error answer, 2 for usage, 3 when unreachable"
"$S" -s "$IT_SOCK" sign --key nope --file "$W/doc.txt" >/dev/null 2>"$W/err"
[ $? = 1 ] || fail "unknown key: exit not 1"
grep -q 'HTTP 404' "$W/err" || fail "stderr: $(cat "$W/err")"
"$S" -s "$IT_SOCK" sign --file "$W/doc.txt" >/dev/null 2>&1
[ $? = 2 ] || fail "missing --key: exit not 2"
"$S" -s "$IT_DIR/no.sock" keys >/dev/null 2>&1
[ $? = 3 ] || fail "missing socket: exit not 3"

tid "sealctl sign --request-id retries safely"
a=$("$S" -s "$IT_SOCK" sign --key demo-ec --file "$W/doc.txt" --request-id t-ctl-1 | jq -r .signature)
b=$("$S" -s "$IT_SOCK" sign --key demo-ec --file "$W/doc.txt" --request-id t-ctl-1 | jq -r .signature)
[ -n "$a" ] && [ "$a" = "$b" ] || fail "retry gave another signature"

tid "sealctl policy check validates offline and says what each client may do"
if out=$("$S" policy check "$IT_DIR/policy.yaml"); then
	h=$(openssl dgst -sha256 -r "$IT_DIR/policy.yaml" | cut -d' ' -f1)
	grep -q "^$IT_DIR/policy.yaml: OK, sha256 $h\$" <<<"$out" || fail "first line: $(head -n 1 <<<"$out")"
	grep -q 'client local' <<<"$out" || fail "no line for client local: $out"
	grep -q 'demo-rsa: sign (raw,cms; sha256,sha384,sha512)' <<<"$out" ||
		fail "no key demo-rsa: $out"
	grep -q 'demo-ec: sign (raw,cms,cades-t; sha256,sha384,sha512; cades-t stamped by demo-tsa)' <<<"$out" ||
		fail "no key demo-ec with its tsa_key: $out"
	# each key with what it does: demo-tsa stamps, demo-ec signs
	grep -q 'demo-tsa: timestamp (TSA policy 2.999.1.1)' <<<"$out" ||
		fail "demo-tsa is not shown as a time-stamping key: $out"
	! grep -q 'demo-ec: [^;]*timestamp' <<<"$out" || fail "demo-ec shown stamping: $out"
	grep -q '^  key changes: approvals_required 1 ' <<<"$out" ||
		fail "no approvals_required: $out"
else
	fail "valid policy refused: $out"
fi
# a policy for another machine: names unknown here are listed, not refused
sed 's/^      uid: \[\(.*\)\]$/      uid: [\1]\n      group: [seald-no-such-group]/' \
	"$IT_DIR/policy.yaml" >"$W/elsewhere.yaml"
"$S" policy check "$W/elsewhere.yaml" >/dev/null 2>"$W/err"
[ $? = 1 ] && grep -q "unknown group 'seald-no-such-group'" "$W/err" ||
	fail "an unknown group on this machine: $(cat "$W/err")"
if out=$("$S" policy check --elsewhere "$W/elsewhere.yaml" 2>&1); then
	grep -q "elsewhere.yaml:[0-9]*:[0-9]*: group 'seald-no-such-group' is unknown here" <<<"$out" ||
		fail "--elsewhere does not list the group: $out"
	grep -q 'group seald-no-such-group=?' <<<"$out" || fail "the client's match: $out"
else
	fail "--elsewhere refused the policy: $out"
fi
{ cat "$IT_DIR/policy.yaml"; printf 'keys2: {}\n'; } >"$W/bad-policy.yaml"
n=$(wc -l <"$W/bad-policy.yaml")
"$S" policy check "$W/bad-policy.yaml" >/dev/null 2>"$W/err"
[ $? = 1 ] || fail "invalid policy: exit not 1"
grep -q "bad-policy.yaml:$n:1: " "$W/err" || fail "stderr: $(cat "$W/err")"
