/*
 * test_p11uri: RFC 7512 pkcs11: URIs as seald takes them: the attributes
 * that name a token or a key, percent-decoded; anything else refused by
 * name.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "p11uri.h"

static struct p11uri u;
static char err[256];

#define OK(s) assert_int_equal(p11uri_parse((s), &u, err, sizeof(err)), 0)
#define BAD(s, why)                                                            \
	do {                                                                   \
		assert_int_equal(p11uri_parse((s), &u, err, sizeof(err)), -1); \
		assert_non_null(strstr(err, (why)));                           \
	} while (0)

static void
test_what_p11tool_prints(void **state)
{
	(void)state;
	/* p11tool --list-privkeys --login, on SoftHSM */
	OK("pkcs11:model=SoftHSM%20v2;manufacturer=SoftHSM%20project;"
	   "serial=5d3bb7c5a4b1f2e6;token=seald;id=%01%ff;"
	   "object=seald-demo-ec;type=private");
	assert_int_equal(u.has,
	    P11URI_TOKEN_ATTRS | P11URI_OBJECT | P11URI_ID | P11URI_TYPE);
	assert_string_equal(u.model, "SoftHSM v2");
	assert_string_equal(u.manufacturer, "SoftHSM project");
	assert_string_equal(u.serial, "5d3bb7c5a4b1f2e6");
	assert_string_equal(u.token, "seald");
	assert_string_equal(u.object, "seald-demo-ec");
	assert_string_equal(u.type, "private");
	assert_int_equal(u.id_len, 2);
	assert_int_equal(u.id[0], 0x01);
	assert_int_equal(u.id[1], 0xff);
	/* the scheme in any case; a token alone; nothing at all */
	OK("PKCS11:token=My%20Token");
	assert_int_equal(u.has, P11URI_TOKEN);
	assert_string_equal(u.token, "My Token");
	OK("pkcs11:");
	assert_int_equal(u.has, 0);
	assert_int_equal(p11uri_is("pkcs11:x"), 1);
	assert_int_equal(p11uri_is("seald"), 0);
	assert_int_equal(p11uri_is("pkcs11"), 0);
}

static void
test_refused(void **state)
{
	(void)state;
	BAD("seald", "does not begin with pkcs11:");
	BAD("pkcs11:token=a;token=b", "'token' given twice");
	BAD("pkcs11:slot-id=3", "attribute 'slot-id' is not taken");
	BAD("pkcs11:library-manufacturer=x", "'library-manufacturer' is not");
	BAD("pkcs11:x-vendor=1", "'x-vendor' is not taken");
	BAD("pkcs11:token=a?pin-value=1234", "query or fragment");
	BAD("pkcs11:token=a?module-path=/tmp/evil.so", "query or fragment");
	BAD("pkcs11:token", "is not name=value");
	BAD("pkcs11:=x", "is not name=value");
	BAD("pkcs11:token=a;;object=b", "empty attribute");
	BAD("pkcs11:token=a;", "ends with ';'");
	BAD("pkcs11:token=a%2", "two hex digits");
	BAD("pkcs11:token=a%zz", "two hex digits");
	BAD("pkcs11:token=a%00b", "NUL");
	BAD("pkcs11:token=a b", "' ' must be percent-encoded (%20)");
	BAD("pkcs11:token=a\tb", "a byte 0x09");
	BAD("pkcs11:object=a/b", "'/' must be percent-encoded (%2F)");
	BAD("pkcs11:type=secret", "none of private");
	/* CK_TOKEN_INFO's lengths: 32 for a label, 16 for a serial */
	OK("pkcs11:token=12345678901234567890123456789012");
	BAD("pkcs11:token=123456789012345678901234567890123", "longer than 32");
	BAD("pkcs11:serial=12345678901234567", "longer than 16");
}

static void
test_overlong(void **state)
{
	char big[SD_P11URI_MAX + 16];

	(void)state;
	memcpy(big, "pkcs11:object=", 14);
	memset(big + 14, 'a', sizeof(big) - 15);
	big[sizeof(big) - 1] = '\0';
	BAD(big, "longer than 1024 bytes");
}

static void
test_field(void **state)
{
	const unsigned char f[32] = "seald                           ";

	(void)state;
	assert_int_equal(p11uri_field_is(f, sizeof(f), "seald"), 1);
	assert_int_equal(p11uri_field_is(f, sizeof(f), "seal"), 0);
	assert_int_equal(p11uri_field_is(f, sizeof(f), "seald "), 0);
	assert_int_equal(p11uri_field_is(f, sizeof(f), ""), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_what_p11tool_prints),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_overlong),
		cmocka_unit_test(test_field),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
