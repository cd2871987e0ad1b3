/*
 * hsm_data: small data objects in the token (CKO_DATA, a token object,
 * private, CKA_APPLICATION "seald"), for the ledger's witness of its
 * newest checkpoint.  A value is replaced by making the new object first
 * and destroying the older ones after: a crash in between leaves two,
 * and the reader takes what it needs from each, never none.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "hsm_p11.h"
#include "log.h"

#define DATA_FIND_MAX 8 /* objects of one label looked at */
static const char app[] = "seald";

/* Data objects of seald's labelled label: up to DATA_FIND_MAX. */
static CK_RV
find_data(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, const char *label,
    CK_OBJECT_HANDLE *found, CK_ULONG *n)
{
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_ATTRIBUTE t[3] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_LABEL, (void *)label, strlen(label) },
		{ CKA_APPLICATION, (void *)app, sizeof(app) - 1 },
	};
	CK_RV rv;

	*n = 0;
	if ((rv = f->C_FindObjectsInit(s, t, 3)) != CKR_OK)
		return rv;
	rv = f->C_FindObjects(s, found, DATA_FIND_MAX, n);
	(void)f->C_FindObjectsFinal(s);
	return rv;
}

/* Put: make the new object, then destroy the old ones. */
static CK_RV
put(struct hsm *h, CK_SESSION_HANDLE s, const char *label, const void *val,
    size_t len)
{
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_BBOOL yes = CK_TRUE;
	CK_ATTRIBUTE t[6] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &yes, sizeof(yes) },
		{ CKA_LABEL, (void *)label, strlen(label) },
		{ CKA_APPLICATION, (void *)app, sizeof(app) - 1 },
		{ CKA_VALUE, (void *)val, len },
	};
	CK_OBJECT_HANDLE old[DATA_FIND_MAX], made;
	CK_ULONG n = 0, i;
	CK_RV rv;

	if ((rv = find_data(h->f, s, label, old, &n)) != CKR_OK ||
	    (rv = h->f->C_CreateObject(s, t, 6, &made)) != CKR_OK)
		return rv;
	for (i = 0; i < n; i++)
		if (h->f->C_DestroyObject(s, old[i]) != CKR_OK)
			rv = CKR_ACTION_PROHIBITED; /* the old ones stay */
	return rv;
}

/* Get: each object's value to each(). */
static CK_RV
get(struct hsm *h, CK_SESSION_HANDLE s, const char *label,
    void (*each)(void *, const void *, size_t), void *arg)
{
	CK_OBJECT_HANDLE found[DATA_FIND_MAX];
	CK_ATTRIBUTE a;
	CK_ULONG n = 0, i;
	uint8_t *buf;
	CK_RV rv;

	if ((rv = find_data(h->f, s, label, found, &n)) != CKR_OK)
		return rv;
	if ((buf = malloc(HSM_DATA_MAX)) == NULL)
		return CKR_HOST_MEMORY;
	for (i = 0; i < n; i++) {
		a.type = CKA_VALUE;
		a.pValue = buf;
		a.ulValueLen = HSM_DATA_MAX;
		if (h->f->C_GetAttributeValue(s, found[i], &a, 1) == CKR_OK &&
		    a.ulValueLen <= HSM_DATA_MAX)
			each(arg, buf, a.ulValueLen);
	}
	free(buf);
	return CKR_OK;
}

int
hsm_data_put(struct hsm *h, const char *label, const void *val, size_t len)
{
	CK_SESSION_HANDLE s;
	unsigned int idx;
	CK_RV rv;

	if (len > HSM_DATA_MAX)
		return SD_ERR_BAD_REQUEST;
	if (hsm_pool_acquire(h, NULL, &idx, NULL, 1) != 0)
		return SD_ERR_HSM;
	if ((rv = hsm_open_rw(h, &s)) == CKR_OK) {
		rv = put(h, s, label, val, len);
		(void)h->f->C_CloseSession(s);
	}
	hsm_pool_release(h, NULL, idx, hsm_pool_rv(rv));
	if (rv == CKR_OK)
		return 0;
	if (rv == CKR_ACTION_PROHIBITED)
		return SD_ERR_CONFLICT;
	log_debug("HSM data object \"%s\": 0x%lx", label, (unsigned long)rv);
	return rv == CKR_TEMPLATE_INCONSISTENT ||
		rv == CKR_FUNCTION_NOT_SUPPORTED ||
		rv == CKR_ATTRIBUTE_VALUE_INVALID ||
		rv == CKR_ATTRIBUTE_TYPE_INVALID ||
		rv == CKR_TOKEN_WRITE_PROTECTED
	    ? SD_ERR_UNSUPPORTED
	    : SD_ERR_HSM;
}

int
hsm_data_get(struct hsm *h, const char *label,
    void (*each)(void *arg, const void *val, size_t len), void *arg)
{
	CK_SESSION_HANDLE s;
	unsigned int idx;
	CK_RV rv;

	if (hsm_pool_acquire(h, NULL, &idx, NULL, 1) != 0)
		return SD_ERR_HSM;
	if ((rv = hsm_open_rw(h, &s)) == CKR_OK) {
		rv = get(h, s, label, each, arg);
		(void)h->f->C_CloseSession(s);
	}
	hsm_pool_release(h, NULL, idx, hsm_pool_rv(rv));
	return rv == CKR_OK ? 0 : SD_ERR_HSM;
}
