/*
 * sealctl: helpers shared by the command files of sealctl.
 */
#ifndef SD_SEALCTL_H
#define SD_SEALCTL_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509_vfy.h>

/* A reply body, NUL-terminated, at most 4 MiB. */
struct sealctl_buf {
	char *p;
	size_t len;
	int overflow;
};

/*
 * HTTP method on path over the service socket sock, with len bytes of
 * body of Content-Type ctype (body NULL: none); *status gets the HTTP
 * status, out the reply (free out->p).  Returns 0, or -1 with a message
 * on stderr when seald could not be reached.
 */
int sealctl_call(const char *sock, const char *method, const char *path,
    const char *ctype, const void *body, size_t len, long *status,
    struct sealctl_buf *out);

/* Write len bytes to path; 0, or -1 with a message on stderr. */
int sealctl_write_file(const char *path, const void *p, size_t len);

/* sha256 / sha384 / sha512, else NULL. */
const EVP_MD *md_by_name(const char *alg);

/* The md digest of a file's bytes into out (*len its length); -1 with a
 * message on stderr when the file cannot be read. */
int hash_file(const char *path, const EVP_MD *md, uint8_t *out, size_t *len);

/* A PEM public key or certificate from a file; NULL with a message. */
EVP_PKEY *read_audit_key(const char *path);

/* Every certificate of a PEM file as trust anchors (a leaf may be one),
 * and as a list in *certs (free both); NULL with a message. */
X509_STORE *sealctl_trust(const char *path, STACK_OF(X509) * *certs);

/* The usage text, on stderr. */
void sealctl_usage(void);

/* timestamp FILE [...]: exit status (0, 1 refused, 2 usage, 3 unreachable). */
int cmd_timestamp(const char *sock, int argc, char **argv);

/* verify --file DOC --cert PEM (--sig|--cms|--tsr) FILE: exit status
 * (0 valid, 1 not, 2 usage). */
int cmd_verify(int argc, char **argv);

/* ledger prove FILE --audit-key PEM [--document FILE]: exit status. */
int cmd_ledger_prove(int argc, char **argv);

/* The admin socket when neither -a nor $SEALD_ADMIN_SOCKET names one. */
#define SEALCTL_ADMIN_SOCKET "/run/seald/admin.sock"

/* [-a ADMIN_SOCKET] key SUBCOMMAND ... (argv[0] is "-a" or "key"): exit
 * status (0, 1 seald refused, 2 usage, 3 unreachable). */
int cmd_key(int argc, char **argv);

#endif
