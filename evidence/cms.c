/*
 * cms: see cms.h.  The signed attributes are encoded with a SET OF
 * template of our own that matches the one OpenSSL uses when it writes
 * them (DER orders the elements), so the bytes the HSM signs are the
 * bytes a verifier hashes; the tests check every result with OpenSSL's
 * verifier.
 */
#include <string.h>

#include <openssl/asn1t.h>
#include <openssl/cms.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "cms.h"
#include "err.h"
#include "sd_limits.h"

typedef STACK_OF(X509_ATTRIBUTE) CMS_SD_ATTRS;
DECLARE_ASN1_ITEM(CMS_SD_ATTRS)
ASN1_ITEM_TEMPLATE(CMS_SD_ATTRS) = ASN1_EX_TEMPLATE_TYPE(ASN1_TFLG_SET_ORDER, 0,
				       CMS_SD_ATTRS, X509_ATTRIBUTE)
				       ASN1_ITEM_TEMPLATE_END(CMS_SD_ATTRS)

    /*
 * RSASSA-PSS-params (RFC 4055 3.1): md, MGF1 with md, salt length = md's
 * length, trailer field left at its default.  The hash identifiers carry
 * NULL parameters, as RFC 4055 2.1 has them for PSS and as OpenSSL
 * writes them when it signs itself (X509_ALGOR_set_md would leave them
 * out; verifiers must accept both).
 */
    ASN1_STRING
    * cms_pss_params(const EVP_MD *md)
{
	RSA_PSS_PARAMS *p = RSA_PSS_PARAMS_new();
	X509_ALGOR *mgf_md = X509_ALGOR_new();
	ASN1_STRING *mgf = NULL, *out = NULL;

	if (p == NULL || mgf_md == NULL ||
	    (p->hashAlgorithm = X509_ALGOR_new()) == NULL ||
	    (p->maskGenAlgorithm = X509_ALGOR_new()) == NULL ||
	    (p->saltLength = ASN1_INTEGER_new()) == NULL)
		goto out;
	if (X509_ALGOR_set0(p->hashAlgorithm, OBJ_nid2obj(EVP_MD_get_type(md)),
		V_ASN1_NULL, NULL) != 1 ||
	    X509_ALGOR_set0(mgf_md, OBJ_nid2obj(EVP_MD_get_type(md)),
		V_ASN1_NULL, NULL) != 1 ||
	    ASN1_item_pack(mgf_md, ASN1_ITEM_rptr(X509_ALGOR), &mgf) == NULL ||
	    X509_ALGOR_set0(p->maskGenAlgorithm, OBJ_nid2obj(NID_mgf1),
		V_ASN1_SEQUENCE, mgf) != 1)
		goto out;
	mgf = NULL; /* owned by p now */
	if (ASN1_INTEGER_set(p->saltLength, EVP_MD_get_size(md)) != 1)
		goto out;
	(void)ASN1_item_pack(p, ASN1_ITEM_rptr(RSA_PSS_PARAMS), &out);
out:
	ASN1_STRING_free(mgf);
	X509_ALGOR_free(mgf_md);
	RSA_PSS_PARAMS_free(p);
	return out;
}

static int
add_attrs(CMS_SignerInfo *si, const struct cms_content *c)
{
	ASN1_TIME *t = NULL;
	int ctype = c->econtent != NULL ? c->econtent_nid : NID_pkcs7_data;
	int ok;

	ok = CMS_signed_add1_attr_by_NID(si, NID_pkcs9_contentType,
		 V_ASN1_OBJECT, OBJ_nid2obj(ctype), -1) == 1 &&
	    CMS_signed_add1_attr_by_NID(si, NID_pkcs9_messageDigest,
		V_ASN1_OCTET_STRING, c->digest, (int)c->digest_len) == 1;
	if (ok && c->signing_time >= 0) {
		ok = (t = ASN1_TIME_set(NULL, c->signing_time)) != NULL &&
		    CMS_signed_add1_attr_by_NID(
			si, NID_pkcs9_signingTime, t->type, t, -1) == 1;
		ASN1_TIME_free(t);
	}
	return ok ? 0 : SD_ERR_INTERNAL;
}

/* The DER of the signed attributes (as a SET OF), hashed with md. */
static int
attrs_digest(
    CMS_SignerInfo *si, const EVP_MD *md, uint8_t *dg, unsigned int *dglen)
{
	CMS_SD_ATTRS *set = sk_X509_ATTRIBUTE_new_null();
	unsigned char *der = NULL;
	int i, n, r = SD_ERR_INTERNAL;

	if (set == NULL)
		return r;
	for (i = 0; i < CMS_signed_get_attr_count(si); i++)
		if (sk_X509_ATTRIBUTE_push(set, CMS_signed_get_attr(si, i)) <=
		    0)
			goto out;
	if ((n = ASN1_item_i2d(
		 (ASN1_VALUE *)set, &der, ASN1_ITEM_rptr(CMS_SD_ATTRS))) <= 0)
		goto out;
	if (EVP_Digest(der, (size_t)n, dg, dglen, md, NULL) == 1)
		r = 0;
out:
	OPENSSL_free(der);
	sk_X509_ATTRIBUTE_free(set); /* the attributes belong to si */
	return r;
}

static int
set_content(CMS_ContentInfo *cms, const struct cms_content *c)
{
	ASN1_OCTET_STRING **pos;

	if (c->econtent == NULL)
		return CMS_set_detached(cms, 1) == 1 ? 0 : SD_ERR_INTERNAL;
	if (CMS_set1_eContentType(cms, OBJ_nid2obj(c->econtent_nid)) != 1 ||
	    CMS_set_detached(cms, 0) != 1 ||
	    (pos = CMS_get0_content(cms)) == NULL || *pos == NULL ||
	    ASN1_OCTET_STRING_set(*pos, c->econtent, (int)c->econtent_len) != 1)
		return SD_ERR_INTERNAL;
	return 0;
}

static int
sign_into(const struct cms_signer *s, CMS_SignerInfo *si, const EVP_MD *md)
{
	uint8_t dg[EVP_MAX_MD_SIZE], sig[SD_SIG_MAX];
	unsigned int dglen;
	size_t siglen;
	X509_ALGOR *alg;
	ASN1_STRING *params;
	int r;

	if ((r = attrs_digest(si, md, dg, &dglen)) != 0 ||
	    (r = s->sign(s->arg, dg, dglen, sig, sizeof(sig), &siglen)) != 0)
		return r;
	if (ASN1_STRING_set(
		CMS_SignerInfo_get0_signature(si), sig, (int)siglen) != 1)
		return SD_ERR_INTERNAL;
	if (s->scheme != CMS_SCHEME_PSS)
		return 0; /* OpenSSL set ecdsa-with-SHA*, or rsaEncryption */
	CMS_SignerInfo_get0_algs(si, NULL, NULL, NULL, &alg);
	if ((params = cms_pss_params(md)) == NULL)
		return SD_ERR_INTERNAL;
	if (X509_ALGOR_set0(alg, OBJ_nid2obj(NID_rsassaPss), V_ASN1_SEQUENCE,
		params) != 1) {
		ASN1_STRING_free(params);
		return SD_ERR_INTERNAL;
	}
	return 0;
}

/* The signature value time-stamped through c->stamp, the token added as
 * the signer's unsigned attribute. */
static int
stamp_into(const struct cms_content *c, CMS_SignerInfo *si)
{
	ASN1_OCTET_STRING *sv = CMS_SignerInfo_get0_signature(si);
	const uint8_t *tok;
	size_t toklen;
	int r;

	if ((r = c->stamp(c->stamp_arg, ASN1_STRING_get0_data(sv),
		 (size_t)ASN1_STRING_length(sv), &tok, &toklen)) != 0)
		return r;
	/* a SEQUENCE given as its DER: OpenSSL writes the bytes as they are */
	return CMS_unsigned_add1_attr_by_NID(si, NID_id_smime_aa_timeStampToken,
		   V_ASN1_SEQUENCE, tok, (int)toklen) == 1
	    ? 0
	    : SD_ERR_INTERNAL;
}

int
cms_seal(const struct cms_signer *s, const struct cms_content *c, uint8_t *out,
    size_t cap, size_t *outlen)
{
	const unsigned int flags = CMS_PARTIAL | CMS_BINARY | CMS_NOSMIMECAP |
	    CMS_CADES | (s->no_certs ? CMS_NOCERTS : 0);
	const EVP_MD *md = EVP_get_digestbynid(c->md_nid);
	CMS_ContentInfo *cms = NULL;
	CMS_SignerInfo *si;
	unsigned char *der = NULL;
	int i, n, r = SD_ERR_INTERNAL;

	*outlen = 0;
	if (md == NULL || (size_t)EVP_MD_get_size(md) != c->digest_len)
		return SD_ERR_INTERNAL;
	/* the public key stands in for the private one: with CMS_PARTIAL
	 * OpenSSL only reads its type, to name the signature algorithm */
	if ((cms = CMS_sign(NULL, NULL, NULL, NULL, flags)) == NULL ||
	    (r = set_content(cms, c)) != 0 ||
	    (si = CMS_add1_signer(cms, s->cert, s->pub, md, flags)) == NULL) {
		r = SD_ERR_INTERNAL;
		goto out;
	}
	for (i = 0;
	     !s->no_certs && s->chain != NULL && i < sk_X509_num(s->chain); i++)
		if (CMS_add1_cert(cms, sk_X509_value(s->chain, i)) != 1) {
			r = SD_ERR_INTERNAL;
			goto out;
		}
	if ((r = add_attrs(si, c)) != 0 || (r = sign_into(s, si, md)) != 0 ||
	    (c->stamp != NULL && (r = stamp_into(c, si)) != 0))
		goto out;
	if ((n = i2d_CMS_ContentInfo(cms, &der)) <= 0) {
		r = SD_ERR_INTERNAL;
		goto out;
	}
	if ((size_t)n > cap) {
		r = SD_ERR_TOO_LARGE;
		goto out;
	}
	memcpy(out, der, (size_t)n);
	*outlen = (size_t)n;
	r = 0;
out:
	OPENSSL_free(der);
	CMS_ContentInfo_free(cms);
	return r;
}
