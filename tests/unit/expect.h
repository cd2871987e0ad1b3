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

#endif
