/*
 * serve: seald's run (serve.h).  The parts start in the order data needs
 * them: the sockets (while root may still be needed), the front's keeper
 * (before anything secret is loaded), the privilege drop, the HSM, the
 * ledger, the policy, the signing workers, the core and the admin socket.
 * They stop in the reverse order on SIGINT or SIGTERM, so that every
 * accepted request is answered and committed first; SIGHUP reloads.
 */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"
#include "audit.h"
#include "cfg.h"
#include "clock.h"
#include "core.h"
#include "deps.h"
#include "err.h"
#include "front.h"
#include "hsm.h"
#include "keeper.h"
#include "ledger.h"
#include "listen.h"
#include "log.h"
#include "notify.h"
#include "path.h"
#include "privdrop.h"
#include "pstate.h"
#include "ratelimit.h"
#include "reload.h"
#include "rlimits.h"
#include "serve.h"
#include "signer.h"
#include "version.h"

/*
 * A signal the kernel sent on its own (si_code > 0: SI_KERNEL, or the
 * POLL_* codes of O_ASYNC): not an operator's word.  A front that armed
 * a socket (F_SETOWN, F_SETSIG) would send these; they are ignored, and
 * said once per minute at most.
 */
static int
from_kernel(const siginfo_t *si)
{
	static struct timespec said[NSIG];
	static unsigned long n[NSIG];
	int s = si->si_signo > 0 && si->si_signo < NSIG ? si->si_signo : 0;

	if (si->si_code <= 0) /* kill, sigqueue, tgkill: a process */
		return 0;
	if (n[s]++ == 0 || sd_ms_since(&said[s]) >= 60000) {
		log_warn("signal %d: sent by the kernel (si_code %d), not by "
			 "a process: ignored (%lu so far)",
		    si->si_signo, si->si_code, n[s]);
		clock_gettime(CLOCK_MONOTONIC, &said[s]);
	}
	return 1;
}

/* The next signal a process sent; meanwhile, with a watchdog, tell
 * systemd every watchdog_ms that the main loop lives (however many
 * signals the kernel sends). */
static int
wait_signal(const sigset_t *set, long watchdog_ms)
{
	struct timespec last, ts;
	siginfo_t si;
	long left;
	int sig;

	clock_gettime(CLOCK_MONOTONIC, &last);
	for (;;) {
		if (watchdog_ms <= 0) {
			sig = sigwaitinfo(set, &si);
		} else {
			if ((left = watchdog_ms - sd_ms_since(&last)) <= 0) {
				(void)notify("WATCHDOG=1");
				clock_gettime(CLOCK_MONOTONIC, &last);
				left = watchdog_ms;
			}
			ts.tv_sec = left / 1000;
			ts.tv_nsec = (left % 1000) * 1000000L;
			sig = sigtimedwait(set, &si, &ts);
		}
		if (sig > 0 && !from_kernel(&si))
			return sig;
	}
}

/*
 * seald is ready once a front serves under its filter (PROTO_SERVING),
 * not before: a front that cannot load its filter serves nobody, and
 * seald then never says READY=1 (systemd's start fails at its timeout,
 * with STATUS= saying why).  0; or the signal to stop that came
 * meanwhile.
 */
static int
await_front(struct core *core, const sigset_t *set)
{
	struct timespec now = { 0, 0 };
	siginfo_t si;
	int sig, waited = 0;

	while (!core_wait_serving(core, 200)) {
		sig = sigtimedwait(set, &si, &now);
		if (sig > 0 && !from_kernel(&si) && sig != SIGHUP)
			return sig;
		if (++waited == 25) {
			log_warn("no front serves after 5 s: seald is not "
				 "ready (the front keeper says why above)");
			(void)notify("STATUS=not ready: no front serves "
				     "(see the log)");
		}
	}
	return 0;
}

/* Everything a running seald holds, each NULL (or -1) until made. */
struct seald {
	struct cfg *cfg;
	struct hsm *hsm;
	struct pstate *ps; /* until the slot holds it */
	struct pstate_slot *slot;
	struct ratelimit *rl;
	struct ledger *ledger;
	struct ledger_reader *rd;
	struct signer *signer;
	struct core *core;
	struct keeper *keeper;
	struct admin *admin;
	struct daemon_deps deps;
	struct listen_sock service, admin_sock; /* their fds: deps' */
	struct audit audit;
	const struct ledger_checkpointer *cp;
};

/* The sockets, bound while root may still be needed; the front's keeper,
 * forked before anything secret is loaded (it takes the service socket
 * over); then root goes.  0, or EX_START. */
static int
start_sockets(struct seald *d)
{
	const struct cfg *cfg = d->cfg;
	struct front_limits lim;
	char err[512];

	if (listen_inherit(err, sizeof(err)) != 0 ||
	    listen_bind(&cfg->service, &d->service, err, sizeof(err)) != 0 ||
	    (cfg->has_admin &&
		listen_bind(&cfg->admin, &d->admin_sock, err, sizeof(err)) !=
		    0)) {
		log_error("%s", err);
		return SERVE_EX_START;
	}
	listen_drop_unclaimed();
	d->deps.service_fd = d->service.fd;
	d->deps.admin_fd = d->admin_sock.fd;
	d->deps.max_connections = rlimit_files(cfg);
	lim.max_body = cfg->max_body;
	lim.max_header = cfg->max_header;
	lim.timeout = cfg->timeout;
	lim.max_connections = d->deps.max_connections;
	lim.head_s = cfg->head_seconds;
	lim.body_s = cfg->body_seconds;
	d->keeper =
	    keeper_fork(cfg, d->deps.service_fd, &lim, err, sizeof(err));
	d->deps.service_fd = d->service.fd = -1; /* the keeper's now */
	if (d->keeper == NULL || privdrop(cfg, err, sizeof(err)) != 0) {
		log_error("%s", err);
		return SERVE_EX_START;
	}
	return 0;
}

/* The chain check at start, as it goes: systemd is told every 5 s (more
 * time to start, and how far it is), the log every minute. */
static void
check_progress(void *arg, int64_t checked)
{
	static struct timespec said, logged;
	char msg[160];

	(void)arg;
	if (said.tv_sec == 0) {
		clock_gettime(CLOCK_MONOTONIC, &said);
		logged = said;
		return;
	}
	if (sd_ms_since(&said) < 5000)
		return;
	clock_gettime(CLOCK_MONOTONIC, &said);
	snprintf(msg, sizeof(msg),
	    "EXTEND_TIMEOUT_USEC=30000000\nSTATUS=checking the ledger: "
	    "%lld entries so far",
	    (long long)checked);
	(void)notify(msg);
	if (sd_ms_since(&logged) >= 60000) {
		clock_gettime(CLOCK_MONOTONIC, &logged);
		log_info("ledger: checking the chain, %lld entries so far",
		    (long long)checked);
	}
}

/* The HSM (its module from an allowed folder only, the very file checked
 * being the one loaded), the checkpoint signer, the ledger.  0 or an exit
 * status. */
static int
open_hsm_ledger(struct seald *d, const char *override)
{
	const struct cfg *cfg = d->cfg;
	char err[512], module[SD_PATH_MAX];
	struct ledger_checks chk;

	if (sd_path_in_dirs(cfg->module, cfg->module_dirs, cfg->nmodule_dirs,
		module, sizeof(module), err, sizeof(err)) != 0) {
		log_error("pkcs11.module: %s", err);
		return SERVE_EX_CONFIG;
	}
	if ((d->hsm = hsm_open(module, cfg->init_args, cfg->token_label,
		 cfg->pin_file, cfg->sessions, err, sizeof(err))) == NULL) {
		log_error("HSM: %s", err);
		return SERVE_EX_HSM;
	}
	if (audit_setup(cfg, d->hsm, &d->audit, &d->cp) != 0)
		return SERVE_EX_HSM;
	memset(&chk, 0, sizeof(chk));
	chk.full_at_start = cfg->verify_all_at_start;
	chk.verify_rate = cfg->verify_rate;
	chk.commit_ms = cfg->commit_ms;
	chk.heads = d->audit.heads;
	chk.nheads = d->audit.nheads;
	chk.progress = check_progress;
	chk.progress_arg = NULL;
	if ((d->ledger = ledger_open(cfg->conninfo, cfg->instance, d->cp, &chk,
		 override != NULL, err, sizeof(err))) == NULL) {
		log_error("ledger: %s", err);
		return SERVE_EX_LEDGER;
	}
	ledger_set_batch_wait(d->ledger, (long)cfg->batch_wait_ms * 1000L);
	return 0;
}

/* The policy (managed keys come from the keys table, which ledger_open
 * found at the right schema), recorded in the ledger with an override of
 * the start-up check if there was one.  0 or an exit status. */
static int
open_policy(struct seald *d, const char *override)
{
	const struct cfg *cfg = d->cfg;
	char err[512], detail[SD_DETAIL_MAX];

	if ((d->rd = ledger_reader_new(cfg->conninfo, (long)cfg->commit_ms)) ==
	    NULL) {
		log_error("out of memory");
		return SERVE_EX_START;
	}
	if ((d->ps = pstate_load(
		 cfg->policy_file, d->hsm, d->rd, err, sizeof(err))) == NULL) {
		log_error("policy: %s", err);
		return SERVE_EX_CONFIG;
	}
	if (ledger_open_problem(d->ledger) != NULL) {
		snprintf(detail, sizeof(detail),
		    "start-up check failed: %.140s; overridden by uid %u: "
		    "%.60s",
		    ledger_open_problem(d->ledger), (unsigned int)getuid(),
		    override);
		if (pstate_record(d->ledger, LEDGER_OVERRIDE,
			policy_hash(d->ps->policy), detail) != 0) {
			log_error("ledger: cannot record the override");
			return SERVE_EX_LEDGER;
		}
	} else if (override != NULL) {
		log_info("--override-ledger-check not needed: the ledger "
			 "checks out");
	}
	if (pstate_record(d->ledger, LEDGER_POLICY, policy_hash(d->ps->policy),
		"loaded") != 0) {
		log_error("ledger: cannot record the policy in force");
		return SERVE_EX_LEDGER;
	}
	if ((d->slot = pstate_slot_new(d->ps)) == NULL ||
	    (d->rl = ratelimit_new()) == NULL) {
		log_error("out of memory");
		return SERVE_EX_START;
	}
	d->ps = NULL; /* the slot holds it */
	return 0;
}

/* The signing workers, the core (served to each front the keeper
 * starts) and the admin socket.  0, or EX_START. */
static int
start_serving(struct seald *d)
{
	const struct cfg *cfg = d->cfg;
	struct signer_tsa tsa;
	char err[512];

	tsa.instance = cfg->instance;
	tsa.require_sync = cfg->tsa_require_sync;
	if ((d->signer = signer_new(d->hsm, d->ledger, cfg->conninfo,
		 cfg->sessions, &tsa, err, sizeof(err))) == NULL) {
		log_error("%s", err);
		return SERVE_EX_START;
	}
	d->deps.cfg = cfg;
	d->deps.policy = d->slot;
	d->deps.rl = d->rl;
	d->deps.hsm = d->hsm;
	d->deps.ledger = d->ledger;
	d->deps.signer = d->signer;
	if ((d->core = core_new(&d->deps)) == NULL) {
		log_error("out of memory");
		return SERVE_EX_START;
	}
	if (keeper_serve(d->keeper, d->core) != 0) {
		log_error("cannot start the front");
		return SERVE_EX_START;
	}
	log_info("serving on %s", cfg->service.path);
	if (cfg->has_admin) {
		/* takes its socket over, served or closed */
		d->admin = admin_start(&d->deps, err, sizeof(err));
		d->deps.admin_fd = d->admin_sock.fd = -1;
		if (d->admin == NULL) {
			log_error("%s", err);
			return SERVE_EX_START;
		}
	}
	return 0;
}

/*
 * Stop new work and answer what runs, then stop the parts in the order
 * that data flows: no handler may use a freed signer.  ex: the exit
 * status so far (a hung HSM makes it EX_START and leaves at once).
 */
static int
stop(struct seald *d, int ex)
{
	const struct cfg *cfg = d->cfg;

	if (d->keeper != NULL) /* no new client finds it */
		listen_remove(&cfg->service, &d->service);
	keeper_stop(d->keeper); /* the front takes no new work */
	if (core_drain(d->core) != 0) {
		/* a hung HSM holds requests: leave without waiting for it;
		 * their clients retry with the same request_id */
		log_error("stopping without waiting for them");
		_exit(ex == SERVE_EX_OK ? SERVE_EX_START : ex);
	}
	keeper_free(d->keeper); /* the front, its replies sent, exits */
	admin_stop(d->admin);   /* waits for a key operation that runs */
	listen_unbind(&cfg->service, &d->service); /* not taken over */
	listen_unbind(&cfg->admin, &d->admin_sock);
	if (cfg->has_admin)
		listen_remove(&cfg->admin, &d->admin_sock);
	signer_free(d->signer);  /* every queued job reaches the ledger */
	ledger_close(d->ledger); /* every queued entry is committed or failed */
	core_free(d->core);
	pstate_slot_free(d->slot);
	pstate_unref(d->ps);
	ledger_reader_free(d->rd);
	ratelimit_free(d->rl);
	hsm_close(d->hsm);
	log_info("stopped");
	return ex;
}

int
serve_run(struct cfg *cfg, const char *path, const char *override)
{
	struct seald d;
	sigset_t set;
	long watchdog_ms = notify_watchdog_ms();
	int sig, ex;

	memset(&d, 0, sizeof(d));
	d.cfg = cfg;
	d.deps.service_fd = d.deps.admin_fd = -1;
	d.service.fd = d.admin_sock.fd = -1;
	reload_add_metrics();
	/* Signals go to this thread only, through sigwait. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((ex = start_sockets(&d)) != 0 ||
	    (ex = open_hsm_ledger(&d, override)) != 0 ||
	    (ex = open_policy(&d, override)) != 0 ||
	    (ex = start_serving(&d)) != 0)
		return stop(&d, ex);
	if ((sig = await_front(d.core, &set)) != 0) {
		log_info("signal %d: stopping before a front served", sig);
		return stop(&d, SERVE_EX_OK);
	}
	log_info("seald %s ready: instance %s, policy %s, %u HSM session%s",
	    SD_VERSION, cfg->instance, cfg->policy_file, cfg->sessions,
	    cfg->sessions == 1 ? "" : "s");
	(void)notify("READY=1\nSTATUS=serving");
	while ((sig = wait_signal(&set, watchdog_ms)) == SIGHUP) {
		(void)notify("RELOADING=1");
		reload_log_level(path);
		reload_policy(cfg, d.hsm, d.ledger, d.rd, d.slot);
		(void)notify("READY=1");
	}
	(void)notify("STOPPING=1");
	log_info("signal %d: stopping", sig);
	return stop(&d, keeper_lost(d.keeper) ? SERVE_EX_START : SERVE_EX_OK);
}
