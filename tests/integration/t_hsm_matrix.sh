# shellcheck shell=bash
# t_hsm_matrix.sh — seald on PKCS#11 implementations besides SoftHSM, each
# a seald instance of its own (database t_mx_NAME) whose officer generates
# an EC and an RSA key in the token, certifies them (CSR signed in the
# token, a test CA, import), and whose client signs raw and CMS with both;
# openssl verifies every result.  Each implementation's line says what
# passed; one that cannot run here is skipped with the reason.
#   softhsm      SoftHSMv2 (the rest of the suite runs on it too)
#   p11-kit-rpc  p11-kit server exporting the SoftHSM token on a Unix
#                socket, seald on p11-kit-client.so: every call crosses a
#                socket, as with a network HSM; the server killed and
#                started again, seald heals by itself
#   nss-softokn  NSS's software token (libsoftokn3.so), its database made
#                with certutil, reached through pkcs11.init_args
#   tpm2         tpm2-pkcs11 on swtpm (a TPM 2.0 emulator on a loopback
#                port) behind tpm2-abrmd on a D-Bus session of the test's:
#                a key pkcs11-tool made signs; seald's own key generation
#                is refused by the token (docs/hsm.md says why)

need_seald || return 0
W=$IT_DIR/matrix
mkdir -p "$W"
chmod 0711 "$W"
UID0=$(id -u)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$W/ca.key" -out "$W/ca.pem" -days 30 -subj "/O=seald tests/CN=matrix CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" 2>/dev/null ||
	fail "test CA"

# mx_instance NAME MODULE TOKEN PIN_FILE [INIT_ARGS]: an instance in
# $W/NAME on its own database (t_mx_NAME, - as _), with managed keys
# NAME-ec and NAME-rsa (their labels differ from one instance to the
# next: two of them share the SoftHSM token)
mx_instance() {
	local d=$W/$1
	mkdir -p "$d"
	it_instance "$d" "mx-$1" -e "s|^policy: .*|policy: \"$d/policy.yaml\"|" \
	    -e "s|dbname=seald|dbname=t_mx_${1//-/_}|g" -e "s|^  module: .*|  module: $2|" \
	    -e "s|^  token_label: .*|  token_label: \"$3\"|" -e "s|^  pin_file: .*|  pin_file: $4|" \
	    -e '/^ledger:$/,/^  checkpoint_seconds:/d'
	if [ -n "${5:-}" ]; then
		sed -i "/^  pin_file:/a\\  init_args: \"$5\"" "$d/seald.yaml"
	fi
	cat >"$d/policy.yaml" <<EOF
keys:
  $1-ec: {managed: true, algorithm: ec-p256, formats: [raw, cms]}
  $1-rsa: {managed: true, algorithm: rsa-2048, formats: [raw, cms]}
  $1-tsa: {managed: true, algorithm: ec-p256, usage: [timestamp], tsa_policy: 2.999.9.1}
clients:
  local:
    match: {uid: [$UID0]}
    allow:
      - keys: [$1-ec, $1-rsa, $1-tsa]
        operations: [sign, timestamp]
officers:
  local-officer: {match: {uid: [$UID0]}}
EOF
	chmod 0644 "$d/policy.yaml"
	psql_super "create database t_mx_${1//-/_} owner seald" >/dev/null &&
		"$IT_BUILD/seald" migrate -c "$d/seald.yaml" >>"$d/seald.log" 2>&1
}

# mx_sign NAME KEY FORMAT: sign a fresh document; verify it with openssl
# against the key's certificate (raw) or the test CA (cms); 0 when it holds
mx_sign() {
	local d=$W/$1 doc=$W/$1/$2-$3.txt
	printf 'matrix %s %s %s\n' "$1" "$2" "$RANDOM" >"$doc"
	IT_SOCK=$d/seald.sock sign_json "$2" "$(openssl dgst -sha256 -binary "$doc" | base64 -w0)" \
	    sha256 "t-mx-$1-$2-$3-$RANDOM" "$3"
	expect_code 200 "$1: $2 $3" || return 1
	jq -r .signature "$IT_BODY" | base64 -d >"$doc.sig"
	if [ "$3" = cms ]; then
		openssl cms -verify -binary -inform DER -in "$doc.sig" -content "$doc" \
		    -CAfile "$W/ca.pem" -purpose any -out /dev/null >/dev/null 2>&1
	else
		openssl dgst -sha256 -verify <(openssl x509 -in "$d/$2.pem" -pubkey -noout) \
		    -signature "$doc.sig" "$doc" >/dev/null 2>&1
	fi || {
		fail "$1: openssl refuses the $3 signature of $2"
		return 1
	}
}

# mx_stamp NAME: a time-stamp of a fresh document by NAME-tsa (POST
# /v1/timestamp), verified with openssl ts against the test CA
mx_stamp() {
	local d=$W/$1 doc=$W/$1/stamp.txt
	printf 'matrix stamp %s %s\n' "$1" "$RANDOM" >"$doc"
	IT_SOCK=$d/seald.sock http_req POST /v1/timestamp \
	    "{\"digest\":\"$(openssl dgst -sha256 -binary "$doc" | base64 -w0)\",\"digest_alg\":\"sha256\"}"
	expect_code 200 "$1: time-stamp" || return 1
	jq -r .token "$IT_BODY" | base64 -d >"$doc.tok"
	openssl ts -verify -data "$doc" -in "$doc.tok" -token_in -CAfile "$W/ca.pem" \
	    -untrusted "$d/$1-tsa.pem" >/dev/null 2>&1 ||
		{ fail "$1: openssl ts -verify refuses the token"; return 1; }
}

# mx_run NAME: start the instance, generate and certify its keys (a TSA
# key too), sign raw and CMS with the EC and RSA ones, time-stamp with the
# TSA key; prints what passed into $W/NAME.result
mx_run() {
	local d=$W/$1 k alg usage sc=("$IT_BUILD/sealctl" -a "$W/$1/admin.sock") n=0
	if ! seald_start "$IT_BUILD" "$d"; then
		fail "$1: seald did not start: $(tail -n 3 "$d/seald.log")"
		return 1
	fi
	for k in "$1-ec" "$1-rsa" "$1-tsa"; do
		alg=ec-p256
		usage=seal
		[ "$k" = "$1-rsa" ] && alg=rsa-2048
		[ "$k" = "$1-tsa" ] && usage=timestamp
		if ! out=$("${sc[@]}" key generate "$k" --algorithm "$alg" 2>&1); then
			fail "$1: key generate $k: $out"
			continue
		fi
		if ! "${sc[@]}" key csr "$k" --subject "/O=seald tests/CN=$1 $k" \
		    --usage "$usage" --out "$d/$k.csr" >"$d/csr.out" 2>&1; then
			fail "$1: the CSR of $k: $(cat "$d/csr.out")"
			continue
		fi
		openssl req -in "$d/$k.csr" -noout -verify 2>&1 | grep -q 'verify OK' ||
			{ fail "$1: openssl refuses the CSR of $k"; continue; }
		openssl x509 -req -in "$d/$k.csr" -CA "$W/ca.pem" -CAkey "$W/ca.key" -CAcreateserial \
		    -days 30 -copy_extensions copy -out "$d/$k.pem" 2>/dev/null &&
			cat "$d/$k.pem" "$W/ca.pem" >"$d/$k.chain" ||
			{ fail "$1: CA for $k"; continue; }
		out=$("${sc[@]}" key import-cert "$k" "$d/$k.chain" 2>&1) ||
			{ fail "$1: import-cert $k: $out"; continue; }
		if [ "$usage" = timestamp ]; then
			mx_stamp "$1" && n=$((n + 1))
		else
			mx_sign "$1" "$k" raw && n=$((n + 1))
			mx_sign "$1" "$k" cms && n=$((n + 1))
		fi
	done
	printf '%s: EC P-256, RSA-2048 and a TSA key generated in the token, CSRs; %d of 5 (raw and CMS with each, a time-stamp) verified\n' \
	    "$1" "$n" >"$W/$1.result"
	[ "$n" = 5 ]
}

tid "matrix: SoftHSMv2"
mx_instance softhsm "$SEALD_P11_MODULE" "$SEALD_TOKEN_LABEL" "$IT_DIR/pin" || fail "softhsm instance"
mx_run softhsm && note "$(cat "$W/softhsm.result")"
seald_stop "$W/softhsm"

tid "matrix: p11-kit RPC (p11-kit server, p11-kit-client.so), and the server killed and back"
CLIENT=
for f in /usr/lib/*/pkcs11/p11-kit-client.so; do [ -e "$f" ] && CLIENT=$f; done
if [ -z "$CLIENT" ] || ! command -v p11-kit >/dev/null; then
	skip "p11-kit-client.so or p11-kit not installed"
else
	R=$W/p11-kit-rpc
	mkdir -p "$R"
	rpc_start() {
		SOFTHSM2_CONF=$IT_DIR/softhsm2.conf p11-kit server -f -n "$R/p11.sock" \
		    --provider "$SEALD_P11_MODULE" "pkcs11:token=$SEALD_TOKEN_LABEL" \
		    >>"$R/server.log" 2>&1 &
		echo $! >"$R/server.pid"
		for _ in $(seq 50); do [ -S "$R/p11.sock" ] && return 0; sleep 0.1; done
		return 1
	}
	# shellcheck disable=SC2016 # expanded when it runs
	it_at_exit 'pkill -P "$(cat "'"$R"'/server.pid")"; kill "$(cat "'"$R"'/server.pid")" 2>/dev/null'

	rpc_start || fail "p11-kit server did not start: $(tail -n 3 "$R/server.log")"
	mx_instance p11-kit-rpc "$CLIENT" "$SEALD_TOKEN_LABEL" "$IT_DIR/pin" || fail "rpc instance"
	export P11_KIT_SERVER_ADDRESS="unix:path=$R/p11.sock"
	mx_run p11-kit-rpc && note "$(cat "$W/p11-kit-rpc.result")"
	# the remote end goes away: 503 meanwhile, signing again once it is
	# back, without a restart of seald
	# (the server runs a p11-kit-remote for each connection: those too)
	spid=$(cat "$R/server.pid")
	pkill -KILL -P "$spid" || fail "no p11-kit-remote process to kill"
	kill -KILL "$spid"
	wait "$spid" 2>/dev/null
	rm -f "$R/p11.sock"
	IT_SOCK=$R/seald.sock sign_json p11-kit-rpc-ec "$(digest_b64 sha256 rpc-down)" sha256 "t-mx-down-$RANDOM"
	[ "$HTTP_CODE" = 503 ] || fail "server down: HTTP $HTTP_CODE: $(head -c 200 "$IT_BODY")"
	rpc_start || fail "p11-kit server did not start again"
	t0=$(date +%s%N)
	end=$((SECONDS + 20))
	while [ "$SECONDS" -le "$end" ]; do
		IT_SOCK=$R/seald.sock sign_json p11-kit-rpc-ec "$(digest_b64 sha256 rpc-back)" sha256 "t-mx-back-$RANDOM"
		[ "$HTTP_CODE" = 200 ] && break
		sleep 0.2
	done
	expect_code 200 "signing after the server came back"
	note "p11-kit-rpc: 503 while the server was gone; signing again $(( ($(date +%s%N) - t0) / 1000000 )) ms after it was back, same seald"
	seald_stop "$R"
	unset P11_KIT_SERVER_ADDRESS
	pkill -P "$(cat "$R/server.pid")" || true
	kill "$(cat "$R/server.pid")" || true
fi

tid "matrix: NSS softokn (its settings in pkcs11.init_args)"
SOFTOKN=
for f in /usr/lib/*/libsoftokn3.so; do [ -e "$f" ] && SOFTOKN=$f; done
if [ -z "$SOFTOKN" ] || ! command -v certutil >/dev/null; then
	skip "libsoftokn3.so (libnss3) or certutil (libnss3-tools) not installed"
else
	N=$W/nss-softokn
	mkdir -p "$N/db"
	printf 'nss-pin-%s' "$RANDOM$RANDOM" >"$N/pin"
	chmod 0600 "$N/pin"
	certutil -N -d "sql:$N/db" -f "$N/pin" >"$N/certutil.log" 2>&1 ||
		fail "certutil -N: $(cat "$N/certutil.log")"
	mx_instance nss-softokn "$SOFTOKN" "NSS Certificate DB" "$N/pin" "configdir='sql:$N/db'" ||
		fail "nss instance"
	mx_run nss-softokn && note "$(cat "$W/nss-softokn.result")"
	seald_stop "$N"
	# without its settings the module cannot start: seald says so
	sed -i '/^  init_args:/d' "$N/seald.yaml"
	out=$(timeout 20 "$IT_BUILD/seald" -c "$N/seald.yaml" 2>&1 </dev/null)
	grep -q 'C_Initialize: 0x7' <<<"$out" || fail "without init_args: $(tail -n 2 <<<"$out")"
fi

tid "matrix: tpm2-pkcs11 on swtpm (a TPM 2.0 emulator behind tpm2-abrmd)"
TPM2=
for f in /usr/lib/*/pkcs11/libtpm2_pkcs11.so; do [ -e "$f" ] && TPM2=$f; done
missing=
for c in swtpm tpm2-abrmd tpm2_ptool dbus-daemon; do
	command -v "$c" >/dev/null || missing="$missing $c"
done
if [ -z "$TPM2" ] || [ -n "$missing" ]; then
	skip "libtpm2_pkcs11.so (libtpm2-pkcs11-1) or${missing:- its tools} not installed"
else
	T=$W/tpm2
	mkdir -p "$T/state" "$T/store"
	# the TPM on a loopback port (the swtpm TCTI speaks TCP), a session
	# D-Bus of our own, and the resource manager on it: without one the
	# TPM's three object slots are soon full
	port=$(ha_free_port) || port=$((20000 + RANDOM % 20000))
	swtpm socket --tpmstate "dir=$T/state" --tpm2 \
	    --server "type=tcp,port=$port,bindaddr=127.0.0.1" \
	    --ctrl "type=tcp,port=$((port + 1)),bindaddr=127.0.0.1" \
	    --flags not-need-init,startup-clear --daemon --pid "file=$T/swtpm.pid" \
	    --log "file=$T/swtpm.log" || fail "swtpm did not start"
	# shellcheck disable=SC2016 # expanded when it runs
	it_at_exit 'kill "$(cat "'"$T"'/swtpm.pid")" "$(cat "'"$T"'/dbus.pid")" 2>/dev/null; pkill -f "tpm2-abrmd --session --tcti=swtpm:host=127.0.0.1,port='"$port"'"'
	{ read -r DBUS_SESSION_BUS_ADDRESS; read -r dpid; } < <(dbus-daemon --session --fork --print-address=1 --print-pid=1)
	echo "$dpid" >"$T/dbus.pid"
	export DBUS_SESSION_BUS_ADDRESS
	tpm2-abrmd --session --tcti="swtpm:host=127.0.0.1,port=$port" --allow-root >"$T/abrmd.log" 2>&1 &
	export TPM2TOOLS_TCTI="tabrmd:bus_type=session" TPM2_PKCS11_TCTI="tabrmd:bus_type=session" \
	    TPM2_PKCS11_STORE=$T/store
	printf 'tpm-pin-%s' "$RANDOM$RANDOM" >"$T/pin"
	chmod 0600 "$T/pin"
	ok=
	for _ in $(seq 1 50); do
		tpm2_ptool init --path "$T/store" >"$T/ptool.log" 2>&1 && ok=1 && break
		sleep 0.2 # the resource manager on the bus
	done
	if [ -z "$ok" ] || ! tpm2_ptool addtoken --pid=1 --sopin="so-$RANDOM$RANDOM" --userpin="$(cat "$T/pin")" \
		--label=seald-tpm --path "$T/store" >>"$T/ptool.log" 2>&1; then
		fail "tpm2_ptool: $(tail -n 2 "$T/ptool.log")"
	else
		# tpm2-pkcs11 1.9 makes every EC key able to decrypt as well and
		# refuses a template that says otherwise: seald's key generation,
		# which asks a signing key for nothing else, is refused (said
		# below); a key the operator made with the token's own tools
		# serves, named by its label
		mx_instance tpm2 "$TPM2" seald-tpm "$T/pin" || fail "tpm2 instance"
		cat >"$T/policy.yaml" <<EOP
keys:
  tpm2-ec: {label: tpm2-ec, algorithm: ec-p256, formats: [raw]}
  tpm2-gen: {managed: true, algorithm: ec-p256, formats: [raw]}
clients:
  local:
    match: {uid: [$UID0]}
    allow:
      - keys: [tpm2-ec]
officers:
  local-officer: {match: {uid: [$UID0]}}
EOP
		SEALD_USER_PIN=$(cat "$T/pin") pkcs11-tool --module "$TPM2" --token-label seald-tpm --login \
		    --pin env:SEALD_USER_PIN --keypairgen --key-type EC:prime256v1 --label tpm2-ec --id 01 \
		    >"$T/keygen.log" 2>&1 || fail "pkcs11-tool keypairgen: $(tail -n 2 "$T/keygen.log")"
		if seald_start "$IT_BUILD" "$T"; then
			IT_SOCK=$T/seald.sock http_req GET /v1/keys
			jq -r '.keys[] | select(.name=="tpm2-ec") | .public_key' "$IT_BODY" >"$T/ec.pub"
			printf 'tpm evidence' >"$T/doc"
			IT_SOCK=$T/seald.sock sign_json tpm2-ec "$(openssl dgst -sha256 -binary "$T/doc" | base64 -w0)" sha256 "t-mx-tpm-$RANDOM"
			expect_code 200 "tpm2: a raw signature with a key made by pkcs11-tool"
			jq -r .signature "$IT_BODY" | base64 -d >"$T/sig"
			openssl dgst -sha256 -verify "$T/ec.pub" -signature "$T/sig" "$T/doc" >/dev/null 2>&1 ||
				fail "tpm2: the signature does not verify"
			if out=$("$IT_BUILD/sealctl" -a "$T/admin.sock" key generate tpm2-gen --algorithm ec-p256 2>&1); then
				fail "tpm2: key generate now works: put tpm2 in the full matrix ($out)"
			else
				note "tpm2: seald starts, logs in and signs (raw, EC P-256, a key pkcs11-tool made; verified); sealctl key generate refused by the token: $(sed 's/^sealctl: //' <<<"$out" | cut -c1-90)"
			fi
			seald_stop "$T"
		else
			fail "tpm2: seald did not start: $(tail -n 3 "$T/seald.log")"
		fi
	fi
	unset TPM2TOOLS_TCTI TPM2_PKCS11_TCTI TPM2_PKCS11_STORE DBUS_SESSION_BUS_ADDRESS
fi
