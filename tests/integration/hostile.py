#!/usr/bin/env python3
"""hostile.py SOCK PID [SECONDS] — hostile clients against a running seald.
hostile.py SOCK PID crowd N — a client connects, N idle ones after it, then
the first signs: prints "HTTP STATUS N_OPENED".

A well-behaved client signs over one keep-alive connection, one request at
a time, first alone (its unloaded latency), then while each hostile load
runs in turn:

  idle     1,000 connections that send half a request header and go quiet
           (slowloris); seald must drop them after its timeout
  noread   100 clients that send GET /v1/keys and never read the answer,
           and one that pipelines it without reading
  flood    10,000 connects per second (connect, close), from 4 processes

Every load is bounded in count and in time.  Prints one JSON object:
latencies (p50, p99 in ms) per phase, what each load achieved, seald's RSS
(kB) and open files before and after.  The caller (t_hostile.sh) judges.
"""
import base64
import hashlib
import json
import multiprocessing
import os
import resource
import select
import socket
import sys
import threading
import time

SOCK, PID = sys.argv[1], int(sys.argv[2])
CROWD = int(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[3] == "crowd" else 0
PHASE_S = float(sys.argv[3]) if len(sys.argv) > 3 and not CROWD else 3.0
IDLE_CONNS = 1000
FLOOD_RATE = 10000
NOREAD = 100
FLOOD_PROCS = 4


def proc_status(key):
    with open(f"/proc/{PID}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return -1


def open_files():
    return len(os.listdir(f"/proc/{PID}/fd"))


def connect(timeout=10):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(SOCK)
    return s


def read_response(s, buf):
    """One HTTP/1.1 response (Content-Length framed); returns (status, rest)."""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for h in lines[1:]:
        k, _, v = h.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    while len(rest) < length:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        rest += chunk
    return status, rest[length:]


class Good:
    """The well-behaved client: one sign request at a time, keep-alive."""

    def __init__(self):
        self.s = connect()
        self.buf = b""
        self.n = 0
        self.errors = 0

    def sign(self):
        self.n += 1
        rid = f"t-hostile-{os.getpid()}-{self.n}"
        dg = base64.b64encode(hashlib.sha256(rid.encode()).digest()).decode()
        body = json.dumps({"key": "demo-ec", "digest": dg,
                           "digest_alg": "sha256", "request_id": rid}).encode()
        req = (b"POST /v1/sign HTTP/1.1\r\nHost: localhost\r\n"
               b"Content-Type: application/json\r\nContent-Length: "
               + str(len(body)).encode() + b"\r\n\r\n" + body)
        t0 = time.perf_counter()
        try:
            self.s.sendall(req)
            status, self.buf = read_response(self.s, self.buf)
        except (OSError, ConnectionError):
            status = 0
            self.s.close()
            self.s = connect()
            self.buf = b""
        ms = (time.perf_counter() - t0) * 1000
        self.status = status
        if status != 200:
            self.errors += 1
        return ms

    def fresh(self):
        """A new connection, as a client does after being idle."""
        self.s.close()
        self.s = connect()
        self.buf = b""

    def run(self, seconds):
        self.fresh()
        lat = []
        end = time.monotonic() + seconds
        while time.monotonic() < end and len(lat) < 100000:
            lat.append(self.sign())
        lat.sort()
        q = lambda p: round(lat[min(len(lat) - 1, int(p * len(lat)))], 2)
        return {"requests": len(lat), "p50_ms": q(0.50), "p99_ms": q(0.99)}


def half_sent(n):
    """Up to n connections, each with half a request header sent."""
    conns = []
    for _ in range(n):
        try:
            s = connect()
            s.sendall(b"POST /v1/sign HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
            conns.append(s)
        except OSError:
            break
    return conns


def crowd(n):
    """A client connected before n idle ones still signs."""
    good = Good()
    conns = half_sent(n)
    time.sleep(1)
    good.sign()
    print("HTTP", good.status, len(conns))


def phase_idle(good):
    """Slowloris: IDLE_CONNS half-sent requests; then wait for seald to drop them."""
    conns = half_sent(IDLE_CONNS)
    held = len(conns)
    files = open_files()
    lat = good.run(PHASE_S)
    # seald's timeout (timeout_seconds) must close every one of them
    deadline = time.monotonic() + 30
    dropped = 0
    for s in conns:
        s.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            while s.recv(4096):
                pass
            dropped += 1
        except OSError:
            pass
        s.close()
    return lat, {"opened": held, "seald_open_files": files, "dropped_by_seald": dropped}


def phase_noread(good):
    """NOREAD clients send GET /v1/keys and never read the answer; one more
    pipelines requests without reading (at most 64 MiB)."""
    req = b"GET /v1/keys HTTP/1.1\r\nHost: localhost\r\n\r\n"
    quiet = []
    for _ in range(NOREAD):
        s = connect()
        s.sendall(req)
        quiet.append(s)
    pipe = connect()
    pipe.setblocking(False)
    sent = 0
    stop = threading.Event()

    def push():
        nonlocal sent
        while not stop.is_set() and sent < 64 << 20:
            try:
                sent += pipe.send(req)
            except BlockingIOError:
                time.sleep(0.01)
            except OSError:
                break

    t = threading.Thread(target=push)
    t.start()
    time.sleep(0.5)
    lat = good.run(PHASE_S)
    rss = proc_status("VmRSS")
    stop.set()
    t.join()
    # seald must drop each (its timeout, or at once for the pipeliner):
    # the peer's close shows as POLLHUP, with nothing read
    p = select.poll()
    for s in quiet + [pipe]:
        p.register(s, select.POLLHUP)
    left = {s.fileno(): s for s in quiet + [pipe]}
    t0 = time.monotonic()
    hup = {}
    while left and time.monotonic() - t0 < 30:
        for fd, _ in p.poll(1000):
            if fd in left:
                hup[fd] = time.monotonic() - t0
                p.unregister(fd)
                del left[fd]
    took = round(max(hup.values(), default=0), 1)
    for s in quiet + [pipe]:
        s.close()
    return lat, {"clients": NOREAD + 1, "pipelined_bytes": sent,
                 "seald_rss_kb_meanwhile": rss,
                 "dropped_by_seald": len(hup), "last_dropped_after_s": took}


def flood_worker(rate, seconds, out):
    ok = refused = 0
    end = time.monotonic() + seconds
    t_next = time.monotonic()
    while True:
        now = time.monotonic()
        if now >= end:
            break
        if now < t_next:
            time.sleep(t_next - now)
        t_next += 1.0 / rate
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(2)  # a full backlog blocks a Unix connect
        try:
            s.connect(SOCK)
            ok += 1
        except OSError:
            refused += 1
        s.close()
    out.put((ok, refused))


def phase_flood(good):
    out = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=flood_worker,
                                     args=(FLOOD_RATE / FLOOD_PROCS, PHASE_S, out),
                                     daemon=True)
             for _ in range(FLOOD_PROCS)]
    t0 = time.monotonic()
    for p in procs:
        p.start()
    time.sleep(0.2)
    lat = good.run(PHASE_S - 0.4)
    ok = refused = 0
    for _ in procs:
        a, b = out.get(timeout=PHASE_S + 30)
        ok += a
        refused += b
    for p in procs:
        p.join()
    took = time.monotonic() - t0
    return lat, {"connects": ok, "refused": refused,
                 "per_second": round((ok + refused) / took)}


def main():
    if CROWD:
        crowd(CROWD)
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = IDLE_CONNS + NOREAD + 64
    if hard != resource.RLIM_INFINITY and hard < want:
        print(f"hostile.py: needs {want} open files, the hard limit is {hard}",
              file=sys.stderr)
        sys.exit(77)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    good = Good()
    good.run(0.5)  # warm up
    res = {"before": {"rss_kb": proc_status("VmRSS"), "open_files": open_files()}}
    res["unloaded"] = good.run(PHASE_S)
    for name, fn in (("idle", phase_idle), ("noread", phase_noread), ("flood", phase_flood)):
        lat, load = fn(good)
        res[name] = dict(lat, **load)
    time.sleep(0.5)
    res["after"] = {"rss_kb": proc_status("VmRSS"), "open_files": open_files()}
    res["good_errors"] = good.errors
    res["good_requests"] = good.n
    print(json.dumps(res))


if __name__ == "__main__":
    main()
