/*
 * rlimits: the open-file limit seald needs for its connection limit.
 */
#ifndef SD_RLIMITS_H
#define SD_RLIMITS_H

#include "cfg.h"

/*
 * Raise the soft RLIMIT_NOFILE to what seald needs: its own files (a
 * database connection per HSM session and the writer's, the HSM, the
 * sockets, logs: SD_FILES_RESERVE and two per session), the admin
 * socket's connections, and max_connections clients; at most to the hard
 * limit.  Returns how many client connections fit: max_connections, or
 * fewer when the hard limit is lower (logged, with the limit to raise:
 * LimitNOFILE= in the unit), so that a flood of clients meets seald's
 * connection limit, never EMFILE on seald's own files.
 */
unsigned int rlimit_files(const struct cfg *cfg);

#endif
