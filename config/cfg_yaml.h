/*
 * cfg_yaml: a small, strict layer over libyaml shared by the seald config
 * and policy loaders.  It parses a bounded buffer into a tree of nodes that
 * each remember their line and column, refuses the YAML features a
 * hand-written config never needs (aliases, anchors, tags, several
 * documents) and offers typed readers that check every value and report the
 * first error as one line "NAME:LINE:COL: message".  Messages never contain
 * a scalar's value, only key names, so a secret in the file (a conninfo
 * password) cannot leak through an error.
 */
#ifndef SD_CFG_YAML_H
#define SD_CFG_YAML_H

#include <stddef.h>
#include <sys/types.h>

#include "sd_limits.h"

enum cfg_yaml_kind {
	CFG_YAML_SCALAR = 1,
	CFG_YAML_SEQUENCE,
	CFG_YAML_MAPPING,
};

struct cfg_yaml_doc;  /* a parsed document and its error buffer */
struct cfg_yaml_node; /* one node, owned by its document */

/* One entry of the table of keys a mapping may hold. */
struct cfg_yaml_key {
	const char *name;
	int required;
};

/*
 * Read the regular file at path, of at most SD_CONFIG_MAX_BYTES (counted
 * as read, whatever stat says; a FIFO or a folder is refused without
 * blocking), into a new buffer: *buf (len bytes, free with free(3) after
 * wiping it with explicit_bzero) and *len.  Returns 0, or SD_ERR_CONFIG
 * with "PATH: reason" in errbuf and *buf NULL.
 */
int cfg_yaml_read_file(const char *path, unsigned char **buf, size_t *len,
    char *errbuf, size_t errlen) __attribute__((warn_unused_result));

/*
 * Parse len bytes of buf (not necessarily NUL-terminated).  Refuses input
 * larger than SD_CONFIG_MAX_BYTES, nesting deeper than SD_CONFIG_MAX_DEPTH,
 * aliases, anchors, explicit tags, %TAG directives, more than one document
 * and an empty stream.  name is used in error messages and must outlive the
 * document; errbuf (errlen bytes, may be NULL/0) must outlive it too, since
 * the readers below write their errors there.  On success *errbuf is "" and
 * a new document is returned (free with cfg_yaml_free); on failure NULL is
 * returned and errbuf holds the reason.
 */
struct cfg_yaml_doc *cfg_yaml_parse(const char *name, const unsigned char *buf,
    size_t len, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));

/* Wipes every scalar and frees the document.  NULL is accepted. */
void cfg_yaml_free(struct cfg_yaml_doc *doc);

/*
 * For a file meant for another machine: a user or group name that does
 * not exist here is passed to fn (kind "user" or "group", the name, its
 * line and column) and read as the id (unsigned)-1, which matches no
 * caller, instead of being an error.  A lookup that fails otherwise is
 * still one.
 */
typedef void cfg_yaml_elsewhere_fn(const char *kind, const char *name,
    unsigned long line, unsigned long column, void *arg);
void cfg_yaml_names_elsewhere(
    struct cfg_yaml_doc *doc, cfg_yaml_elsewhere_fn *fn, void *arg);

/* The root node; never NULL for a document cfg_yaml_parse returned. */
const struct cfg_yaml_node *cfg_yaml_root(const struct cfg_yaml_doc *doc);

enum cfg_yaml_kind cfg_yaml_kind(const struct cfg_yaml_node *node);
unsigned long cfg_yaml_line(const struct cfg_yaml_node *node);   /* 1-based */
unsigned long cfg_yaml_column(const struct cfg_yaml_node *node); /* 1-based */

/*
 * Record an error at node (or without a position when node is NULL) as
 * "NAME:LINE:COL: message".  Only the first error of a document is kept, so
 * the most precise report survives as callers unwind.  Never put a scalar
 * value in fmt's arguments unless it is known not to be a secret.  Returns
 * SD_ERR_CONFIG so that callers can write "return cfg_yaml_error(...)".
 */
int cfg_yaml_error(struct cfg_yaml_doc *doc, const struct cfg_yaml_node *node,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * Check that node is a mapping whose keys are scalars found in
 * keys[0..nkeys-1], each at most once, and that every required key is
 * present.  values[i] is set to the value node of keys[i].name, or NULL
 * when absent.  Errors: unknown and duplicate keys at the key's position,
 * missing keys at the mapping's position.  Returns 0 or SD_ERR_CONFIG.
 */
int cfg_yaml_map(struct cfg_yaml_doc *doc, const struct cfg_yaml_node *node,
    const struct cfg_yaml_key *keys, size_t nkeys,
    const struct cfg_yaml_node **values) __attribute__((warn_unused_result));

/*
 * Items of a sequence of min..max entries: items[0..*nitems-1] (items has
 * room for max).  cfg_yaml_list also accepts a single scalar as a list of
 * one.  Returns 0 or SD_ERR_CONFIG.
 */
int cfg_yaml_seq(struct cfg_yaml_doc *doc, const struct cfg_yaml_node *node,
    size_t min, size_t max, const struct cfg_yaml_node **items, size_t *nitems)
    __attribute__((warn_unused_result));
int cfg_yaml_list(struct cfg_yaml_doc *doc, const struct cfg_yaml_node *node,
    size_t min, size_t max, const struct cfg_yaml_node **items, size_t *nitems)
    __attribute__((warn_unused_result));

/*
 * A scalar as a string of minlen..dstsize-1 bytes, copied NUL-terminated
 * into dst.  Refuses null (~, null, or nothing) and control characters
 * (NUL included).  dst is untouched on error.  Returns 0 or SD_ERR_CONFIG.
 */
int cfg_yaml_str(struct cfg_yaml_doc *doc, const struct cfg_yaml_node *node,
    size_t minlen, char *dst, size_t dstsize)
    __attribute__((warn_unused_result));

/*
 * A plain (unquoted) scalar as an unsigned decimal integer in min..max:
 * digits only, no sign, no leading zero (it would read as octal elsewhere),
 * no overflow.  Returns 0 or SD_ERR_CONFIG.
 */
int cfg_yaml_uint(struct cfg_yaml_doc *doc, const struct cfg_yaml_node *node,
    unsigned long long min, unsigned long long max, unsigned long long *out)
    __attribute__((warn_unused_result));

/* A file mode written "0" and one to three octal digits ("0660", plain or
 * quoted), so at most 0777.  Returns 0 or SD_ERR_CONFIG. */
int cfg_yaml_mode(struct cfg_yaml_doc *doc, const struct cfg_yaml_node *node,
    mode_t *out) __attribute__((warn_unused_result));

/* A plain true/false (also True/TRUE/False/FALSE).  Returns 0 or
 * SD_ERR_CONFIG. */
int cfg_yaml_bool(struct cfg_yaml_doc *doc, const struct cfg_yaml_node *node,
    int *out) __attribute__((warn_unused_result));

/* A scalar equal to one of names[0..nnames-1]; *idx is its index.  Returns
 * 0 or SD_ERR_CONFIG. */
int cfg_yaml_enum(struct cfg_yaml_doc *doc, const struct cfg_yaml_node *node,
    const char *const *names, size_t nnames, size_t *idx)
    __attribute__((warn_unused_result));

/*
 * A name of letters, digits, '.', '_' and '-', 1..SD_NAME_MAX-1 bytes
 * (instance, key, client names), copied into dst.  Returns 0 or
 * SD_ERR_CONFIG.
 */
int cfg_yaml_name(struct cfg_yaml_doc *doc, const struct cfg_yaml_node *node,
    char dst[SD_NAME_MAX]) __attribute__((warn_unused_result));

/* An absolute path of at most SD_PATH_MAX-1 bytes, copied into dst.
 * Returns 0 or SD_ERR_CONFIG. */
int cfg_yaml_path(struct cfg_yaml_doc *doc, const struct cfg_yaml_node *node,
    char dst[SD_PATH_MAX]) __attribute__((warn_unused_result));

/*
 * A user (group) name resolved now with getpwnam_r (getgrnam_r).  An
 * unknown name, or a lookup that fails, is an error at node naming the
 * user (group): names are not secrets.  Returns 0 or SD_ERR_CONFIG.
 */
int cfg_yaml_user(struct cfg_yaml_doc *doc, const struct cfg_yaml_node *node,
    uid_t *out) __attribute__((warn_unused_result));
int cfg_yaml_group(struct cfg_yaml_doc *doc, const struct cfg_yaml_node *node,
    gid_t *out) __attribute__((warn_unused_result));

/*
 * The pairs of a mapping of min..max entries whose keys are chosen by the
 * file (a table of names): keys[i] and values[i] for i < *npairs (both have
 * room for max).  Keys must be scalars and appear once; a duplicate is an
 * error at the second one naming the first one's position.  Returns 0 or
 * SD_ERR_CONFIG.
 */
int cfg_yaml_pairs(struct cfg_yaml_doc *doc, const struct cfg_yaml_node *node,
    size_t min, size_t max, const struct cfg_yaml_node **keys,
    const struct cfg_yaml_node **values, size_t *npairs)
    __attribute__((warn_unused_result));

/*
 * A plain scalar written as a decimal number: digits, optionally a '.' and
 * one to CFG_YAML_DECIMAL_DIGITS digits ("50", "0.5"); no sign, exponent or
 * leading zero, in min..max.  Returns 0 or SD_ERR_CONFIG.
 */
#define CFG_YAML_DECIMAL_DIGITS 6
int cfg_yaml_decimal(struct cfg_yaml_doc *doc, const struct cfg_yaml_node *node,
    double min, double max, double *out) __attribute__((warn_unused_result));

/* Write one formatted line into errbuf (NULL or 0 length: nothing). */
void cfg_yaml_seterr(char *errbuf, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
