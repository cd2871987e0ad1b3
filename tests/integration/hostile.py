#!/usr/bin/env python3
"""hostile.py ROLE ... — hostile callers, and a well-behaved one, against a
running seald; t_hostile.sh runs each role as its own uid and judges.

  good SOCK SECONDS       the well-behaved client: signs one request at a
                          time, each on a new connection (so that being let
                          in is measured too); latencies and errors
  idle SOCK N SECONDS     a caller that matches no client: tries to hold N
                          idle connections, connecting again as seald
                          closes them (at most 10 N connects)
  slow SOCK N SECONDS     N connections that send a request head one byte a
                          second (slowloris)
  noread SOCK N SECONDS   N connections that pipeline 64 GET /v1/keys and
                          never read an answer
  flood SOCK RATE SECONDS connect and close RATE times a second (4 processes)
  stat PID                a process's RSS (kB) and open files (via sudo when
                          it is not dumpable)
  answer SOCK [HEAD]      connect, send HEAD (\r\n written as such) if
                          given and then a space every 0.5 s, until seald
                          answers and closes (at most 8 s): prints the
                          answer's status line and the milliseconds it took
  crowd SOCK N            a client connects, N idle ones after it, then the
                          first signs: prints "HTTP STATUS N_OPENED"

Every load is bounded in count and in time, and prints one JSON object.
Exit status 77 when this uid may not open the files a load needs.
"""
import base64
import hashlib
import json
import multiprocessing
import os
import resource
import select
import socket
import subprocess
import sys
import time

SIGN_REQ = ("POST /v1/sign HTTP/1.1\r\nHost: localhost\r\n"
            "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{}")
KEYS_REQ = b"GET /v1/keys HTTP/1.1\r\nHost: localhost\r\n\r\n"


def files_for(n):
    """Raise the soft open-file limit to n and some; exit 77 if it cannot."""
    want = n + 64
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < want:
        print(f"hostile.py: needs {want} open files, the hard limit is {hard}",
              file=sys.stderr)
        sys.exit(77)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def connect(sock, timeout=2.0):
    """Connect within timeout s: a full listen queue makes a Unix connect
    with a timeout fail at once (EAGAIN), so it is tried again, as a
    blocking connect would wait."""
    end = time.monotonic() + timeout
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect(sock)
            return s
        except BlockingIOError:
            s.close()
            if time.monotonic() >= end:
                raise
            time.sleep(0.002)


def status_of(data):
    """The status of the first answer in data, or 0."""
    if not data.startswith(b"HTTP/1.1 "):
        return 0
    try:
        return int(data[9:12])
    except ValueError:
        return 0


def read_response(s, buf):
    """One HTTP/1.1 response (Content-Length framed); returns (status, rest)."""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    length = 0
    for h in head.split(b"\r\n")[1:]:
        k, _, v = h.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    while len(rest) < length:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        rest += chunk
    return status_of(head), rest[length:]


def quantiles(lat):
    lat = sorted(lat)
    if not lat:
        return {"p50_ms": None, "p99_ms": None, "max_ms": None}
    q = lambda p: round(lat[min(len(lat) - 1, int(p * len(lat)))], 2)
    return {"p50_ms": q(0.50), "p99_ms": q(0.99), "max_ms": round(lat[-1], 2)}


def good(sock, seconds):
    """Sign one request at a time, each on a new connection."""
    lat, statuses, n = [], {}, 0
    end = time.monotonic() + seconds
    while time.monotonic() < end and n < 100000:
        n += 1
        rid = f"t-hostile-{os.getpid()}-{n}"
        dg = base64.b64encode(hashlib.sha256(rid.encode()).digest()).decode()
        body = json.dumps({"key": "demo-ec", "digest": dg,
                           "digest_alg": "sha256", "request_id": rid})
        t0 = time.perf_counter()
        try:
            s = connect(sock, 10)
            s.sendall(SIGN_REQ.format(len(body), body).encode())
            status, _ = read_response(s, b"")
            s.close()
        except (OSError, ConnectionError, ValueError):
            status = 0
        lat.append((time.perf_counter() - t0) * 1000)
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    errors = sum(v for k, v in statuses.items() if k != "200")
    return dict(quantiles(lat), requests=n, errors=errors, statuses=statuses)


class Conns:
    """Connections being watched: what seald answers each, and when it
    closes it."""

    def __init__(self):
        self.poll = select.poll()
        self.conns = {}  # fd -> [socket, opened at, first bytes]
        self.closed_ms = []
        self.status = {}

    def add(self, s):
        s.setblocking(False)
        self.conns[s.fileno()] = [s, time.monotonic(), b""]
        self.poll.register(s, select.POLLIN)

    def _end(self, fd):
        s, t0, data = self.conns.pop(fd)
        self.poll.unregister(fd)
        if not data:  # what it was answered, read only now
            try:
                data = s.recv(64)
            except OSError:
                pass
        self.closed_ms.append((time.monotonic() - t0) * 1000)
        st = str(status_of(data))
        self.status[st] = self.status.get(st, 0) + 1
        s.close()

    def watch(self, ms, read=True):
        """Wait up to ms for answers and ends; with read False only the
        ends (POLLHUP) are seen and nothing is read."""
        for fd, ev in self.poll.poll(ms):
            if fd not in self.conns:
                continue
            if not read:
                if ev & (select.POLLHUP | select.POLLERR):
                    self._end(fd)
                continue
            c = self.conns[fd]
            try:
                b = c[0].recv(4096)
            except BlockingIOError:
                continue
            except OSError:
                b = b""
            if not b:
                self._end(fd)
            elif len(c[2]) < 64:
                c[2] += b

    def result(self):
        return {"closed_by_seald": len(self.closed_ms),
                "answered": self.status,
                "closed_after": quantiles(self.closed_ms),
                "open_at_end": len(self.conns)}


def open_some(sock, conns, n, first=b""):
    """Open up to n connections (send first on each); how many opened,
    how many connects failed."""
    opened = failed = 0
    for _ in range(n):
        try:
            s = connect(sock, 3.0)
            if first:
                s.sendall(first)
        except OSError:
            failed += 1
            continue
        conns.add(s)
        opened += 1
    return opened, failed


def idle(sock, n, seconds):
    """A stranger tries to hold n idle connections for seconds."""
    files_for(n)
    conns, connects, failed, most = Conns(), 0, 0, 0
    end = time.monotonic() + seconds
    while time.monotonic() < end and connects < 10 * n:
        want = min(n - len(conns.conns), 10 * n - connects)
        o, f = open_some(sock, conns, min(want, 200))
        connects += o
        failed += f
        most = max(most, len(conns.conns))
        conns.watch(20)
    grace = time.monotonic() + 5
    while conns.conns and time.monotonic() < grace:
        conns.watch(100)
    return dict(conns.result(), connects=connects, connect_failed=failed,
                most_open_at_once=most)


def slow(sock, n, seconds):
    """n connections send a request head, one byte a second."""
    files_for(n)
    conns = Conns()
    opened, failed = open_some(sock, conns, n, b"POST /v1/sign HTTP/1.1\r\n")
    end = time.monotonic() + seconds
    tick = time.monotonic()
    while time.monotonic() < end and conns.conns:
        conns.watch(100)
        if time.monotonic() - tick >= 1:
            tick = time.monotonic()
            for fd, c in list(conns.conns.items()):
                try:
                    c[0].send(b"X")
                except OSError:
                    pass
    return dict(conns.result(), opened=opened, connect_failed=failed)


def noread(sock, n, seconds):
    """n connections pipeline 64 requests each and never read."""
    files_for(n)
    conns = Conns()
    opened, failed = open_some(sock, conns, n, KEYS_REQ * 64)
    end = time.monotonic() + seconds
    while time.monotonic() < end and conns.conns:
        conns.watch(100, read=False)
    res = conns.result()
    # now, and only now, what the first answer was on those still open
    first = {}
    for fd, c in list(conns.conns.items()):
        try:
            st = str(status_of(c[0].recv(64)))
        except OSError:
            st = "0"
        first[st] = first.get(st, 0) + 1
    return dict(res, opened=opened, connect_failed=failed,
                first_answer_of_those_open=first)


def flood_worker(sock, rate, seconds, out):
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
        try:
            connect(sock).close()
            ok += 1
        except OSError:
            refused += 1
    out.put((ok, refused))


def flood(sock, rate, seconds):
    out = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=flood_worker,
                                     args=(sock, rate / 4, seconds, out),
                                     daemon=True) for _ in range(4)]
    t0 = time.monotonic()
    for p in procs:
        p.start()
    ok = refused = 0
    for _ in procs:
        a, b = out.get(timeout=seconds + 30)
        ok += a
        refused += b
    for p in procs:
        p.join()
    return {"connects": ok, "refused": refused,
            "per_second": round((ok + refused) / (time.monotonic() - t0))}


def stat(pid):
    with open(f"/proc/{pid}/status") as f:
        rss = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
    try:
        nfiles = len(os.listdir(f"/proc/{pid}/fd"))
    except PermissionError:
        out = subprocess.run(["sudo", "-n", "ls", f"/proc/{pid}/fd"],
                             capture_output=True, text=True, check=True)
        nfiles = len(out.stdout.split())
    return {"rss_kb": rss, "open_files": nfiles}


def answer(sock, head):
    """What seald answers a caller that sends head, then trickles."""
    s = connect(sock, 5)
    if head:
        s.sendall(head.replace("\\r\\n", "\r\n").encode())
    s.settimeout(0.5)
    t0, got, trickle = time.monotonic(), b"", bool(head)
    while time.monotonic() - t0 < 8:
        try:
            b = s.recv(4096)
            if not b:
                break
            got += b
        except socket.timeout:
            if trickle:
                try:
                    s.send(b" ")
                except OSError:
                    # seald shut the connection as this byte went: its
                    # answer is still there to read
                    trickle = False
        except OSError:
            break
    ms = int((time.monotonic() - t0) * 1000)
    print(got.split(b"\r\n")[0].decode("latin-1"), ms)


def crowd(sock, n):
    """A client connected before n idle ones still signs."""
    files_for(n)
    first = connect(sock, 10)
    conns = Conns()
    opened, _ = open_some(sock, conns, n, b"POST /v1/sign HTTP/1.1\r\n")
    time.sleep(1)
    body = json.dumps({"key": "demo-ec", "digest": base64.b64encode(
        hashlib.sha256(b"crowd").digest()).decode(), "digest_alg": "sha256",
        "request_id": f"t-crowd-{os.getpid()}"})
    first.sendall(SIGN_REQ.format(len(body), body).encode())
    status, _ = read_response(first, b"")
    print("HTTP", status, opened)


def main():
    role, a = sys.argv[1], sys.argv[2:]
    if role == "crowd":
        crowd(a[0], int(a[1]))
        return
    if role == "answer":
        answer(a[0], a[1] if len(a) > 1 else "")
        return
    if role == "stat":
        res = stat(int(a[0]))
    elif role == "good":
        res = good(a[0], float(a[1]))
    elif role == "flood":
        res = flood(a[0], float(a[1]), float(a[2]))
    else:
        fn = {"idle": idle, "slow": slow, "noread": noread}[role]
        res = fn(a[0], int(a[1]), float(a[2]))
    print(json.dumps(res))


if __name__ == "__main__":
    main()
