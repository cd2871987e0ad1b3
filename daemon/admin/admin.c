/*
 * admin: routes, identification and bodies of the admin socket; the
 * operations themselves are keyops.c's.
 *
 *   GET  /v1/admin/keys                    officers, auditors
 *   GET  /v1/admin/keys/NAME               officers, auditors
 *   POST /v1/admin/keys                    officers: generate
 *   POST /v1/admin/keys/NAME/ACTION        officers: csr, certificate,
 *                                          rotate, retire, disable, destroy
 *   GET  /v1/admin/proposals               officers, auditors
 *   POST /v1/admin/proposals/ID/approve    officers (not the proposer)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "admin.h"
#include "err.h"
#include "metrics.h"
#include "http.h"
#include "keyops.h"
#include "log.h"
#include "name.h"
#include "peer.h"
#include "reply.h"

#define PREFIX "/v1/admin/"
/* a certificate chain as a JSON string (escaped newlines), with room */
#define ADMIN_MAX_BODY (2 * SD_CERT_MAX_BYTES)

struct admin {
	struct MHD_Daemon *mhd;
	const struct cfg *cfg;
	struct keyops ko;
};

struct areq {
	int responded;
	int close; /* its body is not read: close after the answer */
	unsigned int status;
	struct timespec start;
	char action[16]; /* the path's action, for Allow */
	int officer;     /* else an auditor */
	char who[SD_NAME_MAX];
	struct peer peer;
	struct http_body body;
};

/* A connection's credentials, read once as it opens. */
struct conn_ctx {
	int have_peer;
	struct peer peer;
};

/* MHD_OPTION_NOTIFY_CONNECTION: read the peer's credentials once. */
static void
connection_notify(void *cls, struct MHD_Connection *conn, void **socket_ctx,
    enum MHD_ConnectionNotificationCode toe)
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

/* The credentials connection_notify read: 0, or -1 when unknown. */
static int
conn_peer(struct MHD_Connection *conn, struct peer *out)
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

static enum MHD_Result
respond(struct MHD_Connection *conn, struct areq *q, int r, char *json,
    const char *message)
{
	const char *allow = q->action[0] != '\0' ? "POST" : "GET, POST";

	q->responded = 1;
	if (r < 0)
		json = reply_error(r, message, NULL);
	q->status = r == KEYOPS_PROPOSED ? 202
	    : r == 0                     ? 200
					 : sd_err_http_status(r);
	return http_json(
	    conn, q->status, json, r == SD_ERR_METHOD ? allow : NULL, q->close);
}

/* Who may call: an officer, or an auditor (reads only); else 401. */
static int
identify(struct admin *a, struct MHD_Connection *conn, struct areq *q)
{
	const struct policy_principal *p;
	struct policy_caller caller;
	struct pstate *ps;

	if (conn_peer(conn, &q->peer) != 0)
		return SD_ERR_UNAUTHENTICATED;
	caller.uid = q->peer.uid;
	caller.gid = q->peer.gid;
	caller.groups = q->peer.groups;
	caller.ngroups = q->peer.ngroups;
	ps = pstate_get(a->ko.policy);
	if ((p = policy_match_officer(ps->policy, &caller)) != NULL)
		q->officer = 1;
	else
		p = policy_match_auditor(ps->policy, &caller);
	if (p != NULL)
		snprintf(q->who, sizeof(q->who), "%s", p->name);
	pstate_unref(ps);
	if (p == NULL)
		log_info("admin: refused uid %u gid %u pid %d: neither officer "
			 "nor auditor",
		    (unsigned int)q->peer.uid, (unsigned int)q->peer.gid,
		    (int)q->peer.pid);
	return p != NULL ? 0 : SD_ERR_UNAUTHENTICATED;
}

/* PREFIX then "keys" or "proposals" (*proposals), maybe /NAME, maybe
 * /ACTION: name and action (maybe empty) into their buffers; -1 for any
 * other path. */
static int
split_path(const char *url, int *proposals, char *name, size_t nlen,
    char *action, size_t alen)
{
	const char *p, *slash;

	*name = *action = '\0';
	if (strncmp(url, PREFIX, strlen(PREFIX)) != 0)
		return -1;
	p = url + strlen(PREFIX);
	if (strncmp(p, "keys", 4) == 0) {
		p += 4;
		*proposals = 0;
	} else if (strncmp(p, "proposals", 9) == 0) {
		p += 9;
		*proposals = 1;
	} else
		return -1;
	if (*p == '\0')
		return 0;
	if (*p++ != '/' || *p == '\0')
		return -1;
	if ((slash = strchr(p, '/')) == NULL)
		slash = p + strlen(p);
	if ((size_t)(slash - p) >= nlen)
		return -1;
	memcpy(name, p, (size_t)(slash - p));
	name[slash - p] = '\0';
	if (*slash == '\0')
		return 0;
	if (strlen(slash + 1) >= alen || strchr(slash + 1, '/') != NULL)
		return -1;
	snprintf(action, alen, "%s", slash + 1);
	return 0;
}

/* the admin socket's requests, in /metrics */
static struct metrics_endpoint m_admin = METRICS_ENDPOINT("admin");

/* The same text as the service socket's GET /metrics. */
static enum MHD_Result
admin_metrics(struct MHD_Connection *conn, struct areq *q)
{
	char *text = metrics_render();

	q->responded = 1;
	q->status = 200;
	return http_respond(conn, 200, text, text != NULL ? strlen(text) : 0,
	    METRICS_CTYPE, NULL, 0);
}

/* The whole request is in: run it. */
static enum MHD_Result
run(struct admin *a, struct MHD_Connection *conn, struct areq *q,
    const char *url, const char *method)
{
	struct keyops_caller who = { q->who, &q->peer };
	char name[SD_NAME_MAX], action[16], err[512] = "";
	char *json = NULL;
	int get = strcmp(method, "GET") == 0, proposals = 0, r;

	if (strcmp(url, "/metrics") == 0)
		return get ? admin_metrics(conn, q)
			   : respond(conn, q, SD_ERR_METHOD, NULL, NULL);
	if (split_path(url, &proposals, name, sizeof(name), action,
		sizeof(action)) != 0 ||
	    !sd_name_valid(name[0] != '\0' ? name : "x",
		strlen(name[0] != '\0' ? name : "x")))
		return respond(
		    conn, q, SD_ERR_NOT_FOUND, NULL, "no such endpoint");
	snprintf(q->action, sizeof(q->action), "%s", action);
	if (!get && strcmp(method, "POST") != 0)
		return respond(conn, q, SD_ERR_METHOD, NULL, NULL);
	if (!get && !q->officer)
		return respond(conn, q, SD_ERR_POLICY_DENIED, NULL,
		    "only officers change keys");
	if (proposals)
		r = get && name[0] == '\0' && action[0] == '\0'
		    ? keyops_proposals(&a->ko, &json, err, sizeof(err))
		    : !get && strcmp(action, "approve") == 0
		    ? keyops_approve(
			  &a->ko, &who, name, &json, err, sizeof(err))
		    : get || name[0] == '\0' ? SD_ERR_METHOD
					     : SD_ERR_NOT_FOUND;
	else if (get && action[0] == '\0')
		r = keyops_list(&a->ko, name[0] != '\0' ? name : NULL, &json,
		    err, sizeof(err));
	else if (!get && name[0] == '\0')
		r = keyops_generate(&a->ko, &who, q->body.p, q->body.len, &json,
		    err, sizeof(err));
	else if (!get && strcmp(action, "csr") == 0)
		r = keyops_csr(&a->ko, &who, name, q->body.p, q->body.len,
		    &json, err, sizeof(err));
	else if (!get && strcmp(action, "certificate") == 0)
		r = keyops_import_cert(&a->ko, &who, name, q->body.p,
		    q->body.len, &json, err, sizeof(err));
	else if (!get && strcmp(action, "rotate") == 0)
		r = keyops_rotate(&a->ko, &who, name, q->body.p, q->body.len,
		    &json, err, sizeof(err));
	else if (!get &&
	    (strcmp(action, "retire") == 0 || strcmp(action, "disable") == 0 ||
		strcmp(action, "destroy") == 0))
		r = keyops_move(&a->ko, &who, name, action, q->body.p,
		    q->body.len, &json, err, sizeof(err));
	else
		r = action[0] != '\0' && get ? SD_ERR_METHOD : SD_ERR_NOT_FOUND;
	if (r != 0 && err[0] == '\0' && r == SD_ERR_NOT_FOUND)
		snprintf(err, sizeof(err), "no such endpoint");
	if (r < 0)
		log_info("admin: %s %s%s%s by %s: %s", method,
		    proposals ? "proposals" : "keys",
		    name[0] != '\0' ? "/" : "", name, q->who,
		    err[0] != '\0' ? err : sd_err(r));
	return respond(conn, q, r, json, err[0] != '\0' ? err : NULL);
}

/* A body said once, one way, and of JSON; else 400 or 415, and the
 * connection closed (http.h). */
static enum MHD_Result
framed(struct MHD_Connection *conn, struct areq *q)
{
	const char *why;
	long long n;

	if ((why = http_framing_error(conn, &n)) != NULL) {
		q->close = 1;
		return respond(conn, q, SD_ERR_BAD_REQUEST, NULL, why);
	}
	if (n != 0 &&
	    !http_media_is(MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
			       MHD_HTTP_HEADER_CONTENT_TYPE),
		"application/json")) {
		q->close = 1;
		return respond(conn, q, SD_ERR_MEDIA_TYPE, NULL,
		    "Content-Type must be application/json");
	}
	return MHD_YES;
}

static enum MHD_Result
handler(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_size, void **con_cls)
{
	struct admin *a = cls;
	struct areq *q = *con_cls;
	int r;

	(void)version;
	if (q == NULL) {
		if ((q = calloc(1, sizeof(*q))) == NULL)
			return MHD_NO;
		clock_gettime(CLOCK_MONOTONIC, &q->start);
		*con_cls = q;
		if ((r = identify(a, conn, q)) != 0)
			return respond(conn, q, r, NULL,
			    "this uid/gid is neither an officer nor an auditor "
			    "of seald");
		return framed(conn, q);
	}
	if (q->responded) {
		*upload_size = 0;
		return MHD_YES;
	}
	if (*upload_size > 0) {
		switch (http_body_take(
		    &q->body, ADMIN_MAX_BODY, upload, upload_size)) {
		case 0:
			return MHD_YES;
		case 1:
			return respond(
			    conn, q, SD_ERR_TOO_LARGE, NULL, "body too large");
		default:
			return MHD_NO;
		}
	}
	if (q->body.too_large)
		return respond(
		    conn, q, SD_ERR_TOO_LARGE, NULL, "body too large");
	return run(a, conn, q, url, method);
}

static void
completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct areq *q = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (q == NULL)
		return;
	if (q->responded)
		metrics_request(
		    &m_admin, q->status, metrics_us_since(&q->start));
	free(q->body.p);
	free(q);
	*con_cls = NULL;
}

struct admin *
admin_start(const struct daemon_deps *deps, char *errbuf, size_t errlen)
{
	const struct cfg *cfg = deps->cfg;
	struct admin *a;
	int fd;

	if ((a = calloc(1, sizeof(*a))) == NULL ||
	    (a->ko.rd = ledger_reader_new(
		 cfg->conninfo, (long)cfg->commit_ms)) == NULL) {
		free(a);
		snprintf(errbuf, errlen, "out of memory");
		close(deps->admin_fd);
		return NULL;
	}
	metrics_add_endpoint(&m_admin);
	a->cfg = cfg;
	a->ko.hsm = deps->hsm;
	a->ko.ledger = deps->ledger;
	a->ko.policy = deps->policy;
	fd = deps->admin_fd;
	a->mhd = MHD_start_daemon(
	    MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
	    handler, a, MHD_OPTION_EXTERNAL_LOGGER, http_log, a,
	    MHD_OPTION_STRICT_FOR_CLIENT, (int)1, MHD_OPTION_UNESCAPE_CALLBACK,
	    http_no_unescape, NULL, MHD_OPTION_LISTEN_SOCKET, fd,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)SD_ADMIN_CONNECTIONS,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)cfg->timeout,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)cfg->max_header * 2,
	    MHD_OPTION_NOTIFY_COMPLETED, completed, a,
	    MHD_OPTION_NOTIFY_CONNECTION, connection_notify, a, MHD_OPTION_END);
	if (a->mhd == NULL) {
		snprintf(errbuf, errlen, "cannot start the admin HTTP server");
		close(fd);
		ledger_reader_free(a->ko.rd);
		free(a);
		return NULL;
	}
	log_info("admin socket on %s", cfg->admin.path);
	return a;
}

void
admin_stop(struct admin *a)
{
	if (a == NULL)
		return;
	MHD_stop_daemon(a->mhd);
	ledger_reader_free(a->ko.rd);
	free(a);
}
