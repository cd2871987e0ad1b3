/*
 * test_path: the module folder check follows links to the real file, and
 * files seald obeys must be its owner's alone.  On a scratch folder.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "path.h"

static char root[] = "/tmp/test_path.XXXXXX";

static void
touch(const char *rel, mode_t mode)
{
	char p[256];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	assert_non_null(f = fopen(p, "w"));
	fclose(f);
	assert_int_equal(chmod(p, mode), 0);
}

static void
test_in_dirs(void **state)
{
	char dirs[2][SD_PATH_MAX], p[256], out[SD_PATH_MAX], err[512], l[256];

	(void)state;
	snprintf(dirs[0], sizeof(dirs[0]), "%s/lib", root);
	snprintf(dirs[1], sizeof(dirs[1]), "%s/opt/", root);
	snprintf(p, sizeof(p), "%s/lib", root);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/opt", root);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/libx", root);
	assert_int_equal(mkdir(p, 0755), 0);
	touch("lib/mod.so", 0644);
	touch("libx/mod.so", 0644);
	touch("evil.so", 0644);

	snprintf(p, sizeof(p), "%s/opt/../lib/./mod.so", root);
	assert_int_equal(
	    sd_path_in_dirs(p, dirs, 2, out, sizeof(out), err, sizeof(err)), 0);
	snprintf(p, sizeof(p), "%s/lib/mod.so", root);
	assert_string_equal(out, p);
	/* a prefix of the folder's name is not the folder */
	snprintf(p, sizeof(p), "%s/libx/mod.so", root);
	assert_int_equal(
	    sd_path_in_dirs(p, dirs, 2, out, sizeof(out), err, sizeof(err)),
	    SD_ERR_CONFIG);
	assert_non_null(strstr(err, "is not in an allowed folder"));
	/* a link inside to a file outside is the file outside */
	snprintf(l, sizeof(l), "%s/opt/link.so", root);
	snprintf(p, sizeof(p), "%s/evil.so", root);
	assert_int_equal(symlink(p, l), 0);
	assert_int_equal(
	    sd_path_in_dirs(l, dirs, 2, out, sizeof(out), err, sizeof(err)),
	    SD_ERR_CONFIG);
	/* a folder is not a module, nor is a missing file */
	snprintf(p, sizeof(p), "%s/lib", root);
	assert_int_equal(
	    sd_path_in_dirs(p, dirs, 2, out, sizeof(out), err, sizeof(err)),
	    SD_ERR_CONFIG);
	snprintf(p, sizeof(p), "%s/lib/none.so", root);
	assert_int_equal(
	    sd_path_in_dirs(p, dirs, 2, out, sizeof(out), err, sizeof(err)),
	    SD_ERR_CONFIG);
}

static void
test_file_private(void **state)
{
	char p[256], err[512];

	(void)state;
	touch("conf.yaml", 0644);
	snprintf(p, sizeof(p), "%s/conf.yaml", root);
	assert_int_equal(sd_file_private(p, err, sizeof(err)), 0);
	assert_int_equal(chmod(p, 0664), 0);
	assert_int_equal(sd_file_private(p, err, sizeof(err)), SD_ERR_CONFIG);
	assert_non_null(strstr(err, "conf.yaml: mode 0664"));
	assert_int_equal(chmod(p, 0602), 0);
	assert_int_equal(sd_file_private(p, err, sizeof(err)), SD_ERR_CONFIG);
	snprintf(p, sizeof(p), "%s", root);
	assert_int_equal(sd_file_private(p, err, sizeof(err)), SD_ERR_CONFIG);
	assert_non_null(strstr(err, "not a regular file"));
}

static int
teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_in_dirs),
		cmocka_unit_test(test_file_private),
	};

	if (mkdtemp(root) == NULL)
		return 1;
	return cmocka_run_group_tests(tests, NULL, teardown);
}
