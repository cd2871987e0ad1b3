/*
 * http: the libmicrohttpd pieces both HTTP servers (the service socket's,
 * front.c, and the admin socket's, admin.c) share: bounded request
 * bodies, replies, and libmicrohttpd's log.
 */
#ifndef SD_HTTP_H
#define SD_HTTP_H

#include <stdarg.h>
#include <stddef.h>

#include <microhttpd.h>

/* MHD_OPTION_EXTERNAL_LOGGER: one line, as a warning. */
void http_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* A request body, at most max bytes kept. */
struct http_body {
	char *p;
	size_t len, cap;
	int too_large;    /* over the limit: the rest is read and dropped */
	int chunked;      /* no length said: dropped to its end, unbounded
			   * here (the caller bounds the body's time) */
	size_t discarded; /* bytes dropped */
};

/*
 * Append an upload chunk (all of *size is consumed).  Past max the rest
 * is read and dropped, up to SD_HTTP_DISCARD_MAX (a chunked body: to its
 * end), so that a client still sending sees the 413 instead of a reset
 * connection.  Returns 0, 1 when
 * the body is too large to read on (answer 413 now), -1 out of memory.
 */
int http_body_take(
    struct http_body *b, size_t max, const char *data, size_t *size);

/* Queue a reply of len bytes of body (malloc'd, taken over; NULL closes
 * the connection) of Content-Type ctype; allow: an Allow header or NULL;
 * close: ask the client to close the connection. */
enum MHD_Result http_respond(struct MHD_Connection *conn, unsigned int status,
    void *body, size_t len, const char *ctype, const char *allow, int close);

/* Queue a JSON reply (json malloc'd, taken over; NULL closes the
 * connection).  close: ask the client to close the connection. */
enum MHD_Result http_json(struct MHD_Connection *conn, unsigned int status,
    char *json, const char *allow, int close);

/* 1 when the Content-Type ct is the media type want (any case), maybe
 * with parameters ("application/json; charset=utf-8"). */
int http_media_is(const char *ct, const char *want);

/*
 * RFC 9112 6.3: where a request's body ends must be said once, one way:
 * at most one Content-Length (digits only) or one Transfer-Encoding that
 * is "chunked", never both, and no header field name with white space
 * (before its colon).  NULL, or what is wrong (answer 400 and close the
 * connection); the length said in *len: -1 when chunked, 0 when none
 * (no body).
 */
const char *http_framing_error(struct MHD_Connection *conn, long long *len);

/* MHD_OPTION_UNESCAPE_CALLBACK: no percent-decoding.  seald's paths and
 * query values are names and numbers, which need none; decoded, one URL
 * would have several spellings ("27%00junk" read as "27"). */
size_t http_no_unescape(void *cls, struct MHD_Connection *conn, char *s);

/*
 * Write a whole JSON answer (status, a "Connection: close" header, the
 * body) on the client socket fd, outside libmicrohttpd: for a connection
 * the core refused as it was accepted, or one whose request came too
 * late, which get no more.  Best effort: the socket is not waited on (a
 * client that does not read gets what its buffer takes).
 */
void http_raw_answer(int fd, unsigned int status, const char *json, size_t len);

#endif
