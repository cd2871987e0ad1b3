/*
 * seald: the signing daemon's entry point.  Parses the command line, loads
 * the config, opens the HSM, the ledger, the signing workers and the
 * socket, in that order, and tears them down in reverse on SIGINT/SIGTERM
 * so that every accepted request is answered and committed first.
 *
 * Exit codes: 0 clean stop, 1 configuration, 2 usage, 3 HSM, 4 ledger,
 * 5 socket or other start-up failure.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>

#include "cfg.h"
#include "err.h"
#include "hsm.h"
#include "ledger.h"
#include "log.h"
#include "metrics.h"
#include "pstate.h"
#include "ratelimit.h"
#include "secret.h"
#include "admin.h"
#include "http.h"
#include "notify.h"
#include "path.h"
#include "privdrop.h"
#include "rlimits.h"
#include "core.h"
#include "deps.h"
#include "front.h"
#include "keeper.h"
#include "signer.h"

#define DEFAULT_CONFIG "/etc/seald/seald.yaml"
#define SEALD_VERSION "0.1.0"

enum {
	EX_OK_ = 0,
	EX_CONFIG = 1,
	EX_USAGE_ = 2,
	EX_HSM = 3,
	EX_LEDGER = 4,
	EX_START = 5
};

static void
usage(void)
{
	fprintf(stderr,
	    "usage: seald [-c FILE] [--override-ledger-check REASON]\n"
	    "                                      run in the foreground\n"
	    "       seald --check-config [-c FILE] validate the config\n"
	    "       seald migrate [-c FILE]        apply database migrations\n"
	    "       seald --version\n"
	    "FILE defaults to " DEFAULT_CONFIG "\n");
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

static void
reload_locked(const struct cfg *cfg, struct hsm *hsm, struct ledger *ledger,
    struct ledger_reader *rd, struct pstate_slot *slot)
{
	uint8_t hash[SD_HASH_LEN];
	char err[512], detail[SD_DETAIL_MAX];
	struct pstate *ps;

	if (sd_file_private(cfg->policy_file, err, sizeof(err)) != 0 ||
	    (ps = pstate_load(cfg->policy_file, hsm, rd, err, sizeof(err))) ==
		NULL) {
		log_error(
		    "policy reload refused, the old policy stays: %s", err);
		metrics_reload(0);
		pstate_hash_file(cfg->policy_file, hash);
		snprintf(detail, sizeof(detail), "reload refused: %.200s", err);
		if (pstate_record(ledger, LEDGER_POLICY, hash, detail) != 0)
			log_warn("the refused reload could not be recorded");
		return;
	}
	if (pstate_record(ledger, LEDGER_POLICY, policy_hash(ps->policy),
		"reload accepted") != 0) {
		log_error("policy reload not recorded (ledger unavailable): "
			  "the old policy stays");
		pstate_unref(ps);
		return;
	}
	pstate_set(slot, ps);
	metrics_reload(1);
	log_info("policy reloaded from %s", cfg->policy_file);
}

/*
 * SIGHUP: parse the policy file completely and find its keys; only then,
 * and only once the ledger holds the "reload accepted" entry, put it in
 * force.  A file that does not load keeps the old policy, and the refusal
 * is recorded too.
 */
static void
reload_policy(const struct cfg *cfg, struct hsm *hsm, struct ledger *ledger,
    struct ledger_reader *rd, struct pstate_slot *slot)
{
	pstate_change_begin(slot);
	reload_locked(cfg, hsm, ledger, rd, slot);
	pstate_change_end(slot);
}

/* SIGHUP also takes the log level from the config file again (the rest
 * of it needs a restart). */
static void
reload_log_level(const char *path)
{
	char err[512];
	struct cfg *c;

	if ((c = cfg_load(path, err, sizeof(err))) == NULL) {
		log_warn("config not reread for the log level: %s", err);
		return;
	}
	log_set_level((enum log_level)c->log_level);
	cfg_free(c);
}

/* The next signal; meanwhile, with a watchdog, tell systemd every
 * watchdog_ms that the main loop lives. */
static int
wait_signal(const sigset_t *set, long watchdog_ms)
{
	struct timespec ts = { watchdog_ms / 1000,
		(watchdog_ms % 1000) * 1000000L };
	int sig;

	for (;;) {
		if (watchdog_ms <= 0) {
			if (sigwait(set, &sig) == 0)
				return sig;
			continue;
		}
		if ((sig = sigtimedwait(set, NULL, &ts)) > 0)
			return sig;
		(void)notify("WATCHDOG=1");
	}
}

/* The ledger's checkpoint signer: the audit key in the HSM. */
struct audit {
	struct hsm *hsm;
	struct hsm_key *key;
};

static int
audit_sign(void *arg, const uint8_t digest[SD_HASH_LEN], uint8_t *sig,
    size_t cap, size_t *siglen)
{
	struct audit *a = arg;

	return hsm_sign(a->hsm, a->key,
	    hsm_key_is_ec(a->key) ? HSM_ECDSA : HSM_RSA_PKCS1, HSM_SHA256,
	    digest, SD_HASH_LEN, sig, cap, siglen);
}

/* Checkpoints with the audit key named in seald.yaml; NULL cp when none. */
static int
audit_setup(const struct cfg *cfg, struct hsm *hsm, struct audit *a,
    struct ledger_checkpointer *cp, const struct ledger_checkpointer **out)
{
	char err[512];

	*out = NULL;
	if (cfg->checkpoint_key[0] == '\0') {
		log_warn("no ledger.checkpoint_key: the chain head is not "
			 "signed (a removed tail would not show)");
		return 0;
	}
	if ((a->key = hsm_key_find(
		 hsm, cfg->checkpoint_key, err, sizeof(err))) == NULL) {
		log_error("audit key: %s", err);
		return -1;
	}
	a->hsm = hsm;
	memset(cp, 0, sizeof(*cp));
	cp->sign = audit_sign;
	cp->arg = a;
	cp->key_label = cfg->checkpoint_key;
	cp->algorithm =
	    hsm_key_is_ec(a->key) ? "ecdsa-sha256" : "rsa-pkcs1v15-sha256";
	cp->pub = hsm_key_public(a->key);
	cp->every = cfg->checkpoint_every;
	cp->seconds = cfg->checkpoint_seconds;
	*out = cp;
	return 0;
}

static int
serve(struct cfg *cfg, const char *path, const char *override)
{
	struct hsm *hsm = NULL;
	struct pstate *ps = NULL;
	struct pstate_slot *slot = NULL;
	struct ratelimit *rl = NULL;
	struct ledger *ledger = NULL;
	struct signer *signer = NULL;
	struct core *core = NULL;
	struct keeper *keeper = NULL;
	struct admin *admin = NULL;
	struct ledger_reader *rd = NULL;
	struct daemon_deps deps;
	struct front_limits lim;
	struct audit audit;
	struct ledger_checkpointer cpdef;
	struct signer_tsa tsa;
	const struct ledger_checkpointer *cp = NULL;
	sigset_t set;
	char err[512], detail[SD_DETAIL_MAX], module[SD_PATH_MAX];
	int sig = 0, ex = EX_START;
	long watchdog_ms;

	deps.service_fd = deps.admin_fd = -1;
	watchdog_ms = notify_watchdog_ms();

	/* Signals go to this thread only, through sigwait. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* sockets first, as root may be needed for them; then root goes */
	if ((deps.service_fd = http_bind(&cfg->service, err, sizeof(err))) <
		0 ||
	    (cfg->has_admin &&
		(deps.admin_fd = http_bind(&cfg->admin, err, sizeof(err))) <
		    0)) {
		log_error("%s", err);
		goto out;
	}
	deps.max_connections = rlimit_files(cfg);
	lim.max_body = cfg->max_body;
	lim.max_header = cfg->max_header;
	lim.timeout = cfg->timeout;
	lim.max_connections = deps.max_connections;
	/* the front's keeper, before anything secret is loaded; it takes
	 * the service socket over */
	keeper = keeper_fork(cfg, deps.service_fd, &lim, err, sizeof(err));
	deps.service_fd = -1;
	if (keeper == NULL) {
		log_error("%s", err);
		goto out;
	}
	if (privdrop(cfg, err, sizeof(err)) != 0) {
		log_error("%s", err);
		goto out;
	}
	/* the module is code seald runs: only from allowed folders, and the
	 * very file checked is the one loaded */
	if (sd_path_in_dirs(cfg->module, cfg->module_dirs, cfg->nmodule_dirs,
		module, sizeof(module), err, sizeof(err)) != 0) {
		log_error("pkcs11.module: %s", err);
		ex = EX_CONFIG;
		goto out;
	}
	if ((hsm = hsm_open(module, cfg->token_label, cfg->pin_file,
		 cfg->sessions, err, sizeof(err))) == NULL) {
		log_error("HSM: %s", err);
		ex = EX_HSM;
		goto out;
	}
	if (audit_setup(cfg, hsm, &audit, &cpdef, &cp) != 0) {
		ex = EX_HSM;
		goto out;
	}
	if ((ledger = ledger_open(cfg->conninfo, cfg->instance, cp,
		 override != NULL, err, sizeof(err))) == NULL) {
		log_error("ledger: %s", err);
		ex = EX_LEDGER;
		goto out;
	}
	ledger_set_batch_wait(ledger, (long)cfg->batch_wait_ms * 1000L);
	/* after the ledger: managed keys come from the keys table, which
	 * ledger_open found at the right schema */
	if ((rd = ledger_reader_new(cfg->conninfo)) == NULL) {
		log_error("out of memory");
		goto out;
	}
	if ((ps = pstate_load(cfg->policy_file, hsm, rd, err, sizeof(err))) ==
	    NULL) {
		log_error("policy: %s", err);
		ex = EX_CONFIG;
		goto out;
	}
	if (ledger_open_problem(ledger) != NULL) {
		snprintf(detail, sizeof(detail),
		    "start-up check failed: %.140s; overridden by uid %u: "
		    "%.60s",
		    ledger_open_problem(ledger), (unsigned int)getuid(),
		    override);
		if (pstate_record(ledger, LEDGER_OVERRIDE,
			policy_hash(ps->policy), detail) != 0) {
			log_error("ledger: cannot record the override");
			ex = EX_LEDGER;
			goto out;
		}
	} else if (override != NULL) {
		log_info("--override-ledger-check not needed: the ledger "
			 "checks out");
	}
	if (pstate_record(ledger, LEDGER_POLICY, policy_hash(ps->policy),
		"loaded") != 0) {
		log_error("ledger: cannot record the policy in force");
		ex = EX_LEDGER;
		goto out;
	}
	if ((slot = pstate_slot_new(ps)) == NULL ||
	    (rl = ratelimit_new()) == NULL) {
		log_error("out of memory");
		goto out;
	}
	ps = NULL; /* the slot holds it */
	tsa.instance = cfg->instance;
	tsa.require_sync = cfg->tsa_require_sync;
	if ((signer = signer_new(hsm, ledger, cfg->conninfo, cfg->sessions,
		 &tsa, err, sizeof(err))) == NULL) {
		log_error("%s", err);
		goto out;
	}
	deps.cfg = cfg;
	deps.policy = slot;
	deps.rl = rl;
	deps.hsm = hsm;
	deps.ledger = ledger;
	deps.signer = signer;
	if ((core = core_new(&deps)) == NULL) {
		log_error("out of memory");
		goto out;
	}
	if (keeper_serve(keeper, core) != 0) {
		log_error("cannot start the front");
		goto out;
	}
	log_info("serving on %s", cfg->service.path);
	if (cfg->has_admin) {
		/* takes its socket over, served or closed */
		admin = admin_start(&deps, err, sizeof(err));
		deps.admin_fd = -1;
		if (admin == NULL) {
			log_error("%s", err);
			goto out;
		}
	}
	log_info("seald %s ready: instance %s, policy %s, %u HSM session%s",
	    SEALD_VERSION, cfg->instance, cfg->policy_file, cfg->sessions,
	    cfg->sessions == 1 ? "" : "s");
	(void)notify("READY=1");
	while ((sig = wait_signal(&set, watchdog_ms)) == SIGHUP) {
		(void)notify("RELOADING=1");
		reload_log_level(path);
		reload_policy(cfg, hsm, ledger, rd, slot);
		(void)notify("READY=1");
	}
	(void)notify("STOPPING=1");
	log_info("signal %d: stopping", sig);
	ex = keeper_lost(keeper) ? EX_START : EX_OK_;
out:
	/* Stop new work and answer what runs, then stop the parts in the
	 * order that data flows: no handler may use a freed signer. */
	if (keeper != NULL)
		http_remove(&cfg->service); /* no new client finds it */
	keeper_stop(keeper);                /* the front takes no new work */
	if (core_drain(core) != 0) {
		/* a hung HSM holds requests: leave without waiting for it;
		 * their clients retry with the same request_id */
		log_error("stopping without waiting for them");
		_exit(ex == EX_OK_ ? EX_START : ex);
	}
	keeper_free(keeper); /* the front, its replies sent, exits */
	admin_stop(admin);   /* waits for a key operation that runs */
	http_unbind(&cfg->service, deps.service_fd); /* not taken over */
	http_unbind(&cfg->admin, deps.admin_fd);
	signer_free(signer);  /* every queued job reaches the ledger */
	ledger_close(ledger); /* every queued entry is committed or failed */
	core_free(core);
	pstate_slot_free(slot);
	pstate_unref(ps);
	ledger_reader_free(rd);
	ratelimit_free(rl);
	hsm_close(hsm);
	log_info("stopped");
	return ex;
}

int
main(int argc, char **argv)
{
	const char *path = DEFAULT_CONFIG, *override = NULL;
	int check = 0, migrate = 0, i, r;
	struct cfg *cfg;
	char err[512];

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			path = argv[++i];
		else if (strcmp(argv[i], "--override-ledger-check") == 0 &&
		    i + 1 < argc && argv[i + 1][0] != '\0')
			override = argv[++i];
		else if (strcmp(argv[i], "--check-config") == 0)
			check = 1;
		else if (strcmp(argv[i], "migrate") == 0 && i == 1)
			migrate = 1;
		else if (strcmp(argv[i], "--version") == 0) {
			printf("seald %s\n", SEALD_VERSION);
			return 0;
		} else {
			usage();
			return EX_USAGE_;
		}
	}
	if (secret_harden_process() != 0) {
		fprintf(stderr, "seald: cannot disable core dumps\n");
		return EX_START;
	}
	if ((cfg = load_config(path)) == NULL)
		return EX_CONFIG;
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
		return r == 0 ? 0 : EX_LEDGER;
	}
	r = serve(cfg, path, override);
	cfg_free(cfg);
	return r;
}
