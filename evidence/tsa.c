/*
 * tsa: see tsa.h.  OpenSSL's TS types parse the request and build the
 * TSTInfo; the token is a SignedData made by cms.c (so the HSM signs it);
 * the small TimeStampResp wrapper is written here in DER, which keeps
 * the token's bytes exactly as they were signed and recorded.
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
#include "tsa.h"

#define TEXT_MAX 200 /* statusString bytes */

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

/* GeneralizedTime text with the microseconds that are not zero
 * (RFC 3161 2.4.2: no trailing zeros, no dot without a fraction). */
static void
gen_time(int64_t us, char *buf, size_t len)
{
	time_t t = (time_t)(us > 0 ? us / 1000000 : 0);
	unsigned int frac = (unsigned int)(us > 0 ? us % 1000000 : 0), k;
	struct tm tm;
	char f[8];

	gmtime_r(&t, &tm);
	f[0] = '.';
	for (k = 6; k > 0; k--) { /* six digits, then trailing zeros cut */
		f[k] = (char)('0' + frac % 10);
		frac /= 10;
	}
	for (k = 6; k > 0 && f[k] == '0'; k--)
		;
	f[k == 0 ? 0 : k + 1] = '\0';
	snprintf(buf, len, "%04d%02d%02d%02d%02d%02d%sZ", tm.tm_year + 1900,
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, f);
}

static TS_ACCURACY *
accuracy(unsigned int ms)
{
	TS_ACCURACY *a = TS_ACCURACY_new();
	ASN1_INTEGER *s = ASN1_INTEGER_new(), *m = ASN1_INTEGER_new();
	int ok = a != NULL && s != NULL && m != NULL;

	if (ok && ms / 1000 > 0)
		ok = ASN1_INTEGER_set(s, (long)(ms / 1000)) == 1 &&
		    TS_ACCURACY_set_seconds(a, s) == 1;
	if (ok && ms % 1000 > 0)
		ok = ASN1_INTEGER_set(m, (long)(ms % 1000)) == 1 &&
		    TS_ACCURACY_set_millis(a, m) == 1;
	ASN1_INTEGER_free(s);
	ASN1_INTEGER_free(m);
	if (!ok) {
		TS_ACCURACY_free(a);
		return NULL;
	}
	return a;
}

/* Set the fields of ti that come from the request and the grant. */
static int
fill_info(
    TS_TST_INFO *ti, const struct cms_signer *s, const struct tsa_grant *g)
{
	const unsigned char *p;
	ASN1_OBJECT *pol = OBJ_txt2obj(g->policy, 1);
	TS_MSG_IMPRINT *mi = NULL;
	BIGNUM *bn = BN_bin2bn(g->serial, (int)g->serial_len, NULL);
	ASN1_INTEGER *sn = bn != NULL ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
	ASN1_INTEGER *nonce = NULL;
	ASN1_GENERALIZEDTIME *gt = ASN1_GENERALIZEDTIME_new();
	TS_ACCURACY *acc = NULL;
	GENERAL_NAME *gn = GENERAL_NAME_new();
	X509_NAME *name = X509_NAME_dup(X509_get_subject_name(s->cert));
	char when[40];
	int ok;

	p = g->req->imprint;
	mi = d2i_TS_MSG_IMPRINT(NULL, &p, (long)g->req->imprint_len);
	gen_time(g->gen_us, when, sizeof(when));
	ok = pol != NULL && mi != NULL && sn != NULL && gt != NULL &&
	    gn != NULL && name != NULL &&
	    ASN1_GENERALIZEDTIME_set_string(gt, when) == 1 &&
	    TS_TST_INFO_set_version(ti, 1) == 1 &&
	    TS_TST_INFO_set_policy_id(ti, pol) == 1 &&
	    TS_TST_INFO_set_msg_imprint(ti, mi) == 1 &&
	    TS_TST_INFO_set_serial(ti, sn) == 1 &&
	    TS_TST_INFO_set_time(ti, gt) == 1;
	if (ok && g->accuracy_ms > 0)
		ok = (acc = accuracy(g->accuracy_ms)) != NULL &&
		    TS_TST_INFO_set_accuracy(ti, acc) == 1;
	if (ok && g->req->nonce_len > 0) {
		p = g->req->nonce;
		ok = (nonce = d2i_ASN1_INTEGER(
			  NULL, &p, (long)g->req->nonce_len)) != NULL &&
		    TS_TST_INFO_set_nonce(ti, nonce) == 1;
	}
	if (ok) { /* the TSA names itself by its certificate's subject */
		GENERAL_NAME_set0_value(gn, GEN_DIRNAME, name);
		name = NULL;
		ok = TS_TST_INFO_set_tsa(ti, gn) == 1;
	}
	ASN1_OBJECT_free(pol);
	TS_MSG_IMPRINT_free(mi);
	BN_free(bn);
	ASN1_INTEGER_free(sn);
	ASN1_INTEGER_free(nonce);
	ASN1_GENERALIZEDTIME_free(gt);
	TS_ACCURACY_free(acc);
	GENERAL_NAME_free(gn);
	X509_NAME_free(name);
	return ok ? 0 : SD_ERR_INTERNAL;
}

int
tsa_token(const struct cms_signer *s, const struct tsa_grant *g, uint8_t *out,
    size_t cap, size_t *outlen)
{
	TS_TST_INFO *ti = TS_TST_INFO_new();
	struct cms_signer signer = *s;
	struct cms_content c;
	unsigned char *der = NULL;
	uint8_t dg[EVP_MAX_MD_SIZE];
	unsigned int dglen;
	int n, r = SD_ERR_INTERNAL;

	*outlen = 0;
	if (ti == NULL || g->serial_len == 0 ||
	    g->serial_len > SD_TSA_SERIAL_MAX || (g->serial[0] & 0x80) != 0 ||
	    fill_info(ti, s, g) != 0 || (n = i2d_TS_TST_INFO(ti, &der)) <= 0 ||
	    EVP_Digest(der, (size_t)n, dg, &dglen,
		EVP_get_digestbynid(g->md_nid), NULL) != 1)
		goto out;
	memset(&c, 0, sizeof(c));
	c.md_nid = g->md_nid;
	c.digest = dg;
	c.digest_len = dglen;
	c.econtent = der;
	c.econtent_len = (size_t)n;
	c.econtent_nid = NID_id_smime_ct_TSTInfo;
	c.signing_time = -1; /* the time is genTime, inside */
	signer.no_certs = !g->req->cert_req;
	r = cms_seal(&signer, &c, out, cap, outlen);
out:
	OPENSSL_free(der);
	TS_TST_INFO_free(ti);
	return r;
}

/* ------------------------------------------------------------ responses */

/* DER tag and length of n content bytes into out; returns its size. */
static size_t
der_head(uint8_t tag, size_t n, uint8_t *out)
{
	size_t k = 0, i;

	out[0] = tag;
	if (n < 0x80) {
		out[1] = (uint8_t)n;
		return 2;
	}
	for (i = n; i > 0; i >>= 8)
		k++;
	out[1] = (uint8_t)(0x80 | k);
	for (i = 0; i < k; i++)
		out[2 + i] = (uint8_t)(n >> (8 * (k - 1 - i)));
	return 2 + k;
}

/* SEQUENCE { status, more } with status INTEGER s: malloc'd. */
static uint8_t *
resp(int s, const uint8_t *more, size_t nmore, const uint8_t *token,
    size_t ntoken, size_t *outlen)
{
	uint8_t h1[8], h2[8], *out, *p;
	size_t k1, k2, inner = 3 + nmore;

	k2 = der_head(0x30, inner, h2);
	k1 = der_head(0x30, k2 + inner + ntoken, h1);
	if ((out = malloc(k1 + k2 + inner + ntoken)) == NULL)
		return NULL;
	p = out;
	memcpy(p, h1, k1);
	p += k1;
	memcpy(p, h2, k2);
	p += k2;
	*p++ = 0x02; /* PKIStatus */
	*p++ = 0x01;
	*p++ = (uint8_t)s;
	if (nmore > 0)
		memcpy(p, more, nmore);
	p += nmore;
	if (ntoken > 0)
		memcpy(p, token, ntoken);
	*outlen = k1 + k2 + inner + ntoken;
	return out;
}

uint8_t *
tsa_resp_granted(const uint8_t *token, size_t len, size_t *outlen)
{
	return resp(0, NULL, 0, token, len, outlen);
}

uint8_t *
tsa_resp_rejection(enum tsa_fail fail, const char *text, size_t *outlen)
{
	/* statusString SEQUENCE { UTF8String }, failInfo BIT STRING */
	uint8_t more[TEXT_MAX + 32], *p = more;
	size_t n = strnlen(text, TEXT_MAX), bytes = (size_t)fail / 8 + 1;

	p += der_head(0x30, n + (n < 0x80 ? 2 : 3), p);
	p += der_head(0x0c, n, p);
	memcpy(p, text, n);
	p += n;
	p += der_head(0x03, bytes + 1, p);
	*p++ = (uint8_t)(7 - (unsigned int)fail % 8); /* unused bits */
	memset(p, 0, bytes);
	p[bytes - 1] = (uint8_t)(0x80u >> ((unsigned int)fail % 8));
	p += bytes;
	return resp(2, more, (size_t)(p - more), NULL, 0, outlen);
}

/* -------------------------------------------------------- certificates */

int
tsa_cert_ok(X509 *x, char *msg, size_t msglen)
{
	EXTENDED_KEY_USAGE *eku;
	int idx = X509_get_ext_by_NID(x, NID_ext_key_usage, -1), ok;

	if (idx < 0 || X509_get_ext_by_NID(x, NID_ext_key_usage, idx) >= 0) {
		snprintf(msg, msglen,
		    "a TSA certificate needs one extended key usage "
		    "extension (timeStamping, critical)");
		return -1;
	}
	if (!X509_EXTENSION_get_critical(X509_get_ext(x, idx))) {
		snprintf(msg, msglen,
		    "the certificate's extended key usage is not critical, "
		    "as RFC 3161 requires of a TSA");
		return -1;
	}
	eku = X509_get_ext_d2i(x, NID_ext_key_usage, NULL, NULL);
	ok = eku != NULL && sk_ASN1_OBJECT_num(eku) == 1 &&
	    OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, 0)) == NID_time_stamp;
	EXTENDED_KEY_USAGE_free(eku);
	if (!ok) {
		snprintf(msg, msglen,
		    "the certificate's extended key usage must be "
		    "timeStamping only");
		return -1;
	}
	return 0;
}
