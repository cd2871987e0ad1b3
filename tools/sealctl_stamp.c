/*
 * sealctl verify --cms, its second half: the signature time-stamp of a
 * CAdES-B-T seal (RFC 5126 6.1.1, ETSI EN 319 122-1 5.3), checked
 * offline.  The token is the signer's one unsigned attribute
 * id-aa-signatureTimeStampToken; it must be a valid RFC 3161 token by a
 * TSA certificate that chains to the anchors given, its imprint the hash
 * of the signer's signature value, and its genTime not before the
 * signing-time the seal states.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/ts.h>
#include <openssl/x509_vfy.h>

#include "sealctl.h"

/* The one signature-time-stamp token of si: 1 with it in *token, 0 when
 * si has none, -1 when it is malformed (several, or not one token). */
static int
token_of(CMS_SignerInfo *si, PKCS7 **token)
{
	int i = CMS_unsigned_get_attr_by_NID(
	    si, NID_id_smime_aa_timeStampToken, -1);
	X509_ATTRIBUTE *a;
	ASN1_TYPE *t;
	const unsigned char *p, *end;

	*token = NULL;
	if (i < 0)
		return 0;
	if (CMS_unsigned_get_attr_by_NID(
		si, NID_id_smime_aa_timeStampToken, i) >= 0 ||
	    (a = CMS_unsigned_get_attr(si, i)) == NULL ||
	    X509_ATTRIBUTE_count(a) != 1 ||
	    (t = X509_ATTRIBUTE_get0_type(a, 0)) == NULL ||
	    t->type != V_ASN1_SEQUENCE)
		return -1;
	p = t->value.sequence->data;
	end = p + t->value.sequence->length;
	if ((*token = d2i_PKCS7(NULL, &p, (long)(end - p))) == NULL ||
	    p != end) {
		PKCS7_free(*token);
		*token = NULL;
		return -1;
	}
	return 1;
}

/* The token over si's signature value, by a TSA chaining to st. */
static int
token_valid(
    CMS_SignerInfo *si, PKCS7 *token, X509_STORE *st, STACK_OF(X509) * certs)
{
	ASN1_OCTET_STRING *sv = CMS_SignerInfo_get0_signature(si);
	TS_VERIFY_CTX *ctx = TS_VERIFY_CTX_new();
	BIO *data =
	    BIO_new_mem_buf(ASN1_STRING_get0_data(sv), ASN1_STRING_length(sv));
	int ok = 0;

	if (ctx != NULL && data != NULL) {
		TS_VERIFY_CTX_set_flags(ctx,
		    TS_VFY_VERSION | TS_VFY_SIGNATURE | TS_VFY_SIGNER |
			TS_VFY_DATA);
		TS_VERIFY_CTX_set_data(ctx, data); /* ctx's now */
		data = NULL;
		TS_VERIFY_CTX_set_store(ctx, st);
		TS_VERIFY_CTX_set_certs(ctx, certs);
		ok = TS_RESP_verify_token(ctx, token) == 1;
		TS_VERIFY_CTX_set_store(ctx, NULL); /* the caller's */
		TS_VERIFY_CTX_set_certs(ctx, NULL);
	}
	BIO_free(data);
	TS_VERIFY_CTX_free(ctx);
	return ok;
}

/* si's signing-time attribute, or NULL. */
static const ASN1_TIME *
signing_time(CMS_SignerInfo *si)
{
	int i = CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, -1);
	X509_ATTRIBUTE *a = i >= 0 ? CMS_signed_get_attr(si, i) : NULL;
	ASN1_TYPE *t = a != NULL ? X509_ATTRIBUTE_get0_type(a, 0) : NULL;

	if (t == NULL ||
	    (t->type != V_ASN1_UTCTIME && t->type != V_ASN1_GENERALIZEDTIME))
		return NULL;
	return t->value.utctime; /* both are ASN1_TIME */
}

static void
print_time(const char *what, const ASN1_TIME *t)
{
	BIO *b = BIO_new_fp(stdout, BIO_NOCLOSE);

	printf("%s ", what);
	if (b != NULL)
		ASN1_TIME_print(b, t);
	BIO_free(b);
}

/* One signer's time-stamp: 0 good or none, 1 failed; a line each. */
static int
check_signer(CMS_SignerInfo *si, X509_STORE *st, STACK_OF(X509) * certs)
{
	const ASN1_TIME *stime = signing_time(si);
	TS_TST_INFO *tst = NULL;
	const ASN1_GENERALIZEDTIME *gen;
	PKCS7 *token;
	int day = 0, sec = 0, r;

	if ((r = token_of(si, &token)) == 0) {
		printf("signature-time-stamp: none (a CAdES-B-B seal)\n");
		return 0;
	}
	if (r < 0 || (tst = PKCS7_to_TS_TST_INFO(token)) == NULL) {
		printf("signature-time-stamp: FAILED: not one RFC 3161 "
		       "token\n");
		PKCS7_free(token);
		return 1;
	}
	gen = TS_TST_INFO_get_time(tst);
	if (!token_valid(si, token, st, certs))
		printf("signature-time-stamp: FAILED: not a valid time-stamp "
		       "of the seal's signature by a TSA certificate of that "
		       "file\n");
	else if (stime == NULL || !ASN1_TIME_diff(&day, &sec, stime, gen) ||
	    day < 0 || sec < 0)
		printf("signature-time-stamp: FAILED: its genTime is before "
		       "the seal's signing-time (or the seal has none)\n");
	else {
		print_time("signature-time-stamp: OK, genTime", gen);
		print_time(", not before signing-time", stime);
		printf("\n");
		r = 0;
	}
	TS_TST_INFO_free(tst);
	PKCS7_free(token);
	return r == 0 ? 0 : 1;
}

int
sealctl_verify_stamps(CMS_ContentInfo *cms, const char *tsa_certs)
{
	STACK_OF(CMS_SignerInfo) *sis = CMS_get0_SignerInfos(cms);
	STACK_OF(X509) *certs = NULL;
	X509_STORE *st;
	int i, bad = 0;

	if ((st = sealctl_trust(tsa_certs, &certs)) == NULL)
		return 2;
	for (i = 0; i < sk_CMS_SignerInfo_num(sis); i++)
		bad |= check_signer(sk_CMS_SignerInfo_value(sis, i), st, certs);
	X509_STORE_free(st);
	sk_X509_pop_free(certs, X509_free);
	return bad;
}
