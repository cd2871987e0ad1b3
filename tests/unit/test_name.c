/*
 * test_name: the rules for text from outside: names, decimals, what may
 * be quoted back, UTF-8.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "name.h"
#include "sd_limits.h"

#define DEC(s) sd_decimal((s), strlen(s))
#define NAME(s) sd_name_valid((s), strlen(s))
#define UTF8(s) sd_utf8_valid((s), sizeof(s) - 1)

static void
test_decimal(void **state)
{
	(void)state;
	assert_int_equal(DEC("0"), 0);
	assert_int_equal(DEC("007"), 7);
	assert_int_equal(DEC("123456789012345678"), 123456789012345678LL);
	/* 19 digits could overflow int64_t: refused, not wrapped */
	assert_int_equal(DEC("9999999999999999999"), -1);
	assert_int_equal(DEC(""), -1);
	assert_int_equal(DEC("-1"), -1);
	assert_int_equal(DEC("+1"), -1);
	assert_int_equal(DEC(" 1"), -1);
	assert_int_equal(DEC("1 "), -1);
	assert_int_equal(DEC("0x10"), -1);
	/* only the n bytes given are read */
	assert_int_equal(sd_decimal("2026-12", 4), 2026);
	assert_int_equal(sd_decimal("12:", 2), 12);
}

static void
test_name_rule(void **state)
{
	char longest[SD_NAME_MAX], too_long[SD_NAME_MAX + 1];

	(void)state;
	assert_true(NAME("qerds-seal"));
	assert_true(NAME("a.b_c-9"));
	assert_false(NAME(""));
	assert_false(NAME("a/b"));
	assert_false(NAME("a b"));
	assert_false(NAME("caf\xc3\xa9"));
	assert_false(sd_name_valid("a\0b", 3));
	memset(longest, 'x', sizeof(longest));
	assert_true(sd_name_valid(longest, SD_NAME_MAX - 1));
	memset(too_long, 'x', sizeof(too_long));
	assert_false(sd_name_valid(too_long, SD_NAME_MAX));
}

static void
test_quotable_and_printable(void **state)
{
	char line[] = "bad\nkey\x7f\tend";

	(void)state;
	assert_true(sd_quotable("plain text, 1-2"));
	assert_false(sd_quotable("say \"hi\""));
	assert_false(sd_quotable("back\\slash"));
	assert_false(sd_quotable("new\nline"));
	assert_false(sd_quotable("caf\xc3\xa9"));
	sd_printable(line);
	assert_string_equal(line, "bad?key??end");
}

static void
test_utf8(void **state)
{
	(void)state;
	assert_true(UTF8("ascii"));
	assert_true(UTF8("caf\xc3\xa9"));
	assert_true(UTF8("\xe2\x82\xac"));      /* U+20AC */
	assert_true(UTF8("\xf4\x8f\xbf\xbf"));  /* U+10FFFF */
	assert_false(UTF8("\xc0\xaf"));         /* overlong '/' */
	assert_false(UTF8("\xe0\x80\xaf"));     /* overlong, 3 bytes */
	assert_false(UTF8("\xed\xa0\x80"));     /* surrogate U+D800 */
	assert_false(UTF8("\xf4\x90\x80\x80")); /* past U+10FFFF */
	assert_false(UTF8("\xc3"));             /* cut short */
	assert_false(UTF8("\xe2\x82"));
	assert_false(UTF8("\x80"));     /* lone continuation */
	assert_false(UTF8("\xc3\x28")); /* bad continuation */
	assert_false(UTF8("\xff"));
}

static void
test_hexval(void **state)
{
	(void)state;
	assert_int_equal(sd_hexval('0'), 0);
	assert_int_equal(sd_hexval('9'), 9);
	assert_int_equal(sd_hexval('a'), 10);
	assert_int_equal(sd_hexval('F'), 15);
	assert_int_equal(sd_hexval('g'), -1);
	assert_int_equal(sd_hexval('/'), -1);
	assert_int_equal(sd_hexval(0), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hexval),
		cmocka_unit_test(test_decimal),
		cmocka_unit_test(test_name_rule),
		cmocka_unit_test(test_quotable_and_printable),
		cmocka_unit_test(test_utf8),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
