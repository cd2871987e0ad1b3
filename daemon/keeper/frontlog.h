/*
 * frontlog: what a front writes (its stdout and stderr, a pipe to the
 * keeper) into seald's log, marked as the front's.  Each line the front
 * writes becomes one line "front[PID]| LINE", control characters made
 * '?', long lines cut into several (each marked): a front, compromised or
 * not, cannot write a line that looks like the core's (those begin with
 * their time), nor break one in two.
 */
#ifndef SD_FRONTLOG_H
#define SD_FRONTLOG_H

#include <stddef.h>
#include <sys/types.h>

#define FRONTLOG_LINE_MAX 1024

struct frontlog {
	pid_t pid;
	size_t len;
	char buf[FRONTLOG_LINE_MAX];
};

/* Start reading front pid's output. */
void frontlog_init(struct frontlog *l, pid_t pid);

/* Read what fd holds and write each whole line to stderr, marked.  0; or
 * -1 at the end of the pipe (or an error), once what was left of a last
 * line was written. */
int frontlog_read(struct frontlog *l, int fd);

#endif
