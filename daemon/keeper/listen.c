/*
 * listen: the Unix sockets seald listens on (listen.h).  systemd passes
 * sockets from fd 3 on (sd_listen_fds(3)); they are matched to the
 * config's by their path, so their order and names do not matter.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "listen.h"

#define FDS_START 3
#define INHERIT_MAX 8

/* the sockets systemd passed, until claimed */
static int inherited[INHERIT_MAX];
static size_t ninherited;

/* 1 when a process accepts connections on the socket at sun. */
static int
answers(const struct sockaddr_un *sun)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), ok;

	if (fd < 0)
		return 0;
	ok = connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0;
	close(fd);
	return ok;
}

/* A decimal environment variable, or -1. */
static long
env_num(const char *name)
{
	const char *v = getenv(name);
	char *end;
	long n;

	if (v == NULL || *v == '\0')
		return -1;
	errno = 0;
	n = strtol(v, &end, 10);
	return errno != 0 || *end != '\0' || n < 0 ? -1 : n;
}

int
listen_passed(void)
{
	long pid = env_num("LISTEN_PID"), n = env_num("LISTEN_FDS");

	return pid == (long)getpid() && n > 0 && n <= INHERIT_MAX ? (int)n : 0;
}

int
listen_inherit(char *errbuf, size_t errlen)
{
	long pid = env_num("LISTEN_PID"), n = env_num("LISTEN_FDS");
	struct stat st;
	long i;

	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (pid != (long)getpid() || n <= 0)
		return 0;
	if (n > INHERIT_MAX) {
		snprintf(errbuf, errlen,
		    "systemd passed %ld sockets, at most %d", n, INHERIT_MAX);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (fstat((int)(FDS_START + i), &st) != 0 ||
		    !S_ISSOCK(st.st_mode)) {
			snprintf(errbuf, errlen,
			    "systemd passed fd %ld, which is not a socket",
			    FDS_START + i);
			return -1;
		}
		(void)fcntl((int)(FDS_START + i), F_SETFD, FD_CLOEXEC);
		inherited[ninherited++] = (int)(FDS_START + i);
	}
	return 0;
}

/* The inherited socket listening at path, taken from the list; -1. */
static int
claim(const char *path)
{
	struct sockaddr_un sun;
	socklen_t len;
	size_t i;
	int fd;

	for (i = 0; i < ninherited; i++) {
		len = sizeof(sun);
		memset(&sun, 0, sizeof(sun));
		if (getsockname(inherited[i], (struct sockaddr *)&sun, &len) !=
			0 ||
		    sun.sun_family != AF_UNIX ||
		    strncmp(sun.sun_path, path, sizeof(sun.sun_path)) != 0)
			continue;
		fd = inherited[i];
		inherited[i] = inherited[--ninherited];
		return fd;
	}
	return -1;
}

void
listen_drop_unclaimed(void)
{
	struct sockaddr_un sun;
	socklen_t len;

	while (ninherited > 0) {
		len = sizeof(sun);
		memset(&sun, 0, sizeof(sun));
		(void)getsockname(
		    inherited[--ninherited], (struct sockaddr *)&sun, &len);
		log_warn("systemd passed a socket at %.100s, which seald.yaml "
			 "does not name: closed",
		    sun.sun_family == AF_UNIX ? sun.sun_path : "?");
		close(inherited[ninherited]);
	}
}

int
listen_bind(const struct cfg_socket *cs, struct listen_sock *ls, char *errbuf,
    size_t errlen)
{
	struct sockaddr_un sun;
	struct stat st;
	int fd, fl;

	ls->inherited = ls->made = 0;
	if ((ls->fd = claim(cs->path)) >= 0) {
		ls->inherited = 1;
		if ((fl = fcntl(ls->fd, F_GETFL)) < 0 ||
		    fcntl(ls->fd, F_SETFL, fl | O_NONBLOCK) != 0) {
			snprintf(errbuf, errlen, "socket %.200s: %s", cs->path,
			    strerror(errno));
			return -1;
		}
		log_info("%s: the socket systemd made", cs->path);
		return 0;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(cs->path) >= sizeof(sun.sun_path)) {
		snprintf(errbuf, errlen, "socket path too long (max %zu)",
		    sizeof(sun.sun_path) - 1);
		return -1;
	}
	memcpy(sun.sun_path, cs->path, strlen(cs->path) + 1);
	/* A stale socket from a previous run is replaced; one that answers
	 * belongs to a running process, and anything else is an error:
	 * neither is ever deleted. */
	if (lstat(cs->path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(errbuf, errlen,
			    "%.200s exists and is not a "
			    "socket",
			    cs->path);
			return -1;
		}
		if (answers(&sun)) {
			snprintf(errbuf, errlen,
			    "%.200s is served by another process", cs->path);
			return -1;
		}
		(void)unlink(cs->path);
	}
	if ((fd = socket(
		 AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0 ||
	    bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
	    chmod(cs->path, cs->mode) != 0 ||
	    (cs->has_group && chown(cs->path, (uid_t)-1, cs->gid) != 0) ||
	    listen(fd, 1024) != 0) {
		snprintf(errbuf, errlen, "socket %.200s: %s", cs->path,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	ls->fd = fd;
	ls->made = 1;
	return 0;
}

void
listen_remove(const struct cfg_socket *cs, const struct listen_sock *ls)
{
	struct stat st;

	/* a path this process did not bind is another's (a start refused
	 * because it is served): never removed */
	if (ls->made && lstat(cs->path, &st) == 0 && S_ISSOCK(st.st_mode))
		(void)unlink(cs->path);
}

void
listen_unbind(const struct cfg_socket *cs, struct listen_sock *ls)
{
	if (ls->fd < 0)
		return;
	close(ls->fd);
	ls->fd = -1;
	listen_remove(cs, ls);
}
