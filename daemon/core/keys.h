/*
 * keys: the signing keys seald serves, joined from the policy (name,
 * version, scheme, certificate file) and the HSM (handle, public key).
 * Built with each policy (pstate.h); read-only afterwards, so shared
 * without locks.
 */
#ifndef SD_KEYS_H
#define SD_KEYS_H

#include <openssl/x509.h>

#include "hsm.h"
#include "ledger_keys.h"
#include "policy.h"
#include "sign_req.h"

struct sd_key {
	const struct policy_key *pk;
	char label[SD_LABEL_MAX]; /* the private key's CKA_LABEL */
	int64_t version;          /* the policy's, or the keys table's */
	struct hsm_key *hk;
	enum hsm_scheme scheme;
	char key_alg[32];       /* "ec-p256", "rsa-3072" */
	char *public_pem;       /* SubjectPublicKeyInfo, PEM */
	char *cert_pem;         /* certificate (chain) PEM, or NULL */
	X509 *cert;             /* the leaf of cert_pem, or NULL */
	STACK_OF(X509) * chain; /* the rest of cert_pem (maybe empty) */
};

/* the states of the keys table, for the metrics */
enum {
	KEYS_PENDING,
	KEYS_ACTIVE,
	KEYS_RETIRED,
	KEYS_DISABLED,
	KEYS_DESTROYED,
	KEYS_NSTATES
};

struct sd_keys {
	size_t n;
	struct sd_key *k;
	/* versions per state in the keys table when it was read (with the
	 * policy's managed keys); have_states 0 when it was not */
	int have_states;
	size_t states[KEYS_NSTATES];
};

/* "pending", "active", ... of a KEYS_* state. */
extern const char *const keys_state_names[KEYS_NSTATES];

/*
 * Find every key of the policy in the HSM, check its algorithm against the
 * policy's, load its certificate and check that the certificate's public
 * key is the HSM key's.  A managed key (policy managed: true) is the
 * active version among rows (the keys table): its label, version, public
 * key and certificate come from there; one with no active version yet is
 * left out (a warning), so it answers as an unknown key.  A key that offers format cms or usage timestamp
 * needs a certificate whose DER (with the chain) is at most
 * SD_SEAL_CERTS_MAX bytes; a time-stamping key's must be a TSA's
 * (tsa_cert_ok).  The keys point into p, which must outlive them.
 * Returns NULL with a reason in errbuf.
 */
struct sd_keys *keys_load(const struct policy *p, struct hsm *h,
    const struct key_row *rows, size_t nrows, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));

void keys_free(struct sd_keys *ks);

/*
 * The HSM key of a managed key version, if it is the one seald generated
 * and recorded: its label is seald-NAME-vVERSION, the ledger holds its
 * 'generate' entry for this public key (row->recorded), and the token's
 * key under that label has this public key and CKA_ID and was made in the
 * token, never extractable.  0 with *out, or SD_ERR_CONFIG / SD_ERR_HSM
 * with the reason.
 */
int keys_managed_ok(struct hsm *h, const struct key_row *row,
    struct hsm_key **out, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));

/* Key by API name, or NULL. */
const struct sd_key *keys_find(const struct sd_keys *ks, const char *name);

/* Signature algorithm name for the reply: "ecdsa-sha256",
 * "rsa-pkcs1v15-sha256", "rsa-pss-sha256". Writes into buf. */
void keys_sig_alg(
    const struct sd_key *k, enum sign_digest d, char *buf, size_t len);

#endif
