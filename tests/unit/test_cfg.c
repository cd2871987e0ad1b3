/*
 * test_cfg: the config loader against a table of files and a few cases
 * written in code.  Every tests/data/config/ok_*.yaml must load; every
 * bad_*.yaml must fail, and its first line "# expect: LINE:COL: text" (or
 * "# expect: text" for errors without a position) says where and why, so a
 * new case is one new file.  No error may contain the conninfo password
 * the bad files carry.  The code cases check values and defaults, the size
 * cap on files and buffers and the cfg_yaml readers (the policy tests
 * exercise the readers the policy loader adds).
 * SEALD_TEST_DATA overrides the data folder (default tests/data/config,
 * relative to the repository root).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfg.h"
#include "cfg_yaml.h"
#include "err.h"
#include "expect.h"
#include "sd_limits.h"

#define SECRET "SECRETPW" /* the password in the bad files' conninfo */

static const char *
data_dir(void)
{
	const char *d = getenv("SEALD_TEST_DATA");

	return d != NULL && *d != '\0' ? d : "tests/data/config";
}

static struct cfg *
load_data(const char *file, char *errbuf, size_t errlen)
{
	char path[1024];
	int n;

	n = snprintf(path, sizeof(path), "%s/%s", data_dir(), file);
	assert_true(n > 0 && (size_t)n < sizeof(path));
	return cfg_load(path, errbuf, errlen);
}

static void
test_file(void **state)
{
	const struct file_case *fc = *state;
	char err[1024], expect[512];
	struct cfg *cfg;

	memset(err, 'x', sizeof(err));
	cfg = cfg_load(fc->path, err, sizeof(err));
	assert_non_null(memchr(err, '\0', sizeof(err)));
	assert_null(strchr(err, '\n'));
	assert_null(strstr(err, SECRET));
	if (fc->good) {
		if (cfg == NULL)
			fail_msg("%s", err);
		assert_string_equal(err, "");
		cfg_free(cfg);
		return;
	}
	expect_read(fc->path, expect, sizeof(expect));
	assert_null(cfg);
	expect_error(fc->path, err, expect);
}

static void
test_minimal_defaults(void **state)
{
	char err[512];
	struct cfg *cfg;

	(void)state;
	assert_non_null(cfg = load_data("ok_minimal.yaml", err, sizeof(err)));
	assert_string_equal(cfg->instance, "demo-1");
	assert_string_equal(cfg->service.path, "/run/seald/seald.sock");
	assert_int_equal(cfg->service.mode, 0660);
	assert_int_equal(cfg->service.has_group, 0);
	assert_int_equal(cfg->has_admin, 0);
	assert_int_equal(cfg->has_run_as, 0);
	assert_int_equal(cfg->nmodule_dirs, 4);
	assert_string_equal(cfg->module_dirs[0], "/usr/lib");
	assert_string_equal(cfg->module_dirs[3], "/opt");
	assert_string_equal(cfg->module, "/usr/lib/softhsm/libsofthsm2.so");
	assert_string_equal(cfg->token_label, "seald");
	assert_string_equal(cfg->pin_file, "/etc/seald/pin");
	assert_int_equal(cfg->sessions, SD_HSM_SESSIONS_DEFAULT);
	assert_string_equal(
	    cfg->conninfo, "host=/run/postgresql dbname=seald user=seald");
	/* migrations run as the daemon's role unless told otherwise */
	assert_string_equal(cfg->migrate_conninfo, cfg->conninfo);
	assert_string_equal(cfg->checkpoint_key, "");
	assert_int_equal(cfg->checkpoint_every, SD_CHECKPOINT_EVERY_DEFAULT);
	assert_int_equal(cfg->batch_wait_ms, SD_BATCH_WAIT_MS_DEFAULT);
	assert_int_equal(cfg->commit_ms, SD_COMMIT_MS_DEFAULT);
	assert_string_equal(cfg->init_args, "");
	assert_int_equal(
	    cfg->checkpoint_seconds, SD_CHECKPOINT_SECONDS_DEFAULT);
	assert_int_equal(cfg->tsa_require_sync, 1);
	assert_int_equal(cfg->max_body, SD_HTTP_MAX_BODY_DEFAULT);
	assert_int_equal(cfg->max_header, SD_HTTP_MAX_HEADER_DEFAULT);
	assert_int_equal(cfg->timeout, SD_HTTP_TIMEOUT_DEFAULT);
	assert_int_equal(cfg->max_connections, SD_HTTP_MAX_CONN_DEFAULT);
	assert_int_equal(cfg->log_level, CFG_LOG_INFO);
	assert_string_equal(cfg->policy_file, "/etc/seald/policy.yaml");
	cfg_free(cfg);
}

static void
test_full_values(void **state)
{
	char err[512];
	struct cfg *cfg;

	(void)state;
	assert_non_null(cfg = load_data("ok_full.yaml", err, sizeof(err)));
	assert_string_equal(cfg->instance, "prod_eu-west.2");
	assert_string_equal(cfg->service.path, "/run/seald/service.sock");
	assert_int_equal(cfg->service.mode, 0600);
	assert_int_equal(cfg->service.has_group, 1);
	assert_int_equal(cfg->service.gid, 1); /* daemon */
	assert_int_equal(cfg->has_admin, 1);
	assert_string_equal(cfg->admin.path, "/run/seald/admin.sock");
	assert_int_equal(cfg->admin.mode, 0640);
	assert_int_equal(cfg->admin.has_group, 1);
	assert_int_equal(cfg->admin.gid, 4);
	assert_string_equal(
	    cfg->module, "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so");
	assert_string_equal(cfg->token_label, "seald token");
	assert_string_equal(cfg->pin_file, "/etc/seald/token.pin");
	assert_int_equal(cfg->sessions, 16);
	assert_int_equal(cfg->nmodule_dirs, 2);
	assert_string_equal(
	    cfg->module_dirs[0], "/usr/lib/x86_64-linux-gnu/softhsm");
	assert_string_equal(cfg->module_dirs[1], "/opt/hsm");
	assert_int_equal(cfg->has_run_as, 1);
	assert_string_equal(cfg->run_user, "daemon");
	assert_int_equal(cfg->has_run_group, 1);
	assert_int_equal(cfg->run_gid, 1);
	assert_string_equal(cfg->front_user, "nobody");
	assert_int_equal(cfg->has_front_group, 1);
	assert_int_equal(cfg->front_gid, 65534);
	assert_string_equal(cfg->conninfo,
	    "host=/run/postgresql port=5433 "
	    "dbname=ledger user=seald_writer");
	assert_string_equal(cfg->migrate_conninfo,
	    "host=/run/postgresql port=5433 dbname=ledger user=seald");
	assert_string_equal(cfg->checkpoint_key, "seald audit 2026");
	assert_int_equal(cfg->checkpoint_every, 250);
	assert_int_equal(cfg->batch_wait_ms, 0);
	assert_int_equal(cfg->commit_ms, 2500);
	assert_string_equal(
	    cfg->init_args, "configdir='sql:/var/lib/seald/nssdb'");
	assert_int_equal(cfg->checkpoint_seconds, 15);
	assert_int_equal(cfg->tsa_require_sync, 0);
	assert_int_equal(cfg->max_body, 1048576);
	assert_int_equal(cfg->max_header, 16384);
	assert_int_equal(cfg->timeout, 30);
	assert_int_equal(cfg->max_connections, 4096);
	assert_int_equal(cfg->log_level, CFG_LOG_DEBUG);
	assert_string_equal(cfg->policy_file, "/etc/seald/policy-prod.yaml");
	cfg_free(cfg);
}

static void
test_socket_gid_numeric(void **state)
{
	char err[512];
	struct cfg *cfg;

	(void)state;
	cfg = load_data("ok_socket_gid_numeric.yaml", err, sizeof(err));
	assert_non_null(cfg);
	assert_int_equal(cfg->service.mode, 0660);
	assert_int_equal(cfg->service.has_group, 1);
	assert_int_equal(cfg->service.gid, 4242);
	cfg_free(cfg);
}

static void
test_bounds(void **state)
{
	char err[512];
	struct cfg *cfg;

	(void)state;
	assert_non_null(
	    cfg = load_data("ok_boundaries.yaml", err, sizeof(err)));
	assert_int_equal(strlen(cfg->instance), SD_NAME_MAX - 1);
	assert_int_equal(strlen(cfg->service.path), SD_PATH_MAX - 1);
	assert_int_equal(cfg->service.mode, 0777);
	assert_int_equal(cfg->service.gid, 4294967294U);
	assert_int_equal(strlen(cfg->token_label), 32);
	assert_int_equal(cfg->sessions, SD_HSM_SESSIONS_MAX);
	assert_int_equal(strlen(cfg->conninfo), SD_CONNINFO_MAX - 1);
	assert_int_equal(cfg->max_body, SD_HTTP_MAX_BODY_LIMIT);
	assert_int_equal(cfg->max_header, 1048576);
	assert_int_equal(cfg->timeout, 3600);
	assert_int_equal(cfg->max_connections, 65536);
	assert_int_equal(cfg->log_level, CFG_LOG_ERROR);
	assert_int_equal(strlen(cfg->policy_file), SD_PATH_MAX - 1);
	cfg_free(cfg);

	assert_non_null(
	    cfg = load_data("ok_lower_bounds.yaml", err, sizeof(err)));
	assert_string_equal(cfg->service.path, "/");
	assert_int_equal(cfg->service.mode, 0);
	assert_int_equal(cfg->service.gid, 0);
	assert_int_equal(cfg->sessions, 1);
	assert_int_equal(cfg->max_body, 256);
	assert_int_equal(cfg->max_header, 1024);
	assert_int_equal(cfg->timeout, 1);
	assert_int_equal(cfg->max_connections, 1);
	assert_int_equal(cfg->log_level, CFG_LOG_WARN);
	assert_string_equal(cfg->policy_file, "/p");
	cfg_free(cfg);
}

static void
test_empty_buffer(void **state)
{
	char err[256];

	(void)state;
	assert_null(cfg_load_buffer(
	    "mem", (const unsigned char *)"", 0, err, sizeof(err)));
	assert_string_equal(err, "mem: empty file: no YAML document");
	assert_null(cfg_load_buffer("mem", NULL, 0, err, sizeof(err)));
	assert_string_equal(err, "mem: empty file: no YAML document");
	assert_null(cfg_load_buffer(
	    "mem", (const unsigned char *)"\n\n# c\n", 6, err, sizeof(err)));
	assert_string_equal(err, "mem: empty file: no YAML document");
}

/* A valid config padded with a comment to exactly size bytes. */
static unsigned char *
padded_config(size_t size)
{
	static const char cfg[] =
	    "instance: demo-1\n"
	    "service_socket: {path: /run/seald/seald.sock}\n"
	    "pkcs11: {module: /m.so, token_label: t, pin_file: /pin}\n"
	    "database: {conninfo: dbname=seald}\n"
	    "policy: /etc/seald/policy.yaml\n"
	    "#";
	unsigned char *buf;

	assert_true(size > sizeof(cfg));
	assert_non_null(buf = malloc(size));
	memcpy(buf, cfg, sizeof(cfg) - 1);
	memset(buf + sizeof(cfg) - 1, 'x', size - sizeof(cfg));
	buf[size - 1] = '\n';
	return buf;
}

static void
test_buffer_cap(void **state)
{
	unsigned char *buf;
	char err[256];
	struct cfg *cfg;

	(void)state;
	buf = padded_config(SD_CONFIG_MAX_BYTES + 1);
	assert_non_null(cfg = cfg_load_buffer(
			    "mem", buf, SD_CONFIG_MAX_BYTES, err, sizeof(err)));
	cfg_free(cfg);
	assert_null(cfg_load_buffer(
	    "mem", buf, SD_CONFIG_MAX_BYTES + 1, err, sizeof(err)));
	assert_string_equal(err, "mem: larger than 262144 bytes");
	free(buf);
}

static void
write_file(const char *path, const unsigned char *buf, size_t len)
{
	int fd;

	assert_true(
	    (fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) != -1);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

static void
test_file_cap(void **state)
{
	char dir[] = "/tmp/test_cfg.XXXXXX", path[256], err[512], want[400];
	unsigned char *buf;
	struct cfg *cfg;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/seald.yaml", dir);
	buf = padded_config(SD_CONFIG_MAX_BYTES + 1);

	write_file(path, buf, SD_CONFIG_MAX_BYTES);
	cfg = cfg_load(path, err, sizeof(err));
	if (cfg == NULL)
		fail_msg("%s", err);
	cfg_free(cfg);

	write_file(path, buf, SD_CONFIG_MAX_BYTES + 1);
	assert_null(cfg_load(path, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s: larger than 262144 bytes", path);
	assert_string_equal(err, want);

	write_file(path, buf, 0);
	assert_null(cfg_load(path, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s: empty file: no YAML document", path);
	assert_string_equal(err, want);

	assert_int_equal(unlink(path), 0);
	assert_null(cfg_load(path, err, sizeof(err)));
	snprintf(
	    want, sizeof(want), "%s: cannot open: %s", path, strerror(ENOENT));
	assert_string_equal(err, want);

	assert_null(cfg_load(dir, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s: not a regular file", dir);
	assert_string_equal(err, want);

	assert_null(cfg_load("/dev/null", err, sizeof(err)));
	assert_string_equal(err, "/dev/null: not a regular file");

	assert_int_equal(rmdir(dir), 0);
	free(buf);
}

/*
 * A regular file whose st_size says 0 but that reads much more than the cap
 * (procfs): only the cap on bytes read can refuse it.
 */
static void
test_file_cap_lying_size(void **state)
{
	const char *path = "/proc/kallsyms";
	char err[256];
	struct stat st;

	(void)state;
	if (stat(path, &st) == -1 || !S_ISREG(st.st_mode) || st.st_size != 0 ||
	    access(path, R_OK) == -1)
		skip();
	assert_null(cfg_load(path, err, sizeof(err)));
	assert_string_equal(err, "/proc/kallsyms: larger than 262144 bytes");
}

static void
test_errbuf_bounds(void **state)
{
	static const unsigned char bad[] = "instance: demo-1\nfoo: 1\n";
	char err[12];

	(void)state;
	memset(err, 'x', sizeof(err));
	assert_null(cfg_load_buffer(
	    "a-long-name.yaml", bad, sizeof(bad) - 1, err, sizeof(err)));
	assert_string_equal(err, "a-long-name"); /* truncated, terminated */
	assert_null(cfg_load_buffer("mem", bad, sizeof(bad) - 1, NULL, 0));
	err[0] = 'x';
	assert_null(cfg_load_buffer("mem", bad, sizeof(bad) - 1, err, 1));
	assert_int_equal(err[0], '\0');
	assert_null(cfg_load("/nonexistent/seald.yaml", NULL, 0));
}

/* Parse text with cfg_yaml and return the value of its only key. */
static const struct cfg_yaml_node *
one_value(struct cfg_yaml_doc **doc, const char *text, char *err, size_t errlen)
{
	static const struct cfg_yaml_key keys[] = { { "v", 1 } };
	const struct cfg_yaml_node *v[1];

	*doc = cfg_yaml_parse(
	    "t", (const unsigned char *)text, strlen(text), err, errlen);
	assert_non_null(*doc);
	assert_int_equal(
	    cfg_yaml_map(*doc, cfg_yaml_root(*doc), keys, 1, v), 0);
	return v[0];
}

static void
test_yaml_bool(void **state)
{
	static const struct {
		const char *text;
		int ok, value;
	} cases[] = {
		{ "v: true", 1, 1 },
		{ "v: True", 1, 1 },
		{ "v: TRUE", 1, 1 },
		{ "v: false", 1, 0 },
		{ "v: False", 1, 0 },
		{ "v: FALSE", 1, 0 },
		{ "v: yes", 0, 0 },
		{ "v: 1", 0, 0 },
		{ "v: \"true\"", 0, 0 },
		{ "v: tRUE", 0, 0 },
		{ "v:", 0, 0 },
		{ "v: [true]", 0, 0 },
	};
	const struct cfg_yaml_node *n;
	struct cfg_yaml_doc *doc;
	char err[256];
	size_t i;
	int b;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = one_value(&doc, cases[i].text, err, sizeof(err));
		b = -1;
		if (cases[i].ok) {
			assert_int_equal(cfg_yaml_bool(doc, n, &b), 0);
			assert_int_equal(b, cases[i].value);
		} else {
			assert_int_equal(
			    cfg_yaml_bool(doc, n, &b), SD_ERR_CONFIG);
			assert_int_equal(b, -1);
			assert_non_null(strstr(err, "t:1:"));
			assert_non_null(strstr(err, "expected true or false"));
		}
		cfg_yaml_free(doc);
	}
}

static void
test_yaml_uint(void **state)
{
	static const struct {
		const char *text;
		int ok;
		unsigned long long value;
	} cases[] = {
		{ "v: 0", 1, 0 },
		{ "v: 18446744073709551615", 1, ~0ULL },
		{ "v: 18446744073709551616", 0, 0 },
		{ "v: 184467440737095516150", 0, 0 },
		{ "v: -0", 0, 0 },
		{ "v: 00", 0, 0 },
		{ "v: 1.0", 0, 0 },
		{ "v: 1e3", 0, 0 },
		{ "v: 1_000", 0, 0 },
		{ "v: '1'", 0, 0 },
		{ "v: \" 1\"", 0, 0 },
		{ "v: ~", 0, 0 },
	};
	const struct cfg_yaml_node *n;
	struct cfg_yaml_doc *doc;
	unsigned long long v;
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = one_value(&doc, cases[i].text, err, sizeof(err));
		v = 42;
		if (cases[i].ok) {
			assert_int_equal(
			    cfg_yaml_uint(doc, n, 0, ~0ULL, &v), 0);
			assert_true(v == cases[i].value);
		} else {
			assert_int_equal(
			    cfg_yaml_uint(doc, n, 0, ~0ULL, &v), SD_ERR_CONFIG);
			assert_true(v == 42);
			assert_non_null(strstr(err, "t:1:4: "));
		}
		cfg_yaml_free(doc);
	}
}

static void
test_yaml_list_and_enum(void **state)
{
	static const char *const names[] = { "red", "green" };
	const struct cfg_yaml_node *n, *items[2];
	struct cfg_yaml_doc *doc;
	char err[256], s[8];
	size_t nitems, idx;

	(void)state;
	n = one_value(&doc, "v: green", err, sizeof(err));
	assert_int_equal(cfg_yaml_list(doc, n, 1, 2, items, &nitems), 0);
	assert_int_equal(nitems, 1);
	assert_ptr_equal(items[0], n);
	assert_int_equal(cfg_yaml_enum(doc, n, names, 2, &idx), 0);
	assert_int_equal(idx, 1);
	assert_int_equal(
	    cfg_yaml_seq(doc, n, 1, 2, items, &nitems), SD_ERR_CONFIG);
	assert_string_equal(err, "t:1:4: expected a sequence, got a scalar");
	cfg_yaml_free(doc);

	n = one_value(&doc, "v: [a, bb]", err, sizeof(err));
	assert_int_equal(cfg_yaml_list(doc, n, 1, 2, items, &nitems), 0);
	assert_int_equal(nitems, 2);
	assert_int_equal(cfg_yaml_line(items[1]), 1);
	assert_int_equal(cfg_yaml_column(items[1]), 8);
	assert_int_equal(cfg_yaml_str(doc, items[1], 1, s, sizeof(s)), 0);
	assert_string_equal(s, "bb");
	assert_int_equal(cfg_yaml_enum(doc, n, names, 2, &idx), SD_ERR_CONFIG);
	assert_string_equal(
	    err, "t:1:4: expected one of: red, green, got a sequence");
	cfg_yaml_free(doc);

	n = one_value(&doc, "v: [a, b, c]", err, sizeof(err));
	assert_int_equal(
	    cfg_yaml_list(doc, n, 1, 2, items, &nitems), SD_ERR_CONFIG);
	assert_string_equal(err, "t:1:11: too many entries (at most 2)");
	cfg_yaml_free(doc);
}

static void
test_yaml_first_error_wins(void **state)
{
	const struct cfg_yaml_node *n;
	struct cfg_yaml_doc *doc;
	char err[256];

	(void)state;
	n = one_value(&doc, "v: x", err, sizeof(err));
	assert_int_equal(cfg_yaml_error(doc, n, "first %d", 1), SD_ERR_CONFIG);
	assert_int_equal(cfg_yaml_error(doc, NULL, "second"), SD_ERR_CONFIG);
	assert_string_equal(err, "t:1:4: first 1");
	cfg_yaml_free(doc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_minimal_defaults),
		cmocka_unit_test(test_full_values),
		cmocka_unit_test(test_socket_gid_numeric),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_empty_buffer),
		cmocka_unit_test(test_buffer_cap),
		cmocka_unit_test(test_file_cap),
		cmocka_unit_test(test_file_cap_lying_size),
		cmocka_unit_test(test_errbuf_bounds),
		cmocka_unit_test(test_yaml_bool),
		cmocka_unit_test(test_yaml_uint),
		cmocka_unit_test(test_yaml_list_and_enum),
		cmocka_unit_test(test_yaml_first_error_wins),
	};
	int fails;

	fails = cmocka_run_group_tests_name("cfg", tests, NULL, NULL);
	fails +=
	    expect_run_files("test_cfg", "cfg_files", data_dir(), test_file);
	return fails != 0;
}
