/*
 * admin: the HTTP front on the admin socket (admin_socket in seald.yaml),
 * for security officers and auditors.  Callers are identified by their
 * peer credentials and must be an officer of the policy (or an auditor,
 * for reads only); the service socket never serves these paths.  Each
 * request runs to the end on the admin thread: key generation may take
 * seconds, and one operation at a time keeps officers from racing.
 */
#ifndef SD_ADMIN_H
#define SD_ADMIN_H

#include "deps.h"

struct admin;

/* Serve the bound admin socket deps->admin_fd (taken over: closed on
 * failure; its path is the caller's).  NULL with a reason in errbuf. */
struct admin *admin_start(const struct daemon_deps *deps, char *errbuf,
    size_t errlen) __attribute__((warn_unused_result));

/* Stop serving (waits for the operation that runs) and close the socket
 * (its path is the caller's to remove).  NULL accepted. */
void admin_stop(struct admin *a);

#endif
