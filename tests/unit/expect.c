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

#include <stdio.h>
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
