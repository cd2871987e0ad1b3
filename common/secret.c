/*
 * secret: the PIN file reader and the wipe helper.  The file checks run on
 * the opened descriptor (fstat), so the file checked is the file read.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "secret.h"

void
secret_wipe(void *p, size_t n)
{
	if (p != NULL)
		explicit_bzero(p, n);
}

int
secret_read_file(const char *path, char *buf, size_t cap, size_t *len,
    char *errbuf, size_t errlen)
{
	struct stat st;
	size_t off = 0;
	ssize_t n;
	int fd, r = SD_ERR_CONFIG;

	*len = 0;
	if (cap < 2)
		return SD_ERR_INTERNAL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		snprintf(errbuf, errlen, "%s: cannot open: %s", path,
		    strerror(errno));
		return SD_ERR_SYSTEM;
	}
	if (fstat(fd, &st) != 0) {
		snprintf(errbuf, errlen, "%s: %s", path, strerror(errno));
		r = SD_ERR_SYSTEM;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(errbuf, errlen, "%s: not a regular file", path);
		goto out;
	}
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		snprintf(errbuf, errlen,
		    "%s: mode %04o is too open (group or others have access); "
		    "use chmod 0600",
		    path, (unsigned int)(st.st_mode & 07777));
		goto out;
	}
	for (;;) {
		if (off == cap) {
			snprintf(errbuf, errlen, "%s: longer than %zu bytes",
			    path, cap - 2);
			goto out;
		}
		n = read(fd, buf + off, cap - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(errbuf, errlen, "%s: read: %s", path,
			    strerror(errno));
			r = SD_ERR_SYSTEM;
			goto out;
		}
		if (n == 0)
			break;
		off += (size_t)n;
	}
	if (off > 0 && buf[off - 1] == '\n')
		off--;
	if (off > 0 && buf[off - 1] == '\r')
		off--;
	if (off == 0) {
		snprintf(errbuf, errlen, "%s: empty", path);
		goto out;
	}
	if (off >= cap - 1) {
		snprintf(
		    errbuf, errlen, "%s: longer than %zu bytes", path, cap - 2);
		goto out;
	}
	if (memchr(buf, '\0', off) != NULL || memchr(buf, '\n', off) != NULL) {
		snprintf(
		    errbuf, errlen, "%s: must hold one line of text", path);
		goto out;
	}
	buf[off] = '\0';
	*len = off;
	r = 0;
out:
	close(fd);
	if (r != 0)
		secret_wipe(buf, cap);
	return r;
}

int
secret_harden_process(void)
{
	struct rlimit rl = { 0, 0 };

	if (setrlimit(RLIMIT_CORE, &rl) != 0)
		return SD_ERR_SYSTEM;
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		return SD_ERR_SYSTEM;
	return 0;
}

static size_t
pages_of(size_t n)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);

	return (n + pg - 1) / pg * pg;
}

void *
secret_alloc(size_t n)
{
	static atomic_int warned;
	size_t len = pages_of(n);
	void *p;

	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
	    -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	if (madvise(p, len, MADV_DONTDUMP) != 0 || mlock(p, len) != 0) {
		if (atomic_exchange(&warned, 1) == 0)
			log_warn(
			    "secrets: cannot lock memory (%s): the PIN may "
			    "be swapped out while it is read",
			    strerror(errno));
	}
	return p;
}

void
secret_free(void *p, size_t n)
{
	size_t len = pages_of(n);

	if (p == NULL)
		return;
	explicit_bzero(p, len);
	(void)munlock(p, len);
	(void)munmap(p, len);
}
