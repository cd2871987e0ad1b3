/*
 * ledger_pq: libpq helpers shared by the files of ledger/ (never included
 * outside it).
 */
#ifndef SD_LEDGER_PQ_H
#define SD_LEDGER_PQ_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>
#include <openssl/evp.h>

/* Connect with a 5 s connect timeout (unless conninfo sets one) and
 * synchronous_commit=on.  Returns NULL with a reason in errbuf that never
 * contains the conninfo. */
PGconn *ledger_pq_connect(const char *conninfo, char *errbuf, size_t errlen);

/* Copy PQerrorMessage's first line (bounded) into errbuf. */
void ledger_pq_error(PGconn *c, const char *what, char *errbuf, size_t errlen);

/* A binary-format int2/int4/int8 column (0 when NULL). */
int64_t ledger_pq_i64(const PGresult *res, int row, int col);

/* Copy a binary text/bytea column into dst (cap bytes; with nul, a NUL is
 * added); *len gets its length.  0 when it fits, else -1.  NULL reads as
 * empty. */
int ledger_pq_bytes(const PGresult *res, int row, int col, void *dst,
    size_t cap, size_t *len, int nul);

struct ledger_verdict;

/*
 * Walk an instance's chain from seq `from` (whose prev_hash must be
 * from_link) to its end, recomputing each hash; fills v (ok, entries,
 * head_seq, or the first bad position).  Returns 0 or SD_ERR_LEDGER.
 */
int ledger_walk(PGconn *c, const char *instance, int64_t from,
    const uint8_t from_link[32], struct ledger_verdict *v);

/* The stored entry_hash of (instance, seq) into out: 0, or SD_ERR_LEDGER
 * (also when there is no such entry: out is then all 0xff). */
int ledger_entry_hash_at(
    PGconn *c, const char *instance, int64_t seq, uint8_t out[32]);

struct ledger_checkpointer;

/* Sign and store a checkpoint of (seq, hash).  Returns 0 or an error
 * (logged; the writer tries again later). */
int ledger_cp_write(PGconn *c, const char *instance, int64_t seq,
    const uint8_t hash[32], const struct ledger_checkpointer *cp);

/* "seq, entry_hash, signed_at_us, signature": select these columns of
 * ledger_checkpoints (binary results) for ledger_cp_row. */
extern const char ledger_cp_columns[];

/*
 * Check checkpoint row i of res against the chain: well formed, not past
 * head_seq (entries removed), its entry present with the checkpointed
 * hash, and (pub not NULL) signed by the audit key.  On a problem sets
 * v->ok = 0, v->bad_seq and v->problem.  hash gets the checkpointed hash.
 * Returns 0, or SD_ERR_LEDGER when the database could not be read.
 */
int ledger_cp_row(PGconn *c, const char *instance, const PGresult *res, int i,
    EVP_PKEY *pub, int64_t head_seq, uint8_t hash[32],
    struct ledger_verdict *v);

/*
 * Check the stored chain against the instance's last checkpoint: its
 * signature, its entry, and every entry after it (all entries when there
 * is no checkpoint).  *cp_seq gets the checkpoint's seq (0: none).
 * Returns 0, or SD_ERR_LEDGER with the first bad position in errbuf.
 */
int ledger_cp_check(PGconn *c, const char *instance,
    const struct ledger_checkpointer *cp, int64_t *cp_seq, char *errbuf,
    size_t errlen);

/* The name of the newest embedded migration. */
const char *ledger_schema_latest(void);

#endif
