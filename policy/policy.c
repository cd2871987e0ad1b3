/*
 * policy: the questions the daemon asks a loaded policy, all pure and
 * without I/O so that a table of cases can test them: who is this caller
 * (client, officer, auditor by uid, gid or supplementary group), may this
 * client make this request (default deny, naming the rule and a stable
 * reason), which keys may it see, and a human summary of the whole.  A key
 * the client has no rule for is answered exactly like a key that does not
 * exist, so that clients cannot probe for other clients' keys.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "policy.h"
#include "policy_int.h"
#include "sd_limits.h"

#define OPBIT(op) (1u << (op))

const uint8_t *
policy_hash(const struct policy *p)
{
	return p->hash;
}

unsigned int
policy_approvals_required(const struct policy *p)
{
	return p->approvals_required;
}

unsigned int
policy_approval_minutes(const struct policy *p)
{
	return p->approval_minutes;
}

size_t
policy_nkeys(const struct policy *p)
{
	return p != NULL ? p->nkeys : 0;
}

const struct policy_key *
policy_key_at(const struct policy *p, size_t i)
{
	return p != NULL && i < p->nkeys ? &p->keys[i] : NULL;
}

const struct policy_key *
policy_key_find(const struct policy *p, const char *name)
{
	size_t i;

	if (p == NULL || name == NULL)
		return NULL;
	for (i = 0; i < p->nkeys; i++)
		if (strcmp(p->keys[i].name, name) == 0)
			return &p->keys[i];
	return NULL;
}

size_t
policy_nclients(const struct policy *p)
{
	return p != NULL ? p->clients.n : 0;
}

const struct policy_principal *
policy_client_at(const struct policy *p, size_t i)
{
	return p != NULL && i < p->clients.n ? &p->clients.p[i] : NULL;
}

static int
has_gid(const struct policy_principal *pr, gid_t gid)
{
	size_t i;

	for (i = 0; i < pr->ngids; i++)
		if (pr->gids[i] == gid)
			return 1;
	return 0;
}

static const struct policy_principal *
match(const struct policy_role *role, const struct policy_caller *c)
{
	const struct policy_principal *pr;
	size_t i, j, ngroups;

	if (c == NULL)
		return NULL;
	ngroups = c->groups != NULL ? c->ngroups : 0;
	for (i = 0; i < role->n; i++) {
		pr = &role->p[i];
		for (j = 0; j < pr->nuids; j++)
			if (pr->uids[j] == c->uid)
				return pr;
		if (has_gid(pr, c->gid))
			return pr;
		for (j = 0; j < ngroups; j++)
			if (has_gid(pr, c->groups[j]))
				return pr;
	}
	return NULL;
}

const struct policy_principal *
policy_match_client(const struct policy *p, const struct policy_caller *c)
{
	return p != NULL ? match(&p->clients, c) : NULL;
}

const struct policy_principal *
policy_match_officer(const struct policy *p, const struct policy_caller *c)
{
	return p != NULL ? match(&p->officers, c) : NULL;
}

const struct policy_principal *
policy_match_auditor(const struct policy *p, const struct policy_caller *c)
{
	return p != NULL ? match(&p->auditors, c) : NULL;
}

/* 1 when client is one of p's clients: rules index p's keys only. */
static int
own_client(const struct policy *p, const struct policy_principal *client)
{
	size_t i;

	if (p == NULL || client == NULL)
		return 0;
	for (i = 0; i < p->clients.n; i++)
		if (&p->clients.p[i] == client)
			return 1;
	return 0;
}

static int
rule_names(const struct policy_rule *rule, size_t key)
{
	size_t i;

	for (i = 0; i < rule->nkeys; i++)
		if (rule->keys[i] == key)
			return 1;
	return 0;
}

int
policy_client_may_use(const struct policy *p,
    const struct policy_principal *client, const struct policy_key *k)
{
	size_t i, key;

	if (!own_client(p, client) || k < p->keys || k >= p->keys + p->nkeys)
		return 0;
	key = (size_t)(k - p->keys);
	for (i = 0; i < client->nrules; i++)
		if (rule_names(&client->rules[i], key) &&
		    (client->rules[i].ops & k->usages) != 0)
			return 1;
	return 0;
}

/* Exactly one bit of mask set in v. */
static int
one_bit(unsigned int v, unsigned int mask)
{
	return v != 0 && (v & (v - 1)) == 0 && (v & mask) == v;
}

/* Why k may not be used at now, or NULL. */
static const char *
window(const struct policy_key *k, int64_t now)
{
	if (now < k->not_before)
		return "key_not_yet_valid";
	if (now > k->not_after)
		return "key_expired";
	return NULL;
}

/* The reason rule denies rq for key k, or NULL when it allows it; the
 * checks in the documented order. */
static const char *
check_rule(const struct policy_rule *rule, const struct policy_key *k,
    const struct policy_request *rq)
{
	const char *et = rq->evidence_type != NULL ? rq->evidence_type : "";
	const char *ref = rq->evidence_ref != NULL ? rq->evidence_ref : "";
	unsigned int op, formats;
	size_t i;

	op = rq->op == POLICY_OP_SIGN || rq->op == POLICY_OP_TIMESTAMP
	    ? OPBIT(rq->op)
	    : 0;
	if ((rule->ops & op) == 0)
		return "operation_not_allowed";
	if ((k->usages & op) == 0)
		return "key_usage";
	/* a time-stamp has one format (RFC 3161) and no evidence labels */
	formats = rule->formats != 0 ? rule->formats & k->formats : k->formats;
	if (rq->op == POLICY_OP_SIGN && !one_bit(rq->format, formats))
		return "format_not_allowed";
	if (!one_bit(rq->digest, k->digests))
		return "digest_not_allowed";
	if (rq->op == POLICY_OP_TIMESTAMP)
		return window(k, rq->now);
	/* The allow-list limits the types sent; "require" demands one. */
	if (rule->nevidence > 0 && et[0] != '\0') {
		for (i = 0; i < rule->nevidence; i++)
			if (strcmp(rule->evidence_types[i], et) == 0)
				break;
		if (i == rule->nevidence)
			return "evidence_type_not_allowed";
	}
	if ((rule->require & POLICY_REQ_EVIDENCE) && et[0] == '\0')
		return "evidence_required";
	if ((rule->require & POLICY_REQ_EVIDENCE_REF) && ref[0] == '\0')
		return "evidence_ref_required";
	return window(k, rq->now);
}

static void
rule_ref(const struct policy *p, const struct policy_principal *client,
    size_t i, struct policy_decision *d)
{
	const struct policy_rule *rule = &client->rules[i];

	if (snprintf(d->rule, sizeof(d->rule),
		"clients.%.63s.allow[%zu] "
		"(%.63s:%u:%u)",
		client->name, i, p->file, rule->line, rule->column) < 0)
		d->rule[0] = '\0';
}

void
policy_decide(const struct policy *p, const struct policy_principal *client,
    const struct policy_request *rq, struct policy_decision *d)
{
	const struct policy_key *k;
	const char *reason, *deny = NULL;
	size_t i, key, deny_rule = 0;

	memset(d, 0, sizeof(*d));
	d->allow = 0;
	d->code = SD_ERR_UNKNOWN_KEY;
	d->reason = "unknown_key";
	if (rq == NULL || !own_client(p, client) ||
	    (k = policy_key_find(p, rq->key)) == NULL)
		return;
	key = (size_t)(k - p->keys);
	for (i = 0; i < client->nrules; i++) {
		if (!rule_names(&client->rules[i], key))
			continue;
		if ((reason = check_rule(&client->rules[i], k, rq)) == NULL) {
			d->allow = 1;
			d->code = 0;
			d->reason = "allowed";
			d->key = k;
			rule_ref(p, client, i, d);
			return;
		}
		if (deny == NULL) {
			deny = reason;
			deny_rule = i;
		}
	}
	if (deny == NULL)
		return; /* no rule names the key: as if it did not exist */
	d->code = SD_ERR_POLICY_DENIED;
	d->reason = deny;
	d->key = k;
	rule_ref(p, client, deny_rule, d);
}

void
policy_append(char *dst, size_t size, const char *fmt, ...)
{
	size_t off = strlen(dst);
	va_list ap;
	int n;

	if (off + 1 >= size)
		return;
	va_start(ap, fmt);
	n = vsnprintf(dst + off, size - off, fmt, ap);
	va_end(ap);
	if (n < 0)
		dst[off] = '\0';
	else if ((size_t)n >= size - off && size >= 4)
		memcpy(dst + size - 4, "...", 4);
}

static void
append_bits(char *line, size_t size, unsigned int bits,
    const char *const *names, const unsigned int *values, size_t n)
{
	const char *sep = "";
	size_t i;

	for (i = 0; i < n; i++) {
		if (bits & values[i]) {
			policy_append(line, size, "%s%s", sep, names[i]);
			sep = ",";
		}
	}
}

/* A rate such as 50 or 0.5: up to six decimals, trailing zeros cut. */
static void
append_rate(char *line, size_t size, double rate)
{
	char buf[64];
	size_t n;

	snprintf(buf, sizeof(buf), "%.6f", rate);
	n = strlen(buf);
	while (n > 0 && buf[n - 1] == '0')
		buf[--n] = '\0';
	if (n > 0 && buf[n - 1] == '.')
		buf[--n] = '\0';
	policy_append(line, size, "%s", buf);
}

/* What rule lets a client do with k: the operations the key has, with
 * the formats and digests of a signature; the TSA policy of a stamp. */
static void
describe_key(const struct policy_rule *rule, const struct policy_key *k,
    char *line, size_t size)
{
	static const char *const fmts[] = { "raw", "cms", "cades-t" };
	static const unsigned int fmtbits[] = { POLICY_FMT_RAW, POLICY_FMT_CMS,
		POLICY_FMT_CADES_T };
	static const char *const dgs[] = { "sha256", "sha384", "sha512" };
	static const unsigned int dgbits[] = { POLICY_DG_SHA256,
		POLICY_DG_SHA384, POLICY_DG_SHA512 };
	unsigned int ops = rule->ops & k->usages;

	policy_append(line, size, "%s:", k->name);
	if (ops & OPBIT(POLICY_OP_SIGN)) {
		policy_append(line, size, " sign (");
		append_bits(line, size,
		    rule->formats != 0 ? rule->formats & k->formats
				       : k->formats,
		    fmts, fmtbits, 3);
		policy_append(line, size, "; ");
		append_bits(line, size, k->digests, dgs, dgbits, 3);
		if (k->formats & POLICY_FMT_CADES_T)
			policy_append(
			    line, size, "; cades-t stamped by %s", k->tsa_key);
		policy_append(line, size, ")");
	}
	if (ops & OPBIT(POLICY_OP_TIMESTAMP))
		policy_append(
		    line, size, " timestamp (TSA policy %s)", k->tsa_policy);
	if (ops == 0)
		policy_append(line, size,
		    " nothing (the rule's operations are not the key's)");
}

static void
describe_rule(const struct policy *p, const struct policy_principal *c,
    size_t ci, size_t ri, char *line, size_t size)
{
	static const char *const reqs[] = { "evidence", "evidence.ref" };
	static const unsigned int reqbits[] = { POLICY_REQ_EVIDENCE,
		POLICY_REQ_EVIDENCE_REF };
	const struct policy_rule *rule = &c->rules[ri];
	size_t i, j;

	line[0] = '\0';
	policy_append(
	    line, size, "client %s (%s): ", c->name, p->clients.match_text[ci]);
	for (i = 0; i < rule->nkeys; i++) {
		policy_append(line, size, "%s", i > 0 ? "; " : "");
		describe_key(rule, &p->keys[rule->keys[i]], line, size);
	}
	if (rule->nevidence > 0) {
		policy_append(line, size, "; evidence ");
		for (j = 0; j < rule->nevidence; j++)
			policy_append(line, size, "%s%s", j > 0 ? "," : "",
			    rule->evidence_types[j]);
	}
	if (rule->require != 0) {
		policy_append(line, size, "; requires ");
		append_bits(line, size, rule->require, reqs, reqbits, 2);
	}
	if (c->per_second > 0) {
		policy_append(line, size, "; rate ");
		append_rate(line, size, c->per_second);
		policy_append(line, size, "/s burst %u", c->burst);
	}
	if (c->daily_quota > 0)
		policy_append(line, size, "; quota %llu/day",
		    (unsigned long long)c->daily_quota);
}

void
policy_describe(
    const struct policy *p, void (*out)(const char *line, void *arg), void *arg)
{
	char line[SD_POLICY_DESCRIBE_MAX];
	size_t i, j;

	if (p == NULL || out == NULL)
		return;
	for (i = 0; i < p->clients.n; i++) {
		for (j = 0; j < p->clients.p[i].nrules; j++) {
			describe_rule(
			    p, &p->clients.p[i], i, j, line, sizeof(line));
			out(line, arg);
		}
	}
	for (i = 0; i < p->officers.n; i++) {
		line[0] = '\0';
		policy_append(line, sizeof(line), "officer %s (%s)",
		    p->officers.p[i].name, p->officers.match_text[i]);
		out(line, arg);
	}
	for (i = 0; i < p->auditors.n; i++) {
		line[0] = '\0';
		policy_append(line, sizeof(line), "auditor %s (%s)",
		    p->auditors.p[i].name, p->auditors.match_text[i]);
		out(line, arg);
	}
	line[0] = '\0';
	policy_append(line, sizeof(line),
	    "key changes: approvals_required %u (%s, within %u minutes)",
	    p->approvals_required,
	    p->approvals_required >= 2 ? "a second officer approves each"
				       : "a second officer approves a destroy",
	    p->approval_minutes);
	out(line, arg);
}
