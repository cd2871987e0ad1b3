/*
 * test_note: the signed head (docs/ledger-format.md, "The signed head"):
 * written and read back the same, its key ID the vector of the format
 * document (computed there with openssl alone), its signature the
 * checkpoint's, and every change or malformation refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "ledger.h"

/* a test key, nothing else: the format document's key ID vector */
static const char key_pem[] =
    "-----BEGIN EC PRIVATE KEY-----\n"
    "MHcCAQEEIPEnJd1EmIojOdJ20+4nJD0GXWVot+/exmsw6iCN0FhgoAoGCCqGSM49\n"
    "AwEHoUQDQgAEbvqtRPAvJHhZeohzt78szG8mPpN2MsMLb049OaicHghMF8O6NJtn\n"
    "qT7kXYcfgDNH8BFJ6HzVnntBJRUGi8c/9g==\n"
    "-----END EC PRIVATE KEY-----\n";
static const uint8_t key_id[4] = { 0xf8, 0x7b, 0x56, 0xaa };

static EVP_PKEY *key;

/* A checkpoint of demo-1 at seq 1042, signed with key. */
static void
make_cp(struct ledger_cp *cp, int closing)
{
	uint8_t dg[SD_HASH_LEN];
	EVP_PKEY_CTX *c;
	size_t n;

	memset(cp, 0, sizeof(*cp));
	cp->seq = 1042;
	memset(cp->entry_hash, 0xab, SD_HASH_LEN);
	cp->has_root = 1;
	memset(cp->root, 0xcd, SD_HASH_LEN);
	cp->closing = closing;
	cp->signed_at_us = 1796630400000000LL;
	snprintf(cp->key_label, sizeof(cp->key_label), "seald-audit");
	ledger_checkpoint_digest(cp, "demo-1", dg);
	c = EVP_PKEY_CTX_new(key, NULL);
	n = sizeof(cp->sig);
	assert_non_null(c);
	assert_int_equal(EVP_PKEY_sign_init(c), 1);
	assert_int_equal(EVP_PKEY_sign(c, cp->sig, &n, dg, sizeof(dg)), 1);
	cp->sig_len = n;
	EVP_PKEY_CTX_free(c);
}

static int
setup(void **state)
{
	BIO *b = BIO_new_mem_buf(key_pem, -1);

	(void)state;
	key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	return key == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	(void)state;
	EVP_PKEY_free(key);
	return 0;
}

static void
test_round_trip(void **state)
{
	struct ledger_cp cp, back;
	char text[SD_NOTE_MAX], inst[SD_NAME_MAX], why[128];
	int n, closing;

	(void)state;
	for (closing = 0; closing <= 1; closing++) {
		make_cp(&cp, closing);
		n = ledger_note_format(&cp, "demo-1", key, text, sizeof(text));
		assert_true(n > 0);
		assert_int_equal(
		    strncmp(text,
			"seald/demo-1\n1042\n"
			"zc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc0=\n"
			"entry "
			"q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=\n"
			"time 1796630400000000\n",
			strlen("seald/demo-1\n1042\n") + 45 + 51 + 22),
		    0);
		assert_non_null(strstr(text, "\n\n\xe2\x80\x94 seald-audit "));
		assert_int_equal(strstr(text, "closing\n") != NULL, closing);
		assert_int_equal(ledger_note_parse(text, (size_t)n, &back, inst,
				     sizeof(inst), why, sizeof(why)),
		    0);
		assert_string_equal(inst, "demo-1");
		assert_int_equal(back.seq, 1042);
		assert_int_equal(back.closing, closing);
		assert_int_equal(back.signed_at_us, cp.signed_at_us);
		assert_memory_equal(back.root, cp.root, SD_HASH_LEN);
		assert_memory_equal(
		    back.entry_hash, cp.entry_hash, SD_HASH_LEN);
		assert_memory_equal(back.key_id, key_id, 4);
		assert_true(ledger_note_signed(&back, inst, key));
	}
}

/* Replace the first `from` in text by `to` (same length or shorter). */
static void
edit(char *text, const char *from, const char *to)
{
	char *p = strstr(text, from);

	assert_non_null(p);
	memmove(p + strlen(to), p + strlen(from), strlen(p + strlen(from)) + 1);
	memcpy(p, to, strlen(to));
}

static void
test_changes_are_not_signed(void **state)
{
	static const char *const from[] = { "1042\n", "time 17", "seald-audit ",
		"seald/demo-1" };
	static const char *const to[] = { "1041\n", "time 16", "seald-audiX ",
		"seald/demo-2" };
	struct ledger_cp cp, back;
	char text[SD_NOTE_MAX], inst[SD_NAME_MAX], why[128];
	size_t i;

	(void)state;
	make_cp(&cp, 0);
	for (i = 0; i < sizeof(from) / sizeof(from[0]); i++) {
		assert_true(ledger_note_format(
				&cp, "demo-1", key, text, sizeof(text)) > 0);
		edit(text, from[i], to[i]);
		assert_int_equal(ledger_note_parse(text, strlen(text), &back,
				     inst, sizeof(inst), why, sizeof(why)),
		    0);
		assert_false(ledger_note_signed(&back, inst, key));
	}
}

static void
test_malformed(void **state)
{
	static const char *const bad[] = {
		"",
		"seald/demo-1\n1042\n",
		"other/demo-1\n1\nAAAA\nentry AAAA\ntime 1\n\n\xe2\x80\x94 k "
		"AAAAAA==\n",
		"seald/demo 1\n1\n",
		"seald/demo-1\n-1\n",
	};
	struct ledger_cp cp, back;
	char text[SD_NOTE_MAX + 8], inst[SD_NAME_MAX], why[128];
	size_t i;
	int n;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(
		    ledger_note_parse(bad[i], strlen(bad[i]), &back, inst,
			sizeof(inst), why, sizeof(why)),
		    -1);
	make_cp(&cp, 0);
	n = ledger_note_format(&cp, "demo-1", key, text, sizeof(text));
	/* anything after the signature line, a missing last newline, no
	 * blank line */
	memcpy(text + n, "x\n", 3);
	assert_int_equal(ledger_note_parse(text, (size_t)n + 2, &back, inst,
			     sizeof(inst), why, sizeof(why)),
	    -1);
	assert_int_equal(ledger_note_parse(text, (size_t)n - 1, &back, inst,
			     sizeof(inst), why, sizeof(why)),
	    -1);
	text[n] = '\0';
	edit(text, "\n\n", "\n");
	assert_int_equal(ledger_note_parse(text, strlen(text), &back, inst,
			     sizeof(inst), why, sizeof(why)),
	    -1);
	/* too long */
	memset(text, 'a', sizeof(text));
	assert_int_equal(ledger_note_parse(text, SD_NOTE_MAX + 1, &back, inst,
			     sizeof(inst), why, sizeof(why)),
	    -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_changes_are_not_signed),
		cmocka_unit_test(test_malformed),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
