/*
 * seald: the signing daemon's entry point.  Parses the command line,
 * loads and checks the config, and runs seald (serve.h), applies the
 * database migrations, or checks the config only.
 *
 * Exit codes: 0 clean stop, 1 configuration, 2 usage, 3 HSM, 4 ledger,
 * 5 socket or other start-up failure.
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>

#include "cfg.h"
#include "err.h"
#include "fds.h"
#include "listen.h"
#include "ledger.h"
#include "log.h"
#include "path.h"
#include "secret.h"
#include "serve.h"
#include "version.h"

#define DEFAULT_CONFIG "/etc/seald/seald.yaml"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: seald [-c FILE] [--override-ledger-check REASON]\n"
	    "                                      run in the foreground\n"
	    "       seald --check-config [-c FILE] validate the config\n"
	    "       seald migrate [-c FILE]        apply database migrations\n"
	    "       seald --version | --help\n"
	    "FILE defaults to " DEFAULT_CONFIG "; see seald(8)\n");
}

/* A usage error: what is wrong, and where the usage is. */
static int
usage_error(const char *what, const char *arg)
{
	fprintf(stderr, "seald: %s%.80s (seald --help shows the usage)\n", what,
	    arg);
	return SERVE_EX_USAGE;
}

static struct cfg *
load_config(const char *path)
{
	char err[512];
	struct cfg *cfg;

	if ((cfg = cfg_load(path, err, sizeof(err))) == NULL) {
		fprintf(stderr, "seald: %s\n", err);
		return NULL;
	}
	/* files seald takes orders from: only their owner may change them */
	if (sd_file_private(path, err, sizeof(err)) != 0 ||
	    sd_file_private(cfg->policy_file, err, sizeof(err)) != 0) {
		fprintf(stderr, "seald: %s\n", err);
		cfg_free(cfg);
		return NULL;
	}
	return cfg;
}

int
main(int argc, char **argv)
{
	const char *path = DEFAULT_CONFIG, *override = NULL;
	int check = 0, migrate = 0, i, r;
	struct cfg *cfg;
	char err[512];

	/* nothing of whoever started seald but stdio, and the sockets
	 * systemd passes */
	sd_close_others(3 + listen_passed(), NULL, 0);
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("seald %s\n", SD_VERSION);
			return 0;
		} else if (strcmp(argv[i], "-c") == 0) {
			if (i + 1 >= argc)
				return usage_error("-c needs a FILE", "");
			path = argv[++i];
		} else if (strcmp(argv[i], "--override-ledger-check") == 0) {
			if (i + 1 >= argc || argv[i + 1][0] == '\0')
				return usage_error("--override-ledger-check "
						   "needs a REASON",
				    "");
			override = argv[++i];
		} else if (strcmp(argv[i], "--check-config") == 0) {
			check = 1;
		} else if (strcmp(argv[i], "migrate") == 0 && i == 1) {
			migrate = 1;
		} else {
			return usage_error(argv[i][0] == '-'
				? "unknown option "
				: "unexpected argument ",
			    argv[i]);
		}
	}
	if (secret_harden_process() != 0) {
		fprintf(stderr, "seald: cannot disable core dumps\n");
		return SERVE_EX_START;
	}
	if ((cfg = load_config(path)) == NULL)
		return SERVE_EX_CONFIG;
	if (check) {
		printf("%s: OK\n", path);
		cfg_free(cfg);
		return 0;
	}
	log_set_level((enum log_level)cfg->log_level);
	if (migrate) {
		r = ledger_migrate(cfg->migrate_conninfo, err, sizeof(err));
		if (r != 0)
			log_error("migrate: %s", err);
		cfg_free(cfg);
		return r == 0 ? 0 : SERVE_EX_LEDGER;
	}
	r = serve_run(cfg, path, override);
	cfg_free(cfg);
	return r;
}
