/*
 * test_err: every error code maps to the API code and HTTP status that
 * DESIGN.md promises; unknown codes are internal errors.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"

static const struct {
	int code;
	const char *api;
	unsigned int status;
} table[] = {
	{ SD_OK, "ok", 200 },
	{ SD_ERR_BAD_REQUEST, "bad_request", 400 },
	{ SD_ERR_UNAUTHENTICATED, "unauthenticated", 401 },
	{ SD_ERR_POLICY_DENIED, "policy_denied", 403 },
	{ SD_ERR_UNKNOWN_KEY, "unknown_key", 404 },
	{ SD_ERR_CONFLICT, "conflict", 409 },
	{ SD_ERR_TOO_LARGE, "payload_too_large", 413 },
	{ SD_ERR_RATE_LIMITED, "rate_limited", 429 },
	{ SD_ERR_INTERNAL, "internal", 500 },
	{ SD_ERR_HSM, "hsm_unavailable", 503 },
	{ SD_ERR_LEDGER, "ledger_unavailable", 503 },
	{ SD_ERR_NOMEM, "internal", 500 },
	{ SD_ERR_UNSUPPORTED, "bad_request", 400 },
	{ SD_ERR_METHOD, "method_not_allowed", 405 },
	{ SD_ERR_NOT_FOUND, "not_found", 404 },
	{ SD_ERR_BUSY, "unavailable", 503 },
	{ SD_ERR_SHUTDOWN, "unavailable", 503 },
	{ SD_ERR_CLOCK, "clock_unsynchronized", 503 },
	/* the request was fine: its answer is over what seald may send */
	{ SD_ERR_ANSWER_TOO_LARGE, "answer_too_large", 500 },
	{ SD_ERR_MEDIA_TYPE, "unsupported_media_type", 415 },
	{ SD_ERR_TOO_MANY_CONNS, "too_many_connections", 503 },
	{ SD_ERR_REQUEST_TIMEOUT, "request_timeout", 408 },
};

static void
test_design_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		assert_string_equal(
		    sd_err_api_code(table[i].code), table[i].api);
		assert_int_equal(
		    sd_err_http_status(table[i].code), table[i].status);
	}
}

static void
test_every_code_has_text(void **state)
{
	int r;

	(void)state;
	for (r = SD_OK; r >= SD_ERR_MIN; r--) {
		assert_non_null(sd_err(r));
		assert_true(strlen(sd_err(r)) > 0);
		/* only SD_ERR_INTERNAL and the unknown fallback say this */
		if (r != SD_ERR_INTERNAL)
			assert_string_not_equal(sd_err(r), "internal error");
	}
}

static void
test_unknown_code_is_internal(void **state)
{
	(void)state;
	assert_string_equal(sd_err_api_code(-999), "internal");
	assert_int_equal(sd_err_http_status(-999), 500);
	assert_int_equal(sd_err_http_status(42), 500);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_design_table),
		cmocka_unit_test(test_every_code_has_text),
		cmocka_unit_test(test_unknown_code_is_internal),
	};

	return cmocka_run_group_tests_name("err", tests, NULL, NULL);
}
