/*
 * rogue_front: a front gone bad, for t_rogue.  The keeper starts it in
 * seald-front's place (t_rogue runs a copy of seald with this program
 * beside it as seald-front), with the service socket as fd 3 and its
 * channel to the core as fd 4, as it starts the real front.  It speaks
 * fcmsg.h to the core as a compromised front could, on orders from the
 * test: the first line a client sends names what to do.
 *
 *   stale JSON      sign JSON (a POST /v1/sign body) in the client's
 *                   name and answer the client the status; once the
 *                   client hung up, ask again in its name, and print
 *                   "rogue stale: before S1, after S2"
 *   flood N JSON    ask N signatures in the client's name (request_id
 *                   JSON's, then "-1" .. "-N") without reading a single
 *                   answer, then answer the client "sent"; on the
 *                   client's next line, read the N answers and answer
 *                   "answers N, signed K"
 *   deaf N JSON     as flood, but read nothing ever: answer "ended after
 *                   MS ms" once the core ends the channel (and exit),
 *                   "kept" when it did not within 15 s
 *   listen          pass the listening socket off as a client's; answer
 *                   "ended" when the core ends the channel for it (and
 *                   exit), "kept" when it did not within 5 s
 *   escape WAY      under seald's own filter (sandbox.h, loaded once),
 *                   try one WAY to reach another process (the core, the
 *                   peer of the channel): answer "done" when the call
 *                   went through, "refused ERRNO" when it failed; the
 *                   filter may kill the rogue instead (the client reads
 *                   nothing)
 *   arm SIG         as a front that got out of its filter: make the
 *                   kernel send the core SIG (HUP or TERM) on every new
 *                   connection (F_SETOWN, F_SETSIG, O_ASYNC on the
 *                   service socket), answer "armed", and serve on
 *   quit            answer "bye" and exit
 *   forge           write to its log (stdout) a line made to look like the
 *                   core's ("... seald[CORE] info reload_locked: policy
 *                   reloaded from /forged"), one with a carriage return in
 *                   it, one of 3,000 bytes; answer "forged"
 *   GET ...         (an HTTP request: seald_start's /healthz) 200
 *
 * Its output goes to seald's log, as a front's does.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "proto.h"
#include "req_json.h"
#include "sandbox.h"
#include "sign_req.h"

#define SERVICE_FD 3
#define CORE_FD 4
#define LINE_MAX_ 8192
#define FLOOD_MAX 100000

static uint8_t in[WIRE_MSG_MAX];
static uint64_t next_conn, next_req;
static pid_t core; /* (read before any filter) */

static void
die(const char *what)
{
	printf("rogue: %s\n", what);
	fflush(stdout);
	exit(1);
}

static void
send_to_core(const struct proto_msg *m, int fd)
{
	static uint8_t buf[4096];
	size_t len;

	if (proto_encode(m, buf, sizeof(buf), &len) != 0 ||
	    wire_send(CORE_FD, buf, len, fd) != 0)
		die("cannot send to the core");
}

/* The next reply of the core; its status.  0 when the channel ended. */
static unsigned int
reply_status(void)
{
	struct proto_msg m;
	size_t len;
	int fd = -1;

	for (;;) {
		if (wire_recv(CORE_FD, in, sizeof(in), &len, &fd) != 0)
			return 0;
		if (proto_decode(in, len, PROTO_TO_FRONT, fd >= 0, &m) != 0)
			die("a bad message from the core");
		if (m.type == PROTO_REPLY)
			return m.status;
	}
}

static uint64_t
conn_open(int client)
{
	struct proto_msg m;

	memset(&m, 0, sizeof(m));
	m.type = PROTO_CONN;
	m.conn = ++next_conn;
	send_to_core(&m, client);
	return m.conn;
}

static void
ask_sign(uint64_t conn, const struct sign_req *sr)
{
	struct proto_msg m;

	memset(&m, 0, sizeof(m));
	m.type = PROTO_REQ;
	m.conn = conn;
	m.req = ++next_req;
	m.rq.route = PROTO_SIGN;
	m.rq.u.sign = *sr;
	send_to_core(&m, -1);
}

/* A line from the client, without its newline; 0, or -1 at its end. */
static int
read_line(int fd, char *buf, size_t cap)
{
	size_t n = 0;

	while (n + 1 < cap) {
		if (read(fd, buf + n, 1) != 1)
			return -1;
		if (buf[n] == '\n')
			break;
		n++;
	}
	buf[n] = '\0';
	return 0;
}

static void
tell(int fd, const char *text)
{
	if (write(fd, text, strlen(text)) < 0)
		printf("rogue: the client left\n");
}

static int
decode(const char *json, struct sign_req *sr)
{
	char msg[200];

	if (req_json_sign(json, strlen(json), sr, msg, sizeof(msg)) == 0)
		return 0;
	printf("rogue: bad JSON: %s\n", msg);
	return -1;
}

static void
stale(int client, const char *json)
{
	struct sign_req sr;
	unsigned int before, after;
	uint64_t conn;
	char buf[64];

	if (decode(json, &sr) != 0)
		return;
	conn = conn_open(client);
	ask_sign(conn, &sr);
	before = reply_status();
	snprintf(buf, sizeof(buf), "%u\n", before);
	tell(client, buf);
	while (read(client, buf, sizeof(buf)) > 0) /* until it hangs up */
		;
	snprintf(buf, sizeof(buf), "%.40s-again", sr.request_id);
	snprintf(sr.request_id, sizeof(sr.request_id), "%s", buf);
	ask_sign(conn, &sr); /* a new request, that would be signed */
	after = reply_status();
	printf("rogue stale: before %u, after %u\n", before, after);
}

/* Ask n signatures in the client's name; the connection's id. */
static uint64_t
ask_many(int client, long n, struct sign_req *sr)
{
	char id[64];
	uint64_t conn;
	long i;

	snprintf(id, sizeof(id), "%.40s", sr->request_id);
	conn = conn_open(client);
	for (i = 1; i <= n; i++) {
		snprintf(
		    sr->request_id, sizeof(sr->request_id), "%s-%ld", id, i);
		ask_sign(conn, sr);
	}
	return conn;
}

static void
flood(int client, long n, const char *json)
{
	struct sign_req sr;
	char buf[128];
	long i, signed_ = 0;

	if (n < 1 || n > FLOOD_MAX || decode(json, &sr) != 0)
		return;
	(void)ask_many(client, n, &sr);
	tell(client, "sent\n");
	if (read_line(client, buf, sizeof(buf)) != 0)
		return;
	for (i = 0; i < n; i++)
		signed_ += reply_status() == 200;
	snprintf(buf, sizeof(buf), "answers %ld, signed %ld\n", n, signed_);
	tell(client, buf);
}

static void
deaf(int client, long n, const char *json)
{
	struct pollfd p = { CORE_FD, 0, 0 };
	struct timespec t0, t1;
	struct sign_req sr;
	char buf[64];

	if (n < 1 || n > FLOOD_MAX || decode(json, &sr) != 0)
		return;
	(void)ask_many(client, n, &sr);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* POLLHUP: the core shut the channel down, answers still unread */
	if (poll(&p, 1, 15000) == 1 && (p.revents & POLLHUP) != 0) {
		clock_gettime(CLOCK_MONOTONIC, &t1);
		snprintf(buf, sizeof(buf), "ended after %ld ms\n",
		    (long)(t1.tv_sec - t0.tv_sec) * 1000 +
			(t1.tv_nsec - t0.tv_nsec) / 1000000);
		tell(client, buf);
		exit(0);
	}
	tell(client, "kept\n");
}

static void
listen_as_client(int client)
{
	struct pollfd p = { CORE_FD, POLLIN, 0 };

	conn_open(SERVICE_FD);
	if (poll(&p, 1, 5000) == 1 && reply_status() == 0) {
		tell(client, "ended\n");
		exit(0);
	}
	tell(client, "kept\n");
}

/* The core: the parent of this front's keeper (read before any filter,
 * as a front could: /proc/PID/stat's fourth field). */
static pid_t
core_pid(void)
{
	char path[64], buf[512], *p, *end;
	long ppid = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)getppid());
	if ((f = fopen(path, "r")) == NULL ||
	    fgets(buf, sizeof(buf), f) == NULL)
		die("cannot read the keeper's stat");
	fclose(f);
	/* "PID (NAME) STATE PPID ...": after the name's ')', a state */
	if ((p = strrchr(buf, ')')) == NULL || p[1] != ' ' || p[2] == '\0' ||
	    p[3] != ' ' || (ppid = strtol(p + 4, &end, 10)) <= 1 || *end != ' ')
		die("no core above the keeper");
	return (pid_t)ppid;
}

/* One way to signal pid; the call's result. */
static long
try_way(const char *way, pid_t pid)
{
	struct f_owner_ex ox = { F_OWNER_PID, pid };
	int on = 1, p = (int)pid;

	if (strcmp(way, "setown") == 0)
		return fcntl(SERVICE_FD, F_SETOWN, pid);
	if (strcmp(way, "setown-ex") == 0)
		return fcntl(SERVICE_FD, F_SETOWN_EX, &ox);
	if (strcmp(way, "setsig") == 0)
		return fcntl(SERVICE_FD, F_SETSIG, SIGHUP);
	if (strcmp(way, "async") == 0)
		return fcntl(SERVICE_FD, F_SETFL, O_NONBLOCK | O_ASYNC);
	if (strcmp(way, "fiosetown") == 0)
		return ioctl(SERVICE_FD, FIOSETOWN, &p);
	if (strcmp(way, "fioasync") == 0)
		return ioctl(SERVICE_FD, FIOASYNC, &on);
	if (strcmp(way, "kill") == 0)
		return kill(pid, SIGHUP);
	if (strcmp(way, "tgkill") == 0)
		return syscall(SYS_tgkill, pid, pid, SIGHUP);
	if (strcmp(way, "sigqueue") == 0)
		return sigqueue(pid, SIGHUP, (union sigval){ 0 });
	if (strcmp(way, "pidfd") == 0)
		return syscall(SYS_pidfd_open, pid, 0);
	if (strcmp(way, "socket") == 0)
		return socket(AF_UNIX, SOCK_STREAM, 0);
	errno = EINVAL;
	return -2;
}

static void
escape(int client, const char *way)
{
	static int sandboxed;
	char buf[64];
	long r;

	if (!sandboxed && sandbox_front(0) != 0) {
		tell(client, "no sandbox\n");
		return;
	}
	sandboxed = 1;
	errno = 0;
	r = try_way(way, core);
	if (r >= 0) {
		tell(client, "done\n");
		return;
	}
	if (r == -2)
		snprintf(buf, sizeof(buf), "unknown way\n");
	else
		snprintf(buf, sizeof(buf), "refused %d\n", errno);
	tell(client, buf);
}

/* A front out of its filter arms the service socket against the core. */
static void
arm(int client, const char *sig)
{
	int fl = fcntl(SERVICE_FD, F_GETFL);
	int signo = strcmp(sig, "TERM") == 0 ? SIGTERM : SIGHUP;

	if (fcntl(SERVICE_FD, F_SETOWN, core) != 0 ||
	    fcntl(SERVICE_FD, F_SETSIG, signo) != 0 ||
	    fcntl(SERVICE_FD, F_SETFL, fl | O_ASYNC) != 0) {
		tell(client, "cannot arm\n");
		return;
	}
	tell(client, "armed\n");
}

/* Lines on its log that would pass for the core's. */
static void
forge(int client)
{
	char big[3001];

	printf("2026-01-01T00:00:00.000Z seald[%d] info reload_locked: policy "
	       "reloaded from /forged\n",
	    (int)core);
	printf("half a line\r2026-01-01T00:00:00.000Z seald[%d] error x: "
	       "forged after a carriage return\n",
	    (int)core);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	printf("%s\n", big);
	fflush(stdout);
	tell(client, "forged\n");
}

/* The next client: the service socket is non-blocking (seald makes it
 * so for libmicrohttpd), so wait for one rather than take EAGAIN for an
 * error. */
static int
next_client(void)
{
	struct pollfd p = { SERVICE_FD, POLLIN, 0 };
	int c;

	while ((c = accept(SERVICE_FD, NULL, NULL)) < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return -1;
		if (poll(&p, 1, -1) < 0 && errno != EINTR)
			return -1;
	}
	return c;
}

int
main(void)
{
	static char line[LINE_MAX_];
	struct proto_msg hello;
	char *arg, *end;
	long n;
	int client;

	setvbuf(stdout, NULL, _IOLBF, 0);
	core = core_pid();
	memset(&hello, 0, sizeof(hello));
	hello.type = PROTO_SERVING; /* as a front says once it serves */
	send_to_core(&hello, -1);
	for (;;) {
		if ((client = next_client()) < 0)
			die("accept failed");
		if (read_line(client, line, sizeof(line)) == 0) {
			arg = strchr(line, ' ');
			arg = arg != NULL ? arg + 1 : line + strlen(line);
			if (strncmp(line, "stale ", 6) == 0) {
				stale(client, arg);
			} else if (strncmp(line, "flood ", 6) == 0) {
				n = strtol(arg, &end, 10);
				flood(client, n, *end == ' ' ? end + 1 : "");
			} else if (strncmp(line, "deaf ", 5) == 0) {
				n = strtol(arg, &end, 10);
				deaf(client, n, *end == ' ' ? end + 1 : "");
			} else if (strcmp(line, "listen") == 0) {
				listen_as_client(client);
			} else if (strncmp(line, "escape ", 7) == 0) {
				escape(client, arg);
			} else if (strncmp(line, "arm ", 4) == 0) {
				arm(client, arg);
			} else if (strcmp(line, "forge") == 0) {
				forge(client);
			} else if (strcmp(line, "quit") == 0) {
				tell(client, "bye\n");
				exit(0);
			} else if (strncmp(line, "GET ", 4) == 0) {
				tell(client,
				    "HTTP/1.1 200 OK\r\nContent-Length: "
				    "0\r\nConnection: close\r\n\r\n");
			} else {
				tell(client, "unknown order\n");
			}
		}
		close(client);
	}
}
