/*
 * expect: reading and checking the expected error of a bad data file.
 * A bad file's first line is "# expect: LINE:COL: text" or
 * "# expect: text" (an error with no position).
 */
#ifndef SD_TEST_EXPECT_H
#define SD_TEST_EXPECT_H

#include <stddef.h>

#define EXPECT_TAG "# expect: "

/* The expectation of the file at path, without the tag, into out; fails
 * the test when the file has none. */
void expect_read(const char *path, char *out, size_t outlen);

/* Fail the test unless err is "PATH:LINE:COL: ..." (or "PATH: ...") and
 * holds the expected text after that prefix. */
void expect_error(const char *path, const char *err, const char *expect);

/* One data file of a loader's test folder. */
struct file_case {
	char path[1024];
	int good; /* ok_*.yaml: must load; bad_*.yaml: must fail as expected */
};

/*
 * Run test (whose *state is a struct file_case) once per *.yaml of dir, as
 * a cmocka group named group.  Every file must be named ok_* or bad_*, and
 * both kinds must be there (so an empty or moved folder fails).  Returns
 * the number of failures (1 for a folder problem, reported as prog).
 */
int expect_run_files(const char *prog, const char *group, const char *dir,
    void (*test)(void **));

#endif
