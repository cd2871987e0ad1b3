/*
 * keyops_int: shared by the key operation files of admin/ (keyops.c,
 * keylife.c, proposals.c, keyops_util.c) only.
 */
#ifndef SD_KEYOPS_INT_H
#define SD_KEYOPS_INT_H

#include <stdint.h>

#include <jansson.h>

#include "keyops.h"
#include "ledger_keys.h"

/* JSON of a key version (the KEY object of docs/keys.md). */
json_t *ko_row_json(const struct key_row *k);

/* {"instance","seq","hash"} of a committed entry. */
json_t *ko_ledger_ref(const struct ledger_entry *e);

/* Compact text of o (taken); NULL when out of memory. */
char *ko_dump(json_t *o);

/* Write the message into errbuf and return r. */
int ko_fail(int r, char *errbuf, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A JSON object body with only the known members (NULL-terminated), or
 * NULL with the reason. */
json_t *ko_parse_body(const char *body, size_t len, const char *const *known,
    char *errbuf, size_t errlen);

/* A string member, NULL when absent; *bad set when present but not a
 * non-empty string of at most max bytes. */
const char *ko_member_str(json_t *o, const char *name, size_t max, int *bad);

/* The version a request names (member "version" of o, may be NULL), else
 * the active one, else the newest, into *out (out->cert is the caller's
 * to free).  SD_ERR_NOT_FOUND, SD_ERR_BAD_REQUEST or SD_ERR_LEDGER. */
int ko_pick_version(struct keyops *ko, const char *name, json_t *o,
    struct key_row *out, char *errbuf, size_t errlen);

/* 0 when k is active or pending, else SD_ERR_CONFLICT with a message. */
int ko_in_use(const struct key_row *k, char *errbuf, size_t errlen);

/* A key entry of who about k: event (the format), the SHA-256 it is about,
 * detail; time now, the policy in force. */
void ko_event(struct keyops *ko, const struct keyops_caller *who,
    const struct key_row *k, const char *event, const uint8_t hash[32],
    const char *detail, struct ledger_entry *e);

/* After a change: the keys in force found again (failures are logged). */
void ko_rekey(struct keyops *ko);

/*
 * Make key version k (name, version, algorithm, state set) in the HSM and
 * record it: label seald-NAME-vVERSION, the public key, a "generate"
 * entry (detail appended to the label) whose transaction inserts the row
 * and, when also is not NULL, runs also(conn, also_arg) too.  A pair that
 * is not recorded is destroyed again.  0 with *e the entry, or an SD_ERR_*
 * with the reason.
 */
int ko_make_key(struct keyops *ko, const struct keyops_caller *who,
    struct key_row *k, const char *why, int (*also)(void *, void *),
    void *also_arg, struct ledger_entry *e, char *errbuf, size_t errlen);

/* 0 when the policy's key of this name (if any) may be of algorithm alg,
 * else SD_ERR_BAD_REQUEST: a key it would never serve is not made. */
int ko_algorithm_fits(struct keyops *ko, const char *name, const char *alg,
    char *errbuf, size_t errlen);

/* 1 when action needs a second officer: destroy always, the others
 * when the policy says approvals_required: 2 (proposals.c). */
int ko_needs_second(struct keyops *ko, const char *action);

/* Record a proposal of who (proposals.c): *reply its JSON, returns
 * KEYOPS_PROPOSED. */
int ko_propose(struct keyops *ko, const struct keyops_caller *who,
    const char *action, const char *name, int64_t version,
    const char *algorithm, char **reply, char *errbuf, size_t errlen);

/* A proposal's JSON (the PROPOSAL object of docs/keys.md). */
json_t *ko_proposal_json(const struct key_proposal *p);

/* What a proposal or approval entry is about: its text (len bytes) and
 * the SHA-256 of it. */
void ko_proposal_about(
    const struct key_proposal *p, char *text, size_t len, uint8_t hash[32]);

/* A key_row that names what an entry is about (the rest zero). */
void ko_row_of(
    struct key_row *k, const char *name, int64_t version, const char *alg);

#endif
