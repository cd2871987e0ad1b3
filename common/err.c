/*
 * err: text, API code and HTTP status for each SD_ERR_* value, in one
 * table so that the three can never disagree.
 */
#include "err.h"

struct err_row {
	int code;
	const char *text;
	const char *api;
	unsigned int status;
};

static const struct err_row rows[] = {
	{ SD_OK, "success", "ok", 200 },
	{ SD_ERR_INTERNAL, "internal error", "internal", 500 },
	{ SD_ERR_NOMEM, "out of memory", "internal", 500 },
	{ SD_ERR_BAD_REQUEST, "bad request", "bad_request", 400 },
	{ SD_ERR_UNAUTHENTICATED, "caller is not a known client",
	    "unauthenticated", 401 },
	{ SD_ERR_POLICY_DENIED, "request denied by policy", "policy_denied",
	    403 },
	{ SD_ERR_UNKNOWN_KEY, "unknown key", "unknown_key", 404 },
	{ SD_ERR_CONFLICT, "request_id already used for a different request",
	    "conflict", 409 },
	{ SD_ERR_TOO_LARGE, "payload too large", "payload_too_large", 413 },
	{ SD_ERR_RATE_LIMITED, "rate limit exceeded", "rate_limited", 429 },
	{ SD_ERR_HSM, "HSM unavailable", "hsm_unavailable", 503 },
	{ SD_ERR_LEDGER, "ledger unavailable", "ledger_unavailable", 503 },
	{ SD_ERR_CONFIG, "invalid configuration", "internal", 500 },
	{ SD_ERR_SYSTEM, "system error", "internal", 500 },
	{ SD_ERR_NOT_FOUND, "not found", "not_found", 404 },
	{ SD_ERR_METHOD, "method not allowed", "method_not_allowed", 405 },
	{ SD_ERR_TIMEOUT, "operation timed out", "internal", 500 },
	{ SD_ERR_SHUTDOWN, "daemon is shutting down", "unavailable", 503 },
	{ SD_ERR_UNSUPPORTED, "not supported", "bad_request", 400 },
	{ SD_ERR_BUSY, "server busy, try again", "unavailable", 503 },
	{ SD_ERR_CLOCK,
	    "the system clock is not synchronized or went back: no "
	    "time-stamps",
	    "clock_unsynchronized", 503 },
	{ SD_ERR_ANSWER_TOO_LARGE, "the answer would be too large to send",
	    "answer_too_large", 500 },
	{ SD_ERR_MEDIA_TYPE, "unsupported media type", "unsupported_media_type",
	    415 },
	{ SD_ERR_TOO_MANY_CONNS,
	    "too many connections from this uid: close one, or try again",
	    "too_many_connections", 503 },
	{ SD_ERR_REQUEST_TIMEOUT, "the request did not come whole in time",
	    "request_timeout", 408 },
};

static const struct err_row *
lookup(int r)
{
	unsigned int i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (rows[i].code == r)
			return &rows[i];
	return &rows[1]; /* unknown codes are internal errors */
}

const char *
sd_err(int r)
{
	return lookup(r)->text;
}

const char *
sd_err_api_code(int r)
{
	return lookup(r)->api;
}

unsigned int
sd_err_http_status(int r)
{
	return lookup(r)->status;
}
