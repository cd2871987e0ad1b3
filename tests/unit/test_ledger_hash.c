/*
 * test_ledger_hash: the chain hash against the test vectors printed in
 * docs/ledger-format.md (computed there from the written encoding, not
 * from this code), and its sensitivity to every field.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ledger.h"

static void
vector_entry(struct ledger_entry *e, int64_t seq)
{
	static const uint8_t sig[] = { 0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01,
		0x02 };
	size_t i;

	memset(e, 0, sizeof(*e));
	memcpy(e->instance, "demo-1", 7);
	e->seq = seq;
	e->signed_at_us = 1795334400000000LL + (seq - 1);
	memcpy(e->client, "local", 6);
	e->client_uid = 1000;
	e->client_pid = 4242;
	snprintf(
	    e->request_id, sizeof(e->request_id), "req-%lld", (long long)seq);
	memset(e->request_hash, 0xaa, SD_HASH_LEN);
	memcpy(e->key_name, "demo-ec", 8);
	e->key_version = 1;
	memcpy(e->algorithm, "ecdsa-sha256", 13);
	memcpy(e->digest_alg, "sha256", 7);
	for (i = 0; i < 32; i++)
		e->digest[i] = (uint8_t)i;
	e->digest_len = 32;
	memcpy(e->format, "raw", 4);
	memcpy(e->sig, sig, sizeof(sig));
	e->sig_len = sizeof(sig);
	memset(e->policy_hash, 0xbb, SD_HASH_LEN);
	if (seq == 1) {
		memcpy(e->evidence_type, "submission", 11);
		memcpy(e->evidence_ref, "msg-1", 6);
	}
}

static void
to_hex(const uint8_t *p, char *out)
{
	size_t i;

	for (i = 0; i < SD_HASH_LEN; i++)
		snprintf(out + 2 * i, 3, "%02x", p[i]);
}

static void
test_vectors(void **state)
{
	uint8_t zero[SD_HASH_LEN] = { 0 }, h1[SD_HASH_LEN], h2[SD_HASH_LEN];
	struct ledger_entry e;
	char hex[2 * SD_HASH_LEN + 1];

	(void)state;
	vector_entry(&e, 1);
	ledger_entry_hash(&e, zero, h1);
	to_hex(h1, hex);
	assert_string_equal(hex,
	    "0741b37af6d41534c04a5e83f2ebbdf7fbd7b96c120d2775977e721ef2eeb702");
	vector_entry(&e, 2);
	ledger_entry_hash(&e, h1, h2);
	to_hex(h2, hex);
	assert_string_equal(hex,
	    "8473fc77e4d644dd7393cc3618acf30f16e294df01c11b0f667fb8cc165b75c4");
}

static void
test_policy_entry_vector(void **state)
{
	uint8_t zero[SD_HASH_LEN] = { 0 }, h1[SD_HASH_LEN], h2[SD_HASH_LEN],
		h3[SD_HASH_LEN];
	struct ledger_entry e;
	char hex[2 * SD_HASH_LEN + 1];

	(void)state;
	vector_entry(&e, 1);
	ledger_entry_hash(&e, zero, h1);
	vector_entry(&e, 2);
	ledger_entry_hash(&e, h1, h2);
	memset(&e, 0, sizeof(e));
	e.kind = LEDGER_POLICY;
	memcpy(e.instance, "demo-1", 7);
	e.seq = 3;
	e.signed_at_us = 1795334400000002LL;
	memset(e.policy_hash, 0xbb, SD_HASH_LEN);
	memcpy(e.detail, "reload accepted", 16);
	ledger_entry_hash(&e, h2, h3);
	to_hex(h3, hex);
	assert_string_equal(hex,
	    "a11e29ebe4ec20a44d2cd1992fd4d808ad8f991e4d8bd8de40fc73ca4c972bec");
	/* request fields do not count for a policy entry */
	memcpy(e.client, "x", 2);
	ledger_entry_hash(&e, h2, h1);
	assert_memory_equal(h1, h3, SD_HASH_LEN);
}

/* Entry 4 of the document: a time-stamp token. */
static void
test_timestamp_entry_vector(void **state)
{
	static const uint8_t prev[SD_HASH_LEN] = { 0xa1, 0x1e, 0x29, 0xeb, 0xe4,
		0xec, 0x20, 0xa4, 0x4d, 0x2c, 0xd1, 0x99, 0x2f, 0xd4, 0xd8,
		0x08, 0xad, 0x8f, 0x99, 0x1e, 0x4d, 0x8b, 0xd8, 0xde, 0x40,
		0xfc, 0x73, 0xca, 0x4c, 0x97, 0x2b, 0xec };
	static const uint8_t token[] = { 0x30, 0x03, 0x02, 0x01, 0x01 };
	uint8_t h[SD_HASH_LEN], h2[SD_HASH_LEN];
	struct ledger_entry e;
	char hex[2 * SD_HASH_LEN + 1];
	size_t i;

	(void)state;
	memset(&e, 0, sizeof(e));
	e.kind = LEDGER_TIMESTAMP;
	memcpy(e.instance, "demo-1", 7);
	e.seq = 4;
	e.signed_at_us = 1795334400000003LL;
	memcpy(e.client, "local", 6);
	e.client_uid = 1000;
	e.client_pid = 4242;
	memset(e.request_hash, 0xcc, SD_HASH_LEN);
	memcpy(e.key_name, "demo-tsa", 9);
	e.key_version = 1;
	memcpy(e.algorithm, "ecdsa-sha256", 13);
	memcpy(e.digest_alg, "sha256", 7);
	for (i = 0; i < 32; i++)
		e.digest[i] = (uint8_t)i;
	e.digest_len = 32;
	memcpy(e.format, "rfc3161", 8);
	memcpy(e.tsa_policy, "2.999.7.1", 10);
	for (i = 0; i < 8; i++)
		e.tsa_serial[i] = (uint8_t)(i + 1);
	e.tsa_serial_len = 8;
	memcpy(e.sig, token, sizeof(token));
	e.sig_len = sizeof(token);
	memset(e.policy_hash, 0xbb, SD_HASH_LEN);
	ledger_entry_hash(&e, prev, h);
	to_hex(h, hex);
	assert_string_equal(hex,
	    "dfec8ffa0d5a26f44df20e657b84250b8b9b19fd6b2c7ca27a3b1c8b2ccf07bf");
	/* the serial, the policy and the format count; request_id and
	 * evidence do not */
	e.format[0] = 'R';
	ledger_entry_hash(&e, prev, h2);
	assert_memory_not_equal(h, h2, SD_HASH_LEN);
	e.format[0] = 'r';
	e.tsa_serial[7] ^= 1;
	ledger_entry_hash(&e, prev, h2);
	assert_memory_not_equal(h, h2, SD_HASH_LEN);
	e.tsa_serial[7] ^= 1;
	e.tsa_policy[0] = '1';
	ledger_entry_hash(&e, prev, h2);
	assert_memory_not_equal(h, h2, SD_HASH_LEN);
	e.tsa_policy[0] = '2';
	memcpy(e.request_id, "x", 2);
	memcpy(e.evidence_type, "y", 2);
	ledger_entry_hash(&e, prev, h2);
	assert_memory_equal(h, h2, SD_HASH_LEN);
}

static void
test_every_field_counts(void **state)
{
	uint8_t zero[SD_HASH_LEN] = { 0 }, base[SD_HASH_LEN], h[SD_HASH_LEN];
	struct ledger_entry e;
	int f;

	(void)state;
	vector_entry(&e, 1);
	ledger_entry_hash(&e, zero, base);
	for (f = 0; f < 19; f++) {
		vector_entry(&e, 1);
		switch (f) {
		case 0:
			e.instance[0] = 'x';
			break;
		case 1:
			e.seq = 2;
			break;
		case 2:
			e.signed_at_us++;
			break;
		case 3:
			e.client[0] = 'x';
			break;
		case 4:
			e.client_uid = 0;
			break;
		case 5:
			e.client_pid = 1;
			break;
		case 6:
			e.request_id[0] = 'x';
			break;
		case 7:
			e.request_hash[31] = 0;
			break;
		case 8:
			e.key_name[0] = 'x';
			break;
		case 9:
			e.key_version = 2;
			break;
		case 10:
			e.algorithm[0] = 'x';
			break;
		case 11:
			e.digest_alg[5] = '4';
			break;
		case 12:
			e.digest[31] ^= 1;
			break;
		case 13:
			e.format[0] = 'c';
			break;
		case 14:
			e.sig[7] ^= 1;
			break;
		case 15:
			e.evidence_type[0] = 'x';
			break;
		case 16:
			e.evidence_ref[0] = 'x';
			break;
		case 17:
			zero[0] = 1;
			break;
		case 18:
			e.policy_hash[0] = 0;
			break;
		}
		ledger_entry_hash(&e, zero, h);
		zero[0] = 0;
		if (memcmp(h, base, SD_HASH_LEN) == 0)
			fail_msg("field %d does not change the hash", f);
	}
}

static void
test_length_prefix_separates_fields(void **state)
{
	uint8_t zero[SD_HASH_LEN] = { 0 }, a[SD_HASH_LEN], b[SD_HASH_LEN];
	struct ledger_entry e;

	(void)state;
	/* "submission"+"msg-1" must differ from "submissionm"+"sg-1" */
	vector_entry(&e, 1);
	ledger_entry_hash(&e, zero, a);
	memcpy(e.evidence_type, "submissionm", 12);
	memcpy(e.evidence_ref, "sg-1", 5);
	ledger_entry_hash(&e, zero, b);
	assert_memory_not_equal(a, b, SD_HASH_LEN);
}

/* Entry 5 of the document: a key event. */
static void
test_key_entry_vector(void **state)
{
	static const uint8_t prev[SD_HASH_LEN] = { 0xdf, 0xec, 0x8f, 0xfa, 0x0d,
		0x5a, 0x26, 0xf4, 0x4d, 0xf2, 0x0e, 0x65, 0x7b, 0x84, 0x25,
		0x0b, 0x8b, 0x9b, 0x19, 0xfd, 0x6b, 0x2c, 0x7c, 0xa2, 0x7a,
		0x3b, 0x1c, 0x8b, 0x2c, 0xcf, 0x07, 0xbf };
	uint8_t h[SD_HASH_LEN], h2[SD_HASH_LEN];
	struct ledger_entry e;
	char hex[2 * SD_HASH_LEN + 1];
	size_t i;

	(void)state;
	memset(&e, 0, sizeof(e));
	e.kind = LEDGER_KEY;
	memcpy(e.instance, "demo-1", 7);
	e.seq = 5;
	e.signed_at_us = 1795334400000004LL;
	memcpy(e.client, "local-officer", 14);
	e.client_uid = 1001;
	e.client_pid = 4243;
	memcpy(e.key_name, "qerds-seal", 11);
	e.key_version = 1;
	memcpy(e.algorithm, "ec-p256", 8);
	memcpy(e.format, "generate", 9);
	memcpy(e.digest_alg, "sha256", 7);
	for (i = 0; i < 32; i++)
		e.digest[i] = (uint8_t)(0x20 + i);
	e.digest_len = 32;
	snprintf(e.detail, sizeof(e.detail),
	    "generated in the HSM: label seald-qerds-seal-v1");
	memset(e.policy_hash, 0xbb, SD_HASH_LEN);
	ledger_entry_hash(&e, prev, h);
	to_hex(h, hex);
	assert_string_equal(hex,
	    "85722382d7041f18387256557fcd0b230eb4dd5401f9c8aa38b5ed17171a32c7");
	/* who, what and about what count; request fields do not */
	e.client_uid = 1002;
	ledger_entry_hash(&e, prev, h2);
	assert_memory_not_equal(h, h2, SD_HASH_LEN);
	e.client_uid = 1001;
	e.digest[0] ^= 1;
	ledger_entry_hash(&e, prev, h2);
	assert_memory_not_equal(h, h2, SD_HASH_LEN);
	e.digest[0] ^= 1;
	memcpy(e.request_id, "ignored", 8);
	memset(e.sig, 1, 8);
	e.sig_len = 8;
	ledger_entry_hash(&e, prev, h2);
	assert_memory_equal(h, h2, SD_HASH_LEN);
}

/* Entries 6 and 7 of the document: an override entry, and a signature
 * entry whose strings are not ASCII (UTF-8 bytes, length in bytes); each
 * after 32 bytes of 0x11. */
static void
test_override_and_utf8_vectors(void **state)
{
	uint8_t prev[SD_HASH_LEN], h[SD_HASH_LEN];
	struct ledger_entry e;
	char hex[2 * SD_HASH_LEN + 1];

	(void)state;
	memset(prev, 0x11, SD_HASH_LEN);
	memset(&e, 0, sizeof(e));
	e.kind = LEDGER_OVERRIDE;
	memcpy(e.instance, "demo-1", 7);
	e.seq = 6;
	e.signed_at_us = 1795334400000005LL;
	memset(e.policy_hash, 0xbb, SD_HASH_LEN);
	snprintf(e.detail, sizeof(e.detail), "%s",
	    "start-up check failed: entry 2: entry_hash does not match the "
	    "entry (the entry was changed); overridden by uid 0: restored "
	    "from the backup of 2026-11-21");
	ledger_entry_hash(&e, prev, h);
	to_hex(h, hex);
	assert_string_equal(hex,
	    "5fe177580f65eb9f78ef827347f42065514179034482f3e3a6618a08993e331b");

	vector_entry(&e, 7);
	snprintf(
	    e.client, sizeof(e.client), "%s", "b\xc3\xbcrgeramt-zustellung");
	snprintf(
	    e.request_id, sizeof(e.request_id), "%s", "anfrage-\xc3\xa4-7");
	memcpy(e.evidence_type, "submission", 11);
	snprintf(e.evidence_ref, sizeof(e.evidence_ref), "%s",
	    "Zustellnachweis \xe2\x84\x96"
	    "7 \xe2\x80\x93 \xc3\x9c"
	    "bergabe");
	ledger_entry_hash(&e, prev, h);
	to_hex(h, hex);
	assert_string_equal(hex,
	    "a69be85338b443e70994ad7aba0b2c2eb6cb46b229d26df090d336a9b45b03ab");
}

/* Entry 8: a cades-t signature hashes its token's policy and serial
 * after the evidence; other formats do not hash them at all. */
static void
test_cades_t_vector(void **state)
{
	static const uint8_t serial[] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	uint8_t prev[SD_HASH_LEN], h[SD_HASH_LEN], h2[SD_HASH_LEN];
	struct ledger_entry e;
	char hex[2 * SD_HASH_LEN + 1];

	(void)state;
	memset(prev, 0x11, SD_HASH_LEN);
	vector_entry(&e, 8);
	memcpy(e.format, "cades-t", 8);
	memcpy(e.tsa_policy, "2.999.7.1", 10);
	memcpy(e.tsa_serial, serial, sizeof(serial));
	e.tsa_serial_len = sizeof(serial);
	ledger_entry_hash(&e, prev, h);
	to_hex(h, hex);
	assert_string_equal(hex,
	    "a61e2d3cc20669efaa8070de7c1163f6a7e2085c112cef5e204b16adc9cca5e5");
	e.tsa_serial[7] ^= 1;
	ledger_entry_hash(&e, prev, h2);
	assert_memory_not_equal(h, h2, SD_HASH_LEN);
	e.tsa_serial[7] ^= 1;
	e.tsa_policy[8] = '2';
	ledger_entry_hash(&e, prev, h2);
	assert_memory_not_equal(h, h2, SD_HASH_LEN);
	/* a cms entry's hash leaves them out (verify wants them empty) */
	memcpy(e.format, "cms", 4);
	ledger_entry_hash(&e, prev, h);
	e.tsa_serial_len = 0;
	e.tsa_policy[0] = '\0';
	ledger_entry_hash(&e, prev, h2);
	assert_memory_equal(h, h2, SD_HASH_LEN);
}

/* The checkpoint digest of the document's signed head example. */
static void
test_checkpoint_vector(void **state)
{
	struct ledger_cp cp;
	uint8_t dg[SD_HASH_LEN];
	char hex[2 * SD_HASH_LEN + 1];

	(void)state;
	memset(&cp, 0, sizeof(cp));
	cp.seq = 1042;
	memset(cp.entry_hash, 0xab, SD_HASH_LEN);
	cp.has_root = 1;
	memset(cp.root, 0xcd, SD_HASH_LEN);
	cp.signed_at_us = 1796630400000000LL;
	ledger_checkpoint_digest(&cp, "demo-1", dg);
	to_hex(dg, hex);
	assert_string_equal(hex,
	    "dc934c8c3bee2344b9937cfa4b1f3254f30e8439bf5aa0379fbbefd37b9c8669");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_policy_entry_vector),
		cmocka_unit_test(test_timestamp_entry_vector),
		cmocka_unit_test(test_key_entry_vector),
		cmocka_unit_test(test_override_and_utf8_vectors),
		cmocka_unit_test(test_cades_t_vector),
		cmocka_unit_test(test_checkpoint_vector),
		cmocka_unit_test(test_every_field_counts),
		cmocka_unit_test(test_length_prefix_separates_fields),
	};

	return cmocka_run_group_tests_name("ledger_hash", tests, NULL, NULL);
}
