# shellcheck shell=bash
# t_http_strict.sh — HTTP framing as RFC 9112 asks of a server: a request
# whose length is ambiguous gets 400 and its connection is closed, so that
# nothing sent behind it (a request smuggled in its body) is answered; a
# chunked body over the limit gets 413, not a reset; the JSON and TSA
# endpoints take only their media type (415 otherwise).

need_seald || return 0
d=$(digest_b64 sha256 "strict http")

# raw NAME: send the bytes of $RAW (printf format) on one connection, shut
# the writing half, and print every status line that comes back and then
# "closed" (or "open" when the connection stayed open 5 s).
raw() {
	# shellcheck disable=SC2059 # the format is the request
	printf "$RAW" | python3 -c '
import re, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(5)
s.connect(sys.argv[1])
s.sendall(sys.stdin.buffer.read())
got = b""
end = "closed"
try:
    while True:
        b = s.recv(65536)
        if not b:
            break
        got += b
except socket.timeout:
    end = "open"
except OSError as e:
    end = "reset"
# every status line that came (a body ends without a line break)
for line in re.findall(rb"HTTP/1\.[01] [0-9]{3} [^\r\n]*", got):
    print(line.decode("latin-1"))
print(end)
' "$IT_SOCK"
}

# framing WHAT: the request in $RAW gets a 400 and its connection is
# closed, the request behind it unanswered.  (libmicrohttpd answers a
# Content-Length it cannot parse itself, with its header block written
# twice: two status lines, one answer.)
framing() {
	local out
	out=$(raw | tr '\n' ';')
	[[ "$out" =~ ^(HTTP/1\.1\ 400\ Bad\ Request\;)+closed\;$ ]] ||
		fail "$1: $out (expected a 400, then the connection closed)"
}

body="{\"key\":\"demo-ec\",\"digest\":\"$d\",\"digest_alg\":\"sha256\",\"request_id\":\"strict-%s\"}"
smuggled='GET /v1/keys HTTP/1.1\r\nHost: x\r\n\r\n'

tid "Transfer-Encoding with Content-Length: 400, the connection closed"
RAW='POST /v1/sign HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'$smuggled
framing "TE and CL"
RAW='POST /v1/sign HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nContent-Length: 40\r\n\r\n0\r\n\r\n'$smuggled
framing "CL after TE"

tid "two Content-Length headers: 400, the connection closed"
RAW='POST /v1/sign HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 40\r\n\r\n{}'$smuggled
framing "different lengths"
RAW='POST /v1/sign HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}'$smuggled
framing "the same length twice"
RAW='POST /v1/sign HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: +2\r\n\r\n{}'$smuggled
framing "a signed length"

tid "whitespace before a colon, or a coding other than chunked: 400, closed"
RAW='POST /v1/sign HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n'$smuggled
framing "Transfer-Encoding<space>:"
RAW='POST /v1/sign HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length : 2\r\n\r\n{}'$smuggled
framing "Content-Length<space>:"
RAW='POST /v1/sign HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n'$smuggled
framing "gzip, chunked"
RAW='POST /v1/sign HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'$smuggled
framing "chunked twice"

tid "a well-framed request on a kept-alive connection is still answered in turn"
one=$(printf "$body" "keep-$RANDOM") # (no % or backslash in it)
RAW='POST /v1/sign HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: '${#one}'\r\n\r\n'$one$smuggled
out=$(raw | tr '\n' ';')
[ "$out" = "HTTP/1.1 200 OK;HTTP/1.1 200 OK;open;" ] || fail "two requests: $out"

tid "a chunked body over the limit gets 413, read to its end"
head -c 8000000 /dev/zero | tr '\0' 'a' >"$IT_DIR/strict-8mb"
out=$(curl -s --max-time 30 --unix-socket "$IT_SOCK" -H 'Transfer-Encoding: chunked' \
    -H 'Content-Type: application/json' --data-binary "@$IT_DIR/strict-8mb" \
    -o "$IT_BODY" -w '%{http_code}' http://localhost/v1/sign)
[ "$out" = 413 ] || fail "8 MB chunked: $out"
[ "$(jq -r .error.code "$IT_BODY" 2>/dev/null)" = payload_too_large ] ||
	fail "8 MB chunked: $(head -c 200 "$IT_BODY")"
rm -f "$IT_DIR/strict-8mb"

tid "JSON endpoints take application/json only: 415 otherwise"
for ct in "text/plain" "application/x-www-form-urlencoded" "application/jsonx" ""; do
	for p in /v1/sign /v1/timestamp; do
		code=$(printf "$body" "ct-$RANDOM" | curl -s --max-time 10 --unix-socket "$IT_SOCK" \
		    -H "Content-Type: $ct" --data-binary @- -o "$IT_BODY" -w '%{http_code}' \
		    "http://localhost$p")
		[ "$code" = 415 ] || fail "$p with Content-Type '$ct': $code"
		[ "$(jq -r .error.code "$IT_BODY" 2>/dev/null)" = unsupported_media_type ] ||
			fail "$p '$ct': $(head -c 200 "$IT_BODY")"
	done
done
http_req POST /v1/sign "$(printf "$body" "ct-ok-$RANDOM")" "application/json; charset=utf-8"
expect_code 200 "application/json; charset=utf-8"
http_req POST /v1/sign "$(printf "$body" "ct-ok-$RANDOM")" "Application/JSON"
expect_code 200 "Application/JSON"
http_req POST /v1/tsa "$(printf "$body" "ct-tsa-$RANDOM")" "application/json"
expect_code 415 "/v1/tsa with application/json"

tid "seald serves on"
http_req GET /healthz
expect_code 200 "healthz"

tid "the admin socket holds to the same framing and media type"
RAW='POST /v1/admin/keys HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'$smuggled
out=$(IT_SOCK=$IT_DIR/admin.sock raw | tr '\n' ';')
[[ "$out" =~ ^(HTTP/1\.1\ 400\ Bad\ Request\;)+closed\;$ ]] || fail "admin, TE and CL: $out"
admin_req POST /v1/admin/keys '{"name":"x"}' text/plain
expect_code 415 "admin POST /v1/admin/keys as text/plain"
admin_req GET "/v1/admin/keys/demo-ec%00junk"
expect_code 404 "admin GET /v1/admin/keys/demo-ec%00junk"
