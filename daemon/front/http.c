/*
 * http: shared by the service and admin fronts (see http.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "http.h"
#include "log.h"
#include "name.h"
#include "sd_limits.h"

/* libmicrohttpd's lines, at most one a second: what a client provokes
 * (a malformed request, a connection reset) must not flood the log */
static struct log_gate gate_mhd = LOG_GATE_INIT;

void
http_log(void *cls, const char *fmt, va_list ap)
{
	unsigned long missed;
	char buf[256];

	(void)cls;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = '\0';
	/* Said of each connection handed over (MHD_add_connection) on its
	 * first answer, as TCP_NODELAY and TCP_CORK fail on a Unix socket:
	 * nothing is delayed there. */
	if (strncmp(buf, "Failed to push the data from buffers", 36) == 0)
		return;
	if (log_gate_pass(&gate_mhd, 1000, &missed))
		log_warn("http: %s (%lu more line(s) of libmicrohttpd's not "
			 "said since the last)",
		    buf, missed);
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
		if (b->chunked)
			return 0;
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

int
http_media_is(const char *ct, const char *want)
{
	size_t n = strlen(want);

	if (ct == NULL || strncasecmp(ct, want, n) != 0)
		return 0;
	ct += n;
	ct += strspn(ct, " \t");
	return *ct == '\0' || *ct == ';';
}

/* What the headers say of the body's length. */
struct framing {
	int cl, te;         /* Content-Length, Transfer-Encoding headers */
	const char *cl_val; /* the last of each */
	const char *te_val;
	int bad_name; /* a field name with white space (before its colon) */
};

static enum MHD_Result
frame_header(
    void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct framing *fr = cls;

	(void)kind;
	if (strpbrk(key, " \t") != NULL)
		fr->bad_name = 1;
	if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
		fr->cl++;
		fr->cl_val = value;
	} else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
		fr->te++;
		fr->te_val = value;
	}
	return MHD_YES;
}

const char *
http_framing_error(struct MHD_Connection *conn, long long *len)
{
	struct framing fr = { 0, 0, NULL, NULL, 0 };
	int64_t n;

	*len = 0;
	(void)MHD_get_connection_values(
	    conn, MHD_HEADER_KIND, frame_header, &fr);
	if (fr.bad_name)
		return "white space in a header field name";
	if (fr.cl > 0 && fr.te > 0)
		return "both Transfer-Encoding and Content-Length";
	if (fr.cl > 1 || fr.te > 1)
		return "Content-Length or Transfer-Encoding given twice";
	if (fr.te == 1 && strcasecmp(fr.te_val, "chunked") != 0)
		return "Transfer-Encoding other than chunked";
	if (fr.te == 1)
		*len = -1;
	if (fr.cl == 1) {
		n = sd_decimal(fr.cl_val, strlen(fr.cl_val));
		if (n < 0 &&
		    strspn(fr.cl_val, "0123456789") == strlen(fr.cl_val) &&
		    fr.cl_val[0] != '\0')
			n = INT64_MAX; /* 19 digits or more: too large */
		if (n < 0)
			return "Content-Length: digits only";
		*len = n;
	}
	return NULL;
}

size_t
http_no_unescape(void *cls, struct MHD_Connection *conn, char *s)
{
	(void)cls;
	(void)conn;
	return strlen(s);
}

void
http_raw_answer(int fd, unsigned int status, const char *json, size_t len)
{
	const char *reason = MHD_get_reason_phrase_for(status);
	char head[256];
	int n;

	n = snprintf(head, sizeof(head),
	    "HTTP/1.1 %u %s\r\nContent-Type: application/json\r\n"
	    "Content-Length: %zu\r\nCache-Control: no-store\r\n"
	    "Connection: close\r\n\r\n",
	    status, reason != NULL ? reason : "", len);
	if (n <= 0 || (size_t)n >= sizeof(head) ||
	    send(fd, head, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) != n)
		return;
	if (len > 0)
		(void)send(fd, json, len, MSG_DONTWAIT | MSG_NOSIGNAL);
}
