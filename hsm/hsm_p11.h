/*
 * hsm_p11: internals shared by the files of hsm/ (never included outside
 * it): the PKCS#11 headers and the key and pool structs.
 */
#ifndef SD_HSM_P11_H
#define SD_HSM_P11_H

#include <pthread.h>
#include <stdatomic.h>
#include <sys/types.h>
#include <time.h>

#include <p11-kit/pkcs11.h>

#include "p11uri.h"
#include "hsm.h"
#include "sd_limits.h"

struct hsm_key {
	char label[SD_LABEL_MAX];
	CK_OBJECT_HANDLE handle; /* guarded by hsm.lock */
	unsigned long gen;       /* hsm.gen when handle was found */
	int is_ec;
	int born_here;   /* CKA_LOCAL, ALWAYS_SENSITIVE, NEVER_EXTRACTABLE */
	int always_auth; /* CKA_ALWAYS_AUTHENTICATE: a PIN per signature */
	unsigned int bits;
	EVP_PKEY *pub;
	uint8_t id[SD_KEY_ID_MAX]; /* CKA_ID of the private key (hsm_key_id) */
	size_t id_len;             /* 0: none, or longer than id */
	struct hsm_key *next;
};

struct hsm_sess {
	CK_SESSION_HANDLE handle;
	int open; /* only its holder (or recovery, with none held) changes it */
};

/*
 * The pool.  h->lock guards the fields below it and is never held across
 * a PKCS#11 call: a hung token blocks only the threads that use it.
 */
struct hsm {
	void *dl;
	CK_FUNCTION_LIST_PTR f;
	struct p11uri tok; /* the token: its label, or what its URI names */
	char token_name[SD_P11URI_MAX + 1]; /* as configured, for messages */
	CK_TOKEN_INFO tinfo;                /* the token found (find_slot) */
	char init_args[SD_INIT_ARGS_MAX];   /* C_Initialize's pReserved ("") */
	int local_not_kept; /* the module forgets CKA_LOCAL (NSS softokn) */
	char pin_file[SD_PATH_MAX];
	CK_SLOT_ID slot; /* changed only while recovering */

	pthread_mutex_t lock;
	pthread_cond_t cond; /* a session freed, recovery ended */
	unsigned int nsess;
	struct hsm_sess *sess;
	unsigned int *freelist; /* indexes of idle sessions */
	unsigned int nfree;
	unsigned int nlive; /* sessions not retired: the token's limit */
	int shrink;         /* retire the next session given back (headroom
			     * for a read-write session of hsm_open_rw) */
	unsigned int busy;  /* sessions checked out */
	int broken;         /* module must be re-initialized */
	int recovering;     /* one thread re-initializes, none sign */
	unsigned long gen;  /* bumped when key handles may be stale */
	struct timespec last_recover;
	int pin_bad;               /* C_Login said the PIN is wrong ... */
	struct timespec pin_mtime; /* ... for the PIN file as it was then */
	off_t pin_size;
	ino_t pin_ino;
	struct hsm_key *keys;
	struct hsm_key *dead; /* destroyed keys, freed by hsm_close */

	atomic_int healthy;         /* last HSM call worked (for readiness) */
	atomic_int sign_failed;     /* the last signature failed: only a
				     * signature makes it healthy again */
	atomic_long probe_since_ms; /* monitor probe running since; 0 if not */
	atomic_long last_ok_ms;     /* last HSM call that worked */
	pthread_t monitor;
	int have_monitor;
	/* the monitor's probe after a failed signature: a test signature
	 * with a key seald loaded (set by hsm.c, which signs); 0 when it
	 * worked */
	int (*probe)(struct hsm *h);
	int stopping; /* under lock: monitor exits */
	pthread_cond_t stop_cond;
};

enum hsm_rv_kind { RV_OK, RV_INPUT, RV_SESSION, RV_TOKEN, RV_KEY };

/* C_Login(s, who) with the PIN of pin_file, read for this call and wiped
 * after it; a PIN the token refused is not tried again until the file
 * changes (SD_ERR_CONFIG).  who: CKU_USER, or CKU_CONTEXT_SPECIFIC for
 * a key with CKA_ALWAYS_AUTHENTICATE, between C_SignInit and C_Sign.
 * 0, or SD_ERR_* with *rvp the PKCS#11 result and the reason in errbuf. */
int hsm_pool_pin_login(struct hsm *h, CK_SESSION_HANDLE s, CK_USER_TYPE who,
    CK_RV *rvp, char *errbuf, size_t errlen);

/* The token opens no more sessions (CKR_SESSION_COUNT) and a read-write
 * one is wanted: close an idle session of the pool and take it out for
 * good; 1 when one was, else 0 (the next session given back will be). */
int hsm_pool_shed(struct hsm *h);

/* A read-write session of its own (hsm_keygen.c), for a caller that
 * holds a pool session (so the application is logged in and the module
 * is not re-initialized underneath). */
CK_RV hsm_open_rw(struct hsm *h, CK_SESSION_HANDLE *s);

/* What to give the pool back after rv on such a session: only a lost
 * login or token says anything about the pool's sessions. */
CK_RV hsm_pool_rv(CK_RV rv);

/* 1 when the token ti is the one u names (each attribute u has). */
int hsm_token_info_is(const CK_TOKEN_INFO *ti, const struct p11uri *u);

/* What a PKCS#11 return value says about the session, token or key. */
enum hsm_rv_kind hsm_rv_kind(CK_RV rv);

/* Load the module and find the token (hsm_open). */
int hsm_pool_init(
    struct hsm *h, const char *module, char *errbuf, size_t errlen);

/*
 * Check out a session, re-establishing what is broken (re-initialize the
 * module, open the session, log in, find k again): all without h->lock
 * held during PKCS#11 calls.  wait: up to ACQUIRE_WAIT_MS for a session,
 * else none.  On success *idx is checked out and, with k, *kh is its
 * current handle.  Returns 0, SD_ERR_BUSY (no wait, none free) or
 * SD_ERR_HSM.
 */
int hsm_pool_acquire(struct hsm *h, struct hsm_key *k, unsigned int *idx,
    CK_OBJECT_HANDLE *kh, int wait);

/* hsm_pool_acquire waiting for a session until a CLOCK_MONOTONIC time
 * (NULL: no wait): a request's own deadline. */
int hsm_pool_acquire_by(struct hsm *h, struct hsm_key *k, unsigned int *idx,
    CK_OBJECT_HANDLE *kh, const struct timespec *until);

/* Give the session back; rv is the last PKCS#11 result on it. */
void hsm_pool_release(
    struct hsm *h, struct hsm_key *k, unsigned int idx, CK_RV rv);

/* The one private key labelled label, found with a search template. */
int hsm_pool_find_private(struct hsm *h, CK_SESSION_HANDLE s, const char *label,
    CK_OBJECT_HANDLE *out, char *errbuf, size_t errlen);

/* Start / stop the readiness monitor thread. */
int hsm_pool_monitor_start(struct hsm *h);
void hsm_pool_monitor_stop(struct hsm *h);

/* Read the public key of the private key object priv into an EVP_PKEY
 * (from the public key object with the same CKA_ID, or the same label).
 * Returns NULL with a reason in errbuf. */
EVP_PKEY *hsm_pubkey_load(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s,
    CK_OBJECT_HANDLE priv, CK_KEY_TYPE type, const char *label, char *errbuf,
    size_t errlen);

#endif
