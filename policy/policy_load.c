/*
 * policy_load: reads policy.yaml (keys, clients, officers, auditors) into
 * an immutable struct policy through config/cfg_yaml, checking everything
 * a decision will later rely on: unknown keys, duplicate names, rules that
 * name undefined keys or grant a format their key does not have, bad
 * rates, quotas and times are all errors at the offending line:column, so
 * that a policy that loads means what it says.  User and group names are
 * resolved here, once, and the SHA-256 of the file's bytes is kept so that
 * the ledger can record which policy decided.
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
#define POLICY_TIME_MAX 32 /* bytes of an RFC 3339 time in the file */

#define OPBIT(op) (1u << (op))

/* Names of bit values in the file, for lists such as formats: [raw]. */
struct bit_name {
	const char *name;
	unsigned int bit;
};

static const struct bit_name op_names[] = {
	{ "sign", OPBIT(POLICY_OP_SIGN) },
	{ "timestamp", OPBIT(POLICY_OP_TIMESTAMP) },
};
static const struct bit_name format_names[] = {
	{ "raw", POLICY_FMT_RAW },
	{ "cms", POLICY_FMT_CMS },
};
static const struct bit_name digest_names[] = {
	{ "sha256", POLICY_DG_SHA256 },
	{ "sha384", POLICY_DG_SHA384 },
	{ "sha512", POLICY_DG_SHA512 },
};
static const struct bit_name require_names[] = {
	{ "evidence", POLICY_REQ_EVIDENCE },
	{ "evidence.ref", POLICY_REQ_EVIDENCE_REF },
};
#define NBITS(a) (sizeof(a) / sizeof((a)[0]))

static const char *const algorithms[] = { "ec-p256", "ec-p384", "rsa-2048",
	"rsa-3072", "rsa-4096" };

/* The first name of a bit set, for error messages. */
static const char *
first_bit_name(const struct bit_name *names, size_t n, unsigned int bits)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (bits & names[i].bit)
			return names[i].name;
	return "?";
}

/*
 * A scalar or a list of 1..n distinct names from names[], as a bit set.
 */
static int
read_bits(struct cfg_yaml_doc *doc, const struct cfg_yaml_node *node,
    const struct bit_name *names, size_t n, unsigned int *out)
{
	const struct cfg_yaml_node *items[8];
	const char *list[8];
	unsigned int bits = 0;
	size_t i, j, nitems, idx;
	int r;

	for (j = 0; j < n; j++)
		list[j] = names[j].name;
	if ((r = cfg_yaml_list(doc, node, 1, n, items, &nitems)) != 0)
		return r;
	for (i = 0; i < nitems; i++) {
		if ((r = cfg_yaml_enum(doc, items[i], list, n, &idx)) != 0)
			return r;
		if (bits & names[idx].bit)
			return cfg_yaml_error(doc, items[i],
			    "'%s' is listed twice", names[idx].name);
		bits |= names[idx].bit;
	}
	*out = bits;
	return 0;
}

static int
is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t
days_from_civil(int64_t y, unsigned int m, unsigned int d)
{
	int64_t era;
	unsigned int yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned int)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

/* n decimal digits at s, or -1. */
static int
digits(const char *s, size_t n)
{
	int v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/*
 * RFC 3339 date-time without fractions: YYYY-MM-DDTHH:MM:SS and "Z" or an
 * offset +HH:MM / -HH:MM, as unix seconds.  Only 'T' and 'Z' (upper case)
 * and no leap second, so that one instant has few spellings.
 */
static int
parse_time(const char *s, int64_t *out)
{
	static const unsigned int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31,
		30, 31, 30, 31 };
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
	size_t len = strlen(s);
	unsigned int dim;

	if (len != 20 && len != 25)
		return -1;
	if (s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
	    s[16] != ':')
		return -1;
	if ((y = digits(s, 4)) < 0 || (mo = digits(s + 5, 2)) < 0 ||
	    (d = digits(s + 8, 2)) < 0 || (h = digits(s + 11, 2)) < 0 ||
	    (mi = digits(s + 14, 2)) < 0 || (sec = digits(s + 17, 2)) < 0)
		return -1;
	if (len == 20) {
		if (s[19] != 'Z')
			return -1;
	} else {
		if (s[19] == '+')
			sign = 1;
		else if (s[19] == '-')
			sign = -1;
		else
			return -1;
		if (s[22] != ':' || (oh = digits(s + 20, 2)) < 0 ||
		    (om = digits(s + 23, 2)) < 0 || oh > 23 || om > 59)
			return -1;
	}
	if (mo < 1 || mo > 12 || h > 23 || mi > 59 || sec > 59)
		return -1;
	dim = mdays[mo - 1] + (mo == 2 && is_leap(y) ? 1 : 0);
	if (d < 1 || (unsigned int)d > dim)
		return -1;
	*out = days_from_civil(y, (unsigned int)mo, (unsigned int)d) * 86400 +
	    h * 3600 + mi * 60 + sec - sign * (oh * 3600 + om * 60);
	return 0;
}

static int
read_time(
    struct cfg_yaml_doc *doc, const struct cfg_yaml_node *node, int64_t *out)
{
	char s[POLICY_TIME_MAX];
	int r;

	if ((r = cfg_yaml_str(doc, node, 1, s, sizeof(s))) != 0)
		return r;
	if (parse_time(s, out) != 0)
		return cfg_yaml_error(doc, node,
		    "bad time: expected RFC 3339 such as 2026-01-01T00:00:00Z "
		    "or 2026-01-01T01:00:00+01:00");
	return 0;
}

/* A dotted OID: at least two arcs of digits without leading zeros, the
 * first 0, 1 or 2, that OpenSSL encodes (so every token can state it). */
static int
oid_valid(const char *s)
{
	ASN1_OBJECT *o;
	size_t arcs = 0, digits;

	if (s[0] < '0' || s[0] > '2' || s[1] != '.')
		return 0;
	if ((o = OBJ_txt2obj(s, 1)) == NULL)
		return 0;
	ASN1_OBJECT_free(o);
	for (;;) {
		for (digits = 0; s[digits] >= '0' && s[digits] <= '9'; digits++)
			;
		if (digits == 0 || digits > 20 || (digits > 1 && s[0] == '0'))
			return 0;
		arcs++;
		s += digits;
		if (*s == '\0')
			return arcs >= 2;
		if (*s++ != '.')
			return 0;
	}
}

/* tsa_policy and tsa_accuracy_ms: required and allowed only with usage
 * timestamp. */
static int
load_tsa(struct cfg_yaml_doc *doc, const struct cfg_yaml_node *key,
    const struct cfg_yaml_node *pol, const struct cfg_yaml_node *acc,
    struct policy_key *k)
{
	unsigned long long n;
	int r;

	k->tsa_accuracy_ms = 1000;
	/* RFC 3161 2.3: a TSA key signs time-stamps and nothing else; a key
	 * that also signed client digests could sign forged, backdated
	 * TSTInfos that never saw the clock or the ledger */
	if (k->usages == (OPBIT(POLICY_OP_SIGN) | OPBIT(POLICY_OP_TIMESTAMP)))
		return cfg_yaml_error(doc, key,
		    "key '%s': usage timestamp must be the key's only usage "
		    "(a TSA key signs nothing else)",
		    k->name);
	if (!(k->usages & OPBIT(POLICY_OP_TIMESTAMP))) {
		if (pol != NULL || acc != NULL)
			return cfg_yaml_error(doc, pol != NULL ? pol : acc,
			    "tsa_policy and tsa_accuracy_ms are for keys "
			    "with usage timestamp");
		return 0;
	}
	if (pol == NULL)
		return cfg_yaml_error(doc, key,
		    "key '%s' has usage timestamp: it needs tsa_policy (an "
		    "OID such as 1.3.6.1.4.1.4146.2.3)",
		    k->name);
	if ((r = cfg_yaml_str(
		 doc, pol, 1, k->tsa_policy, sizeof(k->tsa_policy))) != 0)
		return r;
	if (!oid_valid(k->tsa_policy))
		return cfg_yaml_error(doc, pol,
		    "tsa_policy must be a dotted OID such as 1.2.3.4");
	if (acc != NULL) {
		if ((r = cfg_yaml_uint(doc, acc, 0, 60000, &n)) != 0)
			return r;
		k->tsa_accuracy_ms = (unsigned int)n;
	}
	return 0;
}

/* A key is either named by its label in the token (and version and
 * certificate file here), or managed: generated through the admin socket,
 * its active version, label and certificate taken from the keys table. */
static int
managed_or_label(struct cfg_yaml_doc *doc, const struct cfg_yaml_node *node,
    const struct cfg_yaml_node *label, const struct cfg_yaml_node *version,
    const struct cfg_yaml_node *cert, struct policy_key *k)
{
	if (!k->managed)
		return label == NULL
		    ? cfg_yaml_error(doc, node,
			  "key '%s' needs a label (or managed: true)", k->name)
		    : cfg_yaml_str(doc, label, 1, k->label, sizeof(k->label));
	if (label != NULL || version != NULL || cert != NULL)
		return cfg_yaml_error(doc,
		    label != NULL         ? label
			: version != NULL ? version
					  : cert,
		    "key '%s' is managed: its label, version and "
		    "certificate come from the keys table",
		    k->name);
	return 0;
}

static int
load_key(struct cfg_yaml_doc *doc, const struct cfg_yaml_node *name_node,
    const struct cfg_yaml_node *node, struct policy_key *k)
{
	enum {
		K_LABEL,
		K_VERSION,
		K_ALG,
		K_USAGE,
		K_FORMATS,
		K_DIGESTS,
		K_SCHEME,
		K_CERT,
		K_NB,
		K_NA,
		K_TSA_POLICY,
		K_ACCURACY,
		K_MANAGED,
		K_N
	};
	static const struct cfg_yaml_key keys[K_N] = {
		[K_LABEL] = { "label", 0 },
		[K_VERSION] = { "version", 0 },
		[K_ALG] = { "algorithm", 0 },
		[K_USAGE] = { "usage", 0 },
		[K_FORMATS] = { "formats", 0 },
		[K_DIGESTS] = { "digests", 0 },
		[K_SCHEME] = { "rsa_scheme", 0 },
		[K_CERT] = { "certificate", 0 },
		[K_NB] = { "not_before", 0 },
		[K_NA] = { "not_after", 0 },
		[K_TSA_POLICY] = { "tsa_policy", 0 },
		[K_ACCURACY] = { "tsa_accuracy_ms", 0 },
		[K_MANAGED] = { "managed", 0 },
	};
	static const char *const schemes[] = { "pkcs1", "pss" };
	static const enum policy_rsa_scheme scheme_values[] = {
		POLICY_RSA_PKCS1, POLICY_RSA_PSS
	};
	const struct cfg_yaml_node *v[K_N];
	unsigned long long n;
	size_t i;
	int r;

	k->version = 1;
	k->usages = OPBIT(POLICY_OP_SIGN);
	k->formats = POLICY_FMT_RAW;
	k->digests = POLICY_DG_SHA256 | POLICY_DG_SHA384 | POLICY_DG_SHA512;
	k->rsa_scheme = POLICY_RSA_PKCS1;
	k->not_before = INT64_MIN;
	k->not_after = INT64_MAX;
	if ((r = cfg_yaml_name(doc, name_node, k->name)) != 0 ||
	    (r = cfg_yaml_map(doc, node, keys, K_N, v)) != 0 ||
	    (v[K_MANAGED] != NULL &&
		(r = cfg_yaml_bool(doc, v[K_MANAGED], &k->managed)) != 0) ||
	    (r = managed_or_label(
		 doc, node, v[K_LABEL], v[K_VERSION], v[K_CERT], k)) != 0)
		return r;
	if (v[K_VERSION] != NULL) {
		if ((r = cfg_yaml_uint(
			 doc, v[K_VERSION], 1, CFG_VERSION_MAX, &n)) != 0)
			return r;
		k->version = (unsigned int)n;
	}
	if (v[K_ALG] != NULL) {
		if ((r = cfg_yaml_enum(doc, v[K_ALG], algorithms,
			 NBITS(algorithms), &i)) != 0)
			return r;
		snprintf(
		    k->algorithm, sizeof(k->algorithm), "%s", algorithms[i]);
	}
	if ((v[K_USAGE] != NULL &&
		(r = read_bits(doc, v[K_USAGE], op_names, NBITS(op_names),
		     &k->usages)) != 0) ||
	    (v[K_FORMATS] != NULL &&
		(r = read_bits(doc, v[K_FORMATS], format_names,
		     NBITS(format_names), &k->formats)) != 0) ||
	    (v[K_DIGESTS] != NULL &&
		(r = read_bits(doc, v[K_DIGESTS], digest_names,
		     NBITS(digest_names), &k->digests)) != 0))
		return r;
	if (v[K_SCHEME] != NULL) {
		if ((r = cfg_yaml_enum(
			 doc, v[K_SCHEME], schemes, NBITS(schemes), &i)) != 0)
			return r;
		k->rsa_scheme = scheme_values[i];
	}
	if ((v[K_CERT] != NULL &&
		(r = cfg_yaml_path(doc, v[K_CERT], k->certificate)) != 0) ||
	    (v[K_NB] != NULL &&
		(r = read_time(doc, v[K_NB], &k->not_before)) != 0) ||
	    (v[K_NA] != NULL &&
		(r = read_time(doc, v[K_NA], &k->not_after)) != 0))
		return r;
	if (k->not_after < k->not_before)
		return cfg_yaml_error(doc, v[K_NA],
		    "not_after is earlier than not_before of key '%s'",
		    k->name);
	return load_tsa(doc, node, v[K_TSA_POLICY], v[K_ACCURACY], k);
}

static int
load_keys(struct cfg_yaml_doc *doc, const struct cfg_yaml_node *node,
    struct policy *p)
{
	const struct cfg_yaml_node *names[SD_MAX_KEYS], *values[SD_MAX_KEYS];
	size_t i, n;
	int r;

	if ((r = cfg_yaml_pairs(
		 doc, node, 1, SD_MAX_KEYS, names, values, &n)) != 0)
		return r;
	if ((p->keys = calloc(n, sizeof(*p->keys))) == NULL)
		return cfg_yaml_error(doc, NULL, "out of memory");
	for (i = 0; i < n; i++) {
		if ((r = load_key(doc, names[i], values[i], &p->keys[i])) != 0)
			return r;
		p->nkeys = i + 1;
	}
	return 0;
}

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
	rule->ops = OPBIT(POLICY_OP_SIGN);
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
		(r = read_bits(doc, v[K_OPS], op_names, NBITS(op_names),
		     &rule->ops)) != 0) ||
	    (v[K_FORMATS] != NULL &&
		(r = read_bits(doc, v[K_FORMATS], format_names,
		     NBITS(format_names), &rule->formats)) != 0) ||
	    (v[K_EVIDENCE] != NULL &&
		(r = load_evidence_types(doc, v[K_EVIDENCE], rule)) != 0) ||
	    (v[K_REQUIRE] != NULL &&
		(r = read_bits(doc, v[K_REQUIRE], require_names,
		     NBITS(require_names), &rule->require)) != 0))
		return r;
	/* A rule may narrow what a key allows, never widen it. */
	for (i = 0; i < rule->nkeys; i++) {
		k = &p->keys[rule->keys[i]];
		if ((rule->formats & ~k->formats) != 0)
			return cfg_yaml_error(doc, v[K_FORMATS],
			    "format '%s' is not allowed by key '%s' (see its "
			    "formats)",
			    first_bit_name(format_names, NBITS(format_names),
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

	if ((r = load_keys(doc, v[K_KEYS], p)) != 0 ||
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

struct policy *
policy_load_buffer(const char *name, const unsigned char *buf, size_t len,
    char *errbuf, size_t errlen)
{
	struct cfg_yaml_doc *doc;
	struct policy *p;

	if (name == NULL)
		name = "(policy)";
	if ((doc = cfg_yaml_parse(name, buf, len, errbuf, errlen)) == NULL)
		return NULL;
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

struct policy *
policy_load(const char *path, char *errbuf, size_t errlen)
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
	p = policy_load_buffer(path, buf, len, errbuf, errlen);
	explicit_bzero(buf, len);
	free(buf);
	return p;
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
