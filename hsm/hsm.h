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

#include <openssl/evp.h>

struct hsm;
struct hsm_key;

enum hsm_scheme {
	HSM_ECDSA = 1,     /* DER-encoded ECDSA-Sig-Value */
	HSM_RSA_PKCS1 = 2, /* RSASSA-PKCS1-v1_5 over DigestInfo */
	HSM_RSA_PSS = 3,   /* RSASSA-PSS, MGF1(same hash), salt = hash length */
};

enum hsm_digest { HSM_SHA256 = 1, HSM_SHA384 = 2, HSM_SHA512 = 3 };

/*
 * Load the module (absolute path), find the token whose label is
 * token_label, open `sessions` sessions and log in with the PIN read from
 * pin_file (mode checked; the PIN is wiped right after C_Login).  Returns
 * NULL on failure with a reason in errbuf (never the PIN).
 */
struct hsm *hsm_open(const char *module, const char *token_label,
    const char *pin_file, unsigned int sessions, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));

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

/* 1 for EC keys, 0 for RSA keys. */
int hsm_key_is_ec(const struct hsm_key *k);

/* Bits of the modulus (RSA) or of the curve order (EC). */
unsigned int hsm_key_bits(const struct hsm_key *k);

/* Digest length in bytes for an algorithm (32, 48, 64). */
size_t hsm_digest_len(enum hsm_digest alg);

/*
 * Sign dglen bytes of digest (which must be exactly hsm_digest_len(alg))
 * with key k under scheme, into sig (cap bytes); *siglen gets the length.
 * Waits at most a few seconds for a free session.  Returns 0,
 * SD_ERR_BAD_REQUEST (digest length, scheme not for this key type),
 * SD_ERR_HSM (token, session or module failure; the pool recovers on a
 * later call) or SD_ERR_INTERNAL.  Thread-safe.
 */
int hsm_sign(struct hsm *h, struct hsm_key *k, enum hsm_scheme scheme,
    enum hsm_digest alg, const uint8_t *digest, size_t dglen, uint8_t *sig,
    size_t cap, size_t *siglen) __attribute__((warn_unused_result));

/* 1 when the token is logged in and a session works; never waits for a
 * session (all busy counts as working). */
int hsm_ready(struct hsm *h);

#endif
