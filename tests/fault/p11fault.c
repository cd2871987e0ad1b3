/*
 * p11fault: a PKCS#11 module for tests that forwards every call to a real
 * module (SoftHSM) and, on command, makes signing and session calls fail
 * or hang, so that tests can prove seald recovers from HSM faults.
 *
 * The command is the first line of the file named by $SEALD_FAULT_FILE,
 * read on every intercepted call (C_OpenSession, C_SignInit, C_Sign):
 *   (empty or missing)   forward everything
 *   CKR_NAME             return that error (CKR_SESSION_HANDLE_INVALID,
 *                        CKR_DEVICE_REMOVED, CKR_TOKEN_NOT_PRESENT,
 *                        CKR_GENERAL_ERROR, CKR_DEVICE_ERROR,
 *                        CKR_FUNCTION_FAILED)
 *   once CKR_NAME        the same, once; the file is emptied after
 *   hang                 block until the file changes (at most 60 s)
 * With $SEALD_FAULT_NO_DATA set, C_CreateObject refuses data objects
 * (CKO_DATA) with CKR_TEMPLATE_INCONSISTENT: a token that keeps none.
 * With $SEALD_FAULT_MAX_SESSIONS=N, C_OpenSession answers
 * CKR_SESSION_COUNT while N sessions are open (a network HSM's
 * partition limit); with $SEALD_FAULT_SAY_MAX set too, C_GetTokenInfo
 * says so in ulMaxSessionCount (else it says nothing of it).
 * With $SEALD_FAULT_ALWAYS_AUTH set, private keys say
 * CKA_ALWAYS_AUTHENTICATE, and C_Sign answers CKR_USER_NOT_LOGGED_IN
 * unless C_Login(CKU_CONTEXT_SPECIFIC) with a PIN came after C_SignInit
 * (a PIN of another length than $SEALD_FAULT_PIN_LEN, when set, is
 * CKR_PIN_INCORRECT).
 * With $SEALD_FAULT_LOGIN_UNSAID set, C_GetSessionInfo says a session
 * is public until C_Login was called on it (a module that does not tell
 * a session of an application already logged in): the login then meets
 * CKR_USER_ALREADY_LOGGED_IN, and each one is counted on a line
 * "already" of $SEALD_FAULT_LOG.
 * With $SEALD_FAULT_NO_MECH=CKM_RSA_PKCS_PSS (or CKM_ECDSA,
 * CKM_RSA_PKCS), the token lacks that mechanism: C_GetMechanismInfo and
 * C_SignInit answer CKR_MECHANISM_INVALID for it.
 * With $SEALD_FAULT_SIGN_DELAY_MS=N, each C_Sign waits N ms (asleep, no
 * CPU) before the real one: a network HSM's round trip, for `make bench`
 * (BENCH_HSM_LATENCY_MS).
 * The real module is $SEALD_FAULT_MODULE (default: SoftHSM's).
 * Test code only: never installed, never linked into seald.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

#define DEFAULT_MODULE "/usr/lib/softhsm/libsofthsm2.so"

static CK_FUNCTION_LIST ours;
static CK_FUNCTION_LIST_PTR real;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static const struct {
	const char *name;
	CK_RV rv;
} codes[] = {
	{ "CKR_SESSION_HANDLE_INVALID", CKR_SESSION_HANDLE_INVALID },
	{ "CKR_DEVICE_REMOVED", CKR_DEVICE_REMOVED },
	{ "CKR_TOKEN_NOT_PRESENT", CKR_TOKEN_NOT_PRESENT },
	{ "CKR_GENERAL_ERROR", CKR_GENERAL_ERROR },
	{ "CKR_DEVICE_ERROR", CKR_DEVICE_ERROR },
	{ "CKR_FUNCTION_FAILED", CKR_FUNCTION_FAILED },
};

/* Read the command: 0 = none, else the CK_RV; *hang set for "hang". */
static CK_RV
command(int *hang)
{
	const char *path = getenv("SEALD_FAULT_FILE");
	char buf[128];
	ssize_t n = 0;
	size_t i;
	int fd, once = 0;
	char *p = buf;

	*hang = 0;
	if (path == NULL || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return CKR_OK;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return CKR_OK;
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	if (strcmp(buf, "hang") == 0) {
		*hang = 1;
		return CKR_OK;
	}
	if (strncmp(p, "once ", 5) == 0) {
		once = 1;
		p += 5;
	}
	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		if (strcmp(p, codes[i].name) != 0)
			continue;
		if (once) {
			pthread_mutex_lock(&lock);
			if ((fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC)) >=
			    0)
				close(fd);
			pthread_mutex_unlock(&lock);
		}
		return codes[i].rv;
	}
	return CKR_OK;
}

static CK_RV
fault(void)
{
	struct timespec ts = { 0, 50 * 1000000L };
	int hang, i;
	CK_RV rv = command(&hang);

	for (i = 0; hang && i < 1200; i++) {
		nanosleep(&ts, NULL);
		rv = command(&hang);
	}
	return rv;
}

static long nopen; /* sessions open, under lock */

/* A number from the environment: 0 when unset or not a number. */
static long
env_num(const char *name)
{
	const char *v = getenv(name);
	char *end;
	unsigned long long n;

	if (v == NULL)
		return 0;
	n = strtoull(v, &end, 10);
	return *v != '\0' && *end == '\0' && n < 1000000 ? (long)n : 0;
}

static long
max_sessions(void)
{
	return env_num("SEALD_FAULT_MAX_SESSIONS");
}

static CK_RV
f_open_session(CK_SLOT_ID slot, CK_FLAGS flags, void *app, CK_NOTIFY notify,
    CK_SESSION_HANDLE_PTR s)
{
	CK_RV rv = fault();

	if (rv != CKR_OK)
		return rv;
	pthread_mutex_lock(&lock);
	if (max_sessions() > 0 && nopen >= max_sessions())
		rv = CKR_SESSION_COUNT;
	else if ((rv = real->C_OpenSession(slot, flags, app, notify, s)) ==
	    CKR_OK)
		nopen++;
	pthread_mutex_unlock(&lock);
	return rv;
}

static CK_RV
f_close_session(CK_SESSION_HANDLE s)
{
	CK_RV rv = real->C_CloseSession(s);

	pthread_mutex_lock(&lock);
	if (rv == CKR_OK && nopen > 0)
		nopen--;
	pthread_mutex_unlock(&lock);
	return rv;
}

static CK_RV
f_close_all(CK_SLOT_ID slot)
{
	pthread_mutex_lock(&lock);
	nopen = 0;
	pthread_mutex_unlock(&lock);
	return real->C_CloseAllSessions(slot);
}

static CK_RV
f_finalize(void *reserved)
{
	pthread_mutex_lock(&lock);
	nopen = 0;
	pthread_mutex_unlock(&lock);
	return real->C_Finalize(reserved);
}

static CK_RV
f_token_info(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR ti)
{
	CK_RV rv = real->C_GetTokenInfo(slot, ti);

	if (rv == CKR_OK && max_sessions() > 0 &&
	    getenv("SEALD_FAULT_SAY_MAX") != NULL)
		ti->ulMaxSessionCount = (CK_ULONG)max_sessions();
	return rv;
}

/* CKA_ALWAYS_AUTHENTICATE: per session, whether a signature was begun
 * and whether its context-specific login came (under lock) */
static struct {
	CK_SESSION_HANDLE s;
	int begun, authed;
} ctx[64];

static int
always_auth(void)
{
	return getenv("SEALD_FAULT_ALWAYS_AUTH") != NULL;
}

static void
ctx_set(CK_SESSION_HANDLE s, int begun, int authed)
{
	pthread_mutex_lock(&lock);
	ctx[s % 64].s = s;
	ctx[s % 64].begun = begun;
	ctx[s % 64].authed = authed;
	pthread_mutex_unlock(&lock);
}

static int
ctx_missing(CK_SESSION_HANDLE s)
{
	int r;

	pthread_mutex_lock(&lock);
	r = ctx[s % 64].s == s && ctx[s % 64].begun && !ctx[s % 64].authed;
	pthread_mutex_unlock(&lock);
	return r;
}

/* The mechanism $SEALD_FAULT_NO_MECH names, or (CK_ULONG)-1. */
static CK_MECHANISM_TYPE
no_mech(void)
{
	const char *v = getenv("SEALD_FAULT_NO_MECH");

	if (v == NULL)
		return (CK_MECHANISM_TYPE)-1;
	if (strcmp(v, "CKM_RSA_PKCS_PSS") == 0)
		return CKM_RSA_PKCS_PSS;
	if (strcmp(v, "CKM_ECDSA") == 0)
		return CKM_ECDSA;
	if (strcmp(v, "CKM_RSA_PKCS") == 0)
		return CKM_RSA_PKCS;
	return (CK_MECHANISM_TYPE)-1;
}

static CK_RV
f_sign_init(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k)
{
	CK_RV rv = fault();

	if (rv == CKR_OK && m != NULL && m->mechanism == no_mech())
		rv = CKR_MECHANISM_INVALID;
	if (rv == CKR_OK && (rv = real->C_SignInit(s, m, k)) == CKR_OK &&
	    always_auth())
		ctx_set(s, 1, 0);
	return rv;
}

/* SEALD_FAULT_LOGIN_UNSAID: sessions C_Login was called on (under lock) */
static CK_SESSION_HANDLE tried[256];
static size_t ntried;

static int
login_unsaid(void)
{
	return getenv("SEALD_FAULT_LOGIN_UNSAID") != NULL;
}

static int
login_tried(CK_SESSION_HANDLE s)
{
	size_t i;
	int r = 0;

	pthread_mutex_lock(&lock);
	for (i = 0; i < ntried && !r; i++)
		r = tried[i] == s;
	pthread_mutex_unlock(&lock);
	return r;
}

static void
note_line(const char *line)
{
	const char *path = getenv("SEALD_FAULT_LOG");
	int fd;

	if (path == NULL ||
	    (fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644)) < 0)
		return;
	(void)!write(fd, line, strlen(line));
	close(fd);
}

static CK_RV
f_session_info(CK_SESSION_HANDLE s, CK_SESSION_INFO_PTR si)
{
	CK_RV rv = real->C_GetSessionInfo(s, si);

	if (rv == CKR_OK && login_unsaid() && !login_tried(s))
		si->state = CKS_RO_PUBLIC_SESSION;
	return rv;
}

static CK_RV
f_login(
    CK_SESSION_HANDLE s, CK_USER_TYPE who, CK_UTF8CHAR_PTR pin, CK_ULONG len)
{
	long want = env_num("SEALD_FAULT_PIN_LEN");
	CK_RV rv;

	if (who == CKU_USER && login_unsaid()) {
		pthread_mutex_lock(&lock);
		if (ntried < sizeof(tried) / sizeof(tried[0]))
			tried[ntried++] = s;
		pthread_mutex_unlock(&lock);
		if ((rv = real->C_Login(s, who, pin, len)) ==
		    CKR_USER_ALREADY_LOGGED_IN)
			note_line("already\n");
		return rv;
	}
	if (who != CKU_CONTEXT_SPECIFIC || !always_auth())
		return real->C_Login(s, who, pin, len);
	if (pin == NULL || len == 0 || (want > 0 && (CK_ULONG)want != len))
		return CKR_PIN_INCORRECT;
	pthread_mutex_lock(&lock);
	if (ctx[s % 64].s != s || !ctx[s % 64].begun) {
		pthread_mutex_unlock(&lock);
		return CKR_OPERATION_NOT_INITIALIZED;
	}
	ctx[s % 64].authed = 1;
	pthread_mutex_unlock(&lock);
	return CKR_OK;
}

static CK_RV
f_mech_info(CK_SLOT_ID slot, CK_MECHANISM_TYPE m, CK_MECHANISM_INFO_PTR mi)
{
	return m == no_mech() ? CKR_MECHANISM_INVALID
			      : real->C_GetMechanismInfo(slot, m, mi);
}

static CK_RV
f_get_attrs(
    CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_PTR t, CK_ULONG n)
{
	CK_RV rv = real->C_GetAttributeValue(s, o, t, n);
	CK_ULONG i;

	for (i = 0; always_auth() && i < n; i++)
		if (t[i].type == CKA_ALWAYS_AUTHENTICATE &&
		    t[i].pValue != NULL && t[i].ulValueLen == sizeof(CK_BBOOL))
			*(CK_BBOOL *)t[i].pValue = CK_TRUE;
	return rv;
}

/* SEALD_FAULT_SIGN_DELAY_MS: a network HSM's round trip, asleep. */
static void
sign_delay(void)
{
	long ms = env_num("SEALD_FAULT_SIGN_DELAY_MS");
	struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };

	while (ms > 0 && nanosleep(&t, &t) != 0)
		;
}

static CK_RV
f_sign(CK_SESSION_HANDLE s, CK_BYTE_PTR in, CK_ULONG inlen, CK_BYTE_PTR out,
    CK_ULONG_PTR outlen)
{
	CK_RV rv = fault();

	/* once per signature: a call that only asks the length is local */
	if (out != NULL)
		sign_delay();
	if (rv == CKR_OK && always_auth() && ctx_missing(s))
		rv = CKR_USER_NOT_LOGGED_IN;
	if (always_auth())
		ctx_set(s, 0, 0);
	if (rv != CKR_OK) {
		/* a real token ends the operation on error: so do we */
		CK_BYTE tmp[1024];
		CK_ULONG n = sizeof(tmp);

		(void)real->C_Sign(s, in, inlen, tmp, &n);
		return rv;
	}
	return real->C_Sign(s, in, inlen, out, outlen);
}

static CK_RV
f_create_object(
    CK_SESSION_HANDLE s, CK_ATTRIBUTE_PTR t, CK_ULONG n, CK_OBJECT_HANDLE_PTR o)
{
	CK_ULONG i;

	for (i = 0; getenv("SEALD_FAULT_NO_DATA") != NULL && i < n; i++)
		if (t[i].type == CKA_CLASS &&
		    t[i].ulValueLen == sizeof(CK_OBJECT_CLASS) &&
		    *(CK_OBJECT_CLASS *)t[i].pValue == CKO_DATA)
			return CKR_TEMPLATE_INCONSISTENT;
	return real->C_CreateObject(s, t, n, o);
}

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list);

CK_RV
C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list)
{
	CK_RV (*get)(CK_FUNCTION_LIST_PTR_PTR);
	const char *path = getenv("SEALD_FAULT_MODULE");
	void *dl;

	pthread_mutex_lock(&lock);
	if (real == NULL) {
		if ((dl = dlopen(path != NULL ? path : DEFAULT_MODULE,
			 RTLD_NOW | RTLD_LOCAL)) == NULL ||
		    (*(void **)&get = dlsym(dl, "C_GetFunctionList")) == NULL ||
		    get(&real) != CKR_OK) {
			pthread_mutex_unlock(&lock);
			return CKR_GENERAL_ERROR;
		}
		ours = *real;
		ours.C_OpenSession = f_open_session;
		ours.C_SignInit = f_sign_init;
		ours.C_Sign = f_sign;
		ours.C_CreateObject = f_create_object;
		ours.C_CloseSession = f_close_session;
		ours.C_CloseAllSessions = f_close_all;
		ours.C_Finalize = f_finalize;
		ours.C_GetTokenInfo = f_token_info;
		ours.C_Login = f_login;
		ours.C_GetAttributeValue = f_get_attrs;
		ours.C_GetMechanismInfo = f_mech_info;
		ours.C_GetSessionInfo = f_session_info;
	}
	pthread_mutex_unlock(&lock);
	*list = &ours;
	return CKR_OK;
}
