/*
 * rlimits: the open-file limit seald needs for its connection limit.
 */
#include <sys/resource.h>

#include "admin.h"
#include "log.h"
#include "rlimits.h"

void
rlimit_files(const struct cfg *cfg)
{
	rlim_t need = (rlim_t)cfg->max_connections + SD_FILES_RESERVE +
	    (cfg->has_admin ? ADMIN_CONNECTIONS : 0);
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= need)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need
	    ? need
	    : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < need)
		log_warn("open files: limit %llu, but max_connections %u needs "
			 "%llu: clients past the limit will be refused; raise "
			 "it (LimitNOFILE= in the unit, ulimit -n)",
		    (unsigned long long)rl.rlim_cur, cfg->max_connections,
		    (unsigned long long)need);
}
