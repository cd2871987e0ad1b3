/*
 * privdrop: started as root, seald binds its sockets and then becomes the
 * run_as user for good: supplementary groups of that user, no capability
 * left (the bounding set emptied too), no way back to root, no new
 * privileges through exec, not dumpable.  Started as anyone else it stays
 * who it is.
 */
#ifndef SD_PRIVDROP_H
#define SD_PRIVDROP_H

#include <stddef.h>
#include <sys/types.h>

#include "cfg.h"

/* 0, or SD_ERR_SYSTEM with the reason in errbuf (seald must not start:
 * a drop that did not take leaves root). */
int privdrop(const struct cfg *cfg, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));

/* Become user (and group, when has_group, else the user's own) for good,
 * as privdrop does; as root only.  0 or SD_ERR_SYSTEM with the reason. */
int privdrop_to(const char *user, int has_group, gid_t group, char *errbuf,
    size_t errlen) __attribute__((warn_unused_result));

#endif
