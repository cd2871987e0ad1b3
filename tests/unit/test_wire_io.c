/*
 * test_wire_io: messages cross a socketpair whole, with one passed fd,
 * through both readers (wire_recv, one message a call; wire_in, as many
 * bytes as the socket holds): a second fd, an fd inside a message, too
 * many fds, a message larger than the buffer and an end inside a message
 * fail the stream and leave no fd open.  The buffered reader hands out
 * back-to-back messages in order across its buffer's end, and gives an
 * fd to the message it came with when others came in the same read.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>

#include "err.h"
#include "wire.h"

#define NTYPES 3

typedef int (*reader_fn)(
    int sock, uint8_t *buf, size_t cap, size_t *len, int *fd);

static uint8_t buf[4096];

/* open file descriptors of this process */
static int
open_fds(void)
{
	int n = 0, fd;

	for (fd = 0; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) != -1)
			n++;
	return n;
}

/* Message number i (type 1, its number and pad bytes of filler) into p
 * (cap bytes): its length. */
static size_t
message(uint8_t *p, size_t cap, uint32_t i, size_t pad)
{
	struct wire_w w;
	uint8_t fill[512];
	size_t len;

	assert_true(pad <= sizeof(fill));
	memset(fill, (int)(i & 0xff), pad);
	wire_begin(&w, p, cap, 1);
	wire_u32(&w, i);
	wire_bytes(&w, fill, pad);
	assert_int_equal(wire_end(&w, &len), 0);
	return len;
}

/* The number of message m[0..len), checked whole. */
static uint32_t
number(const uint8_t *m, size_t len)
{
	struct wire_r r;
	uint8_t fill[512];
	uint16_t type;
	uint32_t i;
	size_t n, k;

	assert_int_equal(wire_open(&r, m, len, NTYPES, &type), 0);
	assert_int_equal(type, 1);
	i = wire_get_u32(&r);
	n = wire_get_bytes(&r, fill, sizeof(fill));
	assert_int_equal(wire_close(&r), 0);
	for (k = 0; k < n; k++)
		assert_int_equal(fill[k], i & 0xff);
	return i;
}

/* wire_in as a one-message reader: a fresh reader a call (what a call
 * does not hand out is dropped: the tests below send one at a time) */
static int
in_recv(int sock, uint8_t *b, size_t cap, size_t *len, int *fd)
{
	struct wire_in in;
	const uint8_t *m;
	int r;

	wire_in_init(&in, sock, b, cap);
	r = wire_in_next(&in, &m, len, fd);
	assert_true(r != 0 || m == b);
	wire_in_done(&in);
	return r;
}

/* bytes with nfd copies of stdin, as a front could send them */
static void
send_fds(int sock, const uint8_t *p, size_t n, int nfd)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * 8)];
	} cm;
	struct iovec iov = { (void *)p, n };
	struct msghdr mh;
	int i, fd = STDIN_FILENO;

	memset(&mh, 0, sizeof(mh));
	memset(&cm, 0, sizeof(cm));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (nfd > 0) {
		mh.msg_control = cm.b;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfd);
		cm.h.cmsg_level = SOL_SOCKET;
		cm.h.cmsg_type = SCM_RIGHTS;
		cm.h.cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfd);
		for (i = 0; i < nfd; i++)
			memcpy(CMSG_DATA(&cm.h) + (size_t)i * sizeof(int), &fd,
			    sizeof(int));
	}
	assert_int_equal(sendmsg(sock, &mh, 0), (ssize_t)n);
}

static void
assert_stdin(int fd)
{
	struct stat a, b;

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &a), 0);
	assert_int_equal(fstat(STDIN_FILENO, &b), 0);
	assert_true(a.st_ino == b.st_ino && a.st_dev == b.st_dev);
}

/* The reader's next message is number i, with stdin's fd (closed
 * here) or without one. */
static void
next_is(struct wire_in *rd, uint32_t i, int with_fd)
{
	const uint8_t *m;
	size_t len;
	int fd;

	assert_int_equal(wire_in_next(rd, &m, &len, &fd), 0);
	assert_int_equal(number(m, len), i);
	if (!with_fd) {
		assert_int_equal(fd, -1);
		return;
	}
	assert_stdin(fd);
	close(fd);
}

/* A message of len bytes sent as its first `split` bytes with one fd
 * and the rest with another (or all of it with nfd fds): the reader
 * refuses it and leaves no fd open. */
static void
refuse_fds(reader_fn rd, size_t len, size_t split, int nfd)
{
	uint8_t in[sizeof(buf)];
	size_t got;
	int sv[2], fd, before;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	before = open_fds();
	send_fds(sv[0], buf, split, nfd);
	if (split < len)
		send_fds(sv[0], buf + split, len - split, 1);
	assert_int_equal(
	    rd(sv[1], in, sizeof(in), &got, &fd), SD_ERR_BAD_REQUEST);
	assert_int_equal(fd, -1);
	assert_int_equal(open_fds(), before);
	close(sv[0]);
	close(sv[1]);
}

/* What both readers must do with one message at a time. */
static void
one_at_a_time(reader_fn rd)
{
	uint8_t in[sizeof(buf)];
	size_t len = message(buf, sizeof(buf), 7, 100), got;
	int sv[2], fd;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	/* a message with an fd, then one without */
	assert_int_equal(wire_send(sv[0], buf, len, STDIN_FILENO), 0);
	assert_int_equal(wire_send(sv[0], buf, len, -1), 0);
	assert_int_equal(rd(sv[1], in, sizeof(in), &got, &fd), 0);
	assert_int_equal(got, len);
	assert_stdin(fd);
	close(fd);
	assert_int_equal(number(in, got), 7);
	assert_int_equal(rd(sv[1], in, sizeof(in), &got, &fd), 0);
	assert_int_equal(fd, -1);
	assert_int_equal(number(in, got), 7);
	/* wire_send sends only whole messages */
	assert_int_equal(
	    wire_send(sv[0], buf, 3, STDIN_FILENO), SD_ERR_BAD_REQUEST);
	/* a message larger than the reader's buffer */
	assert_int_equal(wire_send(sv[0], buf, len, -1), 0);
	assert_int_equal(rd(sv[1], in, len - 1, &got, &fd), SD_ERR_BAD_REQUEST);
	close(sv[0]);
	close(sv[1]);

	/* two fds in one message (the second with its later part), and
	 * more fds than the reader takes (MSG_CTRUNC): refused, none open */
	refuse_fds(rd, len, 1, 1);
	refuse_fds(rd, len, len / 2, 1);
	refuse_fds(rd, len, len, 8);

	/* a clean end of the stream; an end inside a message */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(send(sv[0], buf, len - 1, 0), (ssize_t)(len - 1));
	close(sv[0]);
	assert_int_equal(
	    rd(sv[1], in, sizeof(in), &got, &fd), SD_ERR_BAD_REQUEST);
	close(sv[1]);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	close(sv[0]);
	assert_int_equal(
	    rd(sv[1], in, sizeof(in), &got, &fd), SD_ERR_NOT_FOUND);
	close(sv[1]);
}

static void
test_recv_one_at_a_time(void **state)
{
	(void)state;
	one_at_a_time(wire_recv);
}

static void
test_in_one_at_a_time(void **state)
{
	(void)state;
	one_at_a_time(in_recv);
}

/* 300 messages of varied sizes sent back to back (one send), read with
 * a buffer a little larger than the largest: every one comes out whole
 * and in order, across the buffer's end; then the clean end. */
static void
test_in_back_to_back(void **state)
{
	static uint8_t all[300 * 600];
	uint8_t in[600];
	struct wire_in rd;
	const uint8_t *m;
	size_t n = 0, len, sent;
	uint32_t i;
	int sv[2], fd;

	(void)state;
	for (i = 0; i < 300; i++)
		n += message(all + n, sizeof(all) - n, i, (i * 37) % 500);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	for (sent = 0; sent < n;) { /* the socket holds part: send in turns */
		ssize_t w = send(sv[0], all + sent, n - sent, MSG_DONTWAIT);

		if (w < 0)
			break;
		sent += (size_t)w;
	}
	wire_in_init(&rd, sv[1], in, sizeof(in));
	for (i = 0; i < 300; i++) {
		while (sent < n && (size_t)(rd.end - rd.start) < 600) {
			ssize_t w =
			    send(sv[0], all + sent, n - sent, MSG_DONTWAIT);

			if (w <= 0)
				break;
			sent += (size_t)w;
		}
		assert_int_equal(wire_in_next(&rd, &m, &len, &fd), 0);
		assert_int_equal(fd, -1);
		assert_int_equal(number(m, len), i);
		assert_true(m >= in && m + len <= in + sizeof(in));
	}
	assert_int_equal(sent, n);
	close(sv[0]);
	assert_int_equal(wire_in_next(&rd, &m, &len, &fd), SD_ERR_NOT_FOUND);
	/* the error sticks */
	assert_int_equal(wire_in_next(&rd, &m, &len, &fd), SD_ERR_NOT_FOUND);
	close(sv[1]);
}

/* Messages with and without fds queued together: a read ends after the
 * bytes that carry an fd, so each fd goes with its own message, also
 * when messages before it came in the same read. */
static void
test_in_fds_go_with_their_message(void **state)
{
	uint8_t in[sizeof(buf)], b[3][700];
	size_t l[3], len;
	struct wire_in rd;
	const uint8_t *m;
	int sv[2], fd, i, before;

	(void)state;
	for (i = 0; i < 3; i++)
		l[i] = message(b[i], sizeof(b[i]), (uint32_t)i, 300);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	before = open_fds();
	/* 0 with an fd, 1 without, 2 with an fd, then 0 and 1 again */
	assert_int_equal(wire_send(sv[0], b[0], l[0], STDIN_FILENO), 0);
	assert_int_equal(wire_send(sv[0], b[1], l[1], -1), 0);
	assert_int_equal(wire_send(sv[0], b[2], l[2], STDIN_FILENO), 0);
	assert_int_equal(wire_send(sv[0], b[0], l[0], -1), 0);
	assert_int_equal(wire_send(sv[0], b[1], l[1], STDIN_FILENO), 0);
	wire_in_init(&rd, sv[1], in, sizeof(in));
	for (i = 0; i < 5; i++)
		next_is(&rd, (uint32_t)(i % 3), i % 2 == 0);
	/* an fd that waits for its message when the stream ends: closed */
	send_fds(sv[0], b[0], 10, 1);
	close(sv[0]);
	assert_int_equal(wire_in_next(&rd, &m, &len, &fd), SD_ERR_BAD_REQUEST);
	assert_int_equal(fd, -1);
	assert_int_equal(open_fds(), before - 1); /* sv[0] closed */
	close(sv[1]);
}

/* A second fd while one waits for its message: the first came with the
 * first bytes of message 0; the rest of it comes with message 1 and an
 * fd of its own: refused, none open. */
static void
test_in_one_fd_waits(void **state)
{
	uint8_t in[sizeof(buf)], b[2][700];
	size_t l0, l1, len;
	struct wire_in rd;
	const uint8_t *m;
	int sv[2], fd, before;

	(void)state;
	l0 = message(b[0], sizeof(b[0]), 0, 200);
	l1 = message(b[1], sizeof(b[1]), 1, 200);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	before = open_fds();
	memcpy(buf, b[0] + 10, l0 - 10);
	memcpy(buf + l0 - 10, b[1], l1);
	send_fds(sv[0], b[0], 10, 1);
	wire_in_init(&rd, sv[1], in, sizeof(in));
	/* the reader has the first 10 bytes and the fd before the rest */
	send_fds(sv[0], buf, l0 - 10 + l1, 1);
	assert_int_equal(wire_in_next(&rd, &m, &len, &fd), SD_ERR_BAD_REQUEST);
	assert_int_equal(fd, -1);
	wire_in_done(&rd);
	assert_int_equal(open_fds(), before);
	close(sv[0]);
	close(sv[1]);
}

/* A buffer of 40 bytes: message X (26 bytes), then A (16) with an fd,
 * then B (16) with an fd, queued together.  The first read takes X and
 * A's first 14 bytes with A's fd; A's rest moves to the front with it;
 * the read of A's rest must not go on into B (whose fd would come while
 * A's waits).  Each message gets its own fd. */
static void
test_in_fd_across_the_buffer_end(void **state)
{
	uint8_t in[40], x[64], a[32], b[32];
	size_t lx, la, lb;
	struct wire_in rd;
	int sv[2], before;

	(void)state;
	lx = message(x, sizeof(x), 1, 10);
	la = message(a, sizeof(a), 2, 0);
	lb = message(b, sizeof(b), 3, 0);
	assert_int_equal(lx, 26);
	assert_int_equal(la, 16);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	before = open_fds();
	assert_int_equal(wire_send(sv[0], x, lx, -1), 0);
	assert_int_equal(wire_send(sv[0], a, la, STDIN_FILENO), 0);
	assert_int_equal(wire_send(sv[0], b, lb, STDIN_FILENO), 0);
	wire_in_init(&rd, sv[1], in, sizeof(in));
	next_is(&rd, 1, 0);
	assert_int_equal(rd.end, sizeof(in)); /* A's first 14 bytes, its fd */
	assert_true(rd.fd >= 0);
	next_is(&rd, 2, 1);
	next_is(&rd, 3, 1);
	wire_in_done(&rd);
	assert_int_equal(open_fds(), before);
	close(sv[0]);
	close(sv[1]);
}

/* An fd that comes inside a message only: with a buffer of 40 bytes,
 * X (26 bytes) and Y's first 14 fill the first read; Y's last 2 bytes
 * come with an fd, in a read where no message starts. */
static void
test_in_fd_inside_a_message(void **state)
{
	uint8_t in[40], x[64], y[32];
	size_t lx, ly, len;
	struct wire_in rd;
	const uint8_t *m;
	int sv[2], fd, before;

	(void)state;
	lx = message(x, sizeof(x), 1, 10);
	ly = message(y, sizeof(y), 2, 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	before = open_fds();
	send_fds(sv[0], x, lx, 0);
	send_fds(sv[0], y, ly - 2, 0);
	send_fds(sv[0], y + ly - 2, 2, 1);
	wire_in_init(&rd, sv[1], in, sizeof(in));
	next_is(&rd, 1, 0);
	assert_int_equal(wire_in_next(&rd, &m, &len, &fd), SD_ERR_BAD_REQUEST);
	assert_int_equal(fd, -1);
	assert_int_equal(open_fds(), before);
	close(sv[0]);
	close(sv[1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_recv_one_at_a_time),
		cmocka_unit_test(test_in_one_at_a_time),
		cmocka_unit_test(test_in_back_to_back),
		cmocka_unit_test(test_in_fds_go_with_their_message),
		cmocka_unit_test(test_in_one_fd_waits),
		cmocka_unit_test(test_in_fd_across_the_buffer_end),
		cmocka_unit_test(test_in_fd_inside_a_message),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
