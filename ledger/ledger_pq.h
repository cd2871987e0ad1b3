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

#include "sd_limits.h"

/* Connect with a 5 s connect timeout (unless conninfo sets one) and
 * synchronous_commit=on.  Returns NULL with a reason in errbuf that never
 * contains the conninfo. */
PGconn *ledger_pq_connect(const char *conninfo, char *errbuf, size_t errlen);

/* Copy PQerrorMessage's first line (bounded) into errbuf. */
void ledger_pq_error(PGconn *c, const char *what, char *errbuf, size_t errlen);

/* The length of m's first line (at most 200 bytes), for logs. */
int ledger_pq_line_len(const char *m);

/* A binary-format int2/int4/int8 column (0 when NULL). */
int64_t ledger_pq_i64(const PGresult *res, int row, int col);

/* Copy a binary text/bytea column into dst (cap bytes; with nul, a NUL is
 * added); *len gets its length.  0 when it fits, else -1.  NULL reads as
 * empty. */
int ledger_pq_bytes(const PGresult *res, int row, int col, void *dst,
    size_t cap, size_t *len, int nul);

struct ledger_entry;
struct ledger_req_key;

/* "SELECT <every column> FROM ledger_entries WHERE instance = $1 AND seq
 * > $2 ORDER BY seq LIMIT $3", read with ledger_row_entry (binary). */
extern const char ledger_page_sql[];

/* Row r of a ledger_page_sql result into e (instance not set), with its
 * prev_hash and entry_hash; -1 when a column does not fit its field. */
int ledger_row_entry(const PGresult *res, int r, struct ledger_entry *e,
    uint8_t prev[32], uint8_t hash[32]);

/* A lookup connection (connects lazily, reconnects after errors). */
struct ledger_reader {
	char conninfo[SD_CONNINFO_MAX];
	PGconn *conn;
};

/*
 * Run fn(conn, arg) on the reader's connection (connecting first); a read
 * is safe to repeat, so when it fails with SD_ERR_LEDGER on a connection
 * that broke (the database restarted since the last request), once more
 * on a fresh one.  Returns fn's result, or SD_ERR_LEDGER (logged) when
 * no connection can be made.
 */
int ledger_reader_run(
    struct ledger_reader *rd, int (*fn)(PGconn *c, void *arg), void *arg);

/*
 * seald's own sessions (the writer's, the readers') keep their statements'
 * generic plans: the lookup and the batch insert take arrays, and planned
 * for each call's arrays they would be planned at every request and every
 * commit (the generic plan's guess of ten rows per array looks dearer
 * than one of a few).  The other reads of a reader session are equality
 * or range probes of an index, or read the small keys tables, where the
 * generic plan is the one a custom plan makes.  PostgreSQL before 12
 * lacks the setting and plans each time, which is slower, not wrong: a
 * refusal is ignored.
 */
void ledger_pq_generic_plans(PGconn *c);

/* Prepare the request lookup of ledger_find_on on c: 0 or SD_ERR_LEDGER. */
int ledger_prepare_find(PGconn *c, char *errbuf, size_t errlen);

/* ledger_find_requests on connection c (prepared); ledger_find_on without
 * more. */
int ledger_find_more_on(PGconn *c, struct ledger_entry *e,
    const struct ledger_req_key *more, size_t n, unsigned char *absent);
int ledger_find_on(PGconn *c, struct ledger_entry *e);

/* Prepare the writer's batch insert (ledger_batch_exec) on c: 0 or
 * SD_ERR_LEDGER with a reason in errbuf. */
int ledger_batch_prepare(PGconn *c, char *errbuf, size_t errlen);

/*
 * Insert a batch with the prepared statement: n entries whose parameters
 * are v/len/fmt[i * ncols .. (i + 1) * ncols) (ledger_insert.c's row_params; the
 * instance, v[0], is the same in all), then nm subtrees of three
 * parameters each (ledger_merkle_params).  Returns 0 with libpq's result
 * in *res (PQclear it; NULL when it could not send), or SD_ERR_INTERNAL
 * when out of memory.
 */
int ledger_batch_exec(PGconn *c, const char *const *v, const int *len,
    const int *fmt, size_t n, size_t ncols, size_t nm, PGresult **res);

struct ledger_verdict;
struct merkle_node;
struct merkle_frontier;

/*
 * Walk an instance's chain from seq `from` (whose prev_hash must be
 * from_link) to its end, recomputing each hash; fills v (ok, entries,
 * head_seq, or the first bad position).  Returns 0 or SD_ERR_LEDGER.
 */
int ledger_walk(PGconn *c, const char *instance, int64_t from,
    const uint8_t from_link[32],
    void (*each)(void *arg, int64_t seq, const uint8_t hash[32]), void *arg,
    struct ledger_verdict *v);

/* The stored entry_hash of (instance, seq) into out: 0, or SD_ERR_LEDGER
 * (also when there is no such entry: out is then all 0xff). */
int ledger_entry_hash_at(
    PGconn *c, const char *instance, int64_t seq, uint8_t out[32]);

struct ledger_checkpointer;

/* Sign and store a checkpoint of (seq, hash, root); closing at a clean
 * stop.  Returns 0 or an error (logged; the writer tries again later). */
int ledger_cp_write(PGconn *c, const char *instance, int64_t seq,
    const uint8_t hash[32], const uint8_t root[32], int closing,
    const struct ledger_checkpointer *cp);

/* Select these columns of ledger_checkpoints (binary results) for
 * ledger_cp_parse and ledger_cp_row. */
extern const char ledger_cp_columns[];

struct ledger_cp;

/* Row i of res into cp; -1 when a column is malformed. */
int ledger_cp_parse(const PGresult *res, int i, struct ledger_cp *cp);

/*
 * Check checkpoint row i of res against the chain: well formed, not past
 * head_seq (entries removed), its entry present with the checkpointed
 * hash, its root equal to want_root (when both exist), and (pub not NULL)
 * signed by the audit key.  On a problem sets v->ok = 0, v->bad_seq and
 * v->problem.  cp gets the row.  Returns 0, or SD_ERR_LEDGER when the
 * database could not be read.
 */
int ledger_cp_row(PGconn *c, const char *instance, const PGresult *res, int i,
    EVP_PKEY *pub, int64_t head_seq, const uint8_t *want_root,
    struct ledger_cp *cp, struct ledger_verdict *v);

/*
 * Check the stored chain against the instance's last checkpoint: its
 * signature, its entry, the stored Merkle tree up to it against its root,
 * every entry after it (all entries when there is no checkpoint), and
 * that none follows a closing checkpoint.  *cp_seq gets the checkpoint's
 * seq (0: none), tree the Merkle frontier of the whole chain.  Returns 0,
 * or SD_ERR_LEDGER with the first bad position in errbuf.
 */
int ledger_cp_check(PGconn *c, const char *instance,
    const struct ledger_checkpointer *cp, int64_t *cp_seq,
    struct merkle_frontier *tree, char *errbuf, size_t errlen);

/*
 * Fill in the hashes of nodes[0..n) (perfect subtrees; level 0 are leaf
 * hashes of entries) from the database.  Returns 0, SD_ERR_NOT_FOUND when
 * one is not stored, or SD_ERR_LEDGER.
 */
int ledger_merkle_fetch(
    PGconn *c, const char *instance, struct merkle_node *nodes, size_t n);

/* The frontier of the instance's first size entries, from the stored
 * subtrees; when they are missing (a chain older than the tree), they are
 * recomputed from the entries and stored first.  0 or SD_ERR_LEDGER. */
int ledger_merkle_load(
    PGconn *c, const char *instance, int64_t size, struct merkle_frontier *f);

/* Text of one subtree row's parameters (level, idx; the hash is binary). */
struct ledger_node_text {
	char level[8];
	char idx[24];
};

/* Point v/len/fmt[0..3) at m's row parameters, texts kept in t. */
void ledger_merkle_params(const struct merkle_node *m,
    struct ledger_node_text *t, const char **v, int *len, int *fmt);

/* Append "($1,$p+1,$p+2,$p+3)" (a comma first unless first): a subtree
 * row whose instance is parameter $1.  0 or SD_ERR_INTERNAL. */
int ledger_merkle_sql(char *sql, size_t cap, size_t *off, int p, int first);

/* The name of the newest embedded migration. */
const char *ledger_schema_latest(void);

#endif
