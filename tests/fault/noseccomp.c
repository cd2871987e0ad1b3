/*
 * noseccomp: run a command where seccomp(2) is refused, as a system or a
 * unit (SystemCallFilter= without seccomp) may refuse it: a seccomp filter
 * of its own makes seccomp(2) and prctl(PR_SET_SECCOMP) fail with EPERM,
 * then the command runs under it (and so do its children).  For t_split:
 * a front that cannot load its own filter must serve nobody.
 *
 *   noseccomp COMMAND [ARG...]
 *
 * Test code only: never installed, never linked into seald.
 */
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	scmp_filter_ctx ctx;

	if (argc < 2) {
		fprintf(stderr, "usage: noseccomp COMMAND [ARG...]\n");
		return 2;
	}
	if ((ctx = seccomp_init(SCMP_ACT_ALLOW)) == NULL ||
	    seccomp_rule_add(
		ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(seccomp), 0) != 0 ||
	    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(prctl), 1,
		SCMP_A0(SCMP_CMP_EQ, PR_SET_SECCOMP, 0)) != 0 ||
	    seccomp_load(ctx) != 0) {
		perror("noseccomp: cannot load the filter");
		return 1;
	}
	seccomp_release(ctx);
	execvp(argv[1], argv + 1);
	perror("noseccomp: exec");
	return 127;
}
