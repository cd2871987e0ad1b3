/*
 * rlimits: the open-file limit seald needs for its connection limit.
 */
#include <sys/resource.h>

#include "log.h"
#include "rlimits.h"
#include "sd_limits.h"

unsigned int
rlimit_files(const struct cfg *cfg)
{
	rlim_t own = SD_FILES_RESERVE + 2 * (rlim_t)cfg->sessions +
	    (cfg->has_admin ? SD_ADMIN_CONNECTIONS : 0);
	rlim_t need = own + cfg->max_connections;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
		log_warn("open files: cannot read the limit: %m");
		return cfg->max_connections;
	}
	if (rl.rlim_cur >= need)
		return cfg->max_connections;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need
	    ? need
	    : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0 &&
	    getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return cfg->max_connections;
	if (rl.rlim_cur >= need)
		return cfg->max_connections;
	log_warn("open files: limit %llu, but max_connections %u needs %llu: "
		 "serving at most %llu clients at once; raise the limit "
		 "(LimitNOFILE= in the unit, ulimit -n)",
	    (unsigned long long)rl.rlim_cur, cfg->max_connections,
	    (unsigned long long)need,
	    rl.rlim_cur > own ? (unsigned long long)(rl.rlim_cur - own) : 1ULL);
	return rl.rlim_cur > own ? (unsigned int)(rl.rlim_cur - own) : 1;
}
