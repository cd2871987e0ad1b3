# shellcheck shell=bash
# envlib.sh — build and tear down a local seald environment: a SoftHSM token
# with demo keys generated inside it, self-signed certificates for them, a
# private PostgreSQL cluster on a Unix socket, a seald.yaml that ties them
# together, and start/stop of the daemon.
#
# One implementation shared by `make run` (tools/devenv.sh) and the
# integration tests (tests/integration/lib.sh); source it from bash.  Every
# function takes the environment folder DIR and keeps all state inside it:
#
#   DIR/softhsm2.conf DIR/tokens/   SoftHSM config and token store
#   DIR/pin DIR/so-pin               user and SO PIN (0600, random hex)
#   DIR/certs/LABEL.pem .pub.pem     self-signed certificate, public key
#   DIR/pg/ DIR/pgsock/ DIR/pg.log   PostgreSQL data, socket folder, log
#   DIR/seald.yaml                   daemon config (write_config)
#   DIR/seald.pid DIR/seald.log      daemon pid and output (seald_start)
#
# PostgreSQL refuses to run as root: when called as root the cluster belongs
# to the `postgres` user (runuser), otherwise to the calling user.  PINs never
# appear in a process's argv: pkcs11-tool reads them with `--pin env:VAR`
# and openssl with `-passin file:DIR/pin`.
#
# Functions return non-zero with a message on stderr when they fail; they do
# not rely on the caller's `set -e`.

SEALD_P11_MODULE=${SEALD_P11_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
SEALD_TOKEN_LABEL=seald

# Keys generated in the token: "label id key-type digest".  The test keys are
# made only when hsm_setup is given --test-keys.
ENVLIB_DEMO_KEYS="seald-demo-ec:01:EC:prime256v1:sha256
seald-demo-rsa:02:rsa:3072:sha256
seald-audit:05:EC:prime256v1:sha256
seald-demo-tsa:06:EC:prime256v1:sha256"
ENVLIB_TEST_KEYS="seald-test-ec384:03:EC:secp384r1:sha384
seald-test-rsa2048:04:rsa:2048:sha256"

# Labels of the objects hsm_add_foreign_objects creates (used by the tests).
# shellcheck disable=SC2034
ENVLIB_FOREIGN_LABELS="seald-foreign-ed25519 seald-foreign-aes seald-foreign-data"

envlib_err() {
	printf 'envlib: %s\n' "$*" >&2
}

# _envlib_abs DIR: print DIR as an absolute, symlink-free path.
_envlib_abs() {
	(cd "$1" 2>/dev/null && pwd -P) || {
		envlib_err "no such folder: $1"
		return 1
	}
}

# _envlib_tail FILE: show the end of a log after a failure.
_envlib_tail() {
	if [ -s "$1" ]; then
		echo "---- last lines of $1:" >&2
		tail -n 20 "$1" >&2
		echo "----" >&2
	fi
}

_envlib_is_root() {
	[ "$(id -u)" -eq 0 ]
}

# _envlib_alive PID: true while PID exists and is not a zombie.
_envlib_alive() {
	local st
	st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	case "$st" in
	Z*) return 1 ;;
	esac
	return 0
}

_envlib_randhex() {
	od -An -vtx1 -N"$1" /dev/urandom | tr -d ' \n'
}

# ---------------------------------------------------------------- PostgreSQL

# pg_bindir: print the bin folder of the newest installed PostgreSQL
# (PG_BINDIR overrides).
pg_bindir() {
	local d best=""
	if [ -n "${PG_BINDIR:-}" ]; then
		printf '%s\n' "$PG_BINDIR"
		return 0
	fi
	best=$(for d in /usr/lib/postgresql/*/bin; do
		if [ -x "$d/initdb" ]; then
			printf '%s\n' "$d"
		fi
	done | sort -V | tail -n 1)
	if [ -z "$best" ]; then
		envlib_err "no PostgreSQL server found in /usr/lib/postgresql (run make deps)"
		return 1
	fi
	printf '%s\n' "$best"
}

# _pg_as CMD...: run CMD as the cluster owner (postgres when we are root),
# from / so that an unreadable working folder does not matter.
_pg_as() {
	if _envlib_is_root; then
		(cd / && runuser -u postgres -- "$@")
	else
		"$@"
	fi
}

# _pg_home DIR: the folder that holds the cluster's pg/, pgsock/ and
# pg.log as the postgres user reaches it: DIR, or where DIR's parent
# folders keep that user out (root's own home), the folder that DIR/pghome
# links to (pg_setup makes it in the postgres user's home).  DIR/pg,
# DIR/pgsock and DIR/pg.log link there too, so that everyone else keeps
# using DIR's paths.
_pg_home() {
	if [ -L "$1/pghome" ]; then
		readlink "$1/pghome"
	else
		printf '%s\n' "$1"
	fi
}

_pg_running() {
	local bin
	bin=$(pg_bindir) || return 1
	[ -f "$1/pg/PG_VERSION" ] || return 1
	_pg_as "$bin/pg_ctl" status -D "$(_pg_home "$1")/pg" >/dev/null 2>&1
}

# pg_conninfo DIR [ROLE]: the libpq conninfo of the database `seald` (on
# both nodes of DIR's HA cluster when ha_setup made one), as
# ROLE: seald_daemon (the default: seald itself, a member of seald_writer),
# seald (the tables' owner: `seald migrate`) or seald_verifier (a member of
# seald_auditor: sealctl ledger verify).
pg_conninfo() {
	local dir
	dir=$(_envlib_abs "$1") || return 1
	if [ -f "$dir/ha/ports" ]; then # ha_setup's cluster (tools/halib.sh)
		ha_conninfo "$dir" "${2:-seald_daemon}"
		return
	fi
	printf 'host=%s/pgsock dbname=seald user=%s\n' "$dir" "${2:-seald_daemon}"
}

# pg_start DIR: start the cluster in DIR/pg unless it already runs.
pg_start() {
	local dir bin home
	dir=$(_envlib_abs "$1") || return 1
	bin=$(pg_bindir) || return 1
	if [ ! -f "$dir/pg/PG_VERSION" ]; then
		envlib_err "no cluster in $dir/pg (pg_setup creates it)"
		return 1
	fi
	if _pg_running "$dir"; then
		return 0
	fi
	home=$(_pg_home "$dir")
	if ! _pg_as "$bin/pg_ctl" start -D "$home/pg" -l "$home/pg.log" -w -t 60 -s \
		>/dev/null; then
		envlib_err "PostgreSQL did not start (log: $dir/pg.log)"
		_envlib_tail "$dir/pg.log"
		return 1
	fi
}

# pg_stop DIR [fast|immediate|smart]: stop the cluster if it runs.
pg_stop() {
	local dir bin mode=${2:-fast}
	dir=$(_envlib_abs "$1") || return 1
	bin=$(pg_bindir) || return 1
	case "$mode" in
	fast | immediate | smart) ;;
	*)
		envlib_err "pg_stop: bad mode: $mode"
		return 1
		;;
	esac
	if ! _pg_running "$dir"; then
		return 0
	fi
	if ! _pg_as "$bin/pg_ctl" stop -D "$(_pg_home "$dir")/pg" -m "$mode" -w -t 60 -s; then
		envlib_err "PostgreSQL did not stop (log: $dir/pg.log)"
		return 1
	fi
}

# _pg_sql DIR CONNINFO SQL: run SQL as the superuser `postgres` on the
# sockets of DIR/pgsock, CONNINFO naming the database (and port).
_pg_sql() {
	local bin
	bin=$(pg_bindir) || return 1
	"$bin/psql" -X -q -At -v ON_ERROR_STOP=1 \
		"host=$1/pgsock user=postgres $2" -c "$3"
}

# _pg_super DIR SQL: run SQL as the cluster's superuser `postgres`.
_pg_super() {
	_pg_sql "$1" "dbname=postgres" "$2"
}

# _pg_role DIR NAME OPTIONS: CREATE ROLE NAME OPTIONS unless it exists.
_pg_role() {
	if [ "$(_pg_super "$1" "SELECT count(*) FROM pg_roles WHERE rolname = '$2'")" != 1 ]; then
		_pg_super "$1" "CREATE ROLE $2 $3" || return 1
	fi
}

# pg_setup DIR: create (once) and start a private cluster in DIR/pg that
# listens only on the Unix socket folder DIR/pgsock, with trust auth for
# local connections, and make sure the database `seald` and its roles
# exist: `seald` owns it (and runs the migrations); the group roles
# seald_writer and seald_auditor (made here by the superuser, so that the
# migrations need no CREATEROLE) get their table rights from the
# migrations; seald_daemon and seald_verifier log in as their members.
pg_setup() {
	local dir bin sock home
	dir=$(_envlib_abs "$1") || return 1
	bin=$(pg_bindir) || return 1
	sock=$dir/pgsock
	# sun_path holds 107 bytes; the server appends /.s.PGSQL.5432.
	if [ $((${#sock} + 14)) -gt 107 ]; then
		envlib_err "socket path too long for PostgreSQL: $sock/.s.PGSQL.5432"
		return 1
	fi
	if [ ! -f "$dir/pg/PG_VERSION" ]; then
		rm -rf "$dir/pg" "$dir/pgsock" "$dir/pg.log" "$dir/pghome"
		home=$dir
		if _envlib_is_root; then
			if ! id postgres >/dev/null 2>&1; then
				envlib_err "user postgres does not exist (run make deps)"
				return 1
			fi
			chmod 0711 "$dir" || return 1
			if ! _pg_as test -x "$dir"; then
				# DIR's parents keep postgres out: the cluster lives in
				# its home, under a name of DIR's own
				home=$(getent passwd postgres | cut -d: -f6)/seald-dev/$(printf '%s' "$dir" |
					sha256sum | cut -c1-16) || return 1
				rm -rf "$home" && mkdir -p "$home" || return 1
				chown postgres: "$(dirname "$home")" "$home" || return 1
				ln -s "$home" "$dir/pghome" &&
					ln -s "$home/pg" "$dir/pg" &&
					ln -s "$home/pgsock" "$dir/pgsock" &&
					ln -s "$home/pg.log" "$dir/pg.log" || return 1
			fi
		fi
		mkdir -p "$home/pg" "$home/pgsock" || return 1
		: >>"$home/pg.log" || return 1
		chmod 0700 "$home/pg" || return 1
		chmod 0755 "$home/pgsock" || return 1
		if _envlib_is_root; then
			chown postgres: "$home/pg" "$home/pgsock" "$home/pg.log" || return 1
		fi
		if ! _pg_as "$bin/initdb" -D "$home/pg" -U postgres -E UTF8 \
			--locale=C --auth-local=trust --auth-host=reject \
			>"$dir/initdb.log" 2>&1; then
			envlib_err "initdb failed"
			_envlib_tail "$dir/initdb.log"
			return 1
		fi
		cat >>"$dir/pg/postgresql.conf" <<EOF || return 1

# seald private cluster (tools/envlib.sh): Unix socket only, durable commits.
listen_addresses = ''
unix_socket_directories = '${home//\'/\'\'}/pgsock'
unix_socket_permissions = 0777
fsync = on
synchronous_commit = on
full_page_writes = on
max_connections = 50
EOF
	fi
	pg_start "$dir" || return 1
	_pg_role "$dir" seald "LOGIN" || return 1
	_pg_role "$dir" seald_writer "NOLOGIN" || return 1
	_pg_role "$dir" seald_auditor "NOLOGIN" || return 1
	_pg_role "$dir" seald_daemon "LOGIN IN ROLE seald_writer" || return 1
	_pg_role "$dir" seald_verifier "LOGIN IN ROLE seald_auditor" || return 1
	if [ "$(_pg_super "$dir" "SELECT count(*) FROM pg_database WHERE datname = 'seald'")" != 1 ]; then
		_pg_super "$dir" "CREATE DATABASE seald OWNER seald ENCODING 'UTF8'" ||
			return 1
	fi
}

# ------------------------------------------------------------------ SoftHSM

# _hsm_tool DIR ARGS...: pkcs11-tool on our module and token; with
# SEALD_USER_PIN set in the environment, `--login --pin env:SEALD_USER_PIN`
# logs in without the PIN in argv.
_hsm_tool() {
	local dir=$1
	shift
	SOFTHSM2_CONF=$dir/softhsm2.conf pkcs11-tool --module "$SEALD_P11_MODULE" \
		--token-label "$SEALD_TOKEN_LABEL" "$@"
}

_hsm_token_exists() {
	local out
	out=$(SOFTHSM2_CONF=$1/softhsm2.conf pkcs11-tool \
		--module "$SEALD_P11_MODULE" --list-token-slots 2>/dev/null) || return 1
	grep -Eq "token label +: $SEALD_TOKEN_LABEL\$" <<<"$out"
}

# _hsm_list DIR: every object of the token (logged in), as
# "TYPE<TAB>LABEL<TAB>ACCESS" lines, TYPE one of privkey pubkey secrkey data
# cert other.
_hsm_list() {
	local pin
	pin=$(cat "$1/pin") || return 1
	SEALD_USER_PIN=$pin _hsm_tool "$1" --login --pin env:SEALD_USER_PIN \
		--list-objects 2>/dev/null | awk '
		function flush() { if (t != "") printf "%s\t%s\t%s\n", t, l, a; t = ""; l = ""; a = "" }
		/^Private Key Object/ { flush(); t = "privkey"; next }
		/^Public Key Object/ { flush(); t = "pubkey"; next }
		/^Secret Key Object/ { flush(); t = "secrkey"; next }
		/^Data object/ { flush(); t = "data"; next }
		/^Certificate Object/ { flush(); t = "cert"; next }
		/^[^ \t]/ { flush(); t = "other"; next }
		/^ +label:/ { sub(/^ +label: +/, ""); gsub(/^\047|\047$/, ""); l = $0; next }
		/^ +Access:/ { sub(/^ +Access: +/, ""); a = $0; next }
		END { flush() }'
}

# hsm_has_object DIR TYPE LABEL
hsm_has_object() {
	_hsm_list "$1" | awk -F '\t' -v t="$2" -v l="$3" \
		'$1 == t && $2 == l { f = 1 } END { exit !f }'
}

# _hsm_cert DIR LABEL DIGEST: self-signed certificate for the token key
# LABEL, signed inside the token through the libp11 engine, and the public
# key read from the token; both checked before they are kept.
_hsm_cert() {
	local dir=$1 label=$2 md=$3 cert pub tmp eku=""
	cert=$dir/certs/$label.pem
	# a TSA certificate: timeStamping as its only, critical, EKU (RFC 3161)
	case "$label" in
	*-tsa) eku="extendedKeyUsage=critical,timeStamping" ;;
	esac
	pub=$dir/certs/$label.pub.pem
	tmp=$dir/certs/.$label.tmp
	if [ ! -s "$cert" ]; then
		if ! SOFTHSM2_CONF=$dir/softhsm2.conf \
			PKCS11_MODULE_PATH=$SEALD_P11_MODULE \
			openssl req -new -x509 -engine pkcs11 -keyform engine \
			-key "pkcs11:token=$SEALD_TOKEN_LABEL;object=$label;type=private" \
			-passin "file:$dir/pin" -subj "/CN=$label/O=seald demo" \
			-days 730 "-$md" \
			-addext "basicConstraints=critical,CA:FALSE" \
			-addext "keyUsage=critical,digitalSignature,nonRepudiation" \
			${eku:+-addext "$eku"} \
			-out "$tmp" </dev/null >>"$dir/hsm-setup.log" 2>&1; then
			envlib_err "certificate for $label failed (libp11 finds no key" \
				"once the token holds an Ed25519 key: make certificates" \
				"before hsm_add_foreign_objects)"
			_envlib_tail "$dir/hsm-setup.log"
			rm -f "$tmp"
			return 1
		fi
		mv "$tmp" "$cert" || return 1
	fi
	if [ ! -s "$pub" ]; then
		# The token's public key object, read through the engine
		# (pkcs11-tool 0.23 --read-object fails on P-384 public keys).
		if ! SOFTHSM2_CONF=$dir/softhsm2.conf \
			PKCS11_MODULE_PATH=$SEALD_P11_MODULE \
			openssl pkey -engine pkcs11 -inform engine -pubin -pubout \
			-in "pkcs11:token=$SEALD_TOKEN_LABEL;object=$label;type=public" \
			-out "$tmp" </dev/null >>"$dir/hsm-setup.log" 2>&1; then
			envlib_err "cannot read the public key of $label"
			_envlib_tail "$dir/hsm-setup.log"
			rm -f "$tmp"
			return 1
		fi
		mv "$tmp" "$pub" || return 1
	fi
	if ! openssl verify -CAfile "$cert" "$cert" >/dev/null 2>&1; then
		envlib_err "certificate $cert does not verify"
		return 1
	fi
	if [ "$(openssl x509 -in "$cert" -noout -pubkey)" != "$(cat "$pub")" ]; then
		envlib_err "certificate $cert does not hold the token's public key"
		return 1
	fi
}

# hsm_setup DIR [--test-keys]: SoftHSM token `seald` in DIR/tokens with
# random PINs, keys generated inside it (sensitive, never extractable),
# self-signed certificates.  Reuses what exists.  Run it before
# hsm_add_foreign_objects: libp11 cannot find keys once an Ed25519 key is
# on the token, so certificates can no longer be made then.
hsm_setup() {
	local dir keys spec label id kt md pin so access list
	dir=$(_envlib_abs "$1") || return 1
	keys=$ENVLIB_DEMO_KEYS
	if [ "${2:-}" = "--test-keys" ]; then
		keys="$keys
$ENVLIB_TEST_KEYS"
	elif [ -n "${2:-}" ]; then
		envlib_err "hsm_setup: unknown option: $2"
		return 1
	fi
	if [ ! -r "$SEALD_P11_MODULE" ]; then
		envlib_err "no PKCS#11 module at $SEALD_P11_MODULE (run make deps)"
		return 1
	fi
	mkdir -p "$dir/tokens" "$dir/certs" || return 1
	chmod 0700 "$dir/tokens" || return 1
	if [ ! -f "$dir/softhsm2.conf" ]; then
		cat >"$dir/softhsm2.conf" <<EOF || return 1
# SoftHSM v2 configuration for seald (tools/envlib.sh)
directories.tokendir = $dir/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
EOF
	fi
	if ! _hsm_token_exists "$dir"; then
		if [ -n "$(ls -A "$dir/tokens")" ]; then
			envlib_err "$dir/tokens holds a token that is not '$SEALD_TOKEN_LABEL'"
			return 1
		fi
		pin=$(_envlib_randhex 16) || return 1
		so=$(_envlib_randhex 16) || return 1
		(umask 077 && printf '%s' "$pin" >"$dir/pin" &&
			printf '%s' "$so" >"$dir/so-pin") || return 1
		# A fresh token folder has one slot, with no token.
		if ! SEALD_SO_PIN=$so SOFTHSM2_CONF=$dir/softhsm2.conf pkcs11-tool \
			--module "$SEALD_P11_MODULE" --init-token \
			--label "$SEALD_TOKEN_LABEL" --so-pin env:SEALD_SO_PIN \
			>>"$dir/hsm-setup.log" 2>&1 ||
			! SEALD_SO_PIN=$so SEALD_USER_PIN=$pin _hsm_tool "$dir" \
				--login --login-type so --so-pin env:SEALD_SO_PIN \
				--init-pin --new-pin env:SEALD_USER_PIN \
				>>"$dir/hsm-setup.log" 2>&1; then
			envlib_err "token initialisation failed"
			_envlib_tail "$dir/hsm-setup.log"
			return 1
		fi
	fi
	if [ ! -s "$dir/pin" ]; then
		envlib_err "token exists but $dir/pin is missing"
		return 1
	fi
	pin=$(cat "$dir/pin") || return 1
	list=$(_hsm_list "$dir") || return 1
	for spec in $keys; do
		# label:id:key-type:digest, where key-type has a colon itself
		label=${spec%%:*}
		kt=${spec#*:}
		id=${kt%%:*}
		kt=${kt#*:}
		md=${kt##*:}
		kt=${kt%:*}
		if ! awk -F '\t' -v l="$label" '$1 == "privkey" && $2 == l { f = 1 }
			END { exit !f }' <<<"$list"; then
			if ! SEALD_USER_PIN=$pin _hsm_tool "$dir" --login \
				--pin env:SEALD_USER_PIN --keypairgen --key-type "$kt" \
				--label "$label" --id "$id" --usage-sign --sensitive \
				>>"$dir/hsm-setup.log" 2>&1; then
				envlib_err "key generation failed for $label ($kt)"
				_envlib_tail "$dir/hsm-setup.log"
				return 1
			fi
			list=$(_hsm_list "$dir") || return 1
		fi
		access=$(awk -F '\t' -v l="$label" \
			'$1 == "privkey" && $2 == l { print $3 }' <<<"$list")
		case "$access" in
		*"always sensitive"*"never extractable"*) ;;
		*)
			envlib_err "private key $label is not sensitive and" \
				"never-extractable (access: $access)"
			return 1
			;;
		esac
		_hsm_cert "$dir" "$label" "$md" || return 1
	done
}

# hsm_add_foreign_objects DIR: put objects on the token that seald must
# ignore: an Ed25519 key pair (a key type libp11 0.4.12 does not know), an
# AES-256 secret key and a data object.
hsm_add_foreign_objects() {
	local dir pin
	dir=$(_envlib_abs "$1") || return 1
	pin=$(cat "$dir/pin") || return 1
	if ! hsm_has_object "$dir" privkey seald-foreign-ed25519; then
		if ! SEALD_USER_PIN=$pin _hsm_tool "$dir" --login \
			--pin env:SEALD_USER_PIN --keypairgen \
			--key-type EC:edwards25519 --label seald-foreign-ed25519 \
			--id f1 --sensitive >>"$dir/hsm-setup.log" 2>&1; then
			envlib_err "Ed25519 key generation failed"
			_envlib_tail "$dir/hsm-setup.log"
			return 1
		fi
	fi
	if ! hsm_has_object "$dir" secrkey seald-foreign-aes; then
		if ! SEALD_USER_PIN=$pin _hsm_tool "$dir" --login \
			--pin env:SEALD_USER_PIN --keygen --key-type AES:32 \
			--label seald-foreign-aes --id f2 --sensitive \
			>>"$dir/hsm-setup.log" 2>&1; then
			envlib_err "AES key generation failed"
			_envlib_tail "$dir/hsm-setup.log"
			return 1
		fi
	fi
	if ! hsm_has_object "$dir" data seald-foreign-data; then
		printf 'seald test data object: not a key\n' >"$dir/.foreign-data"
		if ! SEALD_USER_PIN=$pin _hsm_tool "$dir" --login \
			--pin env:SEALD_USER_PIN --write-object "$dir/.foreign-data" \
			--type data --label seald-foreign-data \
			--application-label seald-test >>"$dir/hsm-setup.log" 2>&1; then
			envlib_err "data object creation failed"
			_envlib_tail "$dir/hsm-setup.log"
			rm -f "$dir/.foreign-data"
			return 1
		fi
		rm -f "$dir/.foreign-data"
	fi
}

# ------------------------------------------------------------------- config

# _yq STRING: STRING as a double-quoted YAML scalar.
_yq() {
	local s=$1
	s=${s//\\/\\\\}
	s=${s//\"/\\\"}
	printf '"%s"' "$s"
}

# write_policy DIR UIDS [OTHER_UID]: DIR/policy.yaml with the demo keys
# (and the test keys when their certificates exist).  Client `local`
# (UIDS, e.g. "0, 1000") may use every key; client `ci-other` (OTHER_UID)
# only demo-ec, for evidence of type submission or handover, so that the
# tests can show two users getting different answers.
write_policy() {
	local dir=$1 uids=$2 other=${3:-} tmp keys="demo-ec, demo-rsa"
	tmp=$dir/.policy.yaml.tmp
	{
		echo "# seald policy, generated by tools/envlib.sh write_policy"
		echo "keys:"
		echo "  demo-ec:"
		echo "    label: seald-demo-ec"
		echo "    algorithm: ec-p256"
		echo "    certificate: $(_yq "$dir/certs/seald-demo-ec.pem")"
		if [ -s "$dir/certs/seald-demo-tsa.pem" ]; then
			echo "    formats: [raw, cms, cades-t]"
			echo "    tsa_key: demo-tsa       # stamps its cades-t seals"
		else
			echo "    formats: [raw, cms]"
		fi
		if [ -s "$dir/certs/seald-demo-tsa.pem" ]; then
			echo "  demo-tsa:"
			echo "    label: seald-demo-tsa"
			echo "    algorithm: ec-p256"
			echo "    usage: [timestamp]"
			echo "    tsa_policy: 2.999.1.1   # an example OID: use your own"
			echo "    tsa_accuracy_ms: 1000"
			echo "    certificate: $(_yq "$dir/certs/seald-demo-tsa.pem")"
			keys="$keys, demo-tsa"
		fi
		echo "  qerds-seal:                # officers generate it: sealctl key"
		echo "    managed: true"
		echo "    formats: [raw, cms]"
		keys="$keys, qerds-seal"
		echo "  demo-rsa:"
		echo "    label: seald-demo-rsa"
		echo "    algorithm: rsa-3072"
		echo "    rsa_scheme: pkcs1"
		echo "    certificate: $(_yq "$dir/certs/seald-demo-rsa.pem")"
		echo "    formats: [raw, cms]"
		if [ -s "$dir/certs/seald-test-ec384.pem" ]; then
			echo "  test-ec384:"
			echo "    label: seald-test-ec384"
			echo "    algorithm: ec-p384"
			echo "    certificate: $(_yq "$dir/certs/seald-test-ec384.pem")"
			echo "    formats: [raw, cms]"
			keys="$keys, test-ec384"
		fi
		if [ -s "$dir/certs/seald-test-rsa2048.pem" ]; then
			echo "  test-rsa-pss:"
			echo "    label: seald-test-rsa2048"
			echo "    algorithm: rsa-2048"
			echo "    rsa_scheme: pss"
			echo "    certificate: $(_yq "$dir/certs/seald-test-rsa2048.pem")"
			echo "    formats: [raw, cms]"
			keys="$keys, test-rsa-pss"
		fi
		echo "clients:"
		echo "  local:"
		echo "    match:"
		echo "      uid: [$uids]"
		echo "    allow:"
		echo "      - keys: [$keys]"
		echo "        operations: [sign, timestamp]"
		if [ -n "$other" ]; then
			echo "  ci-other:"
			echo "    match:"
			echo "      uid: [$other]"
			echo "    allow:"
			echo "      - keys: [demo-ec]"
			echo "        evidence_types: [submission, handover]"
			echo "        require: [evidence]"
		fi
		echo "officers:                    # the admin socket: sealctl key"
		echo "  local-officer:"
		echo "    match:"
		echo "      uid: [$uids]"
	} >"$tmp" || return 1
	chmod 0644 "$tmp" && mv "$tmp" "$dir/policy.yaml"
}

# write_config DIR SOCKET_PATH [MODE]: DIR/seald.yaml and DIR/policy.yaml
# for the token, cluster and certificates in DIR.  Clients: `local` is the
# calling uid (as root also the sudo caller, SUDO_UID); `ci-other` is the
# user named by SEALD_OTHER_USER, when set.  MODE is the service socket's
# mode (0660), and the admin socket's (admin.sock beside it), whose officer
# is the calling uid too.
write_config() {
	local dir sock asock mode=${3:-0660} uids other_uid="" tmp
	dir=$(_envlib_abs "$1") || return 1
	sock=$2
	case "$sock" in
	/*) ;;
	*) sock=$PWD/$sock ;;
	esac
	asock=$(dirname "$sock")/admin.sock
	if [ "${#sock}" -gt 107 ] || [ "${#asock}" -gt 107 ]; then
		envlib_err "socket path too long (over 107 bytes): $asock"
		return 1
	fi
	case "$mode" in
	0[0-7][0-7][0-7]) ;;
	*)
		envlib_err "write_config: bad socket mode: $mode"
		return 1
		;;
	esac
	uids=$(id -u)
	if _envlib_is_root && [ -n "${SUDO_UID:-}" ] && [ "${SUDO_UID}" != 0 ]; then
		uids="$uids, $SUDO_UID"
	fi
	if [ -n "${SEALD_OTHER_USER:-}" ]; then
		other_uid=$(id -u "$SEALD_OTHER_USER" 2>/dev/null) || {
			envlib_err "SEALD_OTHER_USER: no such user: $SEALD_OTHER_USER"
			return 1
		}
	fi
	tmp=$dir/.seald.yaml.tmp
	{
		echo "# seald daemon config, generated by tools/envlib.sh write_config"
		echo "instance: demo-1"
		echo "service_socket:"
		echo "  path: $(_yq "$sock")"
		echo "  mode: \"$mode\""
		echo "admin_socket:"
		echo "  path: $(_yq "$asock")"
		echo "  mode: \"$mode\""
		echo "pkcs11:"
		echo "  module: $(_yq "$SEALD_P11_MODULE")"
		echo "  token_label: $SEALD_TOKEN_LABEL"
		echo "  pin_file: $(_yq "$dir/pin")"
		echo "  sessions: 4"
		echo "database:"
		echo "  conninfo: $(_yq "$(pg_conninfo "$dir")")"
		echo "  migrate_conninfo: $(_yq "$(pg_conninfo "$dir" seald)")"
		echo "policy: $(_yq "$dir/policy.yaml")"
		echo "ledger:"
		echo "  checkpoint_key: seald-audit"
		echo "  checkpoint_every: 100"
		echo "  checkpoint_seconds: 5"
		echo "limits:"
		echo "  max_body_bytes: 65536"
		echo "  max_header_bytes: 8192"
		echo "  timeout_seconds: 10"
		echo "log:"
		echo "  level: info"
		echo "# a demo on a machine whose clock may not be NTP-synchronized;"
		echo "# production keeps the default (true)"
		echo "tsa:"
		echo "  require_clock_sync: false"
	} >"$tmp" || return 1
	# seald refuses files others may change, whatever the umask
	chmod 0644 "$tmp" && mv "$tmp" "$dir/seald.yaml" || return 1
	write_policy "$dir" "$uids" "$other_uid" || return 1
	printf '%s\n' "$sock" >"$dir/seald.sockpath"
}

# ------------------------------------------------------------------- daemon

# seald_socket DIR: the service socket path write_config recorded.
seald_socket() {
	cat "$1/seald.sockpath" 2>/dev/null || {
		envlib_err "no $1/seald.sockpath (write_config writes it)"
		return 1
	}
}

# seald_start BUILD DIR [--console]: start BUILD/seald in the background on
# DIR/seald.yaml, pid in DIR/seald.pid, output appended to DIR/seald.log (to
# this terminal with --console).  Waits up to SEALD_START_TIMEOUT seconds
# (10) for GET /healthz on the socket to answer; returns non-zero, with the
# daemon stopped, if it does not.  The pid is a child of the caller's shell.
seald_start() {
	local build dir sock pid end st
	build=$(_envlib_abs "$1") || return 1
	dir=$(_envlib_abs "$2") || return 1
	if [ ! -x "$build/seald" ]; then
		envlib_err "no daemon at $build/seald (run make)"
		return 1
	fi
	sock=$(seald_socket "$dir") || return 1
	if seald_running "$dir"; then
		envlib_err "seald already runs for $dir (pid $(cat "$dir/seald.pid"))"
		return 1
	fi
	rm -f "$sock"
	export SOFTHSM2_CONF=$dir/softhsm2.conf
	# SEALD_WRAP: a command seald runs under (valgrind, for make valgrind)
	# shellcheck disable=SC2086 # the wrapper is a command line
	if [ "${3:-}" = "--console" ]; then
		${SEALD_WRAP:-} "$build/seald" -c "$dir/seald.yaml" </dev/null &
	else
		${SEALD_WRAP:-} "$build/seald" -c "$dir/seald.yaml" </dev/null \
			>>"$dir/seald.log" 2>&1 &
	fi
	pid=$!
	printf '%s\n' "$pid" >"$dir/seald.pid"
	end=$((SECONDS + ${SEALD_START_TIMEOUT:-10}))
	while [ "$SECONDS" -le "$end" ]; do
		if ! _envlib_alive "$pid"; then
			st=0
			wait "$pid" 2>/dev/null || st=$?
			envlib_err "seald exited during start-up (status $st)"
			_envlib_tail "$dir/seald.log"
			rm -f "$dir/seald.pid"
			return 1
		fi
		if [ -S "$sock" ] && curl -sf -o /dev/null --max-time 2 \
			--unix-socket "$sock" http://localhost/healthz; then
			return 0
		fi
		sleep 0.1
	done
	envlib_err "seald did not answer /healthz on $sock within" \
		"${SEALD_START_TIMEOUT:-10} s"
	_envlib_tail "$dir/seald.log"
	seald_stop "$dir"
	return 1
}

# seald_running DIR: true while the daemon recorded in DIR/seald.pid runs
# (a pid reused by an unrelated process does not count).
seald_running() {
	local pid
	pid=$(cat "$1/seald.pid" 2>/dev/null) || return 1
	[ -n "$pid" ] && _envlib_alive "$pid" || return 1
	case "$(ps -o args= -p "$pid" 2>/dev/null)" in
	*seald*) return 0 ;;
	esac
	return 1
}

# seald_stop DIR: SIGTERM, wait up to 10 s, then SIGKILL.  Returns 0 when
# the daemon is gone (or was not running), 1 when it needed SIGKILL.
seald_stop() {
	local dir pid end rc=0
	dir=$1
	pid=$(cat "$dir/seald.pid" 2>/dev/null) || return 0
	if [ -z "$pid" ] || ! seald_running "$dir"; then
		# Reap it if it is our child that already exited.
		if [ -n "$pid" ]; then
			wait "$pid" 2>/dev/null || true
		fi
		rm -f "$dir/seald.pid"
		return 0
	fi
	kill -TERM "$pid" 2>/dev/null || true
	end=$((SECONDS + ${SEALD_STOP_TIMEOUT:-10}))
	while _envlib_alive "$pid" && [ "$SECONDS" -le "$end" ]; do
		sleep 0.1
	done
	if _envlib_alive "$pid"; then
		envlib_err "seald (pid $pid) ignored SIGTERM for ${SEALD_STOP_TIMEOUT:-10} s; sending SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
		end=$((SECONDS + 2))
		while _envlib_alive "$pid" && [ "$SECONDS" -le "$end" ]; do
			sleep 0.1
		done
		rc=1
	fi
	wait "$pid" 2>/dev/null || true
	rm -f "$dir/seald.pid"
	return "$rc"
}

# shellcheck source=tools/halib.sh
. "$(dirname "${BASH_SOURCE[0]}")/halib.sh"
