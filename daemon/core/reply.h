/*
 * reply: the JSON bodies seald answers with.  Each function returns a
 * malloc'd NUL-terminated string (free with free()) or NULL when out of
 * memory.  Nothing here writes secrets: signatures are public output, and
 * error messages are the fixed texts of err.c or decoder messages.
 */
#ifndef SD_REPLY_H
#define SD_REPLY_H

#include "keys.h"
#include "signer.h"

/* {"error":{"code","message","request_id"}}; message NULL uses sd_err(r);
 * request_id NULL or "" gives null. */
char *reply_error(int r, const char *message, const char *request_id);

/* The result of a committed (or replayed) sign job. */
char *reply_sign(const struct sign_job *j);

/* POST /v1/timestamp: the token (base64 DER TimeStampToken), its serial
 * (hex), time, policy, key and ledger position. */
char *reply_timestamp(const struct sign_job *j);

/* GET /v1/keys: the keys of ks for which visible(key, arg) holds. */
char *reply_keys(const struct sd_keys *ks,
    int (*visible)(const struct sd_key *, void *), void *arg);

/* GET /v1/ledger/{instance}/{seq}: the entry with its inclusion proof
 * (ledger_json.h, the document `sealctl ledger prove` checks). */
char *reply_ledger_proof(const struct ledger_proof *p);

/* GET /v1/ledger/{instance}: {"instance","entries":[...],"next_after"}
 * with next_after the last seq when more may follow (full page), else
 * null. */
char *reply_ledger_page(
    const char *instance, const struct ledger_row *rows, size_t n, int full);

/* GET /v1/ledger/{instance}/head: {"instance","signed_head"} with the
 * note's text. */
char *reply_ledger_head(const char *instance, const char *note);

/* GET /readyz and /healthz bodies. */
char *reply_status(int ok, int hsm, int ledger);

#endif
