/*
 * sealctl: the commands of sealctl, each in its file (sealctl_*.c), and
 * what they share (sealctl_util.c).
 */
#ifndef SD_SEALCTL_H
#define SD_SEALCTL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

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
const EVP_MD *sealctl_md_by_name(const char *alg);

/* The md digest of a file's bytes into out (*len its length); -1 with a
 * message on stderr when the file cannot be read. */
int sealctl_hash_file(
    const char *path, const EVP_MD *md, uint8_t *out, size_t *len);

/* A PEM public key or certificate from a file; NULL with a message. */
EVP_PKEY *sealctl_read_audit_key(const char *path);

/* Every certificate of a PEM file as trust anchors (a leaf may be one),
 * and as a list in *certs (free both); NULL with a message. */
X509_STORE *sealctl_trust(const char *path, STACK_OF(X509) * *certs);

/* The signature time-stamps of a verified CMS seal's signers (CAdES-B-T;
 * sealctl_stamp.c), their TSA chaining to the PEM file tsa_certs: a line
 * each, and 0 when every one present is good, 1 when one is not, 2 when
 * the file cannot be read. */
struct CMS_ContentInfo_st;
int sealctl_verify_stamps(
    struct CMS_ContentInfo_st *cms, const char *tsa_certs);

/* The usage text, on f (stdout for --help). */
void sealctl_usage(FILE *f);

/* "sealctl CMD: what is wrong (sealctl --help shows the usage)" on
 * stderr (CMD NULL: none); returns 2, the usage exit status. */
int sealctl_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* An option of a command: --name with a value (into *value), or a flag
 * (value NULL: *flag set to 1). */
struct sealctl_opt {
	const char *name;
	const char **value;
	int *flag;
};

/* argv's options of opts, and up to npos arguments that are not options
 * into pos[] (NULL where absent).  0, or 2 with the problem on stderr:
 * an unknown option, one without its value, an argument too many. */
int sealctl_parse(const char *cmd, int argc, char **argv,
    const struct sealctl_opt *opts, size_t nopts, const char **pos,
    size_t npos);
#define SEALCTL_NOPTS(a) (sizeof(a) / sizeof((a)[0]))

/* timestamp FILE [...]: exit status (0, 1 refused, 2 usage, 3 unreachable). */
int sealctl_cmd_timestamp(const char *sock, int argc, char **argv);

/* verify --file DOC --cert PEM (--sig|--cms|--tsr) FILE: exit status
 * (0 valid, 1 not, 2 usage). */
int sealctl_cmd_verify(int argc, char **argv);

/* ledger prove FILE --audit-key PEM [--document FILE]: exit status. */
int sealctl_cmd_ledger_prove(int argc, char **argv);

/* The service socket when neither -s nor $SEALD_SOCKET names one. */
#define SEALCTL_SERVICE_SOCKET "/run/seald/seald.sock"

/* The admin socket when neither -a nor $SEALD_ADMIN_SOCKET names one. */
#define SEALCTL_ADMIN_SOCKET "/run/seald/admin.sock"

/* [-a ADMIN_SOCKET] key SUBCOMMAND ... (argv[0] is "-a" or "key"): exit
 * status (0, 1 seald refused, 2 usage, 3 unreachable). */
int sealctl_cmd_key(int argc, char **argv);

/* ----------------------------------------- printing (sealctl_print.c) */

/* s on f with every byte outside printable ASCII (a newline kept when
 * nl) shown as '?'. */
void sealctl_put_safe(FILE *f, const char *s, int nl);

/* A string member of a reply object, else dflt. */
const char *sealctl_str_of(json_t *o, const char *key, const char *dflt);

/* An integer member as text into buf, else "?". */
const char *sealctl_int_of(json_t *o, const char *key, char *buf, size_t len);

/* "INSTANCE #SEQ" of a reply's ledger reference into buf. */
const char *sealctl_ledger_of(json_t *reply, char *buf, size_t len);

/* "; ledger INSTANCE #SEQ" and the end of the line, on f. */
void sealctl_put_ledger(FILE *f, json_t *reply);

/* A member in unix seconds as RFC 3339 UTC into buf, else "?". */
const char *sealctl_time_of(json_t *o, const char *key, char *buf, size_t len);

/* "NAME vN" of a key or proposal object (" vN" when it has one). */
void sealctl_put_name_version(json_t *o);

/* "seald's reply has no WHAT" on stderr; returns 1. */
int sealctl_bad_reply(const char *what);

/* An error reply: "sealctl: HTTP 404 not_found: no key named x". */
void sealctl_print_error(long status, json_t *root);

/*
 * method on path of the admin socket with body (may be NULL; not
 * consumed).  With json the reply body is printed as it came, error or
 * not.  Returns the exit status: 0 with the reply object in *reply
 * (json_decref it) and the HTTP status, any 2xx, in *code (when not
 * NULL: 202 is a proposal), 1 when seald refused (its code and message
 * on stderr) or answered something else than a JSON object, 2 when the
 * body cannot be built, 3 when seald could not be reached.
 */
int sealctl_admin_call(const char *sock, const char *method, const char *path,
    json_t *body, int json, long *code, json_t **reply);

/* Tables of six columns; the cells of one row, with room for those made
 * of numbers. */
#define SEALCTL_TABLE_COLS 6
struct sealctl_cells {
	const char *cell[SEALCTL_TABLE_COLS];
	char num[24], time[32], list[2][64];
};

/* The strings of a JSON array joined by commas into buf ("-" when it is
 * empty or none); buf. */
const char *sealctl_join(json_t *arr, char *buf, size_t len);

/* rows (an array) as a table under head, fill() making each row's cells;
 * the columns as wide as their widest cell. */
void sealctl_table(json_t *rows, const char *const head[SEALCTL_TABLE_COLS],
    void (*fill)(json_t *row, struct sealctl_cells *c));

#endif
