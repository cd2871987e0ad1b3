/*
 * fds: see fds.h.
 */
#include <limits.h>
#include <sys/resource.h>
#include <unistd.h>

#include "fds.h"

#define KEEP_MAX 8

/* Close [lo, hi]: close_range(2), or one by one where it is missing. */
static void
close_span(unsigned int lo, unsigned int hi)
{
	struct rlimit rl;
	unsigned int fd;

	if (lo > hi || close_range(lo, hi, 0) == 0)
		return;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur - 1 < hi)
		hi = (unsigned int)(rl.rlim_cur - 1);
	for (fd = lo; fd <= hi && fd != 0; fd++)
		(void)close((int)fd);
}

void
sd_close_others(int lowfd, const int *keep, size_t nkeep)
{
	int k[KEEP_MAX], t;
	size_t n = 0, i, j;
	unsigned int from = (unsigned int)lowfd;

	for (i = 0; i < nkeep && n < KEEP_MAX; i++)
		if (keep[i] >= lowfd)
			k[n++] = keep[i];
	for (i = 1; i < n; i++) /* (a few: insertion sort) */
		for (j = i; j > 0 && k[j - 1] > k[j]; j--) {
			t = k[j];
			k[j] = k[j - 1];
			k[j - 1] = t;
		}
	for (i = 0; i < n; i++) {
		if ((unsigned int)k[i] > from)
			close_span(from, (unsigned int)k[i] - 1);
		if ((unsigned int)k[i] >= from)
			from = (unsigned int)k[i] + 1;
	}
	close_span(from, UINT_MAX);
}
