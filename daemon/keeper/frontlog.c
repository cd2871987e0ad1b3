/*
 * frontlog: see frontlog.h.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "frontlog.h"

#define MARK_MAX 32

void
frontlog_init(struct frontlog *l, pid_t pid)
{
	l->pid = pid;
	l->len = 0;
}

/* One line of n bytes (no newline), marked, in one write. */
static void
emit(const struct frontlog *l, const char *s, size_t n)
{
	char out[MARK_MAX + FRONTLOG_LINE_MAX + 1];
	size_t i;
	int m;

	m = snprintf(out, MARK_MAX, "front[%d]| ", (int)l->pid);
	if (m <= 0 || m >= MARK_MAX)
		return;
	for (i = 0; i < n; i++)
		out[m + i] =
		    (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	out[m + n] = '\n';
	(void)!write(STDERR_FILENO, out, (size_t)m + n + 1);
}

int
frontlog_read(struct frontlog *l, int fd)
{
	ssize_t got = read(fd, l->buf + l->len, sizeof(l->buf) - l->len);
	char *nl;
	size_t start = 0;

	if (got <= 0) {
		if (l->len > 0)
			emit(l, l->buf, l->len); /* a last line, unended */
		l->len = 0;
		return -1;
	}
	l->len += (size_t)got;
	while ((nl = memchr(l->buf + start, '\n', l->len - start)) != NULL) {
		emit(l, l->buf + start, (size_t)(nl - (l->buf + start)));
		start = (size_t)(nl - l->buf) + 1;
	}
	if (start == 0 && l->len == sizeof(l->buf)) { /* longer than a line */
		emit(l, l->buf, l->len);
		start = l->len;
	}
	memmove(l->buf, l->buf + start, l->len - start);
	l->len -= start;
	return 0;
}
