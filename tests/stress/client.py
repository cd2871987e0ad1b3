#!/usr/bin/env python3
"""client.py SOCKET NAME STOPFILE: sign steadily as a careful client would,
until STOPFILE exists.  Each request_id is retried (same id) after a 503
or a broken connection until it succeeds; one line per reply received:
"ok TIME REQUEST_ID INSTANCE SEQ", and "err TIME REQUEST_ID STATUS" for
each refusal (TIME: time.time() when the answer came)."""
import base64
import hashlib
import http.client
import json
import os
import socket
import sys
import time


class Conn(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=15)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(15)
        self.sock.connect(self.path)


def main():
    sock, name, stop = sys.argv[1:4]
    conn = Conn(sock)
    i = 0
    out = sys.stdout
    while not os.path.exists(stop):
        rid = f"stress-{name}-{i}"
        dg = base64.b64encode(hashlib.sha256(rid.encode()).digest()).decode()
        body = json.dumps({"key": "demo-ec", "digest": dg,
                           "digest_alg": "sha256", "request_id": rid})
        try:
            conn.request("POST", "/v1/sign", body,
                         {"Content-Type": "application/json"})
            r = conn.getresponse()
            reply = json.loads(r.read())
        except (OSError, http.client.HTTPException, ValueError):
            conn.close()
            out.write(f"err {time.time():.3f} {rid} conn\n")
            time.sleep(0.05)
            continue  # the same request_id again
        if r.status == 200:
            out.write(f"ok {time.time():.3f} {rid} "
                      f"{reply['ledger']['instance']} {reply['ledger']['seq']}\n")
            i += 1
        else:
            out.write(f"err {time.time():.3f} {rid} {r.status}\n")
            time.sleep(0.05)
        out.flush()


main()
