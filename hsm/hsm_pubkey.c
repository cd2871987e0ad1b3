/*
 * hsm_pubkey: turns the public half of a token key pair (CKA_EC_PARAMS and
 * CKA_EC_POINT, or CKA_MODULUS and CKA_PUBLIC_EXPONENT) into an OpenSSL
 * EVP_PKEY, so that seald can publish it and check its signatures.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/core_names.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>

#include "hsm_p11.h"

#define ATTR_MAX 2048 /* modulus of RSA-16384; EC points are far smaller */

/* Read one variable-length attribute into buf; returns its length or -1. */
static long
get_attr(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
    CK_ATTRIBUTE_TYPE type, unsigned char *buf, size_t cap)
{
	CK_ATTRIBUTE a = { type, buf, cap };

	if (f->C_GetAttributeValue(s, o, &a, 1) != CKR_OK)
		return -1;
	if (a.ulValueLen == CK_UNAVAILABLE_INFORMATION || a.ulValueLen > cap)
		return -1;
	return (long)a.ulValueLen;
}

/* The public key object belonging to priv: same CKA_ID, else same label. */
static CK_OBJECT_HANDLE
find_public(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE priv,
    const char *label)
{
	CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
	unsigned char id[256];
	CK_ATTRIBUTE t[2] = { { CKA_CLASS, &cls, sizeof(cls) } };
	CK_OBJECT_HANDLE found[2];
	CK_ULONG n = 0;
	long idlen;

	idlen = get_attr(f, s, priv, CKA_ID, id, sizeof(id));
	if (idlen > 0) {
		t[1].type = CKA_ID;
		t[1].pValue = id;
		t[1].ulValueLen = (CK_ULONG)idlen;
	} else {
		t[1].type = CKA_LABEL;
		t[1].pValue = (void *)label;
		t[1].ulValueLen = strlen(label);
	}
	if (f->C_FindObjectsInit(s, t, 2) != CKR_OK)
		return CK_INVALID_HANDLE;
	if (f->C_FindObjects(s, found, 2, &n) != CKR_OK)
		n = 0;
	(void)f->C_FindObjectsFinal(s);
	return n == 1 ? found[0] : CK_INVALID_HANDLE;
}

static EVP_PKEY *
from_params(const char *type, OSSL_PARAM_BLD *bld)
{
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;

	if ((params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		pkey = NULL;
	OSSL_PARAM_free(params);
	EVP_PKEY_CTX_free(ctx);
	return pkey;
}

static EVP_PKEY *
ec_public(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE pub,
    char *errbuf, size_t errlen)
{
	unsigned char params[128], point[ATTR_MAX];
	const unsigned char *p;
	const unsigned char *q = point;
	ASN1_OBJECT *oid = NULL;
	ASN1_OCTET_STRING *os = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	EVP_PKEY *pkey = NULL;
	const char *curve;
	long plen, qlen;
	size_t qn;

	if ((plen = get_attr(
		 f, s, pub, CKA_EC_PARAMS, params, sizeof(params))) <= 0 ||
	    (qlen = get_attr(f, s, pub, CKA_EC_POINT, point, sizeof(point))) <=
		0) {
		snprintf(errbuf, errlen, "cannot read CKA_EC_PARAMS/EC_POINT");
		return NULL;
	}
	p = params;
	if ((oid = d2i_ASN1_OBJECT(NULL, &p, plen)) == NULL ||
	    p != params + plen ||
	    (curve = OBJ_nid2sn(OBJ_obj2nid(oid))) == NULL ||
	    OBJ_obj2nid(oid) == NID_undef) {
		snprintf(errbuf, errlen, "unsupported EC parameters");
		goto out;
	}
	/* PKCS#11 says DER OCTET STRING; some modules give the raw point. */
	qn = (size_t)qlen;
	p = point;
	if ((os = d2i_ASN1_OCTET_STRING(NULL, &p, qlen)) != NULL &&
	    p == point + qlen) {
		q = ASN1_STRING_get0_data(os);
		qn = (size_t)ASN1_STRING_length(os);
	}
	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    !OSSL_PARAM_BLD_push_utf8_string(
		bld, OSSL_PKEY_PARAM_GROUP_NAME, curve, 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(
		bld, OSSL_PKEY_PARAM_PUB_KEY, q, qn) ||
	    (pkey = from_params("EC", bld)) == NULL)
		snprintf(errbuf, errlen, "invalid EC public key");
out:
	OSSL_PARAM_BLD_free(bld);
	ASN1_OCTET_STRING_free(os);
	ASN1_OBJECT_free(oid);
	return pkey;
}

static EVP_PKEY *
rsa_public(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
    char *errbuf, size_t errlen)
{
	unsigned char n[ATTR_MAX], e[16];
	BIGNUM *bn = NULL, *be = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	EVP_PKEY *pkey = NULL;
	long nlen, elen;

	if ((nlen = get_attr(f, s, o, CKA_MODULUS, n, sizeof(n))) <= 0 ||
	    (elen = get_attr(f, s, o, CKA_PUBLIC_EXPONENT, e, sizeof(e))) <=
		0) {
		snprintf(errbuf, errlen, "cannot read RSA modulus/exponent");
		return NULL;
	}
	if ((bn = BN_bin2bn(n, (int)nlen, NULL)) == NULL ||
	    (be = BN_bin2bn(e, (int)elen, NULL)) == NULL ||
	    (bld = OSSL_PARAM_BLD_new()) == NULL ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) ||
	    (pkey = from_params("RSA", bld)) == NULL)
		snprintf(errbuf, errlen, "invalid RSA public key");
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn);
	BN_free(be);
	return pkey;
}

EVP_PKEY *
hsm_pubkey_load(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s,
    CK_OBJECT_HANDLE priv, CK_KEY_TYPE type, const char *label, char *errbuf,
    size_t errlen)
{
	CK_OBJECT_HANDLE pub = find_public(f, s, priv, label);

	if (type == CKK_RSA) /* private RSA objects carry n and e as well */
		return rsa_public(f, s, pub != CK_INVALID_HANDLE ? pub : priv,
		    errbuf, errlen);
	if (pub == CK_INVALID_HANDLE) {
		snprintf(errbuf, errlen,
		    "no public key object with the same CKA_ID or label");
		return NULL;
	}
	return ec_public(f, s, pub, errbuf, errlen);
}
