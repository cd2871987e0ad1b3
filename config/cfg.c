/*
 * cfg: loads seald.yaml into a struct cfg and checks every value on the
 * way, so the daemon never starts on a half-understood file: unknown keys,
 * wrong types, out-of-range numbers, relative paths, bad names and groups
 * that do not resolve are all errors at the offending line:column.  Keys
 * and clients are not here: seald.yaml names the policy file (policy/)
 * that holds them, so that the policy can be reloaded on its own.
 * The YAML work is in cfg_yaml; this file is the schema.  The conninfo may
 * hold a password, so it never appears in a message and the struct is
 * wiped when freed.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "cfg_yaml.h"
#include "err.h"
#include "p11uri.h"
#include "sd_limits.h"

/* (gid_t)-1 means "no change" to chown(2): never a valid id. */
#define CFG_GID_MAX ((unsigned long long)(gid_t)-1 - 1)

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
		return cfg_yaml_group(doc, n, out);
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
	    (r = cfg_yaml_path(doc, v[K_PATH], s->path)) != 0)
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

/* token_label: a label (at most 32 bytes), or a pkcs11: URI that names
 * a token and nothing else. */
static int
load_token(
    struct cfg_yaml_doc *doc, const struct cfg_yaml_node *v, struct cfg *cfg)
{
	struct p11uri u;
	char err[256];
	int r;

	if ((r = cfg_yaml_str(
		 doc, v, 1, cfg->token_label, sizeof(cfg->token_label))) != 0)
		return r;
	if (!p11uri_is(cfg->token_label))
		return strlen(cfg->token_label) > CFG_TOKEN_LABEL_MAX
		    ? cfg_yaml_error(doc, v, "too long (at most %d bytes)",
			  CFG_TOKEN_LABEL_MAX)
		    : 0;
	if (p11uri_parse(cfg->token_label, &u, err, sizeof(err)) != 0)
		return cfg_yaml_error(doc, v, "token_label: %s", err);
	if ((u.has & P11URI_TOKEN_ATTRS) == 0)
		return cfg_yaml_error(doc, v,
		    "token_label: the URI names no token (token, "
		    "manufacturer, serial or model)");
	if (u.has & ~P11URI_TOKEN_ATTRS)
		return cfg_yaml_error(doc, v,
		    "token_label: the URI names an object (object, id, "
		    "type): keys are named in the policy");
	return 0;
}

static int
load_pkcs11(
    struct cfg_yaml_doc *doc, const struct cfg_yaml_node *node, struct cfg *cfg)
{
	enum { K_MODULE, K_TOKEN, K_PIN, K_SESSIONS, K_DIRS, K_INIT, K_N };
	static const struct cfg_yaml_key keys[K_N] = {
		[K_MODULE] = { "module", 1 },
		[K_TOKEN] = { "token_label", 1 },
		[K_PIN] = { "pin_file", 1 },
		[K_SESSIONS] = { "sessions", 0 },
		[K_DIRS] = { "module_dirs", 0 },
		[K_INIT] = { "init_args", 0 },
	};
	const struct cfg_yaml_node *v[K_N], *dirs[SD_MODULE_DIRS_MAX];
	size_t i;
	int r;

	if ((r = cfg_yaml_map(doc, node, keys, K_N, v)) != 0 ||
	    (r = cfg_yaml_path(doc, v[K_MODULE], cfg->module)) != 0 ||
	    (r = load_token(doc, v[K_TOKEN], cfg)) != 0 ||
	    (r = cfg_yaml_path(doc, v[K_PIN], cfg->pin_file)) != 0 ||
	    (v[K_INIT] != NULL &&
		(r = cfg_yaml_str(doc, v[K_INIT], 1, cfg->init_args,
		     sizeof(cfg->init_args))) != 0))
		return r;
	if (v[K_SESSIONS] != NULL &&
	    (r = read_uint(doc, v[K_SESSIONS], 1, SD_HSM_SESSIONS_MAX,
		 &cfg->sessions)) != 0)
		return r;
	if (v[K_DIRS] == NULL)
		return 0;
	if ((r = cfg_yaml_list(doc, v[K_DIRS], 1, SD_MODULE_DIRS_MAX, dirs,
		 &cfg->nmodule_dirs)) != 0)
		return r;
	for (i = 0; i < cfg->nmodule_dirs; i++)
		if ((r = cfg_yaml_path(doc, dirs[i], cfg->module_dirs[i])) != 0)
			return r;
	return 0;
}

/* A user (not root) into user, and its group (not root) when given. */
static int
read_user(struct cfg_yaml_doc *doc, const struct cfg_yaml_node *un,
    const struct cfg_yaml_node *gn, char *user, size_t len, int *has_group,
    gid_t *gid)
{
	uid_t uid;
	int r;

	if ((r = cfg_yaml_str(doc, un, 1, user, len)) != 0 ||
	    (r = cfg_yaml_user(doc, un, &uid)) != 0)
		return r;
	if (uid == 0)
		return cfg_yaml_error(
		    doc, un, "run_as: a user other than root");
	if (gn == NULL)
		return 0;
	if ((r = read_group_or_gid(doc, gn, gid)) != 0)
		return r;
	if (*gid == 0)
		return cfg_yaml_error(
		    doc, gn, "run_as: a group other than root");
	*has_group = 1;
	return 0;
}

/* run_as: {user, group, front_user, front_group}: whom seald's core and
 * its front become when started as root. */
static int
load_run_as(
    struct cfg_yaml_doc *doc, const struct cfg_yaml_node *node, struct cfg *cfg)
{
	enum { K_USER, K_GROUP, K_FUSER, K_FGROUP, K_N };
	static const struct cfg_yaml_key keys[K_N] = {
		[K_USER] = { "user", 1 },
		[K_GROUP] = { "group", 0 },
		[K_FUSER] = { "front_user", 0 },
		[K_FGROUP] = { "front_group", 0 },
	};
	const struct cfg_yaml_node *v[K_N];
	int r;

	if ((r = cfg_yaml_map(doc, node, keys, K_N, v)) != 0 ||
	    (r = read_user(doc, v[K_USER], v[K_GROUP], cfg->run_user,
		 sizeof(cfg->run_user), &cfg->has_run_group, &cfg->run_gid)) !=
		0)
		return r;
	cfg->has_run_as = 1;
	if (v[K_FUSER] == NULL) {
		if (v[K_FGROUP] != NULL)
			return cfg_yaml_error(doc, v[K_FGROUP],
			    "run_as: front_group needs front_user");
		memcpy(cfg->front_user, cfg->run_user, sizeof(cfg->run_user));
		cfg->has_front_group = cfg->has_run_group;
		cfg->front_gid = cfg->run_gid;
		return 0;
	}
	return read_user(doc, v[K_FUSER], v[K_FGROUP], cfg->front_user,
	    sizeof(cfg->front_user), &cfg->has_front_group, &cfg->front_gid);
}

static int
load_database(
    struct cfg_yaml_doc *doc, const struct cfg_yaml_node *node, struct cfg *cfg)
{
	enum { K_CONNINFO, K_MIGRATE, K_WAIT, K_COMMIT, K_N };
	static const struct cfg_yaml_key keys[K_N] = {
		[K_CONNINFO] = { "conninfo", 1 },
		[K_MIGRATE] = { "migrate_conninfo", 0 },
		[K_WAIT] = { "batch_wait_ms", 0 },
		[K_COMMIT] = { "commit_timeout_ms", 0 },
	};
	const struct cfg_yaml_node *v[K_N];
	int r;

	/* cfg_yaml_str never echoes the value, so a password stays out. */
	if ((r = cfg_yaml_map(doc, node, keys, K_N, v)) != 0 ||
	    (r = cfg_yaml_str(doc, v[K_CONNINFO], 1, cfg->conninfo,
		 sizeof(cfg->conninfo))) != 0)
		return r;
	if (v[K_WAIT] != NULL &&
	    (r = read_uint(doc, v[K_WAIT], 0, SD_BATCH_WAIT_MS_MAX,
		 &cfg->batch_wait_ms)) != 0)
		return r;
	if (v[K_COMMIT] != NULL &&
	    (r = read_uint(doc, v[K_COMMIT], SD_COMMIT_MS_MIN, SD_COMMIT_MS_MAX,
		 &cfg->commit_ms)) != 0)
		return r;
	if (v[K_MIGRATE] == NULL) {
		memcpy(cfg->migrate_conninfo, cfg->conninfo,
		    sizeof(cfg->conninfo));
		return 0;
	}
	return cfg_yaml_str(doc, v[K_MIGRATE], 1, cfg->migrate_conninfo,
	    sizeof(cfg->migrate_conninfo));
}

static int
load_limits(
    struct cfg_yaml_doc *doc, const struct cfg_yaml_node *node, struct cfg *cfg)
{
	enum {
		K_BODY,
		K_HEADER,
		K_TIMEOUT,
		K_CONN,
		K_PER_UID,
		K_HEAD_S,
		K_BODY_S,
		K_N
	};
	static const struct cfg_yaml_key keys[K_N] = {
		[K_BODY] = { "max_body_bytes", 0 },
		[K_HEADER] = { "max_header_bytes", 0 },
		[K_TIMEOUT] = { "timeout_seconds", 0 },
		[K_CONN] = { "max_connections", 0 },
		[K_PER_UID] = { "max_connections_per_uid", 0 },
		[K_HEAD_S] = { "request_head_seconds", 0 },
		[K_BODY_S] = { "request_body_seconds", 0 },
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
	if (v[K_HEAD_S] != NULL &&
	    (r = read_uint(doc, v[K_HEAD_S], 1, CFG_TIMEOUT_MAX,
		 &cfg->head_seconds)) != 0)
		return r;
	if (v[K_BODY_S] != NULL &&
	    (r = read_uint(doc, v[K_BODY_S], 1, CFG_TIMEOUT_MAX,
		 &cfg->body_seconds)) != 0)
		return r;
	/* one uid may hold at most every connection */
	if (v[K_PER_UID] == NULL) {
		if (cfg->max_conns_per_uid > cfg->max_connections)
			cfg->max_conns_per_uid = cfg->max_connections;
		return 0;
	}
	return read_uint(doc, v[K_PER_UID], 1, cfg->max_connections,
	    &cfg->max_conns_per_uid);
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
load_ledger(
    struct cfg_yaml_doc *doc, const struct cfg_yaml_node *node, struct cfg *cfg)
{
	enum {
		K_KEY,
		K_EVERY,
		K_SECONDS,
		K_START,
		K_RATE,
		K_WFILE,
		K_WTOKEN,
		K_N
	};
	static const struct cfg_yaml_key keys[K_N] = {
		[K_KEY] = { "checkpoint_key", 0 },
		[K_EVERY] = { "checkpoint_every", 0 },
		[K_SECONDS] = { "checkpoint_seconds", 0 },
		[K_START] = { "verify_at_start", 0 },
		[K_RATE] = { "verify_rate", 0 },
		[K_WFILE] = { "witness_file", 0 },
		[K_WTOKEN] = { "witness_in_token", 0 },
	};
	static const char *const starts[] = { "checkpoint", "all" };
	const struct cfg_yaml_node *v[K_N];
	size_t i;
	int r;

	if ((r = cfg_yaml_map(doc, node, keys, K_N, v)) != 0 ||
	    (v[K_KEY] != NULL &&
		(r = cfg_yaml_str(doc, v[K_KEY], 1, cfg->checkpoint_key,
		     sizeof(cfg->checkpoint_key))) != 0))
		return r;
	if (v[K_KEY] == NULL && (v[K_EVERY] != NULL || v[K_SECONDS] != NULL))
		return cfg_yaml_error(doc, node,
		    "checkpoint_every and checkpoint_seconds need "
		    "checkpoint_key");
	if (v[K_EVERY] != NULL &&
	    (r = read_uint(
		 doc, v[K_EVERY], 1, 1000000, &cfg->checkpoint_every)) != 0)
		return r;
	if (v[K_SECONDS] != NULL &&
	    (r = read_uint(
		 doc, v[K_SECONDS], 1, 86400, &cfg->checkpoint_seconds)) != 0)
		return r;
	if (v[K_START] != NULL) {
		if ((r = cfg_yaml_enum(doc, v[K_START], starts, 2, &i)) != 0)
			return r;
		cfg->verify_all_at_start = (int)i;
	}
	if (v[K_RATE] != NULL &&
	    (r = read_uint(doc, v[K_RATE], 0, SD_VERIFY_RATE_MAX,
		 &cfg->verify_rate)) != 0)
		return r;
	if (v[K_WFILE] != NULL &&
	    (r = cfg_yaml_path(doc, v[K_WFILE], cfg->witness_file)) != 0)
		return r;
	if (v[K_WTOKEN] != NULL &&
	    (r = cfg_yaml_bool(doc, v[K_WTOKEN], &cfg->witness_in_token)) != 0)
		return r;
	if (v[K_KEY] == NULL && (v[K_WFILE] != NULL || v[K_WTOKEN] != NULL))
		return cfg_yaml_error(doc, node,
		    "a witness of the signed head needs checkpoint_key");
	return 0;
}

static int
load_tsa(
    struct cfg_yaml_doc *doc, const struct cfg_yaml_node *node, struct cfg *cfg)
{
	enum { K_SYNC, K_N };
	static const struct cfg_yaml_key keys[K_N] = {
		[K_SYNC] = { "require_clock_sync", 0 },
	};
	const struct cfg_yaml_node *v[K_N];
	int r;

	if ((r = cfg_yaml_map(doc, node, keys, K_N, v)) != 0)
		return r;
	if (v[K_SYNC] != NULL &&
	    (r = cfg_yaml_bool(doc, v[K_SYNC], &cfg->tsa_require_sync)) != 0)
		return r;
	return 0;
}

static int
load_root(struct cfg_yaml_doc *doc, struct cfg *cfg)
{
	enum {
		K_INSTANCE,
		K_SOCKET,
		K_ADMIN,
		K_PKCS11,
		K_DATABASE,
		K_LIMITS,
		K_LOG,
		K_POLICY,
		K_LEDGER,
		K_TSA,
		K_RUN_AS,
		K_N
	};
	static const struct cfg_yaml_key keys[K_N] = {
		[K_INSTANCE] = { "instance", 1 },
		[K_SOCKET] = { "service_socket", 1 },
		[K_ADMIN] = { "admin_socket", 0 },
		[K_PKCS11] = { "pkcs11", 1 },
		[K_DATABASE] = { "database", 1 },
		[K_LIMITS] = { "limits", 0 },
		[K_LOG] = { "log", 0 },
		[K_POLICY] = { "policy", 1 },
		[K_LEDGER] = { "ledger", 0 },
		[K_TSA] = { "tsa", 0 },
		[K_RUN_AS] = { "run_as", 0 },
	};
	const struct cfg_yaml_node *v[K_N];
	int r;

	if ((r = cfg_yaml_map(doc, cfg_yaml_root(doc), keys, K_N, v)) != 0 ||
	    (r = cfg_yaml_name(doc, v[K_INSTANCE], cfg->instance)) != 0 ||
	    (r = load_socket(doc, v[K_SOCKET], &cfg->service)) != 0 ||
	    (v[K_ADMIN] != NULL &&
		(r = load_socket(doc, v[K_ADMIN], &cfg->admin)) != 0) ||
	    (r = load_pkcs11(doc, v[K_PKCS11], cfg)) != 0 ||
	    (r = load_database(doc, v[K_DATABASE], cfg)) != 0 ||
	    (v[K_LIMITS] != NULL &&
		(r = load_limits(doc, v[K_LIMITS], cfg)) != 0) ||
	    (v[K_LOG] != NULL && (r = load_log(doc, v[K_LOG], cfg)) != 0) ||
	    (r = cfg_yaml_path(doc, v[K_POLICY], cfg->policy_file)) != 0 ||
	    (v[K_LEDGER] != NULL &&
		(r = load_ledger(doc, v[K_LEDGER], cfg)) != 0) ||
	    (v[K_TSA] != NULL && (r = load_tsa(doc, v[K_TSA], cfg)) != 0) ||
	    (v[K_RUN_AS] != NULL &&
		(r = load_run_as(doc, v[K_RUN_AS], cfg)) != 0))
		return r;
	cfg->has_admin = v[K_ADMIN] != NULL;
	if (cfg->has_admin && strcmp(cfg->admin.path, cfg->service.path) == 0) {
		return cfg_yaml_error(doc, v[K_ADMIN],
		    "admin_socket must not be the service socket");
	}
	return 0;
}

static const char default_module_dirs[][SD_PATH_MAX] = { "/usr/lib",
	"/usr/lib64", "/usr/local/lib", "/opt" };

static void
set_defaults(struct cfg *cfg)
{
	cfg->service.mode = 0660;
	cfg->admin.mode = 0660;
	cfg->sessions = SD_HSM_SESSIONS_DEFAULT;
	cfg->max_body = SD_HTTP_MAX_BODY_DEFAULT;
	cfg->max_header = SD_HTTP_MAX_HEADER_DEFAULT;
	cfg->timeout = SD_HTTP_TIMEOUT_DEFAULT;
	cfg->max_connections = SD_HTTP_MAX_CONN_DEFAULT;
	cfg->max_conns_per_uid = SD_HTTP_CONN_PER_UID_DEFAULT;
	cfg->head_seconds = SD_HTTP_HEAD_SECONDS_DEFAULT;
	cfg->body_seconds = SD_HTTP_BODY_SECONDS_DEFAULT;
	cfg->log_level = CFG_LOG_INFO;
	cfg->checkpoint_every = SD_CHECKPOINT_EVERY_DEFAULT;
	cfg->checkpoint_seconds = SD_CHECKPOINT_SECONDS_DEFAULT;
	cfg->verify_all_at_start = 1;
	cfg->witness_in_token = 1;
	cfg->verify_rate = SD_VERIFY_RATE_DEFAULT;
	cfg->batch_wait_ms = SD_BATCH_WAIT_MS_DEFAULT;
	cfg->commit_ms = SD_COMMIT_MS_DEFAULT;
	cfg->tsa_require_sync = 1;
	cfg->nmodule_dirs =
	    sizeof(default_module_dirs) / sizeof(default_module_dirs[0]);
	memcpy(
	    cfg->module_dirs, default_module_dirs, sizeof(default_module_dirs));
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
	unsigned char *buf = NULL;
	struct cfg *cfg;
	size_t len = 0;

	if (path == NULL) {
		cfg_yaml_seterr(errbuf, errlen, "(config): no path given");
		return NULL;
	}
	if (cfg_yaml_read_file(path, &buf, &len, errbuf, errlen) != 0)
		return NULL;
	cfg = cfg_load_buffer(path, buf, len, errbuf, errlen);
	explicit_bzero(buf, len);
	free(buf);
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
