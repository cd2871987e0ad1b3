/*
 * test_wire: the front/core messages round-trip byte for byte; every kind
 * of malformed message (short, long, trailing bytes, unknown type,
 * reserved bits, over-long or NUL-holding strings, a request the JSON
 * decoder would refuse) fails; and messages cross a socketpair whole,
 * with one passed fd, while a second fd fails the message.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>

#include "err.h"
#include "fcmsg.h"
#include "wire.h"

static uint8_t buf[1 << 16];

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

static struct fc_msg
sign_msg(void)
{
	struct fc_msg m;

	memset(&m, 0, sizeof(m));
	m.type = FC_SIGN;
	m.conn = 7;
	m.req = 0x0102030405060708ULL;
	snprintf(m.sign.key, sizeof(m.sign.key), "%s", "demo-ec");
	m.sign.digest_alg = SIGN_SHA256;
	memset(m.sign.digest, 0xab, 32);
	m.sign.digest_len = 32;
	snprintf(m.sign.format, sizeof(m.sign.format), "%s", "cms");
	snprintf(m.sign.request_id, sizeof(m.sign.request_id), "%s", "req-1");
	snprintf(m.sign.evidence_type, sizeof(m.sign.evidence_type), "%s",
	    "submission");
	snprintf(
	    m.sign.evidence_ref, sizeof(m.sign.evidence_ref), "%s", "msg 42");
	return m;
}

static size_t
encode(const struct fc_msg *m)
{
	size_t len;

	assert_int_equal(fc_encode(m, buf, sizeof(buf), &len), 0);
	return len;
}

static void
test_sign_round_trip(void **state)
{
	struct fc_msg m = sign_msg(), d;
	uint8_t again[sizeof(buf)];
	size_t len = encode(&m), len2;

	(void)state;
	assert_int_equal(fc_decode(buf, len, &d), 0);
	assert_int_equal(d.type, FC_SIGN);
	assert_true(d.conn == 7 && d.req == m.req);
	assert_memory_equal(&d.sign, &m.sign, sizeof(m.sign));
	assert_int_equal(fc_encode(&d, again, sizeof(again), &len2), 0);
	assert_int_equal(len2, len);
	assert_memory_equal(again, buf, len);
}

static void
test_reply_round_trip(void **state)
{
	static const char body[] = "{\"signature\":\"...\"}";
	struct fc_msg m, d;
	size_t len;

	(void)state;
	memset(&m, 0, sizeof(m));
	m.type = FC_REPLY;
	m.req = 9;
	m.status = 200;
	snprintf(m.ctype, sizeof(m.ctype), "%s", "application/json");
	m.body = (const uint8_t *)body;
	m.body_len = sizeof(body) - 1;
	len = encode(&m);
	assert_int_equal(fc_decode(buf, len, &d), 0);
	assert_int_equal(d.status, 200);
	assert_string_equal(d.ctype, "application/json");
	assert_int_equal(d.body_len, m.body_len);
	assert_memory_equal(d.body, body, m.body_len);
	/* a status out of HTTP's range, a content type with a space */
	m.status = 600;
	len = encode(&m);
	assert_int_equal(fc_decode(buf, len, &d), SD_ERR_BAD_REQUEST);
	m.status = 200;
	snprintf(m.ctype, sizeof(m.ctype), "%s", "text/plain; x");
	len = encode(&m);
	assert_int_equal(fc_decode(buf, len, &d), SD_ERR_BAD_REQUEST);
}

static void
test_every_prefix_and_extension_fails(void **state)
{
	struct fc_msg m = sign_msg(), d;
	size_t len = encode(&m), n;

	(void)state;
	for (n = 0; n < len; n++)
		assert_int_equal(fc_decode(buf, n, &d), SD_ERR_BAD_REQUEST);
	/* trailing bytes, with the header's length saying so */
	buf[len] = 0;
	buf[3] = (uint8_t)(len + 1);
	assert_int_equal(fc_decode(buf, len + 1, &d), SD_ERR_BAD_REQUEST);
	/* the header's length not the message's */
	buf[3] = (uint8_t)(len - 1);
	assert_int_equal(fc_decode(buf, len, &d), SD_ERR_BAD_REQUEST);
}

static void
test_header_rules(void **state)
{
	struct fc_msg m = sign_msg(), d;
	size_t len = encode(&m);

	(void)state;
	buf[7] = 1; /* reserved */
	assert_int_equal(fc_decode(buf, len, &d), SD_ERR_BAD_REQUEST);
	buf[7] = 0;
	buf[5] = FC_NTYPES; /* unknown type */
	assert_int_equal(fc_decode(buf, len, &d), SD_ERR_BAD_REQUEST);
	buf[5] = 0;
	assert_int_equal(fc_decode(buf, len, &d), SD_ERR_BAD_REQUEST);
	buf[5] = FC_CLOSE; /* a valid type whose fields do not match */
	assert_int_equal(fc_decode(buf, len, &d), SD_ERR_BAD_REQUEST);
	buf[0] = 0x80; /* over WIRE_MSG_MAX */
	assert_int_equal(wire_length(buf), 0);
}

/* sign_msg() with another key, written field by field as a front could:
 * the key is not bounded by struct sign_req */
static size_t
encode_with_key(const char *key)
{
	struct fc_msg m = sign_msg();
	struct wire_w w;
	size_t len;

	wire_begin(&w, buf, sizeof(buf), FC_SIGN);
	wire_u64(&w, m.conn);
	wire_u64(&w, m.req);
	wire_str(&w, key);
	wire_u8(&w, (uint8_t)m.sign.digest_alg);
	wire_bytes(&w, m.sign.digest, m.sign.digest_len);
	wire_str(&w, m.sign.format);
	wire_str(&w, m.sign.request_id);
	wire_str(&w, m.sign.evidence_type);
	wire_str(&w, m.sign.evidence_ref);
	assert_int_equal(wire_end(&w, &len), 0);
	return len;
}

static void
test_strings_and_rules(void **state)
{
	struct fc_msg m, d;
	size_t len;
	uint8_t *p;

	(void)state;
	/* a NUL inside the key: its bytes are "demo-ec", one is made 0 */
	m = sign_msg();
	len = encode(&m);
	p = memmem(buf, len, "demo-ec", 7);
	assert_non_null(p);
	p[2] = '\0';
	assert_int_equal(fc_decode(buf, len, &d), SD_ERR_BAD_REQUEST);
	/* a digest of the wrong length for its algorithm */
	m = sign_msg();
	m.sign.digest_len = 48;
	len = encode(&m);
	assert_int_equal(fc_decode(buf, len, &d), SD_ERR_BAD_REQUEST);
	/* what the JSON decoder refuses: a space in request_id, a format */
	m = sign_msg();
	snprintf(m.sign.request_id, sizeof(m.sign.request_id), "%s", "req 1");
	len = encode(&m);
	assert_int_equal(fc_decode(buf, len, &d), SD_ERR_BAD_REQUEST);
	m = sign_msg();
	snprintf(m.sign.format, sizeof(m.sign.format), "%s", "pem");
	len = encode(&m);
	assert_int_equal(fc_decode(buf, len, &d), SD_ERR_BAD_REQUEST);
	m = sign_msg();
	m.sign.evidence_type[0] = '\0'; /* a ref without a type */
	len = encode(&m);
	assert_int_equal(fc_decode(buf, len, &d), SD_ERR_BAD_REQUEST);
	/* a key of 64 bytes, one more than the core's field holds, in an
	 * otherwise valid message; 63 bytes decode */
	{
		char longkey[65];

		memset(longkey, 'k', 64);
		longkey[64] = '\0';
		len = encode_with_key(longkey);
		assert_int_equal(fc_decode(buf, len, &d), SD_ERR_BAD_REQUEST);
		longkey[63] = '\0';
		len = encode_with_key(longkey);
		assert_int_equal(fc_decode(buf, len, &d), 0);
		assert_string_equal(d.sign.key, longkey);
	}
}

static void
test_writer_overflow(void **state)
{
	struct fc_msg m = sign_msg();
	size_t len;

	(void)state;
	assert_int_equal(fc_encode(&m, buf, 20, &len), SD_ERR_TOO_LARGE);
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
	mh.msg_control = cm.b;
	mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfd);
	cm.h.cmsg_level = SOL_SOCKET;
	cm.h.cmsg_type = SCM_RIGHTS;
	cm.h.cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfd);
	for (i = 0; i < nfd; i++)
		memcpy(CMSG_DATA(&cm.h) + (size_t)i * sizeof(int), &fd,
		    sizeof(int));
	assert_int_equal(sendmsg(sock, &mh, 0), (ssize_t)n);
}

/* A message of len bytes sent as its first `split` bytes with one fd
 * and the rest with another (or all of it with nfd fds): wire_recv
 * refuses it and leaves no fd open. */
static void
refuse_fds(size_t len, size_t split, int nfd)
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
	    wire_recv(sv[1], in, sizeof(in), &got, &fd), SD_ERR_BAD_REQUEST);
	assert_int_equal(fd, -1);
	assert_int_equal(open_fds(), before);
	close(sv[0]);
	close(sv[1]);
}

static void
test_socketpair_with_fd(void **state)
{
	struct fc_msg m = sign_msg(), d;
	uint8_t in[sizeof(buf)];
	struct stat a, b;
	size_t len = encode(&m), got;
	int sv[2], fd;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	/* a message with an fd, then one without */
	assert_int_equal(wire_send(sv[0], buf, len, STDIN_FILENO), 0);
	assert_int_equal(wire_send(sv[0], buf, len, -1), 0);
	assert_int_equal(wire_recv(sv[1], in, sizeof(in), &got, &fd), 0);
	assert_int_equal(got, len);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &a), 0);
	assert_int_equal(fstat(STDIN_FILENO, &b), 0);
	assert_true(a.st_ino == b.st_ino && a.st_dev == b.st_dev);
	close(fd);
	assert_int_equal(fc_decode(in, got, &d), 0);
	assert_int_equal(wire_recv(sv[1], in, sizeof(in), &got, &fd), 0);
	assert_int_equal(fd, -1);
	/* wire_send sends only whole messages */
	assert_int_equal(
	    wire_send(sv[0], buf, 3, STDIN_FILENO), SD_ERR_BAD_REQUEST);
	/* a message larger than the reader's buffer */
	assert_int_equal(wire_send(sv[0], buf, len, -1), 0);
	assert_int_equal(
	    wire_recv(sv[1], in, len - 1, &got, &fd), SD_ERR_BAD_REQUEST);
	close(sv[0]);
	close(sv[1]);

	/* two fds in one message (the second with its later part), and
	 * more fds than the reader takes (MSG_CTRUNC): refused, none open */
	refuse_fds(len, 1, 1);
	refuse_fds(len, len, 8);

	/* a clean end of the stream; an end inside a message */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(send(sv[0], buf, len - 1, 0), (ssize_t)(len - 1));
	close(sv[0]);
	assert_int_equal(
	    wire_recv(sv[1], in, sizeof(in), &got, &fd), SD_ERR_BAD_REQUEST);
	close(sv[1]);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	close(sv[0]);
	assert_int_equal(
	    wire_recv(sv[1], in, sizeof(in), &got, &fd), SD_ERR_NOT_FOUND);
	close(sv[1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sign_round_trip),
		cmocka_unit_test(test_reply_round_trip),
		cmocka_unit_test(test_every_prefix_and_extension_fails),
		cmocka_unit_test(test_header_rules),
		cmocka_unit_test(test_strings_and_rules),
		cmocka_unit_test(test_writer_overflow),
		cmocka_unit_test(test_socketpair_with_fd),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
