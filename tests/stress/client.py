#!/usr/bin/env python3
"""client.py SOCKET NAME STOPFILE: sign steadily as a careful client would,
until STOPFILE exists.  Each request_id is retried (same id) after a 503
or a broken connection until it succeeds; one line per reply received:
"ok TIME REQUEST_ID INSTANCE SEQ", and "err TIME REQUEST_ID STATUS" for
each refusal (TIME: time.time() when the answer came)."""
import http.client
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "integration"))
from sealclient import UnixHTTP, sign  # noqa: E402


def main():
    sock, name, stop = sys.argv[1:4]
    conn = UnixHTTP(sock, timeout=15)
    i = 0
    out = sys.stdout
    while not os.path.exists(stop):
        rid = f"stress-{name}-{i}"
        try:
            status, reply = sign(conn, "demo-ec", rid)
        except (OSError, http.client.HTTPException):
            conn.close()
            out.write(f"err {time.time():.3f} {rid} conn\n")
            time.sleep(0.05)
            continue  # the same request_id again
        if status == 200:
            out.write(f"ok {time.time():.3f} {rid} "
                      f"{reply['ledger']['instance']} {reply['ledger']['seq']}\n")
            i += 1
        else:
            out.write(f"err {time.time():.3f} {rid} {status}\n")
            time.sleep(0.05)
        out.flush()


main()
