/*
 * ledger_pq: libpq helpers shared by the files of ledger/ (never included
 * outside it).
 */
#ifndef SD_LEDGER_PQ_H
#define SD_LEDGER_PQ_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

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

/* The name of the newest embedded migration. */
const char *ledger_schema_latest(void);

#endif
