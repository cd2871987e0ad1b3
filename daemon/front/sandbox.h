/*
 * sandbox: the front's seccomp filter (libseccomp).  Once the front is
 * set up (its sockets, threads and libraries' lazy state made), it may
 * only read and write the descriptors it has, accept clients on the
 * service socket, wait, take memory (never executable) and exit: no
 * exec, no new socket, no ptrace, no signal to another process, by any
 * road (no kill, no ioctl, and fcntl only by command, never arming
 * O_ASYNC or a signal owner); open fails with EACCES.  Any other system call kills the whole front
 * (SIGSYS); the keeper starts a new one.  PR_SET_NO_NEW_PRIVS is set
 * first.
 */
#ifndef SD_SANDBOX_H
#define SD_SANDBOX_H

/* Load the filter for every thread of the process.  0, or -1 with the
 * reason logged unless quiet (the front must not serve without it). */
int sandbox_front(int quiet) __attribute__((warn_unused_result));

#endif
