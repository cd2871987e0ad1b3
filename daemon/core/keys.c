/*
 * keys: joins config keys with HSM keys.  A certificate that does not
 * belong to the HSM key is a start-up error: handing out a certificate
 * that does not verify the signature would be worse than none.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "err.h"
#include "keys.h"
#include "log.h"
#include "tsa.h"

static char *
bio_to_str(BIO *b)
{
	char *data, *s;
	long n = BIO_get_mem_data(b, &data);

	if (n <= 0 || (s = malloc((size_t)n + 1)) == NULL)
		return NULL;
	memcpy(s, data, (size_t)n);
	s[n] = '\0';
	return s;
}

static char *
public_pem(EVP_PKEY *pk)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *s = NULL;

	if (b != NULL && PEM_write_bio_PUBKEY(b, pk) == 1)
		s = bio_to_str(b);
	BIO_free(b);
	return s;
}

/* 1 when x is k's certificate or already in its chain. */
static int
is_dup(const struct sd_key *k, X509 *x)
{
	int i;

	if (X509_cmp(k->cert, x) == 0)
		return 1;
	for (i = 0; i < sk_X509_num(k->chain); i++)
		if (X509_cmp(sk_X509_value(k->chain, i), x) == 0)
			return 1;
	return 0;
}

/* Read PEM certificates from in (bounded) into k: check the leaf's key,
 * keep the PEM for replies and the certificates for CMS, and count their
 * DER bytes into *der.  path names the source in messages. */
static int
load_cert(struct sd_key *k, BIO *in, const char *path, size_t *der,
    char *errbuf, size_t errlen)
{
	BIO *out = NULL;
	X509 *x = NULL;
	int n = 0, len, r = -1;

	*der = 0;
	snprintf(errbuf, errlen, "out of memory");
	if ((out = BIO_new(BIO_s_mem())) == NULL ||
	    (k->chain = sk_X509_new_null()) == NULL)
		goto out;
	while ((x = PEM_read_bio_X509(in, NULL, NULL, NULL)) != NULL) {
		if (n == 0 &&
		    EVP_PKEY_eq(X509_get0_pubkey(x), hsm_key_public(k->hk)) !=
			1) {
			snprintf(errbuf, errlen,
			    "%.200s: the certificate's public "
			    "key is not the HSM key's",
			    path);
			goto out;
		}
		if (n > 0 && is_dup(k, x)) { /* CMS refuses a repeat */
			X509_free(x);
			x = NULL;
			continue;
		}
		if (PEM_write_bio_X509(out, x) != 1 ||
		    BIO_ctrl_pending(out) > SD_CERT_MAX_BYTES ||
		    (len = i2d_X509(x, NULL)) <= 0) {
			snprintf(errbuf, errlen,
			    "%.200s: certificate chain too "
			    "large",
			    path);
			goto out;
		}
		*der += (size_t)len;
		if (n == 0)
			k->cert = x;
		else if (sk_X509_push(k->chain, x) <= 0)
			goto out;
		x = NULL;
		n++;
	}
	if (n == 0)
		snprintf(errbuf, errlen, "%.200s: no PEM certificate", path);
	else if ((k->cert_pem = bio_to_str(out)) != NULL)
		r = 0;
out:
	X509_free(x);
	BIO_free(out);
	return r;
}

/* The certificate of a key: its file (policy certificate:) or, for a
 * managed key, the PEM of its keys table row. */
static int
key_cert(struct sd_key *k, const struct key_row *row, size_t *der, char *errbuf,
    size_t errlen)
{
	const char *path = row != NULL ? "the keys table" : k->pk->certificate;
	BIO *in;
	int r;

	*der = 0;
	if (row != NULL ? row->cert == NULL : k->pk->certificate[0] == '\0')
		return 0;
	in = row != NULL ? BIO_new_mem_buf(row->cert, -1)
			 : BIO_new_file(k->pk->certificate, "r");
	if (in == NULL) {
		snprintf(
		    errbuf, errlen, "%.200s: cannot open certificate", path);
		return -1;
	}
	r = load_cert(k, in, path, der, errbuf, errlen);
	BIO_free(in);
	return r;
}

/* The active version of a managed key, or NULL. */
static const struct key_row *
active_row(const struct key_row *rows, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(rows[i].name, name) == 0 &&
		    strcmp(rows[i].state, "active") == 0)
			return &rows[i];
	return NULL;
}

int
keys_managed_ok(struct hsm *h, const struct key_row *row, struct hsm_key **out,
    char *errbuf, size_t errlen)
{
	char label[SD_LABEL_MAX], err[256];
	const unsigned char *p = row->pub;
	uint8_t id[SD_KEY_ID_MAX];
	struct hsm_key *hk;
	EVP_PKEY *pub;
	int same;

	/* the row names the key seald made for it, and the ledger says so:
	 * whoever can write the table cannot point it at another key */
	snprintf(label, sizeof(label), "seald-%s-v%lld", row->name,
	    (long long)row->version);
	if (strcmp(row->label, label) != 0 || !row->recorded) {
		snprintf(errbuf, errlen,
		    "key %s v%lld: the keys table row is not the one the "
		    "ledger recorded",
		    row->name, (long long)row->version);
		return SD_ERR_CONFIG;
	}
	if ((hk = hsm_key_find(h, row->label, err, sizeof(err))) == NULL) {
		snprintf(errbuf, errlen, "key %s v%lld: %s", row->name,
		    (long long)row->version, err);
		return SD_ERR_HSM;
	}
	pub = d2i_PUBKEY(NULL, &p, (long)row->pub_len);
	same = pub != NULL && EVP_PKEY_eq(pub, hsm_key_public(hk)) == 1 &&
	    hsm_key_id(hk, id, sizeof(id)) == row->id_len &&
	    memcmp(id, row->id, row->id_len) == 0 && hsm_key_born_here(hk);
	EVP_PKEY_free(pub);
	if (!same) {
		snprintf(errbuf, errlen,
		    "key %s v%lld: the token's key labelled \"%s\" is not the "
		    "one seald generated and recorded",
		    row->name, (long long)row->version, row->label);
		return SD_ERR_CONFIG;
	}
	*out = hk;
	return 0;
}

/* A managed key's certificate is the one its newest 'certificate'
 * entry recorded. */
static int
cert_recorded(const struct sd_key *k, const struct key_row *row)
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	return row->cert_digest_len == 32 &&
	    X509_digest(k->cert, EVP_sha256(), md, &n) == 1 && n == 32 &&
	    memcmp(md, row->cert_digest, 32) == 0;
}

/* A key that offers CMS seals or time-stamp tokens must have certificates
 * that fit in one; a time-stamping key's must say it is a TSA's. */
static int
check_cms(const struct sd_key *k, size_t der, char *errbuf, size_t errlen)
{
	int tsa = (k->pk->usages & (1u << POLICY_OP_TIMESTAMP)) != 0;
	char why[200];

	if (tsa && k->cert == NULL) {
		snprintf(errbuf, errlen,
		    "key %s: usage timestamp needs a certificate", k->pk->name);
		return -1;
	}
	if (tsa && tsa_cert_ok(k->cert, why, sizeof(why)) != 0) {
		snprintf(errbuf, errlen, "key %s: %s", k->pk->name, why);
		return -1;
	}
	if ((k->pk->formats & (POLICY_FMT_CMS | POLICY_FMT_CADES_T)) == 0 &&
	    !tsa)
		return 0;
	if (k->cert == NULL) {
		snprintf(errbuf, errlen,
		    "key %s: format %s needs a certificate", k->pk->name,
		    (k->pk->formats & POLICY_FMT_CMS) ? "cms" : "cades-t");
		return -1;
	}
	if (der > SD_SEAL_CERTS_MAX) {
		snprintf(errbuf, errlen,
		    "key %s: its certificates are %zu bytes of DER; a CMS "
		    "seal holds at most %d",
		    k->pk->name, der, SD_SEAL_CERTS_MAX);
		return -1;
	}
	return 0;
}

static void
key_free(struct sd_key *k)
{
	free(k->public_pem);
	free(k->cert_pem);
	X509_free(k->cert);
	sk_X509_pop_free(k->chain, X509_free);
	memset(k, 0, sizeof(*k));
}

/* A key named by a pkcs11: URI: the key found by its object (label)
 * must also have the URI's id, and be on the token the URI names. */
static int
uri_mismatch(const struct sd_key *k, struct hsm *h, char *errbuf, size_t errlen)
{
	const struct p11uri *u = &k->pk->uri;
	uint8_t id[SD_KEY_ID_MAX];
	size_t n;

	if ((u->has & P11URI_TOKEN_ATTRS) && !hsm_token_is(h, u)) {
		snprintf(errbuf, errlen,
		    "key %s: its URI names another token than "
		    "pkcs11.token_label's",
		    k->pk->name);
		return 1;
	}
	if (!(u->has & P11URI_ID))
		return 0;
	n = hsm_key_id(k->hk, id, sizeof(id));
	if (n != u->id_len || memcmp(id, u->id, n) != 0) {
		snprintf(errbuf, errlen,
		    "key %s: the token's key labelled \"%s\" has another id "
		    "(CKA_ID) than its URI names",
		    k->pk->name, k->label);
		return 1;
	}
	return 0;
}

/* One key: find it in the HSM, check its algorithm, load its
 * certificate. */
static int
load_key(struct sd_key *k, struct hsm *h, const struct key_row *row,
    char *errbuf, size_t errlen)
{
	char err[512];
	size_t der;

	if (row != NULL) {
		if (keys_managed_ok(h, row, &k->hk, errbuf, errlen) != 0)
			return -1;
	} else if ((k->hk = hsm_key_find(h, k->label, err, sizeof(err))) ==
	    NULL) {
		snprintf(errbuf, errlen, "key %s: %s", k->pk->name, err);
		return -1;
	} else if (uri_mismatch(k, h, errbuf, errlen)) {
		return -1;
	}
	if (hsm_key_is_ec(k->hk)) {
		k->scheme = HSM_ECDSA;
		snprintf(k->key_alg, sizeof(k->key_alg), "ec-p%u",
		    hsm_key_bits(k->hk));
	} else {
		k->scheme = k->pk->rsa_scheme == POLICY_RSA_PSS ? HSM_RSA_PSS
								: HSM_RSA_PKCS1;
		snprintf(k->key_alg, sizeof(k->key_alg), "rsa-%u",
		    hsm_key_bits(k->hk));
	}
	if (hsm_can_sign(h, k->scheme, err, sizeof(err)) != 0) {
		snprintf(errbuf, errlen, "key %s: %s", k->pk->name, err);
		return -1;
	}
	if (k->pk->algorithm[0] != '\0' &&
	    strcmp(k->pk->algorithm, k->key_alg) != 0) {
		snprintf(errbuf, errlen,
		    "key %s: the policy says %s, the HSM key is %s",
		    k->pk->name, k->pk->algorithm, k->key_alg);
		return -1;
	}
	if ((k->public_pem = public_pem(hsm_key_public(k->hk))) == NULL) {
		snprintf(errbuf, errlen, "key %s: cannot encode public key",
		    k->pk->name);
		return -1;
	}
	if (key_cert(k, row, &der, err, sizeof(err)) != 0) {
		snprintf(errbuf, errlen, "key %s: %s", k->pk->name, err);
		return -1;
	}
	if (row != NULL && k->cert != NULL && !cert_recorded(k, row)) {
		snprintf(errbuf, errlen,
		    "key %s: its certificate is not the one the ledger "
		    "recorded",
		    k->pk->name);
		return -1;
	}
	return check_cms(k, der, errbuf, errlen);
}

const char *const keys_state_names[KEYS_NSTATES] = { "pending", "active",
	"retired", "disabled", "destroyed" };

static void
count_states(struct sd_keys *ks, const struct key_row *rows, size_t n)
{
	size_t i, s;

	ks->have_states = rows != NULL;
	for (i = 0; i < n; i++)
		for (s = 0; s < KEYS_NSTATES; s++)
			if (strcmp(rows[i].state, keys_state_names[s]) == 0)
				ks->states[s]++;
}

struct sd_keys *
keys_load(const struct policy *p, struct hsm *h, const struct key_row *rows,
    size_t nrows, char *errbuf, size_t errlen)
{
	size_t n = policy_nkeys(p), i;
	const struct key_row *row;
	const struct policy_key *pk;
	struct sd_keys *ks;
	struct sd_key *k;

	if ((ks = calloc(1, sizeof(*ks))) == NULL ||
	    (ks->k = calloc(n ? n : 1, sizeof(*ks->k))) == NULL) {
		free(ks);
		snprintf(errbuf, errlen, "out of memory");
		return NULL;
	}
	count_states(ks, rows, nrows);
	for (i = 0; i < n; i++) {
		pk = policy_key_at(p, i);
		row = pk->managed ? active_row(rows, nrows, pk->name) : NULL;
		if (pk->managed && row == NULL) {
			log_warn(
			    "key %s: managed, but it has no active version "
			    "yet (sealctl key generate): not served",
			    pk->name);
			continue;
		}
		k = &ks->k[ks->n++];
		k->pk = pk;
		snprintf(k->label, sizeof(k->label), "%s",
		    row != NULL ? row->label : pk->label);
		k->version = row != NULL ? row->version : (int64_t)pk->version;
		if (load_key(k, h, row, errbuf, errlen) == 0)
			continue;
		if (!pk->managed)
			goto fail;
		/* An officer's key between steps (no certificate yet for
		 * the formats the policy wants) must not stop the others. */
		log_warn("%s: not served", errbuf);
		key_free(k);
		ks->n--;
	}
	return ks;
fail:
	keys_free(ks);
	return NULL;
}

void
keys_free(struct sd_keys *ks)
{
	size_t i;

	if (ks == NULL)
		return;
	for (i = 0; i < ks->n; i++)
		key_free(&ks->k[i]);
	free(ks->k);
	free(ks);
}

const struct sd_key *
keys_find(const struct sd_keys *ks, const char *name)
{
	size_t i;

	for (i = 0; i < ks->n; i++)
		if (strcmp(ks->k[i].pk->name, name) == 0)
			return &ks->k[i];
	return NULL;
}

void
keys_sig_alg(const struct sd_key *k, enum sign_digest d, char *buf, size_t len)
{
	const char *s = k->scheme == HSM_ECDSA ? "ecdsa"
	    : k->scheme == HSM_RSA_PSS         ? "rsa-pss"
					       : "rsa-pkcs1v15";

	snprintf(buf, len, "%s-%s", s, sign_digest_name(d));
}
