/*
 * softkey: see softkey.h.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "err.h"
#include "softkey.h"

int
soft_sign(void *arg, const uint8_t *dg, size_t dglen, uint8_t *sig, size_t cap,
    size_t *siglen)
{
	struct soft *s = arg;
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(s->key, NULL);
	const EVP_MD *md = dglen == 32 ? EVP_sha256()
	    : dglen == 48              ? EVP_sha384()
				       : EVP_sha512();
	int ok;

	s->calls++;
	if (s->fail != 0) {
		EVP_PKEY_CTX_free(c);
		return s->fail;
	}
	*siglen = cap;
	ok = c != NULL && EVP_PKEY_sign_init(c) == 1 &&
	    EVP_PKEY_CTX_set_signature_md(c, md) == 1;
	if (ok && s->scheme == CMS_SCHEME_PSS)
		ok = EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PSS_PADDING) ==
			1 &&
		    EVP_PKEY_CTX_set_rsa_pss_saltlen(c, (int)dglen) == 1 &&
		    EVP_PKEY_CTX_set_rsa_mgf1_md(c, md) == 1;
	ok = ok && EVP_PKEY_sign(c, sig, siglen, dg, dglen) == 1;
	EVP_PKEY_CTX_free(c);
	return ok ? 0 : SD_ERR_HSM;
}

void
make_soft(struct soft *s, const char *type, const char *param, size_t bits,
    enum cms_scheme scheme, const char *eku)
{
	X509_EXTENSION *ext;
	X509_NAME *n;

	memset(s, 0, sizeof(*s));
	s->scheme = scheme;
	s->key = param != NULL ? EVP_PKEY_Q_keygen(NULL, NULL, type, param)
			       : EVP_PKEY_Q_keygen(NULL, NULL, type, bits);
	assert_non_null(s->key);
	assert_non_null(s->cert = X509_new());
	assert_int_equal(X509_set_version(s->cert, X509_VERSION_3), 1);
	ASN1_INTEGER_set(X509_get_serialNumber(s->cert), 7);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(s->cert), -3600));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(s->cert), 86400));
	n = X509_get_subject_name(s->cert);
	X509_NAME_add_entry_by_txt(
	    n, "CN", MBSTRING_ASC, (const unsigned char *)"test", -1, -1, 0);
	assert_int_equal(X509_set_issuer_name(s->cert, n), 1);
	assert_int_equal(X509_set_pubkey(s->cert, s->key), 1);
	if (eku != NULL) {
		ext = X509V3_EXT_nconf_nid(
		    NULL, NULL, NID_ext_key_usage, (char *)eku);
		assert_non_null(ext);
		assert_int_equal(X509_add_ext(s->cert, ext, -1), 1);
		X509_EXTENSION_free(ext);
	}
	assert_true(X509_sign(s->cert, s->key, EVP_sha256()) > 0);
}

void
free_soft(struct soft *s)
{
	EVP_PKEY_free(s->key);
	X509_free(s->cert);
}

struct cms_signer
signer_of(struct soft *s)
{
	struct cms_signer cs;

	memset(&cs, 0, sizeof(cs));
	cs.cert = s->cert;
	cs.pub = X509_get0_pubkey(s->cert);
	cs.scheme = s->scheme;
	cs.sign = soft_sign;
	cs.arg = s;
	return cs;
}
