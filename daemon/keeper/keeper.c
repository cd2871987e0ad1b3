/*
 * keeper: see keeper.h.  Between the core and the keeper runs one
 * socketpair ("ctl"): the core writes one byte to have the first front
 * started, the keeper sends one message (wire.h, no fields) with the
 * core's end of each new front's channel, and the core closing ctl tells
 * the keeper to start no more.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "core_chan.h"
#include "err.h"
#include "fds.h"
#include "frontlog.h"
#include "keeper.h"
#include "log.h"
#include "privdrop.h"
#include "secret.h"
#include "wire.h"

#define KEEP_FRONT 1 /* ctl: a front's channel, passed as an fd */
#define KEEP_NTYPES 2
#define QUICK_DEATH_MS 1000     /* a front that dies sooner waits to start */
#define NO_SANDBOX_MAX_MS 30000 /* the longest wait after one without */
#define FRONT_ARGS 10

struct keeper {
	pid_t pid;
	int ctl;
	unsigned int max_conns;
	struct core *core;
	pthread_t reader;
	int have_reader;
	pthread_mutex_t mu;
	struct core_chan *chan; /* the front in service */
	atomic_int stopping;
	atomic_int lost; /* the keeper went away on its own */
};

/* What the keeper process needs, copied out of the config. */
struct keep_args {
	char path[PATH_MAX];
	char nums[7][24];
	char quiet[8];
	char *argv[FRONT_ARGS];
	int drop;
	char user[SD_NAME_MAX];
	int has_group;
	gid_t gid;
	int devnull; /* the front's stdin */
};

/* Start a front: its channel's other end, or -1.  Its stdout and stderr
 * are a pipe into *logs: with RLIMIT_FSIZE 0 it could not write a file.
 * It gets no environment: nothing of the core's (PGPASSWORD...). */
static int
start_front(struct keep_args *a, int service, pid_t *pid, int *logs)
{
	int sp[2], lp[2];

	if (pipe2(lp, O_CLOEXEC) != 0)
		return -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) != 0 ||
	    (*pid = fork()) < 0) {
		close(lp[0]);
		close(lp[1]);
		return -1; /* (a socketpair made is lost with the keeper) */
	}
	if (*pid == 0) {
		/* fd 0: /dev/null (not a terminal seald may have), 1 and 2:
		 * the log pipe, 3: the service socket, 4: the channel; no
		 * other descriptor */
		if ((service = fcntl(service, F_DUPFD_CLOEXEC, 10)) < 0 ||
		    (sp[1] = fcntl(sp[1], F_DUPFD_CLOEXEC, 10)) < 0 ||
		    dup2(a->devnull, 0) != 0 || dup2(lp[1], 1) != 1 ||
		    dup2(lp[1], 2) != 2 || dup2(service, 3) != 3 ||
		    dup2(sp[1], 4) != 4 ||
		    prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
			_exit(127);
		sd_close_others(5, NULL, 0);
		execve(a->path, a->argv, (char *const[]){ NULL });
		_exit(127);
	}
	close(lp[1]);
	close(sp[1]);
	*logs = lp[0];
	return sp[0];
}

/*
 * The service socket as the last front may have left it: one that got
 * out of its filter could arm it (O_ASYNC, a signal and an owner) so that
 * every connection signals the core or this keeper, the open file being
 * shared.  Each front gets it plain.
 */
static void
disarm(int service)
{
	int fl = fcntl(service, F_GETFL);

	if (fl >= 0 && (fl & O_ASYNC) != 0)
		(void)fcntl(service, F_SETFL, fl & ~O_ASYNC);
	(void)fcntl(service, F_SETOWN, 0);
	(void)fcntl(service, F_SETSIG, 0);
}

/* the output of the front in service (one at a time) */
static struct frontlog front_out;

/* Copy what the front wrote to the keeper's stderr, each line marked as
 * the front's (frontlog.h); -1 at its end. */
static int
copy_logs(int logs)
{
	return logs < 0 ? -1 : frontlog_read(&front_out, logs);
}

/* Hand the core its end of a front's channel. */
static int
hand_over(int ctl, int fd)
{
	uint8_t buf[WIRE_HDR];
	struct wire_w w;
	size_t len;

	wire_begin(&w, buf, sizeof(buf), KEEP_FRONT);
	return wire_end(&w, &len) != 0 ? -1 : wire_send(ctl, buf, len, fd);
}

/* How the front pid ended, logged with what comes next. */
static void
log_end(pid_t pid, int st, const char *next)
{
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		log_info("front (pid %d) exited%s", (int)pid, next);
	else
		log_error("front (pid %d) %s %d%s", (int)pid,
		    WIFSIGNALED(st) ? "killed by signal" : "exited with",
		    WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st), next);
}

/* A front that cannot load its filter serves nobody: said once, with
 * what to do; the next ones, started ever more seldom, fail quietly. */
static void
log_no_sandbox(pid_t pid)
{
	static int said;

	if (said++)
		return;
	log_error("front (pid %d) cannot load its seccomp filter: seald "
		  "serves no client and is not ready until a front can "
		  "(under systemd, SystemCallFilter= must allow seccomp, as "
		  "seald.service does); trying again, quietly, at most every "
		  "%d s",
	    (int)pid, NO_SANDBOX_MAX_MS / 1000);
}

/* Until the front exits or the core closes ctl, copying its logs: 1
 * when the front exited (2: for want of its filter), 0 when the core
 * closed ctl. */
static int
watch(int ctl, int logs, pid_t pid)
{
	struct pollfd p[2] = { { ctl, POLLIN, 0 }, { logs, POLLIN, 0 } };
	int st;
	char b;

	for (;;) {
		if (waitpid(pid, &st, WNOHANG) == pid) {
			while (copy_logs(logs) == 0)
				;
			if (WIFEXITED(st) &&
			    WEXITSTATUS(st) == FRONT_EX_SANDBOX) {
				log_no_sandbox(pid);
				return 2;
			}
			log_end(pid, st, ": starting another");
			return 1;
		}
		p[1].fd = logs;
		if (poll(p, 2, 100) <= 0)
			continue;
		if ((p[1].revents & (POLLIN | POLLHUP)) && copy_logs(logs) != 0)
			logs = -1; /* poll skips it */
		if ((p[0].revents & (POLLIN | POLLHUP)) &&
		    read(ctl, &b, 1) <= 0)
			return 0;
	}
}

/* The front's end, at a stop: it answers what it took, then exits when
 * the core ends its channel; at most SD_STOP_WAIT_MS and a margin. */
static void
reap(pid_t pid, int logs)
{
	struct pollfd p = { logs, POLLIN, 0 };
	struct timespec start;
	pid_t r;
	int st = 0;

	clock_gettime(CLOCK_MONOTONIC, &start);
	while ((r = waitpid(pid, &st, WNOHANG)) == 0) {
		if (sd_ms_since(&start) > SD_STOP_WAIT_MS + 5000) {
			kill(pid, SIGKILL);
			r = waitpid(pid, &st, 0);
			break;
		}
		if (poll(&p, 1, 20) > 0 && copy_logs(p.fd) != 0)
			p.fd = -1;
	}
	while (p.fd >= 0 && copy_logs(p.fd) == 0)
		;
	if (r == pid)
		log_end(pid, st, "");
}

static void __attribute__((noreturn))
keeper_main(struct keep_args *a, int ctl, int service)
{
	struct timespec born;
	struct pollfd stop = { ctl, POLLIN, 0 };
	char err[256], b;
	pid_t pid;
	int fd, logs, r, wait_ms, fails = 0;

	signal(SIGTERM, SIG_IGN); /* stopping is the core's word */
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	if (a->drop &&
	    privdrop_to(a->user, a->has_group, a->gid, err, sizeof(err)) != 0) {
		log_error("front keeper: %s", err);
		_exit(1);
	}
	/* after the uid change, which clears it: go when the core goes */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() == 1)
		_exit(1);
	if (read(ctl, &b, 1) != 1) /* the core is ready, or gone */
		_exit(0);
	for (;;) {
		disarm(service);
		clock_gettime(CLOCK_MONOTONIC, &born);
		if ((fd = start_front(a, service, &pid, &logs)) < 0) {
			log_error("front keeper: cannot start %s: %s", a->path,
			    strerror(errno));
			_exit(1);
		}
		frontlog_init(&front_out, pid);
		if (hand_over(ctl, fd) != 0)
			_exit(1);
		close(fd);
		if ((r = watch(ctl, logs, pid)) == 0) {
			reap(pid, logs);
			_exit(0);
		}
		close(logs);
		wait_ms = 0;
		if (r == 2) { /* 1, 2, 4 ... 30 s; the next front quiet */
			wait_ms = QUICK_DEATH_MS << (fails < 5 ? fails : 5);
			fails++;
			snprintf(a->quiet, sizeof(a->quiet), "quiet");
			a->argv[FRONT_ARGS - 2] = a->quiet;
		} else if (sd_ms_since(&born) < QUICK_DEATH_MS) {
			wait_ms = QUICK_DEATH_MS;
		}
		if (wait_ms > NO_SANDBOX_MAX_MS)
			wait_ms = NO_SANDBOX_MAX_MS;
		if (wait_ms > 0 && poll(&stop, 1, wait_ms) != 0)
			_exit(0); /* the core closed ctl meanwhile */
	}
}

/* seald-front: next to the running seald (a build), or in ../lib/seald
 * (installed: /usr/sbin/seald, /usr/lib/seald/seald-front). */
static int
front_path(char *out, size_t len)
{
	static const char *const where[] = { "/seald-front",
		"/../lib/seald/seald-front" };
	char exe[PATH_MAX], *slash;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	size_t i;

	if (n <= 0)
		return -1;
	exe[n] = '\0';
	if ((slash = strrchr(exe, '/')) == NULL)
		return -1;
	*slash = '\0';
	for (i = 0; i < sizeof(where) / sizeof(where[0]); i++)
		if ((size_t)snprintf(out, len, "%s%s", exe, where[i]) < len &&
		    access(out, X_OK) == 0)
			return 0;
	return -1;
}

static int
keep_args(
    struct keep_args *a, const struct cfg *cfg, const struct front_limits *lim)
{
	size_t i;

	memset(a, 0, sizeof(*a));
	if (front_path(a->path, sizeof(a->path)) != 0)
		return -1;
	snprintf(a->nums[0], sizeof(a->nums[0]), "%zu", lim->max_body);
	snprintf(a->nums[1], sizeof(a->nums[1]), "%zu", lim->max_header);
	snprintf(a->nums[2], sizeof(a->nums[2]), "%u", lim->timeout);
	snprintf(a->nums[3], sizeof(a->nums[3]), "%u", lim->max_connections);
	snprintf(a->nums[4], sizeof(a->nums[4]), "%u", lim->head_s);
	snprintf(a->nums[5], sizeof(a->nums[5]), "%u", lim->body_s);
	snprintf(a->nums[6], sizeof(a->nums[6]), "%d", (int)cfg->log_level);
	a->argv[0] = a->path;
	for (i = 0; i < 7; i++)
		a->argv[i + 1] = a->nums[i];
	a->drop = geteuid() == 0 && cfg->has_run_as;
	memcpy(a->user, cfg->front_user, sizeof(a->user));
	a->has_group = cfg->has_front_group;
	a->gid = cfg->front_gid;
	return 0;
}

struct keeper *
keeper_fork(const struct cfg *cfg, int fd, const struct front_limits *lim,
    char *errbuf, size_t errlen)
{
	struct keeper *k = calloc(1, sizeof(*k));
	struct keep_args a;
	int sp[2];

	if (k == NULL || keep_args(&a, cfg, lim) != 0) {
		snprintf(errbuf, errlen, "%s",
		    k == NULL ? "out of memory"
			      : "seald-front: not found next to seald");
		free(k);
		close(fd);
		return NULL;
	}
	k->max_conns = lim->max_connections;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) != 0 ||
	    (k->pid = fork()) < 0) {
		snprintf(errbuf, errlen, "front keeper: %s", strerror(errno));
		free(k);
		close(fd);
		return NULL;
	}
	if (k->pid == 0) {
		/* this copy of seald's memory keeps no secret it has: the
		 * database's connection strings go (the PIN is not read yet) */
		secret_wipe((char *)cfg->conninfo, sizeof(cfg->conninfo));
		secret_wipe((char *)cfg->migrate_conninfo,
		    sizeof(cfg->migrate_conninfo));
		free(k); /* the parent's */
		/* and no descriptor of seald's but stdio, its end of ctl and
		 * the service socket (not the admin socket, not the core's
		 * end) */
		sd_close_others(3, (int[]){ sp[1], fd }, 2);
		if ((a.devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
			_exit(1);
		keeper_main(&a, sp[1], fd);
	}
	close(sp[1]);
	close(fd);
	k->ctl = sp[0];
	pthread_mutex_init(&k->mu, NULL);
	return k;
}

/* The core's side of ctl: each new front's channel, served. */
static void *
ctl_main(void *arg)
{
	struct keeper *k = arg;
	struct core_chan *old, *ch;
	struct wire_r r;
	uint8_t buf[WIRE_HDR];
	uint16_t type;
	size_t len;
	int fd;

	while (wire_recv(k->ctl, buf, sizeof(buf), &len, &fd) == 0) {
		if (fd < 0 ||
		    wire_open(&r, buf, len, KEEP_NTYPES, &type) != 0 ||
		    wire_close(&r) != 0) {
			if (fd >= 0)
				close(fd);
			break;
		}
		ch = core_chan_start(k->core, fd, k->max_conns);
		pthread_mutex_lock(&k->mu);
		old = k->chan;
		k->chan = ch;
		if (atomic_load(
			&k->stopping)) /* a front started as seald stops */
			core_chan_stop(ch);
		pthread_mutex_unlock(&k->mu);
		core_chan_free(old);
	}
	if (!atomic_load(&k->stopping)) {
		log_error("the front keeper is gone: stopping");
		atomic_store(&k->lost, 1);
		kill(getpid(), SIGTERM);
	}
	return NULL;
}

int
keeper_serve(struct keeper *k, struct core *core)
{
	k->core = core;
	if (pthread_create(&k->reader, NULL, ctl_main, k) != 0)
		return SD_ERR_SYSTEM;
	k->have_reader = 1;
	return write(k->ctl, "s", 1) == 1 ? 0 : SD_ERR_SYSTEM;
}

void
keeper_stop(struct keeper *k)
{
	if (k == NULL)
		return;
	atomic_store(&k->stopping, 1);
	(void)shutdown(k->ctl, SHUT_WR); /* no other front */
	pthread_mutex_lock(&k->mu);
	core_chan_stop(k->chan);
	pthread_mutex_unlock(&k->mu);
}

int
keeper_lost(const struct keeper *k)
{
	return k != NULL && atomic_load(&k->lost);
}

void
keeper_free(struct keeper *k)
{
	struct timespec start;

	if (k == NULL)
		return;
	atomic_store(&k->stopping, 1);
	(void)shutdown(k->ctl, SHUT_RDWR);
	if (k->have_reader)
		pthread_join(k->reader, NULL);
	/* the front answers what it took (the core, stopping, answers what
	 * comes) and ends its channel; a front that does not is cut off */
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (k->chan != NULL && !core_chan_ended(k->chan) &&
	    sd_ms_since(&start) < SD_STOP_WAIT_MS)
		usleep(10 * 1000);
	core_chan_free(k->chan);
	(void)waitpid(k->pid, NULL, 0);
	close(k->ctl);
	pthread_mutex_destroy(&k->mu);
	free(k);
}
