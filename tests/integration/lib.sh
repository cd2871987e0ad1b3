# shellcheck shell=bash
# lib.sh — harness for seald's integration tests, in the spirit of openssh's
# regress/test-exec.sh: real SoftHSM token, real PostgreSQL, real daemon.
#
# run.sh sources this file, calls it_setup once (a temp folder under /tmp
# with token, cluster, config and a running seald, all removed by an EXIT
# trap even when something fails; KEEP_TMP=1 keeps the folder), then runs
# each tests/integration/t_*.sh in its own bash process with this file
# sourced and the environment exported as IT_* variables.
#
# A test file is a sequence of cases:
#
#   tid "sign with demo-ec"           # names (opens) a case
#   sign_json demo-ec "$d" sha256 r1  # talk to seald
#   expect_code 200 "sign" || return 0
#   [ -n "$(json_str signature)" ] || fail "no signature"
#
# A case passes unless `fail` was called in it; `skip "why"` marks it
# skipped; the next `tid`, `pass` or the end of the file closes it.  Test
# files run without `set -e`: check each step and call `fail` (it records the
# failure, prints a FAIL line and goes on).  If a file exits non-zero, its
# open case fails.  `return` at top level ends the file early.
#
# Exported environment (set by it_setup):
#   IT_DIR        the temp folder (token, cluster, config, logs)
#   IT_BUILD      build folder holding seald
#   IT_SOCK       seald's service socket (mode 0666)
#   IT_CONFIG     seald.yaml
#   IT_CONNINFO   libpq conninfo for role seald_daemon (seald's own)
#   IT_OTHER_USER a second known client (uid in policy as `ci-other`), root only
#   IT_UNKNOWN_USER a user seald does not know (nobody)
#   SOFTHSM2_CONF the token's SoftHSM config
#
# Helpers: http_req, sign_json, expect_code, json_str, digest_b64 (talk to
# seald), psql_q, psql_super (the ledger), p11 (the token), as_user,
# need_seald, it_restart_seald, note; and from tools/envlib.sh seald_start,
# seald_stop, seald_running, pg_start, pg_stop.

IT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tools/envlib.sh
. "$IT_ROOT/tools/envlib.sh"

IT_BODY=${IT_DIR:-/nonexistent}/http.body
IT_CODE=${IT_DIR:-/nonexistent}/http.code
HTTP_CODE=""

# ------------------------------------------------------------ case records

_it_case=""
_it_open=0
_it_state=""

# _it_record RESULT NAME: one line per finished case in $IT_RESULTS.
_it_record() {
	if [ -n "${IT_RESULTS:-}" ]; then
		printf '%s\t%s\n' "$1" "$2" >>"$IT_RESULTS"
	fi
}

_it_close() {
	if [ "$_it_open" -eq 1 ]; then
		case "$_it_state" in
		fail) _it_record fail "$_it_case" ;;
		skip) _it_record skip "$_it_case" ;;
		*)
			_it_record pass "$_it_case"
			echo "ok $_it_case"
			;;
		esac
	fi
	_it_open=0
	_it_state=""
}

# it_at_exit CMD: run CMD when the test file ends, however it ends (a
# test must not set its own EXIT trap: the runner's records its last case).
it_at_exit() {
	IT_AT_EXIT="${IT_AT_EXIT:-}$1;"
}

# tid TEXT: start a new case named TEXT (closing the previous one).
tid() {
	_it_close
	_it_case="${IT_TEST_NAME:+$IT_TEST_NAME: }$*"
	_it_open=1
}

_it_ensure_open() {
	if [ "$_it_open" -eq 0 ]; then
		_it_case=${IT_TEST_NAME:-setup}
		_it_open=1
	fi
}

# fail MSG: the current case failed; carry on.
fail() {
	_it_ensure_open
	echo "FAIL: $_it_case: $*"
	if [ -n "${IT_DIR:-}" ]; then
		printf '%s: %s\n' "$_it_case" "$*" >>"$IT_DIR/failures"
	fi
	_it_state=fail
}

# skip WHY: the current case is skipped (a later fail still fails it).
skip() {
	_it_ensure_open
	echo "SKIP: $_it_case: $*"
	if [ "$_it_state" != fail ]; then
		_it_state=skip
	fi
}

# pass: close the current case now (passed, unless fail/skip was called).
pass() {
	_it_ensure_open
	_it_close
}

# note MSG: a line of context in the output.
note() {
	echo "  # $*"
}

# ---------------------------------------------------------------- helpers

# _it_can_switch: true when this run can act as another user (root, or
# a user with password-less sudo, as `make check` allows).
_it_can_switch() {
	[ "$(id -u)" -eq 0 ] || sudo -n true 2>/dev/null
}

# _it_switch USER CMD...: run CMD as USER (runuser as root, else sudo -n).
_it_switch() {
	local u=$1
	shift
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u "$u" -- "$@"
	else
		sudo -n -u "$u" -- "$@"
	fi
}

# as_root CMD...: run CMD as root (sudo -n when not root): seald's
# processes are not dumpable, so even the user they run as may not read
# their /proc/PID/maps, exe or fd.  Non-zero when neither is possible.
as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	else
		sudo -n "$@"
	fi
}

# as_user USER CMD...: run CMD as USER (needs root or password-less sudo;
# skips the case and returns 1 otherwise).
as_user() {
	local u=$1
	shift
	if ! _it_can_switch; then
		skip "running as $u needs root or sudo"
		return 1
	fi
	(cd / && _it_switch "$u" "$@")
}

# psql_q SQL: run SQL as role seald_daemon; rows as unaligned a|b lines.
psql_q() {
	"$(pg_bindir)/psql" -X -q -At -v ON_ERROR_STOP=1 "$IT_CONNINFO" -c "$1"
}

# psql_super SQL: same, as the cluster superuser postgres, in db seald.
psql_super() {
	"$(pg_bindir)/psql" -X -q -At -v ON_ERROR_STOP=1 \
		"host=$IT_DIR/pgsock dbname=seald user=postgres" -c "$1"
}

# The entry hash in plain SQL, written from docs/ledger-format.md alone
# (with the helper functions of LEDGER_SQL_FUNCS): tests forge entries with
# it and check that the document is enough to recompute every hash.
# shellcheck disable=SC2034
LEDGER_HASH_SQL="sha256('\\x7365616c642d6c65646765722d763100'::bytea
  || pg_temp.s(instance) || int8send(seq) || pg_temp.s(kind) || int8send(signed_at_us)
  || case when kind = 'signature' then
       pg_temp.s(client) || int8send(client_uid) || int8send(client_pid)
       || pg_temp.s(request_id) || pg_temp.b(request_hash) || pg_temp.s(key_name)
       || int8send(key_version::bigint) || pg_temp.s(algorithm) || pg_temp.s(digest_alg)
       || pg_temp.b(digest) || pg_temp.s(format) || pg_temp.b(signature) || pg_temp.s(evidence_type)
       || pg_temp.s(evidence_ref)
       || case when format = 'cades-t' then pg_temp.s(tsa_policy) || pg_temp.b(tsa_serial)
          else ''::bytea end
       || pg_temp.b(policy_hash)
     when kind = 'timestamp' then
       pg_temp.s(client) || int8send(client_uid) || int8send(client_pid)
       || pg_temp.b(request_hash) || pg_temp.s(key_name)
       || int8send(key_version::bigint) || pg_temp.s(algorithm) || pg_temp.s(digest_alg)
       || pg_temp.b(digest) || pg_temp.s(format) || pg_temp.s(tsa_policy) || pg_temp.b(tsa_serial)
       || pg_temp.b(signature) || pg_temp.b(policy_hash)
     else pg_temp.b(policy_hash) || pg_temp.s(detail) end
  || prev_hash)"
LEDGER_SQL_FUNCS="create function pg_temp.s(t text) returns bytea language sql as
  \$\$ select int4send(octet_length(convert_to(coalesce(t, ''), 'UTF8')))
     || convert_to(coalesce(t, ''), 'UTF8') \$\$;
  create function pg_temp.b(x bytea) returns bytea language sql as
  \$\$ select int4send(octet_length(coalesce(x, ''::bytea))) || coalesce(x, ''::bytea) \$\$;"

# psql_hash CONNINFO SQL: run SQL with LEDGER_SQL_FUNCS defined; prints
# the last line of its output (all of it on failure).
psql_hash() {
	local out
	out=$("$(pg_bindir)/psql" -X -q -At -v ON_ERROR_STOP=1 "$1" \
	    -c "$LEDGER_SQL_FUNCS" -c "$2" 2>&1) || { printf '%s\n' "$out"; return 1; }
	printf '%s\n' "$out" | tail -n 1
}

# p11 ARGS...: pkcs11-tool on the test token, logged in as the user
# (PIN passed through the environment, not argv).  Beware (opensc 0.23):
# --list-objects ignores --label and --id, and --sign ignores --label (it
# takes the first private key): select keys with --id.
p11() {
	SEALD_USER_PIN=$(cat "$IT_DIR/pin") pkcs11-tool \
		--module "$SEALD_P11_MODULE" --token-label "$SEALD_TOKEN_LABEL" \
		--login --pin env:SEALD_USER_PIN "$@"
}

# _it_js STRING: STRING as a JSON string (escapes \ " and control chars
# that tests are likely to use: newline, tab, CR).
_it_js() {
	local s=$1
	s=${s//\\/\\\\}
	s=${s//\"/\\\"}
	s=${s//$'\n'/\\n}
	s=${s//$'\t'/\\t}
	s=${s//$'\r'/\\r}
	printf '"%s"' "$s"
}

# http_req [-u USER] METHOD PATH [BODY [CONTENT_TYPE]]: one HTTP request to
# seald's socket (as USER if given).  BODY "@FILE" sends FILE.  The answer's
# body goes to $IT_BODY, its status to $IT_CODE and $HTTP_CODE ("000" when
# no HTTP answer came).  Returns 0 when an HTTP answer came.
http_req() {
	local user="" m p ct
	local -a cmd
	if [ "${1:-}" = "-u" ]; then
		user=$2
		shift 2
	fi
	m=$1
	p=$2
	ct=${4:-application/json}
	cmd=(curl -s --max-time "${IT_HTTP_TIMEOUT:-15}" --unix-socket "${IT_HTTP_SOCK:-$IT_SOCK}"
		-X "$m" -o - -w '%{stderr}%{http_code}')
	if [ $# -ge 3 ]; then
		cmd+=(-H "Content-Type: $ct" --data-binary @-)
	fi
	cmd+=("http://localhost$p")
	if [ -n "$user" ]; then
		if ! _it_can_switch; then
			skip "running as $user needs root or sudo"
			HTTP_CODE=000
			return 1
		fi
		cmd=(_it_switch "$user" "${cmd[@]}")
	fi
	if [ $# -lt 3 ]; then
		(cd / && "${cmd[@]}") </dev/null >"$IT_BODY" 2>"$IT_CODE"
	elif [ "${3#@}" != "$3" ]; then
		(cd / && "${cmd[@]}") <"${3#@}" >"$IT_BODY" 2>"$IT_CODE"
	else
		printf '%s' "$3" | (cd / && "${cmd[@]}") >"$IT_BODY" 2>"$IT_CODE"
	fi
	HTTP_CODE=$(cat "$IT_CODE")
	[ "$HTTP_CODE" != 000 ]
}

# await_ready STATUS SECONDS: GET /readyz until it answers STATUS, for at
# most SECONDS; 1 when it did not (its last answer in IT_BODY).
await_ready() {
	local end=$((SECONDS + $2))
	while :; do
		http_req GET /readyz
		[ "$HTTP_CODE" = "$1" ] && return 0
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.1
	done
}

# admin_req [-u USER] METHOD PATH [BODY]: http_req on the admin socket.
admin_req() {
	IT_HTTP_SOCK=$IT_DIR/admin.sock http_req "$@"
}

# sign_json KEY DIGEST_B64 ALG REQID [FORMAT]: POST /v1/sign with evidence
# {"type":"submission","ref":"it-REQID"}; FORMAT defaults to raw.  Run it
# as another user with SIGN_AS=USER.  Results as for http_req.
sign_json() {
	local body
	body=$(printf '{"key":%s,"digest":%s,"digest_alg":%s,"request_id":%s,"format":%s,"evidence":{"type":"submission","ref":%s}}' \
		"$(_it_js "$1")" "$(_it_js "$2")" "$(_it_js "$3")" "$(_it_js "$4")" \
		"$(_it_js "${5:-raw}")" "$(_it_js "it-$4")")
	if [ -n "${SIGN_AS:-}" ]; then
		http_req -u "$SIGN_AS" POST /v1/sign "$body"
	else
		http_req POST /v1/sign "$body"
	fi
}

# replies_check OUT N PREFIX [INSTANCE]: sealclient.py's OUT holds N
# replies and no error, no entry answered twice, and the ledger N rows
# under PREFIX (of INSTANCE, demo-1 unless given)
replies_check() {
	local inst=${4:-demo-1} rows
	grep -q '^error' "$1" && fail "errors: $(grep -m3 '^error' "$1")"
	[ "$(grep -c "^ok $inst " "$1")" = "$2" ] || fail "$(grep -c "^ok $inst " "$1") replies from $inst, not $2"
	[ "$(grep '^ok' "$1" | cut -d' ' -f2,3 | sort -u | wc -l)" = "$2" ] ||
		fail "an entry answered twice"
	rows=$(psql_q "select count(*) from ledger_entries where instance = '$inst' and request_id like '$3-%'")
	[ "$rows" = "$2" ] || fail "$rows rows for $2 replies"
}

# it_instance DIR NAME [SED_ARGS...]: another seald instance in DIR, named
# NAME, on the shared token: the shared config with its own socket, edited
# further by SED_ARGS (-e ...); stopped when the test file ends.
it_instance() {
	local dir=$1 name=$2
	shift 2
	mkdir -p "$dir"
	ln -sf "$IT_DIR/softhsm2.conf" "$dir/softhsm2.conf"
	sed -e "s|$IT_SOCK|$dir/seald.sock|" -e "s|^instance: demo-1|instance: $name|" \
	    -e "s|$(dirname "$IT_SOCK")/admin.sock|$dir/admin.sock|" \
	    "$@" "$IT_CONFIG" >"$dir/seald.yaml"
	printf '%s\n' "$dir/seald.sock" >"$dir/seald.sockpath"
	it_at_exit "seald_stop '$dir' >/dev/null 2>&1"
}

# expect_refused_start DIR CODE TEXT: seald on DIR/seald.yaml must stop
# at start with exit CODE, its output matching TEXT (a grep pattern)
expect_refused_start() {
	local out rc
	out=$(timeout 20 "$IT_BUILD/seald" -c "$1/seald.yaml" 2>&1 </dev/null)
	rc=$?
	if [ "$rc" != "$2" ]; then
		fail "exit $rc: $(tail -n 2 <<<"$out")"
	elif ! grep -q -- "$3" <<<"$out"; then
		fail "message: $(grep -m1 -i 'ledger\|error' <<<"$out")"
	fi
}

# clock_unsynced: the kernel's word (adjtimex) is that the clock is not
# synchronized: 5 is TIME_ERROR; -1, where a container's filter refuses the
# call, which seald takes as unsynchronized too (it cannot vouch for the
# clock).  Prints the state, for a note when it is synchronized.
clock_unsynced() {
	local state
	state=$(python3 -c 'import ctypes; b = ctypes.create_string_buffer(512); print(ctypes.CDLL(None).adjtimex(b))')
	printf '%s\n' "$state"
	[ "$state" = 5 ] || [ "$state" = -1 ]
}

policy_rows() { psql_q "select count(*) from ledger_entries where instance = 'demo-1' and kind = 'policy'"; }

# policy_reload FILE: install FILE as the shared seald's policy, SIGHUP,
# wait for the reload's ledger entry (accepted or refused)
policy_reload() {
	local before i
	before=$(policy_rows)
	cp "$1" "$IT_DIR/policy.yaml"
	kill -HUP "$(cat "$IT_DIR/seald.pid")"
	for i in $(seq 1 100); do
		[ "$(policy_rows)" -gt "$before" ] && return 0
		sleep 0.05
	done
	fail "no ledger entry for the reload of $1"
	return 1
}

# expect_code CODE WHAT: fail (and return 1) unless the last answer had
# status CODE.
expect_code() {
	if [ "$HTTP_CODE" != "$1" ]; then
		fail "$2: HTTP $HTTP_CODE, expected $1: $(head -c 300 "$IT_BODY" 2>/dev/null)"
		return 1
	fi
}

# json_str FIELD [FILE]: the first "FIELD":"value" string in FILE ($IT_BODY)
# — enough for base64, names and codes; not a JSON parser.
json_str() {
	sed -n "s/.*\"$1\" *: *\"\\([^\"]*\\)\".*/\\1/p" "${2:-$IT_BODY}" | head -n 1
}

# digest_b64 ALG TEXT: base64 of the ALG (sha256, sha384, sha512) digest.
digest_b64() {
	printf '%s' "$2" | openssl dgst "-$1" -binary | base64 -w 0
}

# need_seald: fail the case (return 1) unless the daemon runs.
need_seald() {
	if ! seald_running "$IT_DIR"; then
		fail "seald is not running (see $IT_DIR/seald.log)"
		return 1
	fi
}

# front_of PID: the pid of seald PID's front (seald's child is the
# keeper, the keeper's child the front); empty when there is none.
front_of() {
	local keeper
	keeper=$(pgrep -P "$1" | head -n 1)
	[ -n "$keeper" ] && pgrep -P "$keeper" | head -n 1
}

# next_front PID OLD: the pid of seald PID's front once it is another
# than OLD (the keeper started a new one), within 5 s; empty and status 1
# when none came.
next_front() {
	local new
	for _ in $(seq 50); do
		new=$(front_of "$1")
		if [ -n "$new" ] && [ "$new" != "$2" ]; then
			echo "$new"
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# it_restart_seald: stop and start the daemon (e.g. after editing
# $IT_CONFIG); returns non-zero if it does not come back.
it_restart_seald() {
	seald_stop "$IT_DIR"
	seald_start "$IT_BUILD" "$IT_DIR"
}

# ------------------------------------------------------ runner (run.sh)

_it_cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	# A test still running (run.sh was interrupted): timeout passes the
	# signal on to the test's process group.
	if [ -n "${IT_CHILD:-}" ]; then
		kill -TERM "$IT_CHILD" 2>/dev/null || true
		wait "$IT_CHILD" 2>/dev/null || true
	fi
	if [ -n "${IT_DIR:-}" ] && [ -d "$IT_DIR" ]; then
		seald_stop "$IT_DIR" || true
		if ! pg_stop "$IT_DIR" fast; then
			pg_stop "$IT_DIR" immediate || true
		fi
		if [ "${KEEP_TMP:-0}" != 1 ]; then
			rm -rf "$IT_DIR"
		fi
	fi
	exit "$rc"
}

# it_setup BUILD: create the environment and start seald.  Returns non-zero
# when the token, cluster or config cannot be made; a daemon that does not
# migrate or start is recorded as a failed case and the tests still run.
it_setup() {
	IT_DIR=$(mktemp -d /tmp/seald-it.XXXXXX) || return 1
	trap _it_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	chmod 0711 "$IT_DIR" || return 1
	IT_RESULTS=$IT_DIR/results
	IT_BODY=$IT_DIR/http.body
	IT_CODE=$IT_DIR/http.code
	: >"$IT_RESULTS"
	: >"$IT_DIR/failures"
	IT_BUILD=$(_envlib_abs "$1") || return 1
	IT_SOCK=$IT_DIR/seald.sock
	IT_CONFIG=$IT_DIR/seald.yaml
	IT_CONNINFO=$(pg_conninfo "$IT_DIR")
	IT_UNKNOWN_USER=nobody
	IT_OTHER_USER=""
	if _it_can_switch; then
		IT_OTHER_USER=${SEALD_OTHER_USER:-daemon}
	elif [ -n "${SEALD_OTHER_USER:-}" ]; then
		IT_OTHER_USER=$SEALD_OTHER_USER
	fi
	SEALD_OTHER_USER=$IT_OTHER_USER
	SOFTHSM2_CONF=$IT_DIR/softhsm2.conf
	PG_BINDIR=$(pg_bindir) || return 1
	export IT_BUILD IT_DIR IT_RESULTS IT_BODY IT_CODE IT_SOCK IT_CONFIG \
		IT_CONNINFO IT_UNKNOWN_USER IT_OTHER_USER SEALD_OTHER_USER \
		SOFTHSM2_CONF PG_BINDIR
	echo "integration: environment in $IT_DIR"
	# Certificates first: libp11 cannot find keys once the foreign
	# Ed25519 key is on the token.
	hsm_setup "$IT_DIR" --test-keys || return 1
	hsm_add_foreign_objects "$IT_DIR" || return 1
	pg_setup "$IT_DIR" || return 1
	write_config "$IT_DIR" "$IT_SOCK" 0666 || return 1
	tid "setup: seald migrate and start"
	if [ ! -x "$IT_BUILD/seald" ]; then
		fail "no daemon at $IT_BUILD/seald (run make)"
	elif ! "$IT_BUILD/seald" migrate -c "$IT_CONFIG" >>"$IT_DIR/seald.log" 2>&1; then
		fail "seald migrate failed (log: $IT_DIR/seald.log)"
		_envlib_tail "$IT_DIR/seald.log"
	elif ! seald_start "$IT_BUILD" "$IT_DIR"; then
		fail "seald did not start"
	fi
	_it_close
}

# it_count RESULT: how many cases ended with RESULT (pass, fail, skip).
it_count() {
	local n
	n=$(grep -c "^$1	" "$IT_RESULTS" 2>/dev/null) || true
	printf '%s\n' "${n:-0}"
}
