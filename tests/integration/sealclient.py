#!/usr/bin/env python3
"""sealclient.py: seald's HTTP API over its Unix socket, for the tests.

As a module: UnixHTTP(path, timeout) is an http.client connection to the
socket; sign(conn, key, rid) posts /v1/sign with the SHA-256 of the
request id as the digest and returns (status, body as a dict).

As a command:

    sealclient.py SOCK CLIENTS COUNT PREFIX KEY

CLIENTS keep-alive clients in parallel, COUNT signatures each, request
ids PREFIX-CLIENT-I.  One line per reply:
"ok INSTANCE SEQ REPLAYED REQUEST_ID", or "error REQUEST_ID STATUS BODY".
The same command run again asks for the same requests: retries.

    sealclient.py SOCK copies N REQUEST_ID KEY

N clients connect, then send the same request at once (a client that
retries before its answer came); one line per reply as above.

    sealclient.py timed SECONDS CLIENTS PREFIX SOCK...

CLIENTS keep-alive clients sign with key demo-ec for SECONDS (bounded in
time; client C on the (C mod n)-th SOCK), a new request id each time,
50 ms between an error and the next request.  One line per answer:
"ok|error REQUEST_ID STATUS TIME INSTANCE CODE" (TIME in epoch seconds,
INSTANCE the 1-based SOCK, CODE the error's code; STATUS 0 when the
connection broke).
"""
import base64
import hashlib
import http.client
import json
import socket
import sys
import threading
import time


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path, timeout=30):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def sign(conn, key, rid):
    """POST /v1/sign for request id rid; (status, body)."""
    dg = base64.b64encode(hashlib.sha256(rid.encode()).digest()).decode()
    conn.request("POST", "/v1/sign",
                 json.dumps({"key": key, "digest": dg,
                             "digest_alg": "sha256", "request_id": rid}),
                 {"Content-Type": "application/json"})
    r = conn.getresponse()
    data = r.read()
    try:
        return r.status, json.loads(data)
    except ValueError:
        return r.status, {"raw": data[:200].decode("latin-1")}


def reply_line(rid, status, body):
    led = body.get("ledger") if isinstance(body, dict) else None
    if status != 200 or not isinstance(led, dict):
        return f"error {rid} {status} {json.dumps(body)[:300]}"
    return (f"ok {led.get('instance')} {led.get('seq')} "
            f"{str(body.get('replayed', False)).lower()} {rid}")


def copies(sock, n, rid, key):
    """n copies of one request, sent at once on n connections."""
    conns = [UnixHTTP(sock) for _ in range(n)]
    for conn in conns:
        conn.connect()
    start, out, lock = threading.Barrier(n, timeout=30), [], threading.Lock()

    def one(conn):
        try:
            start.wait()
            line = reply_line(rid, *sign(conn, key, rid))
        except Exception as e:  # every copy gets its line
            line = f"error {rid} - {e!r}"
        with lock:
            out.append(line)

    ts = [threading.Thread(target=one, args=(c,)) for c in conns]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return out


def timed(seconds, clients, prefix, socks):
    """Sign for seconds from clients threads; the answer lines."""
    out, lock = [], threading.Lock()
    end = time.time() + seconds

    def client(c):
        sock = socks[c % len(socks)]
        conn, i = UnixHTTP(sock), 0
        while time.time() < end:
            rid = f"{prefix}-{c}-{i}"
            i += 1
            try:
                st, body = sign(conn, "demo-ec", rid)
            except (OSError, http.client.HTTPException):
                st, body = 0, {}
                conn.close()
                conn = UnixHTTP(sock)
            code = ""
            if st != 200 and isinstance(body.get("error"), dict):
                code = body["error"].get("code", "")
            with lock:
                out.append(f"{'ok' if st == 200 else 'error'} {rid} {st} "
                           f"{time.time():.3f} {c % len(socks) + 1} {code}")
            if st != 200:
                time.sleep(0.05)

    ts = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return out


def main():
    if sys.argv[1] == "timed":
        print("\n".join(timed(float(sys.argv[2]), int(sys.argv[3]),
                              sys.argv[4], sys.argv[5:])))
        return
    if sys.argv[2] == "copies":
        print("\n".join(copies(sys.argv[1], int(sys.argv[3]),
                               sys.argv[4], sys.argv[5])))
        return
    sock, clients, count, prefix, key = sys.argv[1:6]
    out, lock = [], threading.Lock()

    def client(c):
        conn = UnixHTTP(sock)
        for i in range(int(count)):
            rid = f"{prefix}-{c}-{i}"
            try:
                line = reply_line(rid, *sign(conn, key, rid))
            except (OSError, http.client.HTTPException) as e:
                line = f"error {rid} - {e!r}"
                conn.close()
            with lock:
                out.append(line)

    ts = [threading.Thread(target=client, args=(c,))
          for c in range(int(clients))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print("\n".join(out))


if __name__ == "__main__":
    main()
