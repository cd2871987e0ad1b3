/*
 * policy_keys: the keys: section of policy.yaml, each key's name, where
 * it is (a label in the token, or managed through the admin socket), what
 * it does (usages, formats, digests, RSA scheme), when it signs, and, for
 * a time-stamping key, its TSA policy and accuracy.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg_yaml.h"
#include "err.h"
#include "policy.h"
#include "policy_int.h"
#include "sd_limits.h"

static const char *const algorithms[] = { "ec-p256", "ec-p384", "rsa-2048",
	"rsa-3072", "rsa-4096" };

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
	if (k->usages ==
	    (POLICY_OPBIT(POLICY_OP_SIGN) | POLICY_OPBIT(POLICY_OP_TIMESTAMP)))
		return cfg_yaml_error(doc, key,
		    "key '%s': usage timestamp must be the key's only usage "
		    "(a TSA key signs nothing else)",
		    k->name);
	if (!(k->usages & POLICY_OPBIT(POLICY_OP_TIMESTAMP))) {
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
	if (!policy_oid_valid(k->tsa_policy))
		return cfg_yaml_error(doc, pol,
		    "tsa_policy must be a dotted OID such as 1.2.3.4");
	if (acc != NULL) {
		if ((r = cfg_yaml_uint(doc, acc, 0, 60000, &n)) != 0)
			return r;
		k->tsa_accuracy_ms = (unsigned int)n;
	}
	return 0;
}

/* label: the private key's CKA_LABEL, or a pkcs11: URI that names it
 * (object, and maybe its id, type=private and its token). */
static int
load_label(struct cfg_yaml_doc *doc, const struct cfg_yaml_node *label,
    struct policy_key *k)
{
	char s[SD_P11URI_MAX + 1], err[256];
	int r;

	if ((r = cfg_yaml_str(doc, label, 1, s, sizeof(s))) != 0)
		return r;
	if (!p11uri_is(s)) {
		if (strlen(s) >= sizeof(k->label))
			return cfg_yaml_error(doc, label,
			    "too long (at most %zu bytes)",
			    sizeof(k->label) - 1);
		memcpy(k->label, s, strlen(s) + 1);
		return 0;
	}
	if (p11uri_parse(s, &k->uri, err, sizeof(err)) != 0)
		return cfg_yaml_error(doc, label, "key '%s': %s", k->name, err);
	if (!(k->uri.has & P11URI_OBJECT))
		return cfg_yaml_error(doc, label,
		    "key '%s': the URI names no object (object=, the key's "
		    "label)",
		    k->name);
	if ((k->uri.has & P11URI_TYPE) && strcmp(k->uri.type, "private") != 0)
		return cfg_yaml_error(doc, label,
		    "key '%s': type=%s: a key is named by its private key "
		    "(type=private)",
		    k->name, k->uri.type);
	memcpy(k->label, k->uri.object, strlen(k->uri.object) + 1);
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
		    : load_label(doc, label, k);
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

/* version (1 unless said) and algorithm (for managed keys). */
static int
load_version_alg(struct cfg_yaml_doc *doc, const struct cfg_yaml_node *ver,
    const struct cfg_yaml_node *alg, struct policy_key *k)
{
	unsigned long long n;
	size_t i;
	int r;

	if (ver != NULL) {
		if ((r = cfg_yaml_uint(doc, ver, 1, CFG_VERSION_MAX, &n)) != 0)
			return r;
		k->version = (unsigned int)n;
	}
	if (alg != NULL) {
		if ((r = cfg_yaml_enum(
			 doc, alg, algorithms, NBITS(algorithms), &i)) != 0)
			return r;
		snprintf(
		    k->algorithm, sizeof(k->algorithm), "%s", algorithms[i]);
	}
	return 0;
}

/* not_before and not_after: the window in which the key signs. */
static int
load_validity(struct cfg_yaml_doc *doc, const struct cfg_yaml_node *nb,
    const struct cfg_yaml_node *na, struct policy_key *k)
{
	int r;

	if ((nb != NULL &&
		(r = policy_read_time(doc, nb, &k->not_before)) != 0) ||
	    (na != NULL && (r = policy_read_time(doc, na, &k->not_after)) != 0))
		return r;
	if (k->not_after < k->not_before)
		return cfg_yaml_error(doc, na,
		    "not_after is earlier than not_before of key '%s'",
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
		K_TSA_KEY,
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
		[K_TSA_KEY] = { "tsa_key", 0 },
	};
	static const char *const schemes[] = { "pkcs1", "pss" };
	static const enum policy_rsa_scheme scheme_values[] = {
		POLICY_RSA_PKCS1, POLICY_RSA_PSS
	};
	const struct cfg_yaml_node *v[K_N];
	size_t i;
	int r;

	k->version = 1;
	k->usages = POLICY_OPBIT(POLICY_OP_SIGN);
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
	if ((r = load_version_alg(doc, v[K_VERSION], v[K_ALG], k)) != 0)
		return r;
	if ((v[K_USAGE] != NULL &&
		(r = policy_read_bits(
		     doc, v[K_USAGE], POLICY_BITS_OPS, &k->usages)) != 0) ||
	    (v[K_FORMATS] != NULL &&
		(r = policy_read_bits(doc, v[K_FORMATS], POLICY_BITS_FORMATS,
		     &k->formats)) != 0) ||
	    (v[K_DIGESTS] != NULL &&
		(r = policy_read_bits(doc, v[K_DIGESTS], POLICY_BITS_DIGESTS,
		     &k->digests)) != 0))
		return r;
	if (v[K_SCHEME] != NULL) {
		if ((r = cfg_yaml_enum(
			 doc, v[K_SCHEME], schemes, NBITS(schemes), &i)) != 0)
			return r;
		k->rsa_scheme = scheme_values[i];
	}
	if ((v[K_CERT] != NULL &&
		(r = cfg_yaml_path(doc, v[K_CERT], k->certificate)) != 0) ||
	    (r = load_validity(doc, v[K_NB], v[K_NA], k)) != 0 ||
	    (v[K_TSA_KEY] != NULL &&
		(r = cfg_yaml_name(doc, v[K_TSA_KEY], k->tsa_key)) != 0))
		return r;
	return load_tsa(doc, node, v[K_TSA_POLICY], v[K_ACCURACY], k);
}

/* tsa_key: with format cades-t, and only with it, a key of this policy
 * that signs time-stamps. */
static int
check_tsa_key(struct cfg_yaml_doc *doc, const struct cfg_yaml_node *node,
    const struct policy *p, const struct policy_key *k)
{
	const struct policy_key *t;

	if (!(k->formats & POLICY_FMT_CADES_T))
		return k->tsa_key[0] == '\0'
		    ? 0
		    : cfg_yaml_error(doc, node,
			  "key '%s': tsa_key is for keys with format "
			  "cades-t",
			  k->name);
	if (k->tsa_key[0] == '\0')
		return cfg_yaml_error(doc, node,
		    "key '%s' has format cades-t: it needs tsa_key, the "
		    "time-stamping key whose tokens its seals carry",
		    k->name);
	if ((t = policy_key_find(p, k->tsa_key)) == NULL ||
	    !(t->usages & POLICY_OPBIT(POLICY_OP_TIMESTAMP)))
		return cfg_yaml_error(doc, node,
		    "key '%s': tsa_key '%s' is not a key with usage "
		    "timestamp",
		    k->name, k->tsa_key);
	return 0;
}

int
policy_load_keys(struct cfg_yaml_doc *doc, const struct cfg_yaml_node *node,
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
	for (i = 0; i < n; i++)
		if ((r = check_tsa_key(doc, values[i], p, &p->keys[i])) != 0)
			return r;
	return 0;
}
