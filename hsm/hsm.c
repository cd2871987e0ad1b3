/*
 * hsm: keys and signing on top of the session pool (hsm_pool.c).  Keys
 * are looked up with a search template (class + label), never by
 * enumerating the token, so objects seald does not understand cannot
 * disturb it; each key must be sensitive, not extractable, and pass a
 * test signature.  A lost session or stale key handle is repaired and the
 * signature tried once more.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/ecdsa.h>
#include <openssl/rsa.h>

#include "clock.h"
#include "err.h"
#include "hsm_p11.h"
#include "log.h"
#include "metrics.h"
#include "secret.h"

#define PROBE_HUNG_MS 2000 /* a readiness probe this long: not ready */

/* every signature of every hsm, in /metrics */
static struct metrics_histogram m_sign = METRICS_HISTOGRAM(
    "seald_hsm_sign_duration_seconds", "One signature in the HSM.");
static struct metrics_value m_errors =
    METRICS_COUNTER("seald_hsm_errors_total", "HSM signatures that failed.");

/* A signature of the HSM, in /metrics. */
static void
count_sign(const struct timespec *t0, CK_RV rv)
{
	metrics_observe(&m_sign, metrics_us_since(t0));
	if (rv != CKR_OK)
		metrics_inc(&m_errors, 1);
}

static int probe_sign(struct hsm *h);

struct hsm *
hsm_open(const char *module, const char *init_args, const char *token_label,
    const char *pin_file, unsigned int sessions, char *errbuf, size_t errlen)
{
	struct hsm *h;
	unsigned int i, n, *held;

	if (init_args == NULL)
		init_args = "";
	if (sessions == 0 || sessions > SD_HSM_SESSIONS_MAX ||
	    strlen(token_label) >= sizeof(h->token_name) ||
	    strlen(init_args) >= sizeof(h->init_args) ||
	    strlen(pin_file) >= sizeof(h->pin_file)) {
		snprintf(errbuf, errlen, "invalid HSM parameters");
		return NULL;
	}
	metrics_add(&m_sign.f);
	metrics_add(&m_errors.f);
	if ((h = calloc(1, sizeof(*h))) == NULL ||
	    (h->sess = calloc(sessions, sizeof(*h->sess))) == NULL ||
	    (h->freelist = calloc(sessions, sizeof(*h->freelist))) == NULL) {
		snprintf(errbuf, errlen, "out of memory");
		goto fail_mem;
	}
	memcpy(h->token_name, token_label, strlen(token_label) + 1);
	if (p11uri_is(token_label)) {
		if (p11uri_parse(token_label, &h->tok, errbuf, errlen) != 0)
			goto fail_mem;
	} else if (strlen(token_label) < sizeof(h->tok.token)) {
		h->tok.has = P11URI_TOKEN;
		memcpy(h->tok.token, token_label, strlen(token_label) + 1);
	} else {
		snprintf(errbuf, errlen, "token label longer than 32 bytes");
		goto fail_mem;
	}
	memcpy(h->init_args, init_args, strlen(init_args) + 1);
	memcpy(h->pin_file, pin_file, strlen(pin_file) + 1);
	pthread_mutex_init(&h->lock, NULL);
	sd_cond_init(&h->cond);
	sd_cond_init(&h->stop_cond);
	h->nsess = h->nlive = sessions;
	for (i = 0; i < sessions; i++)
		h->freelist[h->nfree++] = sessions - 1 - i;
	if (hsm_pool_init(h, module, errbuf, errlen) != 0)
		goto fail;
	/* Open the sessions now: a wrong PIN fails at start, and a token
	 * that opens fewer than asked says so at start (hsm_pool_acquire
	 * leaves out a session it refuses). */
	if ((held = calloc(sessions, sizeof(*held))) == NULL) {
		snprintf(errbuf, errlen, "out of memory");
		(void)h->f->C_Finalize(NULL);
		goto fail;
	}
	for (n = 0;
	     n < sessions && hsm_pool_acquire(h, NULL, &held[n], NULL, 0) == 0;
	     n++)
		;
	if (n == 0) {
		free(held);
		snprintf(errbuf, errlen,
		    "cannot open a session and log in "
		    "(see the log above)");
		(void)h->f->C_Finalize(NULL);
		goto fail;
	}
	while (n > 0) /* healthy from here */
		hsm_pool_release(h, NULL, held[--n], CKR_OK);
	free(held);
	h->probe = probe_sign;
	if (hsm_pool_monitor_start(h) != 0) {
		snprintf(errbuf, errlen, "cannot start the HSM monitor");
		(void)h->f->C_Finalize(NULL);
		goto fail;
	}
	return h;
fail:
	if (h->dl != NULL)
		dlclose(h->dl);
	pthread_mutex_destroy(&h->lock);
	pthread_cond_destroy(&h->cond);
	pthread_cond_destroy(&h->stop_cond);
fail_mem:
	if (h != NULL) {
		free(h->sess);
		free(h->freelist);
		free(h);
	}
	return NULL;
}

static void
free_keys(struct hsm_key *k)
{
	struct hsm_key *next;

	for (; k != NULL; k = next) {
		next = k->next;
		EVP_PKEY_free(k->pub);
		free(k);
	}
}

void
hsm_close(struct hsm *h)
{
	unsigned int i;

	if (h == NULL)
		return;
	hsm_pool_monitor_stop(h);
	for (i = 0; i < h->nsess; i++)
		if (h->sess[i].open) {
			(void)h->f->C_Logout(h->sess[i].handle);
			break;
		}
	(void)h->f->C_Finalize(NULL);
	dlclose(h->dl);
	free_keys(h->keys);
	free_keys(h->dead);
	pthread_mutex_destroy(&h->lock);
	pthread_cond_destroy(&h->cond);
	pthread_cond_destroy(&h->stop_cond);
	free(h->sess);
	free(h->freelist);
	free(h);
}

static int
get_bool(struct hsm *h, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
    CK_ATTRIBUTE_TYPE type)
{
	CK_BBOOL v = CK_FALSE;
	CK_ATTRIBUTE a = { type, &v, sizeof(v) };

	if (h->f->C_GetAttributeValue(s, o, &a, 1) != CKR_OK)
		return -1;
	return v == CK_TRUE;
}

/* Sign a fixed digest and check it with the public key: the pair matches
 * and the token signs.  The signature is wiped, it never leaves here. */
static int
self_test(struct hsm *h, struct hsm_key *k)
{
	uint8_t dg[32] = { 0 }, sig[SD_SIG_MAX];
	EVP_PKEY_CTX *ctx = NULL;
	size_t siglen = 0;
	int ok = 0;

	if (hsm_sign(h, k, k->is_ec ? HSM_ECDSA : HSM_RSA_PKCS1, HSM_SHA256, dg,
		sizeof(dg), sig, sizeof(sig), &siglen) != 0)
		return 0;
	if ((ctx = EVP_PKEY_CTX_new(k->pub, NULL)) != NULL &&
	    EVP_PKEY_verify_init(ctx) > 0 &&
	    (k->is_ec ||
		EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) > 0) &&
	    EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) > 0 &&
	    EVP_PKEY_verify(ctx, sig, siglen, dg, sizeof(dg)) == 1)
		ok = 1;
	EVP_PKEY_CTX_free(ctx);
	secret_wipe(sig, sizeof(sig));
	return ok;
}

/*
 * What seald must know of the private key k->handle before it may serve
 * (its ID, type, public key), and that it may: a signing key that cannot
 * leave the HSM.  0, or -1 with the reason.
 */
static int
read_key(struct hsm *h, CK_SESSION_HANDLE s, struct hsm_key *k, char *errbuf,
    size_t errlen)
{
	const char *label = k->label;
	CK_KEY_TYPE type = 0;
	CK_ATTRIBUTE ta = { CKA_KEY_TYPE, &type, sizeof(type) };
	CK_ATTRIBUTE ia = { CKA_ID, NULL, 0 };

	/* CKA_ID is optional: a key without one (or too long) keeps 0 */
	ia.pValue = k->id;
	ia.ulValueLen = sizeof(k->id);
	if (h->f->C_GetAttributeValue(s, k->handle, &ia, 1) == CKR_OK &&
	    ia.ulValueLen <= sizeof(k->id))
		k->id_len = ia.ulValueLen;
	if (h->f->C_GetAttributeValue(s, k->handle, &ta, 1) != CKR_OK ||
	    (type != CKK_EC && type != CKK_RSA)) {
		snprintf(
		    errbuf, errlen, "key \"%s\" is neither EC nor RSA", label);
		return -1;
	}
	if (get_bool(h, s, k->handle, CKA_SIGN) != 1) {
		snprintf(errbuf, errlen, "key \"%s\" may not sign (CKA_SIGN)",
		    label);
		return -1;
	}
	if (get_bool(h, s, k->handle, CKA_SENSITIVE) != 1 ||
	    get_bool(h, s, k->handle, CKA_EXTRACTABLE) != 0) {
		snprintf(errbuf, errlen,
		    "key \"%s\" could leave the HSM "
		    "(CKA_SENSITIVE false or CKA_EXTRACTABLE true); refusing "
		    "it",
		    label);
		return -1;
	}
	/* made in this token and never anything but secret: what a key
	 * seald generated must be (CKA_LOCAL, ALWAYS_SENSITIVE,
	 * NEVER_EXTRACTABLE); an imported key is not.  NSS softokn does not
	 * keep CKA_LOCAL in its database (a stored key says false): there
	 * the other two, which no imported or unwrapped key has, decide */
	k->born_here =
	    (h->local_not_kept || get_bool(h, s, k->handle, CKA_LOCAL) == 1) &&
	    get_bool(h, s, k->handle, CKA_ALWAYS_SENSITIVE) == 1 &&
	    get_bool(h, s, k->handle, CKA_NEVER_EXTRACTABLE) == 1;
	k->is_ec = type == CKK_EC;
	k->always_auth =
	    get_bool(h, s, k->handle, CKA_ALWAYS_AUTHENTICATE) == 1;
	if ((k->pub = hsm_pubkey_load(
		 h->f, s, k->handle, type, label, errbuf, errlen)) == NULL)
		return -1;
	k->bits = (unsigned int)EVP_PKEY_get_bits(k->pub);
	return 0;
}

struct hsm_key *
hsm_key_find(struct hsm *h, const char *label, char *errbuf, size_t errlen)
{
	struct hsm_key *k;
	CK_OBJECT_HANDLE o;
	CK_SESSION_HANDLE s;
	unsigned int idx;
	int r;

	if (strlen(label) >= sizeof(k->label)) {
		snprintf(errbuf, errlen, "label too long");
		return NULL;
	}
	/* Found before (an earlier policy load): the same key serves. */
	pthread_mutex_lock(&h->lock);
	for (k = h->keys; k != NULL; k = k->next)
		if (strcmp(k->label, label) == 0)
			break;
	pthread_mutex_unlock(&h->lock);
	if (k != NULL)
		return k;
	if ((k = calloc(1, sizeof(*k))) == NULL) {
		snprintf(errbuf, errlen, "out of memory");
		return NULL;
	}
	memcpy(k->label, label, strlen(label) + 1);
	if (hsm_pool_acquire(h, NULL, &idx, NULL, 1) != 0) {
		snprintf(errbuf, errlen, "no HSM session");
		free(k);
		return NULL;
	}
	s = h->sess[idx].handle;
	pthread_mutex_lock(&h->lock);
	k->gen = h->gen;
	pthread_mutex_unlock(&h->lock);
	if ((r = hsm_pool_find_private(h, s, label, &o, errbuf, errlen)) != 0)
		goto fail;
	k->handle = o;
	if (read_key(h, s, k, errbuf, errlen) != 0)
		goto fail;
	hsm_pool_release(h, NULL, idx, CKR_OK);
	if (!self_test(h, k)) {
		snprintf(errbuf, errlen,
		    "key \"%s\": test signature does not "
		    "verify with its public key",
		    label);
		EVP_PKEY_free(k->pub);
		free(k);
		return NULL;
	}
	pthread_mutex_lock(&h->lock);
	k->next = h->keys;
	h->keys = k;
	pthread_mutex_unlock(&h->lock);
	return k;
fail:
	hsm_pool_release(h, NULL, idx, CKR_OK);
	EVP_PKEY_free(k->pub);
	free(k);
	return NULL;
}

EVP_PKEY *
hsm_key_public(const struct hsm_key *k)
{
	return k->pub;
}

int
hsm_key_born_here(const struct hsm_key *k)
{
	return k->born_here;
}

int
hsm_key_is_ec(const struct hsm_key *k)
{
	return k->is_ec;
}

unsigned int
hsm_key_bits(const struct hsm_key *k)
{
	return k->bits;
}

size_t
hsm_digest_len(enum hsm_digest alg)
{
	switch (alg) {
	case HSM_SHA256:
		return 32;
	case HSM_SHA384:
		return 48;
	case HSM_SHA512:
		return 64;
	}
	return 0;
}

/* DER prefix of DigestInfo for each hash (RFC 8017 section 9.2 note 1). */
static const uint8_t di_sha256[] = { 0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60,
	0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04,
	0x20 };
static const uint8_t di_sha384[] = { 0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60,
	0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04,
	0x30 };
static const uint8_t di_sha512[] = { 0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60,
	0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04,
	0x40 };

/* ECDSA r||s of the token into a DER ECDSA-Sig-Value, in place. */
static int
ecdsa_to_der(uint8_t *sig, size_t cap, size_t *len)
{
	ECDSA_SIG *es;
	BIGNUM *r, *s;
	unsigned char *p = sig;
	size_t half = *len / 2;
	uint8_t raw[2 * 66];
	int n;

	if (*len == 0 || *len % 2 != 0 || *len > sizeof(raw))
		return SD_ERR_HSM;
	memcpy(raw, sig, *len);
	r = BN_bin2bn(raw, (int)half, NULL);
	s = BN_bin2bn(raw + half, (int)half, NULL);
	if ((es = ECDSA_SIG_new()) == NULL || r == NULL || s == NULL) {
		BN_free(r);
		BN_free(s);
		ECDSA_SIG_free(es);
		return SD_ERR_NOMEM;
	}
	ECDSA_SIG_set0(es, r, s);
	n = i2d_ECDSA_SIG(es, NULL);
	if (n <= 0 || (size_t)n > cap) {
		ECDSA_SIG_free(es);
		return SD_ERR_INTERNAL;
	}
	n = i2d_ECDSA_SIG(es, &p);
	ECDSA_SIG_free(es);
	*len = (size_t)n;
	return 0;
}

int
hsm_can_sign(struct hsm *h, enum hsm_scheme scheme, char *errbuf, size_t errlen)
{
	static const struct {
		enum hsm_scheme scheme;
		CK_MECHANISM_TYPE mech;
		const char *name;
	} mechs[] = {
		{ HSM_ECDSA, CKM_ECDSA, "CKM_ECDSA" },
		{ HSM_RSA_PKCS1, CKM_RSA_PKCS, "CKM_RSA_PKCS" },
		{ HSM_RSA_PSS, CKM_RSA_PKCS_PSS, "CKM_RSA_PKCS_PSS" },
	};
	CK_MECHANISM_INFO mi;
	size_t i;
	CK_RV rv;

	for (i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++)
		if (mechs[i].scheme == scheme)
			break;
	if (i == sizeof(mechs) / sizeof(mechs[0]))
		return SD_ERR_BAD_REQUEST;
	rv = h->f->C_GetMechanismInfo(h->slot, mechs[i].mech, &mi);
	if (rv == CKR_FUNCTION_NOT_SUPPORTED)
		return 0; /* the module does not say: the test signature will */
	if (rv == CKR_OK && (mi.flags & CKF_SIGN))
		return 0;
	snprintf(errbuf, errlen, "the token does not sign with %s%s",
	    mechs[i].name,
	    scheme == HSM_RSA_PSS ? " (rsa_scheme: pss; pkcs1 may serve)" : "");
	return SD_ERR_CONFIG;
}

/* A key with CKA_ALWAYS_AUTHENTICATE wants the PIN again for each
 * signature, after C_SignInit.  When that login fails the session is
 * given back as lost (closed, which ends the operation), and the
 * request tried once more on another, as for any lost session. */
static CK_RV
context_login(struct hsm *h, CK_SESSION_HANDLE s, struct hsm_key *k)
{
	char err[256];
	CK_RV rv;

	if (hsm_pool_pin_login(
		h, s, CKU_CONTEXT_SPECIFIC, &rv, err, sizeof(err)) == 0)
		return CKR_OK;
	log_warn(
	    "signing with \"%s\" (CKA_ALWAYS_AUTHENTICATE): %s", k->label, err);
	return CKR_USER_NOT_LOGGED_IN;
}

int
hsm_sign(struct hsm *h, struct hsm_key *k, enum hsm_scheme scheme,
    enum hsm_digest alg, const uint8_t *digest, size_t dglen, uint8_t *sig,
    size_t cap, size_t *siglen)
{
	return hsm_sign_by(
	    h, NULL, k, scheme, alg, digest, dglen, sig, cap, siglen);
}

int
hsm_sign_by(struct hsm *h, const struct timespec *until, struct hsm_key *k,
    enum hsm_scheme scheme, enum hsm_digest alg, const uint8_t *digest,
    size_t dglen, uint8_t *sig, size_t cap, size_t *siglen)
{
	static const CK_MECHANISM_TYPE hashmech[] = { 0, CKM_SHA256, CKM_SHA384,
		CKM_SHA512 };
	static const CK_RSA_PKCS_MGF_TYPE mgf[] = { 0, CKG_MGF1_SHA256,
		CKG_MGF1_SHA384, CKG_MGF1_SHA512 };
	CK_RSA_PKCS_PSS_PARAMS pss;
	CK_MECHANISM mech = { 0, NULL, 0 };
	uint8_t in[19 + SD_DIGEST_MAX];
	const uint8_t *prefix = NULL;
	size_t inlen = 0, plen = 0;
	CK_OBJECT_HANDLE kh = CK_INVALID_HANDLE;
	struct timespec t0;
	CK_SESSION_HANDLE s;
	CK_ULONG outlen = cap;
	unsigned int idx;
	CK_RV rv = CKR_OK;
	int r, tries;

	*siglen = 0;
	if (dglen != hsm_digest_len(alg) || dglen == 0)
		return SD_ERR_BAD_REQUEST;
	if ((scheme == HSM_ECDSA) != (k->is_ec != 0))
		return SD_ERR_BAD_REQUEST;
	switch (scheme) {
	case HSM_ECDSA:
		mech.mechanism = CKM_ECDSA;
		break;
	case HSM_RSA_PKCS1:
		mech.mechanism = CKM_RSA_PKCS;
		prefix = alg == HSM_SHA256 ? di_sha256
		    : alg == HSM_SHA384    ? di_sha384
					   : di_sha512;
		plen = sizeof(di_sha256);
		break;
	case HSM_RSA_PSS:
		mech.mechanism = CKM_RSA_PKCS_PSS;
		pss.hashAlg = hashmech[alg];
		pss.mgf = mgf[alg];
		pss.sLen = dglen;
		mech.pParameter = &pss;
		mech.ulParameterLen = sizeof(pss);
		break;
	default:
		return SD_ERR_BAD_REQUEST;
	}
	if (prefix != NULL)
		memcpy(in, prefix, plen);
	memcpy(in + plen, digest, dglen);
	inlen = plen + dglen;

	/* A lost session or a stale key handle is repaired and the request
	 * tried once more: nothing was signed, so repeating is safe. */
	for (tries = 0; tries < 2; tries++) {
		if ((r = until != NULL
			    ? hsm_pool_acquire_by(h, k, &idx, &kh, until)
			    : hsm_pool_acquire(h, k, &idx, &kh, 1)) != 0) {
			atomic_store(&h->sign_failed, 1);
			atomic_store(&h->healthy, 0);
			return r;
		}
		s = h->sess[idx].handle;
		outlen = cap;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		rv = h->f->C_SignInit(s, &mech, kh);
		if (rv == CKR_OK && k->always_auth)
			rv = context_login(h, s, k);
		if (rv == CKR_OK)
			rv = h->f->C_Sign(s, in, inlen, sig, &outlen);
		count_sign(&t0, rv);
		hsm_pool_release(h, k, idx, rv);
		if (hsm_rv_kind(rv) != RV_SESSION && hsm_rv_kind(rv) != RV_KEY)
			break;
		log_warn("signing with \"%s\": 0x%lx, retrying on a new "
			 "session",
		    k->label, rv);
	}
	if (rv != CKR_OK) {
		log_warn("signing with \"%s\" failed: 0x%lx", k->label, rv);
		if (hsm_rv_kind(rv) == RV_INPUT)
			return SD_ERR_UNSUPPORTED;
		/* not ready from the first failed signature to the next
		 * that works (a request's, or the monitor's probe) */
		atomic_store(&h->sign_failed, 1);
		atomic_store(&h->healthy, 0);
		return SD_ERR_HSM;
	}
	atomic_store(&h->sign_failed, 0);
	atomic_store(&h->healthy, 1);
	*siglen = outlen;
	if (scheme == HSM_ECDSA)
		return ecdsa_to_der(sig, cap, siglen);
	return 0;
}

/* struct hsm's probe: see hsm_p11.h. */
static int
probe_sign(struct hsm *h)
{
	struct hsm_key *k;

	pthread_mutex_lock(&h->lock);
	k = h->keys; /* (a key leaves this list for h->dead, never freed) */
	pthread_mutex_unlock(&h->lock);
	return k != NULL && self_test(h, k) ? 0 : -1;
}

int
hsm_ready(struct hsm *h)
{
	long since = atomic_load(&h->probe_since_ms);
	struct timespec now;

	if (since != 0) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((long)now.tv_sec * 1000L + now.tv_nsec / 1000000L - since >
		    PROBE_HUNG_MS)
			return 0; /* the token does not answer */
	}
	return atomic_load(&h->healthy);
}
