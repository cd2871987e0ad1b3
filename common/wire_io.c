/*
 * wire_io: wire.h's messages over a stream socket.  wire_send and
 * wire_recv move one message a call; wire_in reads as many bytes as the
 * socket holds and hands them out a message at a time, so that a busy
 * channel costs one system call for several messages, not two for each.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "err.h"
#include "wire.h"

int
wire_send(int sock, const uint8_t *msg, size_t len, int fd)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} cm;
	struct iovec iov = { (void *)msg, len };
	struct msghdr mh;
	ssize_t n;

	if (len < WIRE_HDR || wire_length(msg) != len)
		return SD_ERR_BAD_REQUEST; /* not a message wire_end made */
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (fd >= 0) {
		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.b;
		mh.msg_controllen = sizeof(cm.b);
		cm.h.cmsg_level = SOL_SOCKET;
		cm.h.cmsg_type = SCM_RIGHTS;
		cm.h.cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(&cm.h), &fd, sizeof(int));
	}
	/* the fd travels with the first byte; the rest follows */
	while (iov.iov_len > 0) {
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return SD_ERR_SYSTEM;
		}
		iov.iov_base = (uint8_t *)iov.iov_base + n;
		iov.iov_len -= (size_t)n;
		mh.msg_control = NULL;
		mh.msg_controllen = 0;
	}
	return 0;
}

/* The fd a control message carried into *fd.  More than one fd in the
 * message, or a second one in a later part of it, fails it: every fd
 * received is closed then. */
static int
take_fds(struct msghdr *mh, int *fd)
{
	struct cmsghdr *c;
	size_t i, nfd;
	int got[16], ngot = 0;

	for (c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < nfd && ngot < 16; i++)
			memcpy(&got[ngot++], CMSG_DATA(c) + i * sizeof(int),
			    sizeof(int));
	}
	if ((mh->msg_flags & MSG_CTRUNC) == 0 && ngot <= 1 &&
	    (ngot == 0 || *fd < 0)) {
		if (ngot == 1)
			*fd = got[0];
		return 0;
	}
	for (i = 0; i < (size_t)ngot; i++)
		(void)close(got[i]);
	return SD_ERR_BAD_REQUEST;
}

/* One recvmsg of at most n bytes into p: 0 and the count in *got (0 at
 * the end of the stream), with the fd it carried in *fd (-1 when none);
 * SD_ERR_SYSTEM, or SD_ERR_BAD_REQUEST for fds take_fds refuses. */
static int
recv_some(int sock, uint8_t *p, size_t n, size_t *got, int *fd)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * 4)];
	} cm;
	struct iovec iov = { p, n };
	struct msghdr mh;
	ssize_t r;

	*fd = -1;
	*got = 0;
	do {
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = cm.b;
		mh.msg_controllen = sizeof(cm.b);
		r = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return SD_ERR_SYSTEM;
	if (take_fds(&mh, fd) != 0)
		return SD_ERR_BAD_REQUEST;
	*got = (size_t)r;
	return 0;
}

int
wire_recv(int sock, uint8_t *buf, size_t cap, size_t *len, int *fd)
{
	size_t have = 0, want = WIRE_HDR, n;
	int r = 0, got;

	*fd = -1;
	*len = 0;
	if (cap < WIRE_HDR)
		return SD_ERR_BAD_REQUEST;
	while (have < want) {
		if ((r = recv_some(sock, buf + have, want - have, &n, &got)) !=
		    0)
			break;
		if (got >= 0 && *fd >= 0) { /* a second fd, in a later part */
			(void)close(got);
			r = SD_ERR_BAD_REQUEST;
			break;
		}
		if (got >= 0)
			*fd = got;
		if (n == 0) {
			r = have == 0 ? SD_ERR_NOT_FOUND : SD_ERR_BAD_REQUEST;
			break;
		}
		have += n;
		if (have == WIRE_HDR && want == WIRE_HDR) {
			want = wire_length(buf);
			if (want == 0 || want > cap) {
				r = SD_ERR_BAD_REQUEST;
				break;
			}
		}
	}
	if (r == 0)
		*len = have;
	else if (*fd >= 0) {
		(void)close(*fd);
		*fd = -1;
	}
	return r;
}

/* --------------------------------------------------- buffered reader */

/* Past this, what is left moves to the front of the buffer before the
 * next read: a reader with a large buffer for rare large messages
 * touches little more than this of it. */
#define IN_COMPACT (64u * 1024)

void
wire_in_init(struct wire_in *in, int sock, uint8_t *buf, size_t cap)
{
	memset(in, 0, sizeof(*in));
	in->sock = sock;
	in->buf = buf;
	in->cap = cap;
	in->fd = -1;
}

void
wire_in_done(struct wire_in *in)
{
	if (in->fd >= 0)
		(void)close(in->fd);
	in->fd = -1;
}

static int
in_fail(struct wire_in *in, int r)
{
	wire_in_done(in);
	in->err = r;
	return r;
}

/* The offset of the last message that starts in buf[from..end), or cap
 * when none does (the bytes from `from` on continue one message). */
static size_t
last_start(const struct wire_in *in, size_t from)
{
	size_t b = in->start, last = in->cap, n;

	while (b < in->end) {
		if (b >= from)
			last = b;
		if (in->end - b < WIRE_HDR ||
		    (n = wire_length(in->buf + b)) == 0)
			break; /* a bad length fails when its message comes */
		b += n;
	}
	return last;
}

int
wire_in_next(struct wire_in *in, const uint8_t **msg, size_t *len, int *fd)
{
	size_t have, want, from, n;
	int r, got;

	*msg = NULL;
	*len = 0;
	*fd = -1;
	if (in->err != 0)
		return in->err;
	if (in->cap < WIRE_HDR)
		return in_fail(in, SD_ERR_BAD_REQUEST);
	for (;;) {
		have = in->end - in->start;
		want = WIRE_HDR;
		if (have >= WIRE_HDR &&
		    ((want = wire_length(in->buf + in->start)) == 0 ||
			want > in->cap))
			return in_fail(in, SD_ERR_BAD_REQUEST);
		if (have >= want) {
			*msg = in->buf + in->start;
			*len = want;
			if (in->fd >= 0 && in->fd_at == in->start) {
				*fd = in->fd;
				in->fd = -1;
			}
			in->start += want;
			return 0;
		}
		if (in->start > 0 &&
		    (have == 0 || in->cap - in->start < want ||
			in->end > IN_COMPACT)) {
			/* room for the rest, and for more: what is left
			 * goes to the front (with where a waiting fd
			 * belongs) */
			memmove(in->buf, in->buf + in->start, have);
			in->fd_at -= in->fd >= 0 ? in->start : 0;
			in->start = 0;
			in->end = have;
		}
		/* While an fd waits, its message is the one at start (those
		 * before it are whole, and handed out first): read only the
		 * rest of it.  The kernel gave the fd at the first touch of
		 * the bytes that carried it, so a longer read would go on
		 * into the next message, and bring that one's fd too. */
		if (in->fd >= 0 && in->fd_at != in->start)
			return in_fail(in, SD_ERR_BAD_REQUEST); /* cannot be */
		from = in->end;
		if ((r = recv_some(in->sock, in->buf + in->end,
			 in->fd >= 0 ? want - have : in->cap - in->end, &n,
			 &got)) != 0)
			return in_fail(in, r);
		if (n == 0)
			return in_fail(in,
			    have == 0 ? SD_ERR_NOT_FOUND : SD_ERR_BAD_REQUEST);
		in->end += n;
		if (got < 0)
			continue;
		/* the fd came with the first bytes of its message, and the
		 * kernel ends a read after the bytes that carry one: it
		 * belongs to the last message that starts in this read (an
		 * fd in a read where none starts fails).  One waits at most:
		 * the reads above do not reach another. */
		if (in->fd >= 0 ||
		    (in->fd_at = last_start(in, from)) == in->cap) {
			(void)close(got);
			return in_fail(in, SD_ERR_BAD_REQUEST);
		}
		in->fd = got;
	}
}
