/*
 * csr: see csr.h.  The CertificationRequestInfo is encoded once, after its
 * last change, and those bytes are what the HSM signs; the DER handed out
 * is then parsed back and verified, so a wrong signature, algorithm or
 * encoding is caught here and not by the CA.  The subject parser is strict
 * on purpose: what an operator typed must mean the same to seald as to
 * `openssl req -utf8 -subj`, or be refused with a reason.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/buffer.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "csr.h"
#include "err.h"
#include "sd_limits.h"

#define TYPE_MAX 64 /* longer than any attribute name OpenSSL knows */

/*
 * The attribute types a subject may name.  OBJ_sn2nid knows every name
 * OpenSSL has (digests, extensions...): "/sha256=x" is a typo that a CA
 * would refuse later, or worse, accept.
 */
static const int name_nids[] = {
	NID_countryName,
	NID_stateOrProvinceName,
	NID_localityName,
	NID_streetAddress,
	NID_postalCode,
	NID_organizationName,
	NID_organizationalUnitName,
	NID_organizationIdentifier, /* eIDAS seals: "VATBE-0123456789" */
	NID_commonName,
	NID_serialNumber,
	NID_givenName,
	NID_surname,
	NID_initials,
	NID_generationQualifier,
	NID_pseudonym,
	NID_title,
	NID_name,
	NID_description,
	NID_businessCategory,
	NID_dnQualifier,
	NID_domainComponent,
	NID_userId,
	NID_pkcs9_emailAddress,
	NID_jurisdictionCountryName,
	NID_jurisdictionStateOrProvinceName,
	NID_jurisdictionLocalityName,
};

static int seterr(char *errbuf, size_t errlen, int r, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Write the reason into errbuf (if any) and return r. */
static int
seterr(char *errbuf, size_t errlen, int r, const char *fmt, ...)
{
	va_list ap;

	if (errbuf != NULL && errlen > 0) {
		va_start(ap, fmt);
		(void)vsnprintf(errbuf, errlen, fmt, ap);
		va_end(ap);
	}
	return r;
}

/*
 * Decode the UTF-8 character at p (avail > 0 bytes) into *cp; returns its
 * length, or 0 when it is not well-formed (overlong, surrogate, beyond
 * U+10FFFF, truncated).
 */
static size_t
utf8_decode(const unsigned char *p, size_t avail, uint32_t *cp)
{
	uint32_t c;
	size_t n, i;

	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
		c = p[0] & 0x1f;
	} else if ((p[0] & 0xf0) == 0xe0) {
		n = 3;
		c = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		c = p[0] & 0x07;
	} else
		return 0;
	if (avail < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (p[i] & 0x3f);
	}
	/* 0xc2 above already rules out overlong two-byte forms */
	if ((n == 3 && c < 0x800) || (n == 4 && c < 0x10000) || c > 0x10ffff ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

/* Refuse anything but well-formed UTF-8 without C0, DEL or C1 controls. */
static int
check_text(const char *s, size_t len, char *errbuf, size_t errlen)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t c;
	size_t off, n;

	for (off = 0; off < len; off += n) {
		if ((n = utf8_decode(p + off, len - off, &c)) == 0)
			return seterr(errbuf, errlen, -1,
			    "subject: invalid UTF-8 at byte %zu", off);
		if (c < 0x20 || (c >= 0x7f && c <= 0x9f))
			return seterr(errbuf, errlen, -1,
			    "subject: control character at byte %zu", off);
	}
	return 0;
}

/* The NID of a distinguished-name attribute called type, or NID_undef. */
static int
name_nid(const char *type)
{
	int nid = OBJ_sn2nid(type);
	size_t i;

	if (nid == NID_undef)
		nid = OBJ_ln2nid(type);
	for (i = 0; i < sizeof(name_nids) / sizeof(name_nids[0]); i++)
		if (name_nids[i] == nid)
			return nid;
	return NID_undef;
}

/* TYPE at s[*off] up to its '='; sets *nid and *off past the '='. */
static int
parse_type(const char *s, size_t len, size_t *off, int *nid, char *errbuf,
    size_t errlen)
{
	char type[TYPE_MAX];
	size_t start = *off, n;

	for (n = 0; start + n < len && s[start + n] != '=' &&
	     s[start + n] != '/' && s[start + n] != '\\';
	     n++)
		;
	if (n == 0)
		return seterr(errbuf, errlen, -1,
		    "subject: empty attribute type at byte %zu", start);
	if (start + n == len || s[start + n] != '=')
		return seterr(errbuf, errlen, -1,
		    "subject: no '=' after the type at byte %zu", start);
	if (n >= sizeof(type))
		return seterr(errbuf, errlen, -1,
		    "subject: unknown attribute type at byte %zu", start);
	memcpy(type, s + start, n);
	type[n] = '\0';
	if ((*nid = name_nid(type)) == NID_undef)
		return seterr(errbuf, errlen, -1,
		    "subject: unknown attribute type '%s'", type);
	*off = start + n + 1;
	return 0;
}

/*
 * VALUE at s[*off] up to the next unescaped '/' or the end, unescaped into
 * val (cap bytes, at least len); sets *vlen and *off at the '/' or end.
 */
static int
parse_value(const char *s, size_t len, size_t *off, char *val, size_t cap,
    size_t *vlen, char *errbuf, size_t errlen)
{
	size_t i = *off, n = 0;

	for (; i < len && s[i] != '/'; n++) {
		if (n == cap) /* not with cap >= the subject's length */
			return seterr(errbuf, errlen, -1,
			    "subject: value too long at byte %zu", i);
		if (s[i] == '=' || s[i] == '+')
			return seterr(errbuf, errlen, -1,
			    "subject: '%c' at byte %zu must be escaped as "
			    "'\\%c'",
			    s[i], i, s[i]);
		if (s[i] != '\\') {
			val[n] = s[i++];
			continue;
		}
		if (len - i < 2 || strchr("/\\=+", s[i + 1]) == NULL)
			return seterr(errbuf, errlen, -1,
			    "subject: '\\' at byte %zu escapes none of "
			    "/ \\ = +",
			    i);
		val[n] = s[i + 1];
		i += 2;
	}
	if (n == 0)
		return seterr(errbuf, errlen, -1,
		    "subject: empty value at byte %zu", *off);
	*vlen = n;
	*off = i;
	return 0;
}

int
csr_subject_parse(const char *s, X509_NAME **out, char *errbuf, size_t errlen)
{
	char val[SD_CSR_SUBJECT_MAX];
	X509_NAME *name = NULL;
	size_t len, off, vlen = 0, n;
	int nid = NID_undef;

	*out = NULL;
	if (s == NULL || *s == '\0')
		return seterr(errbuf, errlen, -1, "subject: empty");
	if ((len = strnlen(s, SD_CSR_SUBJECT_MAX + 1)) > SD_CSR_SUBJECT_MAX)
		return seterr(errbuf, errlen, -1,
		    "subject: longer than %d bytes", SD_CSR_SUBJECT_MAX);
	if (s[0] != '/')
		return seterr(
		    errbuf, errlen, -1, "subject: must start with '/'");
	if (check_text(s, len, errbuf, errlen) != 0)
		return -1;
	if ((name = X509_NAME_new()) == NULL)
		return seterr(errbuf, errlen, -1, "subject: out of memory");
	for (off = 1, n = 0; off <= len; off++, n++) {
		if (n == SD_CSR_SUBJECT_ATTRS_MAX) {
			(void)seterr(errbuf, errlen, -1,
			    "subject: more than %d attributes",
			    SD_CSR_SUBJECT_ATTRS_MAX);
			goto fail;
		}
		if (parse_type(s, len, &off, &nid, errbuf, errlen) != 0 ||
		    parse_value(s, len, &off, val, sizeof(val), &vlen, errbuf,
			errlen) != 0)
			goto fail;
		/* OpenSSL's string table checks the attribute's own rules:
		 * C is two PrintableString letters, CN 1 to 64 characters */
		if (X509_NAME_add_entry_by_NID(name, nid, MBSTRING_UTF8,
			(const unsigned char *)val, (int)vlen, -1, 0) != 1) {
			ERR_clear_error();
			(void)seterr(errbuf, errlen, -1,
			    "subject: value not allowed for %s (length or "
			    "characters)",
			    OBJ_nid2sn(nid));
			goto fail;
		}
	}
	*out = name;
	return 0;
fail:
	X509_NAME_free(name);
	return -1;
}

/* Fill md, or refuse a key, scheme and hash seald does not pair. */
static int
check_req(
    const struct csr_req *r, const EVP_MD **md, char *errbuf, size_t errlen)
{
	int ec;

	if (r->usage != CSR_USAGE_SEAL && r->usage != CSR_USAGE_TSA)
		return seterr(errbuf, errlen, SD_ERR_INTERNAL,
		    "csr: unknown usage %d", (int)r->usage);
	if ((r->md_nid != NID_sha256 && r->md_nid != NID_sha384 &&
		r->md_nid != NID_sha512) ||
	    (*md = EVP_get_digestbynid(r->md_nid)) == NULL)
		return seterr(errbuf, errlen, SD_ERR_INTERNAL,
		    "csr: hash %d is not SHA-256, -384 or -512", r->md_nid);
	if (r->pub == NULL || r->sign == NULL)
		return seterr(errbuf, errlen, SD_ERR_INTERNAL,
		    "csr: no public key or no signer");
	ec = EVP_PKEY_is_a(r->pub, "EC");
	if (ec ? r->scheme != CMS_SCHEME_ECDSA
	       : (!EVP_PKEY_is_a(r->pub, "RSA") ||
		     (r->scheme != CMS_SCHEME_PKCS1 &&
			 r->scheme != CMS_SCHEME_PSS)))
		return seterr(errbuf, errlen, SD_ERR_INTERNAL,
		    "csr: scheme %d does not fit a %s key", (int)r->scheme,
		    EVP_PKEY_get0_type_name(r->pub));
	return 0;
}

/*
 * keyUsage, and for a TSA extendedKeyUsage timeStamping, both critical
 * (RFC 3161 2.3 requires the EKU critical and alone), in an
 * extensionRequest attribute.
 */
static int
add_usage(X509_REQ *req, enum csr_usage usage)
{
	STACK_OF(X509_EXTENSION) *exts = NULL;
	ASN1_BIT_STRING *ku = ASN1_BIT_STRING_new();
	EXTENDED_KEY_USAGE *eku = NULL;
	int ok;

	/* bit 0 digitalSignature, bit 1 nonRepudiation (contentCommitment) */
	ok = ku != NULL && ASN1_BIT_STRING_set_bit(ku, 0, 1) == 1 &&
	    (usage != CSR_USAGE_SEAL ||
		ASN1_BIT_STRING_set_bit(ku, 1, 1) == 1) &&
	    X509V3_add1_i2d(&exts, NID_key_usage, ku, 1, X509V3_ADD_DEFAULT) ==
		1;
	if (ok && usage == CSR_USAGE_TSA)
		ok = (eku = sk_ASN1_OBJECT_new_null()) != NULL &&
		    sk_ASN1_OBJECT_push(eku, OBJ_nid2obj(NID_time_stamp)) > 0 &&
		    X509V3_add1_i2d(&exts, NID_ext_key_usage, eku, 1,
			X509V3_ADD_DEFAULT) == 1;
	ok = ok && X509_REQ_add_extensions(req, exts) == 1;
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	sk_ASN1_OBJECT_free(eku); /* OBJ_nid2obj's object is built in */
	ASN1_BIT_STRING_free(ku);
	return ok ? 0 : SD_ERR_INTERNAL;
}

/*
 * The signatureAlgorithm: ecdsa-with-SHA* with parameters absent (RFC
 * 5758 3.2), sha*WithRSAEncryption with NULL parameters (RFC 4055 5), or
 * rsassaPss with its parameters.
 */
static int
set_sig_alg(X509_REQ *req, enum cms_scheme scheme, const EVP_MD *md)
{
	X509_ALGOR *a = X509_ALGOR_new();
	ASN1_STRING *params = NULL;
	int nid, ok = 0;

	if (a == NULL)
		return SD_ERR_INTERNAL;
	if (scheme == CMS_SCHEME_PSS) {
		if ((params = cms_pss_params(md)) != NULL &&
		    X509_ALGOR_set0(a, OBJ_nid2obj(NID_rsassaPss),
			V_ASN1_SEQUENCE, params) == 1)
			params = NULL; /* owned by a now */
		else
			goto out;
	} else if (OBJ_find_sigid_by_algs(&nid, EVP_MD_get_type(md),
		       scheme == CMS_SCHEME_ECDSA ? NID_X9_62_id_ecPublicKey
						  : NID_rsaEncryption) != 1 ||
	    X509_ALGOR_set0(a, OBJ_nid2obj(nid),
		scheme == CMS_SCHEME_ECDSA ? V_ASN1_UNDEF : V_ASN1_NULL,
		NULL) != 1)
		goto out;
	ok = X509_REQ_set1_signature_algo(req, a) == 1; /* copies a */
out:
	ASN1_STRING_free(params);
	X509_ALGOR_free(a);
	return ok ? 0 : SD_ERR_INTERNAL;
}

/* An unsigned request: version 1, name, r->pub, the usage extensions. */
static int
make_info(const struct csr_req *r, const X509_NAME *name, X509_REQ **out)
{
	X509_REQ *req = X509_REQ_new();

	*out = NULL;
	if (req == NULL || X509_REQ_set_version(req, X509_REQ_VERSION_1) != 1 ||
	    X509_REQ_set_subject_name(req, name) != 1 ||
	    X509_REQ_set_pubkey(req, r->pub) != 1 ||
	    add_usage(req, r->usage) != 0) {
		X509_REQ_free(req);
		return SD_ERR_INTERNAL;
	}
	*out = req;
	return 0;
}

/* Hash the CertificationRequestInfo and have r->sign sign it. */
static int
sign_info(const struct csr_req *r, const EVP_MD *md, X509_REQ *req,
    char *errbuf, size_t errlen)
{
	uint8_t dg[EVP_MAX_MD_SIZE], sig[SD_SIG_MAX];
	unsigned char *tbs = NULL;
	unsigned int dglen;
	size_t siglen = 0;
	ASN1_BIT_STRING *bs;
	int n, ok, rc;

	if (set_sig_alg(req, r->scheme, md) != 0)
		return seterr(errbuf, errlen, SD_ERR_INTERNAL,
		    "csr: cannot encode the signature algorithm");
	/* OpenSSL signs a cached encoding of the info once it has one; the
	 * _re_ form marks it modified so these are the bytes of now */
	if ((n = i2d_re_X509_REQ_tbs(req, &tbs)) <= 0)
		return seterr(errbuf, errlen, SD_ERR_INTERNAL,
		    "csr: cannot encode the request info");
	ok = EVP_Digest(tbs, (size_t)n, dg, &dglen, md, NULL) == 1;
	OPENSSL_free(tbs);
	if (!ok)
		return seterr(errbuf, errlen, SD_ERR_INTERNAL, "csr: digest");
	if ((rc = r->sign(r->arg, dg, dglen, sig, sizeof(sig), &siglen)) != 0)
		return seterr(
		    errbuf, errlen, rc, "csr: signing failed: %s", sd_err(rc));
	if (siglen == 0 || siglen > sizeof(sig))
		return seterr(errbuf, errlen, SD_ERR_INTERNAL,
		    "csr: the signer returned %zu bytes", siglen);
	if ((bs = ASN1_BIT_STRING_new()) == NULL ||
	    ASN1_BIT_STRING_set(bs, sig, (int)siglen) != 1) {
		ASN1_BIT_STRING_free(bs);
		return seterr(errbuf, errlen, SD_ERR_INTERNAL, "csr: memory");
	}
	/* whole bytes: without BITS_LEFT, i2d treats the string as named
	 * bits, counts trailing zero bits as unused (which verifiers
	 * refuse) and drops trailing zero bytes */
	bs->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
	bs->flags |= ASN1_STRING_FLAG_BITS_LEFT;
	X509_REQ_set0_signature(req, bs);
	return 0;
}

/* Check the DER as a CA will read it, then hash it and write the PEM. */
static int
finish(const struct csr_req *r, X509_REQ *req, char **pem, uint8_t der_hash[32],
    char *errbuf, size_t errlen)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	X509_REQ *back = NULL;
	BIO *bio = NULL;
	BUF_MEM *bm = NULL;
	int n, rc = SD_ERR_INTERNAL;

	if ((n = i2d_X509_REQ(req, &der)) <= 0) {
		(void)seterr(errbuf, errlen, rc, "csr: cannot encode");
		goto out;
	}
	p = der;
	if ((back = d2i_X509_REQ(NULL, &p, n)) == NULL || p != der + n ||
	    X509_REQ_get0_pubkey(back) == NULL ||
	    EVP_PKEY_eq(X509_REQ_get0_pubkey(back), r->pub) != 1 ||
	    X509_REQ_verify(back, r->pub) != 1) {
		(void)seterr(errbuf, errlen, rc,
		    "csr: the signed request does not verify with the key");
		goto out;
	}
	if (EVP_Digest(der, (size_t)n, der_hash, NULL, EVP_sha256(), NULL) !=
		1 ||
	    (bio = BIO_new(BIO_s_mem())) == NULL ||
	    PEM_write_bio(bio, PEM_STRING_X509_REQ, "", der, n) <= 0 ||
	    BIO_get_mem_ptr(bio, &bm) != 1 || bm == NULL) {
		(void)seterr(errbuf, errlen, rc, "csr: cannot write PEM");
		goto out;
	}
	if (bm->length >= SD_CSR_PEM_MAX) {
		(void)seterr(
		    errbuf, errlen, rc, "csr: PEM of %zu bytes", bm->length);
		goto out;
	}
	if ((*pem = malloc(bm->length + 1)) == NULL) {
		(void)seterr(errbuf, errlen, rc, "csr: out of memory");
		goto out;
	}
	memcpy(*pem, bm->data, bm->length);
	(*pem)[bm->length] = '\0';
	rc = 0;
out:
	if (rc != 0)
		ERR_clear_error(); /* d2i and verify leave their reasons */
	BIO_free(bio);
	X509_REQ_free(back);
	OPENSSL_free(der);
	return rc;
}

int
csr_build(const struct csr_req *r, char **pem, uint8_t der_hash[32],
    char *errbuf, size_t errlen)
{
	const EVP_MD *md = NULL;
	X509_NAME *name = NULL;
	X509_REQ *req = NULL;
	int rc;

	*pem = NULL;
	(void)seterr(errbuf, errlen, 0, "%s", "");
	if ((rc = check_req(r, &md, errbuf, errlen)) != 0)
		return rc;
	if (csr_subject_parse(r->subject, &name, errbuf, errlen) != 0)
		return SD_ERR_BAD_REQUEST;
	if ((rc = make_info(r, name, &req)) != 0) {
		(void)seterr(
		    errbuf, errlen, rc, "csr: cannot build the request");
		goto out;
	}
	if ((rc = sign_info(r, md, req, errbuf, errlen)) != 0 ||
	    (rc = finish(r, req, pem, der_hash, errbuf, errlen)) != 0)
		goto out;
out:
	X509_REQ_free(req);
	X509_NAME_free(name);
	return rc;
}
