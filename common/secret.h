/*
 * secret: reading small secrets (the HSM PIN) from files that only their
 * owner can read, into caller memory that the caller wipes with
 * secret_wipe() on every path.  Secrets are never logged.
 */
#ifndef SD_SECRET_H
#define SD_SECRET_H

#include <stddef.h>

/*
 * Read the secret in path into buf (cap bytes, NUL-terminated on success),
 * dropping one trailing newline; *len gets its length.  Refuses (and says
 * why in errbuf, without the secret) a file that is not a regular file, is
 * readable or writable by group or others, is empty, or is longer than
 * cap - 1 bytes.  Returns 0, SD_ERR_CONFIG or SD_ERR_SYSTEM.  buf is wiped
 * on failure.
 */
int secret_read_file(const char *path, char *buf, size_t cap, size_t *len,
    char *errbuf, size_t errlen) __attribute__((warn_unused_result));

/* Overwrite n bytes at p in a way the compiler may not remove. */
void secret_wipe(void *p, size_t n);

/* Process-wide protections: no core dumps, not ptrace-attachable by the
 * same uid (PR_SET_DUMPABLE 0).  Returns 0 or SD_ERR_SYSTEM. */
int secret_harden_process(void) __attribute__((warn_unused_result));

/*
 * Memory for a secret (a PIN while it is read and handed to C_Login):
 * whole pages of their own, locked in RAM (mlock: never swapped) and left
 * out of core dumps (MADV_DONTDUMP).  NULL when no memory; a lock the
 * limits refuse (RLIMIT_MEMLOCK) is logged once and the memory still
 * served.  secret_free wipes, unlocks and unmaps; NULL accepted.
 */
void *secret_alloc(size_t n);
void secret_free(void *p, size_t n);

#endif
