/*
 * softkey: a software key and self-signed certificate standing in for
 * the HSM in the evidence tests (cms, tsa): the modules under test only
 * ever see the signing callback, as in seald.
 */
#ifndef SD_SOFTKEY_H
#define SD_SOFTKEY_H

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "cms.h"

struct soft {
	EVP_PKEY *key;
	X509 *cert;
	enum cms_scheme scheme;
	int calls; /* signatures asked for */
	int fail;  /* the callback's answer when not 0 */
};

/* A cms_sign_fn over struct soft. */
int soft_sign(void *arg, const uint8_t *dg, size_t dglen, uint8_t *sig,
    size_t cap, size_t *siglen);

/* A key of type ("EC" with param "P-256", or "RSA" with bits) and a
 * certificate for it (CN test), with extended key usage eku (the
 * OpenSSL config text, e.g. "critical,timeStamping") unless NULL. */
void make_soft(struct soft *s, const char *type, const char *param, size_t bits,
    enum cms_scheme scheme, const char *eku);
void free_soft(struct soft *s);

/* The cms_signer that signs with s. */
struct cms_signer signer_of(struct soft *s);

#endif
