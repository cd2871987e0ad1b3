/*
 * csr: PKCS#10 certificate requests (RFC 2986) for keys that live in the
 * HSM.  As in cms.h, OpenSSL builds the structure and the signature comes
 * from a callback, so no private key ever exists in this process; the
 * request is checked against the key's public key before it leaves, so a
 * CA never receives a request that does not verify.  The subject is given
 * as `openssl req -utf8 -subj` takes it, so operators can reuse what they
 * already write.
 */
#ifndef SD_CSR_H
#define SD_CSR_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "cms.h"
#include "sd_limits.h"

/* Bounds: SD_CSR_SUBJECT_MAX, SD_CSR_SUBJECT_ATTRS_MAX, SD_CSR_PEM_MAX (sd_limits.h) */

enum csr_usage { CSR_USAGE_SEAL = 1, CSR_USAGE_TSA = 2 };

struct csr_req {
	/* "/C=BE/O=Example/CN=Seal 2026"; see csr_subject_parse */
	const char *subject;
	/* SEAL: keyUsage critical digitalSignature, nonRepudiation.
	 * TSA: keyUsage critical digitalSignature and extendedKeyUsage
	 * critical timeStamping (RFC 3161 2.3). */
	enum csr_usage usage;
	EVP_PKEY *pub; /* the key's public key (EC or RSA); not taken */
	int md_nid;    /* NID_sha256, NID_sha384 or NID_sha512 */
	/* ECDSA for an EC key; PKCS1 or PSS for an RSA key.  PSS: MGF1 with
	 * the same hash, salt = its length, parameters as RFC 4055 writes. */
	enum cms_scheme scheme;
	cms_sign_fn sign; /* signs the digest of the CertificationRequestInfo */
	void *arg;
};

/*
 * Parse a subject in the `openssl req -utf8 -subj` form into *out (a new
 * X509_NAME, the caller frees it), strictly: a leading '/', then
 * TYPE=VALUE pairs separated by '/'; TYPE a short or long name of a
 * distinguished-name attribute ("CN", "commonName", "organizationIdentifier";
 * not dotted OIDs); VALUE non-empty UTF-8 without control characters
 * (C0, DEL, C1), ending at the next bare '/', in which '\' escapes '/',
 * '\', '=' and '+' and a bare '=' or '+' is refused (openssl reads a bare
 * '+' as a multi-valued RDN, which seald does not write).  At most SD_CSR_SUBJECT_MAX bytes and SD_CSR_SUBJECT_ATTRS_MAX
 * pairs; values must also fit their attribute (C is two printable letters,
 * CN at most 64 characters...).  Returns 0, or -1 with *out NULL and the
 * reason in errbuf (errlen bytes, may be NULL/0).
 */
int csr_subject_parse(const char *s, X509_NAME **out, char *errbuf,
    size_t errlen) __attribute__((warn_unused_result));

/*
 * Build the request: version 1, the subject, r->pub, the usage
 * extensions in an extensionRequest attribute, the signature algorithm
 * for r->scheme and r->md_nid; the DER CertificationRequestInfo is hashed
 * with md_nid and signed through r->sign (once), then the DER request is
 * read back and verified with r->pub.  On success writes the request as
 * NUL-terminated PEM ("-----BEGIN CERTIFICATE REQUEST-----", under
 * SD_CSR_PEM_MAX bytes) to *pem (malloc'd, the caller frees it) and the
 * SHA-256 of its DER to der_hash, and returns 0.  Otherwise *pem is NULL
 * and it returns SD_ERR_BAD_REQUEST (the subject), the callback's error
 * unchanged, or SD_ERR_INTERNAL (a key, scheme or hash seald does not
 * pair, a signature that does not verify, OpenSSL failing), with the
 * reason in errbuf.
 */
int csr_build(const struct csr_req *r, char **pem, uint8_t der_hash[32],
    char *errbuf, size_t errlen) __attribute__((warn_unused_result));

#endif
