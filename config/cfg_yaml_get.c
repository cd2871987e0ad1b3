/*
 * cfg_yaml_get: the typed readers of a parsed tree (cfg_yaml.h).  Every
 * reader checks type, length and range itself and reports the first
 * problem with the node's line and column, never with the node's value.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfg_yaml.h"
#include "cfg_yaml_int.h"
#include "err.h"
#include "name.h"
#include "sd_limits.h"

#define NAME_SHOWN_MAX 64         /* bytes of a key name shown in an error */
#define NSS_BUF_MAX (1024 * 1024) /* getpwnam_r/getgrnam_r buffer */

/*
 * Copy at most NAME_SHOWN_MAX bytes of a file-supplied name for an error
 * message, with anything but printable ASCII replaced, so that a key in the
 * file cannot put escape sequences or a newline into the daemon's log.
 */
static void
shown(char *dst, size_t dstsize, const char *src, size_t len)
{
	size_t i, n;

	n = len < dstsize - 1 ? len : dstsize - 1;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)src[i];

		dst[i] = (c < 0x20 || c >= 0x7f) ? '?' : (char)c;
	}
	dst[n] = '\0';
}

static int
is_null(const struct cfg_yaml_node *n)
{
	if (n->kind != CFG_YAML_SCALAR || !n->plain)
		return 0;
	return n->len == 0 || strcmp(n->value, "~") == 0 ||
	    strcmp(n->value, "null") == 0 || strcmp(n->value, "Null") == 0 ||
	    strcmp(n->value, "NULL") == 0;
}

/* What a node is, for "expected X, got Y". */
static const char *
what(const struct cfg_yaml_node *n)
{
	switch (n->kind) {
	case CFG_YAML_SCALAR:
		if (is_null(n))
			return "null";
		return n->plain ? "a scalar" : "a quoted string";
	case CFG_YAML_SEQUENCE:
		return "a sequence";
	case CFG_YAML_MAPPING:
		return "a mapping";
	}
	return "?";
}

int
cfg_yaml_map(struct cfg_yaml_doc *doc, const struct cfg_yaml_node *node,
    const struct cfg_yaml_key *keys, size_t nkeys,
    const struct cfg_yaml_node **values)
{
	const struct cfg_yaml_node *k, *v;
	char name[NAME_SHOWN_MAX + 1];
	size_t i;

	for (i = 0; i < nkeys; i++)
		values[i] = NULL;
	if (node == NULL)
		return cfg_yaml_error(doc, NULL, "internal error: no node");
	if (node->kind != CFG_YAML_MAPPING)
		return cfg_yaml_error(
		    doc, node, "expected a mapping, got %s", what(node));
	for (k = node->child; k != NULL; k = v->next) {
		if ((v = k->next) == NULL)
			return cfg_yaml_error(
			    doc, k, "internal error: key without value");
		if (k->kind != CFG_YAML_SCALAR)
			return cfg_yaml_error(
			    doc, k, "a key must be a scalar, not %s", what(k));
		for (i = 0; i < nkeys; i++)
			if (strlen(keys[i].name) == k->len &&
			    memcmp(keys[i].name, k->value, k->len) == 0)
				break;
		if (i == nkeys) {
			shown(name, sizeof(name), k->value, k->len);
			return cfg_yaml_error(doc, k, "unknown key '%s'", name);
		}
		if (values[i] != NULL)
			return cfg_yaml_error(
			    doc, k, "duplicate key '%s'", keys[i].name);
		values[i] = v;
	}
	for (i = 0; i < nkeys; i++)
		if (keys[i].required && values[i] == NULL)
			return cfg_yaml_error(doc, node,
			    "missing required key '%s'", keys[i].name);
	return 0;
}

static int
collect(struct cfg_yaml_doc *doc, const struct cfg_yaml_node *node, size_t min,
    size_t max, const struct cfg_yaml_node **items, size_t *nitems,
    int scalar_ok)
{
	const struct cfg_yaml_node *it;
	size_t n = 0;

	*nitems = 0;
	if (node == NULL)
		return cfg_yaml_error(doc, NULL, "internal error: no node");
	if (scalar_ok && node->kind == CFG_YAML_SCALAR) {
		if (min > 1 || max < 1)
			return cfg_yaml_error(doc, node,
			    "expected a sequence of %zu..%zu entries", min,
			    max);
		items[0] = node;
		*nitems = 1;
		return 0;
	}
	if (node->kind != CFG_YAML_SEQUENCE)
		return cfg_yaml_error(doc, node, "expected %s, got %s",
		    scalar_ok ? "a scalar or a sequence" : "a sequence",
		    what(node));
	for (it = node->child; it != NULL; it = it->next) {
		if (n == max)
			return cfg_yaml_error(
			    doc, it, "too many entries (at most %zu)", max);
		items[n++] = it;
	}
	if (n < min)
		return cfg_yaml_error(doc, node,
		    n == 0 ? "empty sequence (at least %zu expected)"
			   : "too few entries (at least %zu)",
		    min);
	*nitems = n;
	return 0;
}

int
cfg_yaml_seq(struct cfg_yaml_doc *doc, const struct cfg_yaml_node *node,
    size_t min, size_t max, const struct cfg_yaml_node **items, size_t *nitems)
{
	return collect(doc, node, min, max, items, nitems, 0);
}

int
cfg_yaml_list(struct cfg_yaml_doc *doc, const struct cfg_yaml_node *node,
    size_t min, size_t max, const struct cfg_yaml_node **items, size_t *nitems)
{
	return collect(doc, node, min, max, items, nitems, 1);
}

/* A non-null scalar, or an error "expected <what>". */
static int
need_scalar(struct cfg_yaml_doc *doc, const struct cfg_yaml_node *node,
    const char *expected)
{
	if (node == NULL)
		return cfg_yaml_error(doc, NULL, "internal error: no node");
	if (node->kind != CFG_YAML_SCALAR || is_null(node))
		return cfg_yaml_error(
		    doc, node, "expected %s, got %s", expected, what(node));
	return 0;
}

int
cfg_yaml_str(struct cfg_yaml_doc *doc, const struct cfg_yaml_node *node,
    size_t minlen, char *dst, size_t dstsize)
{
	size_t i;
	int r;

	if ((r = need_scalar(doc, node, "a string")) != 0)
		return r;
	if (dstsize == 0)
		return cfg_yaml_error(doc, node, "internal error: no room");
	for (i = 0; i < node->len; i++) {
		unsigned char c = (unsigned char)node->value[i];

		if (c < 0x20 || c == 0x7f)
			return cfg_yaml_error(
			    doc, node, "control characters are not allowed");
	}
	if (node->len < minlen)
		return cfg_yaml_error(doc, node,
		    minlen == 1 ? "must not be empty"
				: "too short (at least %zu bytes)",
		    minlen);
	if (node->len > dstsize - 1)
		return cfg_yaml_error(
		    doc, node, "too long (at most %zu bytes)", dstsize - 1);
	memcpy(dst, node->value, node->len);
	dst[node->len] = '\0';
	return 0;
}

int
cfg_yaml_uint(struct cfg_yaml_doc *doc, const struct cfg_yaml_node *node,
    unsigned long long min, unsigned long long max, unsigned long long *out)
{
	const unsigned long long top = ~0ULL;
	unsigned long long v = 0;
	unsigned int d;
	size_t i;
	int r;

	if ((r = need_scalar(doc, node, "an unsigned integer")) != 0)
		return r;
	if (!node->plain)
		return cfg_yaml_error(doc, node,
		    "expected an unsigned integer, got a quoted string");
	if (node->value[0] == '-')
		return cfg_yaml_error(doc, node,
		    "negative numbers are not allowed (allowed %llu..%llu)",
		    min, max);
	for (i = 0; i < node->len; i++)
		if (node->value[i] < '0' || node->value[i] > '9')
			return cfg_yaml_error(
			    doc, node, "expected an unsigned decimal integer");
	if (node->len > 1 && node->value[0] == '0')
		return cfg_yaml_error(doc, node,
		    "leading zeros are not allowed in decimal numbers");
	for (i = 0; i < node->len; i++) {
		d = (unsigned int)(node->value[i] - '0');
		if (v > (top - d) / 10)
			return cfg_yaml_error(doc, node,
			    "number out of range (allowed %llu..%llu)", min,
			    max);
		v = v * 10 + d;
	}
	if (v < min || v > max)
		return cfg_yaml_error(doc, node,
		    "number out of range (allowed %llu..%llu)", min, max);
	*out = v;
	return 0;
}

int
cfg_yaml_mode(
    struct cfg_yaml_doc *doc, const struct cfg_yaml_node *node, mode_t *out)
{
	mode_t m = 0;
	size_t i;
	int r;

	if ((r = need_scalar(doc, node, "an octal mode")) != 0)
		return r;
	if (node->len < 1 || node->len > 4 || node->value[0] != '0')
		goto bad;
	for (i = 1; i < node->len; i++) {
		if (node->value[i] < '0' || node->value[i] > '7')
			goto bad;
		m = (mode_t)(m * 8 + (mode_t)(node->value[i] - '0'));
	}
	*out = m;
	return 0;
bad:
	return cfg_yaml_error(doc, node,
	    "bad mode: expected \"0\" and up to three octal digits, at most "
	    "\"0777\"");
}

int
cfg_yaml_bool(
    struct cfg_yaml_doc *doc, const struct cfg_yaml_node *node, int *out)
{
	static const char *const yes[] = { "true", "True", "TRUE" };
	static const char *const no[] = { "false", "False", "FALSE" };
	size_t i;
	int r;

	if ((r = need_scalar(doc, node, "true or false")) != 0)
		return r;
	if (node->plain) {
		for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
			if (strcmp(node->value, yes[i]) == 0) {
				*out = 1;
				return 0;
			}
			if (strcmp(node->value, no[i]) == 0) {
				*out = 0;
				return 0;
			}
		}
	}
	return cfg_yaml_error(doc, node, "expected true or false");
}

int
cfg_yaml_enum(struct cfg_yaml_doc *doc, const struct cfg_yaml_node *node,
    const char *const *names, size_t nnames, size_t *idx)
{
	char list[200];
	size_t i, off;
	int n, r;

	off = (size_t)snprintf(list, sizeof(list), "one of: ");
	for (i = 0; i < nnames && off < sizeof(list); i++) {
		n = snprintf(list + off, sizeof(list) - off, "%s%s",
		    i > 0 ? ", " : "", names[i]);
		if (n < 0)
			break;
		off += (size_t)n;
	}
	if ((r = need_scalar(doc, node, list)) != 0)
		return r;
	for (i = 0; i < nnames; i++) {
		if (strlen(names[i]) == node->len &&
		    memcmp(names[i], node->value, node->len) == 0) {
			*idx = i;
			return 0;
		}
	}
	return cfg_yaml_error(doc, node, "expected %s", list);
}

int
cfg_yaml_name(struct cfg_yaml_doc *doc, const struct cfg_yaml_node *node,
    char dst[SD_NAME_MAX])
{
	char tmp[SD_NAME_MAX];
	size_t i;
	int r;

	if ((r = cfg_yaml_str(doc, node, 1, tmp, sizeof(tmp))) != 0)
		return r;
	for (i = 0; tmp[i] != '\0'; i++)
		if (!sd_name_char((unsigned char)tmp[i]))
			return cfg_yaml_error(doc, node,
			    "bad name: only letters, digits, '.', '_' and '-' "
			    "are allowed");
	memcpy(dst, tmp, i + 1);
	return 0;
}

int
cfg_yaml_path(struct cfg_yaml_doc *doc, const struct cfg_yaml_node *node,
    char dst[SD_PATH_MAX])
{
	int r;

	if ((r = cfg_yaml_str(doc, node, 1, dst, SD_PATH_MAX)) != 0)
		return r;
	if (dst[0] != '/')
		return cfg_yaml_error(doc, node, "must be an absolute path");
	return 0;
}

/* Not found, as opposed to a lookup that failed (getpwnam_r(3)). */
static int
nss_not_found(int e)
{
	return e == 0 || e == ENOENT || e == ESRCH || e == EBADF || e == EPERM;
}

void
cfg_yaml_names_elsewhere(
    struct cfg_yaml_doc *doc, cfg_yaml_elsewhere_fn *fn, void *arg)
{
	doc->elsewhere = fn;
	doc->elsewhere_arg = arg;
}

/* Resolve a user (group set: a group) name with the _r lookups, growing
 * their buffer on ERANGE up to NSS_BUF_MAX. */
static int
lookup_id(struct cfg_yaml_doc *doc, const struct cfg_yaml_node *node, int group,
    unsigned int *out)
{
	const char *what_id = group ? "group" : "user";
	char name[SD_NAME_MAX], ebuf[128];
	struct passwd pw, *pwres;
	struct group gr, *grres;
	char *buf = NULL, *nbuf;
	size_t size = 1024;
	int e, found, r;

	if ((r = cfg_yaml_str(doc, node, 1, name, sizeof(name))) != 0)
		return r;
	for (;;) {
		if ((nbuf = realloc(buf, size)) == NULL) {
			free(buf);
			return cfg_yaml_error(doc, node, "out of memory");
		}
		buf = nbuf;
		pwres = NULL;
		grres = NULL;
		if (group)
			e = getgrnam_r(name, &gr, buf, size, &grres);
		else
			e = getpwnam_r(name, &pw, buf, size, &pwres);
		if (e != ERANGE || size >= NSS_BUF_MAX)
			break;
		size *= 2;
	}
	found = group ? grres != NULL : pwres != NULL;
	if (e == 0 && found) {
		*out =
		    group ? (unsigned int)gr.gr_gid : (unsigned int)pw.pw_uid;
		r = 0;
	} else if (nss_not_found(e) && doc->elsewhere != NULL) {
		doc->elsewhere(what_id, name, node->line, node->column,
		    doc->elsewhere_arg);
		*out = (unsigned int)-1;
		r = 0;
	} else if (nss_not_found(e))
		r = cfg_yaml_error(doc, node, "unknown %s '%s'", what_id, name);
	else
		r = cfg_yaml_error(doc, node, "cannot look up %s '%s': %s",
		    what_id, name, strerror_r(e, ebuf, sizeof(ebuf)));
	free(buf);
	return r;
}

int
cfg_yaml_user(
    struct cfg_yaml_doc *doc, const struct cfg_yaml_node *node, uid_t *out)
{
	unsigned int v;
	int r;

	if ((r = lookup_id(doc, node, 0, &v)) != 0)
		return r;
	*out = (uid_t)v;
	return 0;
}

int
cfg_yaml_group(
    struct cfg_yaml_doc *doc, const struct cfg_yaml_node *node, gid_t *out)
{
	unsigned int v;
	int r;

	if ((r = lookup_id(doc, node, 1, &v)) != 0)
		return r;
	*out = (gid_t)v;
	return 0;
}

int
cfg_yaml_pairs(struct cfg_yaml_doc *doc, const struct cfg_yaml_node *node,
    size_t min, size_t max, const struct cfg_yaml_node **keys,
    const struct cfg_yaml_node **values, size_t *npairs)
{
	const struct cfg_yaml_node *k, *v;
	char name[NAME_SHOWN_MAX + 1];
	size_t i, n = 0;

	*npairs = 0;
	if (node == NULL)
		return cfg_yaml_error(doc, NULL, "internal error: no node");
	if (node->kind != CFG_YAML_MAPPING)
		return cfg_yaml_error(
		    doc, node, "expected a mapping, got %s", what(node));
	for (k = node->child; k != NULL; k = v->next) {
		if ((v = k->next) == NULL)
			return cfg_yaml_error(
			    doc, k, "internal error: key without value");
		if (k->kind != CFG_YAML_SCALAR)
			return cfg_yaml_error(
			    doc, k, "a key must be a scalar, not %s", what(k));
		for (i = 0; i < n; i++) {
			if (keys[i]->len != k->len ||
			    memcmp(keys[i]->value, k->value, k->len) != 0)
				continue;
			shown(name, sizeof(name), k->value, k->len);
			return cfg_yaml_error(doc, k,
			    "duplicate name '%s' (first at %lu:%lu)", name,
			    keys[i]->line, keys[i]->column);
		}
		if (n == max)
			return cfg_yaml_error(
			    doc, k, "too many entries (at most %zu)", max);
		keys[n] = k;
		values[n] = v;
		n++;
	}
	if (n < min)
		return cfg_yaml_error(doc, node,
		    n == 0 ? "empty mapping (at least %zu entries expected)"
			   : "too few entries (at least %zu)",
		    min);
	*npairs = n;
	return 0;
}

int
cfg_yaml_decimal(struct cfg_yaml_doc *doc, const struct cfg_yaml_node *node,
    double min, double max, double *out)
{
	/* 15 significant digits are exact in a double. */
	const unsigned long long top = 999999999ULL;
	unsigned long long ip = 0, fp = 0, scale = 1;
	size_t i = 0, nfrac = 0;
	double v;
	int r;

	if ((r = need_scalar(doc, node, "a decimal number")) != 0)
		return r;
	if (!node->plain)
		goto bad;
	for (; i < node->len && node->value[i] >= '0' && node->value[i] <= '9';
	     i++) {
		if (ip > top)
			goto range;
		ip = ip * 10 + (unsigned long long)(node->value[i] - '0');
	}
	if (i == 0 || (i > 1 && node->value[0] == '0'))
		goto bad;
	if (i < node->len) {
		if (node->value[i++] != '.')
			goto bad;
		for (; i < node->len; i++, nfrac++) {
			if (node->value[i] < '0' || node->value[i] > '9' ||
			    nfrac == CFG_YAML_DECIMAL_DIGITS)
				goto bad;
			fp = fp * 10 +
			    (unsigned long long)(node->value[i] - '0');
			scale *= 10;
		}
		if (nfrac == 0)
			goto bad;
	}
	v = (double)ip + (double)fp / (double)scale;
	if (v < min || v > max)
		goto range;
	*out = v;
	return 0;
bad:
	return cfg_yaml_error(doc, node,
	    "expected a decimal number such as 50 or 0.5 (at most %d digits "
	    "after the point)",
	    CFG_YAML_DECIMAL_DIGITS);
range:
	return cfg_yaml_error(
	    doc, node, "number out of range (allowed %g..%g)", min, max);
}

void
cfg_yaml_seterr(char *errbuf, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errbuf == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	if (vsnprintf(errbuf, errlen, fmt, ap) < 0)
		errbuf[0] = '\0';
	va_end(ap);
}

int
cfg_yaml_read_file(const char *path, unsigned char **bufp, size_t *lenp,
    char *errbuf, size_t errlen)
{
	const size_t cap = (size_t)SD_CONFIG_MAX_BYTES + 1;
	unsigned char *buf = NULL;
	char ebuf[128];
	struct stat st;
	size_t len = 0;
	ssize_t n;
	int fd, r = SD_ERR_CONFIG;

	*bufp = NULL;
	*lenp = 0;
	if (errbuf != NULL && errlen > 0)
		errbuf[0] = '\0';
	/* O_NONBLOCK: a FIFO in place of the file must not hang us. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) ==
	    -1) {
		cfg_yaml_seterr(errbuf, errlen, "%s: cannot open: %s", path,
		    strerror_r(errno, ebuf, sizeof(ebuf)));
		return SD_ERR_CONFIG;
	}
	if (fstat(fd, &st) == -1) {
		cfg_yaml_seterr(errbuf, errlen, "%s: cannot stat: %s", path,
		    strerror_r(errno, ebuf, sizeof(ebuf)));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		cfg_yaml_seterr(errbuf, errlen, "%s: not a regular file", path);
		goto out;
	}
	if (st.st_size > SD_CONFIG_MAX_BYTES)
		goto toobig;
	if ((buf = malloc(cap)) == NULL) {
		cfg_yaml_seterr(errbuf, errlen, "%s: out of memory", path);
		goto out;
	}
	/* The size may change under us: trust only what read returns. */
	while (len < cap) {
		if ((n = read(fd, buf + len, cap - len)) == -1) {
			if (errno == EINTR)
				continue;
			cfg_yaml_seterr(errbuf, errlen, "%s: cannot read: %s",
			    path, strerror_r(errno, ebuf, sizeof(ebuf)));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > SD_CONFIG_MAX_BYTES)
		goto toobig;
	*bufp = buf;
	*lenp = len;
	buf = NULL;
	r = 0;
	goto out;
toobig:
	cfg_yaml_seterr(errbuf, errlen, "%s: larger than %d bytes", path,
	    SD_CONFIG_MAX_BYTES);
out:
	if (buf != NULL) {
		explicit_bzero(buf, len);
		free(buf);
	}
	close(fd);
	return r;
}
