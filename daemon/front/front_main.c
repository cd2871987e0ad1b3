/*
 * seald-front: the front process, the only process of seald that reads a
 * client's bytes.  seald's front keeper starts it under the front's own
 * user with the service socket as fd 3 and its channel to the core as
 * fd 4; it holds no key, no PIN, no database connection.  It serves
 * HTTP with front.c and hands every request to the core through
 * corelink.c, until the core says to stop (it then answers what it
 * has taken and exits) or ends the channel (it exits at once).  Once set
 * up it runs under a seccomp filter (sandbox.h) and its resource limits.
 *
 * It accepts no client before its filter is in place, and one that cannot
 * load its filter serves nobody: it exits with status 3 (FRONT_EX_SANDBOX),
 * which the keeper reports.
 *
 *   seald-front MAX_BODY MAX_HEADER TIMEOUT MAX_CONNECTIONS HEAD_S BODY_S
 *               LOG_LEVEL [quiet]
 *
 * (quiet: a front before this one could not load its filter and said why;
 * this one says nothing of its own failure to.)
 */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/obj_mac.h>

#include "corelink.h"
#include "fds.h"
#include "front.h"
#include "log.h"
#include "sandbox.h"
#include "sd_limits.h"
#include "secret.h"
#include "req_json.h"
#include "tsa_req.h"

#define SERVICE_FD 3
#define CORE_FD 4
#define OWN_FILES 32   /* besides the clients: stdio, epoll, MHD's, core */
#define SETTLE_MS 2000 /* threads to start before the filter */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int stopping;

static void
on_stop(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&mu);
	stopping = 1;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
}

/* A decimal argument in [lo, hi]; exits otherwise. */
static unsigned long
arg_num(const char *s, unsigned long lo, unsigned long hi)
{
	unsigned long v = 0;
	size_t i, n = strlen(s);

	for (i = 0; i < n && n <= 10; i++) {
		if (s[i] < '0' || s[i] > '9')
			break;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (n == 0 || n > 10 || i != n || v < lo || v > hi) {
		fprintf(stderr, "seald-front: bad argument \"%.20s\"\n", s);
		exit(2);
	}
	return v;
}

/*
 * What the libraries do once, on first use, done now, before the seccomp
 * filter would kill the front for it: jansson seeds its hash from
 * /dev/urandom, OpenSSL reads its configuration and loads its providers.
 */
static int
warm_up(void)
{
	static const char sign[] =
	    "{\"key\":\"k\",\"digest\":"
	    "\"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\","
	    "\"digest_alg\":\"sha256\",\"request_id\":\"w\"}";
	struct sign_req sr;
	struct tsa_req tr;
	enum tsa_fail fail;
	uint8_t dg[32] = { 0 }, *der = NULL;
	size_t len = 0;
	char msg[200];
	int r;

	json_object_seed(0);
	if (OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, NULL) != 1 ||
	    req_json_sign(sign, sizeof(sign) - 1, &sr, msg, sizeof(msg)) != 0 ||
	    tsa_req_build(
		NID_sha256, dg, sizeof(dg), "1.2.3", 7, 1, &der, &len) != 0)
		return -1;
	r = tsa_req_decode(der, len, &tr, &fail, msg, sizeof(msg));
	OPENSSL_free(der);
	return r;
}

/* 1 when thread tid of this process waits in a call the front's threads
 * wait in once they run (MHD's epoll loop, the core's reader). */
static int
waiting(const char *tid)
{
	char path[64], buf[32];
	long nr;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%.20s/syscall", tid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	nr = strtol(buf, NULL, 10);
	return nr == SYS_epoll_wait || nr == SYS_epoll_pwait ||
	    nr == SYS_recvmsg || nr == SYS_recvfrom || nr == SYS_poll ||
	    nr == SYS_ppoll || nr == SYS_futex || nr == SYS_nanosleep ||
	    nr == SYS_clock_nanosleep;
}

/*
 * Before the filter: every other thread started and waiting, at most
 * SETTLE_MS.  A thread still starting when the filter comes would make
 * the calls of its start (a sanitizer runtime reads its CPU set there)
 * under a filter that does not allow them, and kill the front.
 */
static void
settle_threads(void)
{
	struct timespec ms = { 0, 1000000L };
	char self[24];
	struct dirent *e;
	int i, busy = 1;
	DIR *d;

	snprintf(self, sizeof(self), "%ld", (long)syscall(SYS_gettid));
	for (i = 0; i < SETTLE_MS && busy; i++) {
		busy = 0;
		if ((d = opendir("/proc/self/task")) == NULL)
			return;
		while (!busy && (e = readdir(d)) != NULL)
			if (e->d_name[0] != '.' &&
			    strcmp(e->d_name, self) != 0 && !waiting(e->d_name))
				busy = 1;
		closedir(d);
		if (busy)
			nanosleep(&ms, NULL);
	}
	if (busy)
		log_warn(
		    "front: a thread is still starting after %d ms", SETTLE_MS);
}

static int
limit(int resource, rlim_t v)
{
	struct rlimit rl = { v, v };

	return setrlimit(resource, &rl);
}

int
main(int argc, char **argv)
{
	struct front_limits lim;
	struct front *f;
	struct corelink *core;
	unsigned int uid;
	char err[256];

	sd_close_others(5, NULL, 0); /* stdio, fd 3 and 4 only (above) */
	if (argc != 8 && (argc != 9 || strcmp(argv[8], "quiet") != 0)) {
		fprintf(stderr,
		    "usage: seald-front MAX_BODY MAX_HEADER "
		    "TIMEOUT MAX_CONNECTIONS HEAD_S BODY_S LOG_LEVEL [quiet] "
		    "(started by seald)\n");
		return 2;
	}
	lim.max_body = arg_num(argv[1], 1, SD_HTTP_MAX_BODY_LIMIT);
	lim.max_header = arg_num(argv[2], 1, 1024 * 1024);
	lim.timeout = (unsigned int)arg_num(argv[3], 1, 3600);
	lim.max_connections = (unsigned int)arg_num(argv[4], 1, 1000000);
	lim.head_s = (unsigned int)arg_num(argv[5], 1, 3600);
	lim.body_s = (unsigned int)arg_num(argv[6], 1, 3600);
	log_set_level((enum log_level)arg_num(argv[7], 0, LOG_LVL_DEBUG));
	/* stopping is the core's word (PROTO_STOP), not a signal's */
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	if (secret_harden_process() != 0 ||
	    limit(RLIMIT_NOFILE, lim.max_connections + OWN_FILES) != 0 ||
	    limit(RLIMIT_FSIZE, 0) != 0) {
		log_error("front: cannot set its limits");
		return 1;
	}
	if ((core = corelink_start(CORE_FD, on_stop, NULL)) == NULL ||
	    (f = front_start(&lim, core, SERVICE_FD, err, sizeof(err))) ==
		NULL) {
		log_error("front: %s", core == NULL ? "out of memory" : err);
		return 1;
	}
	/* every thread it needs runs: no more processes; then only the
	 * system calls of serving */
	settle_threads();
	uid = (unsigned int)getuid(); /* (getuid is not in the filter) */
	if (limit(RLIMIT_NPROC, 0) != 0 || warm_up() != 0 ||
	    sandbox_front(argc == 9) != 0) {
		if (argc != 9) /* (quiet: a front before said it all) */
			log_error("front: cannot sandbox itself: it serves no "
				  "client");
		_exit(FRONT_EX_SANDBOX);
	}
	front_open(f); /* only now: a client's first byte is read filtered */
	log_info("front serving under its filter (pid %d, uid %u)",
	    (int)getpid(), uid);
	pthread_mutex_lock(&mu);
	while (!stopping)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	/* every reply taken is queued (or the core took too long): leave
	 * without stopping MHD, which panics on a connection still
	 * suspended; the kernel closes the rest */
	_exit(front_drain(f) == 0 ? 0 : 1);
}
