/*
 * listen: the Unix sockets seald listens on (the service and admin
 * sockets of seald.yaml): handed over by systemd (socket activation:
 * seald.socket and seald-admin.socket make them with their owner, group
 * and mode, which seald running as its own user could not set), or else
 * bound here with their mode and group before seald gives up root, and
 * removed when it stops.
 */
#ifndef SD_LISTEN_H
#define SD_LISTEN_H

#include <stddef.h>

#include "cfg.h"

/* A listening socket, and whether systemd made it (then its path is
 * systemd's to remove, not seald's). */
struct listen_sock {
	int fd; /* -1: none */
	int inherited;
	int made; /* this process bound the path: only then is it removed */
};

/*
 * Take the sockets systemd passed to this process (LISTEN_PID,
 * LISTEN_FDS), each to be claimed by its path with listen_bind; the
 * LISTEN_* variables are removed, so that no child sees them.  Call once,
 * first.  0, or -1 with a reason when they are not sockets.
 */
int listen_inherit(char *errbuf, size_t errlen);

/* How many sockets systemd passes this process (LISTEN_FDS, when
 * LISTEN_PID is ours), from fd 3 up, before listen_inherit takes them: 0
 * when none. */
int listen_passed(void);

/* Close the inherited sockets no listen_bind claimed, saying so. */
void listen_drop_unclaimed(void);

/* The socket cs: the one systemd passed for its path, else bound and
 * listened on here (a stale socket is replaced, anything else at the path
 * is an error).  0, or -1 with a reason (ls->fd -1). */
int listen_bind(const struct cfg_socket *cs, struct listen_sock *ls,
    char *errbuf, size_t errlen);

/* No new client finds ls from now on: its path is removed, if this
 * process bound it (not systemd, nor another seald). */
void listen_remove(const struct cfg_socket *cs, const struct listen_sock *ls);

/* Close a socket that will not be served (fd < 0: nothing) and remove its
 * path as listen_remove does. */
void listen_unbind(const struct cfg_socket *cs, struct listen_sock *ls);

#endif
