/*
 * sandbox: see sandbox.h.  The list is what libmicrohttpd's epoll thread,
 * the front's reader of the core's channel, glibc's malloc and the log
 * need once running; each entry says why.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <seccomp.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>

#include "log.h"
#include "sandbox.h"

static const int allowed[] = {
	/* the clients' sockets, the core's channel, the log pipe */
	SCMP_SYS(read),
	SCMP_SYS(readv),
	SCMP_SYS(write),
	SCMP_SYS(writev),
	SCMP_SYS(recvfrom),
	SCMP_SYS(recvmsg),
	SCMP_SYS(sendto),
	SCMP_SYS(sendmsg),
	SCMP_SYS(shutdown),
	SCMP_SYS(close),
	SCMP_SYS(accept4),
	SCMP_SYS(accept),
	/* waiting: MHD's epoll loop, its inter-thread channel, timeouts */
	SCMP_SYS(epoll_wait),
	SCMP_SYS(epoll_pwait),
	SCMP_SYS(epoll_ctl),
	SCMP_SYS(poll),
	SCMP_SYS(ppoll),
	SCMP_SYS(futex),
	SCMP_SYS(clock_gettime),
	SCMP_SYS(clock_nanosleep),
	SCMP_SYS(nanosleep),
	SCMP_SYS(restart_syscall), /* a sleep resumed after SIGSTOP */
	SCMP_SYS(gettimeofday),
	/* memory: malloc's heap and arenas (mprotect below) */
	SCMP_SYS(brk),
	SCMP_SYS(munmap),
	SCMP_SYS(mremap),
	SCMP_SYS(madvise),
	/* signals and identity, as glibc and the log use them */
	SCMP_SYS(rt_sigprocmask),
	SCMP_SYS(rt_sigreturn),
	SCMP_SYS(sigaltstack), /* a thread's own (ASan's, at its end) */
	SCMP_SYS(getpid),
	SCMP_SYS(gettid),
	SCMP_SYS(getrandom),
	/* a thread made before the filter may start running after it:
	 * glibc's thread start */
	SCMP_SYS(rseq),
	SCMP_SYS(set_robust_list),
	/* ending */
	SCMP_SYS(exit),
	SCMP_SYS(exit_group),
};

/* Refused, not fatal: glibc's malloc reads /proc/sys/vm/overcommit_memory
 * the first time it shrinks a heap, and copes when it cannot (as OpenSSH's
 * sandbox answers it). */
static const int refused[] = {
	SCMP_SYS(open),
	SCMP_SYS(openat),
};

/*
 * fcntl by command: reading a descriptor's flags and setting them, but
 * never O_ASYNC.  Not F_SETOWN, F_SETOWN_EX or F_SETSIG: with O_ASYNC on a
 * socket the keeper shares, they made the kernel signal the core or the
 * keeper on every new connection, even after this front was gone.  Not
 * F_DUPFD, F_SETLEASE, F_NOTIFY, locks, pipe sizes: none is needed.
 */
static int
limit_fcntl(scmp_filter_ctx ctx)
{
	if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fcntl), 1,
		SCMP_A1(SCMP_CMP_EQ, F_GETFL, 0)) != 0 ||
	    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fcntl), 2,
		SCMP_A1(SCMP_CMP_EQ, F_SETFL, 0),
		SCMP_A2(SCMP_CMP_MASKED_EQ, O_ASYNC, 0)) != 0)
		return -1;
	return 0;
}

int
sandbox_front(int quiet)
{
	scmp_filter_ctx ctx;
	size_t i;
	int r = -1;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		if (!quiet)
			log_error(
			    "front: PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
		return -1;
	}
	if ((ctx = seccomp_init(SCMP_ACT_KILL_PROCESS)) == NULL) {
		if (!quiet)
			log_error("front: seccomp_init failed");
		return -1;
	}
	for (i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 0) != 0)
			goto out;
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		if (seccomp_rule_add(
			ctx, SCMP_ACT_ERRNO(EACCES), refused[i], 0) != 0)
			goto out;
	/* a thread naming itself (MHD's), as it starts */
	if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
		SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME, 0)) != 0 ||
	    limit_fcntl(ctx) != 0 ||
	    /* libmicrohttpd tries TCP_NODELAY and TCP_CORK on a socket it
	     * did not accept itself, and takes ENOPROTOOPT for "not IP":
	     * what the kernel answers on a Unix socket; no other option */
	    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOPROTOOPT),
		SCMP_SYS(setsockopt), 1,
		SCMP_A1(SCMP_CMP_EQ, IPPROTO_TCP, 0)) != 0)
		goto out;
	/* memory, never executable: no code made at run time */
	if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
		SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)) != 0 ||
	    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
		SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)) != 0 ||
	    seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1) != 0)
		goto out;
	if ((r = seccomp_load(ctx)) != 0 && !quiet)
		log_error(
		    "front: seccomp(2) refused its filter: %s", strerror(-r));
out:
	if (r == -1 && !quiet)
		log_error("front: cannot make its seccomp filter");
	seccomp_release(ctx);
	return r != 0 ? -1 : 0;
}
