/*
 * http: the pieces both HTTP fronts (the service socket, server.c, and the
 * admin socket, admin.c) share: binding a Unix socket with its mode and
 * group, the caller's credentials read when a connection opens, bounded
 * request bodies, JSON replies, and libmicrohttpd's log.
 */
#ifndef SD_HTTP_H
#define SD_HTTP_H

#include <stdarg.h>
#include <stddef.h>

#include <microhttpd.h>

#include "cfg.h"
#include "peer.h"

/* Bind and listen on the Unix socket cs (a stale socket is replaced,
 * anything else at the path is an error).  The fd, or -1 with a reason. */
int http_bind(const struct cfg_socket *cs, char *errbuf, size_t errlen);

/* Remove the socket at cs's path (a socket only). */
void http_remove(const struct cfg_socket *cs);

/* Close a bound socket that will not be served and remove its path (fd
 * < 0: nothing). */
void http_unbind(const struct cfg_socket *cs, int fd);

/* MHD_OPTION_NOTIFY_CONNECTION: read the peer's credentials once. */
void http_connection_notify(void *cls, struct MHD_Connection *conn,
    void **socket_ctx, enum MHD_ConnectionNotificationCode toe);

/* The credentials http_connection_notify read: 0, or -1 when unknown. */
int http_peer(struct MHD_Connection *conn, struct peer *out);

/* MHD_OPTION_EXTERNAL_LOGGER: one line, as a warning. */
void http_log(void *cls, const char *fmt, va_list ap);

/* A request body, at most max bytes kept. */
struct http_body {
	char *p;
	size_t len, cap;
	int too_large;    /* over the limit: the rest is read and dropped */
	size_t discarded; /* bytes dropped */
};

/*
 * Append an upload chunk (all of *size is consumed).  Past max the rest
 * is read and dropped, up to SD_HTTP_DISCARD_MAX, so that a client still
 * sending sees the 413 instead of a reset connection.  Returns 0, 1 when
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

#endif
