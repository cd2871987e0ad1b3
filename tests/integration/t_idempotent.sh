# shellcheck shell=bash
# t_idempotent.sh — (client, request_id) is unique: a retry of the same
# request returns the recorded result without a second HSM signature or a
# second ledger row; another request under the same id gets 409.

need_seald || return 0
d1=$(digest_b64 sha256 "idempotent one")
d2=$(digest_b64 sha256 "idempotent two")
rid="t-idem-$RANDOM$RANDOM"

tid "a retry with the same request returns the recorded signature"
sign_json demo-ec "$d1" sha256 "$rid"
expect_code 200 "first" || return 0
first=$(jq -c '{signature, seq: .ledger.seq, hash: .ledger.hash, signed_at}' "$IT_BODY")
[ "$(jq -r .replayed "$IT_BODY")" = false ] || fail "first reply says replayed"
sign_json demo-ec "$d1" sha256 "$rid"
expect_code 200 "retry"
again=$(jq -c '{signature, seq: .ledger.seq, hash: .ledger.hash, signed_at}' "$IT_BODY")
[ "$first" = "$again" ] || fail "retry differs: $first vs $again"
[ "$(jq -r .replayed "$IT_BODY")" = true ] || fail "retry not marked replayed"
# ECDSA signatures are randomized: an equal signature means no new signing
n=$(psql_q "select count(*) from ledger_entries where request_id = '$rid'")
[ "$n" = 1 ] || fail "$n ledger rows for one request_id"

tid "the same request_id with another digest gets 409 conflict"
sign_json demo-ec "$d2" sha256 "$rid"
expect_code 409 "conflict"
[ "$(json_str code)" = conflict ] || fail "error code is not conflict"
[ "$(jq -r .error.request_id "$IT_BODY")" = "$rid" ] || fail "error lacks the request_id"

tid "the same request_id with another key or evidence gets 409"
sign_json demo-rsa "$d1" sha256 "$rid"
expect_code 409 "other key"
body=$(printf '{"key":"demo-ec","digest":"%s","digest_alg":"sha256","request_id":"%s","evidence":{"type":"submission","ref":"other"}}' "$d1" "$rid")
http_req POST /v1/sign "$body"
expect_code 409 "other evidence"
n=$(psql_q "select count(*) from ledger_entries where request_id = '$rid'")
[ "$n" = 1 ] || fail "$n ledger rows after conflicts"

tid "concurrent identical requests give one ledger row and one signature"
rid2="t-idem-par-$RANDOM$RANDOM"
body=$(printf '{"key":"demo-ec","digest":"%s","digest_alg":"sha256","request_id":"%s"}' "$d2" "$rid2")
for i in 1 2 3 4 5 6; do
	printf '%s' "$body" | curl -s --max-time 15 --unix-socket "$IT_SOCK" \
	    -H 'Content-Type: application/json' --data-binary @- \
	    -o "$IT_DIR/par.$i" http://localhost/v1/sign &
done
wait
sigs=$(for i in 1 2 3 4 5 6; do jq -r .signature "$IT_DIR/par.$i"; done | sort -u)
[ "$(printf '%s\n' "$sigs" | wc -l)" = 1 ] || fail "different signatures: $sigs"
[ "$sigs" != null ] || fail "no signature: $(cat "$IT_DIR/par.1")"
n=$(psql_q "select count(*) from ledger_entries where request_id = '$rid2'")
[ "$n" = 1 ] || fail "$n ledger rows"
[ "$(psql_q "select encode(signature,'base64') from ledger_entries where request_id = '$rid2'" | tr -d '\n')" = "$sigs" ] ||
	fail "the clients got a signature that is not the recorded one"

tid "a request_id with quotes, backslashes, commas and braces is retried exactly"
# characters that SQL or an array literal would treat specially
rid3="t-idem-\"q\\b,{c}-$RANDOM$RANDOM"
sign_json demo-ec "$d1" sha256 "$rid3"
expect_code 200 "first" || return 0
first=$(jq -r .signature "$IT_BODY")
sign_json demo-ec "$d1" sha256 "$rid3"
expect_code 200 "retry"
[ "$(jq -r .replayed "$IT_BODY")" = true ] || fail "retry not marked replayed"
[ "$(jq -r .signature "$IT_BODY")" = "$first" ] || fail "retry signed again"
[ "$(jq -r .request_id "$IT_BODY")" = "$rid3" ] || fail "request_id changed: $(jq -r .request_id "$IT_BODY")"
sign_json demo-ec "$d2" sha256 "$rid3"
expect_code 409 "another request under it"

tid "retries and new requests at once each get their own answer"
# recorded and new requests in flight together, on all the workers, must
# each be told apart
mix_body() {
	printf '{"key":"demo-ec","digest":"%s","digest_alg":"sha256","request_id":"t-idem-mix-%s-%s%s"}' \
		"$d1" "$1" "$rid" "$2"
}
for i in 1 2 3 4 5 6 7 8; do
	http_req POST /v1/sign "$(mix_body "$i" "")"
	cp "$IT_BODY" "$IT_DIR/mix.$i"
done
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16; do
	k=$(((i + 1) / 2))
	body=$(mix_body "$k" "$([ $((i % 2)) = 0 ] && echo -new)")
	printf '%s' "$body" | curl -s --max-time 15 --unix-socket "$IT_SOCK" \
		-H 'Content-Type: application/json' --data-binary @- \
		-o "$IT_DIR/mixed.$i" http://localhost/v1/sign &
done
wait
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16; do
	k=$(((i + 1) / 2))
	if [ $((i % 2)) = 1 ]; then
		[ "$(jq -r .replayed "$IT_DIR/mixed.$i")" = true ] ||
			fail "retry $k not replayed: $(head -c 200 "$IT_DIR/mixed.$i")"
		[ "$(jq -r .signature "$IT_DIR/mixed.$i")" = "$(jq -r .signature "$IT_DIR/mix.$k")" ] ||
			fail "retry $k got another signature"
	else
		[ "$(jq -r .replayed "$IT_DIR/mixed.$i")" = false ] ||
			fail "new request $k: $(head -c 200 "$IT_DIR/mixed.$i")"
	fi
done
n=$(psql_q "select count(*) from ledger_entries where request_id like 't-idem-mix-%-$rid%'")
[ "$n" = 16 ] || fail "$n ledger rows, expected 16"

tid "request_ids are per client: another client may use the same id"
if [ -z "$IT_OTHER_USER" ]; then
	skip "no second client user"
else
	SIGN_AS=$IT_OTHER_USER sign_json demo-ec "$d2" sha256 "$rid"
	expect_code 200 "other client, same id"
	c=$(psql_q "select client from ledger_entries where request_id = '$rid' order by seq desc limit 1")
	[ "$c" = ci-other ] || fail "the row's client is '$c'"
fi
