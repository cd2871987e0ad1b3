# shellcheck shell=bash
# t_env.sh — the test environment itself is what the other tests assume:
# a SoftHSM token with the demo and test keys generated inside it (never
# extractable), certificates that match them, foreign objects that do not
# break listing, a private PostgreSQL cluster on a socket, a config that
# holds no secret, PINs in 0600 files and never in a process's argv.

tid "token seald exists"
slots=$(pkcs11-tool --module "$SEALD_P11_MODULE" --list-token-slots 2>&1)
if ! grep -Eq 'token label +: seald$' <<<"$slots"; then
	fail "no token labelled seald: $slots"
fi

tid "demo and test private keys are on the token, sensitive, never extractable"
objs=$(p11 --list-objects --type privkey 2>/dev/null)
for label in seald-demo-ec seald-demo-rsa seald-test-ec384 seald-test-rsa2048; do
	access=$(awk -v l="$label" '
		/^Private Key Object/ { inkey = 1; lab = ""; next }
		/^[^ ]/ { inkey = 0 }
		inkey && /^ +label:/ { sub(/^ +label: +/, ""); lab = $0 }
		inkey && /^ +Access:/ && lab == l { sub(/^ +Access: +/, ""); print }' \
		<<<"$objs")
	case "$access" in
	"") fail "no private key $label" ;;
	*"always sensitive"*"never extractable"*) ;;
	*) fail "private key $label is extractable or not sensitive: $access" ;;
	esac
done
for want in "EC" "RSA"; do
	grep -q "^Private Key Object; $want" <<<"$objs" ||
		fail "no $want private key listed"
done

tid "private keys are invisible without login"
anon=$(SOFTHSM2_CONF=$SOFTHSM2_CONF pkcs11-tool --module "$SEALD_P11_MODULE" \
	--token-label seald --list-objects 2>/dev/null)
if grep -q '^Private Key Object' <<<"$anon"; then
	fail "private key objects listed without login"
fi
grep -q 'label: *seald-demo-ec' <<<"$anon" ||
	fail "public key seald-demo-ec not listed without login"

tid "foreign objects are on the token and do not break listing"
if ! all=$(p11 --list-objects 2>&1); then
	fail "pkcs11-tool --list-objects failed: $(tail -n 3 <<<"$all")"
fi
for label in $ENVLIB_FOREIGN_LABELS seald-demo-ec seald-demo-rsa; do
	grep -Eq "label: +'?$label'?\$" <<<"$all" || fail "object $label not listed"
done
grep -q '^Private Key Object; EC_EDWARDS' <<<"$all" ||
	fail "no Ed25519 private key on the token"
grep -q '^Secret Key Object; AES length 32' <<<"$all" ||
	fail "no AES-256 secret key on the token"

tid "certificates are self-signed, valid, and hold the token's public keys"
for label in seald-demo-ec seald-demo-rsa seald-test-ec384 seald-test-rsa2048; do
	cert=$IT_DIR/certs/$label.pem
	pub=$IT_DIR/certs/$label.pub.pem
	if ! out=$(openssl verify -CAfile "$cert" "$cert" 2>&1); then
		fail "$label: openssl verify: $out"
		continue
	fi
	subj=$(openssl x509 -in "$cert" -noout -subject -nameopt RFC2253)
	[ "$subj" = "subject=O=seald demo,CN=$label" ] ||
		fail "$label: unexpected subject: $subj"
	openssl x509 -in "$cert" -noout -checkend $((700 * 86400)) >/dev/null ||
		fail "$label: certificate expires within 700 days"
	[ "$(openssl x509 -in "$cert" -noout -pubkey)" = "$(cat "$pub")" ] ||
		fail "$label: certificate key differs from $pub"
done
# The EC certificate's key is the token's: compare with the EC_POINT the
# token reports for the public key object.
# (--list-objects ignores --label: pick the object by its label line.)
point=$(awk '/^[^ ]/ { p = "" } /^ +EC_POINT:/ { p = $2 }
	/^ +label: +seald-demo-ec$/ && p != "" { print p; exit }' \
	<<<"$(p11 --list-objects --type pubkey 2>/dev/null)")
spki=$(openssl pkey -pubin -in "$IT_DIR/certs/seald-demo-ec.pub.pem" -outform DER |
	od -An -vtx1 | tr -d ' \n')
# EC_POINT is a DER OCTET STRING (04 41 04...) around the 65-byte point,
# which is the last 65 bytes of the SubjectPublicKeyInfo.
if [ -z "$point" ] || [ "${point:4}" != "${spki: -130}" ]; then
	fail "seald-demo-ec.pub.pem is not the token's public key"
fi

tid "a signature made in the token verifies with the exported public key"
# RSA only: pkcs11-tool 0.23 signs raw ECDSA with C_SignUpdate, which
# SoftHSM refuses, and SoftHSM 2.6 has no ECDSA-SHA256; the EC key is
# checked above through its certificate and EC_POINT.  The key is chosen by
# --id: pkcs11-tool 0.23 --sign ignores --label and takes the first key.
printf 'seald integration test\n' >"$IT_DIR/env-msg.txt"
if ! out=$(p11 --sign --mechanism SHA256-RSA-PKCS --id 02 \
	--input-file "$IT_DIR/env-msg.txt" \
	--output-file "$IT_DIR/env-msg.sig" 2>&1); then
	fail "pkcs11-tool could not sign with seald-demo-rsa: $out"
elif ! openssl dgst -sha256 -verify "$IT_DIR/certs/seald-demo-rsa.pub.pem" \
	-signature "$IT_DIR/env-msg.sig" "$IT_DIR/env-msg.txt" >/dev/null 2>&1; then
	fail "signature by seald-demo-rsa does not verify with its public key"
fi

tid "PIN files are private and the PIN appears in no config, log or argv"
for f in pin so-pin; do
	mode=$(stat -c %a "$IT_DIR/$f" 2>/dev/null)
	[ "$mode" = 600 ] || fail "$f has mode ${mode:-missing}, want 600"
done
pin=$(cat "$IT_DIR/pin")
[ "${#pin}" -ge 16 ] || fail "PIN is shorter than 16 characters"
if grep -rqF -- "$pin" "$IT_CONFIG" "$IT_DIR"/*.log 2>/dev/null; then
	fail "the PIN appears in the config or a log"
fi
if pgrep -f -- "$pin" >/dev/null; then
	fail "the PIN appears in a process's argv"
fi
unset pin

tid "PostgreSQL answers on the Unix socket as role seald_daemon"
[ "$(psql_q 'select 1')" = 1 ] || fail "select 1 did not answer 1"
[ "$(psql_q 'select current_user')" = seald_daemon ] || fail "not connected as seald_daemon"
[ "$(psql_q "select pg_get_userbyid(datdba) from pg_database where datname = 'seald'")" = seald ] ||
	fail "database seald is not owned by role seald"
[ "$(psql_q 'show synchronous_commit')" = on ] || fail "synchronous_commit is not on"
[ "$(psql_q 'show fsync')" = on ] || fail "fsync is not on"
[ "$(psql_q 'show listen_addresses')" = "" ] || fail "cluster listens on TCP"
[ "$(psql_q 'select rolsuper from pg_roles where rolname = current_user')" = f ] ||
	fail "role seald_daemon is a superuser"

tid "seald's role may read and append the ledger, nothing else; the auditor only read"
as_role() {
	"$(pg_bindir)/psql" -X -q -At -v ON_ERROR_STOP=1 "$(pg_conninfo "$IT_DIR" "$1")" \
	    -c "$2" 2>&1
}
for sql in "update ledger_entries set detail = 'x' where false" \
    "delete from ledger_merkle where false" "truncate ledger_checkpoints" \
    "alter table ledger_entries disable trigger user" \
    "create table t_seald_daemon_may_not (x int)"; do
	out=$(as_role seald_daemon "$sql") && fail "seald_daemon may: $sql"
	grep -q 'permission denied\|must be owner' <<<"$out" || fail "$sql: $out"
done
as_role seald_daemon "select count(*) from ledger_checkpoints" >/dev/null ||
	fail "seald_daemon cannot read the checkpoints"
out=$(as_role seald_verifier "insert into ledger_merkle values ('x', 1, 0, sha256(''))") &&
	fail "seald_verifier may insert"
grep -q 'permission denied' <<<"$out" || fail "insert as auditor: $out"
[ "$(as_role seald_verifier "select count(*) > 0 from ledger_entries")" = t ] ||
	fail "seald_verifier cannot read the ledger"
out=$(as_role seald "update ledger_entries set detail = 'x'") && fail "the owner may update"
grep -q 'append-only' <<<"$out" || fail "update as owner: $out"
if [ "$(id -u)" -eq 0 ]; then
	owner=$(ps -o user= -p "$(head -n 1 "$IT_DIR/pg/postmaster.pid")")
	[ "$owner" = postgres ] || fail "cluster runs as $owner, want postgres"
fi

tid "config names the test socket and the policy; the policy the keys and clients"
for want in "path: \"$IT_SOCK\"" 'mode: "0666"' "conninfo: \"$IT_CONNINFO\"" \
	"policy: \"$IT_DIR/policy.yaml\""; do
	grep -qF -- "$want" "$IT_CONFIG" || fail "$IT_CONFIG lacks: $want"
done
for want in '  demo-ec:' '  demo-rsa:' '  test-ec384:' '  test-rsa-pss:' \
	'rsa_scheme: pss' '  local:'; do
	grep -qF -- "$want" "$IT_DIR/policy.yaml" || fail "policy.yaml lacks: $want"
done
if [ -n "$IT_OTHER_USER" ]; then
	grep -qF -- "uid: [$(id -u "$IT_OTHER_USER")]" "$IT_DIR/policy.yaml" ||
		fail "no ci-other client for $IT_OTHER_USER"
fi

tid "seald answers /healthz on its socket"
if need_seald; then
	http_req GET /healthz
	expect_code 200 "GET /healthz"
	mode=$(stat -c %a "$IT_SOCK" 2>/dev/null)
	[ "$mode" = 666 ] || fail "socket mode is ${mode:-missing}, config says 0666"
fi
