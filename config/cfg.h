/*
 * cfg: the daemon configuration (seald.yaml) as a typed, immutable struct,
 * loaded with libyaml.  Every error names file:line:column, unknown keys
 * are errors, and every value is checked here so that the rest of seald can
 * trust it.  The PIN itself is not part of the config, only its file; keys
 * and clients are not either: they live in the policy file it names.
 */
#ifndef SD_CFG_H
#define SD_CFG_H

#include <stddef.h>
#include <sys/types.h>

#include "sd_limits.h"

struct cfg_socket {
	char path[SD_PATH_MAX];
	mode_t mode;   /* default 0660 */
	int has_group; /* group given: chown the socket to it */
	gid_t gid;     /* resolved at load from a name or a number */
};

enum cfg_log_level {
	CFG_LOG_ERROR = 0,
	CFG_LOG_WARN,
	CFG_LOG_INFO,
	CFG_LOG_DEBUG
};

struct cfg {
	char instance[SD_NAME_MAX]; /* ledger chain name, required */
	struct cfg_socket service;  /* service_socket: required */
	/* admin_socket: officers and auditors (key management); optional,
	 * has_admin 0 when absent */
	int has_admin;
	struct cfg_socket admin;

	/* pkcs11: */
	char module[SD_PATH_MAX]; /* required, absolute path */
	/* required: the token's label, or an RFC 7512 URI naming it
	 * (token, manufacturer, serial, model; common/p11uri.h) */
	char token_label[SD_P11URI_MAX + 1];
	char pin_file[SD_PATH_MAX]; /* required, absolute path */
	/* folders the module must be in once resolved (realpath); default
	 * /usr/lib /usr/lib64 /usr/local/lib /opt */
	char module_dirs[SD_MODULE_DIRS_MAX][SD_PATH_MAX];
	size_t nmodule_dirs;
	unsigned int sessions; /* default SD_HSM_SESSIONS_DEFAULT, 1..MAX */
	/* C_Initialize's pReserved string ("": none), for modules that take
	 * their settings there (NSS softokn) */
	char init_args[SD_INIT_ARGS_MAX];

	/* database: */
	char conninfo[SD_CONNINFO_MAX]; /* required; libpq conninfo string */
	/* `seald migrate` connects with this (the tables' owner); defaults
	 * to conninfo */
	char migrate_conninfo[SD_CONNINFO_MAX];
	/* group commit: how long a commit may wait for the signatures in
	 * progress, ms (0: never), default 3 */
	unsigned int batch_wait_ms;
	/* a commit not answered (with synchronous replication: not
	 * confirmed by the standby) within this is cancelled and its entries
	 * are in doubt, ms, default 5000 */
	unsigned int commit_ms;

	/* limits: */
	size_t max_body;                /* bytes, default 64 KiB */
	size_t max_header;              /* bytes, default 8 KiB */
	unsigned int timeout;           /* seconds idle, default 10 */
	unsigned int max_connections;   /* default 1024 */
	unsigned int max_conns_per_uid; /* default 128 (<= max_connections) */
	unsigned int head_seconds;      /* a request head, whole: default 10 */
	unsigned int body_seconds;      /* a request body, whole: default 30 */

	enum cfg_log_level log_level; /* log: level:, default info */

	/* ledger: signed checkpoints of the chain head */
	char checkpoint_key[SD_LABEL_MAX]; /* audit key label; "" = none */
	unsigned int checkpoint_every;     /* entries, default 1000 */
	unsigned int checkpoint_seconds;   /* default 60 */
	/* seald's own checks of its chain: the whole of it at start (1,
	 * "all", default) or from the newest checkpoint ("checkpoint"); the
	 * background verifier's entries a second (0: none) */
	int verify_all_at_start;
	unsigned int verify_rate;
	/* where the newest signed head is witnessed besides the database:
	 * a token data object (default 1), a file ("": none) */
	int witness_in_token;
	char witness_file[SD_PATH_MAX];

	/* tsa: RFC 3161 time-stamps are refused while the kernel says the
	 * clock is not synchronized (adjtimex), unless this is 0 (tests) */
	int tsa_require_sync;

	/* run_as: started as root, seald binds its sockets and becomes this
	 * user (and group: default the user's own) before anything else */
	int has_run_as;
	char run_user[SD_NAME_MAX];
	int has_run_group;
	gid_t run_gid;
	/* ... and the user the front (the process that parses client bytes)
	 * becomes: run_as.front_user/front_group, default the same */
	char front_user[SD_NAME_MAX];
	int has_front_group;
	gid_t front_gid;

	/* policy: keys, clients and what they may do (policy/policy.h) */
	char policy_file[SD_PATH_MAX]; /* required, absolute path */
};

/*
 * Load and validate the YAML file at path.  On success returns a new cfg
 * (free with cfg_free) and sets *errbuf to "".  On failure returns NULL and
 * writes one line "FILE:LINE:COL: message" (or "FILE: message" when there is
 * no position) into errbuf (always NUL-terminated, truncated to errlen).
 */
struct cfg *cfg_load(const char *path, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));

/* Same as cfg_load, from a buffer (for tests and fuzzing); name is used in
 * error messages in place of the file name. */
struct cfg *cfg_load_buffer(const char *name, const unsigned char *buf,
    size_t len, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));

/* NULL is accepted. */
void cfg_free(struct cfg *cfg);

#endif
