# shellcheck shell=bash
# t_clients.sh — the examples of docs/clients.md, taken from the page as
# written, against the live seald: curl and Python (and Go when a Go
# toolchain is installed) each seal and time-stamp a document, and openssl
# verifies both.

need_seald || return 0
W=$IT_DIR/t_clients
mkdir -p "$W"
DOC=$(dirname "${BASH_SOURCE[0]}")/../../docs/clients.md

# extract NAME: the fenced block after "<!-- example: NAME -->" into $W/NAME
extract() {
	awk -v want="<!-- example: $1 -->" '
		$0 == want { armed = 1; next }
		armed && /^```/ && !inside { inside = 1; next }
		inside && /^```$/ { exit }
		inside { print }' "$DOC" >"$W/$1"
	[ -s "$W/$1" ] || fail "no example $1 in docs/clients.md"
}

# no_file NAME CMD...: the example run without its FILE says how to call
# it (usage on stderr, status 2), not a traceback or a panic
no_file() {
	local name=$1 out rc=0
	shift
	out=$(cd "$W" && env -u SEALD_SOCKET "$@" 2>&1 </dev/null) || rc=$?
	[ "$rc" = 2 ] && grep -q "^usage: $name FILE" <<<"$out" ||
		fail "$name without FILE: status $rc: $out"
}

# check TOOL: the document's seal and token verify with openssl
check() {
	local out
	out=$(openssl cms -verify -binary -inform DER -in "$W/doc-$1.txt.p7s" \
	    -content "$W/doc-$1.txt" -CAfile "$IT_DIR/certs/seald-demo-ec.pem" -out /dev/null 2>&1) ||
		fail "$1: the seal: $out"
	out=$(openssl ts -verify -in "$W/doc-$1.txt.tst" -token_in -data "$W/doc-$1.txt" \
	    -CAfile "$IT_DIR/certs/seald-demo-tsa.pem" 2>&1) || fail "$1: the token: $out"
}

tid "the curl example seals and time-stamps a document that openssl verifies"
extract sign.sh
printf 'a delivery receipt for curl\n' >"$W/doc-curl.txt"
no_file sign.sh sh sign.sh
if out=$(cd "$W" && SEALD_SOCKET=$IT_SOCK sh sign.sh "$W/doc-curl.txt" 2>&1); then
	grep -q '^sealed: ledger seq [0-9]' <<<"$out" && grep -q '^demo-ec$' <<<"$out" ||
		fail "curl example said: $out"
	check curl
else
	fail "curl example: $out"
fi

tid "the Python example (standard library only) does the same"
extract seald_client.py
printf 'a delivery receipt for python\n' >"$W/doc-python.txt"
no_file seald_client.py python3 seald_client.py
if out=$(cd "$W" && SEALD_SOCKET=$IT_SOCK python3 seald_client.py "$W/doc-python.txt" 2>&1); then
	grep -q '^time-stamped: serial [0-9a-f]' <<<"$out" || fail "python example said: $out"
	check python
else
	fail "python example: $out"
fi

tid "the Go example does the same (when Go is installed)"
extract main.go
if command -v go >/dev/null 2>&1; then
	printf 'a delivery receipt for go\n' >"$W/doc-go.txt"
	# built once, so that its exit status is the program's
	if ! (cd "$W" && GOFLAGS=-mod=mod GO111MODULE=off GOCACHE=$W/gocache \
		go build -o seald-example main.go) >"$W/go.log" 2>&1; then
		fail "go example does not build: $(tail -n 5 "$W/go.log")"
	fi
	no_file main.go ./seald-example
	if out=$(cd "$W" && SEALD_SOCKET=$IT_SOCK ./seald-example "$W/doc-go.txt" 2>&1); then
		check go
	else
		fail "go example: $out"
	fi
else
	skip "no Go toolchain"
fi

tid "the checking block, as pasted in the tree's folder after make run"
extract check.sh
# the tree's folder as make run leaves it: state/ is this test's
mkdir -p "$W/tree"
ln -sfn "$IT_DIR" "$W/tree/state"
cp "$W/sign.sh" "$W/tree/sign.sh"
if out=$(cd "$W/tree" && bash -eo pipefail "$W/check.sh" 2>&1); then
	grep -q '^CMS Verification successful' <<<"$out" || fail "openssl cms said: $out"
	grep -q '^Verification: OK' <<<"$out" || fail "openssl ts said: $out"
else
	fail "the checking block: $out"
fi
