/*
 * rlimits: the open-file limit seald needs for its connection limit.
 */
#ifndef SD_RLIMITS_H
#define SD_RLIMITS_H

#include "cfg.h"

/* Files seald keeps open besides client connections: HSM, database
 * connections, listening sockets, logs, with room to spare. */
#define SD_FILES_RESERVE 64

/*
 * Raise the soft RLIMIT_NOFILE to what max_connections (and the admin
 * socket's connections) need, at most to the hard limit.  Below that a
 * flood of clients would meet EMFILE before seald's own limit; it is
 * logged, with the limit to raise (LimitNOFILE= in the unit).
 */
void rlimit_files(const struct cfg *cfg);

#endif
