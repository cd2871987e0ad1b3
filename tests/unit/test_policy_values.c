/*
 * test_policy_values: what the policy loader reads from a file (values,
 * defaults, bounds, managed keys), the policy's hash against the openssl
 * command and a fixed vector, policy_describe, the commented example
 * config/policy.yaml, and the loader's errors on bad arguments.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "policy.h"
#include "policy_data.h"
#include "sd_limits.h"

static void
test_minimal_defaults(void **state)
{
	const struct policy_principal *c;
	const struct policy_key *k;
	struct policy *p;

	(void)state;
	p = policy_data_load("ok_minimal.yaml");
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
	p = policy_data_load("ok_managed.yaml");
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
	p = policy_data_load("ok_minimal.yaml");
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
	p = policy_data_load("ok_full.yaml");
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
	p = policy_data_load("ok_boundaries.yaml");
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
		policy_data_path(path, sizeof(path), files[i]);
		snprintf(
		    cmd, sizeof(cmd), "openssl dgst -sha256 -r '%s'", path);
		assert_non_null(fp = popen(cmd, "r"));
		assert_non_null(fgets(line, sizeof(line), fp));
		assert_int_equal(pclose(fp), 0);
		p = policy_data_load(files[i]);
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
	p = policy_data_load("ok_full.yaml");
	policy_describe(p, collect, &l);
	assert_int_equal(l.n, 7);
	/* each key with what the rule lets it do: evidence-ec only
	 * time-stamps (its usage), whatever the rule's operations say */
	assert_string_equal(l.text[0],
	    "client platform-api (uid 1100,1101; user root=0; gid 2000; "
	    "group daemon=1,staff=50): evidence-rsa: sign (cms; "
	    "sha384,sha512); evidence-ec: timestamp (TSA policy "
	    "1.3.6.1.4.1.99999.3.1); evidence "
	    "submission,handover,consignment; requires "
	    "evidence,evidence.ref; rate 12.5/s burst 40; quota "
	    "1000000000000/day");
	assert_string_equal(l.text[1],
	    "client platform-api (uid 1100,1101; user root=0; gid 2000; "
	    "group daemon=1,staff=50): evidence-rsa: sign (raw,cms; "
	    "sha384,sha512); rate 12.5/s burst 40; quota 1000000000000/day");
	assert_string_equal(l.text[2],
	    "client workers (user daemon=1; group users=100): evidence-ec: "
	    "timestamp (TSA policy 1.3.6.1.4.1.99999.3.1); rate 0.000001/s "
	    "burst 1");
	assert_string_equal(l.text[3], "officer alice (uid 1000)");
	assert_string_equal(
	    l.text[4], "officer team (gid 4000,4001; group staff=50)");
	assert_string_equal(l.text[5], "auditor bob (user daemon=1)");
	assert_string_equal(l.text[6],
	    "key changes: approvals_required 1 (a second officer approves a "
	    "destroy, within 60 minutes)");
	policy_free(p);
	policy_describe(NULL, collect, &l);
}

/* policy_load_elsewhere: each name unknown here, "kind name". */
static void
unknown_here(const char *kind, const char *name, unsigned long line,
    unsigned long column, void *arg)
{
	struct lines *l = arg;

	(void)line;
	(void)column;
	assert_true(l->n < 8);
	snprintf(l->text[l->n++], sizeof(l->text[0]), "%s %s", kind, name);
}

/* The commented example in config/ (the package's) loads; its group names
 * are the package's (checked as for another machine where they are not
 * made yet), and they match no caller here. */
static void
test_example_policy(void **state)
{
	struct lines l = { .n = 0 };
	char err[512];
	struct policy *p;
	size_t i;

	(void)state;
	if (access("config/policy.yaml", R_OK) != 0)
		skip();
	p = policy_load_elsewhere(
	    "config/policy.yaml", unknown_here, &l, err, sizeof(err));
	if (p == NULL)
		fail_msg("%s", err);
	assert_int_equal(policy_nkeys(p), 2);
	assert_int_equal(policy_nclients(p), 1);
	for (i = 0; i < l.n; i++)
		if (strcmp(l.text[i], "group seald-clients") != 0 &&
		    strcmp(l.text[i], "group seald-officers") != 0 &&
		    strcmp(l.text[i], "group seald-auditors") != 0)
			fail_msg("an unknown name other than the package's "
				 "groups: %s",
			    l.text[i]);
	policy_free(p);
	/* and on its own, a name unknown here is the error it was */
	if (l.n > 0)
		assert_null(
		    policy_load("config/policy.yaml", err, sizeof(err)));
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
		cmocka_unit_test(test_minimal_defaults),
		cmocka_unit_test(test_full_values),
		cmocka_unit_test(test_managed_key),
		cmocka_unit_test(test_boundaries),
		cmocka_unit_test(test_hash_matches_openssl),
		cmocka_unit_test(test_hash_vector),
		cmocka_unit_test(test_describe),
		cmocka_unit_test(test_example_policy),
		cmocka_unit_test(test_load_errors),
	};

	return cmocka_run_group_tests_name("policy_values", tests, NULL, NULL);
}
