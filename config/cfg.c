/*
 * cfg: loads seald.yaml into a struct cfg and checks every value on the
 * way, so the daemon never starts on a half-understood file: unknown keys,
 * wrong types, out-of-range numbers, relative paths, bad names and users or
 * groups that do not resolve are all errors at the offending line:column.
 * The YAML work is in cfg_yaml; this file is the schema.  The conninfo may
 * hold a password, so it never appears in a message and the struct is
 * wiped when freed.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfg.h"
#include "cfg_yaml.h"
#include "err.h"
#include "sd_limits.h"

#define CFG_NSS_BUF_MAX (1024 * 1024) /* getpwnam_r/getgrnam_r buffer */
/* (uid_t)-1 and (gid_t)-1 mean "no change" to chown(2): never valid ids. */
#define CFG_UID_MAX ((unsigned long long)(uid_t)-1 - 1)
#define CFG_GID_MAX ((unsigned long long)(gid_t)-1 - 1)

static void seterr(char *, size_t, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static void
seterr(char *errbuf, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errbuf == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	if (vsnprintf(errbuf, errlen, fmt, ap) < 0)
		errbuf[0] = '\0';
	va_end(ap);
}

static int
name_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

/* An instance, key or client name: [A-Za-z0-9._-]{1,63}. */
static int
read_name(struct cfg_yaml_doc *doc, const struct cfg_yaml_node *n,
    char dst[SD_NAME_MAX])
{
	size_t i;
	int r;

	if ((r = cfg_yaml_str(doc, n, 1, dst, SD_NAME_MAX)) != 0)
		return r;
	for (i = 0; dst[i] != '\0'; i++)
		if (!name_char(dst[i]))
			return cfg_yaml_error(doc, n,
			    "bad name: only letters, digits, '.', '_' and '-' "
			    "are allowed");
	return 0;
}

static int
read_path(struct cfg_yaml_doc *doc, const struct cfg_yaml_node *n,
    char dst[SD_PATH_MAX])
{
	int r;

	if ((r = cfg_yaml_str(doc, n, 1, dst, SD_PATH_MAX)) != 0)
		return r;
	if (dst[0] != '/')
		return cfg_yaml_error(doc, n, "must be an absolute path");
	return 0;
}

static int
read_uint(struct cfg_yaml_doc *doc, const struct cfg_yaml_node *n,
    unsigned long long min, unsigned long long max, unsigned int *out)
{
	unsigned long long v;
	int r;

	if ((r = cfg_yaml_uint(doc, n, min, max, &v)) != 0)
		return r;
	*out = (unsigned int)v; /* every max passed here fits */
	return 0;
}

static int
all_digits(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

/* Not found, as opposed to a lookup that failed (getpwnam_r(3)). */
static int
nss_not_found(int e)
{
	return e == 0 || e == ENOENT || e == ESRCH || e == EBADF || e == EPERM;
}

static int
lookup_user(struct cfg_yaml_doc *doc, const struct cfg_yaml_node *n, uid_t *out)
{
	char name[SD_NAME_MAX], ebuf[128];
	struct passwd pw, *res = NULL;
	char *buf = NULL, *nbuf;
	size_t size = 1024;
	int e, r;

	if ((r = cfg_yaml_str(doc, n, 1, name, sizeof(name))) != 0)
		return r;
	for (;;) {
		if ((nbuf = realloc(buf, size)) == NULL) {
			free(buf);
			return cfg_yaml_error(doc, n, "out of memory");
		}
		buf = nbuf;
		res = NULL;
		e = getpwnam_r(name, &pw, buf, size, &res);
		if (e != ERANGE || size >= CFG_NSS_BUF_MAX)
			break;
		size *= 2;
	}
	if (e == 0 && res != NULL) {
		*out = pw.pw_uid;
		r = 0;
	} else if (nss_not_found(e))
		r = cfg_yaml_error(doc, n, "unknown user '%s'", name);
	else
		r = cfg_yaml_error(doc, n, "cannot look up user '%s': %s", name,
		    strerror_r(e, ebuf, sizeof(ebuf)));
	free(buf);
	return r;
}

static int
lookup_group(
    struct cfg_yaml_doc *doc, const struct cfg_yaml_node *n, gid_t *out)
{
	char name[SD_NAME_MAX], ebuf[128];
	struct group gr, *res = NULL;
	char *buf = NULL, *nbuf;
	size_t size = 1024;
	int e, r;

	if ((r = cfg_yaml_str(doc, n, 1, name, sizeof(name))) != 0)
		return r;
	for (;;) {
		if ((nbuf = realloc(buf, size)) == NULL) {
			free(buf);
			return cfg_yaml_error(doc, n, "out of memory");
		}
		buf = nbuf;
		res = NULL;
		e = getgrnam_r(name, &gr, buf, size, &res);
		if (e != ERANGE || size >= CFG_NSS_BUF_MAX)
			break;
		size *= 2;
	}
	if (e == 0 && res != NULL) {
		*out = gr.gr_gid;
		r = 0;
	} else if (nss_not_found(e))
		r = cfg_yaml_error(doc, n, "unknown group '%s'", name);
	else
		r = cfg_yaml_error(doc, n, "cannot look up group '%s': %s",
		    name, strerror_r(e, ebuf, sizeof(ebuf)));
	free(buf);
	return r;
}

/* service_socket.group: a group name, or digits for a numeric gid. */
static int
read_group_or_gid(
    struct cfg_yaml_doc *doc, const struct cfg_yaml_node *n, gid_t *out)
{
	char name[SD_NAME_MAX];
	unsigned long long v;
	int r;

	if ((r = cfg_yaml_str(doc, n, 1, name, sizeof(name))) != 0)
		return r;
	if (!all_digits(name))
		return lookup_group(doc, n, out);
	if ((r = cfg_yaml_uint(doc, n, 0, CFG_GID_MAX, &v)) != 0)
		return r;
	*out = (gid_t)v;
	return 0;
}

static int
load_socket(struct cfg_yaml_doc *doc, const struct cfg_yaml_node *node,
    struct cfg_socket *s)
{
	enum { K_PATH, K_MODE, K_GROUP, K_N };
	static const struct cfg_yaml_key keys[K_N] = {
		[K_PATH] = { "path", 1 },
		[K_MODE] = { "mode", 0 },
		[K_GROUP] = { "group", 0 },
	};
	const struct cfg_yaml_node *v[K_N];
	int r;

	if ((r = cfg_yaml_map(doc, node, keys, K_N, v)) != 0 ||
	    (r = read_path(doc, v[K_PATH], s->path)) != 0)
		return r;
	if (v[K_MODE] != NULL &&
	    (r = cfg_yaml_mode(doc, v[K_MODE], &s->mode)) != 0)
		return r;
	if (v[K_GROUP] != NULL) {
		if ((r = read_group_or_gid(doc, v[K_GROUP], &s->gid)) != 0)
			return r;
		s->has_group = 1;
	}
	return 0;
}

static int
load_pkcs11(
    struct cfg_yaml_doc *doc, const struct cfg_yaml_node *node, struct cfg *cfg)
{
	enum { K_MODULE, K_TOKEN, K_PIN, K_SESSIONS, K_N };
	static const struct cfg_yaml_key keys[K_N] = {
		[K_MODULE] = { "module", 1 },
		[K_TOKEN] = { "token_label", 1 },
		[K_PIN] = { "pin_file", 1 },
		[K_SESSIONS] = { "sessions", 0 },
	};
	const struct cfg_yaml_node *v[K_N];
	int r;

	if ((r = cfg_yaml_map(doc, node, keys, K_N, v)) != 0 ||
	    (r = read_path(doc, v[K_MODULE], cfg->module)) != 0 ||
	    (r = cfg_yaml_str(doc, v[K_TOKEN], 1, cfg->token_label,
		 CFG_TOKEN_LABEL_MAX + 1)) != 0 ||
	    (r = read_path(doc, v[K_PIN], cfg->pin_file)) != 0)
		return r;
	if (v[K_SESSIONS] != NULL &&
	    (r = read_uint(doc, v[K_SESSIONS], 1, SD_HSM_SESSIONS_MAX,
		 &cfg->sessions)) != 0)
		return r;
	return 0;
}

static int
load_database(
    struct cfg_yaml_doc *doc, const struct cfg_yaml_node *node, struct cfg *cfg)
{
	enum { K_CONNINFO, K_N };
	static const struct cfg_yaml_key keys[K_N] = {
		[K_CONNINFO] = { "conninfo", 1 },
	};
	const struct cfg_yaml_node *v[K_N];
	int r;

	/* cfg_yaml_str never echoes the value, so a password stays out. */
	if ((r = cfg_yaml_map(doc, node, keys, K_N, v)) != 0 ||
	    (r = cfg_yaml_str(doc, v[K_CONNINFO], 1, cfg->conninfo,
		 sizeof(cfg->conninfo))) != 0)
		return r;
	return 0;
}

static int
load_limits(
    struct cfg_yaml_doc *doc, const struct cfg_yaml_node *node, struct cfg *cfg)
{
	enum { K_BODY, K_HEADER, K_TIMEOUT, K_CONN, K_N };
	static const struct cfg_yaml_key keys[K_N] = {
		[K_BODY] = { "max_body_bytes", 0 },
		[K_HEADER] = { "max_header_bytes", 0 },
		[K_TIMEOUT] = { "timeout_seconds", 0 },
		[K_CONN] = { "max_connections", 0 },
	};
	const struct cfg_yaml_node *v[K_N];
	unsigned long long n;
	int r;

	if ((r = cfg_yaml_map(doc, node, keys, K_N, v)) != 0)
		return r;
	if (v[K_BODY] != NULL) {
		if ((r = cfg_yaml_uint(doc, v[K_BODY], CFG_BODY_MIN,
			 SD_HTTP_MAX_BODY_LIMIT, &n)) != 0)
			return r;
		cfg->max_body = (size_t)n;
	}
	if (v[K_HEADER] != NULL) {
		if ((r = cfg_yaml_uint(doc, v[K_HEADER], CFG_HEADER_MIN,
			 CFG_HEADER_MAX, &n)) != 0)
			return r;
		cfg->max_header = (size_t)n;
	}
	if (v[K_TIMEOUT] != NULL &&
	    (r = read_uint(
		 doc, v[K_TIMEOUT], 1, CFG_TIMEOUT_MAX, &cfg->timeout)) != 0)
		return r;
	if (v[K_CONN] != NULL &&
	    (r = read_uint(
		 doc, v[K_CONN], 1, CFG_CONN_MAX, &cfg->max_connections)) != 0)
		return r;
	return 0;
}

static int
load_log(
    struct cfg_yaml_doc *doc, const struct cfg_yaml_node *node, struct cfg *cfg)
{
	enum { K_LEVEL, K_N };
	static const struct cfg_yaml_key keys[K_N] = {
		[K_LEVEL] = { "level", 0 },
	};
	/* Indexed by enum cfg_log_level. */
	static const char *const levels[] = { "error", "warn", "info",
		"debug" };
	const struct cfg_yaml_node *v[K_N];
	size_t i;
	int r;

	if ((r = cfg_yaml_map(doc, node, keys, K_N, v)) != 0)
		return r;
	if (v[K_LEVEL] != NULL) {
		if ((r = cfg_yaml_enum(doc, v[K_LEVEL], levels,
			 sizeof(levels) / sizeof(levels[0]), &i)) != 0)
			return r;
		cfg->log_level = (enum cfg_log_level)i;
	}
	return 0;
}

static int
load_key(struct cfg_yaml_doc *doc, const struct cfg_yaml_node *node,
    struct cfg_key *k, const struct cfg_yaml_node **name_node)
{
	enum { K_NAME, K_LABEL, K_VERSION, K_SCHEME, K_CERT, K_N };
	static const struct cfg_yaml_key keys[K_N] = {
		[K_NAME] = { "name", 1 },
		[K_LABEL] = { "label", 1 },
		[K_VERSION] = { "version", 0 },
		[K_SCHEME] = { "rsa_scheme", 0 },
		[K_CERT] = { "certificate", 0 },
	};
	static const char *const schemes[] = { "pkcs1", "pss" };
	static const enum cfg_rsa_scheme scheme_values[] = { CFG_RSA_PKCS1,
		CFG_RSA_PSS };
	const struct cfg_yaml_node *v[K_N];
	size_t i;
	int r;

	k->version = 1;
	k->rsa_scheme = CFG_RSA_PKCS1;
	if ((r = cfg_yaml_map(doc, node, keys, K_N, v)) != 0 ||
	    (r = read_name(doc, v[K_NAME], k->name)) != 0 ||
	    (r = cfg_yaml_str(
		 doc, v[K_LABEL], 1, k->label, sizeof(k->label))) != 0)
		return r;
	*name_node = v[K_NAME];
	if (v[K_VERSION] != NULL &&
	    (r = read_uint(
		 doc, v[K_VERSION], 1, CFG_VERSION_MAX, &k->version)) != 0)
		return r;
	if (v[K_SCHEME] != NULL) {
		if ((r = cfg_yaml_enum(doc, v[K_SCHEME], schemes,
			 sizeof(schemes) / sizeof(schemes[0]), &i)) != 0)
			return r;
		k->rsa_scheme = scheme_values[i];
	}
	if (v[K_CERT] != NULL &&
	    (r = read_path(doc, v[K_CERT], k->certificate)) != 0)
		return r;
	return 0;
}

static int
load_keys(
    struct cfg_yaml_doc *doc, const struct cfg_yaml_node *node, struct cfg *cfg)
{
	const struct cfg_yaml_node *items[SD_MAX_KEYS];
	const struct cfg_yaml_node *names[SD_MAX_KEYS];
	size_t i, j, n;
	int r;

	if ((r = cfg_yaml_seq(doc, node, 1, SD_MAX_KEYS, items, &n)) != 0)
		return r;
	for (i = 0; i < n; i++) {
		if ((r = load_key(doc, items[i], &cfg->keys[i], &names[i])) !=
		    0)
			return r;
		for (j = 0; j < i; j++)
			if (strcmp(cfg->keys[j].name, cfg->keys[i].name) == 0)
				return cfg_yaml_error(doc, names[i],
				    "duplicate key name '%s' (first at "
				    "%lu:%lu)",
				    cfg->keys[i].name, cfg_yaml_line(names[j]),
				    cfg_yaml_column(names[j]));
		cfg->nkeys = i + 1;
	}
	return 0;
}

/*
 * uid:/user: into c->uids, or gid:/group: into c->gids (group set): numbers,
 * or names resolved now.  uid_t and gid_t are both unsigned int here.
 */
static int
add_ids(struct cfg_yaml_doc *doc, const struct cfg_yaml_node *node, int by_name,
    int group, struct cfg_client *c)
{
	const struct cfg_yaml_node *items[SD_MAX_IDS];
	unsigned int *ids = group ? c->gids : c->uids;
	size_t *count = group ? &c->ngids : &c->nuids;
	unsigned long long v;
	size_t i, n;
	uid_t uid = 0;
	gid_t gid = 0;
	int r;

	if ((r = cfg_yaml_list(doc, node, 1, SD_MAX_IDS, items, &n)) != 0)
		return r;
	for (i = 0; i < n; i++) {
		if (*count == SD_MAX_IDS)
			return cfg_yaml_error(doc, items[i],
			    "too many %s for one client (at most %d)",
			    group ? "gids" : "uids", SD_MAX_IDS);
		if (by_name && group)
			r = lookup_group(doc, items[i], &gid);
		else if (by_name)
			r = lookup_user(doc, items[i], &uid);
		else if ((r = cfg_yaml_uint(doc, items[i], 0,
			      group ? CFG_GID_MAX : CFG_UID_MAX, &v)) == 0)
			uid = gid = (unsigned int)v;
		if (r != 0)
			return r;
		ids[(*count)++] = group ? gid : uid;
	}
	return 0;
}

static int
load_client(struct cfg_yaml_doc *doc, const struct cfg_yaml_node *node,
    struct cfg_client *c, const struct cfg_yaml_node **name_node)
{
	enum { K_NAME, K_UID, K_USER, K_GID, K_GROUP, K_N };
	static const struct cfg_yaml_key keys[K_N] = {
		[K_NAME] = { "name", 1 },
		[K_UID] = { "uid", 0 },
		[K_USER] = { "user", 0 },
		[K_GID] = { "gid", 0 },
		[K_GROUP] = { "group", 0 },
	};
	const struct cfg_yaml_node *v[K_N];
	int r;

	if ((r = cfg_yaml_map(doc, node, keys, K_N, v)) != 0 ||
	    (r = read_name(doc, v[K_NAME], c->name)) != 0)
		return r;
	*name_node = v[K_NAME];
	if ((v[K_UID] != NULL && (r = add_ids(doc, v[K_UID], 0, 0, c)) != 0) ||
	    (v[K_USER] != NULL &&
		(r = add_ids(doc, v[K_USER], 1, 0, c)) != 0) ||
	    (v[K_GID] != NULL && (r = add_ids(doc, v[K_GID], 0, 1, c)) != 0) ||
	    (v[K_GROUP] != NULL &&
		(r = add_ids(doc, v[K_GROUP], 1, 1, c)) != 0))
		return r;
	if (c->nuids == 0 && c->ngids == 0)
		return cfg_yaml_error(doc, node,
		    "client '%s' needs at least one of uid, user, gid or group",
		    c->name);
	return 0;
}

static int
load_clients(
    struct cfg_yaml_doc *doc, const struct cfg_yaml_node *node, struct cfg *cfg)
{
	const struct cfg_yaml_node *items[SD_MAX_CLIENTS];
	const struct cfg_yaml_node *names[SD_MAX_CLIENTS];
	size_t i, j, n;
	int r;

	if ((r = cfg_yaml_seq(doc, node, 1, SD_MAX_CLIENTS, items, &n)) != 0)
		return r;
	for (i = 0; i < n; i++) {
		if ((r = load_client(
			 doc, items[i], &cfg->clients[i], &names[i])) != 0)
			return r;
		for (j = 0; j < i; j++)
			if (strcmp(cfg->clients[j].name,
				cfg->clients[i].name) == 0)
				return cfg_yaml_error(doc, names[i],
				    "duplicate client name '%s' (first at "
				    "%lu:%lu)",
				    cfg->clients[i].name,
				    cfg_yaml_line(names[j]),
				    cfg_yaml_column(names[j]));
		cfg->nclients = i + 1;
	}
	return 0;
}

static int
load_root(struct cfg_yaml_doc *doc, struct cfg *cfg)
{
	enum {
		K_INSTANCE,
		K_SOCKET,
		K_PKCS11,
		K_DATABASE,
		K_LIMITS,
		K_LOG,
		K_KEYS,
		K_CLIENTS,
		K_N
	};
	static const struct cfg_yaml_key keys[K_N] = {
		[K_INSTANCE] = { "instance", 1 },
		[K_SOCKET] = { "service_socket", 1 },
		[K_PKCS11] = { "pkcs11", 1 },
		[K_DATABASE] = { "database", 1 },
		[K_LIMITS] = { "limits", 0 },
		[K_LOG] = { "log", 0 },
		[K_KEYS] = { "keys", 1 },
		[K_CLIENTS] = { "clients", 1 },
	};
	const struct cfg_yaml_node *v[K_N];
	int r;

	if ((r = cfg_yaml_map(doc, cfg_yaml_root(doc), keys, K_N, v)) != 0 ||
	    (r = read_name(doc, v[K_INSTANCE], cfg->instance)) != 0 ||
	    (r = load_socket(doc, v[K_SOCKET], &cfg->service)) != 0 ||
	    (r = load_pkcs11(doc, v[K_PKCS11], cfg)) != 0 ||
	    (r = load_database(doc, v[K_DATABASE], cfg)) != 0 ||
	    (v[K_LIMITS] != NULL &&
		(r = load_limits(doc, v[K_LIMITS], cfg)) != 0) ||
	    (v[K_LOG] != NULL && (r = load_log(doc, v[K_LOG], cfg)) != 0) ||
	    (r = load_keys(doc, v[K_KEYS], cfg)) != 0 ||
	    (r = load_clients(doc, v[K_CLIENTS], cfg)) != 0)
		return r;
	return 0;
}

static void
set_defaults(struct cfg *cfg)
{
	cfg->service.mode = 0660;
	cfg->sessions = SD_HSM_SESSIONS_DEFAULT;
	cfg->max_body = SD_HTTP_MAX_BODY_DEFAULT;
	cfg->max_header = SD_HTTP_MAX_HEADER_DEFAULT;
	cfg->timeout = SD_HTTP_TIMEOUT_DEFAULT;
	cfg->max_connections = SD_HTTP_MAX_CONN_DEFAULT;
	cfg->log_level = CFG_LOG_INFO;
}

struct cfg *
cfg_load_buffer(const char *name, const unsigned char *buf, size_t len,
    char *errbuf, size_t errlen)
{
	struct cfg_yaml_doc *doc;
	struct cfg *cfg;

	if ((doc = cfg_yaml_parse(name, buf, len, errbuf, errlen)) == NULL)
		return NULL;
	if ((cfg = calloc(1, sizeof(*cfg))) == NULL) {
		cfg_yaml_error(doc, NULL, "out of memory");
		cfg_yaml_free(doc);
		return NULL;
	}
	set_defaults(cfg);
	if (load_root(doc, cfg) != 0) {
		cfg_free(cfg);
		cfg = NULL;
	}
	cfg_yaml_free(doc);
	return cfg;
}

struct cfg *
cfg_load(const char *path, char *errbuf, size_t errlen)
{
	const size_t cap = (size_t)SD_CONFIG_MAX_BYTES + 1;
	struct cfg *cfg = NULL;
	unsigned char *buf = NULL;
	char ebuf[128];
	struct stat st;
	size_t len = 0;
	ssize_t n;
	int fd;

	if (errbuf != NULL && errlen > 0)
		errbuf[0] = '\0';
	if (path == NULL) {
		seterr(errbuf, errlen, "(config): no path given");
		return NULL;
	}
	/* O_NONBLOCK: a FIFO in place of the file must not hang us. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) ==
	    -1) {
		seterr(errbuf, errlen, "%s: cannot open: %s", path,
		    strerror_r(errno, ebuf, sizeof(ebuf)));
		return NULL;
	}
	if (fstat(fd, &st) == -1) {
		seterr(errbuf, errlen, "%s: cannot stat: %s", path,
		    strerror_r(errno, ebuf, sizeof(ebuf)));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		seterr(errbuf, errlen, "%s: not a regular file", path);
		goto out;
	}
	if (st.st_size > SD_CONFIG_MAX_BYTES)
		goto toobig;
	if ((buf = malloc(cap)) == NULL) {
		seterr(errbuf, errlen, "%s: out of memory", path);
		goto out;
	}
	/* The size may change under us: trust only what read returns. */
	while (len < cap) {
		if ((n = read(fd, buf + len, cap - len)) == -1) {
			if (errno == EINTR)
				continue;
			seterr(errbuf, errlen, "%s: cannot read: %s", path,
			    strerror_r(errno, ebuf, sizeof(ebuf)));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > SD_CONFIG_MAX_BYTES)
		goto toobig;
	cfg = cfg_load_buffer(path, buf, len, errbuf, errlen);
	goto out;
toobig:
	seterr(errbuf, errlen, "%s: larger than %d bytes", path,
	    SD_CONFIG_MAX_BYTES);
out:
	if (buf != NULL) {
		explicit_bzero(buf, len);
		free(buf);
	}
	close(fd);
	return cfg;
}

void
cfg_free(struct cfg *cfg)
{
	if (cfg == NULL)
		return;
	explicit_bzero(cfg, sizeof(*cfg)); /* the conninfo password */
	free(cfg);
}

const struct cfg_key *
cfg_key_find(const struct cfg *cfg, const char *name)
{
	size_t i;

	if (cfg == NULL || name == NULL)
		return NULL;
	for (i = 0; i < cfg->nkeys; i++)
		if (strcmp(cfg->keys[i].name, name) == 0)
			return &cfg->keys[i];
	return NULL;
}

static int
has_gid(const struct cfg_client *c, gid_t gid)
{
	size_t i;

	for (i = 0; i < c->ngids; i++)
		if (c->gids[i] == gid)
			return 1;
	return 0;
}

const struct cfg_client *
cfg_client_match(const struct cfg *cfg, uid_t uid, gid_t gid,
    const gid_t *groups, size_t ngroups)
{
	const struct cfg_client *c;
	size_t i, j;

	if (cfg == NULL)
		return NULL;
	if (groups == NULL)
		ngroups = 0;
	for (i = 0; i < cfg->nclients; i++) {
		c = &cfg->clients[i];
		for (j = 0; j < c->nuids; j++)
			if (c->uids[j] == uid)
				return c;
		if (has_gid(c, gid))
			return c;
		for (j = 0; j < ngroups; j++)
			if (has_gid(c, groups[j]))
				return c;
	}
	return NULL;
}
