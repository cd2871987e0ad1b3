/*
 * cms: CMS SignedData (RFC 5652) whose signature is made elsewhere — in
 * the HSM, through a callback — so that no private key ever exists in this
 * process.  OpenSSL builds the structure; this module adds the signed
 * attributes, encodes them exactly as they will be encoded in the output
 * (DER SET OF), hands their digest to the callback and puts the answer in
 * place.  Used for CAdES-B-B seals (detached, over a client's digest) and,
 * with encapsulated content, for RFC 3161 time-stamp tokens.
 */
#ifndef SD_CMS_H
#define SD_CMS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/x509.h>

enum cms_scheme { CMS_SCHEME_ECDSA = 1, CMS_SCHEME_PKCS1, CMS_SCHEME_PSS };

/*
 * Sign dglen bytes of digest (of the DER signed attributes, with the
 * seal's digest algorithm) into sig (cap bytes), setting *siglen: ECDSA as
 * a DER ECDSA-Sig-Value, RSA as the bare signature.  Returns 0 or an
 * SD_ERR_* that cms_seal returns unchanged.
 */
typedef int (*cms_sign_fn)(void *arg, const uint8_t *digest, size_t dglen,
    uint8_t *sig, size_t cap, size_t *siglen);

struct cms_signer {
	X509 *cert;             /* the signing key's certificate */
	STACK_OF(X509) * chain; /* more certificates to include, or NULL */
	EVP_PKEY *pub;          /* the signing key's public key */
	enum cms_scheme scheme; /* PSS: MGF1 with the same hash, salt = its
				   length */
	cms_sign_fn sign;
	void *arg;
	int no_certs; /* leave cert and chain out (RFC 3161 certReq false) */
};

struct cms_content {
	int md_nid;            /* NID_sha256, NID_sha384 or NID_sha512 */
	const uint8_t *digest; /* of the content; exactly the md's length */
	size_t digest_len;
	/* Encapsulated content (an RFC 3161 TSTInfo) and its type, or NULL
	 * for a detached signature over id-data content. */
	const uint8_t *econtent;
	size_t econtent_len;
	int econtent_nid;
	/* signing-time attribute; < 0 leaves it out (time-stamp tokens
	 * carry their time in the TSTInfo) */
	time_t signing_time;
	/* CAdES-B-T, or NULL: called with the signature value once it is
	 * made, it sets *tok to a DER TimeStampToken over it (in a buffer
	 * of its own, toklen bytes), which goes in as the unsigned
	 * attribute id-aa-signatureTimeStampToken (RFC 5126 6.1.1, ETSI
	 * EN 319 122-1 5.3).  0 or an SD_ERR_* that cms_seal returns. */
	int (*stamp)(void *arg, const uint8_t *sigval, size_t len,
	    const uint8_t **tok, size_t *toklen);
	void *stamp_arg;
};

/*
 * Build a SignedData with one signer: signed attributes content-type,
 * message-digest, signing-time (unless left out) and ESS
 * signing-certificate-v2 (RFC 5035: cert's hash with md_nid, and its
 * issuer and serial), the certificates
 * cert and chain, signed through s->sign, then time-stamped through
 * c->stamp when it is set.  Writes its DER ContentInfo
 * into out (cap bytes) and sets *outlen.  Returns 0, SD_ERR_TOO_LARGE
 * when it does not fit, the callback's error, or SD_ERR_INTERNAL.
 */
int cms_seal(const struct cms_signer *s, const struct cms_content *c,
    uint8_t *out, size_t cap, size_t *outlen)
    __attribute__((warn_unused_result));

/* RSASSA-PSS-params (RFC 4055) for md: MGF1 with md, salt = md's length;
 * the DER as an ASN1_STRING for X509_ALGOR_set0 (the caller owns it), or
 * NULL.  Shared with the CSRs of csr.c. */
ASN1_STRING *cms_pss_params(const EVP_MD *md);

#endif
