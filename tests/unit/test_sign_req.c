/*
 * test_sign_req: the sign request decoder against a table of bodies, good
 * and hostile: each bad body must be refused with a message naming what
 * is wrong, and a good one must decode to exactly its fields.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "req_json.h"

/* base64 of 32, 48 and 64 bytes */
#define D32 "\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\""
#define D48 \
	"\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4v\""
#define D64                                                                    \
	"\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMD" \
	"EyMzQ1Njc4OTo7PD0+Pw==\""

static const struct {
	const char *body;
	int result;
	const char *msg; /* substring of the error message */
} cases[] = {
	{ "{\"key\":\"k\",\"digest\":" D32 ",\"digest_alg\":\"sha256\","
	  "\"request_id\":\"r1\"}",
	    0, NULL },
	{ "{\"key\":\"k\",\"digest\":" D48 ",\"digest_alg\":\"sha384\","
	  "\"request_id\":\"r1\",\"format\":\"raw\"}",
	    0, NULL },
	{ "{\"key\":\"k\",\"digest\":" D64 ",\"digest_alg\":\"sha512\","
	  "\"request_id\":\"r1\",\"evidence\":{\"type\":\"handover\","
	  "\"ref\":\"msg 42 \\u00e9\"}}",
	    0, NULL },
	{ "{\"key\":\"k\",\"digest\":" D48 ",\"digest_alg\":\"sha384\","
	  "\"request_id\":\"r1\",\"format\":\"cms\"}",
	    0, NULL },
	/* shape */
	{ "", SD_ERR_BAD_REQUEST, "invalid JSON" },
	{ "{", SD_ERR_BAD_REQUEST, "invalid JSON" },
	{ "[]", SD_ERR_BAD_REQUEST, "JSON object" },
	{ "\"x\"", SD_ERR_BAD_REQUEST, "invalid JSON" },
	{ "{} {}", SD_ERR_BAD_REQUEST, "invalid JSON" },
	{ "{\"key\":\"k\",\"key\":\"k\"}", SD_ERR_BAD_REQUEST, "invalid JSON" },
	{ "{\"request_id\":\"r\xff\"}", SD_ERR_BAD_REQUEST, "invalid JSON" },
	/* request_id */
	{ "{\"key\":\"k\"}", SD_ERR_BAD_REQUEST, "\"request_id\" is required" },
	{ "{\"request_id\":5}", SD_ERR_BAD_REQUEST, "must be a string" },
	{ "{\"request_id\":\"\"}", SD_ERR_BAD_REQUEST, "1 to 128" },
	{ "{\"request_id\":\"a b\"}", SD_ERR_BAD_REQUEST, "not allowed" },
	{ "{\"request_id\":\"a\\u0000b\"}", SD_ERR_BAD_REQUEST, "not allowed" },
	{ "{\"request_id\":\"x\",\"extra\":1}", SD_ERR_BAD_REQUEST,
	    "unknown field \"extra\"" },
	/* key */
	{ "{\"request_id\":\"x\",\"digest\":" D32 ",\"digest_alg\":\"sha256\"}",
	    SD_ERR_BAD_REQUEST, "\"key\" is required" },
	{ "{\"request_id\":\"x\",\"key\":\"../k\",\"digest\":" D32
	  ",\"digest_alg\":\"sha256\"}",
	    SD_ERR_BAD_REQUEST, "not allowed" },
	/* digest */
	{ "{\"request_id\":\"x\",\"key\":\"k\",\"digest\":" D32 "}",
	    SD_ERR_BAD_REQUEST, "\"digest_alg\" is required" },
	{ "{\"request_id\":\"x\",\"key\":\"k\",\"digest\":" D32
	  ",\"digest_alg\":\"md5\"}",
	    SD_ERR_BAD_REQUEST, "sha256, sha384" },
	{ "{\"request_id\":\"x\",\"key\":\"k\",\"digest_alg\":\"sha256\"}",
	    SD_ERR_BAD_REQUEST, "\"digest\" (base64) is required" },
	{ "{\"request_id\":\"x\",\"key\":\"k\",\"digest\":" D48
	  ",\"digest_alg\":\"sha256\"}",
	    SD_ERR_BAD_REQUEST, "digest is 48 bytes; sha256 needs 32" },
	{ "{\"request_id\":\"x\",\"key\":\"k\",\"digest\":" D32
	  ",\"digest_alg\":\"sha512\"}",
	    SD_ERR_BAD_REQUEST, "sha512 needs 64" },
	{ "{\"request_id\":\"x\",\"key\":\"k\",\"digest\":\"AAEC!\","
	  "\"digest_alg\":\"sha256\"}",
	    SD_ERR_BAD_REQUEST, "not valid base64" },
	{ "{\"request_id\":\"x\",\"key\":\"k\",\"digest\":" D64 D64 ","
	  "\"digest_alg\":\"sha256\"}",
	    SD_ERR_BAD_REQUEST, "invalid JSON" },
	{ "{\"request_id\":\"x\",\"key\":\"k\",\"digest\":\""
	  "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4v"
	  "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4v\","
	  "\"digest_alg\":\"sha256\"}",
	    SD_ERR_BAD_REQUEST, "not valid base64" },
	{ "{\"request_id\":\"x\",\"key\":\"k\",\"digest\":[1],"
	  "\"digest_alg\":\"sha256\"}",
	    SD_ERR_BAD_REQUEST, "(base64)" },
	/* format */
	{ "{\"request_id\":\"x\",\"key\":\"k\",\"digest\":" D32
	  ",\"digest_alg\":\"sha256\",\"format\":\"CMS\"}",
	    SD_ERR_BAD_REQUEST, "format must be" },
	{ "{\"request_id\":\"x\",\"key\":\"k\",\"digest\":" D32
	  ",\"digest_alg\":\"sha256\",\"format\":\"pdf\"}",
	    SD_ERR_BAD_REQUEST, "format must be" },
	/* evidence */
	{ "{\"request_id\":\"x\",\"key\":\"k\",\"digest\":" D32
	  ",\"digest_alg\":\"sha256\",\"evidence\":\"x\"}",
	    SD_ERR_BAD_REQUEST, "must be an object" },
	{ "{\"request_id\":\"x\",\"key\":\"k\",\"digest\":" D32
	  ",\"digest_alg\":\"sha256\",\"evidence\":{\"ref\":\"r\"}}",
	    SD_ERR_BAD_REQUEST, "evidence.type" },
	{ "{\"request_id\":\"x\",\"key\":\"k\",\"digest\":" D32
	  ",\"digest_alg\":\"sha256\",\"evidence\":{\"type\":\"t\",\"x\":1}}",
	    SD_ERR_BAD_REQUEST, "unknown field \"x\" in \"evidence\"" },
	{ "{\"request_id\":\"x\",\"key\":\"k\",\"digest\":" D32
	  ",\"digest_alg\":\"sha256\",\"evidence\":{\"type\":\"t\","
	  "\"ref\":\"a\\nb\"}}",
	    SD_ERR_BAD_REQUEST, "not allowed" },
};

static void
test_table(void **state)
{
	struct sign_req rq;
	char msg[200];
	size_t i;
	int r;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		msg[0] = '\0';
		r = req_json_sign(cases[i].body, strlen(cases[i].body), &rq,
		    msg, sizeof(msg));
		if (r != cases[i].result ||
		    (cases[i].msg != NULL && strstr(msg, cases[i].msg) == NULL))
			fail_msg("case %zu: got %d \"%s\", want %d \"%s\"", i,
			    r, msg, cases[i].result,
			    cases[i].msg ? cases[i].msg : "");
		/* what the decoder accepts, the core's check accepts */
		if (r == 0 && sign_req_check(&rq) != 0)
			fail_msg(
			    "case %zu: decoded, but sign_req_check refuses", i);
	}
}

/* sign_req_check refuses what the decoder would: each field broken */
static void
test_check(void **state)
{
	const char *b =
	    "{\"key\":\"demo-ec\",\"digest\":"
	    "\"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\","
	    "\"digest_alg\":\"sha256\",\"request_id\":\"r1\","
	    "\"evidence\":{\"type\":\"submission\",\"ref\":\"x y\"}}";
	struct sign_req ok, rq;
	char msg[200];

	(void)state;
	assert_int_equal(req_json_sign(b, strlen(b), &ok, msg, sizeof(msg)), 0);
	assert_int_equal(sign_req_check(&ok), 0);
	rq = ok;
	rq.digest_len = 48;
	assert_int_equal(sign_req_check(&rq), SD_ERR_BAD_REQUEST);
	rq = ok;
	rq.digest_alg = (enum sign_digest)4;
	assert_int_equal(sign_req_check(&rq), SD_ERR_BAD_REQUEST);
	rq = ok;
	rq.key[0] = '\0';
	assert_int_equal(sign_req_check(&rq), SD_ERR_BAD_REQUEST);
	rq = ok;
	memset(rq.key, 'a', sizeof(rq.key)); /* not terminated */
	assert_int_equal(sign_req_check(&rq), SD_ERR_BAD_REQUEST);
	rq = ok;
	rq.key[1] = '/';
	assert_int_equal(sign_req_check(&rq), SD_ERR_BAD_REQUEST);
	rq = ok;
	rq.request_id[1] = ' ';
	assert_int_equal(sign_req_check(&rq), SD_ERR_BAD_REQUEST);
	rq = ok;
	rq.evidence_ref[0] = '\n';
	assert_int_equal(sign_req_check(&rq), SD_ERR_BAD_REQUEST);
	/* text that is not UTF-8, as jansson refuses it: a stray
	 * continuation byte, an overlong '/', a surrogate, past U+10FFFF */
	rq = ok;
	memcpy(rq.evidence_ref, "a\x80", 3);
	assert_int_equal(sign_req_check(&rq), SD_ERR_BAD_REQUEST);
	memcpy(rq.evidence_ref, "\xc0\xaf", 3);
	assert_int_equal(sign_req_check(&rq), SD_ERR_BAD_REQUEST);
	memcpy(rq.evidence_ref, "\xed\xa0\x80", 4);
	assert_int_equal(sign_req_check(&rq), SD_ERR_BAD_REQUEST);
	memcpy(rq.evidence_ref, "\xf4\x90\x80\x80", 5);
	assert_int_equal(sign_req_check(&rq), SD_ERR_BAD_REQUEST);
	memcpy(rq.evidence_ref, "\xc3\xa9t\xc3\xa9 \xf0\x9f\x93\x9c", 11);
	assert_int_equal(sign_req_check(&rq), 0); /* "été 📜" */
	rq = ok;
	rq.evidence_type[0] = '\0';
	assert_int_equal(sign_req_check(&rq), SD_ERR_BAD_REQUEST);
	rq = ok;
	memcpy(rq.format, "pem", 4);
	assert_int_equal(sign_req_check(&rq), SD_ERR_BAD_REQUEST);
}

static void
test_fields_decoded(void **state)
{
	const char *b = cases[2].body;
	struct sign_req rq;
	char msg[200];
	size_t i;

	(void)state;
	assert_int_equal(req_json_sign(b, strlen(b), &rq, msg, sizeof(msg)), 0);
	assert_string_equal(rq.key, "k");
	assert_string_equal(rq.request_id, "r1");
	assert_int_equal(rq.digest_alg, SIGN_SHA512);
	assert_int_equal(rq.digest_len, 64);
	for (i = 0; i < 64; i++)
		assert_int_equal(rq.digest[i], i);
	assert_string_equal(rq.format, "raw");
	assert_string_equal(rq.evidence_type, "handover");
	assert_string_equal(rq.evidence_ref, "msg 42 \xc3\xa9");
}

static void
test_request_id_kept_on_error(void **state)
{
	const char *b = "{\"request_id\":\"abc\",\"key\":\"k\"}";
	struct sign_req rq;
	char msg[200];

	(void)state;
	assert_int_equal(req_json_sign(b, strlen(b), &rq, msg, sizeof(msg)),
	    SD_ERR_BAD_REQUEST);
	assert_string_equal(rq.request_id, "abc");
}

static void
test_limits(void **state)
{
	char body[1024], id[200], msg[200];
	struct sign_req rq;

	(void)state;
	memset(id, 'a', 128);
	id[128] = '\0';
	snprintf(body, sizeof(body),
	    "{\"request_id\":\"%s\",\"key\":\"k\","
	    "\"digest\":" D32 ",\"digest_alg\":\"sha256\"}",
	    id);
	assert_int_equal(
	    req_json_sign(body, strlen(body), &rq, msg, sizeof(msg)), 0);
	id[128] = 'a';
	id[129] = '\0';
	snprintf(body, sizeof(body),
	    "{\"request_id\":\"%s\",\"key\":\"k\","
	    "\"digest\":" D32 ",\"digest_alg\":\"sha256\"}",
	    id);
	assert_int_equal(
	    req_json_sign(body, strlen(body), &rq, msg, sizeof(msg)),
	    SD_ERR_BAD_REQUEST);
	/* a decoder must not read past len: a cut body is invalid */
	assert_int_equal(
	    req_json_sign(cases[0].body, 20, &rq, msg, sizeof(msg)),
	    SD_ERR_BAD_REQUEST);
}

static void
test_hash_covers_content_not_id(void **state)
{
	const char *b = cases[2].body;
	uint8_t h1[SD_HASH_LEN], h2[SD_HASH_LEN];
	struct sign_req rq;
	char msg[200];

	(void)state;
	assert_int_equal(req_json_sign(b, strlen(b), &rq, msg, sizeof(msg)), 0);
	sign_req_hash(&rq, h1);
	memcpy(rq.request_id, "other", 6);
	sign_req_hash(&rq, h2);
	assert_memory_equal(h1, h2, SD_HASH_LEN);
	rq.digest[0] ^= 1;
	sign_req_hash(&rq, h2);
	assert_memory_not_equal(h1, h2, SD_HASH_LEN);
	rq.digest[0] ^= 1;
	memcpy(rq.evidence_ref, "x", 2);
	sign_req_hash(&rq, h2);
	assert_memory_not_equal(h1, h2, SD_HASH_LEN);
}

/* POST /v1/timestamp bodies. */
static const struct {
	const char *body;
	int result;
	const char *msg;
} stamps[] = {
	{ "{\"digest\":" D32 ",\"digest_alg\":\"sha256\"}", 0, NULL },
	{ "{\"digest\":" D64 ",\"digest_alg\":\"sha512\",\"nonce\":"
	  "9223372036854775807,\"cert_req\":false,\"policy\":\"1.2.3\"}",
	    0, NULL },
	{ "[]", SD_ERR_BAD_REQUEST, "JSON object" },
	{ "{\"digest\":" D32 "}", SD_ERR_BAD_REQUEST, "digest_alg" },
	{ "{\"digest\":" D32 ",\"digest_alg\":\"sha384\"}", SD_ERR_BAD_REQUEST,
	    "needs 48" },
	{ "{\"digest\":" D32 ",\"digest_alg\":\"sha256\",\"nonce\":0}",
	    SD_ERR_BAD_REQUEST, "positive integer" },
	{ "{\"digest\":" D32 ",\"digest_alg\":\"sha256\",\"nonce\":\"1\"}",
	    SD_ERR_BAD_REQUEST, "positive integer" },
	{ "{\"digest\":" D32 ",\"digest_alg\":\"sha256\",\"cert_req\":1}",
	    SD_ERR_BAD_REQUEST, "true or false" },
	{ "{\"digest\":" D32 ",\"digest_alg\":\"sha256\",\"policy\":\"1.a\"}",
	    SD_ERR_BAD_REQUEST, "dotted OID" },
	{ "{\"digest\":" D32 ",\"digest_alg\":\"sha256\",\"key\":\"k\"}",
	    SD_ERR_BAD_REQUEST, "unknown field" },
	/* past an integer's range: jansson refuses the whole text; the
	 * field is named all the same */
	{ "{\"digest\":" D32 ",\"digest_alg\":\"sha256\",\"nonce\":"
	  "9223372036854775808}",
	    SD_ERR_BAD_REQUEST, "field \"nonce\" is out of range" },
	{ "{\"digest\":" D32 ",\"nonce\" : 18446744073709551616000,"
	  "\"digest_alg\":\"sha256\"}",
	    SD_ERR_BAD_REQUEST, "field \"nonce\" is out of range" },
	{ "{\"digest\":" D32 ",\"digest_alg\":\"sha256\",\"nonce\":1,",
	    SD_ERR_BAD_REQUEST, "invalid JSON at line 1" },
};

static void
test_stamp(void **state)
{
	struct req_json_stamp sr;
	char msg[200];
	size_t i;
	int r;

	(void)state;
	for (i = 0; i < sizeof(stamps) / sizeof(stamps[0]); i++) {
		msg[0] = '\0';
		r = req_json_stamp(stamps[i].body, strlen(stamps[i].body), &sr,
		    msg, sizeof(msg));
		if (r != stamps[i].result ||
		    (stamps[i].msg != NULL &&
			strstr(msg, stamps[i].msg) == NULL))
			fail_msg("stamp case %zu: got %d \"%s\"", i, r, msg);
	}
	assert_int_equal(req_json_stamp(stamps[1].body, strlen(stamps[1].body),
			     &sr, msg, sizeof(msg)),
	    0);
	assert_int_equal(sr.digest_alg, SIGN_SHA512);
	assert_int_equal(sr.digest_len, 64);
	assert_true(sr.nonce == UINT64_C(9223372036854775807));
	assert_int_equal(sr.cert_req, 0);
	assert_string_equal(sr.policy, "1.2.3");
	assert_int_equal(req_json_stamp(stamps[0].body, strlen(stamps[0].body),
			     &sr, msg, sizeof(msg)),
	    0);
	assert_int_equal(sr.cert_req, 1);
	assert_true(sr.nonce == 0);
	assert_string_equal(sr.policy, "");
}

/* Client bytes quoted back in an error stay on one line (found by
 * fuzz_sign_req: a field name and a parser's error text with newlines). */
static void
test_messages_one_line(void **state)
{
	static const char *const bodies[] = {
		"{\"n\\nce\":1}",    /* an escaped newline in a name */
		"{\"\\\n\0\0\0s\"}", /* a raw newline in bad JSON */
		"{\"k\\u0007y\":1}", /* a bell */
		"{\"q\\\"x\":1}",    /* a quote in the name */
	};
	struct sign_req r;
	struct req_json_stamp t;
	char err[256];
	size_t i;

	(void)state;
	size_t len;

	for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		len = i == 1 ? 10 : strlen(bodies[i]); /* 1 holds NULs */
		assert_int_equal(
		    req_json_sign(bodies[i], len, &r, err, sizeof(err)),
		    SD_ERR_BAD_REQUEST);
		assert_null(strpbrk(err, "\n\r\a"));
		assert_int_equal(
		    req_json_stamp(bodies[i], len, &t, err, sizeof(err)),
		    SD_ERR_BAD_REQUEST);
		assert_null(strpbrk(err, "\n\r\a"));
	}
	assert_int_equal(
	    req_json_stamp(bodies[0], strlen(bodies[0]), &t, err, sizeof(err)),
	    SD_ERR_BAD_REQUEST);
	assert_string_equal(err, "unknown field \"(not printable)\"");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_messages_one_line),
		cmocka_unit_test(test_fields_decoded),
		cmocka_unit_test(test_request_id_kept_on_error),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_hash_covers_content_not_id),
		cmocka_unit_test(test_stamp),
	};

	return cmocka_run_group_tests_name("sign_req", tests, NULL, NULL);
}
