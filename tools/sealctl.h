/*
 * sealctl: helpers shared by the command files of sealctl.
 */
#ifndef SD_SEALCTL_H
#define SD_SEALCTL_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

/* sha256 / sha384 / sha512, else NULL. */
const EVP_MD *md_by_name(const char *alg);

/* The md digest of a file's bytes into out (*len its length); -1 with a
 * message on stderr when the file cannot be read. */
int hash_file(const char *path, const EVP_MD *md, uint8_t *out, size_t *len);

/* A PEM public key or certificate from a file; NULL with a message. */
EVP_PKEY *read_audit_key(const char *path);

/* ledger prove FILE --audit-key PEM [--document FILE]: exit status. */
int cmd_ledger_prove(int argc, char **argv);

#endif
