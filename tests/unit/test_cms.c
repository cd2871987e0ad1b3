/*
 * test_cms: SignedData built by cms_seal, signed through the callback by
 * a software key (standing in for the HSM: the module never sees a
 * private key), then checked by OpenSSL's own CMS verifier — detached
 * over a document, with ECDSA P-256/P-384, RSA PKCS#1 v1.5 and RSA-PSS,
 * and attached with an encapsulated content type.  Also: the signed
 * attributes (content type, signing time, ESS signing-certificate-v2),
 * a changed document failing, the callback's error and the size cap.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/cms.h>
#include <openssl/ess.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "cms.h"
#include "err.h"
#include "sd_limits.h"
#include "softkey.h"

static const char doc[] = "evidence record 42: delivered 2026-11-22";
#define WHEN ((time_t)1795000000) /* 2026-11-18T11:06:40Z */

/* Seal digest of doc with md; returns the parsed CMS. */
static CMS_ContentInfo *
seal_doc(
    struct soft *s, const EVP_MD *md, int md_nid, uint8_t *der, size_t *len)
{
	const unsigned char *p = der;
	struct cms_signer cs = signer_of(s);
	struct cms_content cc;
	uint8_t dg[EVP_MAX_MD_SIZE];
	unsigned int dglen;

	assert_int_equal(EVP_Digest(doc, strlen(doc), dg, &dglen, md, NULL), 1);
	memset(&cc, 0, sizeof(cc));
	cc.md_nid = md_nid;
	cc.digest = dg;
	cc.digest_len = dglen;
	cc.signing_time = WHEN;
	assert_int_equal(cms_seal(&cs, &cc, der, SD_SEAL_MAX, len), 0);
	return d2i_CMS_ContentInfo(NULL, &p, (long)*len);
}

/* OpenSSL's verdict on cms for content (NULL: encapsulated), with
 * s->cert as the trust root. */
static int
verifies(CMS_ContentInfo *cms, struct soft *s, const char *content)
{
	X509_STORE *st = X509_STORE_new();
	BIO *in = content != NULL
	    ? BIO_new_mem_buf(content, (int)strlen(content))
	    : NULL;
	int ok;

	assert_non_null(st);
	assert_int_equal(X509_STORE_add_cert(st, s->cert), 1);
	ok = CMS_verify(cms, NULL, st, in, NULL, CMS_BINARY);
	BIO_free(in);
	X509_STORE_free(st);
	return ok == 1;
}

static void
check_attrs(CMS_ContentInfo *cms, struct soft *s)
{
	CMS_SignerInfo *si =
	    sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms), 0);
	X509_ATTRIBUTE *a;
	ASN1_TYPE *t;
	time_t when;
	struct tm tm;
	STACK_OF(X509) *certs = sk_X509_new_null();
	ESS_SIGNING_CERT_V2 *sc;
	ASN1_STRING *v;

	assert_int_equal(CMS_signed_get_attr_count(si), 4);
	a = CMS_signed_get_attr(
	    si, CMS_signed_get_attr_by_NID(si, NID_pkcs9_contentType, -1));
	t = X509_ATTRIBUTE_get0_type(a, 0);
	assert_int_equal(OBJ_obj2nid(t->value.object), NID_pkcs7_data);
	a = CMS_signed_get_attr(
	    si, CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, -1));
	t = X509_ATTRIBUTE_get0_type(a, 0);
	assert_int_equal(ASN1_TIME_to_tm(t->value.utctime, &tm), 1);
	when = timegm(&tm);
	assert_int_equal(when, WHEN);
	/* ESS signing-certificate-v2 names this certificate */
	assert_true(CMS_signed_get_attr_by_NID(
			si, NID_id_smime_aa_signingCertificateV2, -1) >= 0);
	v = CMS_signed_get0_data_by_OBJ(si,
	    OBJ_nid2obj(NID_id_smime_aa_signingCertificateV2), -3,
	    V_ASN1_SEQUENCE);
	assert_non_null(v);
	assert_non_null(
	    sc = ASN1_item_unpack(v, ASN1_ITEM_rptr(ESS_SIGNING_CERT_V2)));
	assert_non_null(certs);
	assert_int_equal(sk_X509_push(certs, s->cert), 1);
	assert_int_equal(OSSL_ESS_check_signing_certs(NULL, sc, certs, 1), 1);
	ESS_SIGNING_CERT_V2_free(sc);
	sk_X509_free(certs);
}

static void
one_scheme(const char *type, const char *param, size_t bits,
    enum cms_scheme scheme, const EVP_MD *md, int md_nid)
{
	static uint8_t der[SD_SEAL_MAX];
	struct soft s;
	CMS_ContentInfo *cms;
	X509_ALGOR *alg;
	size_t len;

	make_soft(&s, type, param, bits, scheme, NULL);
	assert_non_null(cms = seal_doc(&s, md, md_nid, der, &len));
	assert_int_equal(s.calls, 1);
	assert_true(CMS_is_detached(cms));
	assert_true(verifies(cms, &s, doc));
	assert_false(verifies(cms, &s, "evidence record 43"));
	check_attrs(cms, &s);
	CMS_SignerInfo_get0_algs(
	    sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms), 0), NULL, NULL,
	    NULL, &alg);
	if (scheme == CMS_SCHEME_PSS)
		assert_int_equal(OBJ_obj2nid(alg->algorithm), NID_rsassaPss);
	else if (scheme == CMS_SCHEME_PKCS1)
		assert_int_equal(
		    OBJ_obj2nid(alg->algorithm), NID_rsaEncryption);
	CMS_ContentInfo_free(cms);
	free_soft(&s);
}

static void
test_ecdsa(void **state)
{
	(void)state;
	one_scheme(
	    "EC", "P-256", 0, CMS_SCHEME_ECDSA, EVP_sha256(), NID_sha256);
	one_scheme(
	    "EC", "P-384", 0, CMS_SCHEME_ECDSA, EVP_sha384(), NID_sha384);
	one_scheme(
	    "EC", "P-256", 0, CMS_SCHEME_ECDSA, EVP_sha512(), NID_sha512);
}

static void
test_rsa(void **state)
{
	(void)state;
	one_scheme(
	    "RSA", NULL, 2048, CMS_SCHEME_PKCS1, EVP_sha256(), NID_sha256);
	one_scheme("RSA", NULL, 2048, CMS_SCHEME_PSS, EVP_sha256(), NID_sha256);
	one_scheme("RSA", NULL, 2048, CMS_SCHEME_PSS, EVP_sha512(), NID_sha512);
}

/* Encapsulated content of another type, no signing-time. */
static void
test_attached(void **state)
{
	static uint8_t der[SD_SEAL_MAX];
	static const uint8_t info[] = { 0x30, 0x03, 0x02, 0x01, 0x01 };
	const unsigned char *p = der;
	struct soft s;
	struct cms_signer cs;
	struct cms_content cc;
	CMS_ContentInfo *cms;
	CMS_SignerInfo *si;
	ASN1_OCTET_STRING **content;
	uint8_t dg[32];
	size_t len;

	(void)state;
	make_soft(&s, "EC", "P-256", 0, CMS_SCHEME_ECDSA, NULL);
	cs = signer_of(&s);
	assert_int_equal(
	    EVP_Digest(info, sizeof(info), dg, NULL, EVP_sha256(), NULL), 1);
	memset(&cc, 0, sizeof(cc));
	cc.md_nid = NID_sha256;
	cc.digest = dg;
	cc.digest_len = 32;
	cc.econtent = info;
	cc.econtent_len = sizeof(info);
	cc.econtent_nid = NID_id_smime_ct_TSTInfo;
	cc.signing_time = -1;
	assert_int_equal(cms_seal(&cs, &cc, der, sizeof(der), &len), 0);
	assert_non_null(cms = d2i_CMS_ContentInfo(NULL, &p, (long)len));
	assert_false(CMS_is_detached(cms));
	assert_int_equal(
	    OBJ_obj2nid(CMS_get0_eContentType(cms)), NID_id_smime_ct_TSTInfo);
	assert_non_null(content = CMS_get0_content(cms));
	assert_memory_equal((*content)->data, info, sizeof(info));
	si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms), 0);
	assert_int_equal(
	    CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, -1), -1);
	assert_int_equal(CMS_signed_get_attr_count(si), 3);
	assert_true(verifies(cms, &s, NULL));
	CMS_ContentInfo_free(cms);
	free_soft(&s);
}

/* A stamp callback: keeps the signature value it was given, answers
 * with a stand-in token (any DER SEQUENCE) or an error. */
struct stamp_seen {
	uint8_t sv[SD_SIG_MAX];
	size_t svlen;
	int calls, fail;
};
static const uint8_t stand_in[] = { 0x30, 0x06, 0x06, 0x01, 0x2a, 0x04, 0x01,
	0x07 };

static int
stamp_cb(void *arg, const uint8_t *sv, size_t len, const uint8_t **tok,
    size_t *toklen)
{
	struct stamp_seen *seen = arg;

	seen->calls++;
	if (seen->fail != 0)
		return seen->fail;
	assert_true(len <= sizeof(seen->sv));
	memcpy(seen->sv, sv, len);
	seen->svlen = len;
	*tok = stand_in;
	*toklen = sizeof(stand_in);
	return 0;
}

/* CAdES-B-T: the callback gets the signature value once it is made, and
 * its token is the signer's one unsigned attribute, as given; the seal
 * still verifies; a callback's error is cms_seal's. */
static void
test_stamp(void **state)
{
	static uint8_t der[SD_SEAL_MAX];
	struct stamp_seen seen;
	struct soft s;
	struct cms_signer cs;
	struct cms_content cc;
	uint8_t dg[32];
	const unsigned char *p = der;
	CMS_ContentInfo *cms;
	CMS_SignerInfo *si;
	ASN1_OCTET_STRING *sig;
	X509_ATTRIBUTE *a;
	ASN1_TYPE *t;
	unsigned int dglen;
	size_t len;

	(void)state;
	memset(&seen, 0, sizeof(seen));
	make_soft(&s, "EC", "P-256", 0, CMS_SCHEME_ECDSA, NULL);
	cs = signer_of(&s);
	assert_int_equal(
	    EVP_Digest(doc, strlen(doc), dg, &dglen, EVP_sha256(), NULL), 1);
	memset(&cc, 0, sizeof(cc));
	cc.md_nid = NID_sha256;
	cc.digest = dg;
	cc.digest_len = dglen;
	cc.signing_time = WHEN;
	cc.stamp = stamp_cb;
	cc.stamp_arg = &seen;
	assert_int_equal(cms_seal(&cs, &cc, der, sizeof(der), &len), 0);
	assert_int_equal(seen.calls, 1);
	assert_non_null(cms = d2i_CMS_ContentInfo(NULL, &p, (long)len));
	assert_true(verifies(cms, &s, doc));
	si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms), 0);
	sig = CMS_SignerInfo_get0_signature(si);
	assert_int_equal((size_t)ASN1_STRING_length(sig), seen.svlen);
	assert_memory_equal(ASN1_STRING_get0_data(sig), seen.sv, seen.svlen);
	assert_int_equal(CMS_unsigned_get_attr_count(si), 1);
	a = CMS_unsigned_get_attr(si, 0);
	assert_int_equal(OBJ_obj2nid(X509_ATTRIBUTE_get0_object(a)),
	    NID_id_smime_aa_timeStampToken);
	assert_int_equal(X509_ATTRIBUTE_count(a), 1);
	t = X509_ATTRIBUTE_get0_type(a, 0);
	assert_int_equal(t->type, V_ASN1_SEQUENCE);
	assert_int_equal(t->value.sequence->length, (int)sizeof(stand_in));
	assert_memory_equal(
	    t->value.sequence->data, stand_in, sizeof(stand_in));
	/* the token's bytes are in the output as they were given */
	assert_non_null(memmem(der, len, stand_in, sizeof(stand_in)));
	CMS_ContentInfo_free(cms);
	seen.fail = SD_ERR_CLOCK;
	assert_int_equal(
	    cms_seal(&cs, &cc, der, sizeof(der), &len), SD_ERR_CLOCK);
	assert_int_equal(seen.calls, 2);
	free_soft(&s);
}

static void
test_errors(void **state)
{
	static uint8_t der[SD_SEAL_MAX];
	struct soft s;
	struct cms_signer cs;
	struct cms_content cc;
	uint8_t dg[48] = { 1 };
	size_t len = 99;

	(void)state;
	make_soft(&s, "EC", "P-256", 0, CMS_SCHEME_ECDSA, NULL);
	cs = signer_of(&s);
	memset(&cc, 0, sizeof(cc));
	cc.md_nid = NID_sha256;
	cc.digest = dg;
	cc.digest_len = 32;
	cc.signing_time = WHEN;
	/* the HSM's error comes back unchanged, with nothing written */
	s.fail = SD_ERR_HSM;
	assert_int_equal(
	    cms_seal(&cs, &cc, der, sizeof(der), &len), SD_ERR_HSM);
	assert_int_equal(len, 0);
	s.fail = 0;
	/* too small for the result */
	assert_int_equal(cms_seal(&cs, &cc, der, 200, &len), SD_ERR_TOO_LARGE);
	assert_int_equal(len, 0);
	/* a digest of the wrong length for the algorithm: never signed */
	s.calls = 0;
	cc.digest_len = 48;
	assert_int_equal(
	    cms_seal(&cs, &cc, der, sizeof(der), &len), SD_ERR_INTERNAL);
	assert_int_equal(s.calls, 0);
	free_soft(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ecdsa),
		cmocka_unit_test(test_rsa),
		cmocka_unit_test(test_attached),
		cmocka_unit_test(test_stamp),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
