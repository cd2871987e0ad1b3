/*
 * policy_load: reads policy.yaml (its keys: policy_keys.c; its clients,
 * officers and auditors here) into an immutable struct policy through
 * config/cfg_yaml, checking everything a decision will later rely on:
 * unknown keys, duplicate names, rules that name undefined keys or grant
 * a format their key does not have, bad rates, quotas and times are all
 * errors at the offending line:column, so that a policy that loads means
 * what it says.  User and group names are resolved here, once, and the
 * SHA-256 of the file's bytes is kept so that the ledger can record which
 * policy decided.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <openssl/evp.h>
#include <openssl/objects.h>

#include "cfg_yaml.h"
#include "err.h"
#include "policy.h"
#include "policy_int.h"
#include "sd_limits.h"

/* (uid_t)-1 and (gid_t)-1 mean "no change" to chown(2): never valid ids. */
#define POLICY_UID_MAX ((unsigned long long)(uid_t)-1 - 1)
#define POLICY_GID_MAX ((unsigned long long)(gid_t)-1 - 1)

/*
 * One of uid/user/gid/group of a match: numbers, or names resolved now,
 * appended to the principal's ids and described in text.
 */
static int
add_ids(struct cfg_yaml_doc *doc, const struct cfg_yaml_node *node, int by_name,
    int group, struct policy_principal *pr, char *text, size_t textlen)
{
	const struct cfg_yaml_node *items[SD_MAX_IDS];
	unsigned long long v;
	char name[SD_NAME_MAX];
	size_t i, n;
	uid_t uid = 0;
	gid_t gid = 0;
	unsigned int id;
	int r;

	if ((r = cfg_yaml_list(doc, node, 1, SD_MAX_IDS, items, &n)) != 0)
		return r;
	policy_append(text, textlen, "%s%s ", text[0] != '\0' ? "; " : "",
	    group ? (by_name ? "group" : "gid") : (by_name ? "user" : "uid"));
	for (i = 0; i < n; i++) {
		if (pr->nuids + pr->ngids == SD_MAX_IDS)
			return cfg_yaml_error(doc, items[i],
			    "too many ids for one entry (at most %d uids and "
			    "gids together)",
			    SD_MAX_IDS);
		if (by_name && group)
			r = cfg_yaml_group(doc, items[i], &gid);
		else if (by_name)
			r = cfg_yaml_user(doc, items[i], &uid);
		else if ((r = cfg_yaml_uint(doc, items[i], 0,
			      group ? POLICY_GID_MAX : POLICY_UID_MAX, &v)) ==
		    0)
			uid = gid = (unsigned int)v;
		if (r != 0)
			return r;
		id = group ? (unsigned int)gid : (unsigned int)uid;
		if (group)
			pr->gids[pr->ngids++] = gid;
		else
			pr->uids[pr->nuids++] = uid;
		if (by_name) {
			/* A resolved name is a plain name: show it. */
			if (cfg_yaml_str(
				doc, items[i], 1, name, sizeof(name)) != 0)
				return SD_ERR_CONFIG;
			if (id == (unsigned int)-1) /* unknown here */
				policy_append(text, textlen, "%s%s=?",
				    i > 0 ? "," : "", name);
			else
				policy_append(text, textlen, "%s%s=%u",
				    i > 0 ? "," : "", name, id);
		} else
			policy_append(
			    text, textlen, "%s%u", i > 0 ? "," : "", id);
	}
	return 0;
}

static int
load_match(struct cfg_yaml_doc *doc, const struct cfg_yaml_node *node,
    struct policy_principal *pr, char *text, size_t textlen)
{
	enum { K_UID, K_USER, K_GID, K_GROUP, K_N };
	static const struct cfg_yaml_key keys[K_N] = {
		[K_UID] = { "uid", 0 },
		[K_USER] = { "user", 0 },
		[K_GID] = { "gid", 0 },
		[K_GROUP] = { "group", 0 },
	};
	const struct cfg_yaml_node *v[K_N];
	int r;

	if ((r = cfg_yaml_map(doc, node, keys, K_N, v)) != 0)
		return r;
	if ((v[K_UID] != NULL &&
		(r = add_ids(doc, v[K_UID], 0, 0, pr, text, textlen)) != 0) ||
	    (v[K_USER] != NULL &&
		(r = add_ids(doc, v[K_USER], 1, 0, pr, text, textlen)) != 0) ||
	    (v[K_GID] != NULL &&
		(r = add_ids(doc, v[K_GID], 0, 1, pr, text, textlen)) != 0) ||
	    (v[K_GROUP] != NULL &&
		(r = add_ids(doc, v[K_GROUP], 1, 1, pr, text, textlen)) != 0))
		return r;
	if (pr->nuids == 0 && pr->ngids == 0)
		return cfg_yaml_error(doc, node,
		    "'%s' needs at least one of uid, user, gid or group",
		    pr->name);
	return 0;
}

static int
evidence_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

static int
load_evidence_types(struct cfg_yaml_doc *doc, const struct cfg_yaml_node *node,
    struct policy_rule *rule)
{
	const struct cfg_yaml_node *items[SD_MAX_EVIDENCE_TYPES];
	char *t;
	size_t i, j, n;
	int r;

	if ((r = cfg_yaml_list(
		 doc, node, 1, SD_MAX_EVIDENCE_TYPES, items, &n)) != 0)
		return r;
	for (i = 0; i < n; i++) {
		t = rule->evidence_types[i];
		if ((r = cfg_yaml_str(doc, items[i], 1, t,
			 sizeof(rule->evidence_types[i]))) != 0)
			return r;
		for (j = 0; t[j] != '\0'; j++)
			if (!evidence_char(t[j]))
				return cfg_yaml_error(doc, items[i],
				    "bad evidence type: only letters, digits, "
				    "'.', '_' and '-' are allowed");
		for (j = 0; j < i; j++)
			if (strcmp(rule->evidence_types[j], t) == 0)
				return cfg_yaml_error(doc, items[i],
				    "evidence type '%s' is listed twice", t);
		rule->nevidence = i + 1;
	}
	return 0;
}

static int
load_rule(struct cfg_yaml_doc *doc, const struct policy *p,
    const struct cfg_yaml_node *node, struct policy_rule *rule)
{
	enum { K_KEYS, K_OPS, K_FORMATS, K_EVIDENCE, K_REQUIRE, K_N };
	static const struct cfg_yaml_key keys[K_N] = {
		[K_KEYS] = { "keys", 1 },
		[K_OPS] = { "operations", 0 },
		[K_FORMATS] = { "formats", 0 },
		[K_EVIDENCE] = { "evidence_types", 0 },
		[K_REQUIRE] = { "require", 0 },
	};
	const struct cfg_yaml_node *v[K_N], *items[SD_MAX_KEYS];
	const struct policy_key *k;
	char name[SD_NAME_MAX];
	size_t i, j, n;
	int r;

	rule->line = (unsigned int)cfg_yaml_line(node);
	rule->column = (unsigned int)cfg_yaml_column(node);
	rule->ops = POLICY_OPBIT(POLICY_OP_SIGN);
	if ((r = cfg_yaml_map(doc, node, keys, K_N, v)) != 0 ||
	    (r = cfg_yaml_list(doc, v[K_KEYS], 1, SD_MAX_KEYS, items, &n)) != 0)
		return r;
	for (i = 0; i < n; i++) {
		if ((r = cfg_yaml_name(doc, items[i], name)) != 0)
			return r;
		if ((k = policy_key_find(p, name)) == NULL)
			return cfg_yaml_error(
			    doc, items[i], "undefined key '%s'", name);
		for (j = 0; j < i; j++)
			if (rule->keys[j] == (size_t)(k - p->keys))
				return cfg_yaml_error(doc, items[i],
				    "key '%s' is listed twice", name);
		rule->keys[i] = (size_t)(k - p->keys);
		rule->nkeys = i + 1;
	}
	if ((v[K_OPS] != NULL &&
		(r = policy_read_bits(
		     doc, v[K_OPS], POLICY_BITS_OPS, &rule->ops)) != 0) ||
	    (v[K_FORMATS] != NULL &&
		(r = policy_read_bits(doc, v[K_FORMATS], POLICY_BITS_FORMATS,
		     &rule->formats)) != 0) ||
	    (v[K_EVIDENCE] != NULL &&
		(r = load_evidence_types(doc, v[K_EVIDENCE], rule)) != 0) ||
	    (v[K_REQUIRE] != NULL &&
		(r = policy_read_bits(doc, v[K_REQUIRE], POLICY_BITS_REQUIRE,
		     &rule->require)) != 0))
		return r;
	/* A rule may narrow what a key allows, never widen it. */
	for (i = 0; i < rule->nkeys; i++) {
		k = &p->keys[rule->keys[i]];
		if ((rule->formats & ~k->formats) != 0)
			return cfg_yaml_error(doc, v[K_FORMATS],
			    "format '%s' is not allowed by key '%s' (see its "
			    "formats)",
			    policy_bit_name(POLICY_BITS_FORMATS,
				rule->formats & ~k->formats),
			    k->name);
	}
	return 0;
}

static int
load_rate(struct cfg_yaml_doc *doc, const struct cfg_yaml_node *node,
    struct policy_principal *c)
{
	enum { K_PER_SECOND, K_BURST, K_N };
	static const struct cfg_yaml_key keys[K_N] = {
		[K_PER_SECOND] = { "per_second", 1 },
		[K_BURST] = { "burst", 1 },
	};
	const struct cfg_yaml_node *v[K_N];
	unsigned long long n;
	int r;

	if ((r = cfg_yaml_map(doc, node, keys, K_N, v)) != 0 ||
	    (r = cfg_yaml_decimal(doc, v[K_PER_SECOND], 0,
		 SD_RATE_MAX_PER_SECOND, &c->per_second)) != 0)
		return r;
	if (c->per_second <= 0)
		return cfg_yaml_error(
		    doc, v[K_PER_SECOND], "per_second must be more than 0");
	if ((r = cfg_yaml_uint(doc, v[K_BURST], 1, SD_RATE_MAX_BURST, &n)) != 0)
		return r;
	c->burst = (unsigned int)n;
	return 0;
}

static int
load_principal(struct cfg_yaml_doc *doc, const struct policy *p,
    const struct cfg_yaml_node *name_node, const struct cfg_yaml_node *node,
    int client, struct policy_principal *pr, char *text, size_t textlen)
{
	enum { K_MATCH, K_RATE, K_QUOTA, K_ALLOW, K_N };
	static const struct cfg_yaml_key client_keys[K_N] = {
		[K_MATCH] = { "match", 1 },
		[K_RATE] = { "rate", 0 },
		[K_QUOTA] = { "daily_quota", 0 },
		[K_ALLOW] = { "allow", 1 },
	};
	static const struct cfg_yaml_key other_keys[] = {
		{ "match", 1 },
	};
	const struct cfg_yaml_node *v[K_N], *items[SD_MAX_RULES];
	unsigned long long quota;
	size_t i, n;
	int r;

	if ((r = cfg_yaml_name(doc, name_node, pr->name)) != 0)
		return r;
	if (client)
		r = cfg_yaml_map(doc, node, client_keys, K_N, v);
	else
		r = cfg_yaml_map(doc, node, other_keys, NBITS(other_keys), v);
	if (r != 0 || (r = load_match(doc, v[K_MATCH], pr, text, textlen)) != 0)
		return r;
	if (!client)
		return 0;
	if (v[K_RATE] != NULL && (r = load_rate(doc, v[K_RATE], pr)) != 0)
		return r;
	if (v[K_QUOTA] != NULL) {
		if ((r = cfg_yaml_uint(
			 doc, v[K_QUOTA], 1, SD_QUOTA_MAX, &quota)) != 0)
			return r;
		pr->daily_quota = (uint64_t)quota;
	}
	if ((r = cfg_yaml_seq(doc, v[K_ALLOW], 1, SD_MAX_RULES, items, &n)) !=
	    0)
		return r;
	for (i = 0; i < n; i++) {
		if ((r = load_rule(doc, p, items[i], &pr->rules[i])) != 0)
			return r;
		pr->nrules = i + 1;
	}
	return 0;
}

static int
load_role(struct cfg_yaml_doc *doc, const struct policy *p,
    const struct cfg_yaml_node *node, size_t min, size_t max, int client,
    struct policy_role *role)
{
	const struct cfg_yaml_node **names = NULL, **values = NULL;
	size_t i, n;
	int r = SD_ERR_CONFIG;

	if ((names = calloc(max, sizeof(*names))) == NULL ||
	    (values = calloc(max, sizeof(*values))) == NULL) {
		cfg_yaml_error(doc, NULL, "out of memory");
		goto out;
	}
	if ((r = cfg_yaml_pairs(doc, node, min, max, names, values, &n)) != 0)
		goto out;
	if (n > 0 &&
	    ((role->p = calloc(n, sizeof(*role->p))) == NULL ||
		(role->match_text = calloc(n, sizeof(*role->match_text))) ==
		    NULL)) {
		r = cfg_yaml_error(doc, NULL, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		if ((r = load_principal(doc, p, names[i], values[i], client,
			 &role->p[i], role->match_text[i],
			 sizeof(role->match_text[i]))) != 0)
			goto out;
		role->n = i + 1;
	}
	r = 0;
out:
	free(names);
	free(values);
	return r;
}

static int
load_root(struct cfg_yaml_doc *doc, struct policy *p)
{
	enum {
		K_KEYS,
		K_CLIENTS,
		K_OFFICERS,
		K_AUDITORS,
		K_APPROVALS,
		K_APPROVAL_MIN,
		K_N
	};
	static const struct cfg_yaml_key keys[K_N] = {
		[K_KEYS] = { "keys", 1 },
		[K_CLIENTS] = { "clients", 1 },
		[K_OFFICERS] = { "officers", 0 },
		[K_AUDITORS] = { "auditors", 0 },
		[K_APPROVALS] = { "approvals_required", 0 },
		[K_APPROVAL_MIN] = { "approval_minutes", 0 },
	};
	const struct cfg_yaml_node *v[K_N];
	unsigned long long n;
	int r;

	p->approvals_required = 1;
	p->approval_minutes = POLICY_APPROVAL_MINUTES_DEFAULT;
	if ((r = cfg_yaml_map(doc, cfg_yaml_root(doc), keys, K_N, v)) != 0)
		return r;
	if (v[K_APPROVALS] != NULL) {
		if ((r = cfg_yaml_uint(doc, v[K_APPROVALS], 1, 2, &n)) != 0)
			return r;
		p->approvals_required = (unsigned int)n;
	}
	if (v[K_APPROVAL_MIN] != NULL) {
		if ((r = cfg_yaml_uint(doc, v[K_APPROVAL_MIN], 1,
			 POLICY_APPROVAL_MINUTES_MAX, &n)) != 0)
			return r;
		p->approval_minutes = (unsigned int)n;
	}

	if ((r = policy_load_keys(doc, v[K_KEYS], p)) != 0 ||
	    (r = load_role(doc, p, v[K_CLIENTS], 1, SD_MAX_CLIENTS, 1,
		 &p->clients)) != 0 ||
	    (v[K_OFFICERS] != NULL &&
		(r = load_role(doc, p, v[K_OFFICERS], 0, SD_MAX_OFFICERS, 0,
		     &p->officers)) != 0) ||
	    (v[K_AUDITORS] != NULL &&
		(r = load_role(doc, p, v[K_AUDITORS], 0, SD_MAX_OFFICERS, 0,
		     &p->auditors)) != 0))
		return r;
	return 0;
}

/* The last part of a path, for rule references (bounded: SD_NAME_MAX). */
static void
set_file(struct policy *p, const char *name)
{
	const char *slash = strrchr(name, '/');

	if (slash != NULL && slash[1] != '\0')
		name = slash + 1;
	snprintf(p->file, sizeof(p->file), "%s", name);
}

/* The policy in buf; names elsewhere (fn not NULL): as
 * cfg_yaml_names_elsewhere says. */
static struct policy *
load_buffer(const char *name, const unsigned char *buf, size_t len,
    cfg_yaml_elsewhere_fn *fn, void *arg, char *errbuf, size_t errlen)
{
	struct cfg_yaml_doc *doc;
	struct policy *p;

	if (name == NULL)
		name = "(policy)";
	if ((doc = cfg_yaml_parse(name, buf, len, errbuf, errlen)) == NULL)
		return NULL;
	if (fn != NULL)
		cfg_yaml_names_elsewhere(doc, fn, arg);
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		cfg_yaml_error(doc, NULL, "out of memory");
		goto fail;
	}
	set_file(p, name);
	if (EVP_Digest(buf != NULL ? buf : (const unsigned char *)"", len,
		p->hash, NULL, EVP_sha256(), NULL) != 1) {
		cfg_yaml_error(doc, NULL, "cannot compute SHA-256");
		goto fail;
	}
	if (load_root(doc, p) != 0)
		goto fail;
	cfg_yaml_free(doc);
	return p;
fail:
	policy_free(p);
	cfg_yaml_free(doc);
	return NULL;
}

static struct policy *
load_file(const char *path, cfg_yaml_elsewhere_fn *fn, void *arg, char *errbuf,
    size_t errlen)
{
	unsigned char *buf = NULL;
	struct policy *p;
	size_t len = 0;

	if (path == NULL) {
		if (errbuf != NULL && errlen > 0)
			snprintf(errbuf, errlen, "(policy): no path given");
		return NULL;
	}
	if (cfg_yaml_read_file(path, &buf, &len, errbuf, errlen) != 0)
		return NULL;
	p = load_buffer(path, buf, len, fn, arg, errbuf, errlen);
	explicit_bzero(buf, len);
	free(buf);
	return p;
}

struct policy *
policy_load_buffer(const char *name, const unsigned char *buf, size_t len,
    char *errbuf, size_t errlen)
{
	return load_buffer(name, buf, len, NULL, NULL, errbuf, errlen);
}

struct policy *
policy_load_elsewhere(const char *path,
    void (*fn)(const char *kind, const char *name, unsigned long line,
	unsigned long column, void *arg),
    void *arg, char *errbuf, size_t errlen)
{
	return load_file(path, fn, arg, errbuf, errlen);
}

struct policy *
policy_load(const char *path, char *errbuf, size_t errlen)
{
	return load_file(path, NULL, NULL, errbuf, errlen);
}

static void
role_free(struct policy_role *role)
{
	free(role->p);
	free(role->match_text);
}

void
policy_free(struct policy *p)
{
	if (p == NULL)
		return;
	free(p->keys);
	role_free(&p->clients);
	role_free(&p->officers);
	role_free(&p->auditors);
	free(p);
}
