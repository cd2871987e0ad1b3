# shellcheck shell=bash
# t_auth.sh — callers are identified by SO_PEERCRED: a uid that is no
# client or auditor gets 401 as it connects, before seald reads a byte
# from it, on every endpoint; a listed client of another uid is recorded
# as itself.

need_seald || return 0
d=$(digest_b64 sha256 "auth")

tid "an unlisted uid (nobody) gets 401 unauthenticated on sign and keys"
if http_req -u "$IT_UNKNOWN_USER" POST /v1/sign \
    "{\"key\":\"demo-ec\",\"digest\":\"$d\",\"digest_alg\":\"sha256\",\"request_id\":\"t-auth-1\"}"; then
	expect_code 401 "sign as nobody"
	[ "$(json_str code)" = unauthenticated ] || fail "code: $(cat "$IT_BODY")"
	http_req -u "$IT_UNKNOWN_USER" GET /v1/keys
	expect_code 401 "keys as nobody"
	n=$(psql_q "select count(*) from ledger_entries where request_id = 't-auth-1'")
	[ "$n" = 0 ] || fail "a refused request reached the ledger"
fi

tid "an unlisted uid gets 401 before its body is read"
if ! _it_can_switch; then
	skip "needs root or sudo"
else
	# announce a large body but send none: the answer must come anyway
	out=$(cd / && _it_switch "$IT_UNKNOWN_USER" curl -s --max-time 5 \
	    --unix-socket "$IT_SOCK" -H 'Content-Length: 60000' \
	    -H 'Expect:' -X POST -o /dev/null -w '%{http_code}' \
	    http://localhost/v1/sign 2>/dev/null)
	[ "$out" = 401 ] || fail "got '$out' (the daemon waited for the body?)"
	# the admin socket, served by the core itself, alike
	out=$(cd / && _it_switch "$IT_UNKNOWN_USER" curl -s --max-time 5 \
	    --unix-socket "$IT_DIR/admin.sock" -H 'Content-Length: 60000' \
	    -H 'Expect:' -X POST -o /dev/null -w '%{http_code}' \
	    http://localhost/v1/admin/keys 2>/dev/null)
	[ "$out" = 401 ] || fail "admin socket: got '$out' (the daemon waited for the body?)"
fi

tid "a stranger is answered 401 and disconnected at connect, without a word"
if ! _it_can_switch; then
	skip "needs root or sudo"
else
	# connect and send nothing: the 401 and the end come anyway, at once
	# (a copy other uids can read: the tree may be in a home)
	install -m 0644 "$IT_ROOT/tests/integration/hostile.py" "$IT_DIR/hostile.py"
	out=$(cd / && _it_switch "$IT_UNKNOWN_USER" python3 "$IT_DIR/hostile.py" \
	    answer "$IT_SOCK" 2>&1)
	case "$out" in
	"HTTP/1.1 401 Unauthorized "*) note "answered and closed in ${out##* } ms" ;;
	*) fail "a silent stranger got: $out" ;;
	esac
	[ "${out##* }" -lt 1000 ] 2>/dev/null || fail "the stranger waited ${out##* } ms"
	http_req -u "$IT_UNKNOWN_USER" GET /healthz
	expect_code 401 "healthz as nobody (health is for clients and auditors)"
	m=$(curl -s --max-time 5 --unix-socket "$IT_SOCK" http://localhost/metrics)
	grep -Eq '^seald_connections_refused_total\{reason="unknown_caller"\} [1-9]' <<<"$m" ||
		fail "no refusal counted: $(grep refused <<<"$m")"
	grep -q "matches no client or auditor of the policy" "$IT_DIR/seald.log" ||
		fail "the log does not say why"
fi

tid "a second listed client signs, and the ledger records its name and uid"
if [ -z "$IT_OTHER_USER" ]; then
	skip "no second client user"
else
	SIGN_AS=$IT_OTHER_USER sign_json demo-ec "$d" sha256 "t-auth-other-$RANDOM"
	if expect_code 200 "sign as $IT_OTHER_USER"; then
		row=$(psql_q "select client, client_uid from ledger_entries where seq = $(jq -r .ledger.seq "$IT_BODY") and instance = 'demo-1'")
		[ "$row" = "ci-other|$(id -u "$IT_OTHER_USER")" ] || fail "row says $row"
	fi
fi
