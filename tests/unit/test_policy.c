/*
 * test_policy: the policy loader and the decision function against data.
 * Every tests/data/policy/ok_*.yaml must load and every bad_*.yaml must
 * fail with the error its first line "# expect: LINE:COL: text" names, so
 * a new loader case is one new file.  The decision cases are a table,
 * tests/data/policy/decisions.txt, run against ok_decisions.yaml: one
 * line per request with the expected allow/deny, reason and rule.  Then
 * caller matching and the keys a client may see (test_policy_values: the
 * values the loader reads, the hash, policy_describe, the example).
 * SEALD_TEST_DATA overrides the data folder (default tests/data/policy).
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
#include "policy_data.h"
#include "sd_limits.h"

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
	static const char *const fmts[] = { "raw", "cms", "cades-t" };
	static const unsigned int fmtbits[] = { POLICY_FMT_RAW, POLICY_FMT_CMS,
		POLICY_FMT_CADES_T };
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
	rq.format = bit_of(f[3], fmts, fmtbits, 3);
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
	p = policy_data_load("ok_decisions.yaml");
	policy_data_path(path, sizeof(path), "decisions.txt");
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
	policy_data_path(path, sizeof(path), "decisions.txt");
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
	p = policy_data_load("ok_decisions.yaml");
	q = policy_data_load("ok_decisions.yaml");
	policy_decide(p, policy_data_client(p, "delivery-api"), &rq, &d);
	assert_int_equal(d.allow, 1);
	policy_decide(p, policy_data_client(q, "delivery-api"), &rq, &d);
	assert_int_equal(d.allow, 0);
	assert_string_equal(d.reason, "unknown_key");
	assert_int_equal(d.code, SD_ERR_UNKNOWN_KEY);
	policy_decide(p, NULL, &rq, &d);
	assert_string_equal(d.reason, "unknown_key");
	rq.key = NULL;
	policy_decide(p, policy_data_client(p, "delivery-api"), &rq, &d);
	assert_string_equal(d.reason, "unknown_key");
	/* a format or digest that is not exactly one known bit */
	rq.key = "demo-rsa";
	rq.evidence_type = "";
	rq.format = POLICY_FMT_RAW | POLICY_FMT_CMS;
	policy_decide(p, policy_data_client(p, "delivery-api"), &rq, &d);
	assert_string_equal(d.reason, "format_not_allowed");
	rq.format = 0;
	policy_decide(p, policy_data_client(p, "delivery-api"), &rq, &d);
	assert_string_equal(d.reason, "format_not_allowed");
	rq.format = POLICY_FMT_RAW;
	rq.digest = POLICY_DG_SHA256 | POLICY_DG_SHA512;
	policy_decide(p, policy_data_client(p, "delivery-api"), &rq, &d);
	assert_string_equal(d.reason, "digest_not_allowed");
	rq.digest = POLICY_DG_SHA256;
	rq.op = (enum policy_op)7;
	policy_decide(p, policy_data_client(p, "delivery-api"), &rq, &d);
	assert_string_equal(d.reason, "operation_not_allowed");
	rq.op = POLICY_OP_SIGN;
	rq.evidence_type = NULL;
	rq.evidence_ref = NULL;
	policy_decide(p, policy_data_client(p, "delivery-api"), &rq, &d);
	assert_string_equal(d.reason, "allowed");
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
	p = policy_data_load("ok_decisions.yaml");
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
	p = policy_data_load("ok_minimal.yaml");
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
	p = policy_data_load("ok_decisions.yaml");
	q = policy_data_load("ok_decisions.yaml");
	c = policy_data_client(p, "delivery-api");
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
	c = policy_data_client(p, "archiver");
	assert_true(
	    policy_client_may_use(p, c, policy_key_find(p, "demo-rsa")));
	assert_false(
	    policy_client_may_use(p, c, policy_key_find(p, "demo-ec")));
	policy_free(p);
	policy_free(q);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decision_table),
		cmocka_unit_test(test_decision_table_covers_reasons),
		cmocka_unit_test(test_decide_foreign_client),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_may_use),
	};
	int fails;

	fails = cmocka_run_group_tests_name("policy", tests, NULL, NULL);
	fails += expect_run_files(
	    "test_policy", "policy_files", policy_data_dir(), test_file);
	return fails != 0;
}
