/*
 * reload: what seald does on SIGHUP: the policy and the log level read
 * again; the policy's reloads, by result, in /metrics.
 */
#ifndef SD_RELOAD_H
#define SD_RELOAD_H

#include "cfg.h"
#include "hsm.h"
#include "ledger.h"
#include "pstate.h"

/* Load cfg's policy file again (its keys from hsm and rd) and, once
 * ledger has recorded it, put it in slot; or keep the old one, say why
 * and record the refusal. */
void reload_policy(const struct cfg *cfg, struct hsm *hsm,
    struct ledger *ledger, struct ledger_reader *rd, struct pstate_slot *slot);

/* The log level from the config file at path (a file that does not load
 * leaves it as it is, with a warning). */
void reload_log_level(const char *path);

/* seald_policy_reloads_total in /metrics. */
void reload_add_metrics(void);

#endif
