#!/usr/bin/env python3
"""pgcut.py: a PostgreSQL wire-protocol proxy that cuts one connection on
cue, for the in-doubt commit test (t_indoubt.sh).

    pgcut.py DIR PORT UPSTREAM_SOCKET [LOGFILE]

listens at DIR/.s.PGSQL.PORT (libpq: host=DIR port=PORT) and forwards each
connection to the server socket UPSTREAM_SOCKET, parsing both streams into
messages (frontend: an untyped start-up message, then type byte + int32
length; backend: type byte + int32 length; the one-byte answers to
SSLRequest and GSSENCRequest too).  It does nothing else until armed by
the file DIR/arm, one line:

    MODE TYPE REGEX

TYPE is the frontend message whose query text is matched (Q: simple
query; P: Parse, as PQexecParams sends; B: Bind of a prepared statement,
as PQexecPrepared sends), REGEX a Python regular expression searched in
that text.  A Bind's text is its statement's, then " -- bind " and one
word per parameter, comma-separated: [N] for a binary one-dimensional
array of N elements, b another binary value, t a text one, null.  On the first match while armed, in
mode `after` the message and what follows it up to the Sync (or the Q
itself) reach the server; the server's answers are held back; when its
ReadyForQuery arrives (the statement committed, or failed) both sides are
closed and the client gets none of it.  Mode `hold` is `after` that
closes only the client's side: the server's session lives on (as behind a
network partition) until the proxy gets SIGUSR1.  In mode `before` both
sides are closed at once and the message never reaches the server.  A
cut removes the arm file (only one connection can claim it) and writes
DIR/fired: the number of cuts so far.  A line per connection and per cut goes to LOGFILE
(default DIR/pgcut.log).  Stops on SIGTERM or SIGINT; every wait blocks
(no polling), one thread per direction per connection.
"""
import os
import re
import signal
import socket
import struct
import sys
import threading
import time

MSG_MAX = 64 << 20  # a longer message means a parse error: cut
SSL_REQUEST = 80877103
GSS_REQUEST = 80877104
CANCEL_REQUEST = 80877102



def split_typed(buf):
    """The first typed message of buf (type byte, int32 length counting
    itself, payload): (message, rest), or (None, buf) while it is not
    whole yet.  ValueError on a length out of bounds."""
    if len(buf) < 5:
        return None, buf
    n = struct.unpack("!I", buf[1:5])[0]
    if n < 4 or n > MSG_MAX:
        raise ValueError("bad message length %d" % n)
    if len(buf) < 1 + n:
        return None, buf
    return buf[: 1 + n], buf[1 + n :]

class Proxy:
    def __init__(self, ctl_dir, logfile):
        self.dir = ctl_dir
        self.arm = os.path.join(ctl_dir, "arm")
        self.fired = os.path.join(ctl_dir, "fired")
        self.lock = threading.RLock()  # signal handlers take it too
        self.cuts = 0
        self.nconn = 0
        self.held = []  # connections whose server session is held
        self.logf = open(logfile, "a", buffering=1)

    def log(self, msg):
        now = time.time()
        t = time.strftime("%H:%M:%S", time.localtime(now))
        with self.lock:
            self.logf.write("%s.%03d %s\n" % (t, int(now * 1000) % 1000, msg))

    def armed(self, mtype, text):
        """(mode, regex) of the arm file when it asks for this message,
        else None."""
        try:
            with open(self.arm, "r", encoding="utf-8") as f:
                line = f.readline().rstrip("\n")
        except OSError:
            return None
        parts = line.split(" ", 2)
        if len(parts) != 3 or parts[0] not in ("after", "before", "hold"):
            return None
        if parts[1].encode() != mtype:
            return None
        try:
            if re.search(parts[2], text) is None:
                return None
        except re.error:
            return None
        return parts[0], parts[2]

    def claim(self, cid):
        """Take the arming (one connection wins); True if this one did."""
        taken = "%s.%d" % (self.arm, cid)
        try:
            os.rename(self.arm, taken)
        except OSError:
            return False
        os.unlink(taken)
        return True

    def record_cut(self):
        with self.lock:
            self.cuts += 1
            n = self.cuts
        tmp = self.fired + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write("%d\n" % n)
        os.rename(tmp, self.fired)
        return n


class Conn:
    """One client connection and its server connection."""

    def __init__(self, proxy, cid, client, upstream):
        self.p = proxy
        self.cid = cid
        self.c = client
        self.s = upstream
        self.lock = threading.Lock()
        # after an armed message: None, "forwarding" (up to the Sync),
        # "waiting" (for the server's ReadyForQuery), "done" (held)
        self.cut = None
        self.closed = False
        self.raw_replies = 0  # one-byte answers owed by the server
        self.mode = ""
        self.mode_what = ""
        self.held = False  # the client is gone, the server session kept
        self.stmts = {}  # prepared statement name: its text

    def close(self, why):
        with self.lock:
            if self.closed:
                return
            self.closed = True
        for sk in (self.c, self.s):
            try:
                sk.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sk.close()
        self.p.log("conn %d: closed (%s)" % (self.cid, why))

    def send(self, sk, data):
        try:
            sk.sendall(data)
            return True
        except OSError:
            return False

    @staticmethod
    def recv(sk):
        try:
            return sk.recv(65536)
        except OSError:
            return b""

    def hold(self):
        """Close the client's side only; SIGUSR1 closes the rest."""
        with self.lock:
            self.held = True
        try:
            self.c.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        with self.p.lock:
            self.p.held.append(self)

    def frontend(self):
        """Client to server."""
        buf = b""
        startup = True
        while True:
            data = self.recv(self.c)
            if not data:
                with self.lock:
                    held = self.held
                if not held:
                    self.close("client closed")
                return
            buf += data
            while True:
                if startup:
                    if len(buf) < 8:
                        break
                    n = struct.unpack("!I", buf[:4])[0]
                    if n < 8 or n > MSG_MAX:
                        self.close("bad start-up length %d" % n)
                        return
                    if len(buf) < n:
                        break
                    msg, buf = buf[:n], buf[n:]
                    code = struct.unpack("!I", msg[4:8])[0]
                    if code in (SSL_REQUEST, GSS_REQUEST):
                        with self.lock:
                            self.raw_replies += 1
                    elif code != CANCEL_REQUEST:
                        startup = False
                    if not self.send(self.s, msg):
                        self.close("server gone")
                        return
                    continue
                try:
                    msg, buf = split_typed(buf)
                except ValueError as e:
                    self.close("client: %s" % e)
                    return
                if msg is None:
                    break
                mtype = msg[:1]
                if not self.handle_frontend(mtype, msg):
                    return

    def query_text(self, mtype, msg):
        body = msg[5:]
        if mtype == b"Q":
            q = body.split(b"\0", 1)[0]
        elif mtype == b"P":
            parts = body.split(b"\0", 2)
            q = parts[1] if len(parts) > 1 else b""
            self.stmts[parts[0]] = q
        elif mtype == b"B":
            return self.bind_text(body)
        else:
            return None
        return q.decode("utf-8", "replace")

    def bind_text(self, body):
        """The text a Bind is matched by (see the module's doc)."""
        try:
            rest = body.split(b"\0", 1)[1]  # after the portal's name
            name, rest = rest.split(b"\0", 1)
            nf = struct.unpack("!h", rest[:2])[0]
            fmts = struct.unpack("!%dh" % nf, rest[2 : 2 + 2 * nf])
            rest = rest[2 + 2 * nf :]
            np = struct.unpack("!h", rest[:2])[0]
            rest = rest[2:]
            words = []
            for i in range(np):
                n = struct.unpack("!i", rest[:4])[0]
                v, rest = (b"", rest[4:]) if n < 0 else (rest[4 : 4 + n], rest[4 + n :])
                binary = (fmts[i] if nf > 1 else fmts[0] if nf == 1 else 0) == 1
                if n < 0:
                    words.append("null")
                elif not binary:
                    words.append("t")
                elif len(v) >= 12 and struct.unpack("!i", v[:4])[0] == 0:
                    words.append("[0]")
                elif len(v) >= 20 and struct.unpack("!i", v[:4])[0] == 1:
                    words.append("[%d]" % struct.unpack("!i", v[12:16])[0])
                else:
                    words.append("b")
        except (ValueError, struct.error):
            return None
        q = self.stmts.get(name, b"").decode("utf-8", "replace")
        return "%s -- bind %s" % (q, ",".join(words))

    def handle_frontend(self, mtype, msg):
        """Forward (or hold, or cut at) one frontend message; False once
        the connection is closed."""
        with self.lock:
            cut = self.cut
        if cut in ("waiting", "done"):
            return True  # nothing more reaches the server
        if cut == "forwarding":
            if mtype == b"S":
                with self.lock:
                    self.cut = "waiting"
            if not self.send(self.s, msg):
                self.close("server gone")
                return False
            return True
        text = self.query_text(mtype, msg)
        arm = self.p.armed(mtype, text) if text is not None else None
        if arm is not None and self.p.claim(self.cid):
            mode = arm[0]
            what = "%s /%s/ (%.60r)" % (mtype.decode(), arm[1], text)
            if mode == "before":
                n = self.p.record_cut()
                self.p.log("conn %d: cut %d before %s: not forwarded" % (self.cid, n, what))
                self.close("cut before the message")
                return False
            with self.lock:
                self.cut = "waiting" if mtype == b"Q" else "forwarding"
                self.mode = mode
                self.mode_what = what
            self.p.log("conn %d: armed cut (%s) at %s: forwarded, answer held"
                       % (self.cid, mode, what))
        if not self.send(self.s, msg):
            self.close("server gone")
            return False
        return True

    def backend(self):
        """Server to client."""
        buf = b""
        while True:
            data = self.recv(self.s)
            if not data:
                self.close("server closed")
                return
            buf += data
            while True:
                with self.lock:
                    raw = self.raw_replies
                    cut = self.cut
                if raw > 0:
                    if not buf:
                        break
                    msg, buf = buf[:1], buf[1:]
                    with self.lock:
                        self.raw_replies -= 1
                    if not self.send(self.c, msg):
                        self.close("client gone")
                        return
                    continue
                try:
                    msg, buf = split_typed(buf)
                except ValueError as e:
                    self.close("server: %s" % e)
                    return
                if msg is None:
                    break
                mtype = msg[:1]
                if cut is None:
                    if not self.send(self.c, msg):
                        self.close("client gone")
                        return
                    continue
                # after the armed message: the client gets none of it
                if mtype == b"Z" and cut == "waiting":
                    with self.lock:
                        self.cut = "done"
                    n = self.p.record_cut()
                    self.p.log(
                        "conn %d: cut %d %s %s: server ready (status %r), answer dropped%s"
                        % (self.cid, n, self.mode, self.mode_what, msg[5:6].decode(),
                           "; server session held" if self.mode == "hold" else "")
                    )
                    if self.mode != "hold":
                        self.close("cut after the server's answer")
                        return
                    self.hold()


def serve(proxy, listen_path, upstream):
    try:
        os.unlink(listen_path)
    except FileNotFoundError:
        pass
    ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ls.bind(listen_path)
    os.chmod(listen_path, 0o777)  # seald may run as another user
    ls.listen(64)
    proxy.log("listening at %s, upstream %s" % (listen_path, upstream))
    while True:
        c, _ = ls.accept()
        proxy.nconn += 1
        cid = proxy.nconn
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(upstream)
        except OSError as e:
            proxy.log("conn %d: upstream connect failed: %s" % (cid, e))
            s.close()
            c.close()
            continue
        proxy.log("conn %d: open" % cid)
        conn = Conn(proxy, cid, c, s)
        for fn in (conn.frontend, conn.backend):
            threading.Thread(target=fn, daemon=True).start()


def main():
    if len(sys.argv) not in (4, 5):
        sys.stderr.write("usage: pgcut.py DIR PORT UPSTREAM_SOCKET [LOGFILE]\n")
        return 2
    d, port, upstream = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    logfile = sys.argv[4] if len(sys.argv) == 5 else os.path.join(d, "pgcut.log")
    proxy = Proxy(d, logfile)

    def stop(signum, frame):
        proxy.log("signal %d: exit" % signum)
        os._exit(0)

    def release(signum, frame):
        with proxy.lock:
            held, proxy.held = proxy.held, []
        proxy.log("signal %d: releasing %d held server session(s)" % (signum, len(held)))
        for conn in held:
            conn.close("held server session released")

    signal.signal(signal.SIGUSR1, release)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    serve(proxy, os.path.join(d, ".s.PGSQL.%d" % port), upstream)
    return 0


if __name__ == "__main__":
    sys.exit(main())
