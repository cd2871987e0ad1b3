/*
 * migrations: the SQL files of migrations/, embedded at build time by
 * tools/embed-sql.sh, in file-name order.
 */
#ifndef SD_MIGRATIONS_H
#define SD_MIGRATIONS_H

#include <stddef.h>

struct ledger_migration {
	const char *name; /* file name without .sql, e.g. "0001_ledger" */
	const char *sql;
};

extern const struct ledger_migration ledger_migrations[];
extern const size_t ledger_nmigrations;

#endif
