/*
 * http: shared by the service and admin fronts (see http.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "http.h"
#include "log.h"
#include "sd_limits.h"

struct conn_ctx {
	int have_peer;
	struct peer peer;
};

/* 1 when a process accepts connections on the socket at sun. */
static int
answers(const struct sockaddr_un *sun)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), ok;

	if (fd < 0)
		return 0;
	ok = connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0;
	close(fd);
	return ok;
}

int
http_bind(const struct cfg_socket *cs, char *errbuf, size_t errlen)
{
	struct sockaddr_un sun;
	struct stat st;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(cs->path) >= sizeof(sun.sun_path)) {
		snprintf(errbuf, errlen, "socket path too long (max %zu)",
		    sizeof(sun.sun_path) - 1);
		return -1;
	}
	memcpy(sun.sun_path, cs->path, strlen(cs->path) + 1);
	/* A stale socket from a previous run is replaced; one that answers
	 * belongs to a running process, and anything else is an error:
	 * neither is ever deleted. */
	if (lstat(cs->path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(errbuf, errlen,
			    "%.200s exists and is not a "
			    "socket",
			    cs->path);
			return -1;
		}
		if (answers(&sun)) {
			snprintf(errbuf, errlen,
			    "%.200s is served by another process", cs->path);
			return -1;
		}
		(void)unlink(cs->path);
	}
	if ((fd = socket(
		 AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0 ||
	    bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
	    chmod(cs->path, cs->mode) != 0 ||
	    (cs->has_group && chown(cs->path, (uid_t)-1, cs->gid) != 0) ||
	    listen(fd, 1024) != 0) {
		snprintf(errbuf, errlen, "socket %.200s: %s", cs->path,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

void
http_remove(const struct cfg_socket *cs)
{
	struct stat st;

	if (lstat(cs->path, &st) == 0 && S_ISSOCK(st.st_mode))
		(void)unlink(cs->path);
}

void
http_unbind(const struct cfg_socket *cs, int fd)
{
	if (fd < 0)
		return;
	close(fd);
	http_remove(cs);
}

void
http_connection_notify(void *cls, struct MHD_Connection *conn,
    void **socket_ctx, enum MHD_ConnectionNotificationCode toe)
{
	const union MHD_ConnectionInfo *ci;
	struct conn_ctx *cc;

	(void)cls;
	if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		free(*socket_ctx);
		*socket_ctx = NULL;
		return;
	}
	if ((cc = calloc(1, sizeof(*cc))) == NULL)
		return; /* no context: every request gets 401 */
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci != NULL && peer_from_fd(ci->connect_fd, &cc->peer) == 0)
		cc->have_peer = 1;
	*socket_ctx = cc;
}

int
http_peer(struct MHD_Connection *conn, struct peer *out)
{
	const union MHD_ConnectionInfo *ci;
	const struct conn_ctx *cc;

	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	cc = ci != NULL ? ci->socket_context : NULL;
	if (cc == NULL || !cc->have_peer)
		return -1;
	*out = cc->peer;
	return 0;
}

void
http_log(void *cls, const char *fmt, va_list ap)
{
	char buf[256];

	(void)cls;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = '\0';
	log_warn("http: %s", buf);
}

int
http_body_take(struct http_body *b, size_t max, const char *data, size_t *size)
{
	size_t ncap;
	char *nb;

	if (!b->too_large && *size > max - b->len) {
		b->too_large = 1;
		free(b->p);
		b->p = NULL;
		b->discarded = b->len;
		b->len = b->cap = 0;
	}
	if (b->too_large) {
		b->discarded += *size;
		*size = 0;
		return b->discarded > SD_HTTP_DISCARD_MAX ? 1 : 0;
	}
	if (b->cap - b->len < *size) {
		ncap = b->cap ? b->cap : 1024;
		while (ncap - b->len < *size)
			ncap *= 2;
		if (ncap > max)
			ncap = max;
		if ((nb = realloc(b->p, ncap)) == NULL)
			return -1;
		b->p = nb;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, data, *size);
	b->len += *size;
	*size = 0;
	return 0;
}

enum MHD_Result
http_respond(struct MHD_Connection *conn, unsigned int status, void *body,
    size_t len, const char *ctype, const char *allow, int close)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (body == NULL) /* out of memory: close the connection */
		return MHD_NO;
	resp =
	    MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(body);
		return MHD_NO;
	}
	(void)MHD_add_response_header(resp, "Content-Type", ctype);
	(void)MHD_add_response_header(resp, "Cache-Control", "no-store");
	if (close)
		(void)MHD_add_response_header(resp, "Connection", "close");
	if (allow != NULL)
		(void)MHD_add_response_header(resp, "Allow", allow);
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

enum MHD_Result
http_json(struct MHD_Connection *conn, unsigned int status, char *json,
    const char *allow, int close)
{
	return http_respond(conn, status, json, json != NULL ? strlen(json) : 0,
	    "application/json", allow, close);
}
