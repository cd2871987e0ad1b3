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
 *   GET ...         (an HTTP request: seald_start's /healthz) 200
 *
 * Its output goes to seald's log, as a front's does.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "fcmsg.h"
#include "sign_req.h"

#define SERVICE_FD 3
#define CORE_FD 4
#define LINE_MAX_ 8192
#define FLOOD_MAX 100000

static uint8_t in[WIRE_MSG_MAX];
static uint64_t next_conn, next_req;

static void
die(const char *what)
{
	printf("rogue: %s\n", what);
	fflush(stdout);
	exit(1);
}

static void
send_to_core(const struct fc_msg *m, int fd)
{
	static uint8_t buf[4096];
	size_t len;

	if (fc_encode(m, buf, sizeof(buf), &len) != 0 ||
	    wire_send(CORE_FD, buf, len, fd) != 0)
		die("cannot send to the core");
}

/* The next reply of the core; its status.  0 when the channel ended. */
static unsigned int
reply_status(void)
{
	struct fc_msg m;
	size_t len;
	int fd = -1;

	for (;;) {
		if (wire_recv(CORE_FD, in, sizeof(in), &len, &fd) != 0)
			return 0;
		if (fd >= 0 || fc_decode(in, len, &m) != 0)
			die("a bad message from the core");
		if (m.type == FC_REPLY)
			return m.status;
	}
}

static uint64_t
conn_open(int client)
{
	struct fc_msg m;

	memset(&m, 0, sizeof(m));
	m.type = FC_CONN;
	m.conn = ++next_conn;
	send_to_core(&m, client);
	return m.conn;
}

static void
ask_sign(uint64_t conn, const struct sign_req *sr)
{
	struct fc_msg m;

	memset(&m, 0, sizeof(m));
	m.type = FC_REQ;
	m.conn = conn;
	m.req = ++next_req;
	m.rq.route = CORE_SIGN;
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

	if (sign_req_decode(json, strlen(json), sr, msg, sizeof(msg)) == 0)
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
	char *arg, *end;
	long n;
	int client;

	setvbuf(stdout, NULL, _IOLBF, 0);
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
