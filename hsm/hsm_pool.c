/*
 * hsm_pool: the PKCS#11 session pool.  One module, one token, `n`
 * sessions shared by the signing workers.  Errors are sorted into three
 * kinds: the session is bad (close it, open a new one on next use), the
 * token or module is bad (finalize and initialize again once no session
 * is checked out), or a key handle is stale (find it again).
 *
 * The pool lock is never held across a PKCS#11 call, so a hung token
 * blocks only the threads that called it: the others time out waiting
 * for a session.  Readiness is a cached flag kept by the calls themselves
 * and by a monitor thread that probes the token when it is idle.  A PIN
 * the token refused is not tried again until the PIN file changes, so a
 * wrong file cannot use up the token's PIN attempts.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "clock.h"
#include "err.h"
#include "hsm_p11.h"
#include "log.h"
#include "secret.h"

#define ACQUIRE_WAIT_MS 5000    /* longest wait for a free session */
#define RECOVER_INTERVAL_MS 100 /* at most one re-initialization per this */
#define MONITOR_INTERVAL_MS 1000
#define MAX_SLOTS 256
#define STALL_MS 2000 /* every session busy, none done for this long */

static long
now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long)t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

enum hsm_rv_kind
hsm_rv_kind(CK_RV rv)
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
	case CKR_PIN_INCORRECT:
	case CKR_PIN_LOCKED:
		return RV_SESSION;
	default: /* device removed, token not present, general error, ... */
		return RV_TOKEN;
	}
}

int
hsm_token_info_is(const CK_TOKEN_INFO *ti, const struct p11uri *u)
{
	return (!(u->has & P11URI_TOKEN) ||
		   p11uri_field_is(ti->label, sizeof(ti->label), u->token)) &&
	    (!(u->has & P11URI_MANUFACTURER) ||
		p11uri_field_is(ti->manufacturerID, sizeof(ti->manufacturerID),
		    u->manufacturer)) &&
	    (!(u->has & P11URI_SERIAL) ||
		p11uri_field_is(
		    ti->serialNumber, sizeof(ti->serialNumber), u->serial)) &&
	    (!(u->has & P11URI_MODEL) ||
		p11uri_field_is(ti->model, sizeof(ti->model), u->model));
}

int
hsm_token_is(const struct hsm *h, const struct p11uri *u)
{
	return hsm_token_info_is(&h->tinfo, u);
}

static int
find_slot(struct hsm *h, char *errbuf, size_t errlen)
{
	CK_SLOT_ID slots[MAX_SLOTS];
	CK_ULONG n = MAX_SLOTS, i;
	CK_TOKEN_INFO ti;
	CK_RV rv;

	if ((rv = h->f->C_GetSlotList(CK_TRUE, slots, &n)) != CKR_OK) {
		snprintf(errbuf, errlen, "C_GetSlotList: 0x%lx", rv);
		return SD_ERR_HSM;
	}
	for (i = 0; i < n; i++) {
		if (h->f->C_GetTokenInfo(slots[i], &ti) != CKR_OK ||
		    !hsm_token_info_is(&ti, &h->tok))
			continue;
		if (!(ti.flags & CKF_TOKEN_INITIALIZED))
			break;
		h->slot = slots[i];
		h->tinfo = ti;
		return 0;
	}
	snprintf(errbuf, errlen, "no initialized token %s \"%.300s\"",
	    p11uri_is(h->token_name) ? "matching" : "labelled", h->token_name);
	return SD_ERR_HSM;
}

/*
 * p11-kit's proxy module loads every module p11-kit is configured with,
 * a user's own ~/.config/pkcs11/modules among them, from any folder:
 * through it pkcs11.module_dirs would bound nothing.  It is libp11-kit
 * itself (p11-kit-proxy.so links to it): the object that defines the
 * module's C_GetFunctionList also defines p11-kit's module loader.
 * (p11-kit's client module, the RPC to a token served elsewhere, loads
 * nothing and is not refused; its C_GetInfo may still say "PKCS#11 Kit
 * Proxy Module", the server's.)
 */
static int
is_p11kit_proxy(void *dl, void *getlist)
{
	void *loader = dlsym(dl, "p11_kit_modules_load");
	Dl_info a, b;

	return loader != NULL && dladdr(getlist, &a) != 0 &&
	    dladdr(loader, &b) != 0 && a.dli_fbase == b.dli_fbase;
}

static int
initialize(struct hsm *h, char *errbuf, size_t errlen)
{
	CK_C_INITIALIZE_ARGS args;
	CK_RV rv;

	memset(&args, 0, sizeof(args));
	args.flags = CKF_OS_LOCKING_OK;
	if (h->init_args[0] != '\0')
		args.pReserved = h->init_args;
	rv = h->f->C_Initialize(&args);
	if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		snprintf(errbuf, errlen, "C_Initialize: 0x%lx", rv);
		return SD_ERR_HSM;
	}
	return 0;
}

static int
module_init(struct hsm *h, char *errbuf, size_t errlen)
{
	int r = initialize(h, errbuf, errlen);

	return r != 0 ? r : find_slot(h, errbuf, errlen);
}

/* What a module is known to do otherwise than PKCS#11 says, by what it
 * says of itself (C_GetInfo). */
static void
quirks(struct hsm *h)
{
	static const char nss[] = "Mozilla Foundation";
	CK_INFO in;

	if (h->f->C_GetInfo(&in) != CKR_OK)
		return;
	/* NSS softokn: a key read back from its database says CKA_LOCAL
	 * false, whoever made it */
	if (memcmp(in.manufacturerID, nss, sizeof(nss) - 1) == 0) {
		h->local_not_kept = 1;
		log_info("PKCS#11 module of %.*s: keys it made are known by "
			 "CKA_ALWAYS_SENSITIVE and CKA_NEVER_EXTRACTABLE (it "
			 "does not keep CKA_LOCAL)",
		    (int)(sizeof(nss) - 1), nss);
	}
}

/* A token that says how many sessions it opens (ulMaxSessionCount; most
 * network HSMs, per partition) gets that many less one: seald's key
 * generation and its witness open a read-write session besides the
 * pool's.  Called before any session is open. */
static void
session_limit(struct hsm *h)
{
	CK_TOKEN_INFO ti;
	CK_ULONG max;

	if (h->f->C_GetTokenInfo(h->slot, &ti) != CKR_OK)
		return;
	max = ti.ulMaxSessionCount;
	if (max == CK_EFFECTIVELY_INFINITE ||
	    max == CK_UNAVAILABLE_INFORMATION || max > h->nsess)
		return;
	h->nlive = max > 1 ? (unsigned int)max - 1 : 1;
	h->nfree = h->nlive; /* the freelist's top indexes: 0 .. nlive-1 */
	memmove(h->freelist, h->freelist + (h->nsess - h->nlive),
	    h->nlive * sizeof(*h->freelist));
	log_warn("the token opens at most %lu sessions: seald signs on %u, "
		 "not the %u of pkcs11.sessions, and keeps one for its "
		 "read-write work",
	    (unsigned long)max, h->nlive, h->nsess);
}

int
hsm_pool_init(struct hsm *h, const char *module, char *errbuf, size_t errlen)
{
	CK_RV (*getlist)(CK_FUNCTION_LIST_PTR_PTR);
	int r;

	if ((h->dl = dlopen(module, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		snprintf(errbuf, errlen, "cannot load PKCS#11 module %s: %s",
		    module, dlerror());
		return SD_ERR_HSM;
	}
	*(void **)&getlist = dlsym(h->dl, "C_GetFunctionList");
	if (getlist == NULL || getlist(&h->f) != CKR_OK || h->f == NULL) {
		snprintf(errbuf, errlen, "%s: not a PKCS#11 module", module);
		return SD_ERR_HSM;
	}
	if (is_p11kit_proxy(h->dl, *(void **)&getlist)) {
		snprintf(errbuf, errlen,
		    "%.120s is p11-kit's proxy module, which loads the modules "
		    "of p11-kit's configuration (a user's own too) from any "
		    "folder, past pkcs11.module_dirs: name the HSM's own "
		    "module",
		    module);
		return SD_ERR_CONFIG;
	}
	if ((r = initialize(h, errbuf, errlen)) != 0)
		return r;
	quirks(h);
	if ((r = find_slot(h, errbuf, errlen)) != 0)
		return r;
	session_limit(h);
	return 0;
}

/* Is the PIN file the one whose PIN the token refused? */
static int
pin_file_unchanged(struct hsm *h, const struct stat *st)
{
	return st->st_mtim.tv_sec == h->pin_mtime.tv_sec &&
	    st->st_mtim.tv_nsec == h->pin_mtime.tv_nsec &&
	    st->st_size == h->pin_size && st->st_ino == h->pin_ino;
}

/* Log in as user if the session is not yet in a user state. */
static int
login(
    struct hsm *h, CK_SESSION_HANDLE s, CK_RV *rvp, char *errbuf, size_t errlen)
{
	CK_SESSION_INFO si;

	*rvp = CKR_OK;
	if (h->f->C_GetSessionInfo(s, &si) == CKR_OK &&
	    (si.state == CKS_RO_USER_FUNCTIONS ||
		si.state == CKS_RW_USER_FUNCTIONS))
		return 0;
	return hsm_pool_pin_login(h, s, CKU_USER, rvp, errbuf, errlen);
}

int
hsm_pool_pin_login(struct hsm *h, CK_SESSION_HANDLE s, CK_USER_TYPE who,
    CK_RV *rvp, char *errbuf, size_t errlen)
{
	char *pin;
	struct stat st;
	size_t pinlen;
	CK_RV rv;
	int r, bad;

	*rvp = CKR_OK;
	if (stat(h->pin_file, &st) != 0)
		memset(&st, 0, sizeof(st));
	pthread_mutex_lock(&h->lock);
	bad = h->pin_bad && pin_file_unchanged(h, &st);
	pthread_mutex_unlock(&h->lock);
	if (bad) {
		snprintf(errbuf, errlen,
		    "the PIN in %.120s was refused; not "
		    "trying it again until the file changes",
		    h->pin_file);
		return SD_ERR_CONFIG;
	}
	/* the PIN lives in locked pages kept out of core dumps, and only
	 * until C_Login has it */
	if ((pin = secret_alloc(SD_PIN_MAX)) == NULL) {
		snprintf(errbuf, errlen, "no memory for the PIN");
		return SD_ERR_NOMEM;
	}
	if ((r = secret_read_file(
		 h->pin_file, pin, SD_PIN_MAX, &pinlen, errbuf, errlen)) != 0) {
		secret_free(pin, SD_PIN_MAX);
		return r;
	}
	rv = h->f->C_Login(s, who, (CK_UTF8CHAR_PTR)pin, pinlen);
	secret_free(pin, SD_PIN_MAX);
	if (rv == CKR_OK ||
	    (rv == CKR_USER_ALREADY_LOGGED_IN && who == CKU_USER))
		return 0;
	*rvp = rv;
	snprintf(errbuf, errlen, "C_Login%s: 0x%lx%s",
	    who == CKU_CONTEXT_SPECIFIC ? " (context-specific)" : "", rv,
	    rv == CKR_PIN_INCORRECT ? " (wrong PIN)" : "");
	if (rv != CKR_PIN_INCORRECT && rv != CKR_PIN_LOCKED)
		return SD_ERR_HSM;
	pthread_mutex_lock(&h->lock);
	h->pin_bad = 1;
	h->pin_mtime = st.st_mtim;
	h->pin_size = st.st_size;
	h->pin_ino = st.st_ino;
	pthread_mutex_unlock(&h->lock);
	return SD_ERR_CONFIG;
}

/* Open session i (checked out by the caller) and log in.  *rvp gets the
 * PKCS#11 result to release the session with. */
static int
open_session(
    struct hsm *h, unsigned int i, CK_RV *rvp, char *errbuf, size_t errlen)
{
	CK_RV rv;
	int r;

	rv = h->f->C_OpenSession(
	    h->slot, CKF_SERIAL_SESSION, NULL, NULL, &h->sess[i].handle);
	if (rv != CKR_OK) {
		snprintf(errbuf, errlen, "C_OpenSession: 0x%lx", rv);
		*rvp = rv;
		return SD_ERR_HSM;
	}
	h->sess[i].open = 1;
	if ((r = login(h, h->sess[i].handle, rvp, errbuf, errlen)) != 0) {
		(void)h->f->C_CloseSession(h->sess[i].handle);
		h->sess[i].open = 0;
		if (*rvp == CKR_OK)
			*rvp = CKR_USER_NOT_LOGGED_IN;
		return r;
	}
	return 0;
}

/* Finalize and initialize the module again; the caller set recovering
 * and holds no session, so nothing else touches the module meanwhile. */
static int
recover(struct hsm *h)
{
	char err[256];
	int r;

	log_warn("re-initializing the PKCS#11 module");
	(void)h->f->C_Finalize(NULL);
	if ((r = module_init(h, err, sizeof(err))) != 0) {
		log_error("HSM recovery failed: %s", err);
		return r;
	}
	log_info("PKCS#11 module re-initialized");
	return 0;
}

int
hsm_pool_find_private(struct hsm *h, CK_SESSION_HANDLE s, const char *label,
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

/* Under h->lock: wait until a session is free and the module usable,
 * re-initializing it (with the lock dropped) when it is broken; until
 * NULL: no wait. */
static int
wait_for_session(struct hsm *h, const struct timespec *until)
{
	int r;

	for (;;) {
		if (h->broken && h->busy == 0 && !h->recovering) {
			if (sd_ms_since(&h->last_recover) < RECOVER_INTERVAL_MS)
				return SD_ERR_HSM;
			clock_gettime(CLOCK_MONOTONIC, &h->last_recover);
			h->recovering = 1;
			pthread_mutex_unlock(&h->lock);
			r = recover(h);
			pthread_mutex_lock(&h->lock);
			h->recovering = 0;
			if (r == 0) {
				unsigned int i;

				for (i = 0; i < h->nsess; i++)
					h->sess[i].open = 0;
				h->broken = 0;
				h->gen++;
			}
			pthread_cond_broadcast(&h->cond);
			if (r != 0)
				return r;
		}
		if (!h->broken && !h->recovering && h->nfree > 0)
			return 0;
		if (until == NULL)
			return SD_ERR_BUSY;
		if (pthread_cond_timedwait(&h->cond, &h->lock, until) ==
		    ETIMEDOUT) {
			log_warn("no HSM session free in time (every session "
				 "busy)");
			return SD_ERR_HSM;
		}
	}
}

int
hsm_pool_acquire(struct hsm *h, struct hsm_key *k, unsigned int *idx,
    CK_OBJECT_HANDLE *kh, int wait)
{
	struct timespec until = sd_deadline_ms(ACQUIRE_WAIT_MS);

	return hsm_pool_acquire_by(h, k, idx, kh, wait ? &until : NULL);
}

static void
say_limit(struct hsm *h)
{
	log_warn("the token opens no more sessions (CKR_SESSION_COUNT): "
		 "seald goes on with %u of the %u of pkcs11.sessions",
	    h->nlive - (unsigned int)h->shrink, h->nsess);
}

/* Session idx (checked out, not open) could not be opened: the token
 * has no more (CKR_SESSION_COUNT; its limit, or other applications hold
 * the rest).  Retire it, and the next session given back too, for a
 * read-write session's room; 0 when it is the last one, which is kept. */
static int
retire(struct hsm *h)
{
	int done = 0;

	pthread_mutex_lock(&h->lock);
	if (h->nlive > 1) {
		h->nlive--;
		h->busy--;
		h->shrink = h->nlive > 1;
		done = 1;
		pthread_cond_broadcast(&h->cond);
	}
	pthread_mutex_unlock(&h->lock);
	if (done)
		say_limit(h);
	return done;
}

int
hsm_pool_shed(struct hsm *h)
{
	unsigned int idx = 0;
	int done = 0;

	pthread_mutex_lock(&h->lock);
	if (h->nlive > 1 && h->nfree > 0) {
		idx = h->freelist[--h->nfree];
		h->nlive--;
		h->shrink = 0;
		done = 1;
	} else if (h->nlive > 1)
		h->shrink = 1;
	pthread_mutex_unlock(&h->lock);
	if (!done)
		return 0;
	if (h->sess[idx].open) { /* idle: nobody else touches it */
		(void)h->f->C_CloseSession(h->sess[idx].handle);
		h->sess[idx].open = 0;
	}
	say_limit(h);
	return 1;
}

int
hsm_pool_acquire_by(struct hsm *h, struct hsm_key *k, unsigned int *idx,
    CK_OBJECT_HANDLE *kh, const struct timespec *until)
{
	CK_OBJECT_HANDLE fresh;
	unsigned long gen = 0;
	int r, need_open, stale = 0;
	char err[512];
	CK_RV rv = CKR_OK;

again:
	pthread_mutex_lock(&h->lock);
	if ((r = wait_for_session(h, until)) != 0) {
		pthread_mutex_unlock(&h->lock);
		if (r == SD_ERR_HSM)
			atomic_store(&h->healthy, 0);
		return r;
	}
	*idx = h->freelist[--h->nfree];
	h->busy++;
	need_open = !h->sess[*idx].open;
	if (k != NULL) {
		gen = h->gen;
		stale = k->gen != gen || k->handle == CK_INVALID_HANDLE;
		*kh = k->handle;
	}
	pthread_mutex_unlock(&h->lock);

	/* The session is ours: open it and find the key without the lock. */
	if (need_open &&
	    (r = open_session(h, *idx, &rv, err, sizeof(err))) != 0) {
		if (rv == CKR_SESSION_COUNT && retire(h))
			goto again; /* an open one, when it is free */
		log_error("HSM session: %s", err);
		hsm_pool_release(h, NULL, *idx, rv);
		return SD_ERR_HSM;
	}
	if (stale) {
		if (hsm_pool_find_private(h, h->sess[*idx].handle, k->label,
			&fresh, err, sizeof(err)) != 0) {
			log_error("HSM key: %s", err);
			/* a search that failed leaves the session in doubt */
			hsm_pool_release(h, NULL, *idx, CKR_SESSION_CLOSED);
			return SD_ERR_HSM;
		}
		pthread_mutex_lock(&h->lock);
		if (h->gen == gen) {
			k->handle = fresh;
			k->gen = gen;
		}
		pthread_mutex_unlock(&h->lock);
		*kh = fresh;
	}
	return 0;
}

void
hsm_pool_release(struct hsm *h, struct hsm_key *k, unsigned int idx, CK_RV rv)
{
	enum hsm_rv_kind kind = hsm_rv_kind(rv);
	int drop;

	/* a session given back after the token ran out of them (retire)
	 * leaves the pool, to make room for a read-write session */
	pthread_mutex_lock(&h->lock);
	if ((drop = h->shrink && h->nlive > 1)) {
		h->shrink = 0;
		h->nlive--;
	}
	pthread_mutex_unlock(&h->lock);
	if ((drop || kind == RV_SESSION || kind == RV_TOKEN) &&
	    h->sess[idx].open) {
		(void)h->f->C_CloseSession(h->sess[idx].handle);
		h->sess[idx].open = 0;
	}
	pthread_mutex_lock(&h->lock);
	if (kind == RV_TOKEN)
		h->broken = 1;
	/* Closing a token's last session logs out, and modules may then
	 * drop every object handle: find keys again. */
	if (drop || kind == RV_SESSION || kind == RV_TOKEN)
		h->gen++;
	if (kind == RV_KEY && k != NULL)
		k->handle = CK_INVALID_HANDLE;
	if (!drop)
		h->freelist[h->nfree++] = idx;
	h->busy--;
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->lock);
	if (kind == RV_OK || kind == RV_INPUT) {
		/* (after a failed signature, only a signature says healthy:
		 * hsm_sign) */
		if (!atomic_load(&h->sign_failed))
			atomic_store(&h->healthy, 1);
		atomic_store(&h->last_ok_ms, now_ms());
	} else if (kind == RV_TOKEN)
		atomic_store(&h->healthy, 0);
}

/* Probe the token when idle: take a session (repairing what is broken)
 * and ask for its state.  Runs on its own thread, so a hung token leaves
 * the HTTP front answering; hsm_ready() then says "not ready". */
static void *
monitor_main(void *arg)
{
	struct hsm *h = arg;
	struct timespec until;
	CK_SESSION_INFO si;
	unsigned int idx;
	CK_RV rv;
	int stop, r;

	for (;;) {
		until = sd_deadline_ms(MONITOR_INTERVAL_MS);
		pthread_mutex_lock(&h->lock);
		if (!h->stopping)
			(void)pthread_cond_timedwait(
			    &h->stop_cond, &h->lock, &until);
		stop = h->stopping;
		pthread_mutex_unlock(&h->lock);
		if (stop)
			break;
		atomic_store(&h->probe_since_ms, now_ms());
		if (atomic_load(&h->sign_failed)) {
			/* the token may answer and still not sign: a test
			 * signature, which says when it does again */
			(void)h->probe(h);
			atomic_store(&h->probe_since_ms, 0);
			continue;
		}
		r = hsm_pool_acquire(h, NULL, &idx, NULL, 0);
		/* every session busy and none finished for a while: hung */
		if (r == SD_ERR_BUSY &&
		    now_ms() - atomic_load(&h->last_ok_ms) > STALL_MS)
			atomic_store(&h->healthy, 0);
		if (r == 0) {
			rv = h->f->C_GetSessionInfo(h->sess[idx].handle, &si);
			if (rv == CKR_OK && si.state != CKS_RO_USER_FUNCTIONS &&
			    si.state != CKS_RW_USER_FUNCTIONS)
				rv = CKR_USER_NOT_LOGGED_IN;
			hsm_pool_release(h, NULL, idx, rv);
			if (rv != CKR_OK)
				atomic_store(&h->healthy, 0);
		}
		atomic_store(&h->probe_since_ms, 0);
	}
	return NULL;
}

int
hsm_pool_monitor_start(struct hsm *h)
{
	if (pthread_create(&h->monitor, NULL, monitor_main, h) != 0)
		return SD_ERR_SYSTEM;
	h->have_monitor = 1;
	return 0;
}

void
hsm_pool_monitor_stop(struct hsm *h)
{
	if (!h->have_monitor)
		return;
	pthread_mutex_lock(&h->lock);
	h->stopping = 1;
	pthread_cond_broadcast(&h->stop_cond);
	pthread_mutex_unlock(&h->lock);
	pthread_join(h->monitor, NULL);
	h->have_monitor = 0;
}
