/*
 * path: realpath checks for the PKCS#11 module and the files seald obeys.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "path.h"

/* 1 when the resolved path p lies under the resolved folder d. */
static int
under(const char *p, const char *d)
{
	size_t n = strlen(d);

	if (n == 1 && d[0] == '/')
		return 1;
	return strncmp(p, d, n) == 0 && p[n] == '/';
}

int
sd_path_in_dirs(const char *path, const char (*dirs)[SD_PATH_MAX], size_t n,
    char *out, size_t outlen, char *errbuf, size_t errlen)
{
	char real[PATH_MAX], dir[PATH_MAX];
	struct stat st;
	size_t i;

	if (realpath(path, real) == NULL) {
		snprintf(errbuf, errlen, "%.200s: %s", path, strerror(errno));
		return SD_ERR_CONFIG;
	}
	if (stat(real, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(errbuf, errlen, "%.200s: not a regular file", real);
		return SD_ERR_CONFIG;
	}
	for (i = 0; i < n; i++)
		if (realpath(dirs[i], dir) != NULL && under(real, dir))
			break;
	if (i == n) {
		snprintf(errbuf, errlen,
		    "%.200s is not in an allowed folder (pkcs11.module_dirs)",
		    real);
		return SD_ERR_CONFIG;
	}
	if (strlen(real) >= outlen) {
		snprintf(errbuf, errlen, "%.200s: path too long", real);
		return SD_ERR_CONFIG;
	}
	memcpy(out, real, strlen(real) + 1);
	return 0;
}

int
sd_file_private(const char *path, char *errbuf, size_t errlen)
{
	struct stat st;

	if (stat(path, &st) != 0) {
		snprintf(errbuf, errlen, "%.200s: %s", path, strerror(errno));
		return SD_ERR_CONFIG;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(errbuf, errlen, "%.200s: not a regular file", path);
		return SD_ERR_CONFIG;
	}
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		snprintf(errbuf, errlen,
		    "%.200s: mode %04o lets group or others change it; "
		    "chmod go-w it",
		    path, (unsigned int)(st.st_mode & 07777));
		return SD_ERR_CONFIG;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		snprintf(errbuf, errlen,
		    "%.200s: owned by uid %u, neither root nor seald's user",
		    path, (unsigned int)st.st_uid);
		return SD_ERR_CONFIG;
	}
	return 0;
}
