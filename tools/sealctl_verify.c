/*
 * sealctl verify: checks what seald handed out against the document,
 * offline, with nothing but OpenSSL and a certificate: a raw signature
 * (ECDSA, RSA PKCS#1 v1.5 or PSS), a detached CMS seal, or an RFC 3161
 * time-stamp (a TimeStampResp or a bare token).  For CMS and tokens the
 * certificate file is the trust anchor (the signer's certificate itself,
 * or the CA that issued it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/ts.h>
#include <openssl/x509_vfy.h>

#include "sd_limits.h"
#include "sealctl.h"

#define EVIDENCE_MAX (1024 * 1024) /* bytes of a signature file */

/* A whole small file into memory (at most EVIDENCE_MAX bytes). */
static unsigned char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *p = NULL;
	size_t n = 0;

	if (f != NULL && (p = malloc(EVIDENCE_MAX + 1)) != NULL)
		n = fread(p, 1, EVIDENCE_MAX + 1, f);
	if (f != NULL)
		fclose(f);
	if (p == NULL || n == 0 || n > EVIDENCE_MAX) {
		fprintf(stderr, "sealctl: %s: cannot read (or over %d bytes)\n",
		    path, EVIDENCE_MAX);
		free(p);
		return NULL;
	}
	*len = n;
	return p;
}

/* A raw signature over the document's digest with the cert's key: ECDSA
 * or RSA PKCS#1 v1.5, else RSA-PSS with salt = hash length. */
static int
verify_sig(const char *doc, const char *sigfile, X509 *cert, const char *alg)
{
	const EVP_MD *md = sealctl_md_by_name(alg);
	EVP_PKEY *pk = X509_get0_pubkey(cert);
	uint8_t dg[64];
	size_t dlen, slen;
	unsigned char *sig;
	EVP_PKEY_CTX *c;
	int pss, ok = 0;

	if (md == NULL || pk == NULL ||
	    sealctl_hash_file(doc, md, dg, &dlen) != 0 ||
	    (sig = slurp(sigfile, &slen)) == NULL)
		return 2;
	for (pss = 0; pss < 2 && !ok; pss++) {
		if (pss && EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA)
			break;
		c = EVP_PKEY_CTX_new(pk, NULL);
		ok = c != NULL && EVP_PKEY_verify_init(c) == 1 &&
		    EVP_PKEY_CTX_set_signature_md(c, md) == 1 &&
		    (!pss ||
			(EVP_PKEY_CTX_set_rsa_padding(
			     c, RSA_PKCS1_PSS_PADDING) == 1 &&
			    EVP_PKEY_CTX_set_rsa_pss_saltlen(c, (int)dlen) ==
				1)) &&
		    EVP_PKEY_verify(c, sig, slen, dg, dlen) == 1;
		EVP_PKEY_CTX_free(c);
	}
	free(sig);
	if (ok)
		printf("signature: OK (%s%s) over %s\n", alg,
		    EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA ? ", ECDSA"
			: pss > 1                            ? ", RSA-PSS"
				  : ", RSA PKCS#1 v1.5",
		    doc);
	else
		printf("signature: FAILED: not a signature of %s by that "
		       "certificate's key\n",
		    doc);
	return ok ? 0 : 1;
}

/* A detached CMS seal of the document, its signer chaining to st, and
 * its signature time-stamp if it has one (CAdES-B-T), its TSA chaining
 * to the certificates of tsa_certs. */
static int
verify_cms(
    const char *doc, const char *file, X509_STORE *st, const char *tsa_certs)
{
	size_t len;
	unsigned char *der = slurp(file, &len);
	const unsigned char *p = der;
	CMS_ContentInfo *cms = NULL;
	BIO *in = NULL;
	int ok = 0, r;

	if (der == NULL)
		return 2;
	/* a seal certificate need not be an e-mail one (smime_sign) */
	X509_STORE_set_purpose(st, X509_PURPOSE_ANY);
	if ((cms = d2i_CMS_ContentInfo(NULL, &p, (long)len)) != NULL &&
	    (in = BIO_new_file(doc, "rb")) != NULL)
		ok = CMS_verify(cms, NULL, st, in, NULL, CMS_BINARY) == 1;
	printf("cms: %s\n",
	    ok ? "OK"
	       : "FAILED: not a valid seal of the document by a certificate of "
		 "that file");
	r = ok ? sealctl_verify_stamps(cms, tsa_certs) : 1;
	BIO_free(in);
	CMS_ContentInfo_free(cms);
	free(der);
	return r;
}

/* A TimeStampResp (or a bare token) over the document, its signer
 * chaining to st (cert also offered as the signer, for tokens without
 * one). */
static int
verify_tsr(
    const char *doc, const char *file, X509_STORE *st, STACK_OF(X509) * certs)
{
	size_t len;
	unsigned char *der = slurp(file, &len);
	const unsigned char *p = der;
	TS_VERIFY_CTX *ctx = TS_VERIFY_CTX_new();
	TS_RESP *resp = NULL;
	PKCS7 *token = NULL;
	BIO *in = BIO_new_file(doc, "rb");
	int ok = 0;

	if (der == NULL || ctx == NULL || in == NULL)
		goto out;
	if ((resp = d2i_TS_RESP(NULL, &p, (long)len)) == NULL ||
	    p != der + len) {
		TS_RESP_free(resp);
		resp = NULL;
		p = der;
		token = d2i_PKCS7(NULL, &p, (long)len);
	}
	TS_VERIFY_CTX_set_flags(ctx,
	    TS_VFY_VERSION | TS_VFY_SIGNATURE | TS_VFY_SIGNER | TS_VFY_DATA);
	TS_VERIFY_CTX_set_data(ctx, in);
	in = NULL;
	TS_VERIFY_CTX_set_store(ctx, st);
	TS_VERIFY_CTX_set_certs(ctx, certs);
	if (resp != NULL)
		ok = TS_RESP_verify_response(ctx, resp) == 1;
	else if (token != NULL)
		ok = TS_RESP_verify_token(ctx, token) == 1;
out:
	printf("time-stamp: %s\n",
	    ok ? "OK"
	       : "FAILED: not a valid time-stamp of the document by a "
		 "certificate of that file");
	BIO_free(in);
	if (ctx != NULL) { /* st and certs are the caller's */
		TS_VERIFY_CTX_set_store(ctx, NULL);
		TS_VERIFY_CTX_set_certs(ctx, NULL);
	}
	TS_VERIFY_CTX_free(ctx);
	TS_RESP_free(resp);
	PKCS7_free(token);
	free(der);
	return ok ? 0 : 1;
}

int
sealctl_cmd_verify(int argc, char **argv)
{
	const char *doc = NULL, *certfile = NULL, *sig = NULL, *cms = NULL;
	const char *tsr = NULL, *alg = "sha256", *tsa_certs = NULL;
	const struct sealctl_opt opts[] = {
		{ "--file", &doc, NULL },
		{ "--cert", &certfile, NULL },
		{ "--sig", &sig, NULL },
		{ "--cms", &cms, NULL },
		{ "--tsr", &tsr, NULL },
		{ "--digest-alg", &alg, NULL },
		{ "--tsa-cert", &tsa_certs, NULL },
	};
	STACK_OF(X509) *certs = NULL;
	X509_STORE *st;
	int r;

	if (sealctl_parse(
		"verify", argc, argv, opts, SEALCTL_NOPTS(opts), NULL, 0) != 0)
		return 2;
	if (doc == NULL || certfile == NULL)
		return sealctl_usage_error(
		    "verify", "--file DOC and --cert PEM are required");
	if ((sig != NULL) + (cms != NULL) + (tsr != NULL) != 1)
		return sealctl_usage_error(
		    "verify", "give one of --sig, --cms and --tsr");
	if ((st = sealctl_trust(certfile, &certs)) == NULL)
		return 2;
	/* a raw signature: the file's first certificate is the signer */
	r = sig != NULL ? verify_sig(doc, sig, sk_X509_value(certs, 0), alg)
	    : cms != NULL
	    ? verify_cms(doc, cms, st, tsa_certs != NULL ? tsa_certs : certfile)
	    : verify_tsr(doc, tsr, st, certs);
	X509_STORE_free(st);
	sk_X509_pop_free(certs, X509_free);
	return r;
}
