/*
 * path: where a file really is, and whether seald may trust it.
 */
#ifndef SD_PATH_H
#define SD_PATH_H

#include <stddef.h>

#include "sd_limits.h"

/*
 * Resolve path (realpath: symbolic links and "..") and check that it is a
 * regular file inside one of dirs[0..n) (each resolved too).  Writes the
 * resolved path into out (outlen bytes; what to load, so that the file
 * checked is the file used) and returns 0; else SD_ERR_CONFIG with the
 * reason in errbuf.
 */
int sd_path_in_dirs(const char *path, const char (*dirs)[SD_PATH_MAX], size_t n,
    char *out, size_t outlen, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));

/*
 * A file seald takes orders from (config, policy) must be a regular file
 * that only its owner can change: not writable by group or others, and
 * owned by root or by the user seald runs as.  0, or SD_ERR_CONFIG with
 * the file named in errbuf.
 */
int sd_file_private(const char *path, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));

#endif
