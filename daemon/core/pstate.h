/*
 * pstate: the policy in force and the keys built from it, swapped as one
 * on reload.  Each request takes a reference when it starts and drops it
 * when it ends, so requests in flight finish under the policy they started
 * with while new ones see the new one; the old state is freed when its
 * last request ends.
 */
#ifndef SD_PSTATE_H
#define SD_PSTATE_H

#include <stdatomic.h>

#include "hsm.h"
#include "keys.h"
#include "ledger.h"
#include "policy.h"

struct pstate_policy;

struct pstate {
	struct policy *policy;
	struct sd_keys *keys;
	atomic_int refs;
	struct pstate_policy *pp; /* private: the policy's own reference */
};

struct pstate_slot;

/* Load the policy file and find its keys in the HSM (one reference);
 * managed keys come from the keys table through rd.  Returns NULL with
 * "FILE:LINE:COL: message" or the key problem. */
struct pstate *pstate_load(const char *path, struct hsm *h,
    struct ledger_reader *rd, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));

/* Drop a reference; the last one frees.  NULL accepted. */
void pstate_unref(struct pstate *ps);

/* A slot holding the state in force; takes over ps's reference. */
struct pstate_slot *pstate_slot_new(struct pstate *ps);
void pstate_slot_free(struct pstate_slot *slot);

/* The state in force, with a reference for the caller. */
struct pstate *pstate_get(struct pstate_slot *slot);

/* Put ps in force (taking over its reference); the old one goes when its
 * last request ends. */
void pstate_set(struct pstate_slot *slot, struct pstate *ps);

/* Reloads and rekeys take turns: hold this across building a new state
 * and putting it in force, so that neither undoes the other. */
void pstate_change_begin(struct pstate_slot *slot);
void pstate_change_end(struct pstate_slot *slot);

/* After a key event: the policy in force with its keys found again (the
 * keys table through rd), put in force.  0, or SD_ERR_CONFIG with the
 * reason (the old state stays). */
int pstate_rekey(struct pstate_slot *slot, struct hsm *h,
    struct ledger_reader *rd, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));

/*
 * Write a policy (or override) entry to the ledger and wait (bounded) for
 * its commit: what happened (detail), under the policy with this hash.
 * Returns 0 or SD_ERR_LEDGER.
 */
int pstate_record(struct ledger *l, enum ledger_kind kind,
    const uint8_t hash[SD_HASH_LEN], const char *detail)
    __attribute__((warn_unused_result));

/* SHA-256 of a file's bytes (bounded like a config file); zeros when it
 * cannot be read.  For refused reloads, whose policy never loaded. */
void pstate_hash_file(const char *path, uint8_t out[SD_HASH_LEN]);

#endif
