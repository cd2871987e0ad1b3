/*
 * wire: typed, length-prefixed messages, for the socketpair between
 * seald's front (the process that parses client bytes) and its core.
 *
 * A message is an 8-byte header, then its type's fields in a fixed order:
 *
 *   u32 length of the whole message, header included (<= WIRE_MSG_MAX)
 *   u16 type (1..ntypes-1)    u16 zero
 *   fields: integers big-endian; a byte string as a u32 length and its
 *   bytes; a text string the same, without its NUL
 *
 * The reader is strict, as the core must be with a front that may be
 * compromised: a field past the end, a string longer than its
 * destination or holding a NUL, a reserved half-word that is not zero, an
 * unknown type, a length that is not the message's and trailing bytes
 * all fail the message, and the caller ends the stream.  A reader or
 * writer error sticks: check once, at wire_close or wire_end.  After any
 * error of wire_send or wire_recv the stream is out of step: close it.
 */
#ifndef SD_WIRE_H
#define SD_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define WIRE_HDR 8
#define WIRE_MSG_MAX (8u * 1024 * 1024)

struct wire_w {
	uint8_t *buf;
	size_t len, cap;
	int err;
};

struct wire_r {
	const uint8_t *buf;
	size_t len, off;
	int err;
};

/* Start a message of `type` in buf (cap bytes). */
void wire_begin(struct wire_w *w, uint8_t *buf, size_t cap, uint16_t type);
void wire_u8(struct wire_w *w, uint8_t v);
void wire_u16(struct wire_w *w, uint16_t v);
void wire_u32(struct wire_w *w, uint32_t v);
void wire_u64(struct wire_w *w, uint64_t v);
void wire_bytes(struct wire_w *w, const void *p, size_t n);
void wire_str(struct wire_w *w, const char *s);
/* Write the length into the header: 0 and the length in *len, or
 * SD_ERR_TOO_LARGE when the fields did not fit (or exceed WIRE_MSG_MAX). */
int wire_end(struct wire_w *w, size_t *len) __attribute__((warn_unused_result));

/*
 * The length a header announces (0 when it is out of bounds: shorter than
 * a header or over WIRE_MSG_MAX), for a stream reader: read WIRE_HDR
 * bytes, then the rest.
 */
size_t wire_length(const uint8_t hdr[WIRE_HDR]);

/* Open the message buf[0..len): 0 and its type, or SD_ERR_BAD_REQUEST. */
int wire_open(struct wire_r *r, const uint8_t *buf, size_t len, uint16_t ntypes,
    uint16_t *type) __attribute__((warn_unused_result));
uint8_t wire_get_u8(struct wire_r *r);
uint16_t wire_get_u16(struct wire_r *r);
uint32_t wire_get_u32(struct wire_r *r);
uint64_t wire_get_u64(struct wire_r *r);
/* A byte string of at most cap bytes into dst; its length. */
size_t wire_get_bytes(struct wire_r *r, void *dst, size_t cap);
/* A text string of at most cap-1 bytes, without NUL, into dst. */
void wire_get_str(struct wire_r *r, char *dst, size_t cap);
/* A byte string in place (no copy): its bytes, or NULL on error. */
const uint8_t *wire_get_view(struct wire_r *r, size_t max, size_t *n);
/* 0 when every field read and nothing is left, else SD_ERR_BAD_REQUEST. */
int wire_close(struct wire_r *r) __attribute__((warn_unused_result));

/*
 * Over a stream socket: send one message (as wire_end made it) with `fd`
 * (or -1) passed by SCM_RIGHTS; receive one into buf (cap bytes) with the
 * fd passed with it in *fd (-1 when none).  Both block: the socket's own
 * timeouts (SO_RCVTIMEO) bound them.  0, SD_ERR_SYSTEM (errno) on an I/O error,
 * SD_ERR_NOT_FOUND on a clean end of the stream before a message, or
 * SD_ERR_BAD_REQUEST for a bad length, a short message or more than one
 * fd (every fd received is closed then).
 */
int wire_send(int sock, const uint8_t *msg, size_t len, int fd)
    __attribute__((warn_unused_result));
int wire_recv(int sock, uint8_t *buf, size_t cap, size_t *len, int *fd)
    __attribute__((warn_unused_result));

/*
 * A buffered reader of one stream socket, for a channel that carries
 * many messages: each read takes as many bytes as the socket holds (up
 * to cap), and wire_in_next hands out one message at a time, pointing
 * into buf (valid until the next call), with the fd that came with it.
 * The sender must pass an fd with the first bytes of its message, one
 * message a send (as wire_send does): the kernel ends a read after the
 * bytes that carry an fd, so the fd belongs to the last message that
 * starts in that read.  An fd that comes inside a message, or while
 * another waits for its message, fails the stream.  Returns as
 * wire_recv; an error sticks.  wire_in_done closes an fd still waiting.
 */
struct wire_in {
	int sock;
	uint8_t *buf;
	size_t cap, start, end; /* buf[start..end): bytes not handed out */
	int fd;                 /* received, for the message at fd_at */
	size_t fd_at;
	int err;
};

void wire_in_init(struct wire_in *in, int sock, uint8_t *buf, size_t cap);
int wire_in_next(struct wire_in *in, const uint8_t **msg, size_t *len, int *fd)
    __attribute__((warn_unused_result));
void wire_in_done(struct wire_in *in);

#endif
