/*
 * sealctl_key: what the files of `sealctl key` share (sealctl_key.c, the
 * commands and their options; sealctl_keycert.c, csr and import-cert).
 */
#ifndef SD_SEALCTL_KEY_H
#define SD_SEALCTL_KEY_H

#include <jansson.h>

/* The value options; --json is the flag KO_JSON. */
enum key_opt {
	KO_ALGORITHM,
	KO_SUBJECT,
	KO_USAGE,
	KO_VERSION,
	KO_OUT,
	KO_CONFIRM,
	KO_COUNT
};
#define KO_BIT(o) (1u << (o))
#define KO_JSON KO_BIT(KO_COUNT)
/* Not an option: the command's argument is a proposal ID, not a NAME. */
#define KO_ID KO_BIT(KO_COUNT + 1)

/* A proposal ID has at most as many digits as the largest bigint. */
#define KEY_ID_DIGITS 19
#define KEY_ID_WRONG \
	"a proposal ID is 1 to " SD_XSTR(KEY_ID_DIGITS) " digits, not "

struct key_opts {
	const char *cmd;    /* the subcommand: retire, disable, destroy... */
	const char *arg[2]; /* NAME (or ID), and FILE for import-cert */
	int nargs;
	const char *val[KO_COUNT];
	int json;
	json_int_t version; /* from val[KO_VERSION]; 0 when absent */
};

/* req with "version" set when o names one (so that seald picks the
 * active version otherwise); NULL (req freed) when out of memory. */
json_t *sealctl_key_with_version(json_t *req, const struct key_opts *o);

/* key csr NAME and key import-cert NAME FILE: exit status. */
int sealctl_key_csr(const char *sock, const struct key_opts *o);
int sealctl_key_import_cert(const char *sock, const struct key_opts *o);

#endif
