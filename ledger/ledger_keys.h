/*
 * ledger_keys: the keys table (migrations/0007_keys.sql), one row per key
 * version that officers generated in the HSM through the admin socket.
 * Reads go through a ledger reader; every change is an apply() callback of
 * the ledger entry that records it (struct ledger_entry), so the change
 * and its record commit in one transaction.
 */
#ifndef SD_LEDGER_KEYS_H
#define SD_LEDGER_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "ledger.h"
#include "sd_limits.h"

#define KEY_PUB_MAX 1024 /* DER SubjectPublicKeyInfo: RSA-4096 is 550 */
#define KEY_ID_MAX 64
#define KEY_ROWS_MAX 1024 /* rows one listing returns at most */

struct key_row {
	char name[SD_NAME_MAX];
	int64_t version;
	char algorithm[16]; /* "ec-p256", ..., "rsa-4096" */
	char label[SD_LABEL_MAX];
	uint8_t id[KEY_ID_MAX];
	size_t id_len;
	uint8_t pub[KEY_PUB_MAX]; /* DER SubjectPublicKeyInfo */
	size_t pub_len;
	char *cert;             /* PEM chain, leaf first; NULL when none */
	int64_t cert_not_after; /* unix seconds; 0 when no certificate */
	char state[16];         /* pending active retired disabled destroyed */
	char created_by[SD_NAME_MAX];
	/* the ledger's word on it: a 'generate' entry for this version about
	 * this very public key; the digest of its newest 'certificate'
	 * entry (cert_digest_len 0: none) */
	int recorded;
	uint8_t cert_digest[32];
	size_t cert_digest_len;
	int64_t created_at; /* unix seconds */
	int64_t
	    created_at_us; /* ledger_keys_insert: the creation's entry time */
};

/*
 * The rows of one key name (every version), or of every key when name is
 * NULL, ordered by name and version, at most KEY_ROWS_MAX.  *rows is
 * malloc'd (free with ledger_keys_free).  Returns 0 (maybe no rows),
 * SD_ERR_LEDGER or SD_ERR_NOMEM.
 */
int ledger_keys_list(struct ledger_reader *rd, const char *name,
    struct key_row **rows, size_t *n) __attribute__((warn_unused_result));

void ledger_keys_free(struct key_row *rows, size_t n);

/* apply() for a generated key: INSERT the row (struct key_row *).  Returns
 * 0, SD_ERR_CONFLICT when (name, version) or the label exists, or
 * SD_ERR_LEDGER. */
int ledger_keys_insert(void *conn, void *row);

/* apply() for an imported certificate: struct key_row * with name,
 * version, state, cert and cert_not_after set.  A pending version (made
 * by a rotation) becomes active with it, and the name's active version
 * retired.  0, SD_ERR_NOT_FOUND (no such version, or its state changed)
 * or SD_ERR_LEDGER. */
int ledger_keys_set_cert(void *conn, void *row);

/* A state change of one key version, from the state it had when read. */
struct key_change {
	const char *name;
	int64_t version;
	const char *from, *to;
};

/* apply() for a struct key_change.  0, SD_ERR_NOT_FOUND (the version is
 * no longer in state from) or SD_ERR_LEDGER. */
int ledger_keys_set_state(void *conn, void *change);

/* A proposal of two-person control (migrations/0008_key_proposals.sql). */
struct key_proposal {
	int64_t id;
	char action[16]; /* generate rotate retire disable destroy */
	char name[SD_NAME_MAX];
	int64_t version;    /* 0: none (generate, rotate) */
	char algorithm[16]; /* generate, rotate: "" for the same */
	char proposed_by[SD_NAME_MAX];
	int64_t proposed_uid;
	int64_t proposed_at, expires_at; /* unix seconds */
	char state[16];                  /* pending approved done failed */
	char approved_by[SD_NAME_MAX];
	unsigned int minutes; /* ledger_keys_propose: its life */
};

/* apply() for a new proposal (its id chosen by the caller, at random):
 * INSERT it, set its times. */
int ledger_keys_propose(void *conn, void *proposal);

/* apply() for an approval: the proposal (id, approved_by) goes from
 * pending to approved if it has not expired and approved_by did not
 * propose it.  0, or SD_ERR_CONFLICT when it no longer can be. */
int ledger_keys_approve(void *conn, void *proposal);

/* apply() for the end of an approved proposal: state "done" or "failed"
 * (in the proposal's state member). */
int ledger_keys_proposal_end(void *conn, void *proposal);

/* Proposals, newest first: the pending ones (pending_only) or all, at most
 * KEY_ROWS_MAX; or the one with id (id > 0).  *out malloc'd. */
int ledger_keys_proposals(struct ledger_reader *rd, int64_t id,
    int pending_only, struct key_proposal **out, size_t *n)
    __attribute__((warn_unused_result));

/* apply() of two changes in one transaction, in order. */
struct key_apply_pair {
	int (*a)(void *conn, void *arg);
	void *a_arg;
	int (*b)(void *conn, void *arg);
	void *b_arg;
};
int ledger_keys_apply_both(void *conn, void *pair);

#endif
