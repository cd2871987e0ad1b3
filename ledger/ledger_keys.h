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
 * version, cert and cert_not_after set.  0, SD_ERR_NOT_FOUND (no such
 * version) or SD_ERR_LEDGER. */
int ledger_keys_set_cert(void *conn, void *row);

#endif
