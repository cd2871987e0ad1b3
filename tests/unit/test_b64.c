/*
 * test_b64: RFC 4648 test vectors both ways, and every kind of invalid
 * input the strict decoder must refuse.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "b64.h"
#include "err.h"

static const struct {
	const char *plain;
	const char *enc;
} vectors[] = {
	{ "", "" },
	{ "f", "Zg==" },
	{ "fo", "Zm8=" },
	{ "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" },
	{ "fooba", "Zm9vYmE=" },
	{ "foobar", "Zm9vYmFy" },
};

static void
test_rfc4648_vectors(void **state)
{
	uint8_t out[16];
	char enc[16];
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		assert_int_equal(
		    b64_encode((const uint8_t *)vectors[i].plain,
			strlen(vectors[i].plain), enc, sizeof(enc)),
		    0);
		assert_string_equal(enc, vectors[i].enc);
		assert_int_equal(
		    b64_decode(vectors[i].enc, strlen(vectors[i].enc), out,
			sizeof(out), &n),
		    0);
		assert_int_equal(n, strlen(vectors[i].plain));
		assert_memory_equal(out, vectors[i].plain, n);
	}
}

static void
test_all_bytes_round_trip(void **state)
{
	uint8_t in[256], out[256];
	char enc[B64_ENCODED_LEN(256) + 1];
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)i;
	assert_int_equal(b64_encode(in, sizeof(in), enc, sizeof(enc)), 0);
	assert_int_equal(b64_decode(enc, strlen(enc), out, sizeof(out), &n), 0);
	assert_int_equal(n, sizeof(in));
	assert_memory_equal(in, out, n);
}

#define BAD(s)                   \
	{                        \
		s, sizeof(s) - 1 \
	}

static void
test_invalid_refused(void **state)
{
	static const struct {
		const char *s;
		size_t len;
	} bad[] = {
		BAD("Zg="),
		BAD("Zg"),
		BAD("Z"),
		BAD("Zm9v\n"),
		BAD(" Zm9v"),
		BAD("Zm9v YmFy"),
		BAD("Zm9-"),
		BAD("Zm9_"),
		BAD("Zg==Zg=="),
		BAD("=Zg="),
		BAD("Z==="),
		BAD("Zh=="),
		BAD("Zm9="),
		BAD("Zm\0v"),
		BAD("===="),
		BAD("Zm9v\r\n"),
	};
	uint8_t out[16];
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(
		    b64_decode(bad[i].s, bad[i].len, out, sizeof(out), &n),
		    SD_ERR_BAD_REQUEST);
}

static void
test_capacity(void **state)
{
	uint8_t out[3];
	char small[4];
	size_t n;

	(void)state;
	assert_int_equal(
	    b64_decode("Zm9vYg==", 8, out, sizeof(out), &n), SD_ERR_TOO_LARGE);
	assert_int_equal(b64_decode("Zm9v", 4, out, sizeof(out), &n), 0);
	assert_int_equal(
	    b64_encode((const uint8_t *)"foo", 3, small, sizeof(small)),
	    SD_ERR_INTERNAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc4648_vectors),
		cmocka_unit_test(test_all_bytes_round_trip),
		cmocka_unit_test(test_invalid_refused),
		cmocka_unit_test(test_capacity),
	};

	return cmocka_run_group_tests_name("b64", tests, NULL, NULL);
}
