/*
 * tsa: see tsa.h.  OpenSSL's TS types build the TSTInfo; the token is a
 * SignedData made by cms.c (so the HSM signs it); the small TimeStampResp
 * wrapper is written here in DER, which keeps the token's bytes exactly
 * as they were signed and recorded.
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
