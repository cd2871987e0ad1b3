/*
 * test_tsa: the RFC 3161 pieces against OpenSSL's own TS code.  Requests
 * built with OpenSSL's TS_REQ decode to the right fields and every kind
 * of bad request to the right failure bit; tokens made through a software
 * key pass OpenSSL's TS verifier for the request (imprint, nonce, policy,
 * ESS signing certificate, the TSA certificate's purpose); genTime has no
 * trailing zeros; a decoded request checked again (as the core does)
 * passes, and one with any field made inconsistent fails; rejections parse with their status, failure bit and
 * text; and only a certificate whose one EKU is a critical timeStamping
 * may sign time-stamps.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/ts.h>
#include <openssl/x509v3.h>

#include "err.h"
#include "softkey.h"
#include "tsa.h"

#define TSA_EKU "critical,timeStamping"

/* A DER TimeStampReq from OpenSSL's TS_REQ; *len gets its size. */
static unsigned char *
make_req(const EVP_MD *md, size_t dglen, const char *policy, long nonce,
    int cert_req, int version, int *len)
{
	TS_REQ *rq = TS_REQ_new();
	TS_MSG_IMPRINT *mi = TS_MSG_IMPRINT_new();
	X509_ALGOR *alg = X509_ALGOR_new();
	ASN1_INTEGER *n = ASN1_INTEGER_new();
	ASN1_OBJECT *pol = policy != NULL ? OBJ_txt2obj(policy, 1) : NULL;
	unsigned char dg[64], *der = NULL;

	memset(dg, 0x5a, sizeof(dg));
	assert_non_null(rq);
	X509_ALGOR_set_md(alg, md);
	assert_int_equal(TS_MSG_IMPRINT_set_algo(mi, alg), 1);
	assert_int_equal(TS_MSG_IMPRINT_set_msg(mi, dg, (int)dglen), 1);
	assert_int_equal(TS_REQ_set_version(rq, version), 1);
	assert_int_equal(TS_REQ_set_msg_imprint(rq, mi), 1);
	if (pol != NULL)
		assert_int_equal(TS_REQ_set_policy_id(rq, pol), 1);
	if (nonce != 0) {
		ASN1_INTEGER_set(n, nonce);
		assert_int_equal(TS_REQ_set_nonce(rq, n), 1);
	}
	assert_int_equal(TS_REQ_set_cert_req(rq, cert_req), 1);
	assert_true((*len = i2d_TS_REQ(rq, &der)) > 0);
	ASN1_OBJECT_free(pol);
	ASN1_INTEGER_free(n);
	X509_ALGOR_free(alg);
	TS_MSG_IMPRINT_free(mi);
	TS_REQ_free(rq);
	return der;
}

static void
test_decode(void **state)
{
	struct tsa_req r;
	enum tsa_fail fail;
	char msg[200];
	unsigned char *der, h[32];
	int len;

	(void)state;
	der = make_req(EVP_sha384(), 48, "1.2.3.4", 0x1234567, 1, 1, &len);
	assert_int_equal(
	    tsa_req_decode(der, (size_t)len, &r, &fail, msg, sizeof(msg)), 0);
	assert_int_equal(r.md_nid, NID_sha384);
	assert_int_equal(r.digest_len, 48);
	assert_int_equal(r.digest[47], 0x5a);
	assert_string_equal(r.policy, "1.2.3.4");
	assert_int_equal(r.cert_req, 1);
	/* nonce kept as its DER INTEGER */
	assert_int_equal(r.nonce_len, 6);
	assert_memory_equal(r.nonce, "\x02\x04\x01\x23\x45\x67", 6);
	EVP_Digest(der, (size_t)len, h, NULL, EVP_sha256(), NULL);
	assert_memory_equal(r.hash, h, 32);
	OPENSSL_free(der);

	der = make_req(EVP_sha256(), 32, NULL, 0, 0, 1, &len);
	assert_int_equal(
	    tsa_req_decode(der, (size_t)len, &r, &fail, msg, sizeof(msg)), 0);
	assert_string_equal(r.policy, "");
	assert_int_equal(r.nonce_len, 0);
	assert_int_equal(r.cert_req, 0);
	OPENSSL_free(der);
}

/* A decoded request passes tsa_req_check; each field made inconsistent
 * (as a compromised front could send it) fails it. */
static void
test_check(void **state)
{
	struct tsa_req good, r;
	enum tsa_fail fail;
	char msg[200];
	unsigned char *der;
	int len;

	(void)state;
	der = make_req(EVP_sha384(), 48, "1.2.3.4", 0x1234567, 1, 1, &len);
	assert_int_equal(
	    tsa_req_decode(der, (size_t)len, &good, &fail, msg, sizeof(msg)),
	    0);
	OPENSSL_free(der);
	assert_int_equal(tsa_req_check(&good), 0);
	r = good; /* the digest no longer the imprint's */
	r.digest[0] ^= 1;
	assert_int_equal(tsa_req_check(&r), SD_ERR_BAD_REQUEST);
	r = good; /* an algorithm and a digest that do not match */
	r.md_nid = NID_sha256;
	assert_int_equal(tsa_req_check(&r), SD_ERR_BAD_REQUEST);
	r = good; /* not a SHA-2 */
	r.md_nid = NID_sha1;
	r.digest_len = 20;
	assert_int_equal(tsa_req_check(&r), SD_ERR_BAD_REQUEST);
	r = good; /* the imprint cut, or with bytes after it */
	r.imprint_len--;
	assert_int_equal(tsa_req_check(&r), SD_ERR_BAD_REQUEST);
	r = good;
	r.imprint_len++;
	assert_int_equal(tsa_req_check(&r), SD_ERR_BAD_REQUEST);
	r = good;
	r.imprint_len = sizeof(r.imprint) + 1;
	assert_int_equal(tsa_req_check(&r), SD_ERR_BAD_REQUEST);
	r = good; /* the nonce not one INTEGER */
	r.nonce_len--;
	assert_int_equal(tsa_req_check(&r), SD_ERR_BAD_REQUEST);
	r = good;
	r.nonce[0] = 0x04;
	assert_int_equal(tsa_req_check(&r), SD_ERR_BAD_REQUEST);
	r = good;
	r.nonce_len = sizeof(r.nonce) + 1;
	assert_int_equal(tsa_req_check(&r), SD_ERR_BAD_REQUEST);
	r = good; /* a policy that is no dotted OID, or unterminated */
	snprintf(r.policy, sizeof(r.policy), "%s", "1.2.x");
	assert_int_equal(tsa_req_check(&r), SD_ERR_BAD_REQUEST);
	r = good;
	memset(r.policy, '1', sizeof(r.policy));
	assert_int_equal(tsa_req_check(&r), SD_ERR_BAD_REQUEST);
	r = good;
	r.cert_req = 2;
	assert_int_equal(tsa_req_check(&r), SD_ERR_BAD_REQUEST);
	r = good; /* no policy, no nonce: fine */
	r.policy[0] = '\0';
	r.nonce_len = 0;
	assert_int_equal(tsa_req_check(&r), 0);
}

/* The hash the core takes from the fields alone is that of the request
 * itself: the DER a client sent, byte for byte.  What would make it
 * differ is refused: a BER request (certReq FALSE written out, which DER
 * leaves out), empty extensions. */
static void
test_hash(void **state)
{
	struct tsa_req r, ber_r;
	enum tsa_fail fail;
	char msg[200];
	unsigned char *der, ber[512], h[32], got[32];
	int len;

	(void)state;
	der = make_req(EVP_sha512(), 64, "1.2.3.4.5", 0x7fffffff, 1, 1, &len);
	assert_int_equal(
	    tsa_req_decode(der, (size_t)len, &r, &fail, msg, sizeof(msg)), 0);
	EVP_Digest(der, (size_t)len, h, NULL, EVP_sha256(), NULL);
	memset(r.hash, 0, sizeof(r.hash)); /* as the core gets it */
	assert_int_equal(tsa_req_hash(&r, got), 0);
	assert_memory_equal(got, h, 32);
	r.digest[0] ^= 1; /* the imprint, not the digest, is the request */
	assert_int_equal(tsa_req_hash(&r, got), 0);
	assert_memory_equal(got, h, 32);
	r.imprint[r.imprint_len - 1] ^= 1;
	assert_int_equal(tsa_req_hash(&r, got), 0);
	assert_memory_not_equal(got, h, 32);
	OPENSSL_free(der);

	der = make_req(EVP_sha256(), 32, NULL, 0, 0, 1, &len);
	assert_true(len < 120 && der[1] == len - 2); /* short-form length */
	memcpy(ber, der, (size_t)len);
	memcpy(ber + len, "\x01\x01\x00", 3); /* certReq FALSE */
	ber[1] = (unsigned char)(len + 1);
	/* OpenSSL takes it (as openssl ts -query -in does); seald does not */
	assert_int_equal(tsa_req_decode(ber, (size_t)len + 3, &ber_r, &fail,
			     msg, sizeof(msg)),
	    -1);
	assert_int_equal(fail, TSA_BAD_DATA_FORMAT);
	assert_string_equal(msg, "the request is not in DER");
	memcpy(ber + len, "\xa0\x00", 2); /* extensions [0], empty */
	ber[1] = (unsigned char)len;
	assert_int_equal(tsa_req_decode(ber, (size_t)len + 2, &ber_r, &fail,
			     msg, sizeof(msg)),
	    -1);
	assert_int_equal(fail, TSA_BAD_DATA_FORMAT);
	OPENSSL_free(der);
	memset(&r, 0, sizeof(r)); /* no imprint: no request */
	assert_int_equal(tsa_req_hash(&r, got), SD_ERR_INTERNAL);
}

/* der must fail with want. */
static void
refused(
    const unsigned char *der, size_t len, enum tsa_fail want, const char *text)
{
	struct tsa_req r;
	enum tsa_fail fail = TSA_SYSTEM_FAILURE;
	char msg[200];

	assert_int_equal(
	    tsa_req_decode(der, len, &r, &fail, msg, sizeof(msg)), -1);
	assert_int_equal(fail, want);
	if (strstr(msg, text) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", msg, text);
}

/* tsa_req_build (sealctl, /v1/timestamp) gives what the decoder reads. */
static void
test_build(void **state)
{
	uint8_t dg[48], *der = NULL;
	struct tsa_req r;
	enum tsa_fail fail;
	char msg[200];
	size_t len = 0;

	(void)state;
	memset(dg, 7, sizeof(dg));
	assert_int_equal(tsa_req_build(NID_sha384, dg, sizeof(dg), "2.999.3",
			     UINT64_C(0x8000000000000001), 1, &der, &len),
	    0);
	assert_int_equal(
	    tsa_req_decode(der, len, &r, &fail, msg, sizeof(msg)), 0);
	assert_int_equal(r.md_nid, NID_sha384);
	assert_memory_equal(r.digest, dg, sizeof(dg));
	assert_string_equal(r.policy, "2.999.3");
	assert_int_equal(r.cert_req, 1);
	/* a 64-bit nonce with its top bit set: a 9-byte positive INTEGER */
	assert_int_equal(r.nonce_len, 11);
	OPENSSL_free(der);
	der = NULL;
	assert_int_equal(
	    tsa_req_build(NID_sha256, dg, 32, NULL, 0, 0, &der, &len), 0);
	assert_int_equal(
	    tsa_req_decode(der, len, &r, &fail, msg, sizeof(msg)), 0);
	assert_string_equal(r.policy, "");
	assert_int_equal(r.nonce_len, 0);
	assert_int_equal(r.cert_req, 0);
	OPENSSL_free(der);
	/* a wrong length or a bad policy OID builds nothing */
	assert_int_not_equal(
	    tsa_req_build(NID_sha256, dg, 48, NULL, 0, 0, &der, &len), 0);
	assert_int_not_equal(
	    tsa_req_build(NID_sha256, dg, 32, "x.y", 0, 0, &der, &len), 0);
}

static void
test_decode_refusals(void **state)
{
	unsigned char *der, *more;
	int len;

	(void)state;
	refused((const unsigned char *)"hello", 5, TSA_BAD_DATA_FORMAT,
	    "not one DER");
	refused(
	    (const unsigned char *)"", 0, TSA_BAD_DATA_FORMAT, "not one DER");
	der = make_req(EVP_md5(), 16, NULL, 0, 0, 1, &len);
	refused(der, (size_t)len, TSA_BAD_ALG, "SHA-256");
	OPENSSL_free(der);
	der = make_req(EVP_sha1(), 20, NULL, 0, 0, 1, &len);
	refused(der, (size_t)len, TSA_BAD_ALG, "SHA-256");
	OPENSSL_free(der);
	der = make_req(EVP_sha256(), 20, NULL, 0, 0, 1, &len);
	refused(der, (size_t)len, TSA_BAD_DATA_FORMAT, "wrong length");
	OPENSSL_free(der);
	der = make_req(EVP_sha512(), 64, NULL, 0, 0, 2, &len);
	refused(der, (size_t)len, TSA_BAD_REQUEST, "version");
	/* one byte more, or one less */
	assert_non_null(more = OPENSSL_malloc((size_t)len + 1));
	memcpy(more, der, (size_t)len);
	more[len] = 0;
	refused(more, (size_t)len + 1, TSA_BAD_DATA_FORMAT, "not one DER");
	refused(more, (size_t)len - 1, TSA_BAD_DATA_FORMAT, "not one DER");
	OPENSSL_free(more);
	OPENSSL_free(der);
}

static void
test_decode_extension(void **state)
{
	TS_REQ *rq;
	X509_EXTENSION *ext;
	const unsigned char *p;
	unsigned char *der, *der2 = NULL;
	int len, len2;

	(void)state;
	der = make_req(EVP_sha256(), 32, NULL, 0, 0, 1, &len);
	p = der;
	assert_non_null(rq = d2i_TS_REQ(NULL, &p, len));
	ext = X509V3_EXT_nconf_nid(
	    NULL, NULL, NID_basic_constraints, (char *)"CA:FALSE");
	assert_int_equal(TS_REQ_add_ext(rq, ext, -1), 1);
	assert_true((len2 = i2d_TS_REQ(rq, &der2)) > 0);
	refused(der2, (size_t)len2, TSA_UNACCEPTED_EXTENSION, "extensions");
	X509_EXTENSION_free(ext);
	TS_REQ_free(rq);
	OPENSSL_free(der);
	OPENSSL_free(der2);
}

/* Grant der's request with s; returns the parsed TimeStampResp. */
static TS_RESP *
grant(struct soft *s, const unsigned char *der, int len, int64_t gen_us,
    unsigned int accuracy_ms)
{
	static uint8_t token[SD_SEAL_MAX];
	static const uint8_t serial[16] = { 0x41, 2, 3, 4, 5, 6, 7, 8, 9, 10,
		11, 12, 13, 14, 15, 16 };
	struct cms_signer cs = signer_of(s);
	struct tsa_req r;
	struct tsa_grant g;
	enum tsa_fail fail;
	char msg[200];
	const unsigned char *p;
	uint8_t *resp;
	size_t tlen, rlen;
	TS_RESP *out;

	assert_int_equal(
	    tsa_req_decode(der, (size_t)len, &r, &fail, msg, sizeof(msg)), 0);
	memset(&g, 0, sizeof(g));
	g.req = &r;
	g.policy = "2.999.1.1";
	g.serial = serial;
	g.serial_len = sizeof(serial);
	g.gen_us = gen_us;
	g.accuracy_ms = accuracy_ms;
	g.md_nid = NID_sha256;
	assert_int_equal(tsa_token(&cs, &g, token, sizeof(token), &tlen), 0);
	assert_non_null(resp = tsa_resp_granted(token, tlen, &rlen));
	p = resp;
	out = d2i_TS_RESP(NULL, &p, (long)rlen);
	assert_ptr_equal(p, resp + rlen);
	free(resp);
	return out;
}

/* OpenSSL's verdict on resp for the request der, trusting s's cert. */
static int
verifies(TS_RESP *resp, struct soft *s, const unsigned char *der, int len)
{
	const unsigned char *p = der;
	TS_REQ *rq = d2i_TS_REQ(NULL, &p, len);
	TS_VERIFY_CTX *ctx = TS_REQ_to_TS_VERIFY_CTX(rq, NULL);
	X509_STORE *st = X509_STORE_new();
	STACK_OF(X509) *certs = sk_X509_new_null();
	int ok;

	assert_int_equal(X509_STORE_add_cert(st, s->cert), 1);
	assert_int_equal(sk_X509_push(certs, s->cert), 1);
	assert_int_equal(X509_up_ref(s->cert), 1);
	TS_VERIFY_CTX_set_store(ctx, st);
	TS_VERIFY_CTX_set_certs(ctx, certs); /* for tokens without them */
	ok = TS_RESP_verify_response(ctx, resp);
	TS_VERIFY_CTX_free(ctx);
	TS_REQ_free(rq);
	return ok == 1;
}

static void
test_token(void **state)
{
	struct soft s;
	TS_RESP *resp;
	TS_TST_INFO *ti;
	const ASN1_GENERALIZEDTIME *t;
	unsigned char *der;
	int len;

	(void)state;
	make_soft(&s, "EC", "P-256", 0, CMS_SCHEME_ECDSA, TSA_EKU);
	der = make_req(EVP_sha256(), 32, "2.999.1.1", 987654321, 1, 1, &len);
	/* 2026-11-22T08:00:00.1234Z: the fraction without trailing zeros */
	resp = grant(&s, der, len, 1795334400000000LL + 123400, 1500);
	assert_non_null(resp);
	assert_true(verifies(resp, &s, der, len));
	ti = TS_RESP_get_tst_info(resp);
	t = TS_TST_INFO_get_time(ti);
	assert_string_equal(
	    (const char *)ASN1_STRING_get0_data(t), "20261122080000.1234Z");
	assert_int_equal(ASN1_INTEGER_get(TS_ACCURACY_get_seconds(
			     TS_TST_INFO_get_accuracy(ti))),
	    1);
	assert_int_equal(ASN1_INTEGER_get(TS_ACCURACY_get_millis(
			     TS_TST_INFO_get_accuracy(ti))),
	    500);
	assert_int_equal(
	    ASN1_INTEGER_get(TS_TST_INFO_get_nonce(ti)), 987654321);
	assert_int_equal(s.calls, 1);
	TS_RESP_free(resp);
	OPENSSL_free(der);

	/* no nonce, no certReq, a whole second: no fraction at all */
	der = make_req(EVP_sha512(), 64, NULL, 0, 0, 1, &len);
	resp = grant(&s, der, len, 1795334400000000LL, 0);
	assert_true(verifies(resp, &s, der, len));
	ti = TS_RESP_get_tst_info(resp);
	assert_string_equal(
	    (const char *)ASN1_STRING_get0_data(TS_TST_INFO_get_time(ti)),
	    "20261122080000Z");
	assert_null(TS_TST_INFO_get_accuracy(ti));
	assert_null(TS_TST_INFO_get_nonce(ti));
	assert_null(PKCS7_get0_signers(TS_RESP_get_token(resp), NULL, 0));
	TS_RESP_free(resp);
	OPENSSL_free(der);
	free_soft(&s);
}

/* A token for another request (another nonce) must not verify. */
static void
test_token_for_other_request(void **state)
{
	struct soft s;
	TS_RESP *resp;
	unsigned char *der, *other;
	int len, olen;

	(void)state;
	make_soft(&s, "RSA", NULL, 2048, CMS_SCHEME_PKCS1, TSA_EKU);
	der = make_req(EVP_sha256(), 32, NULL, 1, 1, 1, &len);
	other = make_req(EVP_sha256(), 32, NULL, 2, 1, 1, &olen);
	resp = grant(&s, der, len, 1795334400000000LL, 1000);
	assert_true(verifies(resp, &s, der, len));
	assert_false(verifies(resp, &s, other, olen));
	TS_RESP_free(resp);
	OPENSSL_free(der);
	OPENSSL_free(other);
	free_soft(&s);
}

static void
test_rejections(void **state)
{
	static const enum tsa_fail all[] = { TSA_BAD_ALG, TSA_BAD_REQUEST,
		TSA_BAD_DATA_FORMAT, TSA_TIME_NOT_AVAILABLE,
		TSA_UNACCEPTED_POLICY, TSA_UNACCEPTED_EXTENSION,
		TSA_SYSTEM_FAILURE };
	char text[300];
	const unsigned char *p;
	uint8_t *der;
	size_t len, i;
	TS_RESP *resp;
	TS_STATUS_INFO *si;
	const ASN1_BIT_STRING *bits;
	int b;

	(void)state;
	memset(text, 'x', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		assert_non_null(der = tsa_resp_rejection(
				    all[i], i == 0 ? text : "no", &len));
		p = der;
		assert_non_null(resp = d2i_TS_RESP(NULL, &p, (long)len));
		assert_ptr_equal(p, der + len);
		si = TS_RESP_get_status_info(resp);
		assert_int_equal(
		    ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(si)), 2);
		bits = TS_STATUS_INFO_get0_failure_info(si);
		for (b = 0; b < 32; b++)
			assert_int_equal(
			    ASN1_BIT_STRING_get_bit(bits, b), b == (int)all[i]);
		/* the text, cut at 200 bytes */
		assert_int_equal(ASN1_STRING_length(sk_ASN1_UTF8STRING_value(
				     TS_STATUS_INFO_get0_text(si), 0)),
		    i == 0 ? 200 : 2);
		assert_null(TS_RESP_get_token(resp));
		TS_RESP_free(resp);
		free(der);
	}
}

static void
test_cert_rules(void **state)
{
	struct soft s;
	char msg[200];

	(void)state;
	make_soft(&s, "EC", "P-256", 0, CMS_SCHEME_ECDSA, TSA_EKU);
	assert_int_equal(tsa_cert_ok(s.cert, msg, sizeof(msg)), 0);
	free_soft(&s);
	make_soft(&s, "EC", "P-256", 0, CMS_SCHEME_ECDSA, NULL);
	assert_int_equal(tsa_cert_ok(s.cert, msg, sizeof(msg)), -1);
	assert_non_null(strstr(msg, "one extended key usage"));
	free_soft(&s);
	make_soft(&s, "EC", "P-256", 0, CMS_SCHEME_ECDSA, "timeStamping");
	assert_int_equal(tsa_cert_ok(s.cert, msg, sizeof(msg)), -1);
	assert_non_null(strstr(msg, "not critical"));
	free_soft(&s);
	make_soft(&s, "EC", "P-256", 0, CMS_SCHEME_ECDSA,
	    "critical,timeStamping,codeSigning");
	assert_int_equal(tsa_cert_ok(s.cert, msg, sizeof(msg)), -1);
	assert_non_null(strstr(msg, "timeStamping only"));
	free_soft(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_hash),
		cmocka_unit_test(test_build),
		cmocka_unit_test(test_decode_refusals),
		cmocka_unit_test(test_decode_extension),
		cmocka_unit_test(test_token),
		cmocka_unit_test(test_token_for_other_request),
		cmocka_unit_test(test_rejections),
		cmocka_unit_test(test_cert_rules),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
