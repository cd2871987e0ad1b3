/*
 * hsm: everything seald does with the PKCS#11 token.  It loads the module,
 * finds the token by label, logs in as user, finds private keys by label
 * (with a search template, so objects of any other kind on the token are
 * never looked at), and signs client digests with a pool of sessions so
 * that concurrent requests sign in parallel.  Keys never leave the token:
 * only handles and public keys exist outside it.  After a session or
 * token error the pool re-opens sessions, logs in again (re-reading the PIN
 * file) and re-finds keys on the next request, without a restart.
 *
 * This is the only module that includes PKCS#11 headers.
 */
#ifndef SD_HSM_H
#define SD_HSM_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>

#include "p11uri.h"

struct hsm;
struct hsm_key;

enum hsm_scheme {
	HSM_ECDSA = 1,     /* DER-encoded ECDSA-Sig-Value */
	HSM_RSA_PKCS1 = 2, /* RSASSA-PKCS1-v1_5 over DigestInfo */
	HSM_RSA_PSS = 3,   /* RSASSA-PSS, MGF1(same hash), salt = hash length */
};

enum hsm_digest { HSM_SHA256 = 1, HSM_SHA384 = 2, HSM_SHA512 = 3 };

/*
 * Load the module (absolute path) and initialize it, with init_args
 * (NULL or "": none) as C_Initialize's pReserved, the string some modules
 * take their settings from (NSS softokn: its configdir); find the token
 * whose label is token_label, open `sessions` sessions and log in with
 * the PIN read from pin_file (mode checked; the PIN is wiped right after
 * C_Login).  Returns NULL on failure with a reason in errbuf (never the
 * PIN).
 */
struct hsm *hsm_open(const char *module, const char *init_args,
    const char *token_label, const char *pin_file, unsigned int sessions,
    char *errbuf, size_t errlen) __attribute__((warn_unused_result));

/* Log out, close sessions, finalize the module.  NULL is accepted. */
void hsm_close(struct hsm *h);

/*
 * Find the private key with CKA_LABEL label (exactly one must exist, it must
 * be an EC or RSA key allowed to sign, sensitive and not extractable) and
 * its public key (the public key object with the same CKA_ID or label).
 * The returned key belongs to h and lives until hsm_close; asking again
 * for a label found before returns the same key.  Returns NULL
 * with a reason in errbuf.
 */
struct hsm_key *hsm_key_find(struct hsm *h, const char *label, char *errbuf,
    size_t errlen) __attribute__((warn_unused_result));

/* The key's public key (owned by the key; do not free). */
EVP_PKEY *hsm_key_public(const struct hsm_key *k);

/* 1 when the token made the key and it was never anything but secret
 * (CKA_LOCAL, CKA_ALWAYS_SENSITIVE, CKA_NEVER_EXTRACTABLE): true of keys
 * hsm_generate made, false of an imported key. */
int hsm_key_born_here(const struct hsm_key *k);

/* 1 for EC keys, 0 for RSA keys. */
int hsm_key_is_ec(const struct hsm_key *k);

/* Bits of the modulus (RSA) or of the curve order (EC). */
unsigned int hsm_key_bits(const struct hsm_key *k);

/* Digest length in bytes for an algorithm (32, 48, 64). */
size_t hsm_digest_len(enum hsm_digest alg);

/*
 * Sign dglen bytes of digest (which must be exactly hsm_digest_len(alg))
 * with key k under scheme, into sig (cap bytes); *siglen gets the length.
 * Waits at most 5 s for a free session.  Returns 0,
 * SD_ERR_BAD_REQUEST (digest length, scheme not for this key type),
 * SD_ERR_HSM (token, session or module failure, or no session free in
 * time; the pool recovers on a later call) or SD_ERR_INTERNAL.
 * Thread-safe.
 */
int hsm_sign(struct hsm *h, struct hsm_key *k, enum hsm_scheme scheme,
    enum hsm_digest alg, const uint8_t *digest, size_t dglen, uint8_t *sig,
    size_t cap, size_t *siglen) __attribute__((warn_unused_result));

/* hsm_sign waiting for a session until a CLOCK_MONOTONIC time instead
 * (NULL: 5 s from now): a request's deadline, which counts the time it
 * already waited for a worker. */
int hsm_sign_by(struct hsm *h, const struct timespec *until, struct hsm_key *k,
    enum hsm_scheme scheme, enum hsm_digest alg, const uint8_t *digest,
    size_t dglen, uint8_t *sig, size_t cap, size_t *siglen)
    __attribute__((warn_unused_result));

/* 0 when the token offers the mechanism of scheme for signing
 * (C_GetMechanismInfo: CKM_ECDSA, CKM_RSA_PKCS or CKM_RSA_PKCS_PSS with
 * CKF_SIGN), else SD_ERR_CONFIG naming it in errbuf: a key whose scheme
 * the token cannot do is refused at load, not at each request. */
int hsm_can_sign(
    struct hsm *h, enum hsm_scheme scheme, char *errbuf, size_t errlen);

/* 1 when the token is logged in and a session works; never waits for a
 * session (all busy counts as working). */
int hsm_ready(struct hsm *h);

/* ------------------------------------------------------- key generation */
/* hsm_keygen.c: new key pairs made inside the token, never outside it. */

enum hsm_keyalg {
	HSM_ALG_EC_P256 = 1,
	HSM_ALG_EC_P384,
	HSM_ALG_RSA_2048,
	HSM_ALG_RSA_3072,
	HSM_ALG_RSA_4096
};

#define HSM_KEY_ID_LEN 16 /* bytes of the random CKA_ID of a new key */

/* "ec-p256", "ec-p384", "rsa-2048", "rsa-3072", "rsa-4096" -> the enum;
 * -1 for an unknown name. */
int hsm_keyalg_from(const char *name);

/* And back: a static string, or NULL for a value outside the enum. */
const char *hsm_keyalg_name(enum hsm_keyalg alg);

/*
 * Generate a key pair of algorithm alg inside the token, on a read-write
 * session of its own (opened and closed here; the login of the pool
 * covers it).  label becomes the CKA_LABEL of both halves: 1 to
 * SD_LABEL_MAX - 1 bytes of printable ASCII (0x20-0x7e), used by no object
 * of any class on the token yet, nor by a key found earlier by this
 * struct hsm.  A fresh random CKA_ID of HSM_KEY_ID_LEN bytes (RAND_bytes)
 * is set on both halves and written to id.
 *
 * Private key: CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE, CKA_SIGN true;
 * CKA_EXTRACTABLE, CKA_DECRYPT, CKA_UNWRAP, CKA_DERIVE false; CKA_MODIFIABLE
 * false unless the token refuses that attribute.  Public key: CKA_TOKEN and
 * CKA_VERIFY true, CKA_PRIVATE, CKA_ENCRYPT, CKA_WRAP false; the curve's
 * OID (prime256v1, secp384r1) or the modulus size with exponent 65537.
 * The attributes are read back after generation: a token that ignored any
 * of them gets its new key destroyed.
 *
 * Returns the key as hsm_key_find(h, label, ...) finds it (sensitive, not
 * extractable, public key loaded, test signature verified); it belongs to
 * h.  If anything after C_GenerateKeyPair fails, both new objects are
 * destroyed, so no half-made key stays on the token.  Returns NULL with a
 * reason in errbuf (never a PIN); *err_code (err_code may be NULL) gets
 * 0, SD_ERR_BAD_REQUEST (bad label or algorithm), SD_ERR_CONFLICT (label
 * taken) or SD_ERR_HSM (anything else).  Thread-safe; generations are
 * serialized.
 */
struct hsm_key *hsm_generate(struct hsm *h, enum hsm_keyalg alg,
    const char *label, uint8_t id[HSM_KEY_ID_LEN], int *err_code, char *errbuf,
    size_t errlen) __attribute__((warn_unused_result));

/* The key's CKA_ID as found: copies up to cap bytes to out and returns how
 * many it copied; 0 when the key has none (or one over 256 bytes). */
size_t hsm_key_id(const struct hsm_key *k, uint8_t *out, size_t cap);

/* 1 when the token seald uses is the one u names (each of its token,
 * manufacturer, serial and model attributes that u has). */
int hsm_token_is(const struct hsm *h, const struct p11uri *u);

/*
 * Destroy the key found by label before (hsm_key_find, hsm_generate): the
 * token's objects with its label and CKA_ID, nothing else; and forget it
 * (hsm_key_find looks in the token again).  Handles to it stay allocated
 * until hsm_close and fail to sign.  Returns 0, SD_ERR_BAD_REQUEST
 * (label) or SD_ERR_HSM (not found before, or the token refused).
 */
int hsm_key_destroy(struct hsm *h, const char *label)
    __attribute__((warn_unused_result));

/*
 * Whether the token lets anyone read the private key's value: asks
 * C_GetAttributeValue for CKA_VALUE, CKA_PRIVATE_EXPONENT and the RSA CRT
 * values of the one private key labelled label.  Returns 1 if the token
 * handed out any bytes of them (must never happen), 0 if it refused them
 * all, -1 on error (no such key, token failure).  Used by tests and by
 * seald's self-checks.
 */
int hsm_key_value_readable(struct hsm *h, const char *label)
    __attribute__((warn_unused_result));

#define HSM_DATA_MAX 4096 /* bytes of one data object's value */

/*
 * A data object of seald's in the token (CKO_DATA, private, token,
 * CKA_APPLICATION "seald"), by label: put makes a new one with val, then
 * destroys the older ones of the label (a crash between leaves both).
 * Returns 0, SD_ERR_UNSUPPORTED when the token keeps no such objects,
 * SD_ERR_CONFLICT when the new one was made but an older one could not be
 * destroyed, or SD_ERR_HSM.  get calls each() with the value of every such object
 * (at most 8; values over HSM_DATA_MAX skipped); 0 or SD_ERR_HSM.
 */
int hsm_data_put(struct hsm *h, const char *label, const void *val, size_t len)
    __attribute__((warn_unused_result));
int hsm_data_get(struct hsm *h, const char *label,
    void (*each)(void *arg, const void *val, size_t len), void *arg)
    __attribute__((warn_unused_result));

#endif
