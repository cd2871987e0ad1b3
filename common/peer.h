/*
 * peer: who is on the other end of a Unix socket, from the kernel
 * (SO_PEERCRED, SO_PEERGROUPS), read before any byte of the request.
 */
#ifndef SD_PEER_H
#define SD_PEER_H

#include <stddef.h>
#include <sys/types.h>

#include "sd_limits.h"

struct peer {
	uid_t uid;
	gid_t gid;
	pid_t pid;
	size_t ngroups; /* supplementary groups (capped) */
	gid_t groups[SD_MAX_IDS];
};

/* Fill p from the connected socket fd.  Returns 0 or SD_ERR_SYSTEM. */
int peer_from_fd(int fd, struct peer *p) __attribute__((warn_unused_result));

/*
 * 1 when fd is a stream connection accepted on the Unix socket bound at
 * path: not that listening socket itself (whose "peer" is the process
 * that listens), not the connecting end, not a socket of another
 * address.  For a socket handed over by a less trusted process, before
 * its credentials are believed.
 */
int peer_accepted_on(int fd, const char *path);

/*
 * 1 when the process at the other end of the connected socket fd is gone:
 * it closed its end (or both directions are shut down).  A peer that only
 * shut down its writing half (a client that sent its request and waits)
 * is still there.  For a socket another process holds too, which may
 * keep it open after the caller left.
 */
int peer_hung_up(int fd);

#endif
