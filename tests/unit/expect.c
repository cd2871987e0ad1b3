/*
 * expect: the "# expect: LINE:COL: text" convention of the bad data files
 * under tests/data/, shared by the config and policy loader tests, so
 * that both check error positions the same way.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expect.h"

/* The "# expect: " line of a bad file, without the tag and the newline. */
void
expect_read(const char *path, char *out, size_t outlen)
{
	char line[512];
	FILE *f;
	size_t n;

	assert_non_null(f = fopen(path, "r"));
	if (fgets(line, sizeof(line), f) == NULL)
		line[0] = '\0';
	fclose(f);
	if (strncmp(line, EXPECT_TAG, strlen(EXPECT_TAG)) != 0)
		fail_msg("%s: first line must be \"" EXPECT_TAG "...\"", path);
	n = strcspn(line, "\r\n");
	line[n] = '\0';
	assert_true(n - strlen(EXPECT_TAG) < outlen);
	memcpy(out, line + strlen(EXPECT_TAG), n - strlen(EXPECT_TAG) + 1);
	assert_true(out[0] != '\0');
}

/*
 * Check err against an expectation "LINE:COL: text" or "text": err must be
 * "PATH:LINE:COL: ..." (or "PATH: ...") and contain text after the prefix.
 */
void
expect_error(const char *path, const char *err, const char *expect)
{
	char prefix[1200];
	const char *msg = expect, *p = expect;
	size_t plen;

	while (*p >= '0' && *p <= '9')
		p++;
	if (p != expect && *p == ':') {
		p++;
		while (*p >= '0' && *p <= '9')
			p++;
		if (strncmp(p, ": ", 2) == 0)
			msg = p + 2;
	}
	if (msg != expect)
		snprintf(prefix, sizeof(prefix), "%s:%.*s: ", path,
		    (int)(msg - 2 - expect), expect);
	else
		snprintf(prefix, sizeof(prefix), "%s: ", path);
	plen = strlen(prefix);
	if (strncmp(err, prefix, plen) != 0 || strstr(err + plen, msg) == NULL)
		fail_msg("error \"%s\"\n  expected \"%s%s\"", err, prefix, msg);
}

static int
yaml_file(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return n > 5 && strcmp(d->d_name + n - 5, ".yaml") == 0;
}

int
expect_run_files(
    const char *prog, const char *group, const char *dir, void (*test)(void **))
{
	struct CMUnitTest *tests;
	struct file_case *cases;
	struct dirent **names;
	int i, n, fails, ngood = 0, nbad = 0;

	if ((n = scandir(dir, &names, yaml_file, alphasort)) <= 0) {
		fprintf(stderr, "%s: no *.yaml in %s\n", prog, dir);
		return 1;
	}
	if ((tests = calloc((size_t)n, sizeof(*tests))) == NULL ||
	    (cases = calloc((size_t)n, sizeof(*cases))) == NULL)
		abort();
	for (i = 0; i < n; i++) {
		const char *f = names[i]->d_name;

		if (strncmp(f, "ok_", 3) == 0) {
			cases[i].good = 1;
			ngood++;
		} else if (strncmp(f, "bad_", 4) == 0)
			nbad++;
		else {
			fprintf(stderr,
			    "%s: %s: name must start with ok_ or "
			    "bad_\n",
			    prog, f);
			return 1;
		}
		snprintf(cases[i].path, sizeof(cases[i].path), "%s/%s", dir, f);
		tests[i].name = f;
		tests[i].test_func = test;
		tests[i].initial_state = &cases[i];
	}
	if (ngood == 0 || nbad == 0) {
		fprintf(stderr, "%s: need ok_ and bad_ files\n", prog);
		return 1;
	}
	fails = _cmocka_run_group_tests(group, tests, (size_t)n, NULL, NULL);
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(tests);
	free(cases);
	return fails;
}
