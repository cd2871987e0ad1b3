/*
 * serve: seald running, from its sockets to its stop (serve.c), and its
 * exit statuses.
 */
#ifndef SD_SERVE_H
#define SD_SERVE_H

#include "cfg.h"

/* seald's exit statuses (seald(8)) */
enum {
	SERVE_EX_OK = 0,
	SERVE_EX_CONFIG = 1,
	SERVE_EX_USAGE = 2,
	SERVE_EX_HSM = 3,
	SERVE_EX_LEDGER = 4,
	SERVE_EX_START = 5
};

/* Run seald on cfg (read from path, for the log level on SIGHUP) until
 * SIGINT or SIGTERM; override: the reason given to start despite a
 * failed ledger check (NULL: none).  Returns the exit status. */
int serve_run(struct cfg *cfg, const char *path, const char *override);

#endif
