/*
 * reload: SIGHUP (reload.h).  The policy is read whole again and put in
 * force only once the ledger holds its "reload accepted" entry; a policy
 * that does not load keeps the old one, and the refusal is recorded too.
 * The log level is taken from seald.yaml again; the rest of the config
 * needs a restart.
 */
#include <stdatomic.h>
#include <stdio.h>

#include "cfg.h"
#include "err.h"
#include "log.h"
#include "metrics.h"
#include "path.h"
#include "pstate.h"
#include "reload.h"

/* policy reloads by result (0 refused, 1 accepted), in /metrics */
static atomic_ulong reloads[2];

static void
reloads_render(struct metrics_text *t, const struct metrics_family *f)
{
	metrics_header(t, f->name, f->help, "counter");
	metrics_printf(t,
	    "%s{result=\"accepted\"} %lu\n%s{result=\"refused\"} %lu\n",
	    f->name, atomic_load(&reloads[1]), f->name,
	    atomic_load(&reloads[0]));
}

static struct metrics_family m_reloads = { reloads_render,
	"seald_policy_reloads_total", "Policy reloads by result.", NULL, 0 };

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
		atomic_fetch_add(&reloads[0], 1);
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
	atomic_fetch_add(&reloads[1], 1);
	log_info("policy reloaded from %s", cfg->policy_file);
}

/*
 * SIGHUP: parse the policy file completely and find its keys; only then,
 * and only once the ledger holds the "reload accepted" entry, put it in
 * force.  A file that does not load keeps the old policy, and the refusal
 * is recorded too.
 */
void
reload_policy(const struct cfg *cfg, struct hsm *hsm, struct ledger *ledger,
    struct ledger_reader *rd, struct pstate_slot *slot)
{
	pstate_change_begin(slot);
	reload_locked(cfg, hsm, ledger, rd, slot);
	pstate_change_end(slot);
}

/* SIGHUP also takes the log level from the config file again (the rest
 * of it needs a restart). */
void
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

void
reload_add_metrics(void)
{
	metrics_add(&m_reloads);
}
