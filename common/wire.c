/*
 * wire: typed, length-prefixed messages (wire.h).  Every read is checked
 * against what is left of the message; an error sticks in the reader or
 * writer so that callers check once.
 */
#include <string.h>

#include "err.h"
#include "wire.h"

static void
put(struct wire_w *w, const void *p, size_t n)
{
	if (w->err != 0 || n > w->cap - w->len) {
		w->err = SD_ERR_TOO_LARGE;
		return;
	}
	if (n > 0)
		memcpy(w->buf + w->len, p, n);
	w->len += n;
}

static void
put_be(struct wire_w *w, uint64_t v, size_t n)
{
	uint8_t b[8];
	size_t i;

	for (i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
	put(w, b, n);
}

void
wire_begin(struct wire_w *w, uint8_t *buf, size_t cap, uint16_t type)
{
	w->buf = buf;
	w->cap = cap;
	w->len = 0;
	w->err = 0;
	put_be(w, 0, 4); /* the length, at wire_end */
	put_be(w, type, 2);
	put_be(w, 0, 2);
}

void
wire_u8(struct wire_w *w, uint8_t v)
{
	put_be(w, v, 1);
}

void
wire_u16(struct wire_w *w, uint16_t v)
{
	put_be(w, v, 2);
}

void
wire_u32(struct wire_w *w, uint32_t v)
{
	put_be(w, v, 4);
}

void
wire_u64(struct wire_w *w, uint64_t v)
{
	put_be(w, v, 8);
}

void
wire_bytes(struct wire_w *w, const void *p, size_t n)
{
	if (n > WIRE_MSG_MAX) {
		w->err = SD_ERR_TOO_LARGE;
		return;
	}
	put_be(w, n, 4);
	put(w, p, n);
}

void
wire_str(struct wire_w *w, const char *s)
{
	wire_bytes(w, s, strlen(s));
}

int
wire_end(struct wire_w *w, size_t *len)
{
	if (w->err == 0 && w->len > WIRE_MSG_MAX)
		w->err = SD_ERR_TOO_LARGE;
	if (w->err != 0)
		return w->err;
	w->buf[0] = (uint8_t)(w->len >> 24);
	w->buf[1] = (uint8_t)(w->len >> 16);
	w->buf[2] = (uint8_t)(w->len >> 8);
	w->buf[3] = (uint8_t)w->len;
	*len = w->len;
	return 0;
}

static uint64_t
be(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

size_t
wire_length(const uint8_t hdr[WIRE_HDR])
{
	uint64_t n = be(hdr, 4);

	return n < WIRE_HDR || n > WIRE_MSG_MAX ? 0 : (size_t)n;
}

int
wire_open(struct wire_r *r, const uint8_t *buf, size_t len, uint16_t ntypes,
    uint16_t *type)
{
	r->buf = buf;
	r->len = len;
	r->off = WIRE_HDR;
	r->err = SD_ERR_BAD_REQUEST;
	if (len < WIRE_HDR || wire_length(buf) != len || be(buf + 6, 2) != 0)
		return SD_ERR_BAD_REQUEST;
	*type = (uint16_t)be(buf + 4, 2);
	if (*type == 0 || *type >= ntypes)
		return SD_ERR_BAD_REQUEST;
	r->err = 0;
	return 0;
}

/* The next n bytes, or NULL (and the error set) when they are not there. */
static const uint8_t *
take(struct wire_r *r, size_t n)
{
	const uint8_t *p;

	if (r->err != 0 || n > r->len - r->off) {
		r->err = SD_ERR_BAD_REQUEST;
		return NULL;
	}
	p = r->buf + r->off;
	r->off += n;
	return p;
}

static uint64_t
get_be(struct wire_r *r, size_t n)
{
	const uint8_t *p = take(r, n);

	return p == NULL ? 0 : be(p, n);
}

uint8_t
wire_get_u8(struct wire_r *r)
{
	return (uint8_t)get_be(r, 1);
}

uint16_t
wire_get_u16(struct wire_r *r)
{
	return (uint16_t)get_be(r, 2);
}

uint32_t
wire_get_u32(struct wire_r *r)
{
	return (uint32_t)get_be(r, 4);
}

uint64_t
wire_get_u64(struct wire_r *r)
{
	return get_be(r, 8);
}

const uint8_t *
wire_get_view(struct wire_r *r, size_t max, size_t *n)
{
	uint32_t len = wire_get_u32(r);

	const uint8_t *p;

	*n = 0;
	if (r->err == 0 && len > max)
		r->err = SD_ERR_BAD_REQUEST;
	if (r->err != 0 || (p = take(r, len)) == NULL)
		return NULL;
	*n = len;
	return p;
}

size_t
wire_get_bytes(struct wire_r *r, void *dst, size_t cap)
{
	size_t n;
	const uint8_t *p = wire_get_view(r, cap, &n);

	if (p == NULL)
		return 0;
	if (n > 0)
		memcpy(dst, p, n);
	return n;
}

void
wire_get_str(struct wire_r *r, char *dst, size_t cap)
{
	size_t n;
	const uint8_t *p = cap > 0 ? wire_get_view(r, cap - 1, &n) : NULL;

	if (cap > 0)
		dst[0] = '\0';
	if (p == NULL) {
		r->err = SD_ERR_BAD_REQUEST;
		return;
	}
	if (memchr(p, '\0', n) != NULL) {
		r->err = SD_ERR_BAD_REQUEST;
		return;
	}
	memcpy(dst, p, n);
	dst[n] = '\0';
}

int
wire_close(struct wire_r *r)
{
	return r->err == 0 && r->off == r->len ? 0 : SD_ERR_BAD_REQUEST;
}
