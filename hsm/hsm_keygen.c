/*
 * hsm_keygen: makes signing key pairs inside the token, so that a private
 * key is born sensitive and never extractable and no copy of it exists
 * outside the HSM, ever.  Generation runs on a read-write session of its
 * own (the pool's sessions are read-only) while it holds a pool session,
 * which keeps the application logged in and the module from being
 * re-initialized underneath.  The new pair gets a random CKA_ID; its
 * attributes are read back, because a token may quietly ignore a template
 * attribute instead of failing; then the key is loaded the ordinary way
 * (hsm_key_find), so a generated key passes exactly the checks a
 * configured one does.  Whatever fails after C_GenerateKeyPair destroys
 * both halves: no half-made key stays behind under a label someone will
 * want again.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/rand.h>

#include "b64.h"
#include "err.h"
#include "hsm_p11.h"
#include "log.h"
#include "secret.h"

#define FIND_MAX 4           /* objects one search here looks at */
#define SECRET_ATTR_MAX 1024 /* RSA-4096 private exponent: 512 bytes */

/* CKA_EC_PARAMS of the named curves: DER OBJECT IDENTIFIERs */
static const uint8_t oid_p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d,
	0x03, 0x01, 0x07 }; /* 1.2.840.10045.3.1.7 prime256v1 */
static const uint8_t oid_p384[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00,
	0x22 }; /* 1.3.132.0.34 secp384r1 */

static const struct keyalg {
	enum hsm_keyalg alg;
	const char *name;
	CK_ULONG bits;      /* RSA modulus; 0 for EC */
	const uint8_t *oid; /* EC curve */
	size_t oidlen;
} keyalgs[] = {
	{ HSM_ALG_EC_P256, "ec-p256", 0, oid_p256, sizeof(oid_p256) },
	{ HSM_ALG_EC_P384, "ec-p384", 0, oid_p384, sizeof(oid_p384) },
	{ HSM_ALG_RSA_2048, "rsa-2048", 2048, NULL, 0 },
	{ HSM_ALG_RSA_3072, "rsa-3072", 3072, NULL, 0 },
	{ HSM_ALG_RSA_4096, "rsa-4096", 4096, NULL, 0 },
};
#define NKEYALGS (sizeof(keyalgs) / sizeof(keyalgs[0]))

struct want {
	CK_ATTRIBUTE_TYPE type;
	CK_BBOOL value;
	const char *name;
};

/* What the new halves must say when read back.  CKA_ALWAYS_SENSITIVE and
 * CKA_NEVER_EXTRACTABLE are the token's own word that the key never
 * existed in the clear, which the template alone cannot promise. */
static const struct want want_private[] = {
	{ CKA_TOKEN, CK_TRUE, "CKA_TOKEN" },
	{ CKA_PRIVATE, CK_TRUE, "CKA_PRIVATE" },
	{ CKA_SENSITIVE, CK_TRUE, "CKA_SENSITIVE" },
	{ CKA_ALWAYS_SENSITIVE, CK_TRUE, "CKA_ALWAYS_SENSITIVE" },
	{ CKA_EXTRACTABLE, CK_FALSE, "CKA_EXTRACTABLE" },
	{ CKA_NEVER_EXTRACTABLE, CK_TRUE, "CKA_NEVER_EXTRACTABLE" },
	{ CKA_SIGN, CK_TRUE, "CKA_SIGN" },
	{ CKA_DECRYPT, CK_FALSE, "CKA_DECRYPT" },
	{ CKA_UNWRAP, CK_FALSE, "CKA_UNWRAP" },
	{ CKA_DERIVE, CK_FALSE, "CKA_DERIVE" },
};
static const struct want want_public[] = {
	{ CKA_TOKEN, CK_TRUE, "CKA_TOKEN" },
	{ CKA_PRIVATE, CK_FALSE, "CKA_PRIVATE" },
	{ CKA_VERIFY, CK_TRUE, "CKA_VERIFY" },
	{ CKA_ENCRYPT, CK_FALSE, "CKA_ENCRYPT" },
	{ CKA_WRAP, CK_FALSE, "CKA_WRAP" },
};

/* One generation at a time in this process, from the label check to the
 * loaded key: two threads must not both find a label free and use it. */
static pthread_mutex_t gen_lock = PTHREAD_MUTEX_INITIALIZER;

static const struct keyalg *
keyalg_get(enum hsm_keyalg alg)
{
	size_t i;

	for (i = 0; i < NKEYALGS; i++)
		if (keyalgs[i].alg == alg)
			return &keyalgs[i];
	return NULL;
}

int
hsm_keyalg_from(const char *name)
{
	size_t i;

	for (i = 0; name != NULL && i < NKEYALGS; i++)
		if (strcmp(keyalgs[i].name, name) == 0)
			return (int)keyalgs[i].alg;
	return -1;
}

const char *
hsm_keyalg_name(enum hsm_keyalg alg)
{
	const struct keyalg *a = keyalg_get(alg);

	return a != NULL ? a->name : NULL;
}

size_t
hsm_key_id(const struct hsm_key *k, uint8_t *out, size_t cap)
{
	size_t n = k->id_len < cap ? k->id_len : cap;

	memcpy(out, k->id, n);
	return n;
}

/* Labels end up in logs, the ledger and pkcs11: URIs: printable ASCII. */
static int
label_ok(const char *label)
{
	size_t i, n;

	if (label == NULL)
		return 0;
	n = strnlen(label, SD_LABEL_MAX);
	if (n == 0 || n >= SD_LABEL_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)label[i] < 0x20 ||
		    (unsigned char)label[i] > 0x7e)
			return 0;
	return 1;
}

/*
 * What to give the pool back after rv on our own session: only a lost
 * login or token says anything about the pool's sessions.  A template the
 * token refused must not make the pool re-initialize the module.
 */
CK_RV
hsm_pool_rv(CK_RV rv)
{
	switch (rv) {
	case CKR_USER_NOT_LOGGED_IN:
	case CKR_DEVICE_ERROR:
	case CKR_DEVICE_REMOVED:
	case CKR_TOKEN_NOT_PRESENT:
	case CKR_CRYPTOKI_NOT_INITIALIZED:
	case CKR_GENERAL_ERROR:
		return rv;
	default:
		return CKR_OK;
	}
}

/* Has this struct hsm found a key by that label before?  hsm_key_find
 * would hand back that old key (and its public key) for the new one. */
static int
label_cached(struct hsm *h, const char *label)
{
	struct hsm_key *k;

	pthread_mutex_lock(&h->lock);
	for (k = h->keys; k != NULL; k = k->next)
		if (strcmp(k->label, label) == 0)
			break;
	pthread_mutex_unlock(&h->lock);
	return k != NULL;
}

/*
 * Open a read-write session.  The caller holds a pool session: login is
 * per application, so the new session is logged in too, and the pool
 * cannot re-initialize the module (the only time h->slot changes) while
 * a session is checked out.
 */
CK_RV
hsm_open_rw(struct hsm *h, CK_SESSION_HANDLE *s)
{
	CK_SESSION_INFO si;
	char err[256];
	CK_RV rv;

	rv = h->f->C_OpenSession(
	    h->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, s);
	/* the pool took every session the token opens: one of its idle
	 * ones makes room, for good */
	if (rv == CKR_SESSION_COUNT && hsm_pool_shed(h))
		rv = h->f->C_OpenSession(h->slot,
		    CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, s);
	if (rv != CKR_OK)
		return rv;
	/* the application is logged in (the caller holds a pool session); a
	 * module that does not say so of a new session is told again, and
	 * answers CKR_USER_ALREADY_LOGGED_IN */
	if ((rv = h->f->C_GetSessionInfo(*s, &si)) == CKR_OK &&
	    si.state != CKS_RW_USER_FUNCTIONS &&
	    (hsm_pool_pin_login(h, *s, CKU_USER, &rv, err, sizeof(err)) != 0 ||
		(rv = h->f->C_GetSessionInfo(*s, &si)) != CKR_OK ||
		si.state != CKS_RW_USER_FUNCTIONS))
		rv = rv != CKR_OK ? rv : CKR_USER_NOT_LOGGED_IN;
	if (rv != CKR_OK)
		(void)h->f->C_CloseSession(*s);
	return rv;
}

/* Objects of any class labelled label (and with CKA_ID id, unless NULL):
 * up to FIND_MAX of them in found, how many in *n. */
static CK_RV
find_labelled(struct hsm *h, CK_SESSION_HANDLE s, const char *label,
    const uint8_t *id, CK_OBJECT_HANDLE *found, CK_ULONG *n)
{
	CK_ATTRIBUTE t[2] = {
		{ CKA_LABEL, (void *)label, strlen(label) },
		{ CKA_ID, (void *)id, HSM_KEY_ID_LEN },
	};
	CK_RV rv;

	*n = 0;
	if ((rv = h->f->C_FindObjectsInit(s, t, id != NULL ? 2 : 1)) != CKR_OK)
		return rv;
	rv = h->f->C_FindObjects(s, found, FIND_MAX, n);
	(void)h->f->C_FindObjectsFinal(s);
	return rv;
}

/* Return values by which a token may refuse CKA_MODIFIABLE in a template. */
static int
template_refused(CK_RV rv)
{
	return rv == CKR_ATTRIBUTE_TYPE_INVALID ||
	    rv == CKR_ATTRIBUTE_VALUE_INVALID ||
	    rv == CKR_ATTRIBUTE_READ_ONLY || rv == CKR_TEMPLATE_INCONSISTENT;
}

static CK_RV
generate(struct hsm *h, CK_SESSION_HANDLE s, const struct keyalg *a,
    const char *label, const uint8_t *id, CK_OBJECT_HANDLE *pub,
    CK_OBJECT_HANDLE *priv)
{
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ULONG bits = a->bits;
	CK_BYTE e65537[] = { 0x01, 0x00, 0x01 };
	CK_MECHANISM mech = { a->bits != 0 ? CKM_RSA_PKCS_KEY_PAIR_GEN
					   : CKM_EC_KEY_PAIR_GEN,
		NULL, 0 };
	CK_ATTRIBUTE pubt[9] = {
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &no, sizeof(no) },
		{ CKA_VERIFY, &yes, sizeof(yes) },
		{ CKA_ENCRYPT, &no, sizeof(no) },
		{ CKA_WRAP, &no, sizeof(no) },
		{ CKA_LABEL, (void *)label, strlen(label) },
		{ CKA_ID, (void *)id, HSM_KEY_ID_LEN },
	};
	CK_ATTRIBUTE privt[] = {
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &yes, sizeof(yes) },
		{ CKA_SENSITIVE, &yes, sizeof(yes) },
		{ CKA_EXTRACTABLE, &no, sizeof(no) },
		{ CKA_SIGN, &yes, sizeof(yes) },
		{ CKA_DECRYPT, &no, sizeof(no) },
		{ CKA_UNWRAP, &no, sizeof(no) },
		{ CKA_DERIVE, &no, sizeof(no) },
		{ CKA_LABEL, (void *)label, strlen(label) },
		{ CKA_ID, (void *)id, HSM_KEY_ID_LEN },
		{ CKA_MODIFIABLE, &no, sizeof(no) }, /* last: see below */
	};
	CK_ULONG npub = 7, npriv = sizeof(privt) / sizeof(privt[0]);
	CK_RV rv;

	if (a->bits != 0) {
		pubt[npub++] =
		    (CK_ATTRIBUTE){ CKA_MODULUS_BITS, &bits, sizeof(bits) };
		pubt[npub++] = (CK_ATTRIBUTE){ CKA_PUBLIC_EXPONENT, e65537,
			sizeof(e65537) };
	} else
		pubt[npub++] =
		    (CK_ATTRIBUTE){ CKA_EC_PARAMS, (void *)a->oid, a->oidlen };
	rv = h->f->C_GenerateKeyPair(
	    s, &mech, pubt, npub, privt, npriv, pub, priv);
	/*
	 * CKA_MODIFIABLE false only stops later changes to the key's
	 * attributes (SoftHSM accepts it).  A token that refuses it still
	 * gets a key that is sensitive and never extractable, which is what
	 * keeps it inside: retry without it, and say so.
	 */
	if (template_refused(rv)) {
		log_warn("the token refused CKA_MODIFIABLE false (0x%lx); "
			 "generating \"%s\" without it",
		    rv, label);
		rv = h->f->C_GenerateKeyPair(
		    s, &mech, pubt, npub, privt, npriv - 1, pub, priv);
	}
	return rv;
}

/* Read boolean attributes back and compare them with what was asked. */
static int
check_attrs(struct hsm *h, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
    const struct want *w, size_t n, const char *what, char *errbuf,
    size_t errlen)
{
	CK_BBOOL v;
	CK_ATTRIBUTE a = { 0, &v, sizeof(v) };
	size_t i;

	for (i = 0; i < n; i++) {
		a.type = w[i].type;
		a.ulValueLen = sizeof(v);
		v = w[i].value != CK_FALSE ? CK_FALSE : CK_TRUE;
		if (h->f->C_GetAttributeValue(s, o, &a, 1) != CKR_OK ||
		    a.ulValueLen != sizeof(v) ||
		    (v != CK_FALSE) != (w[i].value != CK_FALSE)) {
			snprintf(errbuf, errlen,
			    "the token made a %s key without %s %s", what,
			    w[i].name, w[i].value ? "true" : "false");
			return -1;
		}
	}
	return 0;
}

/* Destroy the objects labelled label with CKA_ID id, on session s. */
static int
destroy_labelled(
    struct hsm *h, CK_SESSION_HANDLE s, const char *label, const uint8_t *id)
{
	CK_OBJECT_HANDLE found[FIND_MAX];
	CK_ULONG n, i;
	CK_RV rv;

	if ((rv = find_labelled(h, s, label, id, found, &n)) != CKR_OK)
		return -1;
	for (i = 0; i < n; i++)
		if ((rv = h->f->C_DestroyObject(s, found[i])) != CKR_OK)
			return -1;
	return 0;
}

/* A pair made but not to be kept: destroyed by handle (a token that
 * ignored CKA_LABEL or CKA_ID in the template would hide the objects from
 * a search), both tried, so that no half is left if it can be helped. */
static void
unmake_pair(struct hsm *h, CK_SESSION_HANDLE s, const char *label,
    const uint8_t *id, CK_OBJECT_HANDLE pub, CK_OBJECT_HANDLE priv)
{
	char idhex[2 * HSM_KEY_ID_LEN + 1];
	CK_RV drv, pdrv;

	drv = h->f->C_DestroyObject(s, priv);
	if ((pdrv = h->f->C_DestroyObject(s, pub)) != CKR_OK)
		drv = pdrv;
	if (drv != CKR_OK) {
		sd_hex(id, HSM_KEY_ID_LEN, idhex);
		log_error("could not destroy the new key pair \"%s\" "
			  "(CKA_ID %s): 0x%lx; remove it by hand",
		    label, idhex, drv);
	}
}

/*
 * Under gen_lock: check that label is free, generate the pair on a
 * read-write session of our own and check what the token made.  Returns
 * 0, SD_ERR_CONFLICT or SD_ERR_HSM; on failure nothing new is left.
 */
static int
make_pair(struct hsm *h, const struct keyalg *a, const char *label,
    const uint8_t *id, char *errbuf, size_t errlen)
{
	CK_OBJECT_HANDLE found[FIND_MAX];
	CK_OBJECT_HANDLE pub = CK_INVALID_HANDLE, priv = CK_INVALID_HANDLE;
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	CK_ULONG n = 0, nid = 0;
	CK_RV rv = CKR_OK;
	unsigned int idx;
	int r = SD_ERR_HSM, opened = 0, made = 0;

	if (label_cached(h, label)) {
		snprintf(errbuf, errlen,
		    "label \"%s\" belongs to a key seald already loaded",
		    label);
		return SD_ERR_CONFLICT;
	}
	if (hsm_pool_acquire(h, NULL, &idx, NULL, 1) != 0) {
		snprintf(errbuf, errlen, "no HSM session");
		return SD_ERR_HSM;
	}
	if ((rv = hsm_open_rw(h, &s)) != CKR_OK) {
		snprintf(errbuf, errlen,
		    "cannot open a read-write session: 0x%lx", rv);
		goto out;
	}
	opened = 1;
	/* Any class: a certificate or data object under the label would make
	 * pkcs11: URIs and tools that go by label ambiguous. */
	if ((rv = find_labelled(h, s, label, NULL, found, &n)) != CKR_OK) {
		snprintf(errbuf, errlen, "C_FindObjects: 0x%lx", rv);
		goto out;
	}
	if (n > 0) {
		snprintf(errbuf, errlen,
		    "label \"%s\" is already used by an object on the token",
		    label);
		r = SD_ERR_CONFLICT;
		goto out;
	}
	if ((rv = generate(h, s, a, label, id, &pub, &priv)) != CKR_OK) {
		snprintf(errbuf, errlen, "C_GenerateKeyPair (%s): 0x%lx",
		    a->name, rv);
		goto out;
	}
	made = 1;
	/* Exactly our two objects carry the label, and both our id: another
	 * process may have used the label since the check above. */
	if ((rv = find_labelled(h, s, label, NULL, found, &n)) != CKR_OK ||
	    (rv = find_labelled(h, s, label, id, found, &nid)) != CKR_OK) {
		snprintf(errbuf, errlen, "C_FindObjects: 0x%lx", rv);
		goto out;
	}
	if (n != 2 || nid != 2) {
		snprintf(errbuf, errlen,
		    "label \"%s\" was used by another object meanwhile", label);
		r = SD_ERR_CONFLICT;
		goto out;
	}
	if (check_attrs(h, s, priv, want_private,
		sizeof(want_private) / sizeof(want_private[0]), "private",
		errbuf, errlen) != 0 ||
	    check_attrs(h, s, pub, want_public,
		sizeof(want_public) / sizeof(want_public[0]), "public", errbuf,
		errlen) != 0)
		goto out;
	r = 0;
out:
	if (r != 0 && made)
		unmake_pair(h, s, label, id, pub, priv);
	if (opened)
		(void)h->f->C_CloseSession(s);
	hsm_pool_release(h, NULL, idx, hsm_pool_rv(rv));
	return r;
}

/* Remove the pair hsm_key_find refused, on a new read-write session. */
static void
discard(struct hsm *h, const char *label, const uint8_t *id)
{
	char idhex[2 * HSM_KEY_ID_LEN + 1];
	CK_SESSION_HANDLE s;
	unsigned int idx;
	CK_RV rv = CKR_OK;
	int r = -1;

	if (hsm_pool_acquire(h, NULL, &idx, NULL, 1) == 0) {
		if ((rv = hsm_open_rw(h, &s)) == CKR_OK) {
			r = destroy_labelled(h, s, label, id);
			(void)h->f->C_CloseSession(s);
		}
		hsm_pool_release(h, NULL, idx, hsm_pool_rv(rv));
	}
	if (r != 0) {
		sd_hex(id, HSM_KEY_ID_LEN, idhex);
		log_error("could not destroy the new key pair \"%s\" (CKA_ID "
			  "%s): remove it from the token by hand",
		    label, idhex);
	}
}

struct hsm_key *
hsm_generate(struct hsm *h, enum hsm_keyalg alg, const char *label,
    uint8_t id[HSM_KEY_ID_LEN], int *err_code, char *errbuf, size_t errlen)
{
	const struct keyalg *a = keyalg_get(alg);
	char why[256], idhex[2 * HSM_KEY_ID_LEN + 1];
	struct hsm_key *k = NULL;
	int r, ignored;

	if (err_code == NULL)
		err_code = &ignored;
	*err_code = SD_ERR_BAD_REQUEST;
	if (a == NULL) {
		snprintf(errbuf, errlen, "unknown key algorithm");
		return NULL;
	}
	if (!label_ok(label)) {
		snprintf(errbuf, errlen,
		    "a key label is 1 to %d printable ASCII characters",
		    SD_LABEL_MAX - 1);
		return NULL;
	}
	*err_code = SD_ERR_HSM;
	if (RAND_bytes(id, HSM_KEY_ID_LEN) != 1) {
		snprintf(errbuf, errlen, "no random bytes for the key id");
		return NULL;
	}
	pthread_mutex_lock(&gen_lock);
	if ((r = make_pair(h, a, label, id, errbuf, errlen)) != 0) {
		*err_code = r == SD_ERR_CONFLICT ? r : SD_ERR_HSM;
		goto out;
	}
	if ((k = hsm_key_find(h, label, why, sizeof(why))) == NULL) {
		discard(h, label, id);
		snprintf(errbuf, errlen, "new key \"%s\" removed again: %s",
		    label, why);
		goto out;
	}
	*err_code = 0;
	sd_hex(id, HSM_KEY_ID_LEN, idhex);
	log_info("generated %s key \"%s\" in the token (CKA_ID %s)", a->name,
	    label, idhex);
out:
	pthread_mutex_unlock(&gen_lock);
	return k;
}

int
hsm_key_value_readable(struct hsm *h, const char *label)
{
	/* EC: CKA_VALUE; RSA: d and the CRT values, each enough to sign */
	static const CK_ATTRIBUTE_TYPE secret[] = { CKA_VALUE,
		CKA_PRIVATE_EXPONENT, CKA_PRIME_1, CKA_PRIME_2, CKA_EXPONENT_1,
		CKA_EXPONENT_2, CKA_COEFFICIENT };
	uint8_t buf[SECRET_ATTR_MAX];
	CK_ATTRIBUTE a = { 0, buf, sizeof(buf) };
	CK_OBJECT_HANDLE o;
	CK_RV rv, bad = CKR_OK;
	char err[256];
	unsigned int idx;
	size_t i;
	int r, res = 0;

	if (hsm_pool_acquire(h, NULL, &idx, NULL, 1) != 0)
		return -1;
	if ((r = hsm_pool_find_private(
		 h, h->sess[idx].handle, label, &o, err, sizeof(err))) != 0) {
		log_warn("%s", err);
		/* as hsm_pool_acquire: a failed search leaves the session in
		 * doubt; not finding the key does not */
		hsm_pool_release(h, NULL, idx,
		    r == SD_ERR_CONFIG ? CKR_OK : CKR_SESSION_CLOSED);
		return -1;
	}
	for (i = 0; i < sizeof(secret) / sizeof(secret[0]) && res != 1; i++) {
		a.type = secret[i];
		a.ulValueLen = sizeof(buf);
		rv = h->f->C_GetAttributeValue(h->sess[idx].handle, o, &a, 1);
		switch (rv) {
		case CKR_OK:
			if (a.ulValueLen != CK_UNAVAILABLE_INFORMATION &&
			    a.ulValueLen > 0)
				res = 1;
			break;
		case CKR_BUFFER_TOO_SMALL: /* it would hand out more */
			res = 1;
			break;
		case CKR_ATTRIBUTE_SENSITIVE:
		case CKR_ATTRIBUTE_TYPE_INVALID: /* not of this key type */
			break;
		default:
			bad = rv;
			break;
		}
	}
	secret_wipe(buf, sizeof(buf));
	if (res == 0 && bad != CKR_OK) {
		log_warn("reading attributes of \"%.100s\": 0x%lx", label, bad);
		res = -1;
	}
	hsm_pool_release(h, NULL, idx, res == -1 ? hsm_pool_rv(bad) : CKR_OK);
	return res;
}

/* Take the key labelled label out of h's cache, where stale handles are
 * of no use; kept until hsm_close, since a state in force may still point
 * at it (its signatures then fail as the token's key is gone). */
static void
uncache(struct hsm *h, const char *label, uint8_t *id, int *have_id)
{
	struct hsm_key **pp, *k;

	*have_id = 0;
	pthread_mutex_lock(&h->lock);
	for (pp = &h->keys; (k = *pp) != NULL; pp = &k->next)
		if (strcmp(k->label, label) == 0)
			break;
	if (k != NULL) {
		*pp = k->next;
		k->next = h->dead;
		h->dead = k;
		if (k->id_len == HSM_KEY_ID_LEN) {
			memcpy(id, k->id, HSM_KEY_ID_LEN);
			*have_id = 1;
		}
	}
	pthread_mutex_unlock(&h->lock);
}

int
hsm_key_destroy(struct hsm *h, const char *label)
{
	uint8_t id[HSM_KEY_ID_LEN];
	CK_SESSION_HANDLE s;
	unsigned int idx;
	CK_RV rv = CKR_OK;
	int r = SD_ERR_HSM, have_id;

	if (!label_ok(label))
		return SD_ERR_BAD_REQUEST;
	pthread_mutex_lock(&gen_lock);
	uncache(h, label, id, &have_id);
	/* only the objects of the key seald found (label and id): never
	 * whatever else carries the label */
	if (have_id && hsm_pool_acquire(h, NULL, &idx, NULL, 1) == 0) {
		if ((rv = hsm_open_rw(h, &s)) == CKR_OK) {
			r = destroy_labelled(
				h, s, label, have_id ? id : NULL) == 0
			    ? 0
			    : SD_ERR_HSM;
			(void)h->f->C_CloseSession(s);
		}
		hsm_pool_release(h, NULL, idx, hsm_pool_rv(rv));
	}
	pthread_mutex_unlock(&gen_lock);
	if (r == 0)
		log_info("destroyed the key pair \"%s\" in the token", label);
	return r;
}
