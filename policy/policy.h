/*
 * policy: who may sign what, with which key, how often.  policy.yaml is
 * loaded (libyaml, through config/cfg_yaml) into an immutable model; the
 * decision is a pure function of (policy, caller, request), default deny,
 * naming the rule that decided and a stable reason.  Rate limits and
 * quotas need state, which lives in ratelimit.h, not in the model, so
 * that a reloaded policy starts with the old counters.
 */
#ifndef SD_POLICY_H
#define SD_POLICY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "p11uri.h"
#include "sd_limits.h"

struct policy;

enum policy_op { POLICY_OP_SIGN = 1, POLICY_OP_TIMESTAMP = 2 };

/* bit sets */
#define POLICY_FMT_RAW 0x1u
#define POLICY_FMT_CMS 0x2u
#define POLICY_FMT_CADES_T 0x4u /* cms with a signature time-stamp */
#define POLICY_DG_SHA256 0x1u
#define POLICY_DG_SHA384 0x2u
#define POLICY_DG_SHA512 0x4u
#define POLICY_REQ_EVIDENCE 0x1u     /* "evidence" (its type) required */
#define POLICY_REQ_EVIDENCE_REF 0x2u /* "evidence.ref" required */

enum policy_rsa_scheme { POLICY_RSA_PKCS1 = 1, POLICY_RSA_PSS = 2 };

struct policy_key {
	char name[SD_NAME_MAX];   /* API name */
	char label[SD_LABEL_MAX]; /* CKA_LABEL of the private key; "" when
	                             managed */
	/* label given as a pkcs11: URI: what else it names (its id, the
	 * token), which the key found must match; has 0 otherwise */
	struct p11uri uri;
	int managed; /* managed: true, from the keys table (admin socket) */
	unsigned int version; /* default 1 */
	char algorithm[32];   /* "" or expected: ec-p256, ec-p384,
	                                    rsa-2048, rsa-3072, rsa-4096 */
	unsigned int usages;  /* 1 << enum policy_op */
	unsigned int formats; /* POLICY_FMT_* */
	unsigned int digests; /* POLICY_DG_* */
	enum policy_rsa_scheme rsa_scheme;
	char certificate[SD_PATH_MAX]; /* "" when none */
	int64_t not_before;            /* unix seconds; INT64_MIN when unset */
	int64_t not_after;             /* unix seconds; INT64_MAX when unset */
	/* keys with usage timestamp (RFC 3161): the TSA policy OID (dotted,
	 * required) and the accuracy stated in tokens (default 1000 ms) */
	char tsa_policy[SD_OID_MAX];
	unsigned int tsa_accuracy_ms;
	/* keys with format cades-t: the time-stamping key of the policy
	 * whose tokens their seals carry (required with it, only with it) */
	char tsa_key[SD_NAME_MAX];
};

struct policy_rule {
	size_t nkeys;
	size_t keys[SD_MAX_KEYS]; /* indexes into the policy's keys */
	unsigned int ops;         /* 1 << enum policy_op */
	unsigned int formats;     /* POLICY_FMT_*, 0 = any the key has */
	size_t nevidence;         /* 0 = any evidence type */
	char evidence_types[SD_MAX_EVIDENCE_TYPES][SD_EVIDENCE_TYPE_MAX + 1];
	unsigned int require;      /* POLICY_REQ_* */
	unsigned int line, column; /* of the rule in the file */
};

struct policy_principal { /* a client, an officer or an auditor */
	char name[SD_NAME_MAX];
	size_t nuids;
	uid_t uids[SD_MAX_IDS];
	size_t ngids;
	gid_t gids[SD_MAX_IDS];
	/* clients only */
	size_t nrules;
	struct policy_rule rules[SD_MAX_RULES];
	double per_second;    /* 0 = no rate limit */
	unsigned int burst;   /* bucket size (>= 1 with a rate) */
	uint64_t daily_quota; /* 0 = none; signatures per UTC day */
};

struct policy_caller {
	uid_t uid;
	gid_t gid;
	const gid_t *groups;
	size_t ngroups;
};

struct policy_request {
	enum policy_op op;
	const char *key;           /* key name as sent */
	unsigned int format;       /* one POLICY_FMT_* bit */
	unsigned int digest;       /* one POLICY_DG_* bit */
	const char *evidence_type; /* "" when absent */
	const char *evidence_ref;  /* "" when absent */
	int64_t now;               /* unix seconds */
};

struct policy_decision {
	int allow;
	int code;           /* 0, SD_ERR_UNKNOWN_KEY (no such key *for this
	                    client*: existence is never revealed),
	                    SD_ERR_POLICY_DENIED */
	const char *reason; /* stable: "allowed", "unknown_key",
	                         "operation_not_allowed", "format_not_allowed",
	                         "digest_not_allowed", "evidence_type_not_allowed",
	                         "evidence_required", "evidence_ref_required",
	                         "key_not_yet_valid", "key_expired",
	                         "key_usage" */
	const struct policy_key *key; /* the key, when it is the client's */
	char rule[96]; /* "clients.NAME.allow[I] (file:LINE:COL)" or "" */
};

/*
 * Load and check the policy file (bounded like cfg_load; unknown keys,
 * duplicate names, undefined key references, bad values: "FILE:LINE:COL:
 * message" in errbuf).  User and group names are resolved now.  The
 * SHA-256 of the file's bytes is kept (policy_hash).
 */
struct policy *policy_load(const char *path, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));
struct policy *policy_load_buffer(const char *name, const unsigned char *buf,
    size_t len, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));

/*
 * policy_load for another machine (sealctl policy check --elsewhere):
 * user and group names that do not exist here are passed to fn and
 * match no caller (cfg_yaml_names_elsewhere), so that the policy can be
 * checked before it is shipped; not for serving.
 */
struct policy *policy_load_elsewhere(const char *path,
    void (*fn)(const char *kind, const char *name, unsigned long line,
	unsigned long column, void *arg),
    void *arg, char *errbuf, size_t errlen) __attribute__((warn_unused_result));
void policy_free(struct policy *p);

/* SHA-256 of the loaded bytes. */
const uint8_t *policy_hash(const struct policy *p);

#define POLICY_APPROVAL_MINUTES_DEFAULT 60
#define POLICY_APPROVAL_MINUTES_MAX 10080 /* a week */

/* Two-person control (approvals_required: 2): key changes by one officer
 * are proposals another must approve within approval_minutes.  Destroying
 * a key always takes two officers. */
unsigned int policy_approvals_required(const struct policy *p);
unsigned int policy_approval_minutes(const struct policy *p);

size_t policy_nkeys(const struct policy *p);
const struct policy_key *policy_key_at(const struct policy *p, size_t i);
const struct policy_key *policy_key_find(
    const struct policy *p, const char *name);

size_t policy_nclients(const struct policy *p);
const struct policy_principal *policy_client_at(
    const struct policy *p, size_t i);

/* First client / officer / auditor (file order) the caller matches by
 * uid, primary gid or a supplementary gid; NULL when none. */
const struct policy_principal *policy_match_client(
    const struct policy *p, const struct policy_caller *c);
const struct policy_principal *policy_match_officer(
    const struct policy *p, const struct policy_caller *c);
const struct policy_principal *policy_match_auditor(
    const struct policy *p, const struct policy_caller *c);

/* 1 when client may use key k for some operation (for GET /v1/keys). */
int policy_client_may_use(const struct policy *p,
    const struct policy_principal *client, const struct policy_key *k);

/*
 * The decision for client (from policy_match_client) and request.  Pure.
 * The first rule that names the key and allows everything asked decides
 * "allow"; when none does, the deny is the first failed check of the first
 * rule (file order) that names the key, and rule names that rule (or
 * unknown_key, with key NULL and rule "", when no rule names it).  A rule
 * checks, in order: operation, key usage, format (rule and key), digest
 * (key), evidence type allow-list (only when a type is sent), require,
 * then the key's window not_before <= now <= not_after.  Time-stamps skip
 * the format and evidence checks: their format is RFC 3161's, their
 * digest the imprint's, and they carry no evidence labels.
 * Rate limits are not checked here (ratelimit.h).
 */
void policy_decide(const struct policy *p,
    const struct policy_principal *client, const struct policy_request *rq,
    struct policy_decision *d);

/* Human summary of what each client may do (sealctl policy check). */
void policy_describe(const struct policy *p,
    void (*out)(const char *line, void *arg), void *arg);

#endif
