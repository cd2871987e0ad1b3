/*
 * ledger_pq: libpq helpers shared by the files of ledger/ (never included
 * outside it).
 */
#ifndef SD_LEDGER_PQ_H
#define SD_LEDGER_PQ_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <libpq-fe.h>
#include <openssl/evp.h>

#include "ledger.h"
#include "merkle.h"
#include "sd_limits.h"

/* Connect with a 5 s connect timeout (unless conninfo sets one) and
 * synchronous_commit=on.  Returns NULL with a reason in errbuf that never
 * contains the conninfo. */
PGconn *ledger_pq_connect(const char *conninfo, char *errbuf, size_t errlen);

/* A statement to send: prepared (name) or text (sql), with n
 * parameters (none: a simple query); results in binary when binary is
 * 1. */
struct ledger_pq_stmt {
	const char *name, *sql;
	int n;
	const char *const *v;
	const int *len, *fmt;
	int binary;
};

/* How a bounded statement ended (ledger_bounded.c). */
enum ledger_pq_commit {
	LEDGER_PQ_CONFIRMED,   /* answered in time, nothing in doubt */
	LEDGER_PQ_UNCONFIRMED, /* answered after a cancel, or with a warning
				  about synchronous replication: a success
				  is on this server only, maybe on no
				  standby */
	LEDGER_PQ_LOST,        /* no answer (not sent, connection failed, or
				  no answer even to the cancel): drop c */
};

/*
 * Send s on c and wait for its answer at most deadline_ms; then cancel
 * it and wait as long again.  Returns the last result (NULL when lost),
 * how it ended in *how.  For statements that commit: with synchronous
 * replication a commit's wait for the standby is not bounded by
 * statement_timeout, and a cancelled wait answers success.  doubt (may
 * be NULL) is set to 1 before the cancel goes (the server makes the
 * commit visible as it takes it), and whenever the end is not
 * CONFIRMED for a reason of the standby's.
 */
PGresult *ledger_pq_exec_bounded(PGconn *c, const struct ledger_pq_stmt *s,
    long deadline_ms, atomic_int *doubt, enum ledger_pq_commit *how);

/*
 * A read: s sent on c and its answer awaited until until (CLOCK_MONOTONIC;
 * NULL: for ever).  Nothing is cancelled: a read changes nothing, and a
 * server too slow to answer it in time may be too frozen to take a
 * cancel.  Returns the last result, or NULL when none came in time or
 * the connection failed: c is then still busy with s (its transaction
 * status PQTRANS_ACTIVE) or broken, and of no more use.
 * ledger_pq_read_params: text parameters, results in binary.
 */
PGresult *ledger_pq_read(
    PGconn *c, const struct ledger_pq_stmt *s, const struct timespec *until);
PGresult *ledger_pq_read_params(PGconn *c, const char *sql, int n,
    const char *const *v, const struct timespec *until);

/*
 * A commit that must wait for the synchronous standby (it writes WAL),
 * within deadline_ms as above: CONFIRMED when it came back in time,
 * which means everything committed on this server before it is on the
 * standby too; else UNCONFIRMED (also when the statement failed), or
 * LOST (drop c).  Without synchronous replication it is confirmed at
 * once.
 */
enum ledger_pq_commit ledger_pq_confirm(
    PGconn *c, long deadline_ms, atomic_int *doubt);

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

/* 1 when column col of row r (binary format) is a boolean true. */
int ledger_pq_true(const PGresult *res, int r, int col);

/* "SELECT <every column> FROM ledger_entries WHERE instance = $1 AND seq
 * > $2 AND seq <= $4 ORDER BY seq LIMIT $3", read with ledger_row_entry
 * (binary); column 23 says whether signed_at is signed_at_us. */
extern const char ledger_page_sql[];

/* Row r of a ledger_page_sql result into e (instance not set), with its
 * prev_hash and entry_hash; -1 when a column does not fit its field. */
int ledger_row_entry(const PGresult *res, int r, struct ledger_entry *e,
    uint8_t prev[32], uint8_t hash[32]);

/* A lookup connection (connects lazily, reconnects after errors). */
struct ledger_reader {
	char conninfo[SD_CONNINFO_MAX];
	long read_ms; /* each read's deadline */
	PGconn *conn;
	int down; /* its last connect failed: said once, until one works */
};

/*
 * Run fn(conn, until, arg) on the reader's connection (connecting first),
 * its reads bounded by until (ledger_pq_read), read_ms from the start.
 * A read is safe to repeat, so when it fails with SD_ERR_LEDGER on a
 * connection that broke (the database restarted since the last request),
 * once more on a fresh one; one the server did not answer in time (a
 * frozen server) is dropped, and not tried again.  Returns fn's result, or SD_ERR_LEDGER when no
 * connection can be made (logged once while that lasts: a request
 * rate's worth of lines in a failover says nothing more).
 */
int ledger_reader_run(struct ledger_reader *rd,
    int (*fn)(PGconn *c, const struct timespec *until, void *arg), void *arg);

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

/* Prepare the request lookup (LEDGER_FIND_STMT, ledger_request.c) on c,
 * as every reader and the writer do on connecting (ledger_reader.c): 0 or
 * SD_ERR_LEDGER. */
#define LEDGER_FIND_STMT "seald_find_requests"
int ledger_prepare_find(PGconn *c, char *errbuf, size_t errlen);

/* ledger_find_request for each of b[0..n) in one query on connection c
 * (prepared), answered by until (ledger_pq_read): found[i] is its result
 * (0 replayed into b[i], SD_ERR_CONFLICT, SD_ERR_NOT_FOUND).  0, or
 * SD_ERR_LEDGER when the query failed.  ledger_find_on: for one entry,
 * its result. */
int ledger_find_all_on(PGconn *c, const struct timespec *until,
    struct ledger_entry *const *b, size_t n, int *found);
int ledger_find_on(
    PGconn *c, const struct timespec *until, struct ledger_entry *e);

/* Prepare the writer's batch insert (ledger_batch_exec) on c: 0 or
 * SD_ERR_LEDGER with a reason in errbuf. */
int ledger_batch_prepare(PGconn *c, char *errbuf, size_t errlen);

/*
 * Insert a batch with the prepared statement: n entries whose parameters
 * are v/len/fmt[i * ncols .. (i + 1) * ncols) (ledger_insert.c's row_params; the
 * instance, v[0], is the same in all), then nm subtrees of three
 * parameters each (ledger_merkle_params), within deadline_ms
 * (ledger_pq_exec_bounded, with doubt).  Returns 0 with libpq's result in *res
 * (PQclear it; NULL when lost) and how it ended in *how, or
 * SD_ERR_INTERNAL when out of memory.
 */
int ledger_batch_exec(PGconn *c, const char *const *v, const int *len,
    const int *fmt, size_t n, size_t ncols, size_t nm, long deadline_ms,
    atomic_int *doubt, PGresult **res, enum ledger_pq_commit *how);

/*
 * One pass over an instance's chain (ledger_pass.c): every check of
 * docs/ledger-format.md, a page at a time, so that a caller can pace it.
 */
struct ledger_pass {
	char instance[SD_NAME_MAX];
	EVP_PKEY *audit;  /* checkpoint signatures checked when not NULL */
	int check_rows;   /* compare the stored Merkle subtree rows */
	int64_t next;     /* the next seq to read */
	uint8_t link[32]; /* the hash of entry next - 1 */
	struct merkle_frontier tree; /* of entries 1..next - 1 */
	int64_t closed_at;       /* a closing checkpoint not yet opened again */
	struct ledger_verdict v; /* ok, or the first problem */
};

/* A pass from entry 1. */
void ledger_pass_init(
    struct ledger_pass *p, const char *instance, EVP_PKEY *audit);

/* Start after entry seq (its hash, the tree of 1..seq) instead. */
void ledger_pass_from(struct ledger_pass *p, int64_t seq,
    const uint8_t hash[32], const struct merkle_frontier *tree);

/*
 * Check at most max more entries, up to until (INT64_MAX: to the chain's
 * end, which is then checked too: no checkpoint past it).  With until
 * given, entries up to it must all be there.  *done is set when the pass
 * is over (p->v.ok says how; v.head_seq where it ended).  Returns 0, or
 * SD_ERR_LEDGER when the database could not be read (the pass can be
 * stepped again).
 */
int ledger_pass_step(
    PGconn *c, struct ledger_pass *p, int64_t until, int max, int *done);

/* The stored entry_hash of (instance, seq) into out: 0, or SD_ERR_LEDGER
 * (also when there is no such entry: out is then all 0xff). */
int ledger_entry_hash_at(
    PGconn *c, const char *instance, int64_t seq, uint8_t out[32]);

struct ledger_checkpointer;

/* Sign and store a checkpoint of (seq, hash, root); closing at a clean
 * stop; its time at least not_before_us; its commit confirmed within
 * deadline_ms (ledger_pq_exec_bounded, with doubt); made (may be NULL)
 * gets it.
 * Returns 0, LEDGER_CP_UNCONFIRMED (stored, made set, but the commit was
 * not confirmed: ledger_pq_exec_bounded), or an error (logged; the
 * writer tries again later; c may then be lost: PQisBusy). */
#define LEDGER_CP_UNCONFIRMED 3
int ledger_cp_write(PGconn *c, const char *instance, int64_t seq,
    const uint8_t hash[32], const uint8_t root[32], int closing,
    int64_t not_before_us, const struct ledger_checkpointer *cp,
    long deadline_ms, atomic_int *doubt, struct ledger_cp *made);

/* The time of the instance's newest checkpoint (0: none) into *at.  0 or
 * SD_ERR_LEDGER. */
int ledger_cp_last_at(PGconn *c, const char *instance, int64_t *at);

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
 * seald's check at start.  chk->full_at_start: one pass over the whole
 * chain (chk->progress told as it goes).  Else
 * from the instance's last checkpoint (its signature, its entry, the
 * stored Merkle tree up to it against its root) over every entry after
 * it (all entries when there is no checkpoint).  cp may be NULL (no
 * audit key: signatures not checked).  *cp_seq gets the newest
 * checkpoint's seq (0: none), tree the Merkle frontier of the whole
 * chain.  Returns 0, or SD_ERR_LEDGER with the first bad position in
 * errbuf.
 */
int ledger_cp_check(PGconn *c, const char *instance,
    const struct ledger_checkpointer *cp, const struct ledger_checks *chk,
    int64_t *cp_seq, struct merkle_frontier *tree, char *errbuf, size_t errlen);

/*
 * The chain (head: its last seq) must reach the newest of the heads
 * w[0..n) that parses and is signed by pub for this instance (the
 * others are logged and left aside): hold that entry with the witnessed
 * hash.  Returns 0, or SD_ERR_LEDGER with the gap in errbuf and its
 * first seq in *bad (0 when the database could not be read).
 */
int ledger_witness_check(PGconn *c, const char *instance, EVP_PKEY *pub,
    int64_t head, const struct ledger_witnessed *w, size_t n, int64_t *bad,
    char *errbuf, size_t errlen);

/*
 * Fill in the hashes of nodes[0..n) (perfect subtrees; level 0 are leaf
 * hashes of entries) from the database, read by until (ledger_pq_read).
 * Returns 0, SD_ERR_NOT_FOUND when one is not stored, or SD_ERR_LEDGER.
 */
int ledger_merkle_fetch(PGconn *c, const struct timespec *until,
    const char *instance, struct merkle_node *nodes, size_t n);

/*
 * The keys table against the key events of the ledger (every instance's):
 * each version has its generate entry for its public key and the state
 * its events lead to.  *versions gets the rows read.  Returns 0,
 * SD_ERR_CONFLICT with the first problem in problem, SD_ERR_LEDGER or
 * SD_ERR_NOMEM.
 */
int ledger_keys_audit(PGconn *c, int64_t *versions, char *problem, size_t len);

/* 1 when the instance has no subtree row at all. */
int ledger_merkle_none(PGconn *c, const char *instance);

/* The frontier of the instance's first size entries, from the stored
 * subtrees; when they are missing (a chain older than the tree), they are
 * recomputed from the entries and stored first, each INSERT a commit
 * confirmed within commit_ms (ledger_pq_exec_bounded: a synchronous
 * standby that is down would hold it for ever).  0 or SD_ERR_LEDGER. */
int ledger_merkle_load(PGconn *c, const char *instance, int64_t size,
    long commit_ms, struct merkle_frontier *f);

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
