/*
 * ledger_json: an entry, a checkpoint and an inclusion proof as JSON, the
 * document GET /v1/ledger/{instance}/{seq} returns and `sealctl ledger
 * prove` checks (docs/ledger-format.md, "Proof documents").  Entry fields
 * carry their column names; hashes are lowercase hex, digests and
 * signatures standard base64.  Decoding is strict: every field of the
 * entry's kind must be there with its type and size, nothing else.
 */
#ifndef SD_LEDGER_JSON_H
#define SD_LEDGER_JSON_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ledger.h"

#define LEDGER_PROOF_FORMAT "seald-ledger-proof-v1"

/* n bytes (at most SD_SEAL_MAX) as a base64 JSON string; a new
 * reference, NULL when out of memory. */
json_t *ledger_json_b64(const uint8_t *p, size_t n);

/* Microseconds since the epoch as RFC 3339 UTC with microseconds. */
void ledger_json_rfc3339(int64_t us, char *buf, size_t len);

/* New references (NULL when out of memory). */
json_t *ledger_json_row(const struct ledger_row *r);
json_t *ledger_json_proof(const struct ledger_proof *p);

/* Decode a proof document into out.  Returns 0, or -1 with what is
 * wrong in errbuf. */
int ledger_json_read_proof(const json_t *doc, struct ledger_proof *out,
    char *errbuf, size_t errlen) __attribute__((warn_unused_result));

#endif
