/*
 * hsm_p11: internals shared by the files of hsm/ (never included outside
 * it): the PKCS#11 headers and the key and pool structs.
 */
#ifndef SD_HSM_P11_H
#define SD_HSM_P11_H

#include <pthread.h>

#include <p11-kit/pkcs11.h>

#include "hsm.h"
#include "sd_limits.h"

struct hsm_key {
	char label[SD_LABEL_MAX];
	CK_OBJECT_HANDLE handle; /* guarded by hsm.lock */
	unsigned long gen;       /* hsm.gen when handle was found */
	int is_ec;
	unsigned int bits;
	EVP_PKEY *pub;
	struct hsm_key *next;
};

/* Read the public key of the private key object priv into an EVP_PKEY
 * (from the public key object with the same CKA_ID, or the same label).
 * Returns NULL with a reason in errbuf. */
EVP_PKEY *hsm_pubkey_load(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s,
    CK_OBJECT_HANDLE priv, CK_KEY_TYPE type, const char *label, char *errbuf,
    size_t errlen);

#endif
