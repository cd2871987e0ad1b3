/*
 * tsa_req: see tsa_req.h.  OpenSSL's TS types parse and build the
 * request.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/ts.h>
#include <openssl/x509v3.h>

#include "err.h"
#include "tsa_req.h"

static int
fail_with(enum tsa_fail *fail, enum tsa_fail f, char *msg, size_t msglen,
    const char *text)
{
	*fail = f;
	snprintf(msg, msglen, "%s", text);
	return -1;
}

/* The imprint: a SHA-2 algorithm (parameters absent or NULL) and a hash
 * of its length. */
static int
decode_imprint(TS_MSG_IMPRINT *mi, struct tsa_req *out, enum tsa_fail *fail,
    char *msg, size_t msglen)
{
	X509_ALGOR *alg = TS_MSG_IMPRINT_get_algo(mi);
	ASN1_OCTET_STRING *h = TS_MSG_IMPRINT_get_msg(mi);
	const ASN1_OBJECT *obj;
	const void *pval;
	int ptype, n;
	unsigned char *p;
	const EVP_MD *md;

	X509_ALGOR_get0(&obj, &ptype, &pval, alg);
	out->md_nid = OBJ_obj2nid(obj);
	if ((out->md_nid != NID_sha256 && out->md_nid != NID_sha384 &&
		out->md_nid != NID_sha512) ||
	    (ptype != V_ASN1_UNDEF && ptype != V_ASN1_NULL))
		return fail_with(fail, TSA_BAD_ALG, msg, msglen,
		    "the hash algorithm must be SHA-256, SHA-384 or SHA-512");
	md = EVP_get_digestbynid(out->md_nid);
	if (md == NULL || ASN1_STRING_length(h) != EVP_MD_get_size(md))
		return fail_with(fail, TSA_BAD_DATA_FORMAT, msg, msglen,
		    "the hashed message has the wrong length for its "
		    "algorithm");
	out->digest_len = (size_t)ASN1_STRING_length(h);
	memcpy(out->digest, ASN1_STRING_get0_data(h), out->digest_len);
	if ((n = i2d_TS_MSG_IMPRINT(mi, NULL)) <= 0 ||
	    (size_t)n > sizeof(out->imprint))
		return fail_with(fail, TSA_BAD_DATA_FORMAT, msg, msglen,
		    "message imprint too large");
	p = out->imprint;
	out->imprint_len = (size_t)i2d_TS_MSG_IMPRINT(mi, &p);
	return 0;
}

static int
decode_rest(TS_REQ *rq, struct tsa_req *out, enum tsa_fail *fail, char *msg,
    size_t msglen)
{
	const ASN1_INTEGER *nonce = TS_REQ_get_nonce(rq);
	ASN1_OBJECT *pol = TS_REQ_get_policy_id(rq);
	unsigned char *p;
	int n;

	if (pol != NULL &&
	    ((n = OBJ_obj2txt(out->policy, sizeof(out->policy), pol, 1)) <= 0 ||
		(size_t)n >= sizeof(out->policy)))
		return fail_with(fail, TSA_UNACCEPTED_POLICY, msg, msglen,
		    "the requested policy is not one of this TSA's");
	if (nonce != NULL) {
		if ((n = i2d_ASN1_INTEGER(nonce, NULL)) <= 0 ||
		    (size_t)n > sizeof(out->nonce))
			return fail_with(fail, TSA_BAD_DATA_FORMAT, msg, msglen,
			    "nonce too large");
		p = out->nonce;
		out->nonce_len = (size_t)i2d_ASN1_INTEGER(nonce, &p);
	}
	out->cert_req = TS_REQ_get_cert_req(rq);
	if (sk_X509_EXTENSION_num(TS_REQ_get_exts(rq)) > 0)
		return fail_with(fail, TSA_UNACCEPTED_EXTENSION, msg, msglen,
		    "request extensions are not supported");
	return 0;
}

/* The DER TimeStampReq t's fields make (version 1, no extensions) into
 * *der (OPENSSL_free it): its length, or 0 for fields that make none. */
static size_t
req_der(const struct tsa_req *t, unsigned char **der)
{
	const unsigned char *ip = t->imprint, *np = t->nonce;
	TS_REQ *rq = TS_REQ_new();
	TS_MSG_IMPRINT *mi = NULL;
	ASN1_OBJECT *pol = NULL;
	ASN1_INTEGER *n = NULL;
	int len = 0, ok;

	*der = NULL;
	ok = rq != NULL && TS_REQ_set_version(rq, 1) == 1 &&
	    t->imprint_len <= sizeof(t->imprint) &&
	    (mi = d2i_TS_MSG_IMPRINT(NULL, &ip, (long)t->imprint_len)) !=
		NULL &&
	    TS_REQ_set_msg_imprint(rq, mi) == 1 &&
	    TS_REQ_set_cert_req(rq, t->cert_req) == 1;
	if (ok && t->policy[0] != '\0')
		ok = (pol = OBJ_txt2obj(t->policy, 1)) != NULL &&
		    TS_REQ_set_policy_id(rq, pol) == 1;
	if (ok && t->nonce_len > 0)
		ok = t->nonce_len <= sizeof(t->nonce) &&
		    (n = d2i_ASN1_INTEGER(NULL, &np, (long)t->nonce_len)) !=
			NULL &&
		    TS_REQ_set_nonce(rq, n) == 1;
	if (!ok || (len = i2d_TS_REQ(rq, der)) <= 0)
		len = 0;
	ASN1_INTEGER_free(n);
	ASN1_OBJECT_free(pol);
	TS_MSG_IMPRINT_free(mi);
	TS_REQ_free(rq);
	return (size_t)len;
}

/* The request must be the DER its fields make, byte for byte (no BER, no
 * empty extensions): so that its hash, taken by a process that has only
 * the fields (tsa_req_hash), is that of the bytes the client sent. */
static int
der_only(const uint8_t *der, size_t len, struct tsa_req *out,
    enum tsa_fail *fail, char *msg, size_t msglen)
{
	unsigned char *own = NULL;
	size_t n = req_der(out, &own);
	int same = n == len && memcmp(own, der, len) == 0;

	OPENSSL_free(own);
	if (n == 0)
		return fail_with(
		    fail, TSA_SYSTEM_FAILURE, msg, msglen, "out of memory");
	if (!same)
		return fail_with(fail, TSA_BAD_DATA_FORMAT, msg, msglen,
		    "the request is not in DER");
	if (EVP_Digest(der, len, out->hash, NULL, EVP_sha256(), NULL) != 1)
		return fail_with(
		    fail, TSA_SYSTEM_FAILURE, msg, msglen, "out of memory");
	return 0;
}

int
tsa_req_decode(const uint8_t *der, size_t len, struct tsa_req *out,
    enum tsa_fail *fail, char *msg, size_t msglen)
{
	const unsigned char *p = der;
	TS_REQ *rq = NULL;
	int r;

	memset(out, 0, sizeof(out[0]));
	if (len == 0 || len > (size_t)SD_HTTP_MAX_BODY_LIMIT ||
	    (rq = d2i_TS_REQ(NULL, &p, (long)len)) == NULL || p != der + len) {
		TS_REQ_free(rq);
		return fail_with(fail, TSA_BAD_DATA_FORMAT, msg, msglen,
		    "the body is not one DER TimeStampReq");
	}
	if (TS_REQ_get_version(rq) != 1)
		r = fail_with(fail, TSA_BAD_REQUEST, msg, msglen,
		    "the request version must be 1");
	else if ((r = decode_imprint(
		      TS_REQ_get_msg_imprint(rq), out, fail, msg, msglen)) == 0)
		r = decode_rest(rq, out, fail, msg, msglen);
	TS_REQ_free(rq);
	if (r == 0)
		r = der_only(der, len, out, fail, msg, msglen);
	return r;
}

int
tsa_req_hash(const struct tsa_req *t, uint8_t out[SD_HASH_LEN])
{
	unsigned char *der = NULL;
	size_t len = req_der(t, &der);
	int ok =
	    len > 0 && EVP_Digest(der, len, out, NULL, EVP_sha256(), NULL) == 1;

	OPENSSL_free(der);
	return ok ? 0 : SD_ERR_INTERNAL;
}

/* 1 when der[0..len) is one DER MessageImprint, read whole, of t's
 * algorithm and digest. */
static int
one_imprint(const uint8_t *der, size_t len, const struct tsa_req *t)
{
	const unsigned char *p = der;
	TS_MSG_IMPRINT *mi;
	X509_ALGOR *alg;
	ASN1_OCTET_STRING *h;
	const ASN1_OBJECT *obj;
	const void *pval;
	int ptype, ok;

	if (len == 0 || len > SD_TSA_IMPRINT_MAX ||
	    (mi = d2i_TS_MSG_IMPRINT(NULL, &p, (long)len)) == NULL)
		return 0;
	alg = TS_MSG_IMPRINT_get_algo(mi);
	h = TS_MSG_IMPRINT_get_msg(mi);
	X509_ALGOR_get0(&obj, &ptype, &pval, alg);
	ok = p == der + len && OBJ_obj2nid(obj) == t->md_nid &&
	    (ptype == V_ASN1_UNDEF || ptype == V_ASN1_NULL) &&
	    (size_t)ASN1_STRING_length(h) == t->digest_len &&
	    memcmp(ASN1_STRING_get0_data(h), t->digest, t->digest_len) == 0;
	TS_MSG_IMPRINT_free(mi);
	return ok;
}

int
tsa_req_check(const struct tsa_req *t)
{
	const EVP_MD *md = EVP_get_digestbynid(t->md_nid);
	const unsigned char *p = t->nonce;
	ASN1_INTEGER *n = NULL;
	ASN1_OBJECT *pol = NULL;
	size_t plen = strnlen(t->policy, sizeof(t->policy)), i;
	int ok;

	if ((t->md_nid != NID_sha256 && t->md_nid != NID_sha384 &&
		t->md_nid != NID_sha512) ||
	    md == NULL || t->digest_len != (size_t)EVP_MD_get_size(md) ||
	    (t->cert_req != 0 && t->cert_req != 1) ||
	    plen == sizeof(t->policy) || t->nonce_len > sizeof(t->nonce) ||
	    !one_imprint(t->imprint, t->imprint_len, t))
		return SD_ERR_BAD_REQUEST;
	for (i = 0; i < plen; i++)
		if ((t->policy[i] < '0' || t->policy[i] > '9') &&
		    t->policy[i] != '.')
			return SD_ERR_BAD_REQUEST;
	ok = plen == 0 || (pol = OBJ_txt2obj(t->policy, 1)) != NULL;
	if (ok && t->nonce_len > 0)
		ok = (n = d2i_ASN1_INTEGER(NULL, &p, (long)t->nonce_len)) !=
			NULL &&
		    p == t->nonce + t->nonce_len;
	ASN1_INTEGER_free(n);
	ASN1_OBJECT_free(pol);
	return ok ? 0 : SD_ERR_BAD_REQUEST;
}

int
tsa_req_build(int md_nid, const uint8_t *digest, size_t len, const char *policy,
    uint64_t nonce, int cert_req, uint8_t **der, size_t *derlen)
{
	TS_REQ *rq = TS_REQ_new();
	TS_MSG_IMPRINT *mi = TS_MSG_IMPRINT_new();
	X509_ALGOR *alg = X509_ALGOR_new();
	ASN1_OBJECT *pol = policy != NULL ? OBJ_txt2obj(policy, 1) : NULL;
	ASN1_INTEGER *n = ASN1_INTEGER_new();
	const EVP_MD *md = EVP_get_digestbynid(md_nid);
	unsigned char *out = NULL;
	int k, ok;

	ok = rq != NULL && mi != NULL && alg != NULL && n != NULL &&
	    md != NULL && (size_t)EVP_MD_get_size(md) == len &&
	    (policy == NULL || pol != NULL) &&
	    X509_ALGOR_set0(alg, OBJ_nid2obj(md_nid), V_ASN1_NULL, NULL) == 1 &&
	    TS_MSG_IMPRINT_set_algo(mi, alg) == 1 &&
	    TS_MSG_IMPRINT_set_msg(mi, (unsigned char *)digest, (int)len) ==
		1 &&
	    TS_REQ_set_version(rq, 1) == 1 &&
	    TS_REQ_set_msg_imprint(rq, mi) == 1 &&
	    TS_REQ_set_cert_req(rq, cert_req) == 1 &&
	    (pol == NULL || TS_REQ_set_policy_id(rq, pol) == 1);
	if (ok && nonce != 0)
		ok = ASN1_INTEGER_set_uint64(n, nonce) == 1 &&
		    TS_REQ_set_nonce(rq, n) == 1;
	if (ok && (k = i2d_TS_REQ(rq, &out)) > 0) {
		*der = out;
		*derlen = (size_t)k;
	} else {
		ok = 0;
	}
	ASN1_INTEGER_free(n);
	ASN1_OBJECT_free(pol);
	X509_ALGOR_free(alg);
	TS_MSG_IMPRINT_free(mi);
	TS_REQ_free(rq);
	return ok ? 0 : SD_ERR_INTERNAL;
}
