/*
 * err: the one table of error codes every seald module returns, with the
 * stable API code and HTTP status each maps to.  Functions return 0 on
 * success or a negative SD_ERR_* value (like openssh's ssherr.h), so a
 * failure keeps its meaning from the HSM or the ledger up to the reply.
 */
#ifndef SD_ERR_H
#define SD_ERR_H

enum sd_err_code {
	SD_OK = 0,
	SD_ERR_INTERNAL = -1,        /* a bug or an impossible state */
	SD_ERR_NOMEM = -2,           /* allocation failed */
	SD_ERR_BAD_REQUEST = -3,     /* malformed client input */
	SD_ERR_UNAUTHENTICATED = -4, /* caller not known (peer credentials) */
	SD_ERR_POLICY_DENIED = -5,   /* caller known, request not allowed */
	SD_ERR_UNKNOWN_KEY = -6,     /* no key by that name for this caller */
	SD_ERR_CONFLICT = -7,        /* request_id reused for another request */
	SD_ERR_TOO_LARGE = -8,       /* body or header over its limit */
	SD_ERR_RATE_LIMITED = -9,    /* over rate or quota */
	SD_ERR_HSM = -10,         /* HSM unreachable, session or token lost */
	SD_ERR_LEDGER = -11,      /* database unreachable, commit failed */
	SD_ERR_CONFIG = -12,      /* bad configuration file */
	SD_ERR_SYSTEM = -13,      /* a system call failed (see errno) */
	SD_ERR_NOT_FOUND = -14,   /* path or record not found */
	SD_ERR_METHOD = -15,      /* HTTP method not allowed on this path */
	SD_ERR_TIMEOUT = -16,     /* an operation took longer than its limit */
	SD_ERR_SHUTDOWN = -17,    /* the daemon is stopping */
	SD_ERR_UNSUPPORTED = -18, /* valid but not supported (algorithm...) */
	SD_ERR_BUSY = -19,        /* too much work queued; try again */
	SD_ERR_CLOCK = -20, /* the clock cannot be trusted for a time-stamp */
	SD_ERR_ANSWER_TOO_LARGE = -21, /* an answer over what may be sent */
	SD_ERR_MEDIA_TYPE = -22,       /* a body of a Content-Type not taken */
	SD_ERR_TOO_MANY_CONNS = -23,   /* a uid over its connections */
	SD_ERR_REQUEST_TIMEOUT = -24,  /* a request not whole in time */
};
#define SD_ERR_MIN SD_ERR_REQUEST_TIMEOUT

/* Human text for an error; never NULL, static storage. */
const char *sd_err(int r);

/* Stable API code ("bad_request", "ledger_unavailable", ...); never NULL. */
const char *sd_err_api_code(int r);

/* HTTP status the API answers with for this error (200 for SD_OK). */
unsigned int sd_err_http_status(int r);

#endif
