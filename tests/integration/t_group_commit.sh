# shellcheck shell=bash
# t_group_commit.sh — the ledger writer's wait for signatures in progress
# (database: batch_wait_ms), on a second instance that waits up to 100 ms:
# a lone request is committed at once (one commit per request, none of
# them waited); with 8 clients and 4 HSM sessions (RSA-3072, so that
# signatures overlap) the entries whose signatures were in progress share
# a commit: at least 2.5 entries per commit, where committing whatever is
# queued gives about 1.6 here.  Every reply is in the chain exactly once.
# Bounded: 10 + 8 x 25 signatures.  Not under valgrind: how many
# signatures overlap there says nothing.

need_seald || return 0
W=$IT_DIR/t_group_commit
S2=$W/b
it_instance "$S2" group-1 -e '/^database:/a\  batch_wait_ms: 100'

# sign CLIENTS COUNT TAG KEY: CLIENTS keep-alive clients in parallel,
# COUNT signatures each; one "seq request_id" line per reply, or "error"
sign() {
	python3 - "$S2/seald.sock" "$1" "$2" "$3" "$4" <<'PY'
import base64, hashlib, http.client, json, socket, sys, threading
class C(http.client.HTTPConnection):
    def __init__(self, p):
        super().__init__("localhost", timeout=30)
        self.p = p
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(self.p)
out, lock = [], threading.Lock()
def client(c):
    conn = C(sys.argv[1])
    for i in range(int(sys.argv[3])):
        rid = f"t-gc-{sys.argv[4]}-{c}-{i}"
        dg = base64.b64encode(hashlib.sha256(rid.encode()).digest()).decode()
        conn.request("POST", "/v1/sign", json.dumps({"key": sys.argv[5],
            "digest": dg, "digest_alg": "sha256", "request_id": rid}),
            {"Content-Type": "application/json"})
        r = conn.getresponse()
        body = json.loads(r.read())
        with lock:
            out.append(f"{body['ledger']['seq']} {rid}" if r.status == 200
                       else f"error {r.status} {body}")
ts = [threading.Thread(target=client, args=(c,)) for c in range(int(sys.argv[2]))]
for t in ts: t.start()
for t in ts: t.join()
print("\n".join(out))
PY
}

# commits: "entries commits waits" from the instance's metrics
commits() {
	curl -s --max-time 10 --unix-socket "$S2/seald.sock" http://localhost/metrics |
		awk '/^seald_ledger_batch_entries_total / { e = $2 }
		     /^seald_ledger_commit_duration_seconds_count / { c = $2 }
		     /^seald_ledger_batch_waits_total / { w = $2 }
		     END { print e + 0, c + 0, w + 0 }'
}

# check OUT N: N replies, no error, each in the chain once
check() {
	grep -q '^error' "$1" && fail "errors: $(grep -m3 '^error' "$1")"
	[ "$(grep -c '^[0-9]' "$1")" = "$2" ] || fail "$(grep -c '^[0-9]' "$1") replies, not $2"
	[ "$(cut -d' ' -f1 "$1" | sort -u | wc -l)" = "$2" ] || fail "a seq answered twice"
	local rows
	rows=$(psql_q "select count(*) from ledger_entries where instance = 'group-1' and request_id like 't-gc-$3-%'")
	[ "$rows" = "$2" ] || fail "$rows rows for $2 replies"
}

tid "a lone request is committed at once, not after the batch wait"
mkdir -p "$W"
if ! seald_start "$IT_BUILD" "$S2"; then
	fail "the instance did not start: $(tail -n 3 "$S2/seald.log")"
	return 0
fi
read -r e0 c0 w0 <<<"$(commits)"
sign 1 10 seq demo-ec >"$W/seq.out"
read -r e1 c1 w1 <<<"$(commits)"
check "$W/seq.out" 10 seq
[ $((e1 - e0)) = 10 ] && [ $((c1 - c0)) = 10 ] ||
	fail "$((e1 - e0)) entries in $((c1 - c0)) commits, not one each"
[ "$w1" = "$w0" ] || fail "$((w1 - w0)) commits waited with nothing else being signed"

tid "entries whose signatures are in progress share a commit"
read -r e0 c0 w0 <<<"$(commits)"
sign 8 25 par demo-rsa >"$W/par.out"
read -r e1 c1 w1 <<<"$(commits)"
check "$W/par.out" 200 par
ne=$((e1 - e0))
nc=$((c1 - c0))
[ "$nc" -gt 0 ] && [ $((ne * 10)) -ge $((nc * 25)) ] ||
	fail "$ne entries in $nc commits: fewer than 2.5 per commit"
[ "$w1" -gt "$w0" ] || fail "no commit waited"
note "$ne entries in $nc commits, $((w1 - w0)) of them waited"
seald_stop "$S2" >/dev/null 2>&1
