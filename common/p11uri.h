/*
 * p11uri: RFC 7512 `pkcs11:` URIs, the standard names of tokens and
 * keys that OpenSSL, p11-kit, GnuTLS and p11tool print.  seald takes the
 * token's (pkcs11.token_label) and a key's (a policy key's label) as
 * either a bare label or such a URI.  Only the attributes that name a
 * token or a key are taken; any other (library-*, slot-*, a query such as
 * pin-value or module-path: seald's config says those) is refused by
 * name, as is an attribute given twice.  Values are percent-decoded
 * (RFC 3986) and may not hold NUL.  Pure: no PKCS#11 header needed.
 */
#ifndef SD_P11URI_H
#define SD_P11URI_H

#include <stddef.h>
#include <stdint.h>

#include "sd_limits.h"

enum p11uri_attr {
	P11URI_TOKEN = 1 << 0,        /* token= (the token's label) */
	P11URI_MANUFACTURER = 1 << 1, /* manufacturer= */
	P11URI_SERIAL = 1 << 2,       /* serial= */
	P11URI_MODEL = 1 << 3,        /* model= */
	P11URI_OBJECT = 1 << 4,       /* object= (a key's label) */
	P11URI_ID = 1 << 5,           /* id= (CKA_ID, bytes) */
	P11URI_TYPE = 1 << 6          /* type= (private, public, cert, ...) */
};
#define P11URI_TOKEN_ATTRS \
	(P11URI_TOKEN | P11URI_MANUFACTURER | P11URI_SERIAL | P11URI_MODEL)

struct p11uri {
	unsigned int has; /* enum p11uri_attr bits: what the URI names */
	char token[33];   /* CK_TOKEN_INFO's field lengths, NUL-ended */
	char manufacturer[33];
	char serial[17];
	char model[17];
	char object[SD_LABEL_MAX];
	uint8_t id[SD_KEY_ID_MAX];
	size_t id_len;
	char type[16];
};

/* 1 when s is meant as a URI (begins with "pkcs11:"), else 0: a label. */
int p11uri_is(const char *s);

/* Parse s into u: 0, or -1 with the reason in err. */
int p11uri_parse(const char *s, struct p11uri *u, char *err, size_t errlen);

/* A CK_TOKEN_INFO text field (blank-padded, not NUL-ended, n bytes) and
 * the URI's value for it: 1 when they are the same text. */
int p11uri_field_is(const unsigned char *field, size_t n, const char *want);

#endif
