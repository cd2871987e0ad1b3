/*
 * fds: the descriptors a process starts with.  A process of seald keeps
 * only those it needs: what it inherits from whoever started it (a shell's
 * stray descriptors, another socket of seald's) is closed first thing.
 */
#ifndef SD_FDS_H
#define SD_FDS_H

#include <stddef.h>

/* Close every descriptor numbered lowfd or more, but those in keep (in
 * any order). */
void sd_close_others(int lowfd, const int *keep, size_t nkeep);

#endif
