/*
 * peer: peer credentials of a Unix-socket connection.  The supplementary
 * groups come from SO_PEERGROUPS; when the peer has more groups than we
 * keep, the list is cut (a client matched by a later group is then not
 * matched: fails closed).
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "err.h"
#include "peer.h"

int
peer_from_fd(int fd, struct peer *p)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);
	gid_t groups[SD_MAX_IDS];

	memset(p, 0, sizeof(*p));
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) != 0 ||
	    len != sizeof(uc))
		return SD_ERR_SYSTEM;
	p->uid = uc.uid;
	p->gid = uc.gid;
	p->pid = uc.pid;
	len = sizeof(groups);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == 0) {
		p->ngroups = len / sizeof(gid_t);
		memcpy(p->groups, groups, p->ngroups * sizeof(gid_t));
	} else if (errno == ERANGE) {
		/* more groups than we keep: len now holds the needed size */
		p->ngroups = 0;
	}
	return 0;
}

int
peer_accepted_on(int fd, const char *path)
{
	struct sockaddr_un sun;
	socklen_t len = sizeof(sun), vlen;
	size_t n = strlen(path), base = offsetof(struct sockaddr_un, sun_path);
	int v = 0;

	vlen = sizeof(v);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &vlen) != 0 ||
	    v != SOCK_STREAM)
		return 0;
	vlen = sizeof(v);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &vlen) != 0 || v != 0)
		return 0;
	memset(&sun, 0, sizeof(sun));
	if (n == 0 || n >= sizeof(sun.sun_path) ||
	    getsockname(fd, (struct sockaddr *)&sun, &len) != 0 ||
	    sun.sun_family != AF_UNIX || len < base + n ||
	    memcmp(sun.sun_path, path, n) != 0)
		return 0;
	/* the name is the path, NUL-terminated or not */
	return len == base + n || sun.sun_path[n] == '\0';
}

int
peer_hung_up(int fd)
{
	/* POLLHUP, reported whatever is asked for: a Unix stream socket has
	 * it once its peer is closed (both halves shut), not on a half
	 * close */
	struct pollfd p = { .fd = fd, .events = 0, .revents = 0 };

	return fd < 0 ||
	    (poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLNVAL)) != 0);
}
