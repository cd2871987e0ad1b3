# shellcheck shell=bash
# t_auth.sh — callers are identified by SO_PEERCRED: a uid that is no
# client gets 401 before its body is read, on every endpoint but the
# health checks; a listed client of another uid is recorded as itself.

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

tid "health checks answer any caller that can connect"
if http_req -u "$IT_UNKNOWN_USER" GET /healthz; then
	expect_code 200 "healthz as nobody"
	http_req -u "$IT_UNKNOWN_USER" GET /readyz
	expect_code 200 "readyz as nobody"
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
