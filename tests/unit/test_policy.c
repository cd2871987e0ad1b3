/*
 * test_policy: the policy loader and the decision function against data.
 * Every tests/data/policy/ok_*.yaml must load and every bad_*.yaml must
 * fail with the error its first line "# expect: LINE:COL: text" names, so
 * a new loader case is one new file.  The decision cases are a table,
 * tests/data/policy/decisions.txt, run against ok_decisions.yaml: one
 * line per request with the expected allow/deny, reason and rule.  The
 * code cases check values and defaults, the file hash against the openssl
 * command, caller matching, the keys a client may see, policy_describe and
 * the commented example config/policy.yaml.  SEALD_TEST_DATA overrides
 * the data folder (default tests/data/policy).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "expect.h"
#include "policy.h"
#include "sd_limits.h"

#define OPBIT(op) (1u << (op))

static const char *
data_dir(void)
{
	const char *d = getenv("SEALD_TEST_DATA");

	return d != NULL && *d != '\0' ? d : "tests/data/policy";
}

static void
data_path(char *path, size_t len, const char *file)
{
	int n = snprintf(path, len, "%s/%s", data_dir(), file);

	assert_true(n > 0 && (size_t)n < len);
}

static struct policy *
load_data(const char *file)
{
	char path[1024], err[1024];
	struct policy *p;

	data_path(path, sizeof(path), file);
	if ((p = policy_load(path, err, sizeof(err))) == NULL)
		fail_msg("%s", err);
	assert_string_equal(err, "");
	return p;
}

static void
test_file(void **state)
{
	const struct file_case *fc = *state;
	char err[1024], expect[512];
	struct policy *p;

	memset(err, 'x', sizeof(err));
	p = policy_load(fc->path, err, sizeof(err));
	assert_non_null(memchr(err, '\0', sizeof(err)));
	assert_null(strchr(err, '\n'));
	if (fc->good) {
		if (p == NULL)
			fail_msg("%s", err);
		assert_string_equal(err, "");
		assert_true(policy_nkeys(p) >= 1);
		assert_true(policy_nclients(p) >= 1);
		policy_free(p);
		return;
	}
	expect_read(fc->path, expect, sizeof(expect));
	assert_null(p);
	expect_error(fc->path, err, expect);
}

/*
 * The decision table.  Fields are separated by spaces; "-" is an empty
 * string.  Each line: client op key format digest evidence_type
 * evidence_ref now allow|deny reason rule.
 */
#define NFIELDS 11

static size_t
split(char *line, char **f, size_t max)
{
	size_t n = 0;
	char *p = line;

	while (*p != '\0' && n < max) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		f[n++] = p;
		while (*p != '\0' && *p != ' ' && *p != '\t')
			p++;
		if (*p != '\0')
			*p++ = '\0';
	}
	while (*p == ' ' || *p == '\t')
		p++;
	return *p == '\0' ? n : max + 1;
}

static const char *
dash(const char *s)
{
	return strcmp(s, "-") == 0 ? "" : s;
}

static unsigned int
bit_of(
    const char *s, const char *const *names, const unsigned int *bits, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(s, names[i]) == 0)
			return bits[i];
	fail_msg("unknown name '%s' in the decision table", s);
	return 0;
}

static void
run_decision(const struct policy *p, char **f, const char *where)
{
	static const char *const fmts[] = { "raw", "cms" };
	static const unsigned int fmtbits[] = { POLICY_FMT_RAW,
		POLICY_FMT_CMS };
	static const char *const dgs[] = { "sha256", "sha384", "sha512" };
	static const unsigned int dgbits[] = { POLICY_DG_SHA256,
		POLICY_DG_SHA384, POLICY_DG_SHA512 };
	const struct policy_principal *client = NULL;
	struct policy_request rq;
	struct policy_decision d;
	char want_rule[200], *end;
	size_t i, ri;
	int allow;

	for (i = 0; i < policy_nclients(p); i++)
		if (strcmp(policy_client_at(p, i)->name, f[0]) == 0)
			client = policy_client_at(p, i);
	if (client == NULL)
		fail_msg("%s: no client '%s'", where, f[0]);
	memset(&rq, 0, sizeof(rq));
	if (strcmp(f[1], "sign") == 0)
		rq.op = POLICY_OP_SIGN;
	else if (strcmp(f[1], "timestamp") == 0)
		rq.op = POLICY_OP_TIMESTAMP;
	else
		fail_msg("%s: bad op", where);
	rq.key = dash(f[2]);
	rq.format = bit_of(f[3], fmts, fmtbits, 2);
	rq.digest = bit_of(f[4], dgs, dgbits, 3);
	rq.evidence_type = dash(f[5]);
	rq.evidence_ref = dash(f[6]);
	errno = 0;
	rq.now = strtoll(f[7], &end, 10);
	if (errno != 0 || *end != '\0')
		fail_msg("%s: bad time", where);
	allow = strcmp(f[8], "allow") == 0;
	if (!allow && strcmp(f[8], "deny") != 0)
		fail_msg("%s: expected allow or deny", where);

	memset(&d, 0x5a, sizeof(d));
	policy_decide(p, client, &rq, &d);
	if (d.allow != allow || strcmp(d.reason, f[9]) != 0)
		fail_msg("%s: got %s %s, expected %s %s", where,
		    d.allow ? "allow" : "deny", d.reason, f[8], f[9]);
	if (allow)
		assert_int_equal(d.code, 0);
	else if (strcmp(f[9], "unknown_key") == 0)
		assert_int_equal(d.code, SD_ERR_UNKNOWN_KEY);
	else
		assert_int_equal(d.code, SD_ERR_POLICY_DENIED);
	if (strcmp(f[10], "-") == 0) {
		/* Nothing may tell an unknown key from a forbidden one. */
		assert_null(d.key);
		assert_string_equal(d.rule, "");
		return;
	}
	ri = strtoul(f[10], &end, 10);
	if (*end != '\0' || ri >= client->nrules)
		fail_msg("%s: bad rule index", where);
	assert_non_null(d.key);
	assert_string_equal(d.key->name, rq.key);
	snprintf(want_rule, sizeof(want_rule),
	    "clients.%s.allow[%zu] (ok_decisions.yaml:%u:%u)", client->name, ri,
	    client->rules[ri].line, client->rules[ri].column);
	if (strcmp(d.rule, want_rule) != 0)
		fail_msg("%s: rule \"%s\", expected \"%s\"", where, d.rule,
		    want_rule);
}

static void
test_decision_table(void **state)
{
	char path[1024], line[512], where[64], *f[NFIELDS];
	struct policy *p;
	unsigned int lineno = 0, ncases = 0, nallow = 0;
	FILE *fp;
	size_t n;

	(void)state;
	p = load_data("ok_decisions.yaml");
	data_path(path, sizeof(path), "decisions.txt");
	assert_non_null(fp = fopen(path, "r"));
	while (fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		snprintf(where, sizeof(where), "decisions.txt:%u", lineno);
		if ((n = split(line, f, NFIELDS)) != NFIELDS)
			fail_msg(
			    "%s: %zu fields, expected %d", where, n, NFIELDS);
		run_decision(p, f, where);
		ncases++;
		nallow += strcmp(f[8], "allow") == 0;
	}
	fclose(fp);
	/* The table must not shrink to nothing unnoticed. */
	assert_true(ncases >= 50);
	assert_true(nallow >= 10 && ncases - nallow >= 10);
	policy_free(p);
}

/* Every reason policy.h documents appears in the table. */
static void
test_decision_table_covers_reasons(void **state)
{
	static const char *const reasons[] = { "allowed", "unknown_key",
		"operation_not_allowed", "format_not_allowed",
		"digest_not_allowed", "evidence_type_not_allowed",
		"evidence_required", "evidence_ref_required",
		"key_not_yet_valid", "key_expired", "key_usage" };
	char path[1024], text[16384], pat[64];
	size_t i, n;
	FILE *fp;

	(void)state;
	data_path(path, sizeof(path), "decisions.txt");
	assert_non_null(fp = fopen(path, "r"));
	n = fread(text, 1, sizeof(text) - 1, fp);
	fclose(fp);
	text[n] = '\0';
	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
		snprintf(pat, sizeof(pat), " %s ", reasons[i]);
		if (strstr(text, pat) == NULL)
			fail_msg("no case for reason %s", reasons[i]);
	}
}

static const struct policy_principal *
client_named(const struct policy *p, const char *name)
{
	size_t i;

	for (i = 0; i < policy_nclients(p); i++)
		if (strcmp(policy_client_at(p, i)->name, name) == 0)
			return policy_client_at(p, i);
	return NULL;
}

/* A client of another policy (as after a reload) or none: unknown_key. */
static void
test_decide_foreign_client(void **state)
{
	struct policy *p, *q;
	struct policy_request rq = { .op = POLICY_OP_SIGN,
		.key = "demo-ec",
		.format = POLICY_FMT_RAW,
		.digest = POLICY_DG_SHA256,
		.evidence_type = "submission",
		.evidence_ref = "r",
		.now = 1780000000 };
	struct policy_decision d;

	(void)state;
	p = load_data("ok_decisions.yaml");
	q = load_data("ok_decisions.yaml");
	policy_decide(p, client_named(p, "delivery-api"), &rq, &d);
	assert_int_equal(d.allow, 1);
	policy_decide(p, client_named(q, "delivery-api"), &rq, &d);
	assert_int_equal(d.allow, 0);
	assert_string_equal(d.reason, "unknown_key");
	assert_int_equal(d.code, SD_ERR_UNKNOWN_KEY);
	policy_decide(p, NULL, &rq, &d);
	assert_string_equal(d.reason, "unknown_key");
	rq.key = NULL;
	policy_decide(p, client_named(p, "delivery-api"), &rq, &d);
	assert_string_equal(d.reason, "unknown_key");
	/* a format or digest that is not exactly one known bit */
	rq.key = "demo-rsa";
	rq.evidence_type = "";
	rq.format = POLICY_FMT_RAW | POLICY_FMT_CMS;
	policy_decide(p, client_named(p, "delivery-api"), &rq, &d);
	assert_string_equal(d.reason, "format_not_allowed");
	rq.format = 0;
	policy_decide(p, client_named(p, "delivery-api"), &rq, &d);
	assert_string_equal(d.reason, "format_not_allowed");
	rq.format = POLICY_FMT_RAW;
	rq.digest = POLICY_DG_SHA256 | POLICY_DG_SHA512;
	policy_decide(p, client_named(p, "delivery-api"), &rq, &d);
	assert_string_equal(d.reason, "digest_not_allowed");
	rq.digest = POLICY_DG_SHA256;
	rq.op = (enum policy_op)7;
	policy_decide(p, client_named(p, "delivery-api"), &rq, &d);
	assert_string_equal(d.reason, "operation_not_allowed");
	rq.op = POLICY_OP_SIGN;
	rq.evidence_type = NULL;
	rq.evidence_ref = NULL;
	policy_decide(p, client_named(p, "delivery-api"), &rq, &d);
	assert_string_equal(d.reason, "allowed");
	policy_free(p);
	policy_free(q);
}

static void
test_minimal_defaults(void **state)
{
	const struct policy_principal *c;
	const struct policy_key *k;
	struct policy *p;

	(void)state;
	p = load_data("ok_minimal.yaml");
	assert_int_equal(policy_nkeys(p), 1);
	assert_non_null(k = policy_key_at(p, 0));
	assert_null(policy_key_at(p, 1));
	assert_string_equal(k->name, "demo-ec");
	assert_string_equal(k->label, "seald-demo-ec");
	assert_int_equal(k->version, 1);
	assert_string_equal(k->algorithm, "");
	assert_int_equal(k->usages, OPBIT(POLICY_OP_SIGN));
	assert_int_equal(k->formats, POLICY_FMT_RAW);
	assert_int_equal(
	    k->digests, POLICY_DG_SHA256 | POLICY_DG_SHA384 | POLICY_DG_SHA512);
	assert_int_equal(k->rsa_scheme, POLICY_RSA_PKCS1);
	assert_string_equal(k->certificate, "");
	assert_true(k->not_before == INT64_MIN);
	assert_true(k->not_after == INT64_MAX);
	assert_int_equal(policy_nclients(p), 1);
	assert_non_null(c = policy_client_at(p, 0));
	assert_null(policy_client_at(p, 1));
	assert_string_equal(c->name, "local");
	assert_int_equal(c->nuids, 1);
	assert_int_equal(c->uids[0], 1000);
	assert_int_equal(c->ngids, 0);
	assert_int_equal(c->nrules, 1);
	assert_int_equal(c->rules[0].nkeys, 1);
	assert_int_equal(c->rules[0].keys[0], 0);
	assert_int_equal(c->rules[0].ops, OPBIT(POLICY_OP_SIGN));
	assert_int_equal(c->rules[0].formats, 0);
	assert_int_equal(c->rules[0].nevidence, 0);
	assert_int_equal(c->rules[0].require, 0);
	assert_int_equal(c->rules[0].line, 9);
	assert_int_equal(c->rules[0].column, 9);
	assert_true(c->per_second == 0);
	assert_int_equal(c->burst, 0);
	assert_int_equal(c->daily_quota, 0);
	policy_free(p);
}

/* managed: true keys have no label; the others keep theirs */
static void
test_managed_key(void **state)
{
	const struct policy_key *k;
	struct policy *p;

	(void)state;
	p = load_data("ok_managed.yaml");
	assert_non_null(k = policy_key_find(p, "qerds-seal"));
	assert_int_equal(k->managed, 1);
	assert_string_equal(k->label, "");
	assert_string_equal(k->certificate, "");
	assert_int_equal(k->formats, POLICY_FMT_RAW | POLICY_FMT_CMS);
	assert_non_null(k = policy_key_find(p, "by-label"));
	assert_int_equal(k->managed, 0);
	assert_string_equal(k->label, "seald-demo-ec");
	assert_int_equal(policy_approvals_required(p), 2);
	assert_int_equal(policy_approval_minutes(p), 30);
	policy_free(p);
	/* one officer suffices, for an hour, unless the policy says */
	p = load_data("ok_minimal.yaml");
	assert_int_equal(policy_approvals_required(p), 1);
	assert_int_equal(
	    policy_approval_minutes(p), POLICY_APPROVAL_MINUTES_DEFAULT);
	policy_free(p);
}

static void
test_full_values(void **state)
{
	const struct policy_principal *c;
	const struct policy_key *k;
	struct policy *p;

	(void)state;
	p = load_data("ok_full.yaml");
	assert_int_equal(policy_nkeys(p), 2);
	assert_non_null(k = policy_key_find(p, "evidence-rsa"));
	assert_ptr_equal(k, policy_key_at(p, 0));
	assert_string_equal(k->label, "seald evidence RSA 2024");
	assert_int_equal(k->version, 3);
	assert_string_equal(k->algorithm, "rsa-4096");
	assert_int_equal(k->usages, OPBIT(POLICY_OP_SIGN));
	assert_int_equal(k->formats, POLICY_FMT_RAW | POLICY_FMT_CMS);
	assert_int_equal(k->digests, POLICY_DG_SHA384 | POLICY_DG_SHA512);
	assert_int_equal(k->rsa_scheme, POLICY_RSA_PSS);
	assert_string_equal(
	    k->certificate, "/etc/seald/certs/evidence-rsa.pem");
	/* 2025-03-01T12:30:00+02:00 = 2025-03-01T10:30:00Z */
	assert_true(k->not_before == 1740825000);
	assert_true(k->not_after == 1893456000);
	assert_string_equal(k->tsa_policy, "");
	assert_non_null(k = policy_key_find(p, "evidence-ec"));
	assert_string_equal(k->tsa_policy, "1.3.6.1.4.1.99999.3.1");
	assert_int_equal(k->tsa_accuracy_ms, 250);
	assert_string_equal(k->algorithm, "ec-p384");
	assert_int_equal(k->usages, OPBIT(POLICY_OP_TIMESTAMP));
	assert_int_equal(k->formats, POLICY_FMT_CMS);
	assert_int_equal(k->digests, POLICY_DG_SHA256);
	assert_int_equal(k->rsa_scheme, POLICY_RSA_PKCS1);
	assert_true(k->not_before == INT64_MIN);
	/* 1999-12-31T23:59:59-05:00 = 2000-01-01T04:59:59Z */
	assert_true(k->not_after == 946702799);
	assert_null(policy_key_find(p, "evidence"));
	assert_null(policy_key_find(p, ""));
	assert_null(policy_key_find(p, NULL));
	assert_null(policy_key_find(NULL, "evidence-ec"));

	assert_int_equal(policy_nclients(p), 2);
	c = policy_client_at(p, 0);
	assert_string_equal(c->name, "platform-api");
	assert_int_equal(c->nuids, 3); /* uid: [1100, 1101], user: root */
	assert_int_equal(c->uids[0], 1100);
	assert_int_equal(c->uids[1], 1101);
	assert_int_equal(c->uids[2], 0);
	assert_int_equal(c->ngids, 3); /* gid: 2000, group: [daemon, staff] */
	assert_int_equal(c->gids[0], 2000);
	assert_int_equal(c->gids[1], 1);
	assert_int_equal(c->gids[2], 50);
	assert_true(c->per_second == 12.5);
	assert_int_equal(c->burst, 40);
	assert_true(c->daily_quota == SD_QUOTA_MAX);
	assert_int_equal(c->nrules, 2);
	assert_int_equal(c->rules[0].nkeys, 2);
	assert_int_equal(c->rules[0].keys[0], 0);
	assert_int_equal(c->rules[0].keys[1], 1);
	assert_int_equal(c->rules[0].ops,
	    OPBIT(POLICY_OP_SIGN) | OPBIT(POLICY_OP_TIMESTAMP));
	assert_int_equal(c->rules[0].formats, POLICY_FMT_CMS);
	assert_int_equal(c->rules[0].nevidence, 3);
	assert_string_equal(c->rules[0].evidence_types[2], "consignment");
	assert_int_equal(
	    c->rules[0].require, POLICY_REQ_EVIDENCE | POLICY_REQ_EVIDENCE_REF);
	assert_int_equal(c->rules[1].nkeys, 1);
	assert_int_equal(c->rules[1].ops, OPBIT(POLICY_OP_SIGN));
	c = policy_client_at(p, 1);
	assert_string_equal(c->name, "workers");
	assert_true(c->per_second == 0.000001);
	assert_int_equal(c->burst, 1);
	assert_int_equal(c->rules[0].ops, OPBIT(POLICY_OP_TIMESTAMP));
	policy_free(p);
}

static void
test_boundaries(void **state)
{
	const struct policy_principal *c;
	const struct policy_key *k;
	struct policy *p;

	(void)state;
	p = load_data("ok_boundaries.yaml");
	assert_int_equal(policy_nkeys(p), SD_MAX_KEYS);
	assert_int_equal(policy_nclients(p), SD_MAX_CLIENTS);
	k = policy_key_at(p, 0);
	assert_int_equal(strlen(k->name), SD_NAME_MAX - 1);
	assert_int_equal(strlen(k->label), SD_LABEL_MAX - 1);
	assert_int_equal(strlen(k->certificate), SD_PATH_MAX - 1);
	assert_int_equal(k->version, 1000000);
	assert_true(k->not_before == -62167219200LL); /* 0000-01-01 */
	assert_true(k->not_after == 253402300799LL);  /* 9999-12-31 */
	c = policy_client_at(p, 0);
	assert_int_equal(c->nuids + c->ngids, SD_MAX_IDS);
	assert_int_equal(c->uids[0], 4294967294U);
	assert_int_equal(c->nrules, SD_MAX_RULES);
	assert_int_equal(c->rules[15].nkeys, SD_MAX_KEYS);
	assert_int_equal(c->rules[15].nevidence, SD_MAX_EVIDENCE_TYPES);
	assert_int_equal(
	    strlen(c->rules[15].evidence_types[15]), SD_EVIDENCE_TYPE_MAX);
	assert_true(c->per_second == SD_RATE_MAX_PER_SECOND);
	assert_int_equal(c->burst, SD_RATE_MAX_BURST);
	policy_free(p);
}

/* The hash is SHA-256 of the file's bytes, as openssl computes it. */
static void
test_hash_matches_openssl(void **state)
{
	static const char *const files[] = { "ok_minimal.yaml",
		"ok_decisions.yaml", "ok_boundaries.yaml" };
	char path[1024], cmd[1200], line[256], hex[SD_HASH_LEN * 2 + 1];
	const uint8_t *h;
	struct policy *p;
	size_t i, j;
	FILE *fp;

	(void)state;
	if (system("openssl version >/dev/null 2>&1") != 0)
		skip();
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		data_path(path, sizeof(path), files[i]);
		snprintf(
		    cmd, sizeof(cmd), "openssl dgst -sha256 -r '%s'", path);
		assert_non_null(fp = popen(cmd, "r"));
		assert_non_null(fgets(line, sizeof(line), fp));
		assert_int_equal(pclose(fp), 0);
		p = load_data(files[i]);
		assert_non_null(h = policy_hash(p));
		for (j = 0; j < SD_HASH_LEN; j++)
			snprintf(hex + 2 * j, 3, "%02x", h[j]);
		assert_memory_equal(line, hex, SD_HASH_LEN * 2);
		policy_free(p);
	}
}

/* A fixed vector, so that the hash is checked without openssl too. */
static void
test_hash_vector(void **state)
{
#define VECTOR_TEXT               \
	"keys: {k: {label: l}}\n" \
	"clients: {c: {match: {uid: 1}, allow: [{keys: k}]}}\n"
	static const char text[] = VECTOR_TEXT;
	static const char commented[] = "# c\n" VECTOR_TEXT;
	/* printf '...' | openssl dgst -sha256 */
	static const char want[] =
	    "705efa5238ba778c2c35e6b361009d39485e03128ccd08eb5a5bbe1bc4590690";
	char err[256], hex[SD_HASH_LEN * 2 + 1];
	struct policy *p, *q;
	size_t j;

	(void)state;
	p = policy_load_buffer("mem", (const unsigned char *)text,
	    sizeof(text) - 1, err, sizeof(err));
	if (p == NULL)
		fail_msg("%s", err);
	for (j = 0; j < SD_HASH_LEN; j++)
		snprintf(hex + 2 * j, 3, "%02x", policy_hash(p)[j]);
	assert_string_equal(hex, want);
	/* the same policy with a comment: same meaning, another hash */
	assert_non_null(
	    q = policy_load_buffer("mem", (const unsigned char *)commented,
		sizeof(commented) - 1, err, sizeof(err)));
	assert_memory_not_equal(policy_hash(p), policy_hash(q), SD_HASH_LEN);
	policy_free(p);
	policy_free(q);
}

static void
test_match(void **state)
{
	const gid_t supp[] = { 5, 3000, 2000 };
	const gid_t other[] = { 5, 6, 7 };
	struct policy_caller c = { 0 };
	const struct policy_principal *pr;
	struct policy *p;

	(void)state;
	p = load_data("ok_decisions.yaml");
	/* by uid, with a gid and groups that match nothing */
	c = (struct policy_caller){ .uid = 1001, .gid = 9 };
	assert_non_null(pr = policy_match_client(p, &c));
	assert_string_equal(pr->name, "delivery-api");
	/* by primary gid */
	c = (struct policy_caller){ .uid = 4000, .gid = 2000 };
	assert_non_null(pr = policy_match_client(p, &c));
	assert_string_equal(pr->name, "archiver");
	/* by supplementary group; file order decides between two */
	c = (struct policy_caller){
		.uid = 4000, .gid = 9, .groups = supp, .ngroups = 3
	};
	assert_non_null(pr = policy_match_client(p, &c));
	assert_string_equal(pr->name, "archiver");
	c.ngroups = 2;
	assert_non_null(pr = policy_match_client(p, &c));
	assert_string_equal(pr->name, "stamper");
	/* group names resolved at load: group daemon is gid 1 */
	c = (struct policy_caller){ .uid = 4000, .gid = 1 };
	assert_non_null(pr = policy_match_client(p, &c));
	assert_string_equal(pr->name, "stamper");
	/* a uid equal to a listed gid is not a match, nor the reverse */
	c = (struct policy_caller){ .uid = 2000, .gid = 1000 };
	assert_null(policy_match_client(p, &c));
	c = (struct policy_caller){
		.uid = 4000, .gid = 9, .groups = other, .ngroups = 3
	};
	assert_null(policy_match_client(p, &c));
	c.groups = NULL; /* NULL groups with a count: ignored */
	c.ngroups = 3;
	assert_null(policy_match_client(p, &c));
	assert_null(policy_match_client(p, NULL));
	assert_null(policy_match_client(NULL, &c));

	/* officers and auditors are separate lists */
	c = (struct policy_caller){ .uid = 1000, .gid = 9 };
	assert_non_null(pr = policy_match_officer(p, &c));
	assert_string_equal(pr->name, "alice");
	assert_null(policy_match_auditor(p, &c));
	c = (struct policy_caller){ .uid = 7, .gid = 4000 };
	assert_non_null(pr = policy_match_officer(p, &c));
	assert_string_equal(pr->name, "ops");
	assert_null(policy_match_client(p, &c));
	c = (struct policy_caller){ .uid = 1, .gid = 9 }; /* user daemon */
	assert_non_null(pr = policy_match_auditor(p, &c));
	assert_string_equal(pr->name, "bob");
	assert_null(policy_match_officer(p, &c));
	assert_int_equal(pr->nrules, 0);
	policy_free(p);

	/* none declared */
	p = load_data("ok_minimal.yaml");
	c = (struct policy_caller){ .uid = 1000, .gid = 1000 };
	assert_null(policy_match_officer(p, &c));
	assert_null(policy_match_auditor(p, &c));
	assert_non_null(policy_match_client(p, &c));
	policy_free(p);
}

static void
test_may_use(void **state)
{
	const struct policy_principal *c;
	struct policy *p, *q;

	(void)state;
	p = load_data("ok_decisions.yaml");
	q = load_data("ok_decisions.yaml");
	c = client_named(p, "delivery-api");
	assert_true(policy_client_may_use(p, c, policy_key_find(p, "demo-ec")));
	assert_true(
	    policy_client_may_use(p, c, policy_key_find(p, "windowed")));
	assert_true(policy_client_may_use(p, c, policy_key_find(p, "tsa-key")));
	assert_false(policy_client_may_use(p, c, policy_key_find(p, "secret")));
	assert_false(
	    policy_client_may_use(p, c, policy_key_find(p, "cms-only")));
	/* a key of another policy object */
	assert_false(
	    policy_client_may_use(p, c, policy_key_find(q, "demo-ec")));
	assert_false(
	    policy_client_may_use(p, NULL, policy_key_find(p, "demo-ec")));
	/* archiver may only timestamp with demo-rsa in rule 0, which the key
	 * cannot do, but sign in rule 1 */
	c = client_named(p, "archiver");
	assert_true(
	    policy_client_may_use(p, c, policy_key_find(p, "demo-rsa")));
	assert_false(
	    policy_client_may_use(p, c, policy_key_find(p, "demo-ec")));
	policy_free(p);
	policy_free(q);
}

struct lines {
	char text[8][512];
	size_t n;
};

static void
collect(const char *line, void *arg)
{
	struct lines *l = arg;

	assert_true(l->n < 8);
	assert_true(strlen(line) < sizeof(l->text[0]));
	snprintf(l->text[l->n++], sizeof(l->text[0]), "%s", line);
}

static void
test_describe(void **state)
{
	struct lines l = { .n = 0 };
	struct policy *p;

	(void)state;
	p = load_data("ok_full.yaml");
	policy_describe(p, collect, &l);
	assert_int_equal(l.n, 6);
	assert_string_equal(l.text[0],
	    "client platform-api (uid 1100,1101; user root=0; gid 2000; "
	    "group daemon=1,staff=50): sign,timestamp with evidence-rsa "
	    "[cms; sha384,sha512; evidence: submission,handover,consignment; "
	    "requires evidence,evidence.ref], evidence-ec [cms; sha256; "
	    "evidence: submission,handover,consignment; requires "
	    "evidence,evidence.ref], rate 12.5/s burst 40, quota "
	    "1000000000000/day");
	assert_string_equal(l.text[1],
	    "client platform-api (uid 1100,1101; user root=0; gid 2000; "
	    "group daemon=1,staff=50): sign with evidence-rsa [raw,cms; "
	    "sha384,sha512], rate 12.5/s burst 40, quota 1000000000000/day");
	assert_string_equal(l.text[2],
	    "client workers (user daemon=1; group users=100): timestamp with "
	    "evidence-ec [cms; sha256], rate 0.000001/s burst 1");
	assert_string_equal(l.text[3], "officer alice (uid 1000)");
	assert_string_equal(
	    l.text[4], "officer team (gid 4000,4001; group staff=50)");
	assert_string_equal(l.text[5], "auditor bob (user daemon=1)");
	policy_free(p);
	policy_describe(NULL, collect, &l);
}

/* The commented example in config/ loads, once its user and group names
 * exist here (they are the operator's). */
static void
test_example_policy(void **state)
{
	static const char *const from[] = { "group: delivery", "user: alice" };
	static const char *const to[] = { "group: daemon  ", "user: root " };
	char err[512], *buf, *at;
	struct policy *p;
	struct stat st;
	size_t i, len;
	FILE *fp;

	(void)state;
	if ((fp = fopen("config/policy.yaml", "r")) == NULL)
		skip();
	assert_int_equal(fstat(fileno(fp), &st), 0);
	len = (size_t)st.st_size;
	assert_non_null(buf = malloc(len + 1));
	assert_int_equal(fread(buf, 1, len, fp), len);
	fclose(fp);
	buf[len] = '\0';
	for (i = 0; i < 2; i++) {
		assert_non_null(at = strstr(buf, from[i]));
		assert_int_equal(strlen(from[i]), strlen(to[i]));
		memcpy(at, to[i], strlen(to[i]));
	}
	p = policy_load_buffer(
	    "config/policy.yaml", (unsigned char *)buf, len, err, sizeof(err));
	if (p == NULL)
		fail_msg("%s", err);
	assert_int_equal(policy_nkeys(p), 2);
	assert_int_equal(policy_nclients(p), 1);
	policy_free(p);
	free(buf);
}

static void
test_load_errors(void **state)
{
	char err[512], want[600];
	char dir[] = "/tmp/test_policy.XXXXXX";

	(void)state;
	assert_null(policy_load(NULL, err, sizeof(err)));
	assert_string_equal(err, "(policy): no path given");
	assert_null(policy_load("/nonexistent/policy.yaml", err, sizeof(err)));
	snprintf(want, sizeof(want),
	    "/nonexistent/policy.yaml: cannot open: %s", strerror(ENOENT));
	assert_string_equal(err, want);
	assert_non_null(mkdtemp(dir));
	assert_null(policy_load(dir, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s: not a regular file", dir);
	assert_string_equal(err, want);
	assert_int_equal(rmdir(dir), 0);
	assert_null(policy_load_buffer(
	    "mem", (const unsigned char *)"", 0, err, sizeof(err)));
	assert_string_equal(err, "mem: empty file: no YAML document");
	assert_null(policy_load_buffer("mem", NULL, 0, err, sizeof(err)));
	assert_null(policy_load_buffer("mem", NULL, 0, NULL, 0));
	policy_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decision_table),
		cmocka_unit_test(test_decision_table_covers_reasons),
		cmocka_unit_test(test_decide_foreign_client),
		cmocka_unit_test(test_minimal_defaults),
		cmocka_unit_test(test_full_values),
		cmocka_unit_test(test_managed_key),
		cmocka_unit_test(test_boundaries),
		cmocka_unit_test(test_hash_matches_openssl),
		cmocka_unit_test(test_hash_vector),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_may_use),
		cmocka_unit_test(test_describe),
		cmocka_unit_test(test_example_policy),
		cmocka_unit_test(test_load_errors),
	};
	int fails;

	fails = cmocka_run_group_tests_name("policy", tests, NULL, NULL);
	fails += expect_run_files(
	    "test_policy", "policy_files", data_dir(), test_file);
	return fails != 0;
}
