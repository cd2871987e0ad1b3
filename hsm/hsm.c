/*
 * hsm: the PKCS#11 session pool.  One module, one token, `n` sessions
 * shared by the signing workers.  Keys are looked up with a search
 * template (class + label), never by enumerating the token, so objects
 * seald does not understand cannot disturb it.  Errors are sorted into
 * three kinds: the session is bad (close it, open a new one on next use),
 * the token or module is bad (finalize and initialize again once no call
 * is in flight), or the key handle is stale (find it again).  The PIN is
 * read from its file for each login and wiped right after.
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
#include "secret.h"

#define ACQUIRE_WAIT_SEC 5      /* longest wait for a free session */
#define RECOVER_INTERVAL_MS 100 /* at most one re-initialization per this */
#define MAX_SLOTS 256

struct hsm_sess {
	CK_SESSION_HANDLE handle;
	int open;
};

struct hsm {
	void *dl;
	CK_FUNCTION_LIST_PTR f;
	char token_label[33];
	char pin_file[SD_PATH_MAX];
	CK_SLOT_ID slot;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned int nsess;
	struct hsm_sess *sess;
	unsigned int *freelist; /* indexes of idle sessions */
	unsigned int nfree;
	unsigned int busy; /* sessions checked out */
	int broken;        /* module must be re-initialized */
	unsigned long gen; /* bumped at each (re)initialization */
	struct timespec last_recover;
	struct hsm_key *keys;
};

enum rv_kind { RV_OK, RV_INPUT, RV_SESSION, RV_TOKEN, RV_KEY };

static enum rv_kind
classify(CK_RV rv)
{
	switch (rv) {
	case CKR_OK:
		return RV_OK;
	case CKR_DATA_INVALID:
	case CKR_DATA_LEN_RANGE:
	case CKR_MECHANISM_INVALID:
	case CKR_MECHANISM_PARAM_INVALID:
	case CKR_KEY_TYPE_INCONSISTENT:
	case CKR_KEY_FUNCTION_NOT_PERMITTED:
		return RV_INPUT;
	case CKR_KEY_HANDLE_INVALID:
	case CKR_OBJECT_HANDLE_INVALID:
		return RV_KEY;
	case CKR_SESSION_HANDLE_INVALID:
	case CKR_SESSION_CLOSED:
	case CKR_USER_NOT_LOGGED_IN:
	case CKR_OPERATION_ACTIVE:
	case CKR_BUFFER_TOO_SMALL:
	case CKR_FUNCTION_FAILED:
	case CKR_DEVICE_MEMORY:
	case CKR_HOST_MEMORY:
		return RV_SESSION;
	default: /* device removed, token not present, general error, ... */
		return RV_TOKEN;
	}
}

static int
find_slot(struct hsm *h, char *errbuf, size_t errlen)
{
	CK_SLOT_ID slots[MAX_SLOTS];
	CK_ULONG n = MAX_SLOTS, i;
	CK_TOKEN_INFO ti;
	size_t len;
	CK_RV rv;

	if ((rv = h->f->C_GetSlotList(CK_TRUE, slots, &n)) != CKR_OK) {
		snprintf(errbuf, errlen, "C_GetSlotList: 0x%lx", rv);
		return SD_ERR_HSM;
	}
	for (i = 0; i < n; i++) {
		if (h->f->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
			continue;
		len = sizeof(ti.label);
		while (len > 0 && ti.label[len - 1] == ' ')
			len--;
		if (len == strlen(h->token_label) &&
		    memcmp(ti.label, h->token_label, len) == 0) {
			if (!(ti.flags & CKF_TOKEN_INITIALIZED))
				break;
			h->slot = slots[i];
			return 0;
		}
	}
	snprintf(errbuf, errlen, "no initialized token labelled \"%s\"",
	    h->token_label);
	return SD_ERR_HSM;
}

static int
module_init(struct hsm *h, char *errbuf, size_t errlen)
{
	CK_C_INITIALIZE_ARGS args;
	CK_RV rv;

	memset(&args, 0, sizeof(args));
	args.flags = CKF_OS_LOCKING_OK;
	rv = h->f->C_Initialize(&args);
	if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		snprintf(errbuf, errlen, "C_Initialize: 0x%lx", rv);
		return SD_ERR_HSM;
	}
	h->gen++;
	return find_slot(h, errbuf, errlen);
}

/* Log in as user if the session is not yet in a user state. */
static int
login_locked(struct hsm *h, CK_SESSION_HANDLE s, char *errbuf, size_t errlen)
{
	CK_SESSION_INFO si;
	char pin[SD_PIN_MAX];
	size_t pinlen;
	CK_RV rv;
	int r;

	if (h->f->C_GetSessionInfo(s, &si) == CKR_OK &&
	    (si.state == CKS_RO_USER_FUNCTIONS ||
		si.state == CKS_RW_USER_FUNCTIONS))
		return 0;
	if ((r = secret_read_file(
		 h->pin_file, pin, sizeof(pin), &pinlen, errbuf, errlen)) != 0)
		return r;
	rv = h->f->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)pin, pinlen);
	secret_wipe(pin, sizeof(pin));
	if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
		snprintf(errbuf, errlen, "C_Login: 0x%lx%s", rv,
		    rv == CKR_PIN_INCORRECT ? " (wrong PIN)" : "");
		if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LOCKED)
			return SD_ERR_CONFIG;
		return SD_ERR_HSM;
	}
	return 0;
}

static int
open_session_locked(struct hsm *h, unsigned int i, char *errbuf, size_t errlen)
{
	CK_RV rv;
	int r;

	rv = h->f->C_OpenSession(
	    h->slot, CKF_SERIAL_SESSION, NULL, NULL, &h->sess[i].handle);
	if (rv != CKR_OK) {
		snprintf(errbuf, errlen, "C_OpenSession: 0x%lx", rv);
		if (classify(rv) == RV_TOKEN)
			h->broken = 1;
		return SD_ERR_HSM;
	}
	h->sess[i].open = 1;
	if ((r = login_locked(h, h->sess[i].handle, errbuf, errlen)) != 0) {
		(void)h->f->C_CloseSession(h->sess[i].handle);
		h->sess[i].open = 0;
		return r;
	}
	return 0;
}

/* Finalize and initialize the module again; every session is gone. */
static int
recover_locked(struct hsm *h)
{
	char err[256];
	unsigned int i;
	int r;

	if (sd_ms_since(&h->last_recover) < RECOVER_INTERVAL_MS)
		return SD_ERR_HSM;
	clock_gettime(CLOCK_MONOTONIC, &h->last_recover);
	log_warn("re-initializing the PKCS#11 module");
	(void)h->f->C_Finalize(NULL);
	for (i = 0; i < h->nsess; i++)
		h->sess[i].open = 0;
	if ((r = module_init(h, err, sizeof(err))) != 0) {
		log_error("HSM recovery failed: %s", err);
		return r;
	}
	h->broken = 0;
	log_info("PKCS#11 module re-initialized");
	return 0;
}

static int
find_private_locked(struct hsm *h, CK_SESSION_HANDLE s, const char *label,
    CK_OBJECT_HANDLE *out, char *errbuf, size_t errlen)
{
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE t[2] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_LABEL, (void *)label, strlen(label) },
	};
	CK_OBJECT_HANDLE found[2];
	CK_ULONG n = 0;
	CK_RV rv;

	if ((rv = h->f->C_FindObjectsInit(s, t, 2)) != CKR_OK) {
		snprintf(errbuf, errlen, "C_FindObjectsInit: 0x%lx", rv);
		return SD_ERR_HSM;
	}
	rv = h->f->C_FindObjects(s, found, 2, &n);
	(void)h->f->C_FindObjectsFinal(s);
	if (rv != CKR_OK) {
		snprintf(errbuf, errlen, "C_FindObjects: 0x%lx", rv);
		return SD_ERR_HSM;
	}
	if (n != 1) {
		snprintf(errbuf, errlen, "%s private key labelled \"%s\"",
		    n == 0 ? "no" : "more than one", label);
		return SD_ERR_CONFIG;
	}
	*out = found[0];
	return 0;
}

/* Check out a session, re-establishing whatever is broken.  On success
 * *idx is checked out and k's handle is current. */
static int
acquire(struct hsm *h, struct hsm_key *k, unsigned int *idx,
    CK_OBJECT_HANDLE *kh, int wait)
{
	struct timespec deadline;
	char err[256];
	int r = 0, w;

	deadline = sd_deadline_ms(wait ? ACQUIRE_WAIT_SEC * 1000L : 0);
	pthread_mutex_lock(&h->lock);
	for (;;) {
		if (h->broken && h->busy == 0) {
			if ((r = recover_locked(h)) != 0)
				goto out;
		}
		if (!h->broken && h->nfree > 0)
			break;
		if (!wait) {
			r = SD_ERR_BUSY;
			goto out;
		}
		w = pthread_cond_timedwait(&h->cond, &h->lock, &deadline);
		if (w == ETIMEDOUT) {
			log_warn("no HSM session free within %d s",
			    ACQUIRE_WAIT_SEC);
			r = SD_ERR_HSM;
			goto out;
		}
	}
	*idx = h->freelist[--h->nfree];
	if (!h->sess[*idx].open &&
	    (r = open_session_locked(h, *idx, err, sizeof(err))) != 0) {
		log_error("HSM session: %s", err);
		h->freelist[h->nfree++] = *idx;
		r = r == SD_ERR_CONFIG ? SD_ERR_HSM : r;
		goto out;
	}
	if (k != NULL && (k->gen != h->gen || k->handle == CK_INVALID_HANDLE)) {
		if ((r = find_private_locked(h, h->sess[*idx].handle, k->label,
			 &k->handle, err, sizeof(err))) != 0) {
			log_error("HSM key: %s", err);
			h->freelist[h->nfree++] = *idx;
			r = SD_ERR_HSM;
			goto out;
		}
		k->gen = h->gen;
	}
	if (k != NULL)
		*kh = k->handle;
	h->busy++;
out:
	pthread_mutex_unlock(&h->lock);
	return r;
}

static void
release(struct hsm *h, struct hsm_key *k, unsigned int idx, CK_RV rv)
{
	enum rv_kind kind = classify(rv);

	pthread_mutex_lock(&h->lock);
	if (kind == RV_SESSION || kind == RV_TOKEN) {
		(void)h->f->C_CloseSession(h->sess[idx].handle);
		h->sess[idx].open = 0;
		/* Closing a token's last session logs out, and modules may
		 * then drop every object handle: find keys again. */
		h->gen++;
	}
	if (kind == RV_TOKEN)
		h->broken = 1;
	if (kind == RV_KEY && k != NULL)
		k->handle = CK_INVALID_HANDLE;
	h->freelist[h->nfree++] = idx;
	h->busy--;
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->lock);
}

struct hsm *
hsm_open(const char *module, const char *token_label, const char *pin_file,
    unsigned int sessions, char *errbuf, size_t errlen)
{
	CK_RV (*getlist)(CK_FUNCTION_LIST_PTR_PTR);
	struct hsm *h;
	unsigned int i, idx;

	if (sessions == 0 || sessions > SD_HSM_SESSIONS_MAX ||
	    strlen(token_label) >= sizeof(h->token_label) ||
	    strlen(pin_file) >= sizeof(h->pin_file)) {
		snprintf(errbuf, errlen, "invalid HSM parameters");
		return NULL;
	}
	if ((h = calloc(1, sizeof(*h))) == NULL ||
	    (h->sess = calloc(sessions, sizeof(*h->sess))) == NULL ||
	    (h->freelist = calloc(sessions, sizeof(*h->freelist))) == NULL) {
		snprintf(errbuf, errlen, "out of memory");
		goto fail_mem;
	}
	memcpy(h->token_label, token_label, strlen(token_label) + 1);
	memcpy(h->pin_file, pin_file, strlen(pin_file) + 1);
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->cond, NULL);
	h->nsess = sessions;
	for (i = 0; i < sessions; i++)
		h->freelist[h->nfree++] = sessions - 1 - i;
	if ((h->dl = dlopen(module, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		snprintf(errbuf, errlen, "cannot load PKCS#11 module %s: %s",
		    module, dlerror());
		goto fail;
	}
	*(void **)&getlist = dlsym(h->dl, "C_GetFunctionList");
	if (getlist == NULL || getlist(&h->f) != CKR_OK || h->f == NULL) {
		snprintf(errbuf, errlen, "%s: not a PKCS#11 module", module);
		goto fail;
	}
	if (module_init(h, errbuf, errlen) != 0)
		goto fail;
	/* Open the first session now so that a wrong PIN fails at start. */
	idx = h->freelist[h->nfree - 1];
	if (open_session_locked(h, idx, errbuf, errlen) != 0) {
		(void)h->f->C_Finalize(NULL);
		goto fail;
	}
	return h;
fail:
	if (h->dl != NULL)
		dlclose(h->dl);
	pthread_mutex_destroy(&h->lock);
	pthread_cond_destroy(&h->cond);
fail_mem:
	if (h != NULL) {
		free(h->sess);
		free(h->freelist);
		free(h);
	}
	return NULL;
}

void
hsm_close(struct hsm *h)
{
	struct hsm_key *k, *next;
	unsigned int i;

	if (h == NULL)
		return;
	for (i = 0; i < h->nsess; i++)
		if (h->sess[i].open) {
			(void)h->f->C_Logout(h->sess[i].handle);
			break;
		}
	(void)h->f->C_Finalize(NULL);
	dlclose(h->dl);
	for (k = h->keys; k != NULL; k = next) {
		next = k->next;
		EVP_PKEY_free(k->pub);
		free(k);
	}
	pthread_mutex_destroy(&h->lock);
	pthread_cond_destroy(&h->cond);
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

struct hsm_key *
hsm_key_find(struct hsm *h, const char *label, char *errbuf, size_t errlen)
{
	struct hsm_key *k;
	CK_KEY_TYPE type = 0;
	CK_ATTRIBUTE ta = { CKA_KEY_TYPE, &type, sizeof(type) };
	CK_OBJECT_HANDLE o;
	CK_SESSION_HANDLE s;
	unsigned int idx;
	int r;

	if (strlen(label) >= sizeof(k->label)) {
		snprintf(errbuf, errlen, "label too long");
		return NULL;
	}
	if ((k = calloc(1, sizeof(*k))) == NULL) {
		snprintf(errbuf, errlen, "out of memory");
		return NULL;
	}
	memcpy(k->label, label, strlen(label) + 1);
	if (acquire(h, NULL, &idx, NULL, 1) != 0) {
		snprintf(errbuf, errlen, "no HSM session");
		free(k);
		return NULL;
	}
	s = h->sess[idx].handle;
	pthread_mutex_lock(&h->lock);
	r = find_private_locked(h, s, label, &o, errbuf, errlen);
	k->gen = h->gen;
	pthread_mutex_unlock(&h->lock);
	if (r != 0)
		goto fail;
	k->handle = o;
	if (h->f->C_GetAttributeValue(s, o, &ta, 1) != CKR_OK ||
	    (type != CKK_EC && type != CKK_RSA)) {
		snprintf(
		    errbuf, errlen, "key \"%s\" is neither EC nor RSA", label);
		goto fail;
	}
	if (get_bool(h, s, o, CKA_SIGN) != 1) {
		snprintf(errbuf, errlen, "key \"%s\" may not sign (CKA_SIGN)",
		    label);
		goto fail;
	}
	if (get_bool(h, s, o, CKA_SENSITIVE) != 1 ||
	    get_bool(h, s, o, CKA_EXTRACTABLE) != 0) {
		snprintf(errbuf, errlen,
		    "key \"%s\" could leave the HSM "
		    "(CKA_SENSITIVE false or CKA_EXTRACTABLE true); refusing "
		    "it",
		    label);
		goto fail;
	}
	k->is_ec = type == CKK_EC;
	if ((k->pub = hsm_pubkey_load(
		 h->f, s, o, type, label, errbuf, errlen)) == NULL)
		goto fail;
	k->bits = (unsigned int)EVP_PKEY_get_bits(k->pub);
	release(h, NULL, idx, CKR_OK);
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
	release(h, NULL, idx, CKR_OK);
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
hsm_sign(struct hsm *h, struct hsm_key *k, enum hsm_scheme scheme,
    enum hsm_digest alg, const uint8_t *digest, size_t dglen, uint8_t *sig,
    size_t cap, size_t *siglen)
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
		if ((r = acquire(h, k, &idx, &kh, 1)) != 0)
			return r;
		s = h->sess[idx].handle;
		outlen = cap;
		rv = h->f->C_SignInit(s, &mech, kh);
		if (rv == CKR_OK)
			rv = h->f->C_Sign(s, in, inlen, sig, &outlen);
		release(h, k, idx, rv);
		if (classify(rv) != RV_SESSION && classify(rv) != RV_KEY)
			break;
		log_warn("signing with \"%s\": 0x%lx, retrying on a new "
			 "session",
		    k->label, rv);
	}
	if (rv != CKR_OK) {
		log_warn("signing with \"%s\" failed: 0x%lx", k->label, rv);
		return classify(rv) == RV_INPUT ? SD_ERR_UNSUPPORTED
						: SD_ERR_HSM;
	}
	*siglen = outlen;
	if (scheme == HSM_ECDSA)
		return ecdsa_to_der(sig, cap, siglen);
	return 0;
}

int
hsm_ready(struct hsm *h)
{
	CK_SESSION_INFO si;
	unsigned int idx;
	int ok, r;

	if ((r = acquire(h, NULL, &idx, NULL, 0)) != 0) {
		/* every session busy signing: the token works */
		pthread_mutex_lock(&h->lock);
		ok = r == SD_ERR_BUSY && !h->broken;
		pthread_mutex_unlock(&h->lock);
		return ok;
	}
	ok = h->f->C_GetSessionInfo(h->sess[idx].handle, &si) == CKR_OK &&
	    (si.state == CKS_RO_USER_FUNCTIONS ||
		si.state == CKS_RW_USER_FUNCTIONS);
	release(h, NULL, idx, ok ? CKR_OK : CKR_SESSION_HANDLE_INVALID);
	return ok;
}
