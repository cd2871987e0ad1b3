/*
 * ledger_pq: libpq helpers shared by the files of ledger/ (never included
 * outside it).
 */
#ifndef SD_LEDGER_PQ_H
#define SD_LEDGER_PQ_H

#include <stddef.h>

#include <libpq-fe.h>

/* Connect with a 5 s connect timeout (unless conninfo sets one) and
 * synchronous_commit=on.  Returns NULL with a reason in errbuf that never
 * contains the conninfo. */
PGconn *ledger_pq_connect(const char *conninfo, char *errbuf, size_t errlen);

/* Copy PQerrorMessage's first line (bounded) into errbuf. */
void ledger_pq_error(PGconn *c, const char *what, char *errbuf, size_t errlen);

/* The name of the newest embedded migration. */
const char *ledger_schema_latest(void);

#endif
